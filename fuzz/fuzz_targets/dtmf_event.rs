#![no_main]
//! Fuzz target dtmf_event: a sequence of telephone-event packets (each
//! record: SSRC selector, timestamp, time step, 4-byte payload) into the
//! RFC 4733 receiver. Each event is started and ended at most once (the
//! start first), reports are bounded, and nothing panics.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voipkit_media::dtmf::{DtmfReceiver, DtmfUpdate, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let mut rx = DtmfReceiver::new(8000);
    let mut packets = 0usize;
    let mut reports = 0usize;
    let mut starts = 0usize;
    for rec in data.chunks(8) {
        if rec.len() < 4 {
            let _ = TelephoneEvent::parse(rec);
            continue;
        }
        let ssrc = u32::from(rec[0] & 3);
        let ts = u32::from(u16::from_be_bytes([rec[1], rec[2]])) * 160;
        now += Duration::from_millis(u64::from(rec[3]) * 4);
        let payload = &rec[4..];
        if rx.handle_packet(now, ssrc, ts, payload).is_ok() {
            packets += 1;
        }
        if let Some(t) = rx.poll_timeout() {
            // The deadline is never further out than one timeout (it may be
            // in the past: the caller has not run handle_timeout yet).
            assert!(t <= now + DtmfReceiver::TIMEOUT);
            if rec[3] > 200 {
                rx.handle_timeout(now);
            }
        }
        while let Some(u) = rx.poll_update() {
            match u {
                DtmfUpdate::Started { digit, .. } => {
                    assert!(digit.event_code() <= 16);
                    starts += 1;
                }
                DtmfUpdate::Ended(r) => {
                    assert!(r.digit.event_code() <= 16);
                    assert!(r.duration <= Duration::from_secs(9));
                    reports += 1;
                }
            }
            // Every digit starts before it ends.
            assert!(reports <= starts);
        }
    }
    rx.handle_timeout(now + Duration::from_secs(10));
    while let Some(u) = rx.poll_update() {
        assert!(matches!(u, DtmfUpdate::Ended(_)));
        reports += 1;
    }
    assert!(reports <= starts && starts <= packets);
});
