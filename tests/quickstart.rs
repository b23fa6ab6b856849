//! `meshctl quickstart`, the README's main job: the offline profile deployed
//! to the embedded sandbox, every workload ready, the real runner answering
//! through the service proxy.

use std::path::PathBuf;

use crate::util::meshctl;

#[test]
fn quickstart_deploys_the_offline_profile_and_reaches_the_real_runner() {
    // `cargo test --workspace` (the README's test command) builds the
    // runner next to meshctl.
    let runner = PathBuf::from(env!("CARGO_BIN_EXE_meshctl")).with_file_name("testmesh-runner");
    assert!(
        runner.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the runner",
        runner.display()
    );
    let out = meshctl().args(["quickstart", "--runner-binary", runner.to_str().unwrap()]).success();
    assert!(out.contains("deployed release testmesh (namespace testmesh) revision 1 to the sandbox"), "{out}");
    for workload in [
        "Deployment/testmesh/testmesh-runner",
        "Deployment/testmesh/testmesh-api",
        "StatefulSet/testmesh/testmesh-postgresql",
        "StatefulSet/testmesh/testmesh-redis",
    ] {
        let line = out.lines().find(|l| l.contains(workload)).unwrap_or_else(|| panic!("{workload} missing:\n{out}"));
        assert!(line.trim_end().ends_with("ready"), "{line}");
    }
    let health = out.lines().skip_while(|l| !l.starts_with("runner health")).nth(1).unwrap_or_default();
    let health: serde_json::Value = serde_json::from_str(health.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(health["version"].is_string(), "{health}");
    assert_eq!(health["status"], "ok", "the runner reports itself healthy: {health}");
}
