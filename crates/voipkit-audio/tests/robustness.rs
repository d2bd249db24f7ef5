//! Arbitrary formats and arbitrary sequences of pushes, pops and callbacks
//! of any length never panic, never produce out-of-range or non-finite
//! samples, and keep the counters consistent.

use proptest::prelude::*;
use voipkit_audio::{
    CaptureStatus, DeviceFormat, FrameDuration, StreamConfig, capture_channel, playout_channel,
};

#[derive(Clone, Debug)]
enum Op {
    Push(usize),
    Render(usize),
    Capture(usize),
    Pop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..5).prop_map(Op::Push),
        (0usize..5000).prop_map(Op::Render),
        (0usize..5000).prop_map(Op::Capture),
        (0usize..5).prop_map(Op::Pop),
    ]
}

fn engine() -> impl Strategy<Value = StreamConfig> {
    (
        prop::sample::select(vec![8_000u32, 16_000, 32_000, 44_100, 48_000]),
        1u16..=2,
        prop::bool::ANY,
    )
        .prop_map(|(rate, ch, ms10)| {
            let d = if ms10 {
                FrameDuration::Ms10
            } else {
                FrameDuration::Ms20
            };
            StreamConfig::new(rate, ch, d)
        })
}

fn device() -> impl Strategy<Value = DeviceFormat> {
    (
        prop::sample::select(vec![8_000u32, 11_025, 22_050, 44_100, 48_000, 96_000]),
        1u16..=6,
        prop::option::of(1u32..4096),
    )
        .prop_map(|(rate, ch, buffer)| DeviceFormat {
            sample_rate: rate,
            channels: ch,
            buffer_frames: buffer,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_sequence_is_safe(
        engine in engine(),
        device in device(),
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let (mut playout, mut render) = playout_channel(&engine, &device).unwrap();
        let (mut capture, mut capture_cb) = capture_channel(&engine, &device).unwrap();
        let n = engine.samples_per_frame();
        let loud: Vec<i16> = (0..n).map(|i| if i % 2 == 0 { 32767 } else { -32768 }).collect();
        let mut frame = vec![0i16; n];
        let mut out = vec![0.0f32; 5000];
        let mut pushed_ok = 0u64;
        let mut refused = 0u64;
        for op in ops {
            match op {
                Op::Push(k) => {
                    for _ in 0..k {
                        match playout.push_frame(&loud) {
                            Ok(()) => pushed_ok += 1,
                            Err(_) => refused += 1,
                        }
                    }
                }
                Op::Render(len) => {
                    render.render(&mut out[..len]);
                    for &s in &out[..len] {
                        prop_assert!(s.is_finite() && (-1.0..=1.0).contains(&s));
                    }
                    // Feed what was rendered into capture, as a loopback.
                    capture_cb.capture(&out[..len]);
                }
                Op::Capture(len) => {
                    let input: Vec<i16> = (0..len).map(|i| (i as i16).wrapping_mul(97)).collect();
                    capture_cb.capture(&input);
                }
                Op::Pop(k) => {
                    for _ in 0..k {
                        let status = capture.pop_frame(&mut frame).unwrap();
                        if status == CaptureStatus::NotReady {
                            prop_assert!(frame.iter().all(|&s| s == 0));
                        }
                    }
                }
            }
        }
        let p = playout.stats();
        prop_assert_eq!(p.overruns >= refused, true);
        prop_assert!(p.dropped_samples >= refused * n as u64);
        prop_assert!(pushed_ok + refused > 0 || p.fill.is_zero());
        prop_assert!(p.drift_correction_ppm.abs() <= 20_000);
        prop_assert!(capture.stats().drift_correction_ppm.abs() <= 20_000);
        prop_assert!(playout.buffered() <= std::time::Duration::from_secs(1));
        prop_assert!(capture.buffered() <= std::time::Duration::from_secs(1));
    }
}
