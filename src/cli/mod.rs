//! The command line: clap definitions, turning arguments into requests, and
//! printing results. Data goes to stdout, messages to stderr.

pub mod progress;

pub mod deploy;
pub mod quickstart;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::assets::Assets;
use crate::error::{Error, Result};
use crate::ops::{self, RenderRequest, ValidateTarget};
use crate::profile::{list_profiles, load_profile, ProfileError};
use crate::render::{write_out_dir, write_stream};
use crate::validate::lint::LintOptions;
use crate::validate::report::{write_json, write_junit, write_sarif, write_text, TextOptions};
use crate::validate::ValidateOptions;
use crate::values::ValuesError;
use crate::values::{SetValue, UserValues};
use crate::yaml;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the thing checked is bad (invalid manifests, a diff exists).
pub const EXIT_BAD: i32 = 1;
/// Exit code: the command could not do its job (bad arguments, unreadable
/// or malformed input).
pub const EXIT_FAILED: i32 = 2;

/// Render, validate and deploy the TestMesh test-execution platform per
/// cloud profile.
#[derive(Debug, Parser)]
#[command(name = "meshctl", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Read templates/, profiles/ and offline-values/ from this directory
    /// instead of the copies built into the binary.
    #[arg(long, global = true, value_name = "DIR", env = "MESHCTL_ROOT")]
    pub root: Option<PathBuf>,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// meshctl's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List profiles or show one.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Run a local Kubernetes API sandbox (see `meshctl sandbox up --help`).
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Render, validate and server-side apply a profile environment to a
    /// cluster: in tiers, waiting for readiness, recorded as a revision,
    /// under a lock.
    ///
    /// Objects are applied with field manager `meshctl`, labelled into the
    /// release's ApplySet (KEP-3659), CRDs first and Jobs last; an unchanged
    /// object is not sent. Exit 1 when the set is invalid, the rollout fails
    /// or the API server rejects an object; 2 when the cluster cannot be
    /// reached or the release is locked by another operation.
    Apply(deploy::ApplyArgs),
    /// Show what `apply` would change, as a unified diff (server-side dry
    /// run; Secret data and sensitive values masked). Exit 1 when there are
    /// differences, 0 when none.
    Diff(deploy::DiffArgs),
    /// Show the release's current revision and the readiness of its objects.
    /// Exit 0 when every object is ready, 1 otherwise.
    Status(deploy::TargetArgs),
    /// List the release's revisions.
    History(deploy::TargetArgs),
    /// Re-apply an earlier revision (default: the deployed one before the
    /// current) and prune what it does not contain.
    Rollback(deploy::RollbackArgs),
    /// Rehearse a deployment with no cluster: start the sandbox, render,
    /// validate and apply a profile environment (offline/dev by default),
    /// wait for every workload, print the status and the runner's health,
    /// then stop. The runner's pods run the real `testmesh-runner` binary
    /// when it is found next to meshctl.
    Quickstart(quickstart::QuickstartArgs),
    /// Render Helm values, Kubernetes manifests and a Terraform root module
    /// for a profile environment.
    ///
    /// With --out DIR, writes DIR/values.yaml, DIR/manifests/ (one file per
    /// object; a sorted listing is the apply order), DIR/terraform/ (the
    /// root module and terraform.tfvars.json) and DIR/render.json. DIR is
    /// replaced only when the whole render succeeded. Without --out (or with
    /// --out -), prints the manifests to stdout as one YAML stream, ready
    /// for `kubectl apply -f -`.
    Render(RenderArgs),
    /// Validate Kubernetes manifests, CRDs, Terraform modules and policy,
    /// offline.
    ///
    /// Built-in kinds are decoded strictly against the Kubernetes types
    /// compiled in (unknown fields and duplicate keys are errors, as with
    /// `kubectl --validate=strict`); custom resources against the CRDs in the
    /// input and in --crds, or schemas found through --schema-location; then
    /// the API server's own rules (names, labels, selectors, ports, probes,
    /// quantities, duplicates) and policy lints. Directories are read
    /// recursively (.yaml, .yml, .json; .tf files as Terraform modules); `-`
    /// reads stdin. With --profile and --env, renders in memory and validates
    /// everything it produces.
    ///
    /// Exit codes: 0 all valid or skipped, 1 something invalid, 2 an input
    /// could not be found or the render failed.
    Validate(ValidateArgs),
}

/// `meshctl validate` arguments.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files, directories or `-` (stdin).
    #[arg(value_name = "PATH", required_unless_present = "profile", conflicts_with = "profile")]
    pub paths: Vec<String>,
    /// Unknown fields and duplicate keys are errors; `--strict=false` relaxes.
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub strict: bool,
    /// Kubernetes version for --schema-location templates (built-in kinds
    /// are checked against the compiled-in version).
    #[arg(long, value_name = "V", default_value = crate::validate::KUBERNETES_VERSION)]
    pub kube_version: String,
    /// A directory of CustomResourceDefinitions; repeatable.
    #[arg(long, value_name = "DIR")]
    pub crds: Vec<PathBuf>,
    /// A kubeconform-style schema location over local paths, e.g.
    /// `schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json`; repeatable.
    #[arg(long, value_name = "TPL")]
    pub schema_location: Vec<String>,
    /// Report kinds with no schema as skipped instead of invalid.
    #[arg(long)]
    pub ignore_missing_schemas: bool,
    /// Namespace of namespaced objects that set none (for duplicates).
    #[arg(long, value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
    /// End text output with a one-line summary of counts.
    #[arg(long)]
    pub summary: bool,
    /// Text output also lists valid resources.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Disable a policy lint for the whole run; repeatable. Objects opt out
    /// with the annotation `meshctl.dev/lint-disable: "id,id"`.
    #[arg(long = "disable", value_name = "LINT")]
    pub disable: Vec<String>,
    /// Require images pinned by digest (on by default for offline profiles).
    #[arg(long)]
    pub require_digests: bool,
    /// Render a profile environment in memory and validate the result.
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// An optional profile environment and its values (`validate`, `apply`,
/// `diff`, `status`, ...).
#[derive(Debug, Default, clap::Args)]
pub struct ProfileArgs {
    /// Profile name (see `meshctl profiles list`); with --env.
    #[arg(long, short = 'p', requires = "env")]
    pub profile: Option<String>,
    /// Environment of --profile: dev, staging or prod.
    #[arg(long, short = 'e', requires = "profile")]
    pub env: Option<String>,
    /// Values file for --profile; repeatable, later files win.
    #[arg(long = "values", short = 'f', value_name = "FILE", requires = "profile")]
    pub values: Vec<PathBuf>,
    /// --set for --profile (Helm's syntax); repeatable.
    #[arg(long = "set", value_name = "K=V", requires = "profile")]
    pub set: Vec<String>,
    /// --set-string for --profile: every value a string; repeatable.
    #[arg(long = "set-string", value_name = "K=V", requires = "profile")]
    pub set_string: Vec<String>,
}

impl ProfileArgs {
    /// The render request, when a profile and environment were given.
    pub fn render_request(&self) -> Option<RenderRequest> {
        match (&self.profile, &self.env) {
            (Some(profile), Some(environment)) => Some(RenderRequest {
                profile: profile.clone(),
                environment: environment.clone(),
                user_values: user_values(self.values.clone(), self.set.clone(), self.set_string.clone()),
            }),
            _ => None,
        }
    }
}

/// Validation report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One line per problem (file:line: resource: severity [rule] at pointer: message).
    Text,
    /// The whole report as JSON.
    Json,
    /// JUnit XML (one test suite per file).
    Junit,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// `meshctl sandbox ...`.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run a Kubernetes API sandbox on this machine until interrupted.
    ///
    /// A rehearsal cluster: kubectl and meshctl talk to it over HTTPS with
    /// a bearer token, as to a real API server. Controllers roll out
    /// Deployments, StatefulSets and Jobs; pods whose image is mapped with
    /// --image run as local processes, the rest are simulated. There is no
    /// scheduler, no container runtime, no network plugin and no admission
    /// webhooks. Ctrl-C stops it and every pod process.
    Up(SandboxUpArgs),
}

/// `meshctl sandbox up` arguments.
#[derive(Debug, clap::Args)]
pub struct SandboxUpArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Write the kubeconfig here (mode 0600) instead of printing it to
    /// stdout.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Keep objects, the CA and the token here, so a restart continues
    /// where the last run stopped (and an old kubeconfig still works).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Run pods of this image as a local binary: IMAGE=PATH. IMAGE without
    /// a tag matches every tag. Repeat for more images.
    #[arg(long = "image", value_name = "IMAGE=PATH")]
    pub images: Vec<String>,
    /// How long a simulated pod takes to become ready, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub pod_ready_delay_ms: u64,
}

/// `meshctl profiles ...`.
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List the profiles: name, provider, region and description.
    List,
    /// Print a profile; with --env, the effective profile of that
    /// environment (its overrides merged in).
    Show {
        /// Profile name.
        name: String,
        /// Environment (dev, staging, prod).
        #[arg(long, short = 'e')]
        env: Option<String>,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value_t = Format::Yaml)]
        output: Format,
    },
}

/// Data output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// `meshctl render` arguments.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Profile name (see `meshctl profiles list`).
    #[arg(long, short = 'p')]
    pub profile: String,
    /// Environment: dev, staging or prod.
    #[arg(long, short = 'e')]
    pub env: String,
    /// A values file layered over the profile; repeat to add more, later
    /// files win.
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Set values with Helm's syntax: a.b=c, a[0].b=c, a={x,y}, commas
    /// between assignments, `\` to escape. Applied after every -f.
    #[arg(long = "set", value_name = "K=V")]
    pub set: Vec<String>,
    /// Like --set, but every value is a string. Applied after every --set.
    #[arg(long = "set-string", value_name = "K=V")]
    pub set_string: Vec<String>,
    /// Output directory; `-` or absent prints the manifests to stdout.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let assets = match &cli.root {
        Some(root) => Assets::from_dir(root)?,
        None => Assets::embedded(),
    };
    match cli.command {
        Command::Profiles(ProfilesCommand::List) => {
            let mut out = String::new();
            for name in list_profiles(&assets) {
                let profile = load_profile(&assets, &name)?;
                let spec = &profile.document["spec"];
                out.push_str(&format!(
                    "{:<10} {:<8} {:<14} {}\n",
                    name,
                    spec["provider"].as_str().unwrap_or_default(),
                    spec["region"].as_str().unwrap_or_default(),
                    profile.description
                ));
            }
            print_stdout(out.as_bytes())?;
        }
        Command::Profiles(ProfilesCommand::Show { name, env, output }) => {
            let profile = load_profile(&assets, &name)?;
            let doc = match env {
                None => profile.document.clone(),
                Some(env) => {
                    let effective = profile.resolve(&env)?;
                    serde_json::json!({
                        "apiVersion": profile.document["apiVersion"],
                        "kind": profile.document["kind"],
                        "metadata": {
                            "name": profile.name,
                            "description": profile.description,
                            "environment": env,
                        },
                        "spec": effective.spec,
                    })
                }
            };
            let text = match output {
                Format::Yaml => yaml::to_yaml_string(&doc),
                Format::Json => format!("{}\n", serde_json::to_string_pretty(&doc).expect("JSON")),
            };
            print_stdout(text.as_bytes())?;
        }
        Command::Render(args) => {
            let request = RenderRequest {
                profile: args.profile,
                environment: args.env,
                user_values: user_values(args.values, args.set, args.set_string),
            };
            let set = ops::render(&assets, &request)?;
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
        }
        Command::Validate(args) => return run_validate(&assets, args),
        Command::Sandbox(SandboxCommand::Up(args)) => return run_sandbox(args),
        Command::Apply(args) => return deploy::run_apply(&assets, args),
        Command::Diff(args) => return deploy::run_diff(&assets, args),
        Command::Status(args) => return deploy::run_status(&assets, args),
        Command::History(args) => return deploy::run_history(&assets, args),
        Command::Rollback(args) => return deploy::run_rollback(&assets, args),
        Command::Quickstart(args) => return quickstart::run_quickstart(&assets, args),
    }
    Ok(EXIT_OK)
}

pub(crate) fn user_values(files: Vec<PathBuf>, set: Vec<String>, set_string: Vec<String>) -> UserValues {
    let mut sets: Vec<SetValue> = set.into_iter().map(SetValue::Typed).collect();
    sets.extend(set_string.into_iter().map(SetValue::String));
    UserValues { files, sets }
}

fn run_sandbox(args: SandboxUpArgs) -> Result<i32> {
    let mut images = sandbox::ImageMap::default();
    for mapping in &args.images {
        let Some((image, path)) = mapping.split_once('=') else {
            return Err(Error::Assets(format!("--image {mapping:?}: expected IMAGE=PATH")));
        };
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(Error::Assets(format!("--image {mapping:?}: `{}` is not a file", path.display())));
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

fn run_validate(assets: &Assets, args: ValidateArgs) -> Result<i32> {
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
    let report = match ops::validate(assets, &target, &opts) {
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

/// Writes data to stdout; a closed pipe (`meshctl ... | head`) is not an
/// error.
pub(crate) fn print_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io(std::path::Path::new("<stdout>"), e)),
        _ => Ok(()),
    }
}

/// The exit code for a failed command: 1 when the thing checked is bad (a
/// rollout failed, an object was rejected), 2 otherwise.
pub fn exit_code(err: &Error) -> i32 {
    deploy::exit_code_of(err).unwrap_or(EXIT_FAILED)
}

/// Formats an error and its causes for stderr: the message, then one
/// "caused by:" line per source.
pub fn report(err: &Error) -> String {
    let mut out = format!("error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    out
}
