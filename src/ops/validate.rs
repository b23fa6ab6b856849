//! `validate`: manifests, CRDs, Terraform modules and profiles named by
//! path, or everything a profile environment renders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{render, Context, RenderRequest};
use crate::assets::{Assets, CHART_DIR};
use crate::error::{Error, Result};
use crate::input::{self, InputFile, InputSource};
use crate::profile::{load_profile, Provider};
use crate::render::RenderSet;
use crate::validate::model::Report;
use crate::validate::{self, ValidateOptions};

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
pub fn validate(ctx: &Context, target: &ValidateTarget, opts: &ValidateOptions) -> Result<Report> {
    match target {
        ValidateTarget::Paths(paths) => {
            let files = input::discover(paths)?;
            let (modules, manifests) = split_terraform(&files)?;
            let mut report = validate::validate_files(&manifests, opts, ctx.assets())?;
            for (dir, files) in modules {
                report.resources.extend(validate::validate_terraform(&dir, &files));
            }
            Ok(report)
        }
        ValidateTarget::Render(request) => {
            let set = render(ctx, request)?;
            validate_render(ctx.assets(), &set, opts)
        }
    }
}

/// Validates a render held in memory: its manifests (with the CRDs of the
/// operators whose custom resources the chart renders, and digests
/// required for offline profiles) and its Terraform module.
pub(crate) fn validate_render(assets: &Assets, set: &RenderSet, opts: &ValidateOptions) -> Result<Report> {
    let profile = load_profile(assets, &set.profile)?.resolve(&set.environment)?;
    let mut opts = opts.clone();
    opts.lints.require_digests |= profile.target.provider == Provider::Offline;
    opts.crd_texts.extend(chart_crds(assets));
    let texts: Vec<(String, String)> =
        set.objects.iter().map(|o| (format!("manifests/{}", o.file_name), o.yaml.clone())).collect();
    let mut report = validate::validate_texts(&texts, &opts, assets)?;
    report.resources.extend(validate::validate_terraform("terraform", &set.terraform));
    Ok(report)
}

/// The CRDs of the External Secrets and Prometheus operators, kept with
/// the chart for validation only.
fn chart_crds(assets: &Assets) -> Vec<(String, String)> {
    assets
        .list(&format!("{CHART_DIR}/schemas"))
        .filter(|(path, _)| path.ends_with(".yaml"))
        .map(|(path, bytes)| (assets.display_path(path), String::from_utf8_lossy(bytes).into_owned()))
        .collect()
}

/// A Terraform module read whole: file name → text.
pub(crate) type Module = BTreeMap<String, String>;

/// Separates Terraform modules (directories holding `.tf` files, read whole
/// with their `terraform.tfvars.json`) from manifest inputs. Explicit `.tf`
/// files count as their directory's module. A module file that cannot be
/// read is an error naming it.
pub(crate) fn split_terraform(files: &[InputFile]) -> Result<(BTreeMap<String, Module>, Vec<InputFile>)> {
    let mut manifests = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
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
        if is_tf || path.extension().is_some_and(|e| e == "json") {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !dirs.contains(&dir) && dir_has_tf(&dir)? {
                dirs.push(dir);
            }
        }
    }
    let mut modules = BTreeMap::new();
    for dir in dirs {
        let mut module = Module::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tf") || name == "terraform.tfvars.json" {
                let path = entry.path();
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                module.insert(name, text);
            }
        }
        modules.insert(dir.display().to_string(), module);
    }
    Ok((modules, manifests))
}

fn dir_has_tf(dir: &Path) -> Result<bool> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.flatten().any(|e| e.path().extension().is_some_and(|x| x == "tf")))
}
