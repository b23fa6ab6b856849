//! Rendered Terraform is formatted as `terraform fmt` wants it (the real
//! binary checks it), and values reach it only through
//! terraform.tfvars.json, which sets every variable without a default.

use std::process::Command;

use crate::util::{read_tree, render_to, ENVIRONMENTS, PROFILES};

#[test]
fn terraform_fmt_accepts_every_rendered_module() {
    for profile in PROFILES {
        for env in ENVIRONMENTS {
            let tmp = tempfile::tempdir().unwrap();
            let out = render_to(tmp.path(), profile, env, &[]);
            let tf = out.join("terraform");
            let result = Command::new(sandbox::tools::path("terraform"))
                .args(["fmt", "-check", "-recursive", "-diff"])
                .arg(&tf)
                .output()
                .expect("the `terraform` binary must be installed (see .ci/run)");
            assert!(
                result.status.success(),
                "terraform fmt -check failed for {profile}/{env}:\n{}{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            );
        }
    }
}

/// Every `variable "x"` block without a `default` must be set in
/// terraform.tfvars.json, and every key there must be a declared variable.
#[test]
fn tfvars_sets_exactly_the_required_variables() {
    for profile in PROFILES {
        let tmp = tempfile::tempdir().unwrap();
        let out = render_to(tmp.path(), profile, "prod", &[]);
        let files = read_tree(&out.join("terraform"));
        let vars: serde_json::Value = serde_json::from_slice(&files["terraform.tfvars.json"]).unwrap();
        let vars = vars.as_object().unwrap();
        let mut declared = Vec::new();
        let mut required = Vec::new();
        for (name, bytes) in &files {
            if !name.ends_with(".tf") {
                continue;
            }
            let text = format!("\n{}", String::from_utf8_lossy(bytes));
            for block in text.split("\nvariable \"").skip(1) {
                let var = block.split('"').next().unwrap().to_owned();
                // The block ends at the first line that is exactly "}".
                let body = block.split("\n}\n").next().unwrap();
                if !body.lines().any(|l| l.trim_start().starts_with("default ")) {
                    required.push(var.clone());
                }
                declared.push(var);
            }
        }
        for var in &required {
            assert!(
                vars.contains_key(var),
                "{profile}: variable `{var}` has no default and is not in terraform.tfvars.json"
            );
        }
        for key in vars.keys() {
            assert!(
                declared.contains(key),
                "{profile}: terraform.tfvars.json sets `{key}`, which no variable declares"
            );
        }
    }
}
