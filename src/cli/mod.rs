//! The command line: clap definitions, turning arguments into requests, and
//! printing results. Data goes to stdout, messages to stderr.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::assets::Assets;
use crate::error::{Error, Result};
use crate::ops::{self, RenderRequest};
use crate::profile::{list_profiles, load_profile};
use crate::render::{write_out_dir, write_stream};
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
            let mut sets: Vec<SetValue> = args.set.into_iter().map(SetValue::Typed).collect();
            sets.extend(args.set_string.into_iter().map(SetValue::String));
            let request = RenderRequest {
                profile: args.profile,
                environment: args.env,
                user_values: UserValues { files: args.values, sets },
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
    }
    Ok(EXIT_OK)
}

/// Writes data to stdout; a closed pipe (`meshctl ... | head`) is not an
/// error.
fn print_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io(std::path::Path::new("<stdout>"), e)),
        _ => Ok(()),
    }
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
