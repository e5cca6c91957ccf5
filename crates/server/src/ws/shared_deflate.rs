//! A message many connections send alike (a publication to a channel's
//! subscribers) compressed once per thread rather than once per
//! connection, when the connections' compressors keep no context between
//! messages: their output then depends only on the message and the
//! compressor's key ([`Deflater::stateless_key`]).

use std::cell::RefCell;

use bytes::Bytes;
use pushwire_proto::ws::deflate::Deflater;

/// The last message compressed on this thread, and what it became. The
/// message itself is kept, so its buffer cannot be freed and reused for
/// another message while the entry stands.
struct Entry {
    message: Bytes,
    key: (u32, u8),
    compressed: Bytes,
}

thread_local! {
    static LAST: RefCell<Option<Entry>> = const { RefCell::new(None) };
}

/// Compresses `message` with `deflater`, or hands out what an equivalent
/// compressor made of the same buffer just before on this thread.
pub(crate) fn compress(deflater: &mut Deflater, message: &Bytes) -> Bytes {
    let Some(key) = deflater.stateless_key() else {
        return deflater.compress(message);
    };
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(entry) = last.as_ref() {
            let same = entry.key == key
                && entry.message.as_ptr() == message.as_ptr()
                && entry.message.len() == message.len();
            if same {
                return entry.compressed.clone();
            }
        }
        let compressed = deflater.compress(message);
        *last = Some(Entry {
            message: message.clone(),
            key,
            compressed: compressed.clone(),
        });
        compressed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_compression_for_the_same_buffer_and_key() {
        let message = Bytes::from(vec![b'a'; 500]);
        let mut first = Deflater::new(1, 15, true);
        let mut second = Deflater::new(1, 15, true);
        let a = compress(&mut first, &message);
        let b = compress(&mut second, &message);
        assert_eq!(a.as_ptr(), b.as_ptr(), "shared, not compressed again");
        // An equal message in another buffer, or another window size, is
        // compressed anew (to the same bytes for the same key).
        let copy = Bytes::from(message.to_vec());
        let c = compress(&mut second, &copy);
        assert_ne!(c.as_ptr(), a.as_ptr());
        assert_eq!(c, a);
        let mut narrow = Deflater::new(1, 10, true);
        let d = compress(&mut narrow, &copy);
        assert_ne!(d.as_ptr(), c.as_ptr());
        // A compressor with context takeover never shares.
        let mut stateful = Deflater::new(1, 15, false);
        let e = compress(&mut stateful, &copy);
        assert_ne!(e.as_ptr(), d.as_ptr());
    }
}
