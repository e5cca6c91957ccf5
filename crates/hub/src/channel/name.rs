//! Channel names: `[$][ns:]rest[#user1,user2]`.
//!
//! * `ns:` selects the namespace's options (no `:` → `channel.without_namespace`);
//! * a leading `$` marks a private channel: subscribing needs a subscription token;
//! * `#` starts the user boundary: `news#42` may be subscribed only by user 42,
//!   `dialog#42,43` by users 42 and 43 (when the namespace sets
//!   `allow_user_limited_channels`).

use crate::protocol::ErrorCode;

/// A channel name split into its parts. Borrowed from the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName<'a> {
    /// The whole name.
    pub full: &'a str,
    /// The namespace, if the name has a `:`.
    pub namespace: Option<&'a str>,
    /// Whether the name starts with `$`.
    pub private: bool,
    /// The allowed users after `#`, if any (comma-separated).
    pub users: Option<&'a str>,
}

impl<'a> ChannelName<'a> {
    /// Parses a name, checking it is non-empty and at most `max_len` bytes
    /// (else error 107 bad request).
    ///
    /// ```
    /// use pushwire_hub::channel::ChannelName;
    /// let c = ChannelName::parse("$chat:dialog#42,43", 255).unwrap();
    /// assert_eq!(c.namespace, Some("chat"));
    /// assert!(c.private);
    /// assert!(c.user_allowed("43") && !c.user_allowed("4"));
    /// assert_eq!(ChannelName::parse(&"x".repeat(256), 255).unwrap_err().code, 107);
    /// ```
    pub fn parse(full: &'a str, max_len: usize) -> Result<Self, ErrorCode> {
        if full.is_empty() || full.len() > max_len {
            return Err(ErrorCode::BAD_REQUEST);
        }
        let private = full.starts_with('$');
        let rest = full.strip_prefix('$').unwrap_or(full);
        let namespace = rest.split_once(':').map(|(ns, _)| ns);
        let users = full.rsplit_once('#').map(|(_, u)| u);
        Ok(ChannelName {
            full,
            namespace,
            private,
            users,
        })
    }

    /// Whether the name is user-limited and lists `user`.
    pub fn user_allowed(&self, user: &str) -> bool {
        match self.users {
            Some(list) if !user.is_empty() => list.split(',').any(|u| u == user),
            _ => false,
        }
    }
}

/// Matches a channel name against a glob pattern: `*` any run, `?` any one
/// character, `\` escapes the next one. Used by the server API's `channels`.
///
/// ```
/// use pushwire_hub::channel::glob_match;
/// assert!(glob_match("chat:*", "chat:room1"));
/// assert!(glob_match("a?c", "abc"));
/// assert!(!glob_match("chat:*", "news:1"));
/// ```
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`:
    // linear in practice, never recursive.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
