//! Where tests find the external tools they drive (kubectl, terraform,
//! node, xmllint): the project-local directory `.ci/deps` fills, named by
//! `MESHCTL_TOOLS_BIN` (set for every test by `.cargo/config.toml`). Never
//! the machine's PATH: a tool the image happens to carry could hide a
//! missing install step.

use std::path::PathBuf;

/// The path of tool `name` in the project's tools directory.
///
/// # Panics
///
/// When `MESHCTL_TOOLS_BIN` is unset or the tool is not there, with the
/// command that installs it: a test that needs a tool must not pass, or
/// silently use another, without it.
pub fn path(name: &str) -> PathBuf {
    let dir = std::env::var_os("MESHCTL_TOOLS_BIN")
        .unwrap_or_else(|| panic!("MESHCTL_TOOLS_BIN is not set (run the tests with cargo, from the repository)"));
    let path = PathBuf::from(dir).join(name);
    assert!(path.exists(), "{} is missing: run `bash .ci/deps` first", path.display());
    path
}
