//! TLS for the server: certificate files, or a self-signed certificate
//! for development. Always the `ring` crypto provider.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::Error;

/// The ALPN protocols the server offers, most preferred first.
pub const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A TLS setup for [`Server::tls`](crate::Server::tls): TLS 1.2 and 1.3,
/// ALPN `h2` then `http/1.1`.
///
/// ```
/// let tls = pushwire::Tls::self_signed(["localhost", "127.0.0.1"]).unwrap();
/// assert!(tls.certificate_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
/// ```
#[derive(Debug, Clone)]
pub struct Tls {
    config: Arc<rustls::ServerConfig>,
    cert_pem: Option<String>,
}

impl Tls {
    /// Loads a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Tls, Error> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| Error::tls(format!("{}: {e}", path.display())))
        };
        Tls::from_pem(&read(cert.as_ref())?, &read(key.as_ref())?)
    }

    /// Builds from a PEM certificate chain (leaf first) and a PEM private key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Tls, Error> {
        let certs = rustls_pemfile::certs(&mut BufReader::new(cert_pem))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::tls(format!("certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::tls("no certificate in the certificate PEM"));
        }
        let key = rustls_pemfile::private_key(&mut BufReader::new(key_pem))
            .map_err(|e| Error::tls(format!("key PEM: {e}")))?
            .ok_or_else(|| Error::tls("no private key in the key PEM"))?;
        let mut tls = Tls::from_der(certs, key)?;
        tls.cert_pem = Some(String::from_utf8_lossy(cert_pem).into_owned());
        Ok(tls)
    }

    /// Generates a self-signed certificate for `names` (DNS names or IP
    /// addresses), for development: clients must be told to trust
    /// [`Tls::certificate_pem`].
    pub fn self_signed<I, S>(names: I) -> Result<Tls, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let generated = rcgen::generate_simple_self_signed(names).map_err(Error::tls)?;
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
        let mut tls = Tls::from_der(vec![generated.cert.der().clone()], key)?;
        tls.cert_pem = Some(generated.cert.pem());
        Ok(tls)
    }

    /// Uses a rustls configuration as it is. Set its `alpn_protocols` to
    /// [`ALPN_PROTOCOLS`] for browsers to use HTTP/2.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Tls {
        Tls {
            config,
            cert_pem: None,
        }
    }

    fn from_der(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Tls, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::tls)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(Error::tls)?;
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(Tls {
            config: Arc::new(config),
            cert_pem: None,
        })
    }

    /// The certificate chain in PEM, unless built with [`Tls::from_rustls`].
    pub fn certificate_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Writes [`Tls::certificate_pem`] to `path`, for clients and
    /// browsers to trust.
    pub fn write_certificate(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let pem = self
            .certificate_pem()
            .ok_or_else(|| Error::tls("no certificate PEM to write"))?;
        std::fs::write(path.as_ref(), pem)
            .map_err(|e| Error::tls(format!("{}: {e}", path.as_ref().display())))
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }
}
