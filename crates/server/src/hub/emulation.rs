//! `POST /emulation`: the commands of a bidirectional emulation session
//! (`/connection/http_stream` or `/connection/sse`) after its connect.
//!
//! The body is `{"session": "…", "node": "…", "data": "…"}`, where
//! `data` is a JSON string holding the `\n`-joined commands, as a
//! WebSocket frame would. The commands go to the session's connection
//! and their replies come on its stream; the request itself is answered
//! `204` — also for a session that is gone, since its stream has ended
//! and told the client. `node` names the server that holds the session;
//! on a single node every session is here, so it is not checked.
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

use super::cors::Cors;
use super::routes::{plain, read_body};
use super::HubHandle;
use crate::http::body::Body;
use crate::http::request_body::RequestBody;

/// The largest `/emulation` body read (Centrifugo's limit).
const MAX_EMULATION_BODY: usize = 64 << 10;

/// What `/emulation` allows.
const METHODS: &str = "POST, OPTIONS";

/// An `/emulation` request's body (JSON protocol), as used here.
#[derive(Debug, PartialEq, Eq)]
struct EmulationRequest {
    /// The session from the connect result.
    session: String,
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
    hub.session_frame(request.session, Bytes::from(request.data))
        .await;
    plain(StatusCode::NO_CONTENT, "")
}

impl EmulationRequest {
    /// Reads `{"session": "…", "node": "…", "data": "…"}`: `session` and
    /// `data` are strings and required; other members (`node`) may hold
    /// any JSON value and are skipped. The body must be one JSON object,
    /// with no member twice.
    fn decode(body: &[u8]) -> Result<EmulationRequest, Malformed> {
        let text = std::str::from_utf8(body).map_err(|_| Malformed("not UTF-8"))?;
        let mut json = JsonReader::new(text);
        let (mut session, mut data, mut node) = (None, None, false);
        json.expect(b'{')?;
        if !json.eat(b'}') {
            loop {
                let key = json.string()?;
                json.expect(b':')?;
                let seen = match key.as_str() {
                    "session" => session.replace(json.string()?).is_some(),
                    "data" => data.replace(json.string()?).is_some(),
                    other => {
                        json.skip_value(0)?;
                        other == "node" && std::mem::replace(&mut node, true)
                    }
                };
                if seen {
                    return Err(Malformed("a member given twice"));
                }
                if json.eat(b'}') {
                    break;
                }
                json.expect(b',')?;
            }
        }
        json.end()?;
        Ok(EmulationRequest {
            session: session.ok_or(Malformed("no session"))?,
            data: data.ok_or(Malformed("no data"))?,
        })
    }
}

/// Why an `/emulation` body was refused.
#[derive(Debug, PartialEq, Eq)]
struct Malformed(&'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Nesting deeper than this in a skipped member is refused (the stack
/// stays bounded).
const MAX_DEPTH: usize = 32;

/// A strict reader of the little JSON an `/emulation` body holds
/// (RFC 8259): strings decoded, other values checked and skipped.
struct JsonReader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> JsonReader<'a> {
    fn new(text: &'a str) -> Self {
        JsonReader { text, at: 0 }
    }

    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
        bytes.get(self.at).copied()
    }

    /// Takes `byte` (after whitespace) if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Result<(), Malformed> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(Malformed("not a JSON object of strings"))
        }
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Result<(), Malformed> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Malformed("more after the object")),
        }
    }

    /// A string, unescaped.
    fn string(&mut self) -> Result<String, Malformed> {
        const BAD: Malformed = Malformed("a malformed string");
        self.expect(b'"')
            .map_err(|_| Malformed("a string expected"))?;
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        loop {
            let run = self.at;
            while let Some(&b) = bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Stops at ASCII only: a character boundary.
            out.push_str(&self.text[run..self.at]);
            let Some(&b) = bytes.get(self.at) else {
                return Err(BAD);
            };
            self.at += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let escape = *bytes.get(self.at).ok_or(BAD)?;
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(BAD),
                    };
                    out.push(c);
                }
                // A raw control character.
                _ => return Err(BAD),
            }
        }
    }

    /// The character of a `\uXXXX` escape (a pair of them for one
    /// outside the Basic Multilingual Plane); the `\u` is read.
    fn unicode_escape(&mut self) -> Result<char, Malformed> {
        const BAD: Malformed = Malformed("a malformed \\u escape");
        let first = self.hex4().ok_or(BAD)?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.text.as_bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(BAD);
                }
                self.at += 2;
                let second = self.hex4().ok_or(BAD)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(BAD);
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(BAD),
            code => code,
        };
        char::from_u32(code).ok_or(BAD)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// Checks and skips one value of any kind.
    fn skip_value(&mut self, depth: usize) -> Result<(), Malformed> {
        const BAD: Malformed = Malformed("a malformed value");
        if depth > MAX_DEPTH {
            return Err(Malformed("nested too deep"));
        }
        match self.peek().ok_or(BAD)? {
            b'"' => self.string().map(drop),
            b'{' => {
                self.at += 1;
                if self.eat(b'}') {
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.expect(b':')?;
                    self.skip_value(depth + 1)?;
                    if self.eat(b'}') {
                        return Ok(());
                    }
                    self.expect(b',')?;
                }
            }
            b'[' => {
                self.at += 1;
                if self.eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if self.eat(b']') {
                        return Ok(());
                    }
                    self.expect(b',')?;
                }
            }
            b't' | b'f' | b'n' => {
                let rest = &self.text[self.at..];
                let word = ["true", "false", "null"]
                    .into_iter()
                    .find(|word| rest.starts_with(word))
                    .ok_or(BAD)?;
                self.at += word.len();
                Ok(())
            }
            _ => self.number(),
        }
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), Malformed> {
        const BAD: Malformed = Malformed("a malformed number");
        let bytes = self.text.as_bytes();
        let digits = |at: &mut usize| {
            let start = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > start
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return Err(BAD),
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return Err(BAD);
            }
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            if !digits(&mut at) {
                return Err(BAD);
            }
        }
        self.at = at;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<EmulationRequest, Malformed> {
        EmulationRequest::decode(body.as_bytes())
    }

    #[test]
    fn the_commands_are_a_json_string() {
        let request = decode(
            r#" {"session":"s1","node":"n1","data":"{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}"} "#,
        )
        .unwrap();
        assert_eq!(request.session, "s1");
        assert_eq!(
            request.data,
            "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n{}"
        );
        // `node` may be left out, and other members hold anything.
        let request =
            decode(r#"{"data":"","x":[1,-2.5e3,{"y":null},true,false,"z"],"session":"s"}"#);
        assert_eq!(
            request,
            Ok(EmulationRequest {
                session: "s".into(),
                data: String::new()
            })
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
            r#"{"session":"s","data":"{}","node":"a","node":"b"}"#,
            "{\"session\":\"s\",\"data\":\"a\tb\"}", // a raw tab
            r#"{"session":"s","data":"\x"}"#,
            r#"{"session":"s","data":"\ud83d"}"#,
            r#"{"session":"s","data":"\ude00"}"#,
            r#"{"session":"s","data":"\u12"}"#,
            r#"{"session":"s","data":"{}","node":01}"#,
            r#"{"session":"s","data":"{}","node":1.}"#,
            r#"{"session":"s","data":"{}","node":tru}"#,
            r#"{"session":"s","data":"{}","node":[1,]}"#,
            r#"{"session":"s","data":"open"#,
        ] {
            assert!(decode(body).is_err(), "{body}");
        }
        assert!(EmulationRequest::decode(b"{\"session\":\"\xff\",\"data\":\"\"}").is_err());
        let deep = format!(
            r#"{{"session":"s","data":"","x":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert_eq!(decode(&deep), Err(Malformed("nested too deep")));
    }
}
