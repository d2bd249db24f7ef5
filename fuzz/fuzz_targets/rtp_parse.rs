#![no_main]
//! Fuzz target rtp_parse: arbitrary bytes as an RTP packet, through the
//! parser and through a plain-RTP media session's receive path (demux,
//! payload-type check, latching, statistics, telephone-event).
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

use voipkit_media::rtp::RtpPacket;
use voipkit_media::{ChaCha20Rng, MediaSession, MediaSessionConfig, SeedableRng};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = RtpPacket::parse(data) {
        assert!(p.payload.len() <= data.len());
        let _ = p.csrcs(data).count();
    }
    let now = Instant::now();
    let peer = "127.0.0.1:4000".parse().unwrap();
    let mut cfg = MediaSessionConfig::new(peer, 0, 8000);
    cfg.telephone_event_payload_type = Some(101);
    cfg.accepted_payload_types = vec![8, 13];
    let Ok(mut s) = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now) else {
        return;
    };
    // The same datagram twice (duplicate), then a sequence-shifted copy.
    s.handle_input(now, peer, data);
    s.handle_input(now, peer, data);
    if data.len() > 4 {
        let mut d = data.to_vec();
        d[3] = d[3].wrapping_add(1);
        s.handle_input(now, peer, &d);
    }
    while let Some(p) = s.poll_rtp() {
        assert!(p.payload.len() <= data.len());
        s.recycle(p.payload);
    }
    // Telephone-events come out here (payload type 101), never above.
    while let Some(n) = s.poll_non_audio() {
        assert_eq!(n.payload_type, 101);
    }
    while s.poll_event().is_some() {}
    let st = s.stats();
    assert!(st.inbound.packets <= 3);
});
