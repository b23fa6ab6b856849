//! The egress allowlist, end to end: inline flows through the API, the
//! real connector, names resolved by an injected resolver.

use std::sync::atomic::Ordering;

use runner::Config;
use serde_json::Value;

use crate::util::{self, run_inline, Upstream};

fn one_step(url: &str) -> String {
    format!("name: egress\nsteps:\n  - id: call\n    action: http_request\n    config: {{url: '{url}'}}\n")
}

fn config(dir: &std::path::Path, nets: &[&str]) -> Config {
    let mut c = Config::for_dir(dir);
    c.allowed_networks = nets.iter().map(|n| n.parse().unwrap()).collect();
    c
}

fn error_of(report: &Value) -> &str {
    assert_eq!(report["outcome"], "error", "{report:#}");
    report["steps"][0]["error"].as_str().unwrap()
}

#[tokio::test]
async fn a_disallowed_address_fails_its_step_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let state = util::state_with(config(dir.path(), &["10.0.0.0/8"]), &[], util::resolver(&[]));
    let report = run_inline(&state, &one_step(&format!("{}/users/1", upstream.url()))).await;
    assert_eq!(
        error_of(&report),
        format!("egress denied for `127.0.0.1`: 127.0.0.1 is not in ALLOWED_NETWORKS (10.0.0.0/8)")
    );
    assert_eq!(upstream.state.hits.load(Ordering::SeqCst), 0);
    let metrics = util::call(&state, "GET", "/metrics", None).await.text;
    assert!(metrics.contains("testmesh_runner_egress_denied_total 1\n"), "{metrics}");
}

#[tokio::test]
async fn names_are_judged_by_the_address_they_resolve_to() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let port = upstream.addr.port();
    let names = util::resolver(&[
        ("upstream.test", "127.0.0.1"),
        ("internal.test", "10.1.2.3"),
        ("metadata.test", "169.254.169.254"),
    ]);
    let state = util::state_with(config(dir.path(), &["127.0.0.0/8"]), &[], names);

    let ok = run_inline(&state, &one_step(&format!("http://upstream.test:{port}/users/1"))).await;
    assert_eq!(ok["outcome"], "passed", "{ok:#}");
    assert_eq!(upstream.state.hits.load(Ordering::SeqCst), 1, "the injected resolver's answer was dialled");

    let report = run_inline(&state, &one_step(&format!("http://internal.test:{port}/"))).await;
    assert_eq!(
        error_of(&report),
        "egress denied for `internal.test`: 10.1.2.3 is not in ALLOWED_NETWORKS (127.0.0.0/8)"
    );
    let report = run_inline(&state, &one_step("http://metadata.test/latest/meta-data/")).await;
    assert!(error_of(&report).contains("169.254.169.254 is link-local"), "{report}");
    let report = run_inline(&state, &one_step("http://unknown.test/")).await;
    assert!(error_of(&report).contains("could not resolve `unknown.test`"), "{report}");
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let port = upstream.addr.port();
    let names = util::resolver(&[("internal.test", "10.1.2.3")]);
    let state = util::state_with(config(dir.path(), &["127.0.0.0/8"]), &[], names);
    let via = |to: &str| format!("{}/redirect?to={to}", upstream.url());

    let ok = run_inline(&state, &one_step(&via(&format!("http://127.0.0.1:{port}/users/1")))).await;
    assert_eq!(ok["outcome"], "passed", "{ok:#}");
    assert_eq!(ok["steps"][0]["redirects"], 1);

    let report = run_inline(&state, &one_step(&via("http://10.9.9.9/admin"))).await;
    assert_eq!(error_of(&report), "egress denied for `10.9.9.9`: 10.9.9.9 is not in ALLOWED_NETWORKS (127.0.0.0/8)");
    let report = run_inline(&state, &one_step(&via("http://internal.test/"))).await;
    assert!(error_of(&report).contains("10.1.2.3 is not in ALLOWED_NETWORKS"), "{report}");
    let report = run_inline(&state, &one_step(&via("http://169.254.169.254/latest/meta-data/"))).await;
    assert!(error_of(&report).contains("never allowed"), "{report}");
    let report = run_inline(&state, &one_step(&via("file:///etc/passwd"))).await;
    assert!(error_of(&report).contains("scheme `file` is not allowed"), "{report}");
}

#[tokio::test]
async fn odd_ipv4_forms_and_mapped_ipv6_are_judged_as_the_address_they_mean() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let port = upstream.addr.port();
    let denied = util::state_with(config(dir.path(), &["10.0.0.0/8"]), &[], util::resolver(&[]));
    for host in
        ["2130706433", "0177.0.0.1", "127.1", "0x7f.0.0.1", "017700000001", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"]
    {
        let report = run_inline(&denied, &one_step(&format!("http://{host}:{port}/users/1"))).await;
        let error = error_of(&report);
        assert!(error.contains("127.0.0.1") && error.contains("not in ALLOWED_NETWORKS"), "{host}: {error}");
    }
    assert_eq!(upstream.state.hits.load(Ordering::SeqCst), 0);

    // Allowed, the same spellings really reach 127.0.0.1.
    let dir2 = tempfile::tempdir().unwrap();
    let allowed = util::state_with(config(dir2.path(), &["127.0.0.0/8"]), &[], util::resolver(&[]));
    for host in ["2130706433", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"] {
        let report = run_inline(&allowed, &one_step(&format!("http://{host}:{port}/users/1"))).await;
        assert_eq!(report["outcome"], "passed", "{host}: {report:#}");
    }
}

#[tokio::test]
async fn unspecified_and_metadata_addresses_are_never_reached() {
    let dir = tempfile::tempdir().unwrap();
    let everything = util::state_with(config(dir.path(), &["0.0.0.0/0", "::/0"]), &[], util::resolver(&[]));
    for url in [
        "http://0.0.0.0:1/",
        "http://0:1/",
        "http://[::]:1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
    ] {
        let report = run_inline(&everything, &one_step(url)).await;
        assert!(error_of(&report).contains("never allowed"), "{url}: {report}");
    }
}
