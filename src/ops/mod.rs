//! The operations the command line and (later) the HTTP server both call.

pub mod deploy;

use std::collections::BTreeMap;

use crate::assets::Assets;
use crate::error::Result;
use crate::profile::{load_profile, Provider};
use crate::render::{render_set, RenderSet};
use crate::validate::model::Report;
use crate::validate::source::{self, InputFile, InputSource};
use crate::validate::{self, ValidateOptions};
use crate::values::{build_values, UserValues, CHART_DIR};

/// What to render.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    /// Profile name.
    pub profile: String,
    /// Environment name.
    pub environment: String,
    /// `-f` files and `--set` expressions.
    pub user_values: UserValues,
}

/// Loads the profile, builds and checks the values stack, and renders the
/// chart and the Terraform module in memory.
pub fn render(assets: &Assets, request: &RenderRequest) -> Result<RenderSet> {
    let profile = load_profile(assets, &request.profile)?.resolve(&request.environment)?;
    tracing::debug!(profile = %profile.name, env = %profile.environment, "rendering");
    let values = build_values(assets, &profile, &request.user_values)?;
    render_set(assets, &profile, &values)
}

/// What to validate: paths, or a profile environment rendered in memory.
#[derive(Debug, Clone)]
pub enum ValidateTarget {
    /// Files, directories and `-`.
    Paths(Vec<String>),
    /// Render this profile environment and validate everything it produces.
    Render(RenderRequest),
}

/// Validates paths (manifests; Terraform modules in directories; a render
/// output's `values.yaml`), or a whole render: its manifests, its Terraform
/// module and, through the render itself, its profile and values.
pub fn validate(assets: &Assets, target: &ValidateTarget, opts: &ValidateOptions) -> Result<Report> {
    match target {
        ValidateTarget::Paths(paths) => {
            let files = source::discover(paths)?;
            let (modules, manifests) = split_terraform(&files);
            let mut report = validate::validate_files(&manifests, opts)?;
            for (dir, files) in modules {
                report.resources.extend(validate::validate_terraform(&dir, &files));
            }
            Ok(report)
        }
        ValidateTarget::Render(request) => {
            let profile = load_profile(assets, &request.profile)?.resolve(&request.environment)?;
            let mut opts = opts.clone();
            opts.lints.require_digests |= profile.target.provider == Provider::Offline;
            // The CRDs of the operators whose custom resources the chart
            // renders (External Secrets, Prometheus operator).
            for (path, bytes) in assets.list(&format!("{CHART_DIR}/schemas")) {
                if path.ends_with(".yaml") {
                    opts.crd_texts.push((assets.display_path(path), String::from_utf8_lossy(bytes).into_owned()));
                }
            }
            let set = render(assets, request)?;
            let texts: Vec<(String, String)> =
                set.objects.iter().map(|o| (format!("manifests/{}", o.file_name), o.yaml.clone())).collect();
            let mut report = validate::validate_texts(&texts, &opts)?;
            let tf: BTreeMap<String, String> = set.terraform.clone().into_iter().collect();
            report.resources.extend(validate::validate_terraform("terraform", &tf));
            Ok(report)
        }
    }
}

/// Separates Terraform modules (directories holding `.tf` files, read whole
/// with their `terraform.tfvars.json`) from manifest inputs. Explicit
/// `.tf` files count as their directory's module.
fn split_terraform(files: &[InputFile]) -> (BTreeMap<String, BTreeMap<String, String>>, Vec<InputFile>) {
    let mut modules: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut manifests = Vec::new();
    for f in files {
        let InputSource::File(path) = &f.source else {
            manifests.push(f.clone());
            continue;
        };
        let is_tf = path.extension().is_some_and(|e| e == "tf");
        let is_tfvars = path.file_name().is_some_and(|n| n == "terraform.tfvars.json");
        if !is_tf && !is_tfvars {
            manifests.push(f.clone());
        }
    }
    // Directories that hold .tf files are modules; read them whole.
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    for f in files {
        if let InputSource::File(path) = &f.source {
            if path.extension().is_some_and(|e| e == "tf" || e == "json") {
                let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                if !dirs.contains(&dir) && dir_has_tf(&dir) {
                    dirs.push(dir);
                }
            }
        }
    }
    for dir in dirs {
        let mut module = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".tf") || name == "terraform.tfvars.json" {
                    if let Ok(text) = std::fs::read_to_string(&p) {
                        module.insert(name, text);
                    }
                }
            }
        }
        modules.insert(dir.display().to_string(), module);
    }
    (modules, manifests)
}

fn dir_has_tf(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "tf")))
        .unwrap_or(false)
}
