//! A small JSON writer for replies and pushes: exact control over which fields
//! are omitted (Centrifuge's omitempty) and raw embedded payloads copied as
//! they are, never reparsed.

/// Appends JSON to a buffer. Objects are flat: `open`/`close` nest, keys add
/// the separating commas themselves.
pub(crate) struct JsonWriter {
    pub(crate) buf: Vec<u8>,
    first: bool,
}

impl JsonWriter {
    pub(crate) fn with_capacity(n: usize) -> Self {
        JsonWriter {
            buf: Vec::with_capacity(n),
            first: true,
        }
    }

    /// `{`
    pub(crate) fn open(&mut self) -> &mut Self {
        self.buf.push(b'{');
        self.first = true;
        self
    }

    /// `}`
    pub(crate) fn close(&mut self) -> &mut Self {
        self.buf.push(b'}');
        self.first = false;
        self
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    /// A key that needs no escaping (the protocol's own field names).
    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self
    }

    /// A key from untrusted text (channel names, client ids, tag keys).
    pub(crate) fn key_escaped(&mut self, k: &str) -> &mut Self {
        self.sep();
        write_str(&mut self.buf, k);
        self.buf.push(b':');
        self
    }

    /// `"k":{`
    pub(crate) fn open_key(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.open()
    }

    pub(crate) fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        write_str(&mut self.buf, v);
        self
    }

    /// Omitted when empty.
    pub(crate) fn str_nonempty(&mut self, k: &str, v: &str) -> &mut Self {
        if !v.is_empty() {
            self.str(k, v);
        }
        self
    }

    pub(crate) fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        write_u64(&mut self.buf, v);
        self
    }

    /// Omitted when zero.
    pub(crate) fn u64_nonzero(&mut self, k: &str, v: u64) -> &mut Self {
        if v != 0 {
            self.u64(k, v);
        }
        self
    }

    /// `"k":true`, omitted when false.
    pub(crate) fn bool_true(&mut self, k: &str, v: bool) -> &mut Self {
        if v {
            self.key(k);
            self.buf.extend_from_slice(b"true");
        }
        self
    }

    /// Raw JSON copied as it is.
    pub(crate) fn raw(&mut self, k: &str, json: &[u8]) -> &mut Self {
        self.key(k);
        self.buf.extend_from_slice(json);
        self
    }

    pub(crate) fn raw_opt(&mut self, k: &str, json: Option<&[u8]>) -> &mut Self {
        if let Some(j) = json {
            self.raw(k, j);
        }
        self
    }

    /// A JSON array of raw JSON items.
    pub(crate) fn raw_array<'a>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = &'a [u8]>,
    ) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(item);
        }
        self.buf.push(b']');
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Appends `s` as a JSON string.
pub(crate) fn write_str(buf: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail and a &str always serialises.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// Appends the decimal digits of `v` without allocating.
pub(crate) fn write_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}
