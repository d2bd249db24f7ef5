//! voipkit-sdp: the SDP model and RFC 3264 offer/answer (being written).
//!
//! Owns: SDP parse/print and the offer/answer negotiation of a call's audio
//! stream, and the SDES keying types ([`CryptoSuite`], [`SrtpKeyingMaterial`])
//! that `voipkit-media` keys SRTP from.
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

mod crypto;

pub use crypto::{CryptoSuite, SrtpKeyingMaterial};
