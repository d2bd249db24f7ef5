#![no_main]
//! Fuzz target opus_decode: arbitrary packets into voipkit-codec's Opus
//! decoder (mono and stereo output): duration parsing, decode, FEC decode of
//! the packet before, and concealment. Errors are fine; panics and
//! out-of-bounds writes are not.
//!
//! Format: byte 0 picks mono/stereo (bit 0); then packets, each a length
//! byte and that many bytes.
use libfuzzer_sys::fuzz_target;
use voipkit_codec::{Decoder, OpusDecoder};

fuzz_target!(|data: &[u8]| {
    let Some((&setup, mut rest)) = data.split_first() else {
        return;
    };
    let channels = 1 + usize::from(setup & 1);
    let Ok(mut dec) = OpusDecoder::new(channels) else {
        return;
    };
    let mut out = vec![0i16; 5760 * channels];
    let mut prev_len: Option<usize> = None;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (packet, next) = tail.split_at(len);
        rest = next;
        if let Ok(n) = dec.packet_samples(packet) {
            assert!(n > 0 && n <= 5760);
        }
        match prev_len {
            // The packet before this one was "lost": recover it by FEC
            // with a duration derived from the length byte.
            Some(l) if l % 3 == 0 => {
                let n = (120 * (1 + l % 48)) * channels;
                if let Ok(Some(k)) = dec.decode_fec(packet, &mut out[..n]) {
                    assert!(k * channels <= n);
                }
            }
            Some(l) if l % 3 == 1 => {
                let n = (120 * (1 + l % 48)) * channels;
                if let Ok(k) = dec.conceal(&mut out[..n]) {
                    assert!(k * channels <= n);
                }
            }
            _ => {}
        }
        if let Ok(k) = dec.decode(packet, &mut out) {
            assert!(k * channels <= out.len());
        }
        // Undersized output buffers must be refused, not overrun.
        let small = len.min(out.len());
        let _ = dec.decode(packet, &mut out[..small]);
        let _ = dec.conceal(&mut out[..small]);
        prev_len = Some(len);
    }
});
