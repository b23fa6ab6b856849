//! SHA-256 digests as lowercase hex: of bytes (render records, values
//! layers) and of JSON values in their serialized form (a prepared
//! manifest set, so the set validated can be compared with the set
//! applied and recorded).

use sha2::{Digest as _, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of a list of JSON values, each serialized
/// compactly (keys in their order) and followed by a newline.
pub fn sha256_of_values(values: &[serde_json::Value]) -> String {
    let mut hasher = Sha256::new();
    for v in values {
        hasher.update(serde_json::to_vec(v).expect("JSON values serialize"));
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let a = sha256_of_values(&[serde_json::json!({"a": 1})]);
        let b = sha256_of_values(&[serde_json::json!({"a": 2})]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
