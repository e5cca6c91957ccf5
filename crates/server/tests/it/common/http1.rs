//! A raw HTTP/1.1 client: bytes out as the test writes them, responses
//! read back as bytes, from [`read_head`] (a head, nothing parsed) to
//! [`Conn`], which parses responses as RFC 9112 section 6 frames them and
//! asserts what every response must satisfy on the way.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::LIMIT;

/// Sends `raw` on a fresh TCP connection and returns the response head.
pub async fn raw_request(addr: SocketAddr, raw: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(raw.as_bytes()).await.unwrap();
    read_head(&mut tcp).await
}

/// Reads a response head (through the blank line).
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(LIMIT, read).await.unwrap();
    String::from_utf8(head).unwrap()
}

/// How a response's body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body by the rules (HEAD, 1xx, 204, 304).
    Bodiless,
    ContentLength,
    Chunked,
    /// Read until the server closed the connection.
    Close,
}

#[derive(Debug)]
pub struct Resp {
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub framing: Framing,
}

impl Resp {
    /// The values of the header `name` (case-insensitively).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of the header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let values = self.all(name);
        assert!(values.len() <= 1, "{name} more than once: {self:?}");
        values.first().copied()
    }

    /// Whether the comma-separated header `name` holds `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// Asserts a 200 whose body is `body`.
    #[track_caller]
    pub fn assert_ok(&self, body: &str) {
        assert_eq!(
            (self.status, String::from_utf8_lossy(&self.body).as_ref()),
            (200, body),
            "{self:?}"
        );
    }
}

/// What reading a response found.
#[derive(Debug)]
pub enum Read {
    Response(Resp),
    /// The connection closed (or was reset) before any byte of a response.
    Closed,
    /// The connection closed in the middle of a response's body.
    Truncated {
        head: Resp,
        why: String,
    },
}

/// One piece of a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Vec<u8>),
    /// The last chunk, with the trailer section.
    End(Vec<(String, String)>),
}

/// A raw HTTP/1.1 client connection.
pub struct Conn {
    pub tcp: TcpStream,
    /// Received, not yet parsed.
    pub buf: Vec<u8>,
    pub closed: bool,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        let tcp = tokio::time::timeout(LIMIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        Conn {
            tcp,
            buf: Vec::new(),
            closed: false,
        }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        tokio::time::timeout(LIMIT, self.tcp.write_all(bytes.as_ref()))
            .await
            .expect("write in time")
            .unwrap();
    }

    /// Sends to a server that may have closed the connection already:
    /// false if it had.
    pub async fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> bool {
        tokio::time::timeout(LIMIT, self.tcp.write_all(bytes.as_ref()))
            .await
            .expect("write in time")
            .is_ok()
    }

    /// Sends `bytes` in pieces of `piece` bytes, pausing between them so
    /// that the server reads them separately.
    pub async fn send_slowly(&mut self, bytes: &[u8], piece: usize) {
        for piece in bytes.chunks(piece) {
            self.send(piece).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Reads more bytes; false when the connection closed.
    pub async fn fill(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let mut chunk = [0u8; 16 << 10];
        let n = match tokio::time::timeout(LIMIT, self.tcp.read(&mut chunk)).await {
            Err(_) => panic!(
                "no bytes within {LIMIT:?}; unparsed: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Ok(Err(e)) => panic!("read failed: {e}"),
        };
        self.buf.extend_from_slice(&chunk[..n]);
        if n == 0 {
            self.closed = true;
        }
        n > 0
    }

    /// A CRLF-terminated line (without the CRLF); `None` on close.
    pub async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8(self.buf[..at].to_vec()).expect("an ASCII line");
                assert!(!line.contains('\n'), "bare LF in {line:?}");
                self.buf.drain(..at + 2);
                return Some(line);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Exactly `n` bytes; `None` on close before them.
    pub async fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// Field lines up to the blank line; `None` on close before it.
    pub async fn fields(&mut self) -> Option<Vec<(String, String)>> {
        let mut fields = Vec::new();
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                return Some(fields);
            }
            let (name, value) = line.split_once(':').expect("a field line with a colon");
            assert!(
                !name.is_empty() && !name.contains([' ', '\t']),
                "bad field name in {line:?}"
            );
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
    }

    /// A response head; `None` if the connection closed before any byte.
    pub async fn head(&mut self) -> Option<Resp> {
        if self.buf.is_empty() && !self.fill().await {
            return None;
        }
        let Some(status_line) = self.line().await else {
            panic!(
                "closed within a status line: {:?}",
                String::from_utf8_lossy(&self.buf)
            )
        };
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap().to_owned();
        assert!(
            version == "HTTP/1.1" || version == "HTTP/1.0",
            "status line {status_line:?}"
        );
        let code = parts.next().expect("a status code");
        assert_eq!(code.len(), 3, "status line {status_line:?}");
        let status: u16 = code.parse().expect("a numeric status");
        assert!(parts.next().is_some(), "no reason phrase: {status_line:?}");
        let headers = self.fields().await.expect("closed within the head");
        Some(Resp {
            version,
            status,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
            framing: Framing::Bodiless,
        })
    }

    /// The next piece of a chunked body; `None` if the connection closed
    /// before all of it arrived.
    pub async fn chunk(&mut self) -> Option<Chunk> {
        let size_line = self.line().await?;
        let size = size_line.split(';').next().unwrap().trim();
        let size = usize::from_str_radix(size, 16)
            .unwrap_or_else(|_| panic!("bad chunk-size line {size_line:?}"));
        if size == 0 {
            return Some(Chunk::End(self.fields().await?));
        }
        let data = self.take(size + 2).await?;
        assert_eq!(&data[size..], b"\r\n", "chunk data not followed by CRLF");
        Some(Chunk::Data(data[..size].to_vec()))
    }

    /// Reads one response (a 1xx included) to a request of `method`,
    /// framed as RFC 9112 section 6.3 says.
    pub async fn read(&mut self, method: &str) -> Read {
        let Some(mut resp) = self.head().await else {
            return Read::Closed;
        };
        let status = resp.status;
        if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
            return Read::Response(resp);
        }
        let te = resp.all("transfer-encoding").join(",");
        if !te.is_empty() {
            assert!(
                te.trim().eq_ignore_ascii_case("chunked"),
                "unexpected transfer-encoding {te:?}"
            );
            // RFC 9112 section 6.2: never both.
            assert!(
                resp.all("content-length").is_empty(),
                "both transfer-encoding and content-length: {resp:?}"
            );
            resp.framing = Framing::Chunked;
            loop {
                match self.chunk().await {
                    Some(Chunk::Data(data)) => resp.body.extend_from_slice(&data),
                    Some(Chunk::End(trailers)) => {
                        resp.trailers = trailers;
                        return Read::Response(resp);
                    }
                    None => {
                        return Read::Truncated {
                            head: resp,
                            why: "closed within the chunked body".into(),
                        }
                    }
                }
            }
        }
        if let Some(length) = resp.header("content-length") {
            let length: usize = length.parse().expect("a numeric content-length");
            resp.framing = Framing::ContentLength;
            let Some(body) = self.take(length).await else {
                return Read::Truncated {
                    head: resp,
                    why: format!("closed before {length} body bytes"),
                };
            };
            resp.body = body;
            return Read::Response(resp);
        }
        resp.framing = Framing::Close;
        while self.fill().await {}
        resp.body = std::mem::take(&mut self.buf);
        Read::Response(resp)
    }

    /// The next response to a request of `method`; panics otherwise.
    pub async fn response_to(&mut self, method: &str) -> Resp {
        match self.read(method).await {
            Read::Response(resp) => resp,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// The next response to a GET (or any method but HEAD).
    pub async fn response(&mut self) -> Resp {
        self.response_to("GET").await
    }

    /// Sends `request` and returns the response.
    pub async fn exchange(&mut self, request: impl AsRef<[u8]>) -> Resp {
        self.send(request).await;
        self.response().await
    }

    /// The server closes the connection with nothing more sent.
    pub async fn assert_closed(&mut self) {
        let more = self.fill().await;
        assert!(
            !more && self.buf.is_empty(),
            "expected the connection to close, got {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Nothing arrives for `wait`, and the connection stays open.
    pub async fn assert_quiet(&mut self, wait: Duration) {
        assert!(self.buf.is_empty(), "unexpected bytes {:?}", self.buf);
        let mut chunk = [0u8; 1024];
        match tokio::time::timeout(wait, self.tcp.read(&mut chunk)).await {
            Err(_) => {}
            Ok(Ok(0)) => panic!("the connection closed"),
            Ok(Ok(n)) => panic!(
                "unexpected bytes {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Ok(Err(e)) => panic!("read failed: {e}"),
        }
    }
}

/// A GET for `path` on HTTP/1.1.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

/// A POST of `body` to `path`, framed by Content-Length.
pub fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}
