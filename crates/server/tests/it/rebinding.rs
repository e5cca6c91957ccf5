//! DNS rebinding: a page of `http://evil.example`, its name rebound to
//! 127.0.0.1, sends `Host: evil.example` with `Origin:
//! http://evil.example`. On a loopback listener the same-origin rule must
//! not take that `Host` for the server's own name: 403, for WebSockets
//! and for [`OriginPolicy::permits_request`] alike; IP literals,
//! `localhost` and the configured server names still are.

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Request, Response, StatusCode};
use hyper::service::service_fn;
use pushwire::{Body, OriginPolicy, RequestBody, Server, Upgrade};

use crate::common::http1::raw_request;
use crate::common::TestServer;

/// `/ws`: a WebSocket under the default (same-origin) policy; anything
/// else answers 200, or 403 when the policy refuses the request's
/// `Origin`.
async fn route(mut req: Request<RequestBody>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/ws" {
        return Ok(match Upgrade::require(&mut req) {
            Ok(upgrade) => upgrade.on_upgrade(|_ws| async {}),
            Err(rejection) => rejection.into_response(),
        });
    }
    let mut response = Response::new(Body::from("page"));
    if !OriginPolicy::SameOrigin.permits_request(&req) {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    Ok(response)
}

async fn start(configure: impl FnOnce(Server) -> Server) -> TestServer {
    TestServer::serve(configure, (), service_fn(route)).await
}

/// The status of an upgrade to `/ws` and of a GET of `/`, with this
/// `Host` and `Origin`.
async fn statuses(addr: SocketAddr, host: &str, origin: &str) -> (String, String) {
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    let plain = format!("GET / HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\r\n");
    let status = |head: String| head.split(' ').nth(1).unwrap_or_default().to_owned();
    (
        status(raw_request(addr, &upgrade).await),
        status(raw_request(addr, &plain).await),
    )
}

#[tokio::test]
async fn a_rebound_name_is_not_same_origin_on_a_loopback_listener() {
    let server = start(|s| s).await;
    let port = server.addr.port();
    let refused = ("403".to_string(), "403".to_string());
    let allowed = ("101".to_string(), "200".to_string());
    for (host, origin, expected) in [
        (
            "evil.example".to_string(),
            "http://evil.example".to_string(),
            &refused,
        ),
        (
            format!("evil.example:{port}"),
            format!("http://evil.example:{port}"),
            &refused,
        ),
        (
            format!("127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}"),
            &allowed,
        ),
        (
            format!("localhost:{port}"),
            format!("http://localhost:{port}"),
            &allowed,
        ),
        (
            format!("app.localhost:{port}"),
            format!("http://app.localhost:{port}"),
            &allowed,
        ),
        (
            format!("[::1]:{port}"),
            format!("http://[::1]:{port}"),
            &allowed,
        ),
    ] {
        assert_eq!(
            &statuses(server.addr, &host, &origin).await,
            expected,
            "{host} {origin}"
        );
    }
}

#[tokio::test]
async fn configured_server_names_are_the_servers_own() {
    let server = start(|s| s.server_names(["app.test", "*.example.org"])).await;
    let port = server.addr.port();
    let refused = ("403".to_string(), "403".to_string());
    let allowed = ("101".to_string(), "200".to_string());
    for (name, expected) in [
        ("app.test", &allowed),
        ("APP.test", &allowed),
        ("chat.example.org", &allowed),
        ("example.org", &refused),
        ("evilexample.org", &refused),
        ("evil.example", &refused),
        ("127.0.0.1", &allowed),
    ] {
        let host = format!("{name}:{port}");
        let origin = format!("http://{name}:{port}");
        assert_eq!(
            &statuses(server.addr, &host, &origin).await,
            expected,
            "{host}"
        );
    }
}

#[tokio::test]
async fn a_loopback_client_of_a_server_on_every_address_is_protected_too() {
    // Listening on 0.0.0.0, reached through 127.0.0.1: the browser of the
    // server's own machine, which a rebinding page drives.
    let server = Server::bind("0.0.0.0:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    let task = tokio::spawn(server.serve(service_fn(route)));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let refused = ("403".to_string(), "403".to_string());
    let allowed = ("101".to_string(), "200".to_string());
    let evil = statuses(addr, "evil.example", "http://evil.example").await;
    assert_eq!(evil, refused);
    let own = statuses(
        addr,
        &format!("127.0.0.1:{port}"),
        &format!("http://127.0.0.1:{port}"),
    )
    .await;
    assert_eq!(own, allowed);
    task.abort();
}
