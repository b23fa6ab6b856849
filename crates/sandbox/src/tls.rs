//! The sandbox's credentials: a certificate authority generated at start (or
//! kept in the state directory), a server certificate for 127.0.0.1 signed by
//! it, a bearer token, and the kubeconfig that carries all three.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::Error;

/// The CA, the token and the TLS configuration of one sandbox.
pub struct Credentials {
    /// PEM of the certificate authority that signed the server certificate.
    pub ca_pem: String,
    /// The bearer token every request must carry.
    pub token: String,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

impl Credentials {
    /// Generates a CA and a token, or reads them from `state_dir` when it
    /// holds them (so a kubeconfig written earlier stays valid), then issues a
    /// fresh server certificate for `127.0.0.1` and `localhost`.
    pub fn load_or_generate(state_dir: Option<&Path>) -> Result<Self, Error> {
        let stored = state_dir.and_then(|dir| {
            let cert = std::fs::read_to_string(dir.join("ca.crt")).ok()?;
            let key = std::fs::read_to_string(dir.join("ca.key")).ok()?;
            let token = std::fs::read_to_string(dir.join("token")).ok()?;
            Some((cert, key, token.trim().to_string()))
        });
        let (ca_pem, ca_key_pem, token) = match stored {
            Some(stored) => stored,
            None => {
                let (cert, key) = generate_ca()?;
                let token = uuid::Uuid::new_v4().simple().to_string();
                if let Some(dir) = state_dir {
                    crate::private_dir(dir)?;
                    for (name, text) in [("ca.crt", &cert), ("ca.key", &key), ("token", &token)] {
                        let path = dir.join(name);
                        std::io::Write::write_all(
                            &mut crate::create_private(&path).map_err(|e| Error::io(&path, e))?,
                            text.as_bytes(),
                        )
                        .map_err(|e| Error::io(&path, e))?;
                    }
                }
                (cert, key, token)
            }
        };
        let server_config = server_config(&ca_key_pem)?;
        Ok(Credentials { ca_pem, token, server_config: Arc::new(server_config) })
    }

    /// A kubeconfig with one cluster, user and context, all named `sandbox`.
    pub fn kubeconfig(&self, server: &str) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sandbox\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: sandbox\n  user:\n    token: {token}\ncontexts:\n- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: default\ncurrent-context: sandbox\n",
            token = self.token
        )
    }
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{what}: {e}"))
}

/// The CA's parameters. A stored CA is used again by rebuilding its issuer
/// from these and its key (same subject, same key identifier).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "meshctl-sandbox-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

fn generate_ca() -> Result<(String, String), Error> {
    let key = KeyPair::generate().map_err(|e| tls_error("failed to generate the CA key", e))?;
    let cert = ca_params().self_signed(&key).map_err(|e| tls_error("failed to sign the CA certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn server_config(ca_key_pem: &str) -> Result<rustls::ServerConfig, Error> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| tls_error("bad CA key", e))?;
    let issuer = Issuer::new(ca_params(), ca_key);
    let key = KeyPair::generate().map_err(|e| tls_error("failed to generate the server key", e))?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(|e| tls_error("bad server certificate names", e))?;
    params.distinguished_name.push(DnType::CommonName, "meshctl-sandbox");
    let cert = params.signed_by(&key, &issuer).map_err(|e| tls_error("failed to sign the server certificate", e))?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| tls_error("server certificate", e))?;
    // HTTP/1.1 only: watches are chunked responses, and every client we serve
    // (kube-rs, kubectl) falls back to it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
