//! voipkit-media: the sans-IO media session of one call's audio stream.
//!
//! # What it owns
//! - [`MediaSession`]: one call stream's RTP sender (SSRC, sequence number
//!   and timestamp from the caller's seeded RNG, talk-spurt marker), its
//!   receive path (demultiplexing by first byte, RFC 7983 / RFC 5761; SRTP
//!   authentication; RTP parsing; symmetric RTP latching, RFC 4961; SSRC
//!   changes; statistics), RTCP (SR/RR, SDES CNAME, BYE, compound packets,
//!   rtcp-mux, the RFC 3550 §6.3 randomised interval with reconsideration),
//!   RFC 4733 DTMF both ways (a start and an end event per received
//!   digit), STUN Binding (RFC 8489) to learn the public address and
//!   RFC 6263 keep-alives; the negotiated direction, enforced (RFC 3264:
//!   [`MediaSessionConfig::direction`]); re-negotiation in one call
//!   ([`MediaSession::apply_negotiated`]: addresses, direction, SRTP
//!   re-key, payload types, a codec change with a new SSRC when the clock
//!   rate changes).
//! - [`dtmf`]: RFC 4733 events, also when the telephone-event's declared
//!   rate differs from the audio's (Opus with `telephone-event/8000`, as
//!   Asterisk and desk phones negotiate): timestamps on the audio clock,
//!   durations in the declared rate
//!   ([`MediaSessionConfig::telephone_event_clock_rate`]); see the module
//!   doc for why.
//! - [`srtp`]: SRTP/SRTCP over `webrtc-srtp`, with our own replay windows
//!   and the length/E-flag/SSRC-state guards that crate lacks (see the
//!   module doc for why).
//! - [`rtcp`]: a zero-copy validating RTCP reader (ours: `rtcp::unmarshal`
//!   boxes every sub-packet and drops a whole compound on one quirk) and
//!   compound packet building with the `rtcp` crate.
//! - [`MediaStats`]: per-call statistics both ways (packets, bytes, loss,
//!   RFC 3550 A.8 jitter, RTT from LSR/DLSR, E-model MOS, drops by
//!   [`DropReason`]).
//!
//! # What it does not own
//! Sockets, clocks, threads (the driver's), codecs and the jitter buffer
//! (`voipkit-codec` takes [`ReceivedRtp`] from [`MediaSession::poll_rtp`]
//! and [`NonAudioRtp`] from [`MediaSession::poll_non_audio`]),
//! SDP and the offer/answer that fills [`MediaSessionConfig`]
//! (`voipkit-sdp`: [`MediaSessionConfig::from_negotiated`] takes its
//! `NegotiatedAudio`; its [`SrtpParameters`] (with [`CryptoSuite`] and
//! [`SrtpKeyingMaterial`]) key
//! our SRTP), and SIP.
//!
//! # Driving a session
//! ```no_run
//! # use std::time::{Duration, Instant};
//! # use voipkit_media::*;
//! let now = Instant::now();
//! let remote = "127.0.0.1:40002".parse().unwrap();
//! let mut cfg = MediaSessionConfig::new(remote, 0, 8000); // PCMU
//! cfg.telephone_event_payload_type = Some(101);
//! let mut session = MediaSession::new(cfg, ChaCha20Rng::from_os_rng(), now).unwrap();
//! // Every 20 ms from the media thread:
//! session.send_audio(now, &[0xd5; 160], 160).unwrap();
//! // On a datagram: session.handle_input(now, from, &bytes);
//! // At session.poll_timeout(): session.handle_timeout(now);
//! // After any of these, drain:
//! while let Some(t) = session.poll_transmit() { /* socket.send_to(&t.contents, t.destination) */
//!     session.recycle(t.contents); }
//! while let Some(p) = session.poll_rtp() { /* jitter buffer */ session.recycle(p.payload); }
//! while let Some(n) = session.poll_non_audio() { /* DTMF: jitter buffer's insert_non_audio */ }
//! while let Some(e) = session.poll_event() { /* DTMF, latching, STUN, BYE */ }
//! ```
//! Hand buffers back with [`MediaSession::recycle`]: the plain RTP send and
//! receive paths then allocate nothing; with SRTP the only per-packet
//! allocation is `webrtc-srtp`'s own output buffer (tests/alloc.rs).
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
#[doc(hidden)]
pub mod fuzzing;
pub mod rtcp;
pub mod rtp;
mod session;
pub mod srtp;
mod stats;
pub mod stun;
mod wire;

pub use dtmf::{DtmfDigit, DtmfReport, DtmfUpdate};
pub use emodel::CodecImpairment;
pub use error::{DropCounters, DropReason, MediaError};
/// To seed a [`ChaCha20Rng`] (`ChaCha20Rng::seed_from_u64`, `from_os_rng`).
pub use rand::SeedableRng;
/// The RNG a session draws from (re-exported so callers can seed one).
pub use rand_chacha::ChaCha20Rng;
pub use session::{
    KeepAlive, KeepAliveKind, MediaEvent, MediaSession, MediaSessionConfig, MediaSocket,
    NOMINAL_REMOTE_PLAYOUT_DELAY, NonAudioRtp, ReceivedRtp, Transmit, TransmitKind,
};
pub use stats::{InboundStats, MediaStats, OutboundStats, RemoteReport, RttStats};
pub use stun::StunTiming;
pub use voipkit_sdp::{CryptoSuite, Direction, SrtpKeyingMaterial, SrtpParameters};
