#![no_main]
//! Fuzz target srtcp_unprotect: the first byte picks the suite (libsrtp's
//! test keys, so its SRTCP vectors are valid inputs) and the mode:
//! 0 unprotect the rest; 1 protect the rest as RTCP and unprotect (round
//! trip, then replay refused); 2 protect and flip a bit (refused). Then
//! through an SRTP media session's RTCP path.
use libfuzzer_sys::fuzz_target;

use voipkit_media::DropReason;
use voipkit_media::srtp::SrtpReceiver;

#[path = "common/srtp_modes.rs"]
mod srtp_modes;

fuzz_target!(|data: &[u8]| {
    let round_trip = |rx: &mut SrtpReceiver, enc: &[u8], out: &mut Vec<u8>, rest: &[u8]| {
        rx.unprotect_rtcp(enc, out).unwrap();
        assert_eq!(*out, rest);
        assert_eq!(rx.unprotect_rtcp(enc, out), Err(DropReason::Replayed));
    };
    let Some((k, rest)) = srtp_modes::run_mode(data, &srtp_modes::RTCP, round_trip) else {
        return;
    };
    if let Some((mut s, now, peer)) = srtp_modes::keyed_session(k, 0, |_| {}) {
        s.handle_input(now, peer, rest);
        s.handle_rtcp_input(now, peer, rest);
        while s.poll_event().is_some() {}
        let _ = s.stats();
    }
});
