#![no_main]
//! Fuzz target stun_decode: arbitrary bytes as a STUN message, through the
//! decoder and through a media session with a Binding transaction open
//! (responses, requests from the peer, indications).
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

use voipkit_media::stun;
use voipkit_media::{ChaCha20Rng, MediaSession, MediaSessionConfig, SeedableRng};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = stun::decode(data) {
        // What decodes re-encodes (for the messages we build).
        if m.class == stun::StunClass::Success {
            if let Some(a) = m.mapped_address {
                let again = stun::decode(&stun::binding_success(m.transaction_id, a)).unwrap();
                assert_eq!(again.mapped_address, Some(a));
            }
        }
    }
    let now = Instant::now();
    let peer = "127.0.0.1:4000".parse().unwrap();
    let cfg = MediaSessionConfig::new(peer, 0, 8000);
    let Ok(mut s) = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now) else {
        return;
    };
    s.start_stun_binding(now, peer);
    // Let the fuzzer answer our transaction: copy its id into the input.
    let mut answer = data.to_vec();
    if answer.len() >= 20 {
        while let Some(t) = s.poll_transmit() {
            if let Ok(req) = stun::decode(&t.contents) {
                answer[8..20].copy_from_slice(&req.transaction_id);
            }
        }
    }
    s.handle_input(now, peer, data);
    s.handle_input(now, peer, &answer);
    s.handle_rtcp_input(now, peer, data);
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
});
