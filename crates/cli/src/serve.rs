//! `pushwire serve`: the hub, over HTTP/1.1 and HTTP/2, cleartext or TLS,
//! on one port.
//!
//! Routes: the hub's (`/connection/*`, `/api/<method>`; see
//! [`pushwire::hub`]), `/` the demo page, `/echo` a WebSocket echo that
//! only takes WebSockets (a plain request gets 426), `/healthz`, `/stats`
//! (the server's counters as JSON), `/metrics` (the hub's and the
//! server's, in the Prometheus text format). Publishing goes through the
//! hub's server API (`POST /api/publish` with the API key); pages
//! subscribe over the hub's transports (WebSocket, `uni_sse`, …).

mod assets;
#[cfg(unix)]
mod handover;

#[cfg(unix)]
pub use handover::Inherited;

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use pushwire::RequestBody;
use pushwire::{
    server::ServerStats, upgrade::UpgradedStream, Body, ConnectionInfo, OriginPolicy, Server, Tls,
    Upgrade, WebSocket, WebSocketConfig,
};

use crate::deflate_args::DeflateArgs;
use crate::hub_config;

/// Arguments of `pushwire serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a freshly generated self-signed certificate for
    /// localhost, 127.0.0.1 and ::1 (development only).
    #[arg(long)]
    tls_self_signed: bool,
    /// With --tls-self-signed: write the certificate (PEM) here, for
    /// clients and browsers to trust.
    #[arg(long, requires = "tls_self_signed")]
    write_cert: Option<PathBuf>,
    #[command(flatten)]
    deflate: DeflateArgs,
    /// Let pages from this origin (`scheme://host[:port]`) connect to the
    /// hub and open WebSockets to /echo, besides the server's own origin:
    /// added to the configuration's `client.allowed_origins`. Repeat for
    /// more; `*` allows any origin.
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    allow_origins: Vec<String>,
    /// A host name pages reach this server by (repeat for more;
    /// `*.example.com` for its subdomains). A page is of the server's own
    /// origin only when the request's Host names the server: an IP
    /// address, `localhost`, or one of these. Without any, a loopback
    /// connection (to a loopback address, or from one) takes no other name
    /// (against DNS rebinding).
    #[arg(long = "server-name", value_name = "NAME")]
    server_names: Vec<String>,
    /// The most connections served at once (0: no limit); beyond it a
    /// client gets 503.
    #[arg(long, default_value_t = 16_384)]
    max_connections: usize,
    /// The most connections one client IP address (IPv6: one /64) may
    /// hold (0: no limit); beyond it the client gets 429. Set 0 behind a
    /// proxy.
    #[arg(long, default_value_t = 1_024)]
    max_connections_per_ip: usize,
    /// The hub's configuration: a JSON, TOML or YAML file with Centrifugo v6's
    /// key names (`client.token.hmac_secret_key`, `http_api.key`,
    /// `channel.namespaces`, …). Every key can be overridden by an
    /// environment variable: `PUSHWIRE_` and the key path in upper case
    /// joined by `_` (`PUSHWIRE_HTTP_API_KEY`). Without it: development
    /// defaults, with anonymous demo namespaces and generated secrets.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective configuration (file, environment, defaults) as
    /// JSON and exit.
    #[arg(long)]
    print_config: bool,
    /// On SIGHUP, start a new `pushwire serve` with the same arguments on
    /// this one's listening socket, then end this one's connections over
    /// the restart spread: a restart that refuses no connection and
    /// spreads the reconnects (Unix). Without it, SIGHUP ends the process
    /// (WebSockets closed with 1012) for a process manager to start again.
    #[arg(long)]
    handover: bool,
    /// Over how many seconds a restart spreads the end of WebSockets,
    /// event streams and held polls [default: 20 with --handover, else 0].
    #[arg(long, value_name = "SECONDS")]
    restart_spread: Option<f64>,
}

/// The restart spread when `--handover` is given: clients reconnect
/// over it, about 1/20 of them in any one second.
const HANDOVER_SPREAD: Duration = Duration::from_secs(20);

struct App {
    hub: pushwire::hub::Hub,
    /// Development defaults: the server API answers loopback clients only.
    api_loopback_only: bool,
    stats: Arc<ServerStats>,
    websocket: WebSocketConfig,
    /// Who may open WebSockets and make cross-origin requests.
    origins: OriginPolicy,
}

/// An `--allow-origin` value: `*`, or an origin without path.
fn parse_origin(value: &str) -> Result<String, String> {
    if value == "*" {
        return Ok(value.to_string());
    }
    let value = value.trim_end_matches('/');
    let host = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or("an origin starts with http:// or https://")?;
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err("an origin is scheme://host[:port], without a path".into());
    }
    Ok(value.to_string())
}

/// The origin rule from the `--allow-origin` values.
fn origin_policy(allowed: &[String]) -> OriginPolicy {
    if allowed.iter().any(|origin| origin == "*") {
        OriginPolicy::Any
    } else if allowed.is_empty() {
        OriginPolicy::SameOrigin
    } else {
        OriginPolicy::allow(allowed)
    }
}

/// A limit from the command line: 0 means none.
fn limit(value: usize) -> Option<usize> {
    (value > 0).then_some(value)
}

/// The sockets a process manager (or a handing-over `pushwire serve`)
/// passed; none where they cannot be passed.
#[cfg(not(unix))]
#[derive(Default)]
pub struct Inherited;

#[cfg(not(unix))]
impl Inherited {
    /// None: sockets are passed on Unix only.
    pub fn from_env() -> std::io::Result<Self> {
        Ok(Inherited)
    }
}

pub async fn run(args: ServeArgs, inherited: Inherited) -> Result<(), pushwire::Error> {
    #[cfg(unix)]
    let mut inherited = inherited;
    #[cfg(not(unix))]
    let _ = inherited;
    let mut loaded =
        hub_config::load(args.config.as_deref(), std::env::vars()).map_err(config_error)?;
    hub_config::allow_origins(&mut loaded.tree, &args.allow_origins).map_err(config_error)?;
    hub_config::default_node_name(&mut loaded.tree, args.listen.port()).map_err(config_error)?;
    if args.print_config {
        let text = serde_json::to_string_pretty(&loaded.tree).unwrap_or_default();
        // A reader that stops early (`| head`) is not an error.
        let _ = writeln!(std::io::stdout(), "{text}");
        return Ok(());
    }
    let origin = args
        .config
        .as_deref()
        .map_or_else(|| "the defaults".to_string(), |p| p.display().to_string());
    let config = hub_config::typed(&loaded.tree, &origin).map_err(config_error)?;
    let api_key = config.http_api.key.clone();
    let websocket = args.deflate.websocket_config();
    let hub = pushwire::hub::Hub::connect(config, websocket.clone())
        .await
        .map_err(|e| config_error(format!("{origin}: {e}")))?;
    let tls = tls(&args)?;
    crate::open_files::raise_for(limit(args.max_connections));
    #[cfg(unix)]
    let server = match inherited.take_listener() {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            Server::from_listener(tokio::net::TcpListener::from_std(listener)?)
        }
        None => Server::bind(args.listen).await?,
    };
    #[cfg(not(unix))]
    let server = Server::bind(args.listen).await?;
    let spread = match args.restart_spread {
        Some(seconds) => Duration::try_from_secs_f64(seconds)
            .map_err(|e| config_error(format!("--restart-spread {seconds}: {e}")))?,
        None if args.handover => HANDOVER_SPREAD,
        None => Duration::ZERO,
    };
    let mut server = server
        .restart_spread(spread)
        .max_connections(limit(args.max_connections))
        .max_connections_per_ip(limit(args.max_connections_per_ip))
        .server_names(args.server_names.iter().cloned());
    let addr = server.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(tls) = tls {
        server = server.tls(tls);
    }
    let app = Arc::new(App {
        hub,
        api_loopback_only: loaded.development,
        stats: server.stats(),
        websocket,
        origins: origin_policy(&args.allow_origins),
    });
    if loaded.development {
        tracing::info!(
            "no --config: development defaults (anonymous demo namespaces; the server API for loopback clients only, with X-API-Key: {api_key})"
        );
    }
    tracing::info!(
        "pushwire serving {scheme}://{addr}/ (HTTP/1.1 and HTTP/2; the hub at /connection/websocket, its API at /api; WebSocket echo at /echo)"
    );
    let stopping = app.clone();
    let service = service_fn(move |req| route(req, app.clone()));
    #[cfg(unix)]
    let signal = {
        let handover = match args.handover {
            true => Some(handover::Handover::new(
                &server.listener_fd(),
                generated_secrets(&loaded),
            )?),
            false => None,
        };
        inherited.tell_ready();
        handover::shutdown_signal(handover)
    };
    #[cfg(not(unix))]
    let signal = {
        if args.handover {
            return Err(config_error("--handover needs Unix".into()));
        }
        pushwire::server::shutdown_signal()
    };
    server.serve_with_shutdown(service, signal).await?;
    // The other nodes of a hub on Redis drop this one at once.
    stopping.hub.leave().await;
    tracing::info!("pushwire stopped");
    Ok(())
}

/// The secrets the development defaults generated, as the environment
/// variables that set them: the next process of a hand-over keeps them.
#[cfg(unix)]
fn generated_secrets(loaded: &hub_config::Loaded) -> Vec<(String, String)> {
    if !loaded.development {
        return Vec::new();
    }
    let tree = &loaded.tree;
    [
        ("PUSHWIRE_HTTP_API_KEY", &tree["http_api"]["key"]),
        (
            "PUSHWIRE_CLIENT_TOKEN_HMAC_SECRET_KEY",
            &tree["client"]["token"]["hmac_secret_key"],
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_string(), value.as_str()?.to_string())))
    .collect()
}

fn config_error(why: String) -> pushwire::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("configuration: {why}"),
    )
    .into()
}

fn tls(args: &ServeArgs) -> Result<Option<Tls>, pushwire::Error> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Tls::from_pem_files(cert, key).map(Some);
    }
    if !args.tls_self_signed {
        return Ok(None);
    }
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = args.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let tls = Tls::self_signed(names)?;
    if let Some(path) = &args.write_cert {
        tls.write_certificate(path)?;
        tracing::info!("self-signed certificate written to {}", path.display());
    }
    Ok(Some(tls))
}

async fn route(req: Request<RequestBody>, app: Arc<App>) -> Result<Response<Body>, Infallible> {
    let info = req.extensions().get::<ConnectionInfo>().cloned();
    if app.api_loopback_only
        && req.uri().path().starts_with("/api/")
        && !info
            .as_ref()
            .is_some_and(|i| i.remote_addr().ip().is_loopback())
    {
        log_rejection(
            &req,
            info.as_ref(),
            "403 the server API is for loopback clients",
        );
        return Ok(text(
            StatusCode::FORBIDDEN,
            "the development server API answers loopback clients only: start with --config\n",
        ));
    }
    let req = match app.hub.route(req).await {
        Ok(response) => return Ok(response),
        Err(req) => req,
    };
    if let Some(response) = assets::route(&req) {
        return Ok(response);
    }
    let path = req.uri().path().to_owned();
    let mut req = req;
    let response = match path.as_str() {
        "/echo" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade
                .config(app.websocket.clone())
                .origins(app.origins.clone())
                .on_upgrade(move |ws| echo(ws, info)),
            Err(rejection) => {
                log_rejection(&req, info.as_ref(), &rejection.to_string());
                rejection.into_response()
            }
        },
        "/" | "/healthz" | "/stats" | "/metrics"
            if !matches!(*req.method(), Method::GET | Method::HEAD) =>
        {
            log_rejection(&req, info.as_ref(), "405 method not allowed");
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, "GET, HEAD".parse().expect("valid header"));
            response
        }
        "/" => with_type(Response::new(Body::from(INDEX)), "text/html; charset=utf-8"),
        "/healthz" => text(StatusCode::OK, "ok"),
        "/metrics" => {
            let metrics = app.hub.metrics_text(Some(&app.stats)).await;
            let mut response = with_type(
                Response::new(Body::from(metrics)),
                pushwire::hub::Hub::METRICS_CONTENT_TYPE,
            );
            response
                .headers_mut()
                .insert(CACHE_CONTROL, "no-store".parse().expect("valid header"));
            response
        }
        "/stats" => {
            let mut response = with_type(
                Response::new(Body::from(app.stats.snapshot().to_json())),
                "application/json",
            );
            response
                .headers_mut()
                .insert(CACHE_CONTROL, "no-store".parse().expect("valid header"));
            response
        }
        _ => {
            log_rejection(&req, info.as_ref(), "404 not found");
            text(StatusCode::NOT_FOUND, "not found\n")
        }
    };
    Ok(response)
}

pub(crate) fn log_rejection<B>(req: &Request<B>, info: Option<&ConnectionInfo>, why: &str) {
    let peer = info.map_or_else(|| "?".to_string(), |i| i.remote_addr().to_string());
    tracing::info!(
        "{peer} {} {} {:?}: rejected: {why}",
        req.method(),
        req.uri().path(),
        req.version()
    );
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = with_type(Response::new(Body::from(body)), "text/plain; charset=utf-8");
    *response.status_mut() = status;
    response
}

pub(crate) fn with_type(
    mut response: Response<Body>,
    content_type: &'static str,
) -> Response<Body> {
    response
        .headers_mut()
        .insert(CONTENT_TYPE, content_type.parse().expect("valid header"));
    response
}

/// Echoes text and binary messages; closes with 1001 when the server
/// shuts down, 1012 when it restarts.
async fn echo(mut ws: WebSocket<UpgradedStream>, info: Option<ConnectionInfo>) {
    let shutdown = async move {
        match &info {
            Some(info) => {
                info.shutting_down().await;
                info.shutdown().unwrap_or_default().close_frame()
            }
            None => std::future::pending().await,
        }
    };
    if let Err(e) = ws.echo_until(shutdown).await {
        tracing::debug!("echo: {e}");
    }
}

/// The demo page at `/`: WebSocket, SSE and long polling in the browser.
const INDEX: &str = include_str!("../../../web/index.html");
