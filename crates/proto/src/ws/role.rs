//! Which end of the connection this is.

/// The role of this endpoint: it decides who masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The accepting end: receives masked frames, sends unmasked ones.
    Server,
    /// The connecting end: masks every frame it sends.
    Client,
}
