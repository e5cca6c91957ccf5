//! Telling HTTP/2 by prior knowledge from HTTP/1.x on one port: read the
//! first bytes (within a deadline) and compare them with the HTTP/2
//! connection preface; the protocol chosen starts from them.

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// What every HTTP/2 connection starts with (RFC 9113 section 3.4).
use pushwire_proto::http2::frame::PREFACE;

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

/// Reads from `io` until the bytes read either are the HTTP/2 preface or
/// cannot become it. `Ok(None)`: the peer closed before sending anything.
pub(crate) async fn sniff<I: AsyncRead + Unpin>(
    io: &mut I,
) -> io::Result<Option<(Protocol, Bytes)>> {
    let mut buf = BytesMut::with_capacity(PREFACE.len());
    loop {
        let n = buf.len().min(PREFACE.len());
        if buf[..n] != PREFACE[..n] {
            return Ok(Some((Protocol::Http1, buf.freeze())));
        }
        if n == PREFACE.len() {
            return Ok(Some((Protocol::Http2, buf.freeze())));
        }
        if io.read_buf(&mut buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Ok(Some((Protocol::Http1, buf.freeze())))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sniffed(chunks: &[&[u8]]) -> Option<(Protocol, Bytes)> {
        let mut builder = tokio_test_io(chunks);
        sniff(&mut builder).await.unwrap()
    }

    /// A reader yielding `chunks` one read at a time.
    fn tokio_test_io(chunks: &[&[u8]]) -> impl AsyncRead + Unpin {
        let (mut tx, rx) = tokio::io::duplex(1024);
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in chunks {
                tx.write_all(&chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        rx
    }

    #[tokio::test]
    async fn tells_the_protocols_apart() {
        let (p, bytes) = sniffed(&[b"PRI * HTTP/2.0\r\n", b"\r\nSM\r\n\r\n\0\0"])
            .await
            .unwrap();
        assert_eq!(p, Protocol::Http2);
        assert!(bytes.starts_with(PREFACE));
        let (p, bytes) = sniffed(&[b"GET / HTTP/1.1\r\n"]).await.unwrap();
        assert_eq!(
            (p, &bytes[..]),
            (Protocol::Http1, &b"GET / HTTP/1.1\r\n"[..])
        );
        let (p, _) = sniffed(&[b"PR", b"X"]).await.unwrap();
        assert_eq!(p, Protocol::Http1);
        assert_eq!(sniffed(&[]).await, None);
    }
}
