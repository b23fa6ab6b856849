//! The two clients of `bench/runner.sh`, with the HTTP client the runner
//! uses (hyper-util's pooled HTTP/1.1 client):
//!
//! - `floor URL N CONCURRENCY`: N plain GETs, CONCURRENCY at a time, each
//!   body read in full; the floor the runner is compared with.
//! - `runner RUNNER_URL FLOW RUNS CONCURRENCY`: RUNS runs of FLOW through
//!   POST /v1/runs, CONCURRENCY at a time; every run must pass.
//!
//! Prints one JSON line: requests (steps), seconds, microseconds per
//! request at that concurrency, requests per second.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

// The runner's allocator, so that the floor differs from the runner only in
// what the runner does per step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn get(client: &HttpClient, url: &str) {
    let res = client.get(url.parse().expect("url")).await.expect("request");
    assert!(res.status().is_success(), "{}", res.status());
    res.into_body().collect().await.expect("body");
}

async fn run(client: &HttpClient, url: &str, flow: &str) -> usize {
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(format!("{{\"flow\": \"{flow}\"}}"))))
        .expect("request");
    let res = client.request(req).await.expect("run request");
    let status = res.status();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    // Only what the check needs: the driver shares the machine with the
    // runner, and building a `Value` of every report would be charged to
    // the runner's figure.
    #[derive(serde::Deserialize)]
    struct Brief {
        outcome: String,
        steps: Vec<serde::de::IgnoredAny>,
    }
    let report: Brief =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status}: {e}: {}", String::from_utf8_lossy(&body)));
    assert!(status.is_success() && report.outcome == "passed", "{status}: {}", String::from_utf8_lossy(&body));
    report.steps.len()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_client floor URL N CONCURRENCY | runner RUNNER_URL FLOW RUNS CONCURRENCY";
    let mode = args.first().expect(usage).clone();
    let client = client();
    let (jobs, concurrency) = match mode.as_str() {
        "floor" => (args[2].parse::<usize>().expect(usage), args[3].parse::<usize>().expect(usage)),
        "runner" => (args[3].parse::<usize>().expect(usage), args[4].parse::<usize>().expect(usage)),
        _ => panic!("{usage}"),
    };
    let next = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, requests, args, mode) =
            (client.clone(), next.clone(), requests.clone(), args.clone(), mode.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < jobs {
                let n = if mode == "floor" {
                    get(&client, &args[1]).await;
                    1
                } else {
                    run(&client, &format!("{}/v1/runs", args[1]), &args[2]).await
                };
                requests.fetch_add(n, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let secs = started.elapsed().as_secs_f64();
    let n = requests.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "mode": mode,
            "requests": n,
            "concurrency": concurrency,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "us_per_request": (secs / n as f64 * 1e7).round() / 10.0,
            "requests_per_second": (n as f64 / secs).round(),
        })
    );
}
