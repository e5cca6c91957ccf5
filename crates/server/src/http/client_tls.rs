//! TLS for pushwire's clients (the WebSocket client, the hub client and
//! its server API client): the public web roots, plus the certificates
//! of a CA file when one is given. Always the `ring` crypto provider.

use std::path::Path;
use std::sync::Arc;

use crate::error::Error;

/// A client's TLS settings, offering `alpn` (most preferred first).
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    alpn: Vec<Vec<u8>>,
) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert?).map_err(Error::tls)?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn;
    Ok(config)
}
