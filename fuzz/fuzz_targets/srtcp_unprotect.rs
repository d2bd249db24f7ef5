#![no_main]
//! Fuzz target srtcp_unprotect: the first byte picks the suite (libsrtp's
//! test keys, so its SRTCP vectors are valid inputs) and the mode:
//! 0 unprotect the rest; 1 protect the rest as RTCP and unprotect (round
//! trip, then replay refused); 2 protect and flip a bit (refused). Then
//! through an SRTP media session's RTCP path.
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
            if rx.unprotect_rtcp(rest, &mut out).is_ok() {
                assert_eq!(rx.unprotect_rtcp(rest, &mut out), Err(DropReason::Replayed));
            }
        }
        mode => {
            let mut tx = SrtpSender::new(&k).unwrap();
            let mut enc = Vec::new();
            if tx.protect_rtcp(rest, &mut enc).is_ok() {
                if mode == 1 {
                    rx.unprotect_rtcp(&enc, &mut out).unwrap();
                    assert_eq!(out, rest);
                    assert_eq!(rx.unprotect_rtcp(&enc, &mut out), Err(DropReason::Replayed));
                } else {
                    let i = usize::from(rest.first().copied().unwrap_or(0)) % enc.len();
                    let bit = 1u8 << (rest.last().copied().unwrap_or(0) % 8);
                    enc[i] ^= bit;
                    assert!(rx.unprotect_rtcp(&enc, &mut out).is_err());
                }
            }
        }
    }
    let now = Instant::now();
    let peer = "127.0.0.1:4000".parse().unwrap();
    let mut cfg = MediaSessionConfig::new(peer, 0, 8000);
    cfg.srtp = Some(SrtpConfig {
        local: k.clone(),
        remote: k,
    });
    if let Ok(mut s) = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now) {
        s.handle_input(now, peer, rest);
        s.handle_rtcp_input(now, peer, rest);
        while s.poll_event().is_some() {}
        let _ = s.stats();
    }
});
