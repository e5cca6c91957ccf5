//! Connected users and their connections.

use std::collections::HashMap;
use std::sync::Arc;

use super::ConnId;

/// Connected users → their connections. A connection is removed in
/// constant time by its place in its user's list (kept in its `Client`),
/// as one user may hold very many connections: every anonymous client is
/// the user `""`.
#[derive(Debug, Default)]
pub(crate) struct Users {
    map: HashMap<Arc<str>, Vec<ConnId>>,
}

impl Users {
    /// The connections of `user`.
    pub(crate) fn get(&self, user: &str) -> &[ConnId] {
        self.map.get(user).map_or(&[], Vec::as_slice)
    }

    /// Adds `conn` to `user`'s connections; returns its place there.
    pub(crate) fn add(&mut self, user: Arc<str>, conn: ConnId) -> usize {
        let list = self.map.entry(user).or_default();
        list.push(conn);
        list.len() - 1
    }

    /// Removes `conn`, at `place` in `user`'s connections. The connection
    /// that took its place, if any, is returned: its place is now `place`.
    pub(crate) fn remove(&mut self, user: &str, conn: ConnId, place: usize) -> Option<ConnId> {
        let list = self.map.get_mut(user)?;
        if list.get(place) != Some(&conn) {
            debug_assert!(false, "{conn:?} is not at {place} of {user:?}");
            list.retain(|&c| c != conn);
            return None;
        }
        list.swap_remove(place);
        let moved = list.get(place).copied();
        if list.is_empty() {
            self.map.remove(user);
        }
        moved
    }

    /// How many users are connected.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// How many connections they have.
    pub(crate) fn connections(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(index: u32) -> ConnId {
        ConnId {
            index,
            generation: 0,
        }
    }

    #[test]
    fn removal_moves_the_last_connection_into_the_gap() {
        let mut users = Users::default();
        let user: Arc<str> = "".into();
        let places: Vec<usize> = (0..4).map(|i| users.add(user.clone(), conn(i))).collect();
        assert_eq!(places, [0, 1, 2, 3]);
        assert_eq!(users.remove("", conn(1), 1), Some(conn(3)));
        assert_eq!(users.get(""), [conn(0), conn(3), conn(2)]);
        assert_eq!(
            users.remove("", conn(2), 2),
            None,
            "the last one: nothing moves"
        );
        assert_eq!(users.remove("", conn(0), 0), Some(conn(3)));
        assert_eq!(users.remove("", conn(3), 0), None);
        assert_eq!((users.len(), users.connections()), (0, 0));
        assert!(users.get("").is_empty());
    }
}
