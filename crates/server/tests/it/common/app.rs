//! The test application most tests serve: WebSocket echo routes with
//! *require* and *accept* semantics, one that ignores shutdown, and a few
//! plain routes.

use std::convert::Infallible;

use http::{Request, Response};
use http_body_util::BodyExt;
use pushwire::upgrade::UpgradedStream;
use pushwire::RequestBody;
use pushwire::{Body, ConnectionInfo, Upgrade, WebSocket};

/// The test application:
/// - `/echo`: WebSocket echo, *require* semantics, subprotocol `chat`;
///   closes with 1001 when the server shuts down (1012 for a restart);
/// - `/accept`: a page for plain requests, WebSocket echo otherwise;
/// - `/stubborn`: a WebSocket that ignores shutdown;
/// - `/info`: the request's HTTP version and the connection's ALPN;
/// - `/healthz`: `ok`;
/// - `/mirror`: the request's body, read whole, as the response's;
///   anything else 404.
pub async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    let info = req.extensions().get::<ConnectionInfo>().cloned();
    let response = match req.uri().path() {
        "/echo" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade
                .protocols(["chat"])
                .on_upgrade(move |ws| echo(ws, info)),
            Err(rejection) => rejection.into_response(),
        },
        "/accept" => match Upgrade::from_request(&mut req) {
            Ok(Some(upgrade)) => upgrade.on_upgrade(move |ws| echo(ws, info)),
            Ok(None) => Response::new(Body::from("a plain page")),
            Err(rejection) => rejection.into_response(),
        },
        "/stubborn" => match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade.on_upgrade(|ws| echo(ws, None)),
            Err(rejection) => rejection.into_response(),
        },
        "/info" => {
            let alpn = info
                .as_ref()
                .and_then(|i| i.alpn())
                .map(|a| String::from_utf8_lossy(a).into_owned());
            Response::new(Body::from(format!("{:?} {:?}", req.version(), alpn)))
        }
        "/healthz" => Response::new(Body::from("ok")),
        "/mirror" => match req.into_body().collect().await {
            Ok(body) => Response::new(Body::from(body.to_bytes())),
            Err(e) => {
                let mut response = Response::new(Body::from(e.to_string()));
                *response.status_mut() = http::StatusCode::BAD_REQUEST;
                response
            }
        },
        _ => {
            let mut response = Response::new(Body::from("not found"));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

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
    let _ = ws.echo_until(shutdown).await;
}
