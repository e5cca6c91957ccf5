//! The server API over HTTP: `POST /api/<method>` with a JSON body,
//! answered `{"result": …}` or `{"error": {"code", "message"}}`; a
//! missing or wrong key gets `401` with an empty body.

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};

use super::HubHandle;
use crate::http::body::Body;
use crate::http::request_body::RequestBody;

/// The largest request body the API reads.
const MAX_BODY: usize = 1 << 20;

/// Answers one API request; `method` is the path after `/api/`.
pub(crate) async fn serve(
    hub: &HubHandle,
    method: String,
    req: Request<RequestBody>,
) -> Response<Body> {
    if req.method() != Method::POST {
        let mut response = status(
            StatusCode::METHOD_NOT_ALLOWED,
            "the server API takes POST\n",
        );
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !hub.settings().api_key_matches(&req) {
        return status(StatusCode::UNAUTHORIZED, "");
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return status(StatusCode::PAYLOAD_TOO_LARGE, "request body over 1 MiB\n")
        }
        Err(_) => return status(StatusCode::BAD_REQUEST, "request body not read\n"),
    };
    let Some(answer) = hub.api(method, body).await else {
        return status(StatusCode::SERVICE_UNAVAILABLE, "the hub is stopping\n");
    };
    let code = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = code;
    let kind = if code == StatusCode::OK {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// The key a request carries: `X-API-Key`, else `Authorization: apikey
/// <key>` (the scheme in any case).
pub(crate) fn request_key<B>(req: &Request<B>) -> Option<&str> {
    if let Some(key) = req.headers().get("x-api-key") {
        return key.to_str().ok();
    }
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("apikey").then(|| key.trim())
}

fn status(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = code;
    response
}
