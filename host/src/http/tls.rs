//! TLS for the HTTP front doors: rustls with the *ring* provider (no aws-lc), from a PEM
//! certificate and key file (the REST API's `ssl_cert_file` / `ssl_key_file`, which the API
//! resolves against the configuration folder, as IPFS Cluster does), and the first-bytes
//! sniffing the accept loop (`server.rs`) uses to answer plain HTTP on a TLS port as Go does.
//!
//! # Settings, and how they differ from Go's
//! * TLS 1.2 and 1.3 (Go: minimum 1.2). HTTP/1.1 only (ALPN `http/1.1`); Go's server would also
//!   offer HTTP/2 over TLS, which no IPFS Cluster client needs.
//! * Cipher suites: rustls' ring defaults — TLS 1.3 AES-GCM and ChaCha20, TLS 1.2 ECDHE with
//!   AES-GCM or ChaCha20, for RSA and ECDSA keys. Go's list is `ECDHE_RSA_AES256_GCM_SHA384`,
//!   `ECDHE_RSA_AES256_CBC_SHA`, `RSA_AES256_GCM_SHA384`, `RSA_AES256_CBC_SHA` (RSA keys only on
//!   TLS 1.2; CBC and static-RSA key exchange): rustls implements neither CBC nor static RSA, so
//!   a client limited to those suites cannot connect — no current client is. Curves: X25519,
//!   P-256, P-384 (Go: P-521, P-384, P-256).
//! * Certificate chain: every `CERTIFICATE` block of the certificate file, leaf first. Key:
//!   the first PKCS#8, PKCS#1 (RSA) or SEC1 (EC) block of the key file.
//! * A plain-HTTP request sent to the TLS port is answered as Go answers it — `HTTP/1.0 400 Bad
//!   Request` and `Client sent an HTTP request to an HTTPS server.` — and the connection is
//!   closed; anything else that is not a TLS handshake is just closed ([`looks_like_http`]).
//!
//! Errors name the file and the reason, never the file's content.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate or key cannot be used (the message names the file and the reason).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

/// Go's answer to plain HTTP on a TLS port (`net/http`, `server.go`).
pub(crate) const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The rustls server configuration for a certificate and key file.
pub(crate) fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| tls_err(cert_file, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(cert_file, e))?;
    if certs.is_empty() {
        return Err(TlsError(format!(
            "{}: no certificate found",
            cert_file.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| tls_err(key_file, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            TlsError(format!(
                "{} and {}: {e}",
                cert_file.display(),
                key_file.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn tls_err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError(format!("{}: {e}", path.display()))
}

/// Whether the first bytes of a connection are a TLS handshake record (content type 22).
pub(crate) fn is_tls_handshake(first: &[u8]) -> bool {
    first.first() == Some(&0x16)
}

/// Go's `tlsRecordHeaderLooksLikeHTTP`: the first five bytes start an HTTP request line.
pub(crate) fn looks_like_http(first: &[u8]) -> bool {
    [&b"GET /"[..], b"HEAD ", b"POST ", b"PUT /", b"OPTIO"]
        .iter()
        .any(|m| first.starts_with(m))
}
