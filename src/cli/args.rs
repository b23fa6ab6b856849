//! The command line's grammar: every command, flag and help text (clap).
//! Turning these into requests and printing results is the job of the
//! other `cli` modules.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::ops::RenderRequest;
use crate::profile::values::{SetValue, UserValues};

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
    Apply(ApplyArgs),
    /// Show what `apply` would change, as a unified diff (server-side dry
    /// run; Secret data and sensitive values masked). Exit 1 when there are
    /// differences, 0 when none.
    Diff(DiffArgs),
    /// Show the release's current revision and the readiness of its objects.
    /// Exit 0 when every object is ready, 1 otherwise.
    Status(TargetArgs),
    /// List the release's revisions.
    History(TargetArgs),
    /// Re-apply an earlier revision (default: the deployed one before the
    /// current) and prune what it does not contain.
    Rollback(RollbackArgs),
    /// Rehearse a deployment with no cluster: start the sandbox, render,
    /// validate and apply a profile environment (offline/dev by default),
    /// wait for every workload, print the status and the runner's health,
    /// then stop. The runner's pods run the real `testmesh-runner` binary
    /// when it is found next to meshctl.
    Quickstart(QuickstartArgs),
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
                values: user_values(self.values.clone(), self.set.clone(), self.set_string.clone()),
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

/// Which release: profile and environment (or manifest files), values,
/// and cluster flags.
#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Release name; defaults to the chart's instance name (`testmesh`).
    #[arg(long)]
    pub release: Option<String>,
    /// Kubeconfig file; otherwise KUBECONFIG, ~/.kube/config, then in-cluster.
    #[arg(long, value_name = "FILE", env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use instead of the current one.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace for objects that name none (and of the release, without
    /// --profile).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

/// `meshctl apply` arguments.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").args(["profile", "from"]).required(true))]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Apply these manifest files or directories as the release instead of
    /// rendering a profile (e.g. a `render --out` directory's manifests/);
    /// repeatable.
    #[arg(long, value_name = "PATH", conflicts_with = "profile")]
    pub from: Vec<String>,
    /// Wait until every object is ready (`--wait=false` to return after applying).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub wait: bool,
    /// How long to wait: 90s, 5m, 1h.
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// On failure, roll back to the last deployed revision.
    #[arg(long)]
    pub atomic: bool,
    /// Delete objects of this release that are no longer rendered.
    #[arg(long)]
    pub prune: bool,
    /// `server`: ask the API server what would change; change nothing.
    #[arg(long, value_name = "MODE", value_parser = ["server", "none"], default_value = "none")]
    pub dry_run: String,
    /// Take ownership of fields other field managers own.
    #[arg(long)]
    pub force_conflicts: bool,
    /// How long the release lock lasts without renewal; a crashed run's lock
    /// is taken over after this.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration, hide = true)]
    pub lock_duration: Duration,
}

/// `meshctl diff` arguments.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").args(["profile", "from"]).required(true))]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Compare these manifest files or directories instead of a profile.
    #[arg(long, value_name = "PATH", conflicts_with = "profile")]
    pub from: Vec<String>,
    /// Show Secret data and sensitive values instead of masking them.
    #[arg(long)]
    pub show_secrets: bool,
}

/// `meshctl rollback` arguments.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The revision to return to; default: the deployed one before the current.
    #[arg(long)]
    pub revision: Option<u32>,
    /// How long to wait for readiness.
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration, hide = true)]
    pub lock_duration: Duration,
}

/// Parses `500ms`, `90s`, `5m`, `1h` or a number of seconds.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 5m, 1h)"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit {other:?} in {text:?} (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// `meshctl quickstart` arguments.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Profile to deploy.
    #[arg(long, short = 'p', default_value = "offline")]
    pub profile: String,
    /// Environment to deploy.
    #[arg(long, short = 'e', default_value = "dev")]
    pub env: String,
    /// The runner binary to run the runner's pods with; default:
    /// `testmesh-runner` next to meshctl (built by `cargo build --workspace`).
    /// Without one, the runner's pods are simulated like the others.
    #[arg(long, value_name = "PATH")]
    pub runner_binary: Option<PathBuf>,
    /// How long to wait for every workload.
    #[arg(long, value_name = "DUR", default_value = "3m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Keep the sandbox running after the rehearsal, until Ctrl-C, and write
    /// its kubeconfig to this file.
    #[arg(long, value_name = "KUBECONFIG")]
    pub keep: Option<PathBuf>,
}

/// The user's values layers from `-f`, `--set` and `--set-string`.
pub(crate) fn user_values(files: Vec<PathBuf>, set: Vec<String>, set_string: Vec<String>) -> UserValues {
    let mut sets: Vec<SetValue> = set.into_iter().map(SetValue::Typed).collect();
    sets.extend(set_string.into_iter().map(SetValue::String));
    UserValues { files: files.into_iter().map(Into::into).collect(), sets }
}
