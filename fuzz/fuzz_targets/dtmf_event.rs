#![no_main]
//! Fuzz target dtmf_event (placeholder until written).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
