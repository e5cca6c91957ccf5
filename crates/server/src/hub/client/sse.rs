//! The SSE emulation transport, as centrifuge-js's `sse` transport
//! speaks it (hub protocol, section 2.2): `GET /connection/sse` with the
//! connect command in `cf_connect` opens an event stream that carries
//! every reply and push, one `data:` event each; the commands after the
//! connect (subscribe, publish, pongs…) go as `POST /emulation` with the
//! session and node the connect result named, and their replies come on
//! the stream.
//!
//! The POSTs are made by a task of their own, one after the other in the
//! order the commands were sent, so that the stream is read while a POST
//! waits. Over HTTP/2 they share the stream's connection; over HTTP/1.1,
//! where the stream holds its connection, they go over a second one kept
//! alive. A POST the hub refuses (`404` unknown node, `5xx`…) or cannot
//! make ends the transport: the client reconnects and recovers, as
//! centrifuge-js does.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use pushwire_proto::sse::{Parser, Received};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::endpoint::Endpoint;
use super::http::HttpSender;
use super::transport::Closed;
use super::{ClientError, ClientOptions};

/// The most command bytes one `POST /emulation` carries: the hub takes
/// bodies up to 64 KiB, and the commands travel as a JSON string, where
/// each quote or backslash doubles. A larger command goes alone.
const MAX_POST_COMMANDS: usize = 30 << 10;

/// POSTs that may wait for the sending task.
const POST_QUEUE: usize = 64;

/// The most bytes of a refusal's body kept for the error.
const MAX_ERROR_BODY: usize = 4 << 10;

/// An open SSE emulation session.
pub(super) struct SseLink {
    endpoint: Endpoint,
    options: ClientOptions,
    /// The stream's connection; the POSTs share it over HTTP/2.
    sender: HttpSender,
    body: Incoming,
    parser: Parser,
    /// Commands fed and not yet flushed, in batches that fit a POST.
    queued: Vec<String>,
    /// The sending task, once the connect result named the session.
    poster: Option<mpsc::Sender<String>>,
    /// How the sending task failed.
    failed: Option<oneshot::Receiver<Closed>>,
}

impl SseLink {
    /// Opens the event stream with `connect` as its initial command.
    pub(super) async fn open(
        endpoint: &Endpoint,
        options: &ClientOptions,
        connect: String,
    ) -> Result<SseLink, ClientError> {
        let mut sender = HttpSender::connect(endpoint, options, options.http2, false).await?;
        let target = format!(
            "{}?cf_connect={}",
            endpoint.sse_path(),
            percent_encode(&connect)
        );
        let request = sender
            .request(endpoint, &target)
            .method(Method::GET)
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache")
            .body(Full::default())
            .map_err(|e| ClientError::Url(e.to_string()))?;
        let response = sender.send(request).await?;
        let status = response.status();
        if status != StatusCode::OK {
            let body = Limited::new(response.into_body(), MAX_ERROR_BODY);
            let body = tokio::time::timeout(Duration::from_secs(1), body.collect()).await;
            let body = match body {
                Ok(Ok(body)) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                _ => String::new(),
            };
            return Err(ClientError::Http {
                status: status.as_u16(),
                body,
            });
        }
        let event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !event_stream {
            return Err(ClientError::Protocol(format!(
                "{} is not an event stream",
                endpoint.sse_path()
            )));
        }
        Ok(SseLink {
            endpoint: endpoint.clone(),
            options: options.clone(),
            sender,
            body: response.into_body(),
            parser: Parser::new(),
            queued: Vec::new(),
            poster: None,
            failed: None,
        })
    }

    /// The connect result: its `session` and `node` address the POSTs,
    /// whose task starts now.
    pub(super) fn connected(&mut self, result: &Value) -> Result<(), Closed> {
        let Some(session) = result["session"].as_str() else {
            return Err(Closed::transport("the connect result has no session"));
        };
        let poster = Poster {
            endpoint: self.endpoint.clone(),
            options: self.options.clone(),
            sender: self.sender.share(),
            session: session.to_string(),
            node: result["node"].as_str().unwrap_or_default().to_string(),
        };
        let (commands, receiver) = mpsc::channel(POST_QUEUE);
        let (failure, failed) = oneshot::channel();
        tokio::spawn(poster.run(receiver, failure));
        self.poster = Some(commands);
        self.failed = Some(failed);
        Ok(())
    }

    /// Queues a command for the next POST.
    pub(super) fn feed(&mut self, command: String) {
        match self.queued.last_mut() {
            Some(batch) if batch.len() + 1 + command.len() <= MAX_POST_COMMANDS => {
                batch.push('\n');
                batch.push_str(&command);
            }
            _ => self.queued.push(command),
        }
    }

    /// Hands the queued commands to the sending task (before the
    /// connect result, they wait for it).
    pub(super) async fn flush(&mut self) -> Result<(), Closed> {
        let Some(poster) = &self.poster else {
            return Ok(());
        };
        for batch in self.queued.drain(..) {
            if poster.send(batch).await.is_err() {
                let why = self
                    .failed
                    .as_mut()
                    .and_then(|failed| failed.try_recv().ok());
                return Err(why.unwrap_or_else(|| Closed::transport("the POST task stopped")));
            }
        }
        Ok(())
    }

    /// The next event's data; the end of the stream, or a failed POST,
    /// as `Err`.
    pub(super) async fn recv(&mut self) -> Result<String, Closed> {
        loop {
            for received in self.parser.by_ref() {
                if let Received::Message(message) = received {
                    return Ok(message.data);
                }
            }
            let body = &mut self.body;
            let failed = &mut self.failed;
            let frame = tokio::select! {
                frame = body.frame() => frame,
                closed = async {
                    match failed {
                        Some(failed) => failed.await.ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    self.failed = None;
                    return Err(closed.unwrap_or_else(|| Closed::transport("the POST task stopped")));
                }
            };
            match frame {
                None => return Err(Closed::transport("the event stream ended")),
                Some(Err(e)) => return Err(Closed::transport(format!("the event stream: {e}"))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.parser
                            .feed(&data)
                            .map_err(|e| Closed::transport(e.to_string()))?;
                    }
                }
            }
        }
    }

    /// Stops the POSTs; dropping the link then drops the stream's
    /// request, which ends the session on the hub.
    pub(super) fn close(&mut self) {
        self.poster = None;
        self.queued.clear();
    }
}

/// The task that makes the POSTs of one session.
struct Poster {
    endpoint: Endpoint,
    options: ClientOptions,
    /// The connection to POST on; opened when needed.
    sender: Option<HttpSender>,
    session: String,
    node: String,
}

impl Poster {
    async fn run(mut self, mut commands: mpsc::Receiver<String>, failure: oneshot::Sender<Closed>) {
        while let Some(data) = commands.recv().await {
            let posted = tokio::time::timeout(self.options.timeout, self.post(data)).await;
            let result = posted
                .unwrap_or_else(|_| Err(Closed::transport("no answer to POST /emulation in time")));
            if let Err(closed) = result {
                tracing::debug!(reason = closed.reason, "hub client: POST /emulation failed");
                let _ = failure.send(closed);
                return;
            }
        }
    }

    /// One POST of `data`, the `\n`-joined commands.
    async fn post(&mut self, data: String) -> Result<(), Closed> {
        let sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => HttpSender::connect(&self.endpoint, &self.options, self.options.http2, false)
                .await
                .map_err(|e| Closed::transport(format!("POST /emulation: {e}")))?,
        };
        let sender = self.sender.insert(sender);
        let body = json!({"session": self.session, "node": self.node, "data": data}).to_string();
        let request = sender
            .request(&self.endpoint, &self.endpoint.emulation_path())
            .method(Method::POST)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Closed::transport(e.to_string()))?;
        let response = sender
            .send(request)
            .await
            .map_err(|e| Closed::transport(format!("POST /emulation: {e}")))?;
        let status = response.status();
        // Read the (empty) body, so that the connection serves the next.
        let _ = Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(Closed::transport(format!(
                "POST /emulation answered {status}"
            )))
        }
    }
}

/// `text` for a URL's query: every byte but the unreserved ones
/// (RFC 3986, section 2.3) as `%XX`. Written here rather than taken from
/// a crate: one query parameter is all the client encodes.
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_command_is_percent_encoded() {
        assert_eq!(
            percent_encode(r#"{"id":1,"connect":{"name":"a b/é"}}"#),
            "%7B%22id%22%3A1%2C%22connect%22%3A%7B%22name%22%3A%22a%20b%2F%C3%A9%22%7D%7D"
        );
        assert_eq!(percent_encode("Az09-_.~"), "Az09-_.~");
    }
}
