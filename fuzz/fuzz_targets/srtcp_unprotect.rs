#![no_main]
//! Fuzz target srtcp_unprotect: the first byte picks the suite (libsrtp's
//! test keys, so its SRTCP vectors are valid inputs) and the mode:
//! 0 unprotect the rest; 1 protect the rest as RTCP and unprotect (round
//! trip, then replay refused); 2 protect and flip a bit (refused). Then
//! through an SRTP media session's RTCP path.
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

use voipkit_media::srtp::{SrtpReceiver, SrtpSender};
use voipkit_media::{
    ChaCha20Rng, CryptoSuite, DropReason, MediaSession, MediaSessionConfig, SeedableRng,
    SrtpConfig, SrtpKeyingMaterial,
};

const TEST_KEY: [u8; 46] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6, 0x01, 0x02,
    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
];
const TEST_KEY_GCM: [u8; 28] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
];

fn key(selector: u8) -> SrtpKeyingMaterial {
    let suite = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AeadAes256Gcm,
    ][usize::from(selector % 4)];
    let raw: Vec<u8> = match suite {
        CryptoSuite::AeadAes128Gcm => TEST_KEY_GCM.to_vec(),
        CryptoSuite::AeadAes256Gcm => [&TEST_KEY[..32], &TEST_KEY_GCM[16..]].concat(),
        _ => TEST_KEY[..30].to_vec(),
    };
    let (k, s) = raw.split_at(suite.key_len());
    SrtpKeyingMaterial::from_parts(suite, k, s).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let k = key(sel);
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
