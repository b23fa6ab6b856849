//! The command line as a user runs it: profiles, rendering to stdout, the
//! values stack's order, help.

use serde_json::Value;

use crate::util::{manifests, meshctl, read_tree, render_to};

#[test]
fn profiles_list_names_every_profile() {
    let out = meshctl().args(["profiles", "list"]).success();
    let names: Vec<&str> = out.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(names, ["aws", "azure", "gcp", "offline"]);
    assert!(out.contains("offline    offline  onprem"), "{out}");
}

#[test]
fn profiles_show_env_merges_the_environment() {
    let out = meshctl().args(["profiles", "show", "offline", "--env", "prod", "-o", "json"]).success();
    let doc: Value = serde_json::from_str(&out).unwrap();
    let spec = &doc["spec"];
    assert_eq!(spec["cluster"]["maxNodes"], 6, "prod override");
    assert_eq!(spec["cluster"]["minNodes"], 1, "kept from spec");
    assert_eq!(spec["database"]["storageGiB"], 100);
    assert_eq!(spec["observability"]["monitoring"], true);
    assert_eq!(spec["values"]["runner"]["replicas"], 2);
    assert!(spec.get("environments").is_none());
    assert_eq!(doc["metadata"]["environment"], "prod");

    let raw = meshctl().args(["profiles", "show", "aws"]).success();
    let doc: Value = serde_yaml::from_str(&raw).unwrap();
    assert!(doc["spec"]["environments"]["staging"].is_object());
}

#[test]
fn render_without_out_prints_one_stream_in_apply_order() {
    let stdout = meshctl().args(["render", "-p", "offline", "-e", "dev"]).success();
    let tmp = tempfile::tempdir().unwrap();
    let dir = render_to(tmp.path(), "offline", "dev", &[]);
    let files = manifests(&dir);

    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect();
    assert_eq!(docs.len(), files.len());
    for ((name, from_file), from_stream) in files.iter().zip(&docs) {
        assert_eq!(from_file, from_stream, "{name}");
        assert!(stdout.contains(&format!("# Source: manifests/{name}")));
    }
    let dash = meshctl().args(["render", "-p", "offline", "-e", "dev", "--out", "-"]).success();
    assert_eq!(dash, stdout);
}

#[test]
fn layers_apply_in_order_files_then_set_then_set_string() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.yaml");
    let b = tmp.path().join("b.yaml");
    std::fs::write(&a, "api:\n  replicas: 5\nrunner:\n  workerConcurrency: 7\n").unwrap();
    std::fs::write(&b, "api:\n  replicas: 6\n").unwrap();
    let out = render_to(
        &tmp.path().join("r"),
        "aws",
        "prod",
        &[
            "-f",
            a.to_str().unwrap(),
            "-f",
            b.to_str().unwrap(),
            "--set-string",
            "runner.maxExecutionTime=45m",
            "--set",
            "runner.maxExecutionTime=1h,agents[0].name=ci,agents[0].tokenSecret.name=ci-token,agents[0].tokenSecret.key=token",
        ],
    );
    let values: Value = serde_yaml::from_slice(&std::fs::read(out.join("values.yaml")).unwrap()).unwrap();
    assert_eq!(values["api"]["replicas"], 6, "later -f wins");
    assert_eq!(values["runner"]["workerConcurrency"], 7);
    assert_eq!(values["runner"]["maxExecutionTime"], "45m", "--set-string applies after --set");
    assert_eq!(values["runner"]["autoscaling"]["maxReplicas"], 20, "prod environment value kept");

    let files = read_tree(&out.join("manifests"));
    assert!(files.contains_key("04-deployment-testmesh-agent-ci.yaml"), "{:?}", files.keys());
    assert!(files.contains_key("02-configmap-testmesh-agent-config.yaml"));

    let record: Value = serde_json::from_slice(&std::fs::read(out.join("render.json")).unwrap()).unwrap();
    let sources: Vec<&str> =
        record["values"].as_array().unwrap().iter().map(|l| l["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["chart", "profile", "environment", "file", "file", "set", "set"]);
    assert!(!serde_json::to_string(&record).unwrap().contains("ci-token"), "render.json must not record --set values");
}

#[test]
fn offline_overlay_pins_every_image_by_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_to(tmp.path(), "offline", "prod", &[]);
    let mut images = 0;
    for (name, object) in manifests(&out) {
        let text = serde_json::to_string(&object).unwrap();
        for part in text.split("\"image\":\"").skip(1) {
            let image = part.split('"').next().unwrap();
            images += 1;
            assert!(image.starts_with("registry.local:5000/testmesh/"), "{name}: {image}");
            assert!(image.contains("@sha256:"), "{name}: {image} is not pinned by digest");
        }
    }
    assert!(images >= 6, "{images}");
}

#[test]
fn cloud_profiles_use_managed_services_and_external_secrets() {
    for (profile, store_key) in [("aws", "aws"), ("gcp", "gcpsm"), ("azure", "azurekv")] {
        let tmp = tempfile::tempdir().unwrap();
        let objects = manifests(&render_to(tmp.path(), profile, "staging", &[]));
        let kinds: Vec<&str> = objects.iter().map(|(_, o)| o["kind"].as_str().unwrap()).collect();
        assert!(!kinds.contains(&"StatefulSet"), "{profile}: no in-cluster databases on a cloud");
        let store = objects.iter().find(|(_, o)| o["kind"] == "SecretStore").expect("a SecretStore");
        assert!(store.1["spec"]["provider"][store_key].is_object(), "{profile}: {}", store.1);
        assert!(kinds.contains(&"ExternalSecret"));
        assert!(kinds.contains(&"ServiceMonitor"), "{profile}: monitoring on in staging");
    }
}

#[test]
fn help_documents_the_commands() {
    let help = meshctl().args(["render", "--help"]).success();
    for flag in ["--profile", "--env", "--values", "--set", "--set-string", "--out", "kubectl apply -f -"] {
        assert!(help.contains(flag), "render --help lacks {flag}:\n{help}");
    }
    let err = meshctl().arg("frobnicate").fails(2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
}

#[test]
fn root_reads_assets_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    crate::util::copy_project(&root);
    std::fs::copy(root.join("profiles/aws.yaml"), root.join("profiles/aws2.yaml")).unwrap();
    let text = std::fs::read_to_string(root.join("profiles/aws2.yaml")).unwrap();
    std::fs::write(root.join("profiles/aws2.yaml"), text.replace("name: aws\n", "name: aws2\n")).unwrap();
    let out = meshctl().args(["--root", root.to_str().unwrap(), "profiles", "list"]).success();
    assert!(out.lines().any(|l| l.starts_with("aws2 ")), "{out}");
}

/// Kubernetes reads YAML 1.1 (`yes`, `on`, `0755` are not strings there);
/// every rendered file must mean the same to a YAML 1.1 reader (meshctl's
/// own) and a YAML 1.2 one (serde_yaml), so no string turns into a bool.
#[test]
fn rendered_yaml_means_the_same_to_yaml_1_1_and_1_2_readers() {
    for profile in crate::util::PROFILES {
        let tmp = tempfile::tempdir().unwrap();
        let out = render_to(tmp.path(), profile, "prod", &["--set-string", "commonAnnotations.flag=yes"]);
        for (name, bytes) in read_tree(&out) {
            if !name.ends_with(".yaml") {
                continue;
            }
            let text = String::from_utf8(bytes).unwrap();
            let v12: Value = serde_yaml::from_str(&text).unwrap();
            let v11 = meshctl::yaml::parse_one(&name, &text).unwrap();
            assert_eq!(v11, v12, "{profile}: {name} reads differently under YAML 1.1:\n{text}");
        }
    }
}
