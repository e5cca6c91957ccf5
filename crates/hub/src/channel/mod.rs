//! Channels and namespaces: name parsing, namespace options, resolution.

mod name;
mod options;

use std::collections::HashMap;
use std::sync::Arc;

pub use name::{glob_match, ChannelName};
pub use options::{Namespace, NamespaceOptions, SlowConsumerPolicy};

use crate::config::ChannelConfig;
use crate::protocol::ErrorCode;

/// Resolves channel names to their namespace's options.
#[derive(Debug, Clone)]
pub(crate) struct Namespaces {
    without: Arc<NamespaceOptions>,
    named: HashMap<String, Arc<NamespaceOptions>>,
    pub(crate) max_length: usize,
}

impl Namespaces {
    pub(crate) fn new(cfg: &ChannelConfig) -> Self {
        Namespaces {
            without: Arc::new(cfg.without_namespace.clone()),
            named: cfg
                .namespaces
                .iter()
                .map(|n| (n.name.clone(), Arc::new(n.options.clone())))
                .collect(),
            max_length: cfg.max_length,
        }
    }

    /// Parses `channel` and finds its options: 107 for a bad name, 102 for an
    /// unknown namespace.
    pub(crate) fn resolve<'a>(
        &self,
        channel: &'a str,
    ) -> Result<(ChannelName<'a>, &Arc<NamespaceOptions>), ErrorCode> {
        let name = ChannelName::parse(channel, self.max_length)?;
        let opts = match name.namespace {
            None => &self.without,
            Some(ns) => self.named.get(ns).ok_or(ErrorCode::UNKNOWN_CHANNEL)?,
        };
        Ok((name, opts))
    }
}
