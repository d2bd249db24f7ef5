//! The rings add exactly what they report (`PlayoutStream::latency`,
//! `CaptureStream::latency`: the target plus the resampling kernel's
//! delay), from the first second on and without growing, with the drift
//! controller on (the engine's default).
//!
//! Media thread and device in phase on one clock (each 20 ms tick the
//! media thread pushes a frame and the device renders one, or the device
//! captures one and the media thread pops it): a click put in at a known
//! sample comes out exactly `latency()` later, at 0.1 s, 1 s and 60 s.
//! Before, the playout ring started at its target *before* the render and
//! the controller then held the target *after* the render: the ring grew
//! by one device buffer over the first seconds (correction starting at
//! -2 %). With frames bigger than the callbacks (20 ms frames, 10 ms
//! callbacks, on a drifting clock) the fill the controller holds averages
//! the target from the first second on.

mod common;

use std::time::Duration;

use common::{Tick, two_clocks};
use voipkit_audio::{
    CaptureStatus, DeviceFormat, FrameDuration, StreamConfig, capture_channel, playout_channel,
};

const RATE: u32 = 8_000;
const FRAME: usize = 160;

fn samples(d: Duration) -> usize {
    (d.as_secs_f64() * f64::from(RATE)).round() as usize
}

fn device() -> DeviceFormat {
    DeviceFormat {
        sample_rate: RATE,
        channels: 1,
        buffer_frames: Some(FRAME as u32),
    }
}

/// Ticks at which a click goes in (0.1 s, 1 s, 60 s).
const CLICK_TICKS: [usize; 3] = [5, 50, 3000];

fn clicks_in(tick: usize, frame: &mut [i16]) -> Option<usize> {
    frame.fill(0);
    CLICK_TICKS.contains(&tick).then(|| {
        frame[37] = 20_000;
        tick * FRAME + 37
    })
}

fn check(name: &str, sent: &[usize], found: &[usize], latency: usize) {
    println!("{name}: clicks in at {sent:?}, out at {found:?}, latency() {latency} samples");
    assert_eq!(found.len(), sent.len(), "{name}: clicks found");
    for (s, f) in sent.iter().zip(found) {
        assert_eq!(f - s, latency, "{name}: click sent at sample {s}");
    }
}

#[test]
fn playout_adds_what_it_reports() {
    let engine = StreamConfig::new(RATE, 1, FrameDuration::Ms20);
    let (mut stream, mut render) = playout_channel(&engine, &device()).unwrap();
    // 20 ms frames on 20 ms callbacks: no sawtooth, 20 ms buffer + 5 ms.
    assert_eq!(stream.target_latency(), Duration::from_millis(25));
    let latency = samples(stream.latency());
    assert_eq!(latency, 200 + 2, "target + the cubic kernel's 2 samples");
    let (mut frame, mut out) = (vec![0i16; FRAME], vec![0i16; FRAME]);
    let (mut sent, mut found) = (Vec::new(), Vec::new());
    for tick in 0..3100 {
        sent.extend(clicks_in(tick, &mut frame));
        stream.push_frame(&frame).unwrap();
        render.render(&mut out);
        found.extend(
            out.iter()
                .enumerate()
                .filter(|(_, s)| s.unsigned_abs() > 10_000)
                .map(|(i, _)| tick * FRAME + i),
        );
        if tick > 2 {
            assert_eq!(stream.stats().fill, stream.target_latency(), "tick {tick}");
        }
    }
    check("playout", &sent, &found, latency);
    let stats = stream.stats();
    assert_eq!((stats.underruns, stats.overruns), (0, 0));
    assert_eq!(stats.drift_correction_ppm, 0);
}

#[test]
fn capture_adds_what_it_reports() {
    let engine = StreamConfig::new(RATE, 1, FrameDuration::Ms20);
    let (mut stream, mut capture) = capture_channel(&engine, &device()).unwrap();
    let latency = samples(stream.latency());
    assert_eq!(latency, 200 + 2);
    let (mut mic, mut frame) = (vec![0i16; FRAME], vec![0i16; FRAME]);
    let (mut sent, mut found) = (Vec::new(), Vec::new());
    for tick in 0..3100 {
        sent.extend(clicks_in(tick, &mut mic));
        capture.capture(&mic);
        if stream.pop_frame(&mut frame).unwrap() == CaptureStatus::Frame {
            found.extend(
                frame
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.unsigned_abs() > 10_000)
                    .map(|(i, _)| tick * FRAME + i),
            );
        }
        if tick > 2 {
            assert_eq!(stream.buffered(), stream.target_latency(), "tick {tick}");
        }
    }
    // Sample `i` of the frame popped in tick `k` is sample `k * FRAME + i`
    // of the media thread's stream, like the device's samples.
    check("capture", &sent, &found, latency);
    let stats = stream.stats();
    assert_eq!((stats.underruns, stats.overruns), (0, 0));
    assert_eq!(stats.drift_correction_ppm, 0);
}

/// 20 ms frames, 10 ms callbacks, device 0.1 % fast: the fill the
/// controllers hold averages the target over the first second already,
/// and over the last 20 s of 60 (one whole slide of the two clocks'
/// phases past each other: over shorter windows the average follows the
/// phase by a few ms).
#[test]
fn average_fill_is_the_target_from_the_first_second() {
    let engine = StreamConfig::new(48_000, 1, FrameDuration::Ms20);
    let device = DeviceFormat {
        sample_rate: 48_000,
        channels: 1,
        buffer_frames: Some(480),
    };
    let (mut playout, mut render) = playout_channel(&engine, &device).unwrap();
    let (mut capture, mut capture_cb) = capture_channel(&engine, &device).unwrap();
    let target = playout.target_latency().as_secs_f64() * 1e3;
    assert!((target - 20.0).abs() < 1e-9, "{target}");
    let device_period = 480.0 / (48_000.0 * 1.001);
    let frame = vec![1000i16; 960];
    let mut got = vec![0i16; 960];
    let mut out = vec![0i16; 480];
    // (sum, count) of the fills measured in [0.2, 1.2) s and [40, 60) s.
    let mut windows = [[(0.0f64, 0u32); 2]; 2];
    two_clocks(0.02, device_period, 60.0, true, |tick| match tick {
        Tick::Device(t) => {
            render.render(&mut out);
            capture_cb.capture(&out);
            let w = if (0.2..1.2).contains(&t) {
                Some(0)
            } else if t >= 40.0 {
                Some(1)
            } else {
                None
            };
            if let Some(w) = w {
                for (k, fill) in [playout.stats().fill, capture.stats().fill]
                    .iter()
                    .enumerate()
                {
                    windows[k][w].0 += fill.as_secs_f64() * 1e3;
                    windows[k][w].1 += 1;
                }
            }
        }
        Tick::Media(_) => {
            playout.push_frame(&frame).unwrap();
            let _ = capture.pop_frame(&mut got).unwrap();
        }
    });
    for (k, name) in ["playout", "capture"].iter().enumerate() {
        let avg = |(s, n): (f64, u32)| s / f64::from(n);
        let (first, last) = (avg(windows[k][0]), avg(windows[k][1]));
        println!(
            "{name}: average fill {first:.3} ms in the first second, {last:.3} ms in the last 20 s (target {target} ms)"
        );
        assert!((first - target).abs() < 1.0, "{name}: first second {first}");
        assert!((last - target).abs() < 0.5, "{name}: last second {last}");
    }
    assert_eq!(playout.stats().underruns, 0);
    assert_eq!(capture.stats().underruns, 0);
}
