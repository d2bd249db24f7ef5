//! The crate's one error type.

use thiserror::Error;

use crate::message::ParseError;

/// What went wrong in a command or with an input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a SIP message.
    #[error("parse error: {0}")]
    Parse(#[from] ParseError),
    /// No call with this handle (ended, or never existed).
    #[error("no such call")]
    NoSuchCall,
    /// No registration with this handle.
    #[error("no such registration")]
    NoSuchRegistration,
    /// The command does not fit the call's state (e.g. answering an
    /// outgoing call, re-INVITE before the call is answered).
    #[error("invalid in the call's current state: {0}")]
    InvalidState(&'static str),
    /// An offer/answer exchange is already in progress on this call
    /// (RFC 3261 §14.1; retry when it completes).
    #[error("an offer/answer exchange is already in progress")]
    RequestPending,
    /// The next hop can't be turned into a socket address without DNS: use
    /// an IP address in the URI or configure an outbound proxy.
    #[error("cannot resolve next hop {0} (no DNS in the core: use an IP or an outbound proxy)")]
    Unresolvable(String),
    /// No local address is configured for the transport the request needs.
    #[error("no local address configured for {0}")]
    NoLocalAddress(&'static str),
    /// A status code that is not allowed for this command.
    #[error("status code {0} not allowed here")]
    BadStatus(u16),
    /// A URI or header given to a command is malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}
