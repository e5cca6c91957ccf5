//! Writing an HTTP/1.1 response: its head, and its body delimited by
//! `Content-Length`, by chunks, or by closing the connection
//! (RFC 9112 sections 4 to 7).

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{response, HeaderMap, HeaderValue, StatusCode, Version};
use http_body::SizeHint;
use pushwire_proto::http1::has_token;

use crate::http::body::is_bodiless;
use crate::http::date;
use crate::io::WriteQueue;

/// Chunks up to this size are copied next to their size line, so that a
/// small event is one piece to write, not three.
const MERGE_CHUNK_BELOW: usize = 1024;

/// What the request left open for its response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answering {
    pub(crate) version: Version,
    /// A `HEAD` request: the head only.
    pub(crate) head_only: bool,
    /// The connection may stay open after the response.
    pub(crate) keep_alive: bool,
}

/// How the body goes out.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Encoder {
    /// `Content-Length`: the bytes still to send.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client, length unknown).
    UntilClose,
    /// No body (`HEAD`, `1xx`, `204`, `304`), or it was all sent.
    Done,
}

/// Writes the response head into `out` (the body's delimiting and
/// `Connection` decided here); returns the body's encoder and whether
/// the connection stays open.
pub(crate) fn write_head(
    parts: &mut response::Parts,
    hint: &SizeHint,
    request: Answering,
    out: &mut WriteQueue,
) -> (Encoder, bool) {
    let status = parts.status;
    let headers = &mut parts.headers;
    let mut keep_alive = request.keep_alive && !has_token(headers, CONNECTION, "close");
    headers.remove(TRANSFER_ENCODING);
    let length = content_length(headers).or(hint.exact());
    let encoder = if is_bodiless(status) {
        if status == StatusCode::NO_CONTENT || status.is_informational() {
            headers.remove(CONTENT_LENGTH);
        }
        Encoder::Done
    } else if let Some(len) = length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        if request.head_only || len == 0 {
            Encoder::Done
        } else {
            Encoder::Length(len)
        }
    } else if request.head_only {
        Encoder::Done
    } else if request.version == Version::HTTP_11 {
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        Encoder::Chunked
    } else {
        keep_alive = false;
        Encoder::UntilClose
    };
    if status != StatusCode::SWITCHING_PROTOCOLS {
        if !keep_alive {
            if !has_token(headers, CONNECTION, "close") {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
        } else if request.version == Version::HTTP_10 {
            headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
        }
    }
    if !headers.contains_key(DATE) {
        headers.insert(DATE, date::now());
    }
    out.push(encode_head(status, headers));
    (encoder, keep_alive)
}

/// The service's own `Content-Length`, when it set a valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn encode_head(status: StatusCode, headers: &HeaderMap) -> Bytes {
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let mut head = BytesMut::with_capacity(32 + fields);
    head.put_slice(b"HTTP/1.1 ");
    head.put_slice(status.as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.put_slice(b"\r\n");
    for (name, value) in headers {
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    head.put_slice(b"\r\n");
    head.freeze()
}

fn too_long() -> io::Error {
    io::Error::other("response body longer than its Content-Length")
}

impl Encoder {
    /// Whether the body is all sent.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Encoder::Done)
    }

    /// Queues a piece of the body.
    pub(crate) fn data(&mut self, data: Bytes, out: &mut WriteQueue) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        match self {
            Encoder::Length(left) => {
                let len = data.len() as u64;
                if len > *left {
                    return Err(too_long());
                }
                *left -= len;
                out.push(data);
                if *left == 0 {
                    *self = Encoder::Done;
                }
            }
            Encoder::Chunked => {
                let size = format!("{:x}\r\n", data.len());
                if data.len() < MERGE_CHUNK_BELOW {
                    let mut chunk = BytesMut::with_capacity(size.len() + data.len() + 2);
                    chunk.put_slice(size.as_bytes());
                    chunk.put_slice(&data);
                    chunk.put_slice(b"\r\n");
                    out.push(chunk.freeze());
                } else {
                    out.push(Bytes::from(size));
                    out.push(data);
                    out.push(Bytes::from_static(b"\r\n"));
                }
            }
            Encoder::UntilClose => out.push(data),
            Encoder::Done => {}
        }
        Ok(())
    }

    /// Ends the body, with trailers when it is chunked.
    pub(crate) fn end(
        &mut self,
        trailers: Option<&HeaderMap>,
        out: &mut WriteQueue,
    ) -> io::Result<()> {
        match self {
            Encoder::Length(left) if *left > 0 => {
                return Err(io::Error::other(format!(
                    "response body {left} bytes shorter than its Content-Length"
                )))
            }
            Encoder::Chunked => {
                let mut last = BytesMut::from(&b"0\r\n"[..]);
                for (name, value) in trailers.into_iter().flatten() {
                    last.put_slice(name.as_str().as_bytes());
                    last.put_slice(b": ");
                    last.put_slice(value.as_bytes());
                    last.put_slice(b"\r\n");
                }
                last.put_slice(b"\r\n");
                out.push(last.freeze());
            }
            _ => {}
        }
        *self = Encoder::Done;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(queue: &mut WriteQueue) -> String {
        let mut io = Vec::new();
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(queue.poll_flush(&mut cx, &mut io).is_ready());
        String::from_utf8(io).unwrap()
    }

    struct Noop;

    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }

    fn head(
        status: u16,
        hint: SizeHint,
        request: Answering,
        headers: &[(&'static str, &'static str)],
    ) -> (String, Encoder, bool) {
        let mut response = http::Response::new(());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        for (name, value) in headers {
            response
                .headers_mut()
                .insert(*name, HeaderValue::from_static(value));
        }
        let (mut parts, ()) = response.into_parts();
        let mut out = WriteQueue::default();
        let (encoder, keep_alive) = write_head(&mut parts, &hint, request, &mut out);
        (written(&mut out), encoder, keep_alive)
    }

    const H11: Answering = Answering {
        version: Version::HTTP_11,
        head_only: false,
        keep_alive: true,
    };

    #[test]
    fn delimits_bodies() {
        let (text, encoder, keep) = head(200, SizeHint::with_exact(5), H11, &[]);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("content-length: 5\r\n") && text.contains("date: "));
        assert!(text.ends_with("\r\n\r\n") && !text.contains("connection"));
        assert_eq!((encoder, keep), (Encoder::Length(5), true));

        let (text, encoder, _) = head(200, SizeHint::default(), H11, &[]);
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        assert_eq!(encoder, Encoder::Chunked);

        let h10 = Answering {
            version: Version::HTTP_10,
            ..H11
        };
        let (text, encoder, keep) = head(200, SizeHint::default(), h10, &[]);
        assert!(text.contains("connection: close\r\n") && !text.contains("chunked"));
        assert_eq!((encoder, keep), (Encoder::UntilClose, false));
        let (text, _, keep) = head(200, SizeHint::with_exact(1), h10, &[]);
        assert!(text.contains("connection: keep-alive\r\n") && keep);

        let head_only = Answering {
            head_only: true,
            ..H11
        };
        let (text, encoder, _) = head(200, SizeHint::with_exact(9), head_only, &[]);
        assert!(text.contains("content-length: 9\r\n"));
        assert_eq!(encoder, Encoder::Done);

        let (text, encoder, _) = head(204, SizeHint::default(), H11, &[]);
        assert!(!text.contains("chunked") && !text.contains("content-length"));
        assert_eq!(encoder, Encoder::Done);

        let (text, _, keep) = head(
            200,
            SizeHint::with_exact(0),
            H11,
            &[("connection", "close")],
        );
        assert!(text.contains("connection: close\r\n") && !keep);
    }

    #[test]
    fn chunks_and_lengths() {
        let mut out = WriteQueue::default();
        let mut chunked = Encoder::Chunked;
        chunked
            .data(Bytes::from_static(b"hello"), &mut out)
            .unwrap();
        chunked.data(Bytes::new(), &mut out).unwrap();
        chunked
            .data(Bytes::from(vec![b'x'; MERGE_CHUNK_BELOW]), &mut out)
            .unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", HeaderValue::from_static("1"));
        chunked.end(Some(&trailers), &mut out).unwrap();
        let text = written(&mut out);
        let big = "x".repeat(MERGE_CHUNK_BELOW);
        assert_eq!(
            text,
            format!("5\r\nhello\r\n400\r\n{big}\r\n0\r\nx-sum: 1\r\n\r\n")
        );

        let mut length = Encoder::Length(3);
        length.data(Bytes::from_static(b"ab"), &mut out).unwrap();
        assert!(length.end(None, &mut out).is_err(), "one byte short");
        let mut length = Encoder::Length(3);
        assert!(length.data(Bytes::from_static(b"abcd"), &mut out).is_err());
    }
}
