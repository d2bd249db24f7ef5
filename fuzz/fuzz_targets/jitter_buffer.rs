#![no_main]
//! Fuzz target jitter_buffer: arbitrary packet sequences (sequence numbers,
//! timestamps, arrival times, SSRCs, payloads derived from the bytes) and
//! playout ticks through voipkit-codec's `JitterBuffer`, with G.711 or Opus
//! behind it. Nothing may panic, and the number of held packets stays
//! within `max_packets` whatever the input.
//!
//! Format: byte 0 picks the setup (bit 0: Opus, bits 1-2: frame size,
//! bit 3: fixed target); then operations, each a tag byte (low 3 bits)
//! and its arguments: 0-2 insert (seq delta i8, timestamp delta in quarter
//! packets i8, arrival advance ms u8, payload length u8, payload), 3 tick
//! (advance ms u8), 4 (by bits 6-7 of the tag) SSRC change by bits 3-5 /
//! a non-audio (DTMF) sequence number through `insert_non_audio` /
//! `set_active(false)` / `set_active(true)`, 5 timestamp jump (u32), 6
//! sequence jump (u16), 7 a run of 20 ms ticks.
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voipkit_codec::{
    Decoder, G711Decoder, G711Law, IncomingPacket, JitterBuffer, JitterBufferConfig,
    OpusDecoder, TargetDelay,
};

const MAX_PACKETS: usize = 32;

fn run<D: Decoder>(decoder: D, setup: u8, data: &[u8]) {
    let rate = decoder.sample_rate() as usize;
    let cfg = JitterBufferConfig {
        max_packets: MAX_PACKETS,
        target: if setup & 8 != 0 {
            TargetDelay::Fixed(Duration::from_millis(u64::from(setup >> 4) * 10))
        } else {
            TargetDelay::Adaptive
        },
        ..Default::default()
    };
    let Ok(mut jb) = JitterBuffer::new(decoder, cfg) else {
        return;
    };
    let frame = match (setup >> 1) & 3 {
        0 => rate / 100,
        1 => rate / 50,
        2 => rate / 400,
        _ => rate * 7 / 1000,
    };
    let mut out = vec![0i16; frame.max(1) * jb.channels()];
    let quarter = (rate / 200) as i32; // 5 ms
    let t0 = Instant::now();
    let mut now = t0;
    let (mut seq, mut ts, mut ssrc) = (0u16, 0u32, 1u32);
    let mut i = 0usize;
    let byte = |i: &mut usize| -> Option<u8> {
        let b = data.get(*i).copied();
        *i += 1;
        b
    };
    while let Some(tag) = byte(&mut i) {
        match tag & 7 {
            0..=2 => {
                let (Some(ds), Some(dt), Some(adv), Some(len)) =
                    (byte(&mut i), byte(&mut i), byte(&mut i), byte(&mut i))
                else {
                    break;
                };
                seq = seq.wrapping_add(ds as i8 as u16);
                ts = ts.wrapping_add((i32::from(dt as i8) * quarter) as u32);
                now += Duration::from_millis(u64::from(adv));
                let end = (i + usize::from(len)).min(data.len());
                let payload = data.get(i..end).unwrap_or_default();
                i = end;
                jb.insert(
                    now,
                    &IncomingPacket {
                        ssrc,
                        sequence_number: seq,
                        timestamp: ts,
                        marker: tag & 8 != 0,
                        payload,
                    },
                );
            }
            3 => {
                let Some(adv) = byte(&mut i) else { break };
                now += Duration::from_millis(u64::from(adv));
                jb.get_frame(now, &mut out).expect("valid frame size");
            }
            4 => match tag >> 6 {
                0 => ssrc = ssrc.wrapping_add(u32::from(tag >> 3)),
                1 => {
                    seq = seq.wrapping_add(1);
                    jb.insert_non_audio(
                        now,
                        &IncomingPacket {
                            ssrc,
                            sequence_number: seq,
                            timestamp: ts,
                            marker: false,
                            payload: &[],
                        },
                    );
                }
                2 => jb.set_active(false),
                _ => jb.set_active(true),
            },
            5 => {
                let mut b = [0u8; 4];
                for x in &mut b {
                    *x = byte(&mut i).unwrap_or(0);
                }
                ts = ts.wrapping_add(u32::from_le_bytes(b));
            }
            6 => {
                let lo = byte(&mut i).unwrap_or(0);
                let hi = byte(&mut i).unwrap_or(0);
                seq = seq.wrapping_add(u16::from_le_bytes([lo, hi]));
            }
            _ => {
                for _ in 0..(tag >> 3) {
                    now += Duration::from_millis(20);
                    jb.get_frame(now, &mut out).expect("valid frame size");
                }
            }
        }
        assert!(jb.buffered_packets() <= MAX_PACKETS);
    }
    let st = jb.stats();
    assert!(st.buffered_packets <= MAX_PACKETS);
    assert!(st.samples_paused <= st.samples_out);
    assert_eq!(st.paused, jb.is_paused());
}

fuzz_target!(|data: &[u8]| {
    let Some((&setup, rest)) = data.split_first() else {
        return;
    };
    if setup & 1 == 0 {
        run(G711Decoder::new(G711Law::Mu), setup, rest);
    } else if let Ok(d) = OpusDecoder::new(1 + usize::from(setup >> 7)) {
        run(d, setup, rest);
    }
});
