//! The open-file limit: every connection holds a file descriptor, and many
//! systems start a process with a soft limit of 1,024.

/// Descriptors kept for what is not a connection: the runtime, the
/// listener, standard streams, files served.
const RESERVED: u64 = 64;

/// Raises this process's soft limit on open files to its hard limit, and
/// warns when even that is below what `max_connections` needs.
pub fn raise_for(max_connections: Option<usize>) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::debug!("open files limit: {limit}");
            if let Some(max) = max_connections {
                if (max as u64).saturating_add(RESERVED) > limit {
                    tracing::warn!(
                        "the open files limit ({limit}) is below --max-connections ({max}) \
                         plus {RESERVED}: connections past it will be refused by the system; \
                         raise the hard limit (ulimit -Hn) or lower --max-connections"
                    );
                }
            }
        }
        Err(e) => tracing::warn!("could not raise the open files limit: {e}"),
    }
}
