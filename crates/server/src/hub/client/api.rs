//! A client of the hub's server API: `POST /api/<method>` with the key
//! in `X-API-Key`, one HTTP/1.1 request per call (`Connection: close`),
//! over TCP or TLS.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::endpoint::Endpoint;
use super::{ClientError, History};
use crate::http::client_tls::client_config;

/// The largest response read (a long history).
const MAX_RESPONSE: usize = 64 << 20;

/// Calls the server API of a hub.
///
/// ```no_run
/// # async fn demo() -> Result<(), pushwire::hub::client::ClientError> {
/// use pushwire::hub::client::ApiClient;
/// let api = ApiClient::new("http://127.0.0.1:8000", Some("api-secret".into()))?;
/// let result = api.publish("news", serde_json::json!({"text": "hi"})).await?;
/// println!("offset {}", result["offset"]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ApiClient {
    endpoint: Endpoint,
    key: Option<String>,
    ca_file: Option<PathBuf>,
    timeout: std::time::Duration,
}

impl ApiClient {
    /// A client of the API of the server at `base_url` (`http://host:port`
    /// or `https://`; its methods are under `/api/`), sending `key`.
    pub fn new(base_url: &str, key: Option<String>) -> Result<ApiClient, ClientError> {
        Ok(ApiClient {
            endpoint: Endpoint::parse(base_url)?,
            key,
            ca_file: None,
            timeout: std::time::Duration::from_secs(10),
        })
    }

    /// Trusts the CA certificates in this PEM file for `https://`, besides
    /// the public roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// How long a call may take (10 s).
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `publish`: returns its result (`offset` and `epoch` for channels
    /// with history).
    pub async fn publish(&self, channel: &str, data: Value) -> Result<Value, ClientError> {
        self.call("publish", &json!({"channel": channel, "data": data}))
            .await
    }

    /// `history`: the last `limit` publications of `channel` (all the
    /// hub keeps for a negative `limit`), oldest first.
    pub async fn history(&self, channel: &str, limit: i64) -> Result<History, ClientError> {
        let mut params = json!({"channel": channel, "limit": limit});
        if limit > 0 {
            params["reverse"] = true.into();
        }
        let result = self.call("history", &params).await?;
        let mut history: History = serde_json::from_value(result)
            .map_err(|e| ClientError::Protocol(format!("history result: {e}")))?;
        if limit > 0 {
            history.publications.reverse();
        }
        for publication in &mut history.publications {
            publication.channel = channel.to_string();
        }
        Ok(history)
    }

    /// Calls `method` with `params`: its `result` (the whole answer for
    /// `batch`), or its `error` as
    /// [`ClientError::Reply`]; a refused key is
    /// [`ClientError::Unauthorized`].
    pub async fn call(&self, method: &str, params: &Value) -> Result<Value, ClientError> {
        let body = params.to_string();
        let (status, response) = tokio::time::timeout(self.timeout, self.post(method, &body))
            .await
            .map_err(|_| ClientError::Timeout)??;
        match status {
            200 => {}
            401 => return Err(ClientError::Unauthorized),
            _ => {
                let text = String::from_utf8_lossy(&response);
                let body: String = text.chars().take(200).collect();
                return Err(ClientError::Http { status, body });
            }
        }
        let mut answer: Value = serde_json::from_slice(&response)
            .map_err(|e| ClientError::Protocol(format!("the API's answer is not JSON: {e}")))?;
        if let Some(error) = answer.get("error") {
            return Err(ClientError::from_reply(error));
        }
        // `batch` answers `{"replies":[…]}`, with no `result` around it.
        match answer.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Ok(answer),
        }
    }

    /// One request on a fresh connection: the status and the body.
    async fn post(&self, method: &str, body: &str) -> Result<(u16, Vec<u8>), ClientError> {
        let tcp = TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port)).await?;
        tcp.set_nodelay(true)?;
        if !self.endpoint.secure {
            return self.exchange(tcp, method, body).await;
        }
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()?));
        let name = rustls::pki_types::ServerName::try_from(self.endpoint.host.clone())
            .map_err(|e| ClientError::Url(format!("{}: {e}", self.endpoint.host)))?;
        let tls = connector.connect(name, tcp).await?;
        self.exchange(tls, method, body).await
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        method: &str,
        body: &str,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let key = match &self.key {
            Some(key) if !key.contains(['\r', '\n']) => format!("X-API-Key: {key}\r\n"),
            Some(_) => return Err(ClientError::Url("the API key has a line break".into())),
            None => String::new(),
        };
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{key}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.endpoint.api_target(method),
            self.endpoint.authority(),
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        let mut response = Vec::new();
        let read = (&mut stream)
            .take(MAX_RESPONSE as u64 + 1)
            .read_to_end(&mut response)
            .await;
        // A TLS peer may close without close_notify after a complete
        // response; what was read is judged below.
        if let Err(e) = read {
            if response.is_empty() {
                return Err(e.into());
            }
        }
        if response.len() > MAX_RESPONSE {
            return Err(ClientError::Protocol(format!(
                "the API's answer is over {MAX_RESPONSE} bytes"
            )));
        }
        parse_response(&response)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        client_config(self.ca_file.as_deref(), vec![b"http/1.1".to_vec()])
            .map_err(ClientError::Transport)
    }
}

/// A complete HTTP/1.1 response: its status and body (by
/// `Content-Length`, chunked, or up to the end).
fn parse_response(response: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let malformed = |why: &str| ClientError::Protocol(format!("the API's response: {why}"));
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let used = match parsed.parse(response) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Err(malformed("cut short")),
        Err(e) => return Err(malformed(&e.to_string())),
    };
    let status = parsed.code.unwrap_or(0);
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let rest = &response[used..];
    if header("transfer-encoding").is_some_and(|te| te.ends_with("chunked")) {
        return Ok((
            status,
            dechunk(rest).ok_or_else(|| malformed("bad chunks"))?,
        ));
    }
    let body = match header("content-length") {
        Some(length) => {
            let length: usize = length.parse().map_err(|_| malformed("bad length"))?;
            rest.get(..length)
                .ok_or_else(|| malformed("body cut short"))?
        }
        None => rest,
    };
    Ok((status, body.to_vec()))
}

/// The body of a chunked message; `None` if the chunks are malformed or
/// cut short.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_by_length_chunks_or_end() {
        let (status, body) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk").unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"{}"[..]));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        let (_, body) = parse_response(chunked).unwrap();
        assert_eq!(body, b"{\"a\":1}");
        let (status, body) = parse_response(b"HTTP/1.1 401 Unauthorized\r\n\r\n").unwrap();
        assert_eq!((status, body.len()), (401, 0));
    }

    #[test]
    fn malformed_responses_are_errors() {
        for response in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"nonsense\r\n\r\n",
        ] {
            assert!(parse_response(response).is_err());
        }
    }
}
