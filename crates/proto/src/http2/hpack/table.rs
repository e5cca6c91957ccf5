//! The static table (RFC 7541 Appendix A) and the dynamic table
//! (section 2.3.2) that header fields are indexed in.

use std::collections::VecDeque;

use bytes::Bytes;

/// The static table: index 1 is the first entry.
#[rustfmt::skip]
pub(crate) const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What an entry costs beyond its name and value (RFC 7541 section 4.1).
const ENTRY_OVERHEAD: usize = 32;

/// The size of an entry, as the table counts it.
pub(crate) fn entry_size(name: &[u8], value: &[u8]) -> usize {
    name.len() + value.len() + ENTRY_OVERHEAD
}

/// A dynamic table: the newest entry first, the oldest evicted first
/// once the entries' sizes would exceed the maximum.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<(Bytes, Bytes)>,
    size: usize,
    max_size: usize,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    /// The sum of the entries' sizes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The entry at `index`, counted from 1 across both tables.
    pub(crate) fn get(&self, index: usize) -> Option<(Bytes, Bytes)> {
        match index {
            0 => None,
            1..=61 => {
                let (name, value) = STATIC[index - 1];
                Some((
                    Bytes::from_static(name.as_bytes()),
                    Bytes::from_static(value.as_bytes()),
                ))
            }
            _ => self.entries.get(index - 62).cloned(),
        }
    }

    /// Adds an entry, evicting the oldest ones to make room; an entry
    /// larger than the whole table empties it and is not added.
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let size = entry_size(&name, &value);
        self.evict_to(self.max_size.saturating_sub(size));
        if size <= self.max_size {
            self.size += size;
            self.entries.push_front((name, value));
        }
    }

    /// Sets the maximum size, evicting what no longer fits.
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    fn evict_to(&mut self, size: usize) {
        while self.size > size {
            let (name, value) = self.entries.pop_back().expect("size counts entries");
            self.size -= entry_size(&name, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_span_both_tables() {
        let mut table = DynamicTable::new(4096);
        table.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        table.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2"));
        assert_eq!(table.get(0), None);
        assert_eq!(table.get(2).unwrap().1, "GET");
        assert_eq!(table.get(61).unwrap().0, "www-authenticate");
        assert_eq!(table.get(62).unwrap().0, "b", "the newest entry first");
        assert_eq!(table.get(63).unwrap().0, "a");
        assert_eq!(table.get(64), None);
        assert_eq!(table.size(), 2 * 34);
    }

    #[test]
    fn evicts_the_oldest_and_refuses_what_never_fits() {
        let mut table = DynamicTable::new(70);
        table.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        table.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2"));
        table.insert(Bytes::from_static(b"c"), Bytes::from_static(b"3"));
        assert_eq!(table.get(62).unwrap().0, "c");
        assert_eq!(table.get(63).unwrap().0, "b");
        assert_eq!(table.get(64), None);
        table.insert(Bytes::from(vec![b'x'; 40]), Bytes::new());
        assert_eq!((table.size(), table.get(62)), (0, None));
        table.insert(Bytes::from_static(b"d"), Bytes::from_static(b"4"));
        table.set_max_size(0);
        assert_eq!((table.size(), table.get(62)), (0, None));
    }
}
