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
use libfuzzer_sys::fuzz_target;

use voipkit_media::srtp::SrtpReceiver;

#[path = "common/srtp_modes.rs"]
mod srtp_modes;

fuzz_target!(|data: &[u8]| {
    let round_trip = |rx: &mut SrtpReceiver, enc: &[u8], out: &mut Vec<u8>, rest: &[u8]| {
        // What was protected authenticates and comes back intact, unless
        // its header is one the receiver refuses anyway.
        if rx.unprotect_rtp(enc, out).is_ok() {
            assert_eq!(*out, rest);
            assert!(rx.unprotect_rtp(enc, out).is_err());
        }
    };
    let Some((k, rest)) = srtp_modes::run_mode(data, &srtp_modes::RTP, round_trip) else {
        return;
    };
    let session = srtp_modes::keyed_session(k, 15, |cfg| {
        cfg.telephone_event_payload_type = Some(101);
    });
    if let Some((mut s, now, peer)) = session {
        s.handle_input(now, peer, rest);
        s.handle_input(now, peer, rest);
        while let Some(p) = s.poll_rtp() {
            s.recycle(p.payload);
        }
        assert!(s.stats().inbound.packets <= 1);
    }
});
