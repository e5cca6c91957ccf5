//! `server`: a [`pushwire::Server`] whose `/events` answers with an idle
//! event stream that sends heartbeats.

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::service::service_fn;
use pushwire::proto::sse::Event;
use pushwire::sse::{Sse, SseSender};
use pushwire::{Body, ConnectionInfo, RequestBody, Server};

use crate::options::{Options, Source};

// ---------------------------------------------------------------- server

/// The senders of every open channel-fed stream, as a hub would keep its
/// subscribers.
type Registry = Arc<Mutex<Vec<SseSender>>>;

/// Serves on `--listen` until a shutdown signal, after printing
/// `listening ADDR`.
pub async fn serve(options: Options) -> io::Result<()> {
    let server = Server::bind(options.listen.as_str()).await?;
    println!("listening {}", server.local_addr()?);
    io::stdout().flush()?;
    let registry = Registry::default();
    let (heartbeat, source) = (options.heartbeat, options.source);
    let service = service_fn(move |req| route(req, heartbeat, source, registry.clone()));
    server
        .serve_with_shutdown(service, pushwire::server::shutdown_signal())
        .await
}

/// `/events`: an idle event stream with heartbeats; anything else 404.
async fn route(
    req: Request<RequestBody>,
    heartbeat: Duration,
    source: Source,
    registry: Registry,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/events" {
        let mut response = Response::new(Body::from("not found"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return Ok(response);
    }
    let sse = match source {
        Source::Channel => {
            let (tx, sse) = Sse::channel(8);
            let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
            registry.retain(|tx| !tx.is_closed());
            registry.push(tx);
            sse
        }
        Source::Pending => Sse::new(NeverYields),
    };
    let mut sse = sse.heartbeat(heartbeat);
    if let Some(info) = req.extensions().get::<ConnectionInfo>() {
        sse = sse.until(info.shutting_down());
    }
    Ok(sse.into_response())
}

/// An event source that never yields.
struct NeverYields;

impl futures_core::Stream for NeverYields {
    type Item = Event;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Event>> {
        std::task::Poll::Pending
    }
}
