#![no_main]
//! Fuzz target rtcp_parse: arbitrary bytes as a compound RTCP packet,
//! through the validating reader (every packet, report block, SDES item
//! and BYE source) and through a plain media session's RTCP path (RTT,
//! reports, BYE).
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

use voipkit_media::rtcp::{RtcpCompound, RtcpPacket};
use voipkit_media::{ChaCha20Rng, MediaSession, MediaSessionConfig, SeedableRng};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = RtcpCompound::parse(data) {
        for p in c.packets() {
            match p {
                RtcpPacket::SenderReport(sr) => {
                    assert!(sr.report_blocks().count() <= 31);
                }
                RtcpPacket::ReceiverReport(rr) => {
                    assert!(rr.report_blocks().count() <= 31);
                }
                RtcpPacket::SourceDescription(sdes) => {
                    for (_, _, v) in sdes.items() {
                        assert!(v.len() <= 255);
                    }
                    let _ = sdes.cname(0);
                }
                RtcpPacket::Bye(bye) => {
                    let _ = bye.sources().count();
                }
                RtcpPacket::Other { body, .. } => assert!(body.len() <= data.len()),
            }
        }
    }
    let now = Instant::now();
    let peer = "127.0.0.1:4000".parse().unwrap();
    let cfg = MediaSessionConfig::new(peer, 0, 8000);
    let Ok(mut s) = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now) else {
        return;
    };
    s.send_audio(now, &[0; 160], 160).ok();
    s.handle_timeout(now + Duration::from_secs(10));
    s.handle_input(now + Duration::from_secs(10), peer, data);
    s.handle_rtcp_input(now + Duration::from_secs(10), peer, data);
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
    let _ = s.stats();
});
