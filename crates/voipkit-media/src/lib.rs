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
mod error;
pub mod rtp;
pub mod srtp;
mod wire;

pub use error::{DropCounters, DropReason, MediaError};
