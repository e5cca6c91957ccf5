//! The messages the generator sends: JSON-like ASCII text of an exact
//! size, the kind of message a web application pushes (and one that
//! permessage-deflate compresses the way real traffic compresses).

/// A JSON-like text of exactly `size` bytes (ASCII, so valid UTF-8).
///
/// Sizes below 20 bytes are padded with spaces; 20 bytes is
/// `{"seq":1,"msg":"hi"}`.
pub fn json_like(size: usize) -> String {
    const SMALL: &str = r#"{"seq":1,"msg":"hi"}"#;
    if size <= SMALL.len() {
        return SMALL[..size].to_owned();
    }
    let mut text = String::with_capacity(size + 128);
    text.push('[');
    let mut id = 0u32;
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let words = [
        "the build is green",
        "deploy at noon",
        "who has the key?",
        "lunch?",
        "ship it",
    ];
    while text.len() < size {
        if id > 0 {
            text.push(',');
        }
        text.push_str(&format!(
            r#"{{"id":{},"room":"general","user":"{}","type":"chat.message","text":"{}","ts":{}}}"#,
            1000 + id,
            users[id as usize % users.len()],
            words[(id as usize * 7) % words.len()],
            1_700_000_000_000u64 + u64::from(id) * 137
        ));
        id += 1;
    }
    // Cut to size and close the array, keeping it ASCII.
    text.truncate(size - 1);
    text.push(']');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_exact() {
        for size in [0, 1, 19, 20, 21, 100, 1024, 16 * 1024] {
            let text = json_like(size);
            assert_eq!(text.len(), size, "size {size}");
            assert!(text.is_ascii());
        }
        assert_eq!(json_like(20), r#"{"seq":1,"msg":"hi"}"#);
    }
}
