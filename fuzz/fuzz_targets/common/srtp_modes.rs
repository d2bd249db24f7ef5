//! What the srtp_unprotect and srtcp_unprotect targets share: the first
//! byte picks the key (libsrtp's test keys, see
//! `voipkit_media::fuzzing::srtp_test_key`) and the mode; modes 0 and 2
//! check the same for both packet kinds, mode 1 (the round trip) is the
//! target's own. Then a media session keyed with the same key both ways.
// Each target uses one of `RTP` and `RTCP`.
#![allow(dead_code)]
use std::net::SocketAddr;
use std::time::Instant;

use voipkit_media::fuzzing::srtp_test_key;
use voipkit_media::srtp::{SrtpReceiver, SrtpSender};
use voipkit_media::{
    ChaCha20Rng, DropReason, MediaError, MediaSession, MediaSessionConfig, SeedableRng,
    SrtpKeyingMaterial, SrtpParameters,
};

/// One packet kind's protect and unprotect (SRTP or SRTCP).
pub struct Packets {
    pub protect: fn(&mut SrtpSender, &[u8], &mut Vec<u8>) -> Result<(), MediaError>,
    pub unprotect: fn(&mut SrtpReceiver, &[u8], &mut Vec<u8>) -> Result<(), DropReason>,
}

/// SRTP.
pub const RTP: Packets = Packets {
    protect: SrtpSender::protect_rtp,
    unprotect: SrtpReceiver::unprotect_rtp,
};

/// SRTCP.
pub const RTCP: Packets = Packets {
    protect: SrtpSender::protect_rtcp,
    unprotect: SrtpReceiver::unprotect_rtcp,
};

/// Runs the mode `data`'s first byte picks on the rest:
/// - 0: unprotect the rest (must never panic), and if it authenticates a
///   replay must be refused as such;
/// - 1: protect the rest, then `round_trip(rx, protected, out, rest)`
///   checks what unprotecting it gives;
/// - 2: protect, flip one bit chosen by the input: must be refused.
///
/// Returns the key and the rest (`None` for empty input).
pub fn run_mode<'a>(
    data: &'a [u8],
    packets: &Packets,
    round_trip: impl FnOnce(&mut SrtpReceiver, &[u8], &mut Vec<u8>, &[u8]),
) -> Option<(SrtpKeyingMaterial, &'a [u8])> {
    let (&sel, rest) = data.split_first()?;
    let k = srtp_test_key(sel).unwrap();
    let mut rx = SrtpReceiver::new(&k).unwrap();
    let mut out = Vec::new();
    match (sel >> 2) % 3 {
        0 => {
            if (packets.unprotect)(&mut rx, rest, &mut out).is_ok() {
                assert_eq!(
                    (packets.unprotect)(&mut rx, rest, &mut out),
                    Err(DropReason::Replayed)
                );
            }
        }
        mode => {
            let mut tx = SrtpSender::new(&k).unwrap();
            let mut enc = Vec::new();
            if (packets.protect)(&mut tx, rest, &mut enc).is_ok() {
                if mode == 1 {
                    round_trip(&mut rx, &enc, &mut out, rest);
                } else if !enc.is_empty() {
                    let i = usize::from(rest.first().copied().unwrap_or(0)) % enc.len();
                    let bit = 1u8 << (rest.last().copied().unwrap_or(0) % 8);
                    enc[i] ^= bit;
                    assert!((packets.unprotect)(&mut rx, &enc, &mut out).is_err());
                }
            }
        }
    }
    Some((k, rest))
}

/// A media session with 127.0.0.1:4000 for payload type `payload_type`
/// at 8 kHz, SRTP with `k` both ways, as `configure` leaves its config;
/// with the instant it was made at and its peer. `None` if the session
/// refuses the config.
pub fn keyed_session(
    k: SrtpKeyingMaterial,
    payload_type: u8,
    configure: impl FnOnce(&mut MediaSessionConfig),
) -> Option<(MediaSession, Instant, SocketAddr)> {
    let now = Instant::now();
    let peer = "127.0.0.1:4000".parse().unwrap();
    let mut cfg = MediaSessionConfig::new(peer, payload_type, 8000);
    configure(&mut cfg);
    cfg.srtp = Some(SrtpParameters {
        local: k.clone(),
        remote: k,
    });
    let s = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now).ok()?;
    Some((s, now, peer))
}
