//! The local server `bench/runner.sh` measures against: `GET /item`
//! answers a small JSON document.
//!
//! `cargo run --release -p runner --example bench_upstream -- 127.0.0.1:18081`

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let app = Router::new().route("/item", get(|| async { Json(json!({"id": 1, "name": "ada", "roles": ["admin"]})) }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    eprintln!("bench upstream on {addr}");
    axum::serve(listener, app).await.expect("serve");
}
