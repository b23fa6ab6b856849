//! Which values look secret, so that diffs, errors and logs can mask them:
//! a key whose name holds one of [`SENSITIVE_WORDS`] (lowercased, without
//! `-`, `_` and `.`) and does not end in one of [`REFERENCE_SUFFIXES`]
//! (`secretName`, `tokenPath` say where a secret is, not what it is), and
//! URLs with a password in them.

/// Words that make a key's value sensitive (matched as substrings of the
/// key lowercased without `-`, `_` and `.`).
pub const SENSITIVE_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "accesskey",
    "dsn",
    "connectionstring",
    "connstr",
];

/// Endings of key names that refer to a secret rather than hold one.
pub const REFERENCE_SUFFIXES: &[&str] = &["ref", "name", "names", "path", "file", "namespace"];

/// Whether a key's value looks secret (see the module docs of [`crate::cluster::diff`]).
pub fn is_sensitive_key(key: &str) -> bool {
    let normalized: String =
        key.chars().filter(|c| !matches!(c, '-' | '_' | '.')).flat_map(char::to_lowercase).collect();
    // An annotation key's prefix (`meshctl.dev/`) says nothing; its name does.
    let normalized = normalized.rsplit('/').next().unwrap_or_default();
    SENSITIVE_WORDS.iter().any(|w| normalized.contains(w))
        && !REFERENCE_SUFFIXES.iter().any(|s| normalized.ends_with(s))
}

/// Whether a string is a URL carrying a password (`scheme://user:pass@host`).
pub fn is_url_with_password(text: &str) -> bool {
    let Some((_, rest)) = text.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':'))
}
