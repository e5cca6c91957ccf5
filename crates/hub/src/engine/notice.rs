//! What a hub on a remote engine learns about the other nodes, for the IO
//! layer to log.

/// A change among the nodes, or a survey that went without some of them
/// (from [`Hub::poll_cluster_notice`](crate::Hub::poll_cluster_notice)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterNotice {
    /// A node was heard from for the first time (or again, after it was
    /// taken for gone).
    NodeJoined {
        /// Its id.
        uid: String,
    },
    /// A node said it stops.
    NodeLeft {
        /// Its id.
        uid: String,
    },
    /// A node was not heard from for three report intervals: it is taken
    /// for gone.
    NodeLost {
        /// Its id.
        uid: String,
    },
    /// A `channels` call was answered without these live nodes, which did
    /// not answer its survey in time.
    SurveyIncomplete {
        /// Their ids.
        missing: Vec<String>,
    },
}
