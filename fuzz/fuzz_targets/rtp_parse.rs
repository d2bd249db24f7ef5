#![no_main]
//! Fuzz target rtp_parse (placeholder until written).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
