//! Golden renders: `tests/golden/<profile>/<env>/` holds the expected
//! output of every profile and environment. A mismatch prints a unified
//! diff; `MESHCTL_UPDATE_GOLDEN=1 cargo test` rewrites the files.

use crate::util::{read_tree, render_to, root, ENVIRONMENTS, PROFILES};

fn check_golden(profile: &str, env: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_to(tmp.path(), profile, env, &[]);
    let golden_dir = root().join("tests/golden").join(profile).join(env);
    let mut actual = read_tree(&out);
    // The Terraform module files are the templates passed through unchanged
    // (they may print no values): check that here instead of keeping twelve
    // copies of each in tests/golden. Their hashes stay in render.json.
    // (Each profile here is named after its provider.)
    let provider_dir = root().join("templates/terraform").join(profile);
    actual.retain(|rel, bytes| {
        let Some(name) = rel.strip_prefix("terraform/").filter(|n| n.ends_with(".tf")) else { return true };
        let template = std::fs::read(provider_dir.join(name)).unwrap_or_default();
        assert_eq!(bytes, &template, "{profile}/{env}: rendered {rel} differs from its template");
        false
    });

    if std::env::var_os("MESHCTL_UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        for (rel, bytes) in &actual {
            let path = golden_dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        return;
    }

    let expected = read_tree(&golden_dir);
    assert!(!expected.is_empty(), "no golden files in {}; run with MESHCTL_UPDATE_GOLDEN=1", golden_dir.display());
    let mut report = String::new();
    for (rel, want) in &expected {
        match actual.get(rel) {
            None => report.push_str(&format!("missing file: {rel}\n")),
            Some(got) if got != want => {
                let want = String::from_utf8_lossy(want);
                let got = String::from_utf8_lossy(got);
                let diff = similar::TextDiff::from_lines(want.as_ref(), got.as_ref());
                report.push_str(&format!(
                    "{}",
                    diff.unified_diff().context_radius(3).header(&format!("golden/{rel}"), &format!("rendered/{rel}"))
                ));
            }
            Some(_) => {}
        }
    }
    for rel in actual.keys().filter(|k| !expected.contains_key(*k)) {
        report.push_str(&format!("unexpected file: {rel}\n"));
    }
    assert!(
        report.is_empty(),
        "render of {profile}/{env} differs from {}:\n{report}\n(rerun with MESHCTL_UPDATE_GOLDEN=1 to accept)",
        golden_dir.display()
    );
}

#[test]
fn all_profiles_and_environments_match_golden() {
    for profile in PROFILES {
        for env in ENVIRONMENTS {
            check_golden(profile, env);
        }
    }
}

#[test]
fn two_renders_are_byte_identical() {
    for profile in PROFILES {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let first = read_tree(&render_to(a.path(), profile, "prod", &[]));
        let second = read_tree(&render_to(b.path(), profile, "prod", &[]));
        assert_eq!(first, second, "{profile}/prod renders differ between runs");
    }
}

#[test]
fn manifest_listing_is_apply_order() {
    let tmp = tempfile::tempdir().unwrap();
    let out = render_to(tmp.path(), "aws", "prod", &[]);
    let names: Vec<String> = read_tree(&out.join("manifests")).into_keys().collect();
    let tiers: Vec<u8> = names.iter().map(|n| n[..2].parse().unwrap()).collect();
    let mut sorted = tiers.clone();
    sorted.sort();
    assert_eq!(tiers, sorted);
    let position =
        |prefix: &str| names.iter().position(|n| n.contains(prefix)).unwrap_or_else(|| panic!("{prefix} in {names:?}"));
    assert!(position("namespace-") < position("serviceaccount-"));
    assert!(position("serviceaccount-") < position("service-testmesh-api"));
    assert!(position("service-testmesh-api") < position("deployment-testmesh-api"));
    assert!(position("deployment-testmesh-runner") < position("horizontalpodautoscaler-"));
    assert!(position("externalsecret-") < position("deployment-testmesh-api"));
}
