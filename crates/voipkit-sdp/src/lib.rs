//! voipkit-sdp: the SDP model (RFC 8866) and RFC 3264 offer/answer for a
//! call's audio stream.
//!
//! Owns:
//! - parsing and printing SDP ([`SessionDescription`]), with typed views of
//!   the attributes offer/answer needs ([`RtpMap`], [`FormatParameters`],
//!   [`CryptoAttribute`], [`Direction`], [`RtcpAttribute`]);
//! - offer/answer ([`SdpSession`]): offers from local capabilities
//!   ([`MediaConfig`]: Opus, PCMU, PCMA, telephone-event at each codec's
//!   clock rate, ptime, rtcp-mux, SDES `a=crypto`), answers, re-offers
//!   (hold/resume, codec change, new address, re-keying), `o=` versions;
//! - the telephone-event rate policy: answers and accepted answers take the
//!   peer's event at the codec's clock rate, else at 8000 Hz, else its
//!   first (Asterisk, desk phones, PJSIP and baresip pair Opus with
//!   `telephone-event/8000` only), mirroring its number and rate; the
//!   negotiated [`TelephoneEvent`] says both the event's declared rate
//!   (duration units) and the audio clock rate (timestamp units);
//! - the result the media layer consumes: [`NegotiatedAudio`];
//! - the SDES keying types shared with `voipkit-media`: [`CryptoSuite`],
//!   [`SrtpKeyingMaterial`].
//!
//! Does not own: SIP (which message carries an offer or answer, 488/491 —
//! `voipkit-sip` and the call layer), DNS (host names in `c=` are resolved
//! by the driver and fed back with
//! [`SessionDescription::resolve_hostnames`]), sockets, ICE, DTLS-SRTP,
//! video, or SRTP itself (`voipkit-media`).
//!
//! # Why our own model, not sdp-types
//!
//! sdp-types 0.3 round-trips what we need and never panicked under
//! mutation, but it keeps connection addresses as plain strings (we need
//! typed IP/host addresses for `SocketAddr`s, IPv6 and the `0.0.0.0` hold
//! convention), and its leniency towards what phones actually send (missing
//! `t=`, `s=` empty, lines out of order, a `c=` after `t=` as in RFC 3264
//! §9) is not ours to tune. The part of SDP a softphone needs is small:
//! owning it gives precise, line-numbered errors, hard size bounds, verbatim
//! preservation of everything we do not interpret (unknown attributes and
//! line types), redaction of keys in `Debug`, and one dependency less.
//!
//! # Tolerance and bounds
//!
//! Accepted: CRLF or LF line ends, blank lines, `s=` / `s= ` / no `s=`, no
//! `t=`, any line order within a section, unknown attributes and line types
//! (kept verbatim), `a=crypto` on `RTP/AVP`, fmtp with spaces. Rejected with
//! [`SdpError`]: bodies over [`MAX_SDP_LEN`] bytes, more than [`MAX_MEDIA`]
//! m-lines, [`MAX_FORMATS`] formats or [`MAX_ATTRIBUTES`] attributes per
//! section, non-UTF-8, NUL or bare CR, malformed `v= o= c= m=` lines.
//! Nothing here panics on any input (fuzz target `sdp_parse`).
//!
//! # Example
//!
//! ```
//! use rand::SeedableRng;
//! use voipkit_sdp::{MediaConfig, SdpSession, SessionDescription};
//!
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let mut alice = SdpSession::new(MediaConfig::default(), "127.0.0.1:4000".parse().unwrap(), &mut rng);
//! let mut bob = SdpSession::new(MediaConfig::default(), "127.0.0.1:5000".parse().unwrap(), &mut rng);
//!
//! let offer = alice.create_offer(&mut rng).unwrap();
//! // ... the offer travels as text ...
//! let offer: SessionDescription = offer.to_string().parse().unwrap();
//! let answer = bob.answer_offer(&offer, &mut rng).unwrap();
//! let audio = alice.accept_answer(&answer.sdp).unwrap().unwrap();
//! assert_eq!(audio.codec.name(), "opus");
//! assert_eq!(audio.remote_rtp, "127.0.0.1:5000".parse().unwrap());
//! assert!(audio.srtp.is_some());
//! ```
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

mod attributes;
mod crypto;
mod error;
mod model;
mod negotiation;

pub use attributes::{CryptoAttribute, Direction, FormatParameters, RtcpAttribute, RtpMap};
pub use crypto::{CryptoSuite, SrtpKeyingMaterial};
pub use error::{RejectReason, SdpError};
pub use model::{
    Address, AddressType, Attribute, Connection, MAX_ATTRIBUTES, MAX_FORMATS, MAX_MEDIA,
    MAX_SDP_LEN, MediaDescription, Origin, OtherLine, SessionDescription, TimeDescription,
};
/// The RNG trait [`SdpSession`] draws session ids and SRTP keys from (the
/// caller passes a seeded `rand_chacha::ChaCha20Rng`).
pub use rand::RngCore;

pub use negotiation::{
    Answer, AudioCodec, MediaConfig, NegotiatedAudio, NegotiatedCodec, RejectedStream, SdpSession,
    SrtpParameters, SrtpPolicy, TelephoneEvent,
};
