#![no_main]
//! Fuzz target sdp_parse: parse arbitrary bytes as SDP; whatever parses must
//! print and parse back to the same value, and must survive being answered
//! (as an offer) and checked (as an answer to our offer) without a panic.
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use voipkit_sdp::{MAX_SDP_LEN, MediaConfig, RngCore, SdpSession, SessionDescription};

/// A deterministic RNG (xorshift64*), so runs reproduce.
struct FuzzRng(u64);

impl RngCore for FuzzRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn reparse(sdp: &SessionDescription) {
    let printed = sdp.to_string();
    // Printing normalizes (CRLF, t=0 0) and may grow past the input limit.
    if printed.len() <= MAX_SDP_LEN {
        let again = SessionDescription::parse(printed.as_bytes())
            .unwrap_or_else(|e| panic!("printed SDP does not parse: {e}\n{printed}"));
        assert_eq!(&again, sdp, "print/parse round trip differs:\n{printed}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut sdp) = SessionDescription::parse(data) else {
        return;
    };
    reparse(&sdp);
    let _ = format!("{sdp:?}");
    sdp.resolve_hostnames(|_| Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));

    let mut rng = FuzzRng(0x9E37_79B9_7F4A_7C15 ^ data.len() as u64);
    let local = "127.0.0.1:4000".parse().unwrap();

    // As an offer to us, then the same offer again and a re-offer of ours.
    let mut answerer = SdpSession::new(MediaConfig::default(), local, &mut rng);
    if let Ok(answer) = answerer.answer_offer(&sdp, &mut rng) {
        reparse(&answer.sdp);
        // The same offer again (a session refresh) gets the same answer.
        let again = answerer.answer_offer(&sdp, &mut rng).map(|a| a.sdp);
        assert_eq!(
            again.ok().as_ref(),
            Some(&answer.sdp),
            "refresh changed the answer"
        );
        if let Ok(reoffer) = answerer.create_offer(&mut rng) {
            reparse(&reoffer);
        }
    }

    // As the answer to an offer of ours.
    let mut offerer = SdpSession::new(MediaConfig::default(), local, &mut rng);
    if offerer.create_offer(&mut rng).is_ok() && offerer.accept_answer(&sdp).is_ok() {
        let _ = offerer.create_offer(&mut rng).map(|o| reparse(&o));
    }
});
