//! The hub's endpoints over HTTP: WebSocket upgrades, and the streaming
//! responses of the emulation and unidirectional transports.

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, EXPIRES, PRAGMA};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pushwire_hub::Transport;

use super::cors::Cors;
use super::stream::{Framing, StreamBody};
use super::websocket;
use super::HubHandle;
use crate::http::body::Body;
use crate::http::connection::ConnectionInfo;
use crate::http::request_body::RequestBody;
use crate::upgrade::Upgrade;

/// The largest first request a streaming transport reads (Centrifugo's
/// `http_stream.max_request_body_size`).
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
            let name = if transport.is_unidirectional() {
                "uni_websocket"
            } else {
                "websocket"
            };
            let meta = settings.proxy_headers.capture(name, req.headers());
            upgrade
                .config(settings.websocket.clone())
                .origins(settings.origins.clone())
                .on_upgrade(move |ws| websocket::serve(ws, hub, transport, meta, info))
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// The streaming transports: `/connection/http_stream` (POST) and
/// `/connection/sse` (GET with `cf_connect`, or POST), whose connection
/// takes later commands from `/emulation`, and their unidirectional
/// kin `/connection/uni_http_stream` and `/connection/uni_sse`. The
/// request carries the first commands (the connect request for a
/// unidirectional transport); the response streams replies and pushes.
///
/// A page on an origin the hub does not allow gets `403` (see [`Cors`]).
pub(super) async fn stream_route(
    req: Request<RequestBody>,
    hub: HubHandle,
    framing: Framing,
    transport: Transport,
) -> Response<Body> {
    let cors = match Cors::admit(&req, &hub.settings().origins) {
        Ok(cors) => cors,
        Err(refused) => return *refused,
    };
    let methods = match framing {
        Framing::Sse => "GET, POST, OPTIONS",
        Framing::Lines => "POST, OPTIONS",
    };
    if req.method() == Method::OPTIONS {
        return cors.apply(cors.preflight(methods));
    }
    cors.apply(open_stream(req, hub, framing, transport, methods).await)
}

/// Opens the stream of [`stream_route`]; `methods` are those allowed.
async fn open_stream(
    req: Request<RequestBody>,
    hub: HubHandle,
    framing: Framing,
    transport: Transport,
    methods: &'static str,
) -> Response<Body> {
    let info = req.extensions().get::<ConnectionInfo>().cloned();
    let name = match (framing, transport.is_unidirectional()) {
        (Framing::Sse, false) => "sse",
        (Framing::Lines, false) => "http_stream",
        (Framing::Sse, true) => "uni_sse",
        (Framing::Lines, true) => "uni_http_stream",
    };
    let meta = hub.settings().proxy_headers.capture(name, req.headers());
    let request = match (req.method(), framing) {
        (&Method::GET, Framing::Sse) => match query_param(req.uri().query(), "cf_connect") {
            Some(request) => Bytes::from(request),
            // The bidirectional client always sends its connect command.
            None if !transport.is_unidirectional() => {
                return plain(StatusCode::BAD_REQUEST, "cf_connect is missing\n")
            }
            None => Bytes::new(),
        },
        (&Method::POST, _) => match read_body(req.into_body(), MAX_CONNECT_BODY).await {
            Ok(body) => body,
            Err(response) => return *response,
        },
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(methods));
            return response;
        }
    };
    let Some((conn, outlet)) = hub.open(transport, meta).await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "the hub is stopping\n");
    };
    if transport.is_unidirectional() {
        hub.uni_connect(conn, request).await;
    } else {
        hub.frame(conn, request).await;
    }
    let body = StreamBody::new(hub, conn, outlet, framing, &transport, info.as_ref());
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
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(EXPIRES, HeaderValue::from_static("0"));
    // Tells nginx not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Reads a request body of at most `limit` bytes: `413` above, `400` if
/// it breaks off.
pub(super) async fn read_body(
    body: RequestBody,
    limit: usize,
) -> Result<Bytes, Box<Response<Body>>> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => {
            let mut response =
                Response::new(Body::from(format!("request body over {limit} bytes\n")));
            *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            Err(Box::new(response))
        }
        Err(e) => {
            tracing::debug!("hub request body broke off: {e}");
            Err(Box::new(plain(
                StatusCode::BAD_REQUEST,
                "the request body broke off\n",
            )))
        }
    }
}

/// A query parameter, percent-decoded (`+` as space).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<Vec<u8>> {
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

/// A status with a short text.
pub(super) fn plain(code: StatusCode, text: &'static str) -> Response<Body> {
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
