//! `server`: a [`pushwire::Server`] with one *require* WebSocket route.

use std::convert::Infallible;
use std::io::{self, Write as _};

use http::{Request, Response, StatusCode};
use hyper::service::service_fn;
use pushwire::upgrade::UpgradedStream;
use pushwire::{Body, RequestBody, Server, Upgrade, WebSocket};

/// Serves on `listen` until a shutdown signal, after printing
/// `listening ADDR`.
pub async fn serve(listen: &str) -> io::Result<()> {
    let server = Server::bind(listen).await?;
    println!("listening {}", server.local_addr()?);
    io::stdout().flush()?;
    server
        .serve_with_shutdown(service_fn(route), pushwire::server::shutdown_signal())
        .await
}

/// `/echo`: WebSocket only, every data message sent back; `/healthz`: `ok`.
async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    Ok(match req.uri().path() {
        "/echo" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade.on_upgrade(echo),
            Err(rejection) => rejection.into_response(),
        },
        "/healthz" => Response::new(Body::from("ok")),
        _ => {
            let mut response = Response::new(Body::from("not found"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

async fn echo(mut ws: WebSocket<UpgradedStream>) {
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}
