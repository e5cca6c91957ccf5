//! The backend proxy's IO: the hub core decides which commands need the
//! backend and hands out [`ProxyCall`]s; this module posts them over
//! HTTP/1.1 (hyper's pooled keep-alive client; TLS by rustls for
//! `https://`, trusting the public roots and every endpoint's
//! `http.tls` CA) with the endpoint's timeout, and gives the outcome
//! back to the driver.
//!
//! The client headers an endpoint forwards (`http_headers`, e.g. `Cookie`,
//! `Authorization`) are captured from the HTTP request that opened the
//! connection — the WebSocket upgrade, the streaming request, the long
//! poll's first POST — and sent with each of its calls, with the
//! endpoint's `static_headers`. The headers a client sets in its connect
//! command (`emulated_headers`) fill only names neither of those set.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
mod connector;

use connector::Connector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pushwire_hub::config::ConfigError;
use pushwire_hub::proxy::{ProxyCall, ProxyFailure, ProxyKind, ProxyOutcome};
use pushwire_hub::HubConfig;

/// The largest answer read from a backend; a longer one is a failure
/// (error 100), so a backend cannot make the hub buffer without bound.
const MAX_ANSWER: usize = 4 << 20;

/// Idle keep-alive connections kept per backend host (Centrifugo keeps 255).
const MAX_IDLE_PER_HOST: usize = 255;

/// How the HTTP request that opened a connection matters to the proxy:
/// the transport's name (the `transport` field of the calls) and the
/// headers the endpoints forward.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnMeta {
    pub name: &'static str,
    pub headers: Option<Arc<HeaderMap>>,
}

/// Which client headers to keep when a connection opens: those any
/// endpoint forwards. Empty when no proxy is on.
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderCapture {
    names: Vec<HeaderName>,
}

impl HeaderCapture {
    pub(crate) fn new(config: &HubConfig) -> Self {
        let mut names: Vec<HeaderName> = Vec::new();
        if config.proxy_enabled() {
            for kind in ProxyKind::ALL {
                for name in &config.proxy_endpoint(kind).http_headers {
                    if let Ok(name) = HeaderName::try_from(name.as_str()) {
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    }
                }
            }
        }
        HeaderCapture { names }
    }

    /// The metadata of a connection opened by a request with `headers`.
    pub(crate) fn capture(&self, name: &'static str, headers: &HeaderMap) -> ConnMeta {
        if self.names.is_empty() {
            return ConnMeta {
                name,
                headers: None,
            };
        }
        let mut kept = HeaderMap::new();
        for n in &self.names {
            for v in headers.get_all(n) {
                kept.append(n.clone(), v.clone());
            }
        }
        ConnMeta {
            name,
            headers: (!kept.is_empty()).then(|| Arc::new(kept)),
        }
    }
}

/// One endpoint, ready to post to.
#[derive(Debug)]
struct Endpoint {
    uri: Uri,
    timeout: Duration,
    forward: Vec<HeaderName>,
    fixed: HeaderMap,
}

impl Endpoint {
    fn new(config: &HubConfig, kind: ProxyKind) -> Result<Option<Endpoint>, ConfigError> {
        let e = config.proxy_endpoint(kind);
        if e.endpoint.trim().is_empty() {
            return Ok(None);
        }
        let at = key_of(kind);
        let uri: Uri = e
            .endpoint
            .trim()
            .parse()
            .map_err(|err| config_error(format!("{at}.endpoint"), format!("{err}")))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => {
                return Err(config_error(
                    format!("{at}.endpoint"),
                    format!("{:?} is not an http:// or https:// URL", e.endpoint),
                ))
            }
        }
        let mut forward = Vec::new();
        for name in &e.http_headers {
            let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                config_error(
                    format!("{at}.http_headers"),
                    format!("{name:?} is not a header name"),
                )
            })?;
            forward.push(name);
        }
        let mut fixed = HeaderMap::new();
        for (name, value) in e.all_static_headers() {
            let n = HeaderName::try_from(name.as_str()).map_err(|_| {
                config_error(
                    format!("{at}.static_headers"),
                    format!("{name:?} is not a header name"),
                )
            })?;
            let v = HeaderValue::try_from(value.as_str()).map_err(|_| {
                config_error(
                    format!("{at}.static_headers"),
                    format!("bad value for {name:?}"),
                )
            })?;
            fixed.append(n, v);
        }
        Ok(Some(Endpoint {
            uri,
            timeout: e.timeout,
            forward,
            fixed,
        }))
    }
}

fn key_of(kind: ProxyKind) -> &'static str {
    match kind {
        ProxyKind::Connect => "client.proxy.connect",
        ProxyKind::Refresh => "client.proxy.refresh",
        ProxyKind::Subscribe => "channel.proxy.subscribe",
        ProxyKind::Publish => "channel.proxy.publish",
        ProxyKind::SubRefresh => "channel.proxy.sub_refresh",
        ProxyKind::Rpc => "rpc.proxy",
    }
}

fn config_error(key: String, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

/// The TLS client configuration: the public roots and the CA
/// certificates of every endpoint's `http.tls`.
fn tls_config(config: &HubConfig) -> Result<rustls::ClientConfig, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for kind in ProxyKind::ALL {
        let tls = &config.proxy_endpoint(kind).http.tls;
        let at = format!("{}.http.tls", key_of(kind));
        let mut pems: Vec<(String, Vec<u8>)> = Vec::new();
        if !tls.server_ca_pem.is_empty() {
            pems.push((
                format!("{at}.server_ca_pem"),
                tls.server_ca_pem.as_bytes().to_vec(),
            ));
        }
        if !tls.server_ca_pem_file.is_empty() {
            let key = format!("{at}.server_ca_pem_file");
            let pem = std::fs::read(&tls.server_ca_pem_file)
                .map_err(|e| config_error(key.clone(), e.to_string()))?;
            pems.push((key, pem));
        }
        for (key, pem) in pems {
            let mut found = false;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| config_error(key.clone(), e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| config_error(key.clone(), e.to_string()))?;
                found = true;
            }
            if !found {
                return Err(config_error(key, "no PEM certificate in it"));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("client.proxy".into(), e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// Posts the hub's proxy calls.
pub(crate) struct ProxyClient {
    client: Client<Connector, Full<Bytes>>,
    endpoints: [Option<Endpoint>; 6],
}

impl std::fmt::Debug for ProxyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyClient").finish_non_exhaustive()
    }
}

impl ProxyClient {
    /// The client for `config`'s endpoints; `None` when no proxy is on.
    pub(crate) fn new(config: &HubConfig) -> Result<Option<Arc<ProxyClient>>, ConfigError> {
        if !config.proxy_enabled() {
            return Ok(None);
        }
        let mut endpoints: [Option<Endpoint>; 6] = Default::default();
        for (slot, kind) in endpoints.iter_mut().zip(ProxyKind::ALL) {
            *slot = Endpoint::new(config, kind)?;
        }
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.enforce_http(false);
        let connector = Connector::new(http, tls_config(config)?);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Some(Arc::new(ProxyClient { client, endpoints })))
    }

    fn endpoint(&self, kind: ProxyKind) -> Option<&Endpoint> {
        let i = ProxyKind::ALL.iter().position(|k| *k == kind)?;
        self.endpoints[i].as_ref()
    }

    /// Makes one call: the backend's body on HTTP 200, else why not.
    /// Bounded by the endpoint's timeout (connecting included).
    pub(crate) async fn call(
        &self,
        call: ProxyCall,
        headers: Option<Arc<HeaderMap>>,
    ) -> ProxyOutcome {
        let Some(endpoint) = self.endpoint(call.kind) else {
            return ProxyOutcome::Failed(ProxyFailure::Unreachable);
        };
        let mut req = Request::new(Full::new(call.body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = endpoint.uri.clone();
        let h = req.headers_mut();
        if let Some(client) = &headers {
            for name in &endpoint.forward {
                for value in client.get_all(name) {
                    h.append(name.clone(), value.clone());
                }
            }
        }
        for (name, value) in &endpoint.fixed {
            h.append(name.clone(), value.clone());
        }
        for (name, value) in &call.emulated_headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) else {
                continue;
            };
            if !h.contains_key(&name) {
                h.insert(name, value);
            }
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let exchange = async {
            let response = self.client.request(req).await.map_err(|e| {
                tracing::debug!("{} proxy unreachable: {e}", call.kind.name());
                ProxyFailure::Unreachable
            })?;
            if response.status() != StatusCode::OK {
                return Err(ProxyFailure::Status(response.status().as_u16()));
            }
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| {
                    tracing::debug!("{} proxy answer broke off: {e}", call.kind.name());
                    ProxyFailure::Unreachable
                })?;
            Ok(body.to_bytes())
        };
        match tokio::time::timeout(endpoint.timeout, exchange).await {
            Ok(Ok(body)) => ProxyOutcome::Body(body),
            Ok(Err(failure)) => ProxyOutcome::Failed(failure),
            Err(_) => ProxyOutcome::Failed(ProxyFailure::Timeout),
        }
    }
}
