//! voipkit-media: the sans-IO media session of one call's audio stream.
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

pub mod demux;
pub mod dtmf;
pub mod emodel;
mod error;
pub mod rtcp;
pub mod rtp;
mod session;
pub mod srtp;
mod stats;
pub mod stun;
mod wire;

pub use dtmf::{DtmfDigit, DtmfReport};
pub use emodel::CodecImpairment;
pub use error::{DropCounters, DropReason, MediaError};
/// To seed a [`ChaCha20Rng`] (`ChaCha20Rng::seed_from_u64`, `from_os_rng`).
pub use rand::SeedableRng;
/// The RNG a session draws from (re-exported so callers can seed one).
pub use rand_chacha::ChaCha20Rng;
pub use session::{
    KeepAlive, KeepAliveKind, MediaEvent, MediaSession, MediaSessionConfig, MediaSocket,
    ReceivedRtp, SrtpConfig, Transmit, TransmitKind,
};
pub use stats::{InboundStats, MediaStats, OutboundStats, RemoteReport, RttStats};
pub use stun::StunTiming;
pub use voipkit_sdp::{CryptoSuite, SrtpKeyingMaterial};
