//! voipkit-sip: sans-IO SIP signalling.
//!
//! Owns: the SIP message model, its parser and printer ([`message`]), stream
//! framing for TCP/TLS, transactions ([`transaction`]: RFC 3261 §17 with
//! RFC 6026), and the user-agent core ([`UserAgent`], in [`ua`]): dialogs
//! and INVITE sessions (forking, CANCEL, BYE, re-INVITE/UPDATE with glare,
//! 100rel/PRACK, session timers, REFER, INFO, OPTIONS) and the
//! registration client with digest authentication ([`auth`]: MD5,
//! SHA-256, -sess, auth-int), rport learning and RFC 8599 push parameters.
//!
//! Everything is sans-IO: [`UserAgent::handle_input`],
//! [`UserAgent::handle_timeout`], [`UserAgent::poll_transmit`],
//! [`UserAgent::poll_timeout`], [`UserAgent::poll_event`], with time passed
//! in, deadlines in an ordered map, and a caller-seeded `ChaCha20Rng` for
//! tags, branches, Call-IDs and cnonces.
//!
//! Does not own: sockets, clocks, tasks, DNS (RFC 3263: next hops must be
//! IP addresses, or go through a configured outbound proxy; the driver in
//! the `voipkit` crate resolves names), SDP (`voipkit-sdp`; bodies are
//! opaque bytes here), media.
//!
//! Why our own parser: rsip 0.4 (measured, see the workspace notes) drops
//! compact header forms, fails on folded lines and on IPv6 hosts, rejects
//! `algorithm=SHA-256`, loses comma-joined Via hops and does not enforce
//! Content-Length; it is also several times slower on the same bytes
//! (`benches/sip.rs` runs both). It is kept as a dev-dependency to
//! cross-check. How ours stays fast is in the [`message`] module doc.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod auth;
mod error;
pub mod message;
pub mod timer;
pub mod transaction;
pub mod transport;
pub mod ua;

pub use auth::{Challenge, Credentials, DigestAlgorithm, Qop, Secret};
pub use error::Error;
pub use timer::TimerConfig;
pub use transaction::TransactionStats;
pub use transport::{Transmit, Transport};
pub use ua::{
    CallHandle, CallState, EndReason, Event, IncomingCall, OutgoingCall, PushParams, ReasonHeader,
    RegistrationConfig, RegistrationFailure, RegistrationHandle, RegistrationState, RequestHandle,
    SessionTimerConfig, UaConfig, UaStats, UserAgent,
};

pub use message::{
    CSeq, Framing, Header, HeaderName, HeaderRef, Headers, Host, Limits, Message, MessageKeys,
    Method, NameAddr, Param, Params, ParseError, Request, Response, SipMessage, SipStr, SipUri,
    StatusCode, StreamFramer, StreamItem, Uri, Via,
};
pub use message::{
    Rejection, UasCapabilities, Verdict, inspect, validate_request, validate_response,
};
