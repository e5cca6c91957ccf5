//! The hub's endpoints over HTTP: WebSocket upgrades, and the streaming
//! responses of the unidirectional transports.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use pushwire_hub::Transport;

use super::stream::{Framing, StreamBody};
use super::websocket;
use super::HubHandle;
use crate::http::body::Body;
use crate::http::request_body::RequestBody;
use crate::upgrade::Upgrade;

/// The largest connect request a unidirectional transport reads.
const MAX_CONNECT_BODY: usize = 64 << 10;

/// `/connection/websocket` and `/connection/uni_websocket`: WebSocket
/// only (a plain request gets 426).
pub(super) fn websocket_route(
    req: &mut Request<RequestBody>,
    hub: HubHandle,
    transport: Transport,
) -> Response<Body> {
    match Upgrade::require(req) {
        Ok(upgrade) => {
            let settings = hub.settings();
            let info = upgrade.connection_info().cloned();
            upgrade
                .config(settings.websocket.clone())
                .origins(settings.origins.clone())
                .on_upgrade(move |ws| websocket::serve(ws, hub, transport, info))
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// `/connection/uni_sse` (GET with `cf_connect`, or POST) and
/// `/connection/uni_http_stream` (POST): the connect request, then a
/// response that streams the pushes.
pub(super) async fn stream_route(
    req: Request<RequestBody>,
    hub: HubHandle,
    framing: Framing,
) -> Response<Body> {
    let request = match (req.method(), framing) {
        (&Method::GET, Framing::Sse) => match query_param(req.uri().query(), "cf_connect") {
            Some(request) => Bytes::from(request),
            None => Bytes::new(),
        },
        (&Method::POST, _) => match Limited::new(req.into_body(), MAX_CONNECT_BODY)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "connect request over 64 KiB\n",
                )
            }
        },
        (&Method::OPTIONS, _) => return plain(StatusCode::NO_CONTENT, ""),
        _ => return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    };
    let transport = match framing {
        Framing::Sse => Transport::uni_sse(),
        Framing::Lines => Transport::uni_http_stream(),
    };
    let Some((conn, outlet)) = hub.open(transport).await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "the hub is stopping\n");
    };
    hub.uni_connect(conn, request).await;
    let body = StreamBody::new(hub, conn, outlet, framing);
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    let kind = match framing {
        Framing::Sse => "text/event-stream; charset=utf-8",
        Framing::Lines => "application/json",
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A query parameter, percent-decoded (`+` as space).
fn query_param(query: Option<&str>, name: &str) -> Option<Vec<u8>> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

fn plain(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_percent_decoded() {
        let query = Some("a=1&cf_connect=%7B%22token%22%3A%22x+y%22%7D&b");
        assert_eq!(
            query_param(query, "cf_connect").as_deref(),
            Some(&br#"{"token":"x y"}"#[..])
        );
        assert_eq!(query_param(query, "b").as_deref(), Some(&b""[..]));
        assert_eq!(query_param(query, "c"), None);
        // A stray or short escape stays as it is.
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
    }
}
