//! The answer to a request that cannot become a WebSocket.

use http::header::{ALLOW, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderValue, Response, StatusCode, Version};
use pushwire_proto::ws::handshake::HandshakeError;

use crate::http::body::Body;

/// Why a request was not upgraded, and the HTTP answer it deserves.
///
/// | cause | status |
/// |---|---|
/// | a plain request where only WebSocket is served ([`Upgrade::require`](crate::Upgrade::require)) | `426 Upgrade Required`, with `Upgrade: websocket` (HTTP/1.1) and `Sec-WebSocket-Version: 13` |
/// | `Sec-WebSocket-Version` missing or not 13 | `426`, with the same headers |
/// | an HTTP/1.1 upgrade whose method is not GET | `405`, with `Allow: GET` |
/// | a missing or invalid WebSocket header | `400` |
///
/// ```
/// use hyper::Request;
/// use pushwire::Upgrade;
///
/// let mut plain = Request::get("/echo").body(()).unwrap();
/// let rejection = Upgrade::require(&mut plain).unwrap_err();
/// let response = rejection.into_response();
/// assert_eq!(response.status(), 426);
/// assert_eq!(response.headers()["upgrade"], "websocket");
/// assert_eq!(response.headers()["sec-websocket-version"], "13");
/// ```
#[derive(Debug, Clone)]
pub struct UpgradeRejection {
    error: HandshakeError,
    version: Version,
}

impl UpgradeRejection {
    pub(crate) fn new(error: HandshakeError, version: Version) -> Self {
        UpgradeRejection { error, version }
    }

    /// A plain request where only WebSocket is served: `426`.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn plain_request(version: Version) -> Self {
        UpgradeRejection::new(HandshakeError::NotWebSocket, version)
    }

    /// The status the rejection is answered with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// What was wrong with the request.
    pub fn handshake_error(&self) -> &HandshakeError {
        &self.error
    }

    /// Whether the request was a plain HTTP request rather than a faulty
    /// upgrade.
    pub fn is_plain_request(&self) -> bool {
        self.error == HandshakeError::NotWebSocket
    }

    /// The response: the status, the headers a client needs to do better,
    /// and the reason as plain text.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let mut response = Response::new(Body::from(format!("{}\n", self.error)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        // HTTP/2 forbids connection-specific headers such as `Upgrade`.
        let http1 = self.version < Version::HTTP_2;
        match status {
            StatusCode::UPGRADE_REQUIRED => {
                headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                if http1 {
                    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
                }
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                headers.insert(ALLOW, HeaderValue::from_static("GET"));
            }
            _ => {}
        }
        response
    }
}

impl std::fmt::Display for UpgradeRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.error)
    }
}

impl std::error::Error for UpgradeRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
