//! Reading an HTTP/2 connection's bytes into frames: the client's
//! preface, then one frame after another, each payload a slice of the
//! read buffer (no copy until a stream's reader takes it).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use pushwire_proto::http2::frame::{self, FrameError, FrameHeader, HEADER_LEN, PREFACE};
use pushwire_proto::http2::ErrorCode;
use tokio::io::AsyncRead;

/// The read buffer's size: a 16 KiB message and its frame header, or a
/// burst of small ones, in one system call. No larger, so the allocator
/// serves it from its thread cache: the buffer is given back whenever
/// it is empty.
const READ_CHUNK: usize = 32 << 10;

/// The least room kept ahead of a read.
const MIN_ROOM: usize = 4 << 10;

/// The read side of a connection.
pub(crate) struct FrameReader {
    buf: BytesMut,
    /// The longest frame accepted, as the server's SETTINGS announce.
    max_frame_size: u32,
}

impl FrameReader {
    /// A reader that starts with the bytes read before the protocol was
    /// known.
    pub(crate) fn new(prefix: Bytes, max_frame_size: u32) -> Self {
        FrameReader {
            buf: BytesMut::from(&prefix[..]),
            max_frame_size,
        }
    }

    /// Reads the client's preface and the header of the frame after it,
    /// which must be SETTINGS (section 3.4); the preface is dropped, the
    /// SETTINGS frame stays to be read.
    pub(crate) fn poll_preface<I: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut I,
    ) -> Poll<io::Result<()>> {
        loop {
            // What arrived of the preface is checked as it arrives.
            let have = self.buf.len().min(PREFACE.len());
            if self.buf[..have] != PREFACE[..have] {
                return Poll::Ready(Err(invalid("not the HTTP/2 connection preface")));
            }
            if self.buf.len() >= PREFACE.len() + HEADER_LEN {
                break;
            }
            if ready!(self.poll_fill(cx, io))? == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        let _ = self.buf.split_to(PREFACE.len());
        let header = self.header().expect("a whole header");
        if header.kind != frame::kind::SETTINGS || header.flags & frame::flag::ACK != 0 {
            return Poll::Ready(Err(invalid("the preface is not followed by SETTINGS")));
        }
        Poll::Ready(Ok(()))
    }

    fn header(&self) -> Option<FrameHeader> {
        let bytes = self.buf.get(..HEADER_LEN)?;
        Some(FrameHeader::parse(bytes.try_into().expect("9 bytes")))
    }

    /// The next whole frame read, if there is one: its header and
    /// payload. A frame longer than the server allows fails the
    /// connection.
    pub(crate) fn next_frame(&mut self) -> Option<Result<(FrameHeader, Bytes), FrameError>> {
        let header = self.header()?;
        if header.len > self.max_frame_size {
            return Some(Err(FrameError::connection(
                ErrorCode::FRAME_SIZE_ERROR,
                "frame longer than SETTINGS_MAX_FRAME_SIZE",
            )));
        }
        let len = HEADER_LEN + header.len as usize;
        if self.buf.len() < len {
            // Room for the whole frame, so that it arrives in place.
            self.buf.reserve(len - self.buf.len());
            return None;
        }
        let mut frame = self.buf.split_to(len).freeze();
        let payload = frame.split_off(HEADER_LEN);
        Some(Ok((header, payload)))
    }

    /// Reads once from `io`; returns the bytes read, 0 at its end.
    pub(crate) fn poll_fill<I: AsyncRead + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut I,
    ) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf
                .reserve(READ_CHUNK.saturating_sub(self.buf.len()).max(MIN_ROOM));
        }
        tokio_util::io::poll_read_buf(Pin::new(io), cx, &mut self.buf)
    }

    /// Gives back the buffer's memory while no bytes are in it: an idle
    /// connection keeps none.
    pub(crate) fn release_if_empty(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }
}

fn invalid(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}
