//! Safe rendering: hostile values never change a document's structure. A
//! value cannot add a key, a document or a kind, Tera syntax in a value is
//! not evaluated, HCL interpolation in a value never reaches HCL text, and
//! each literal string survives byte for byte.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::util::{manifests, read_tree, render_to};

const HOSTILE: &[&str] = &[
    "x\nkind: ClusterRole",
    "{{ 7*7 }}",
    "${file(\"/etc/passwd\")}",
    "]]}",
    "a\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: evil",
    "\"}, \"kind\": \"ClusterRole",
    "%{ for x in [1] }${x}%{ endfor }",
    "{% raw %}{{ get_env(name=\"HOME\") }}{% endraw %}",
    "line\u{2028}separator\u{85}next",
    "'; DROP TABLE runs; --",
];

fn hostile_values() -> Value {
    let mut annotations = serde_json::Map::new();
    let mut ingress_annotations = serde_json::Map::new();
    let mut tags = serde_json::Map::new();
    for (i, s) in HOSTILE.iter().enumerate() {
        annotations.insert(format!("evil.example.com/v{i}"), json!(s));
        // Hostile keys too: the ingress template prints annotation keys.
        ingress_annotations.insert((*s).to_owned(), json!(s));
        tags.insert(format!("t{i}"), json!(s));
    }
    json!({
        "commonAnnotations": annotations,
        "commonLabels": {"evil": HOSTILE[0]},
        "ingress": {"annotations": ingress_annotations},
        "runner": {"podAnnotations": {"evil": HOSTILE[2]}},
        "cloudTags": tags,
    })
}

fn kinds(objects: &[(String, Value)]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (_, v) in objects {
        *out.entry(v["kind"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    out
}

#[test]
fn hostile_values_change_no_structure_and_survive_literally() {
    for profile in ["aws", "offline"] {
        let tmp = tempfile::tempdir().unwrap();
        let clean = manifests(&render_to(&tmp.path().join("clean"), profile, "staging", &[]));

        let values_file = tmp.path().join("hostile.yaml");
        std::fs::write(&values_file, serde_yaml::to_string(&hostile_values()).unwrap()).unwrap();
        let out = render_to(&tmp.path().join("hostile"), profile, "staging", &["-f", values_file.to_str().unwrap()]);
        let hostile = manifests(&out);

        assert_eq!(hostile.len(), clean.len(), "{profile}: object count changed");
        assert_eq!(kinds(&hostile), kinds(&clean), "{profile}: kinds changed");
        let names = |objs: &[(String, Value)]| objs.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>();
        assert_eq!(names(&hostile), names(&clean), "{profile}: objects changed");

        for (file, object) in &hostile {
            let annotations = &object["metadata"]["annotations"];
            for (i, s) in HOSTILE.iter().enumerate() {
                assert_eq!(
                    annotations[format!("evil.example.com/v{i}")],
                    json!(s),
                    "{profile} {file}: value {i} altered"
                );
            }
            assert_eq!(object["metadata"]["labels"]["evil"], json!(HOSTILE[0]), "{profile} {file}");
            if object["kind"] == "Ingress" {
                for s in HOSTILE {
                    assert_eq!(annotations[*s], json!(s), "{profile}: ingress annotation key {s:?} altered");
                }
            }
        }

        // Tera syntax in a value is data, never evaluated.
        let all_text: String =
            read_tree(&out.join("manifests")).values().map(|b| String::from_utf8_lossy(b).into_owned()).collect();
        assert!(!all_text.contains("49"), "{profile}: `{{{{ 7*7 }}}}` was evaluated");

        // Terraform sees values only through terraform.tfvars.json, as data.
        let tf = read_tree(&out.join("terraform"));
        let vars: Value = serde_json::from_slice(&tf["terraform.tfvars.json"]).unwrap();
        for (i, s) in HOSTILE.iter().enumerate() {
            assert_eq!(vars["tags"][format!("t{i}")], json!(s), "{profile}: tfvars tag {i} altered");
        }
        for (name, bytes) in &tf {
            if name.ends_with(".tf") {
                let text = String::from_utf8_lossy(bytes);
                assert!(!text.contains("/etc/passwd"), "{profile}: a value reached HCL text in {name}");
            }
        }
    }
}

#[test]
fn hostile_set_values_survive_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_to(
        tmp.path(),
        "gcp",
        "dev",
        &[
            "--set-string",
            "commonAnnotations.a=x\\,y: z\\nkind: ClusterRole",
            "--set",
            "cloudTags.b=${file(\"/etc/passwd\")}",
        ],
    );
    let objects = manifests(&out);
    assert!(objects.iter().all(|(_, o)| o["kind"] != "ClusterRole"));
    assert_eq!(objects[0].1["metadata"]["annotations"]["a"], json!("x,y: znkind: ClusterRole"));
    let vars: Value = serde_json::from_slice(&read_tree(&out.join("terraform"))["terraform.tfvars.json"]).unwrap();
    assert_eq!(vars["tags"]["b"], json!("${file(\"/etc/passwd\")}"));
}
