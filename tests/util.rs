//! A small fluent helper around the `meshctl` binary (after just's
//! `tests/test.rs`): build a command, run it, assert on its outcome.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PROFILES: &[&str] = &["aws", "gcp", "azure", "offline"];
pub const ENVIRONMENTS: &[&str] = &["dev", "staging", "prod"];

/// The project root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Meshctl {
    cmd: Command,
    args: Vec<String>,
}

pub struct Run {
    pub args: Vec<String>,
    pub output: Output,
}

/// Starts a `meshctl` command.
pub fn meshctl() -> Meshctl {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshctl"));
    cmd.env_remove("MESHCTL_ROOT").env_remove("MESHCTL_LOG");
    Meshctl { cmd, args: Vec::new() }
}

impl Meshctl {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for a in args {
            self.args.push(a.as_ref().to_owned());
            self.cmd.arg(a.as_ref());
        }
        self
    }

    pub fn arg(self, a: impl AsRef<str>) -> Self {
        self.args([a])
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn run(mut self) -> Run {
        let output = self.cmd.output().expect("run meshctl");
        Run { args: self.args, output }
    }

    /// Runs and expects exit 0; returns stdout.
    pub fn success(self) -> String {
        self.run().code(0).stdout()
    }

    /// Runs and expects `code`; returns stderr.
    pub fn fails(self, code: i32) -> String {
        self.run().code(code).stderr()
    }
}

impl Run {
    pub fn code(self, expected: i32) -> Self {
        let got = self.output.status.code();
        assert_eq!(
            got,
            Some(expected),
            "meshctl {}\nexpected exit {expected}, got {got:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr),
        );
        self
    }

    pub fn stdout(&self) -> String {
        String::from_utf8(self.output.stdout.clone()).expect("stdout is UTF-8")
    }

    pub fn stderr(&self) -> String {
        String::from_utf8(self.output.stderr.clone()).expect("stderr is UTF-8")
    }
}

/// Renders a profile environment into `dir/out` and returns that path.
pub fn render_to(dir: &Path, profile: &str, env: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join("out");
    meshctl()
        .args(["render", "--profile", profile, "--env", env, "--out"])
        .arg(out.to_str().unwrap())
        .args(extra)
        .success();
    out
}

/// Every file under `dir`, relative path -> bytes, sorted.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// Parses every manifest of a rendered directory.
pub fn manifests(out: &Path) -> Vec<(String, serde_json::Value)> {
    read_tree(&out.join("manifests"))
        .into_iter()
        .map(|(name, bytes)| {
            let v: serde_json::Value = serde_yaml::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, v)
        })
        .collect()
}

/// Copies the project's assets (templates/, profiles/, offline-values/) to
/// `dst`, for tests that break one file and render with `--root`.
pub fn copy_project(dst: &Path) {
    fn copy_dir(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for entry in std::fs::read_dir(src).unwrap() {
            let path = entry.unwrap().path();
            let target = dst.join(path.file_name().unwrap());
            if path.is_dir() {
                copy_dir(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    for dir in ["templates", "profiles", "offline-values"] {
        copy_dir(&root().join(dir), &dst.join(dir));
    }
}

/// A kube-rs client of `sandbox`, with `default` as its namespace.
pub async fn connect_sandbox(sandbox: &sandbox::Sandbox) -> meshctl::cluster::Cluster {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let kubeconfig = Kubeconfig::from_yaml(sandbox.kubeconfig()).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs accepts the kubeconfig");
    meshctl::cluster::Cluster::from_client(kube::Client::try_from(config).expect("a client"), "default".into())
}
