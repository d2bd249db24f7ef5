//! Clock drift on virtual time: the device runs 1 % fast or slow against a
//! media thread at the nominal rate, for 10 simulated minutes. No sleeps:
//! two event streams (media frames every 20 ms, device callbacks every
//! buffer/device-rate) are merged by their virtual timestamps.
//!
//! Setup of the 10-minute runs: engine 48 kHz mono, 20 ms frames; device
//! 48 kHz stereo (the common card rate, so the cubic drift kernel runs),
//! f32, 480-frame callbacks (10 ms nominal), auto target latency = half
//! the 20 ms frame / 10 ms buffer sawtooth (5 ms) + 10 ms buffer + 5 ms =
//! 20 ms. The rate-converting path (device
//! 44.1 kHz stereo, windowed-sinc kernel) runs through the loopback device
//! at +1 % for 30 simulated seconds (`loopback_round_trip_...`): the sinc
//! kernel costs ~100 multiply-adds a sample, too slow for 10 minutes in a
//! debug build.
//!
//! Asserted, for +1 % and -1 %, both directions:
//! - zero underruns and zero overruns over the 10 minutes (after the
//!   initial fill, which is priming, not an underrun);
//! - latency bounded: from 1 s on (priming done), every ring fill measured
//!   by the callback stays within target -17 ms .. target +20 ms, i.e.
//!   3..40 ms for the 20 ms target (measured: 5.0..35.0 ms; the frame
//!   sawtooth with the clocks' phases sliding spans 10..30 ms, the rest
//!   is the drift acquisition transient of the first seconds), and the
//!   fill averaged over the last minute is within 1 ms of the target
//!   (measured: 0.002 ms off): no growth;
//! - the drift correction converged to the drift (within 300 ppm), and
//!   its peak-to-peak wobble over the last minute is below 200 ppm (a
//!   0.02 % pitch variation, far below audibility);
//! - a 1 kHz sine stays a sine: spectral purity (tone power within ±6
//!   bins over everything else, 8192-point Blackman-Harris) >= 60 dB in
//!   windows taken throughout the run.

mod common;

use std::time::Duration;

use common::{Sine, Tick, purity_db, two_clocks};
use voipkit_audio::AudioDevice;
use voipkit_audio::{
    CaptureStatus, DeviceFormat, FrameDuration, LoopbackConfig, LoopbackDevice, Pacing,
    StreamConfig, StreamStats, capture_channel, playout_channel,
};

const SIM_SECONDS: f64 = 600.0;
const WINDOW: usize = 8192;
const SETTLE_SECONDS: f64 = 1.0;

#[derive(Debug)]
struct Report {
    target_ms: f64,
    min_fill_ms: f64,
    max_fill_ms: f64,
    last_minute_avg_ms: f64,
    underruns: u64,
    overruns: u64,
    not_ready_after_prime: u64,
    correction_ppm: i32,
    /// Peak-to-peak of the correction over the last minute (pitch wobble).
    correction_wobble_ppm: i32,
    worst_purity_db: f64,
}

fn engine() -> StreamConfig {
    StreamConfig::new(48_000, 1, FrameDuration::Ms20)
}

fn device() -> DeviceFormat {
    DeviceFormat {
        sample_rate: 48_000,
        channels: 2,
        buffer_frames: Some(480),
    }
}

fn device_44k() -> DeviceFormat {
    DeviceFormat {
        sample_rate: 44_100,
        channels: 2,
        buffer_frames: Some(441),
    }
}

/// Analyses WINDOW samples of output starting at each of a few times.
struct Analyzer {
    starts: Vec<f64>,
    next: usize,
    buf: Vec<f64>,
    worst: f64,
}

impl Analyzer {
    fn new() -> Self {
        Analyzer {
            starts: vec![10.0, 120.0, 300.0, 450.0, 590.0],
            next: 0,
            buf: Vec::with_capacity(WINDOW),
            worst: f64::MAX,
        }
    }

    fn feed(&mut self, t: f64, samples: impl Iterator<Item = f64>) {
        let Some(&start) = self.starts.get(self.next) else {
            return;
        };
        if t < start {
            return;
        }
        self.buf.extend(samples);
        if self.buf.len() >= WINDOW {
            self.buf.truncate(WINDOW);
            self.worst = self.worst.min(purity_db(&self.buf).0);
            self.buf.clear();
            self.next += 1;
        }
    }

    fn worst(&self) -> f64 {
        assert_eq!(self.next, self.starts.len(), "not all windows analysed");
        self.worst
    }
}

struct FillTracker {
    min: f64,
    max: f64,
    tail_sum: f64,
    tail_n: u64,
    tail_ppm_min: i32,
    tail_ppm_max: i32,
}

impl FillTracker {
    fn new() -> Self {
        FillTracker {
            min: f64::MAX,
            max: 0.0,
            tail_sum: 0.0,
            tail_n: 0,
            tail_ppm_min: i32::MAX,
            tail_ppm_max: i32::MIN,
        }
    }
    fn record(&mut self, t: f64, stats: StreamStats) {
        let fill = stats.fill;
        if t < SETTLE_SECONDS {
            return;
        }
        let ms = fill.as_secs_f64() * 1e3;
        self.min = self.min.min(ms);
        self.max = self.max.max(ms);
        if t > SIM_SECONDS - 60.0 {
            self.tail_sum += ms;
            self.tail_n += 1;
            self.tail_ppm_min = self.tail_ppm_min.min(stats.drift_correction_ppm);
            self.tail_ppm_max = self.tail_ppm_max.max(stats.drift_correction_ppm);
        }
    }

    fn report(
        &self,
        target: Duration,
        stats: StreamStats,
        not_ready_after_prime: u64,
        worst_purity_db: f64,
    ) -> Report {
        Report {
            target_ms: target.as_secs_f64() * 1e3,
            min_fill_ms: self.min,
            max_fill_ms: self.max,
            last_minute_avg_ms: self.tail_sum / self.tail_n.max(1) as f64,
            underruns: stats.underruns,
            overruns: stats.overruns,
            not_ready_after_prime,
            correction_ppm: (self.tail_ppm_min + self.tail_ppm_max) / 2,
            correction_wobble_ppm: self.tail_ppm_max - self.tail_ppm_min,
            worst_purity_db,
        }
    }
}

/// Counts the frames `pop_frame` did not have after the first it had.
#[derive(Default)]
struct Starvation {
    primed: bool,
    starved: u64,
}

impl Starvation {
    fn note(&mut self, status: CaptureStatus) {
        match status {
            CaptureStatus::Frame => self.primed = true,
            CaptureStatus::NotReady if self.primed => self.starved += 1,
            CaptureStatus::NotReady => {}
        }
    }
}

/// Playout: the media thread pushes a 1 kHz sine at exactly 50 frames/s;
/// the device renders 480-frame buffers at 48 kHz * (1 + drift).
fn run_playout(drift: f64) -> Report {
    let (mut stream, mut callback) = playout_channel(&engine(), &device()).unwrap();
    let mut sine = Sine::new(1000.0, 48_000.0, 0.5);
    let mut frame = vec![0i16; stream.samples_per_frame()];
    let mut out = vec![0.0f32; 480 * 2];
    let device_period = 480.0 / (48_000.0 * (1.0 + drift));
    let mut fills = FillTracker::new();
    let mut analyzer = Analyzer::new();
    two_clocks(0.02, device_period, SIM_SECONDS, false, |tick| match tick {
        Tick::Media(_) => {
            sine.fill_i16(&mut frame, 1);
            stream.push_frame(&frame).unwrap();
        }
        Tick::Device(t) => {
            callback.render(&mut out);
            fills.record(t, stream.stats());
            analyzer.feed(t, out.chunks_exact(2).map(|f| f64::from(f[0])));
        }
    });
    fills.report(stream.target_latency(), stream.stats(), 0, analyzer.worst())
}

/// Capture: the device delivers a 1 kHz sine (in device samples) in
/// 480-frame buffers at 48 kHz * (1 + drift); the media thread pops a
/// frame every 20 ms.
fn run_capture(drift: f64) -> Report {
    let (mut stream, mut callback) = capture_channel(&engine(), &device()).unwrap();
    let mut sine = Sine::new(1000.0, 48_000.0, 0.5);
    let mut frame = vec![0i16; stream.samples_per_frame()];
    let mut input = vec![0.0f32; 480 * 2];
    let device_period = 480.0 / (48_000.0 * (1.0 + drift));
    let mut fills = FillTracker::new();
    let mut analyzer = Analyzer::new();
    let mut starvation = Starvation::default();
    two_clocks(0.02, device_period, SIM_SECONDS, true, |tick| match tick {
        Tick::Device(t) => {
            sine.fill_f32(&mut input, 2);
            callback.capture(&input);
            fills.record(t, stream.stats());
        }
        Tick::Media(t) => {
            starvation.note(stream.pop_frame(&mut frame).unwrap());
            analyzer.feed(t, frame.iter().map(|&s| f64::from(s) / 32768.0));
        }
    });
    fills.report(
        stream.target_latency(),
        stream.stats(),
        starvation.starved,
        analyzer.worst(),
    )
}

fn check(name: &str, drift: f64, r: &Report, expected_ppm: f64) {
    eprintln!("{name} drift {drift:+}: {r:?}");
    assert_eq!(r.underruns, 0, "{name}: underruns");
    assert_eq!(r.overruns, 0, "{name}: overruns");
    assert_eq!(r.not_ready_after_prime, 0, "{name}: capture starved");
    assert!(
        r.min_fill_ms >= r.target_ms - 17.0 && r.max_fill_ms <= r.target_ms + 20.0,
        "{name}: fill {:.1}..{:.1} ms vs target {:.1}",
        r.min_fill_ms,
        r.max_fill_ms,
        r.target_ms
    );
    assert!(
        (r.last_minute_avg_ms - r.target_ms).abs() < 1.0,
        "{name}: latency drifted to {:.2} ms (target {:.2})",
        r.last_minute_avg_ms,
        r.target_ms
    );
    assert!(
        (f64::from(r.correction_ppm) - expected_ppm).abs() < 300.0,
        "{name}: correction {} ppm, expected ~{expected_ppm:.0}",
        r.correction_ppm
    );
    assert!(
        r.correction_wobble_ppm < 200,
        "{name}: correction wobbles by {} ppm",
        r.correction_wobble_ppm
    );
    assert!(
        r.worst_purity_db >= 60.0,
        "{name}: purity {:.1} dB",
        r.worst_purity_db
    );
}

#[test]
fn playout_absorbs_plus_one_percent() {
    let r = run_playout(0.01);
    check("playout", 0.01, &r, 1e6 * (1.0 / 1.01 - 1.0));
}

#[test]
fn playout_absorbs_minus_one_percent() {
    let r = run_playout(-0.01);
    check("playout", -0.01, &r, 1e6 * (1.0 / 0.99 - 1.0));
}

#[test]
fn capture_absorbs_plus_one_percent() {
    let r = run_capture(0.01);
    check("capture", 0.01, &r, 1e6 * 0.01);
}

#[test]
fn capture_absorbs_minus_one_percent() {
    let r = run_capture(-0.01);
    check("capture", -0.01, &r, 1e6 * -0.01);
}

/// The whole loop through the loopback device on manual ticks: a 44.1 kHz
/// stereo device (rate conversion both ways, windowed sinc) on a skewed
/// clock (+1 %, uneven callback sizes), the media thread pushing and
/// popping every 20 ms of virtual time for 30 s. No underruns, no
/// overruns, bounded latency, and the captured sine must be clean.
#[test]
fn loopback_round_trip_with_skewed_clock() {
    let mut config = LoopbackConfig::new(device_44k());
    config.clock_skew = 0.01;
    config.vary_buffer = true;
    config.pacing = Pacing::Manual;
    let mut dev = LoopbackDevice::new(config).unwrap();
    let mut playout = dev.open_output(&engine()).unwrap();
    let mut capture = dev.open_input(&engine()).unwrap();
    dev.start().unwrap();
    let mut sine = Sine::new(1000.0, 48_000.0, 0.5);
    let mut frame = vec![0i16; playout.samples_per_frame()];
    let mut got = vec![0i16; capture.samples_per_frame()];
    let (mut t_media, mut t_device) = (0.0f64, 0.0f64);
    let mut starvation = Starvation::default();
    let mut tail: Vec<f64> = Vec::new();
    while t_media < 30.0 {
        if t_device <= t_media {
            t_device += dev.tick().unwrap().as_secs_f64();
        } else {
            sine.fill_i16(&mut frame, 1);
            playout.push_frame(&frame).unwrap();
            starvation.note(capture.pop_frame(&mut got).unwrap());
            if t_media > 20.0 && tail.len() < WINDOW {
                tail.extend(got.iter().map(|&s| f64::from(s) / 32768.0));
            }
            t_media += 0.02;
        }
    }
    assert_eq!(starvation.starved, 0);
    assert_eq!(playout.stats().underruns, 0);
    assert_eq!(capture.stats().overruns, 0);
    tail.truncate(WINDOW);
    let (purity, freq) = purity_db(&tail);
    eprintln!(
        "loopback: purity {purity:.1} dB at {:.1} Hz, playout {:?}, capture {:?}",
        freq * 48_000.0,
        playout.stats(),
        capture.stats()
    );
    assert!(purity >= 60.0, "purity {purity:.1} dB");
    assert!((freq * 48_000.0 - 1000.0).abs() < 10.0);
    // Round trip latency stays bounded: both rings near their targets.
    assert!(playout.stats().max_fill < Duration::from_millis(80));
    assert!(capture.stats().fill < Duration::from_millis(80));
    assert!(dev.poll_event().is_none());
}

/// A device that announces 10 ms buffers but calls back with 2048 frames
/// (42.7 ms at 48 kHz), as some sound servers do: the automatic target
/// rises to frame + buffer + 5 ms on the first callback, so neither
/// direction underruns (a fixed 35 ms target would underrun on every
/// callback).
#[test]
fn bigger_device_buffers_raise_the_automatic_target() {
    let (mut playout, mut render) = playout_channel(&engine(), &device()).unwrap();
    let (mut capture, mut capture_cb) = capture_channel(&engine(), &device()).unwrap();
    assert_eq!(playout.target_latency().as_millis(), 20);
    let mut sine = Sine::new(1000.0, 48_000.0, 0.5);
    let mut frame = vec![0i16; 960];
    let mut got = vec![0i16; 960];
    let mut out = vec![0.0f32; 2048 * 2];
    let device_period = 2048.0 / 48_000.0;
    let (mut media_n, mut device_n) = (0u64, 0u64);
    let mut starvation = Starvation::default();
    while (media_n as f64) * 0.02 < 30.0 {
        let t_media = media_n as f64 * 0.02;
        let t_device = device_n as f64 * device_period;
        if t_device <= t_media {
            render.render(&mut out);
            capture_cb.capture(&out);
            device_n += 1;
        } else {
            sine.fill_i16(&mut frame, 1);
            playout.push_frame(&frame).unwrap();
            starvation.note(capture.pop_frame(&mut got).unwrap());
            media_n += 1;
        }
    }
    let target = playout.target_latency().as_secs_f64() * 1e3;
    eprintln!(
        "target {target:.1} ms, playout {:?}, capture {:?}",
        playout.stats(),
        capture.stats()
    );
    // 2048 frames = 42.7 ms (bigger than the frame: no sawtooth term) + 5 ms.
    assert!((47.0..48.5).contains(&target), "{target}");
    assert_eq!(capture.target_latency(), playout.target_latency());
    assert_eq!(playout.stats().underruns, 0);
    assert_eq!(starvation.starved, 0);
    assert_eq!(capture.stats().underruns, 0);
}
