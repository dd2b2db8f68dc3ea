//! Errors of the client, split by who caused them.

use gearman_proto::PacketType;

/// The server broke the protocol: the connection should be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A reply nothing was waiting for.
    #[error("unexpected {0}")]
    Unexpected(PacketType),
}
