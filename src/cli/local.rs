//! The commands that need no cluster: `profiles`, `render`, `validate`, and
//! `sandbox up` (which is one).

use std::path::PathBuf;

use super::args::{Format, ProfilesCommand, RenderArgs, ReportFormat, SandboxUpArgs, ValidateArgs};
use super::{print_stdout, report, EXIT_BAD, EXIT_OK};
use crate::error::{Error, Result};
use crate::ops::{self, Context, RenderRequest, ValidateTarget};
use crate::profile::values::ValuesError;
use crate::profile::ProfileError;
use crate::render::{write_out_dir, write_stream};
use crate::validate::lint::LintOptions;
use crate::validate::report::{write_json, write_junit, write_sarif, write_text, TextOptions};
use crate::validate::ValidateOptions;
use crate::yaml;

pub(super) fn run_profiles(ctx: &Context, command: ProfilesCommand) -> Result<i32> {
    let text = match command {
        ProfilesCommand::List => ops::profiles::list(ctx)?
            .iter()
            .map(|p| format!("{:<10} {:<8} {:<14} {}\n", p.name, p.provider, p.region, p.description))
            .collect(),
        ProfilesCommand::Show { name, env, output } => {
            let doc = ops::profiles::show(ctx, &name, env.as_deref())?;
            match output {
                Format::Yaml => yaml::to_yaml_string(&doc),
                Format::Json => format!("{}\n", serde_json::to_string_pretty(&doc).expect("JSON")),
            }
        }
    };
    print_stdout(text.as_bytes())?;
    Ok(EXIT_OK)
}

pub(super) fn run_render(ctx: &Context, args: RenderArgs) -> Result<i32> {
    let request = RenderRequest {
        profile: args.profile,
        environment: args.env,
        values: super::args::user_values(args.values, args.set, args.set_string),
    };
    let set = ops::render(ctx, &request)?;
    match args.out {
        Some(dir) if dir.as_os_str() != "-" => {
            write_out_dir(&set, &dir)?;
            eprintln!(
                "rendered profile `{}` environment `{}`: {} objects, {} Terraform files -> {}",
                set.profile,
                set.environment,
                set.objects.len(),
                set.terraform.len(),
                dir.display()
            );
        }
        _ => {
            let mut buf = Vec::new();
            write_stream(&set, &mut buf).expect("writing to memory");
            print_stdout(&buf)?;
        }
    }
    Ok(EXIT_OK)
}

pub(super) fn run_validate(ctx: &Context, args: ValidateArgs) -> Result<i32> {
    let opts = ValidateOptions {
        strict: args.strict,
        kubernetes_version: args.kube_version,
        crd_dirs: args.crds,
        crd_texts: Vec::new(),
        schema_locations: args.schema_location,
        ignore_missing_schemas: args.ignore_missing_schemas,
        default_namespace: args.namespace,
        lints: LintOptions { disabled: args.disable, require_digests: args.require_digests },
    };
    let target = match args.profile.render_request() {
        Some(request) => ValidateTarget::Render(request),
        None => ValidateTarget::Paths(args.paths),
    };
    let report = match ops::validate(ctx, &target, &opts) {
        Ok(report) => report,
        // With --profile, a profile or values that break their schema are
        // what is being checked: invalid (1), not a failure to run (2).
        Err(err @ (Error::Profile(ProfileError::Invalid { .. }) | Error::Values(ValuesError::Schema { .. }))) => {
            eprintln!("{}", report(&err));
            return Ok(EXIT_BAD);
        }
        Err(err) => return Err(err),
    };
    let mut buf = Vec::new();
    let written = match args.output {
        ReportFormat::Text => {
            write_text(&report, &mut buf, TextOptions { summary: args.summary, verbose: args.verbose })
        }
        ReportFormat::Json => write_json(&report, &mut buf),
        ReportFormat::Junit => write_junit(&report, &mut buf),
        ReportFormat::Sarif => write_sarif(&report, &mut buf, env!("CARGO_PKG_VERSION")),
    };
    written.expect("writing to memory");
    print_stdout(&buf)?;
    Ok(if report.is_clean() { EXIT_OK } else { EXIT_BAD })
}

pub(super) fn run_sandbox(args: SandboxUpArgs) -> Result<i32> {
    let mut images = sandbox::ImageMap::default();
    for mapping in &args.images {
        let argument = format!("--image {mapping:?}");
        let Some((image, path)) = mapping.split_once('=') else {
            return Err(Error::argument(argument, "expected IMAGE=PATH"));
        };
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(Error::argument(argument, format!("`{}` is not a file", path.display())));
        }
        images.insert(image, path);
    }
    let config = sandbox::SandboxConfig {
        listen: args.listen,
        state_dir: args.state_dir.clone(),
        images,
        pod_ready_delay: std::time::Duration::from_millis(args.pod_ready_delay_ms),
        ..Default::default()
    };
    let sandbox = sandbox::Sandbox::start(config)?;
    match &args.kubeconfig_out {
        Some(path) => {
            sandbox.write_kubeconfig(path)?;
            eprintln!("sandbox listening on {}; kubeconfig written to {}", sandbox.url(), path.display());
            eprintln!("try: kubectl --kubeconfig {} get namespaces", path.display());
        }
        None => {
            eprintln!("sandbox listening on {}; kubeconfig follows on stdout", sandbox.url());
            print_stdout(sandbox.kubeconfig().as_bytes())?;
        }
    }
    eprintln!("press Ctrl-C to stop");
    sandbox.run_until_signal()?;
    eprintln!("sandbox stopped");
    Ok(EXIT_OK)
}
