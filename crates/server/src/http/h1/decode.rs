//! Reading an HTTP/1.1 request body: the sans-IO decoder is
//! [`pushwire_proto::http1::BodyDecoder`]; this adds what the server's
//! body needs of the framing.

use http_body::SizeHint;
pub(crate) use pushwire_proto::http1::{BodyDecoder as Decoder, Framing, Piece};

/// What a body's length is known to be, from its framing.
pub(crate) fn size_hint(framing: Framing) -> SizeHint {
    match framing {
        Framing::Empty => SizeHint::with_exact(0),
        Framing::Length(len) => SizeHint::with_exact(len),
        Framing::Chunked => SizeHint::default(),
    }
}
