//! Cross-origin requests to the hub's HTTP transports (`http_stream`,
//! `sse`, `/emulation`, `uni_sse`, `uni_http_stream`), as Centrifugo
//! answers them: a page whose `Origin` the hub's origin policy
//! (`client.allowed_origins`) permits gets its origin echoed in
//! `Access-Control-Allow-Origin` with credentials allowed, and the
//! headers its preflight asked for; any other `Origin` gets `403` on
//! every one of these endpoints, preflight included, so a foreign page
//! can neither read a stream nor post commands into a session
//! (cross-site hijacking). The check is the WebSocket's own
//! ([`OriginPolicy::permits_request`]).

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ALLOW,
    CONTENT_TYPE, ORIGIN, VARY,
};
use http::{HeaderValue, Request, Response, StatusCode};

use crate::http::body::Body;
use crate::http::connection::ConnectionInfo;
use crate::upgrade::OriginPolicy;

/// How long a browser may cache a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "300";

/// The CORS headers an admitted request's responses carry.
#[derive(Debug, Default)]
pub(super) struct Cors {
    /// The request's `Origin`, echoed (absent: not a browser's
    /// cross-origin request, no CORS headers).
    origin: Option<HeaderValue>,
    /// The preflight's `Access-Control-Request-Headers`, echoed.
    request_headers: Option<HeaderValue>,
}

impl Cors {
    /// Admits `req` if `origins` permits its `Origin` (a request without
    /// one always); otherwise the `403` to answer.
    pub(super) fn admit<B>(
        req: &Request<B>,
        origins: &OriginPolicy,
    ) -> Result<Cors, Box<Response<Body>>> {
        if !origins.permits_request(req) {
            tracing::warn!(
                origin = ?req.headers().get(ORIGIN),
                path = req.uri().path(),
                remote = ?req.extensions().get::<ConnectionInfo>().map(ConnectionInfo::remote_addr),
                "hub request refused: origin not allowed (403)"
            );
            let mut response = Response::new(Body::from("origin not allowed\n"));
            *response.status_mut() = StatusCode::FORBIDDEN;
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return Err(Box::new(response));
        }
        Ok(Cors {
            origin: req.headers().get(ORIGIN).cloned(),
            request_headers: req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
        })
    }

    /// Adds the CORS headers to `response` (none for a request without
    /// `Origin`).
    pub(super) fn apply(&self, mut response: Response<Body>) -> Response<Body> {
        let Some(origin) = &self.origin else {
            return response;
        };
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if let Some(requested) = &self.request_headers {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        headers.append(VARY, HeaderValue::from_static("Origin"));
        response
    }

    /// The answer to an `OPTIONS` request (a preflight): `204` allowing
    /// `methods` for five minutes (the CORS headers come with
    /// [`Cors::apply`]).
    pub(super) fn preflight(&self, methods: &'static str) -> Response<Body> {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        headers.insert(ALLOW, HeaderValue::from_static(methods));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: Option<&str>) -> Request<()> {
        let mut builder = Request::post("/emulation").header("host", "hub.example:8000");
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder
            .header("access-control-request-headers", "content-type")
            .body(())
            .unwrap()
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_credentials() {
        let policy = OriginPolicy::allow(["https://app.example"]);
        let cors = Cors::admit(&request(Some("https://app.example")), &policy).unwrap();
        let response = cors.apply(cors.preflight("POST, OPTIONS"));
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let h = response.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "POST, OPTIONS");
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "300");
        assert_eq!(h[VARY], "Origin");
    }

    #[test]
    fn a_refused_origin_gets_403_and_no_origin_no_headers() {
        let policy = OriginPolicy::allow(["https://app.example"]);
        let refused = Cors::admit(&request(Some("https://evil.example")), &policy).unwrap_err();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        // The server's own origin is always allowed.
        assert!(Cors::admit(&request(Some("http://hub.example:8000")), &policy).is_ok());
        let cors = Cors::admit(&request(None), &policy).unwrap();
        let response = cors.apply(Response::new(Body::empty()));
        assert!(response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        assert!(response.headers().get(VARY).is_none());
    }
}
