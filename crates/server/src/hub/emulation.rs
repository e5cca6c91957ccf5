//! `POST /emulation`: the commands of a bidirectional emulation session
//! (`/connection/http_stream` or `/connection/sse`) after its connect.
//!
//! The body is `{"session": "…", "node": "…", "data": "…"}`, where
//! `data` is a JSON string holding the `\n`-joined commands, as a
//! WebSocket frame would. The commands go to the session's connection
//! and their replies come on its stream; the request itself is answered
//! `204` — also for a session that is gone, since its stream has ended
//! and told the client. `node` names the server that holds the session:
//! on a hub of many nodes (the Redis engine), a request that reaches
//! another node is forwarded to that one through the engine, so no
//! sticky sessions are needed.
//!
//! | answer | when |
//! |---|---|
//! | `204` | the commands were handed to the session (or it is gone) |
//! | `400` | the body is not such a JSON object |
//! | `413` | the body is over 64 KiB |
//! | `405` | not `POST` (nor `OPTIONS`, the preflight, `204`) |
//! | `403` | a page on an origin `client.allowed_origins` does not allow |

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde::Deserialize;

use super::cors::Cors;
use super::routes::{plain, read_body};
use super::HubHandle;
use crate::http::body::Body;
use crate::http::request_body::RequestBody;

/// The largest `/emulation` body read (Centrifugo's limit).
const MAX_EMULATION_BODY: usize = 64 << 10;

/// What `/emulation` allows.
const METHODS: &str = "POST, OPTIONS";

/// An `/emulation` request's body (JSON protocol), as used here: other
/// members are skipped; a member given twice is refused.
#[derive(Debug, PartialEq, Eq, Deserialize)]
struct EmulationRequest {
    /// The session from the connect result.
    session: String,
    /// The node that holds the session (from the connect result).
    #[serde(default)]
    node: String,
    /// The commands, `\n`-joined (the JSON string `data`, unescaped).
    data: String,
}

/// Answers one `/emulation` request; a page on an origin the hub does
/// not allow gets `403` (see [`Cors`]).
pub(super) async fn serve(req: Request<RequestBody>, hub: HubHandle) -> Response<Body> {
    let cors = match Cors::admit(&req, &hub.settings().origins) {
        Ok(cors) => cors,
        Err(refused) => return *refused,
    };
    cors.apply(answer(req, &hub, &cors).await)
}

async fn answer(req: Request<RequestBody>, hub: &HubHandle, cors: &Cors) -> Response<Body> {
    match *req.method() {
        Method::POST => {}
        Method::OPTIONS => return cors.preflight(METHODS),
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(METHODS));
            return response;
        }
    }
    let body = match read_body(req.into_body(), MAX_EMULATION_BODY).await {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let request = match EmulationRequest::decode(&body) {
        Ok(request) => request,
        Err(e) => {
            tracing::debug!("undecodable /emulation request: {e}");
            let mut response = plain(
                StatusCode::BAD_REQUEST,
                "expected {\"session\": \"…\", \"node\": \"…\", \"data\": \"<commands>\"}\n",
            );
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return response;
        }
    };
    hub.session_frame(request.session, request.node, Bytes::from(request.data))
        .await;
    plain(StatusCode::NO_CONTENT, "")
}

impl EmulationRequest {
    fn decode(body: &[u8]) -> Result<EmulationRequest, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<EmulationRequest, serde_json::Error> {
        EmulationRequest::decode(body.as_bytes())
    }

    #[test]
    fn the_commands_are_a_json_string() {
        let request = decode(
            r#" {"session":"s1","node":"n1","data":"{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}"} "#,
        )
        .unwrap();
        assert_eq!(request.session, "s1");
        assert_eq!(request.node, "n1");
        assert_eq!(
            request.data,
            "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}"
        );
        // `node` may be left out, and other members hold anything.
        let request =
            decode(r#"{"data":"","x":[1,-2.5e3,{"y":null},true,false,"z"],"session":"s"}"#);
        assert_eq!(
            request.unwrap(),
            EmulationRequest {
                session: "s".into(),
                node: String::new(),
                data: String::new()
            }
        );
    }

    #[test]
    fn escapes_are_decoded() {
        let request =
            decode(r#"{"session":"\u0073\/","data":"\"\\\b\f\n\r\t\u00e9\ud83d\ude00é"}"#).unwrap();
        assert_eq!(request.session, "s/");
        assert_eq!(request.data, "\"\\\u{8}\u{c}\n\r\té😀é");
    }

    #[test]
    fn anything_else_is_refused() {
        for body in [
            "",
            "null",
            "[]",
            r#"{"session":"s"}"#,
            r#"{"data":"{}"}"#,
            r#"{"session":"s","data":{"id":1}}"#,
            r#"{"session":1,"data":"{}"}"#,
            r#"{"session":"s","data":"{}",}"#,
            r#"{"session":"s","data":"{}"} x"#,
            r#"{"session":"s","session":"t","data":"{}"}"#,
            "{\"session\":\"s\",\"data\":\"a\tb\"}", // a raw tab
            r#"{"session":"s","data":"\x"}"#,
            r#"{"session":"s","data":"\ud83d"}"#,
            r#"{"session":"s","data":"\ude00"}"#,
            r#"{"session":"s","data":"\u12"}"#,
            r#"{"session":"s","data":"{}","node":01}"#,
            r#"{"session":"s","data":"{}","node":1.}"#,
            r#"{"session":"s","data":"{}","node":tru}"#,
            r#"{"session":"s","data":"{}","node":[1,]}"#,
            r#"{"session":"s","data":"{}","node":1}"#,
            r#"{"session":"s","data":"open"#,
        ] {
            assert!(decode(body).is_err(), "{body}");
        }
        assert!(EmulationRequest::decode(b"{\"session\":\"\xff\",\"data\":\"\"}").is_err());
    }
}
