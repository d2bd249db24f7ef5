#![no_main]
//! Fuzz target srtp_unprotect. The first byte picks the suite (keys are
//! libsrtp's test keys, so its reference vectors are valid inputs) and the
//! mode:
//! - 0: unprotect the rest as SRTP (must never panic; what authenticates
//!   must parse as RTP or be dropped);
//! - 1: protect the rest as RTP, unprotect: must give it back, and a replay
//!   must be refused;
//! - 2: protect, flip one bit chosen by the input: must be refused.
//! Then the bytes go through an SRTP media session.
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

use voipkit_media::fuzzing::srtp_test_key;
use voipkit_media::srtp::{SrtpReceiver, SrtpSender};
use voipkit_media::{
    ChaCha20Rng, DropReason, MediaSession, MediaSessionConfig, SeedableRng, SrtpConfig,
};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let k = srtp_test_key(sel).unwrap();
    let mut rx = SrtpReceiver::new(&k).unwrap();
    let mut out = Vec::new();
    match (sel >> 2) % 3 {
        0 => {
            if rx.unprotect_rtp(rest, &mut out).is_ok() {
                assert_eq!(rx.unprotect_rtp(rest, &mut out), Err(DropReason::Replayed));
            }
        }
        mode => {
            let mut tx = SrtpSender::new(&k).unwrap();
            let mut enc = Vec::new();
            if tx.protect_rtp(rest, &mut enc).is_ok() {
                if mode == 1 {
                    // What was protected authenticates and comes back intact,
                    // unless its header is one the receiver refuses anyway.
                    if rx.unprotect_rtp(&enc, &mut out).is_ok() {
                        assert_eq!(out, rest);
                        assert!(rx.unprotect_rtp(&enc, &mut out).is_err());
                    }
                } else if !enc.is_empty() {
                    let i = usize::from(rest.first().copied().unwrap_or(0)) % enc.len();
                    let bit = 1u8 << (rest.last().copied().unwrap_or(0) % 8);
                    enc[i] ^= bit;
                    assert!(rx.unprotect_rtp(&enc, &mut out).is_err());
                }
            }
        }
    }
    let now = Instant::now();
    let peer = "127.0.0.1:4000".parse().unwrap();
    let mut cfg = MediaSessionConfig::new(peer, 15, 8000);
    cfg.telephone_event_payload_type = Some(101);
    cfg.srtp = Some(SrtpConfig {
        local: k.clone(),
        remote: k,
    });
    if let Ok(mut s) = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now) {
        s.handle_input(now, peer, rest);
        s.handle_input(now, peer, rest);
        while let Some(p) = s.poll_rtp() {
            s.recycle(p.payload);
        }
        assert!(s.stats().inbound.packets <= 1);
    }
});
