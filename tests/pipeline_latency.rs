//! The engine's own mouth-to-ear latency, without device and network.
//!
//! A short click goes through the whole pipeline of `voipkit_dev::pipeline`
//! (capture ring -> encoder -> RTP -> SRTP -> SRTP -> RTP -> jitter buffer
//! -> decoder -> playout ring -> render) on virtual time, and is found in
//! the output by cross-correlation with the click. The delay must equal what
//! the parts report ([`LatencyBreakdown`]): one frame (framing) + the
//! codec's algorithmic delay + the jitter buffer's target delay + the rings'
//! `latency()` (target + resampling kernel), and nothing more. The rings
//! run as the engine runs them (automatic targets, drift correction on)
//! unless a case says otherwise; they add what they report from the first
//! frame on (the click goes through 0.4 s into the call in the minimal
//! cases, 5 s in the others, 20 s in `pcmu_late_in_the_call`).
//!
//! Tolerance: G.711 is memoryless and the rings' kernel at unity step is an
//! exact delay, so the click comes out where expected to the sample
//! (tolerance 0). Opus reproduces the click's shape, not its phase exactly
//! (SILK's LPC/LTP coding and CELT's MDCT smear it a little), so the
//! correlation peak may move by a few samples (measured: 2 to 3 samples
//! early, for every click position tried): the tolerance is +/- 12 samples
//! at 48 kHz (0.25 ms, half the click's width). Any error in the accounted
//! parts is at least a codec granule (2.5 ms = 120 samples), a lookahead
//! (6.5 ms) or a frame (20 ms), far outside it. Device and media thread
//! share the clock, so the drift correction stays at exactly 0 and the
//! rings' kernels are exact delays, drift correction on or off.
//!
//! Also: allocations per frame in steady state, per stage (a counting
//! global allocator, per thread).
//!
//! Figures: `cargo test --release --test pipeline_latency -- --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use voipkit_codec::{
    Decoder, Encoder, FrameKind, JitterBufferConfig, OpusEncoderConfig, TargetDelay,
};
use voipkit_dev::pipeline::{
    LatencyBreakdown, OpusPipeline, PcmuPipeline, Pipeline, PipelineConfig, kernel_delay_samples,
};

/// The engine's automatic ring target here: 20 ms frames on 20 ms device
/// callbacks, so no sawtooth term: one device buffer + 5 ms.
const AUTO_RING: Duration = Duration::from_millis(25);
/// The rings' cubic kernel at 8 kHz: 2 samples.
const KERNEL_8K: Duration = Duration::from_micros(250);

// ----- allocation counting (per thread, so parallel tests don't mix) -----

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ----- the click and where it comes out -----

/// A Hann-windowed pulse about 0.5 ms wide (broadband up to ~4 kHz, so it
/// survives SILK wideband; no carrier, so the correlation has one peak).
fn click(rate: u32) -> Vec<i16> {
    let n = (rate as usize / 2000).max(2) + 1; // 5 samples at 8 kHz, 25 at 48 kHz
    (0..n)
        .map(|i| {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos();
            (16_000.0 * w).round() as i16
        })
        .collect()
}

/// Lag of the largest cross-correlation of `out` with `template`, and the
/// normalised correlation there.
fn xcorr_peak(out: &[i16], template: &[i16]) -> (usize, f64) {
    let e_t: f64 = template.iter().map(|&x| f64::from(x).powi(2)).sum();
    let mut best = (0usize, f64::MIN, 0.0);
    for lag in 0..out.len().saturating_sub(template.len()) {
        let w = &out[lag..lag + template.len()];
        let c: f64 = w
            .iter()
            .zip(template)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        if c > best.1 {
            let e_w: f64 = w.iter().map(|&x| f64::from(x).powi(2)).sum();
            best = (lag, c, c / (e_t * e_w).sqrt().max(1.0));
        }
    }
    (best.0, best.2)
}

#[derive(Debug)]
struct Measurement {
    /// Mouth-to-ear delay found, in samples.
    measured: i64,
    /// The parts' figures at the tick that played the click.
    expected: LatencyBreakdown,
    /// Normalised correlation of the output with the click.
    correlation: f64,
    /// Peak |sample| of the output (the click's height after the codec).
    peak: i16,
}

/// Runs `settle` frames of silence, then a click `offset` samples into the
/// next frame, then enough frames for it to come out; returns where it
/// came out and the parts' figures, which must not have moved from the
/// click's capture to its playout.
fn measure<E: Encoder, D: Decoder>(
    p: &mut Pipeline<E, D>,
    settle: usize,
    offset: usize,
) -> Measurement {
    let f = p.samples_per_frame();
    let rate = p.sample_rate();
    let template = click(rate);
    assert!(
        offset + template.len() + 4 < f,
        "the click fits in one frame"
    );
    let frames = settle + 1 + 10;
    let click_at = settle * f + offset;
    let mut mic = vec![0i16; frames * f];
    mic[click_at..click_at + template.len()].copy_from_slice(&template);
    let mut out = vec![0i16; frames * f];
    let mut figures = Vec::with_capacity(frames);
    for k in 0..frames {
        let kind = p
            .tick(&mic[k * f..(k + 1) * f], &mut out[k * f..(k + 1) * f])
            .unwrap();
        if k > settle {
            assert!(
                matches!(kind, FrameKind::Normal),
                "frame {k} after the click is {kind:?}"
            );
        }
        figures.push(p.latency());
    }
    // From the click's capture on, the figures hold still.
    let at_click = figures[settle];
    for (k, fig) in figures.iter().enumerate().skip(settle) {
        assert_eq!(*fig, at_click, "latency figures moved at frame {k}");
    }
    assert_eq!(
        at_click.jitter_current, at_click.jitter_target,
        "the jitter buffer has settled at its target"
    );
    let (lag, correlation) = xcorr_peak(&out, &template);
    // Output sample `m` of the render in tick k plays one frame after the
    // capture of the block that tick delivered (module docs of pipeline).
    let measured = lag as i64 + f as i64 - click_at as i64;
    let peak = out.iter().map(|s| s.saturating_abs()).max().unwrap_or(0);
    assert_eq!(p.receiver().stats().drops.total(), 0, "no datagram dropped");
    let jb = p.jitter_buffer().stats();
    assert_eq!(jb.packets_late + jb.packets_missing + jb.decode_errors, 0);
    Measurement {
        measured,
        expected: at_click,
        correlation,
        peak,
    }
}

fn report(name: &str, m: &Measurement, tolerance: i64) {
    let rate = m.expected.sample_rate;
    let ms = |s: i64| s as f64 * 1e3 / f64::from(rate);
    println!(
        "{name}: measured {:.3} ms ({} samples), expected {:.3} ms ({} samples), \
         difference {} samples (tolerance {tolerance}); correlation {:.3}, output peak {}\n    {}",
        ms(m.measured),
        m.measured,
        ms(m.expected.total_samples()),
        m.expected.total_samples(),
        m.measured - m.expected.total_samples(),
        m.correlation,
        m.peak,
        m.expected,
    );
    assert!(
        (m.measured - m.expected.total_samples()).abs() <= tolerance,
        "{name}: measured {} samples, expected {} ({})",
        m.measured,
        m.expected.total_samples(),
        m.expected
    );
}

const G711_TOLERANCE: i64 = 0;
const OPUS_TOLERANCE: i64 = 12;

fn start() -> Instant {
    Instant::now()
}

fn opus_shipped() -> OpusEncoderConfig {
    // What we ship: 20 ms, speech, 32 kbit/s, complexity 5, FEC (5% expected loss).
    OpusEncoderConfig::default()
}

fn fixed(d: Duration) -> JitterBufferConfig {
    JitterBufferConfig {
        target: TargetDelay::Fixed(d),
        initial_delay: Duration::ZERO,
        ..JitterBufferConfig::default()
    }
}

// ----- G.711 -----

#[test]
fn pcmu_minimal() {
    let mut p = PcmuPipeline::pcmu(&PipelineConfig::minimal(), start()).unwrap();
    let m = measure(&mut p, 20, 37);
    report(
        "PCMU, minimal (jitter buffer fixed minimal, ring targets 0, no drift correction)",
        &m,
        G711_TOLERANCE,
    );
    assert_eq!(m.expected.jitter_target, Duration::ZERO);
    // 20 ms frame + the rings' 2 + 2 kernel samples.
    assert_eq!(m.expected.total_samples(), 160 + 4);
    assert!(m.correlation > 0.99);
}

#[test]
fn pcmu_minimal_jitter_buffer() {
    let config = PipelineConfig {
        jitter: JitterBufferConfig::fixed_minimal(),
        ..PipelineConfig::default()
    };
    let mut p = PcmuPipeline::pcmu(&config, start()).unwrap();
    let m = measure(&mut p, 20, 37);
    report(
        "PCMU, jitter buffer fixed minimal, engine rings",
        &m,
        G711_TOLERANCE,
    );
    assert_eq!(m.expected.jitter_target, Duration::ZERO);
    assert_eq!(m.expected.capture_ring, AUTO_RING + KERNEL_8K);
    assert_eq!(m.expected.playout_ring, AUTO_RING + KERNEL_8K);
    // 20 ms frame + 2 x (25 ms + 2 samples).
    assert_eq!(m.expected.total_samples(), 160 + 2 * 202);
    assert!(m.correlation > 0.99);
}

#[test]
fn pcmu_engine_default_jitter_buffer() {
    let mut p = PcmuPipeline::pcmu(&PipelineConfig::default(), start()).unwrap();
    // The adaptive buffer starts at its 40 ms initial delay and comes down
    // (accelerating in quiet audio) as it measures a jitter-free link.
    let m = measure(&mut p, 250, 37);
    report(
        "PCMU, engine defaults (adaptive jitter buffer, engine rings)",
        &m,
        G711_TOLERANCE,
    );
    assert!(m.correlation > 0.99);
}

#[test]
fn pcmu_late_in_the_call() {
    // The rings add the same 20 s into the call as at its start (the
    // drift controllers, on, hold them where they started).
    let config = PipelineConfig {
        jitter: JitterBufferConfig::fixed_minimal(),
        ..PipelineConfig::default()
    };
    let mut p = PcmuPipeline::pcmu(&config, start()).unwrap();
    let m = measure(&mut p, 1000, 37);
    report("PCMU, 20 s into the call, engine rings", &m, G711_TOLERANCE);
    assert_eq!(m.expected.total_samples(), 160 + 2 * 202);
    assert_eq!(p.playout_stream().stats().drift_correction_ppm, 0);
    assert!(m.correlation > 0.99);
}

#[test]
fn pcmu_fixed_jitter_buffer() {
    let config = PipelineConfig {
        jitter: fixed(Duration::from_millis(30)),
        ..PipelineConfig::default()
    };
    let mut p = PcmuPipeline::pcmu(&config, start()).unwrap();
    let m = measure(&mut p, 20, 101);
    report(
        "PCMU, jitter buffer fixed 30 ms allowance",
        &m,
        G711_TOLERANCE,
    );
    assert!(m.expected.jitter_target >= Duration::from_millis(30));
}

#[test]
fn pcmu_other_ring_targets() {
    // Targets that are not multiples of the frame: the rings start with
    // leading silence and add exactly their targets all the same, drift
    // correction on and off.
    for drift in [
        voipkit_audio::DriftConfig::default(),
        PipelineConfig::NO_DRIFT,
    ] {
        let config = PipelineConfig {
            jitter: JitterBufferConfig::fixed_minimal(),
            capture_ring_target: Some(Duration::from_millis(30)),
            playout_ring_target: Some(Duration::from_millis(7)),
            drift,
            ..PipelineConfig::default()
        };
        let mut p = PcmuPipeline::pcmu(&config, start()).unwrap();
        let m = measure(&mut p, 20, 37);
        report(
            &format!(
                "PCMU, capture ring 30 ms, playout ring 7 ms, max drift correction {}",
                drift.max_correction
            ),
            &m,
            G711_TOLERANCE,
        );
        assert_eq!(
            m.expected.capture_ring,
            Duration::from_millis(30) + KERNEL_8K
        );
        assert_eq!(
            m.expected.playout_ring,
            Duration::from_millis(7) + KERNEL_8K
        );
    }
}

// ----- Opus -----

#[test]
fn opus_minimal() {
    let mut p = OpusPipeline::opus(&opus_shipped(), &PipelineConfig::minimal(), start()).unwrap();
    let m = measure(&mut p, 20, 300);
    report(
        "Opus, minimal (jitter buffer fixed minimal, ring targets 0, no drift correction)",
        &m,
        OPUS_TOLERANCE,
    );
    assert_eq!(m.expected.encoder_delay, Duration::from_micros(6500));
    assert!(m.correlation > 0.8);
}

#[test]
fn opus_engine_default_jitter_buffer() {
    let mut p = OpusPipeline::opus(&opus_shipped(), &PipelineConfig::default(), start()).unwrap();
    let m = measure(&mut p, 250, 300);
    report(
        "Opus, engine defaults (adaptive jitter buffer, engine rings)",
        &m,
        OPUS_TOLERANCE,
    );
    assert!(m.correlation > 0.8);
}

#[test]
fn opus_fixed_jitter_buffer() {
    let config = PipelineConfig {
        jitter: fixed(Duration::from_millis(30)),
        ..PipelineConfig::default()
    };
    let mut p = OpusPipeline::opus(&opus_shipped(), &config, start()).unwrap();
    let m = measure(&mut p, 20, 555);
    report(
        "Opus, jitter buffer fixed 30 ms allowance",
        &m,
        OPUS_TOLERANCE,
    );
}

// ----- the rings' kernel figure -----

#[test]
fn ring_kernel_delay() {
    // Measured delay of the unity-step kernel vs. what it reports.
    for rate in [8_000, 48_000] {
        let r = voipkit_audio::FractionalResampler::for_rates(1, rate, rate);
        println!(
            "ring kernel at {rate} Hz: measured {} samples, delay_frames() reports {}",
            kernel_delay_samples(rate),
            r.delay_frames()
        );
        assert_eq!(kernel_delay_samples(rate), 2);
        assert_eq!(r.delay_frames(), 2);
    }
}

// ----- allocations per frame in steady state -----

/// Allocations per frame by stage over `n` frames after `warm` frames of a
/// speech-like signal.
fn allocations<E: Encoder, D: Decoder>(p: &mut Pipeline<E, D>, warm: usize, n: usize) -> [f64; 7] {
    let f = p.samples_per_frame();
    let rate = f64::from(p.sample_rate());
    let mut mic = vec![0i16; f];
    let mut speaker = vec![0i16; f];
    let mut counts = [0u64; 7];
    let mut phase = 0.0f64;
    for k in 0..warm + n {
        for (i, s) in mic.iter_mut().enumerate() {
            let t = (k * f + i) as f64 / rate;
            phase += 2.0 * std::f64::consts::PI * (140.0 + 20.0 * (3.0 * t).sin()) / rate;
            let v: f64 = (1..6).map(|h| (phase * h as f64).sin() / h as f64).sum();
            *s = (v * 5000.0 * (0.3 + 0.7 * (5.0 * t).sin().abs())) as i16;
        }
        let mut stage = |i: usize, before: u64| {
            if k >= warm {
                counts[i] += allocs() - before;
            }
        };
        let a = allocs();
        p.stage_capture(&mic).unwrap();
        stage(0, a);
        let a = allocs();
        p.stage_encode().unwrap();
        stage(1, a);
        let a = allocs();
        p.stage_send().unwrap();
        stage(2, a);
        let a = allocs();
        p.stage_receive().unwrap();
        stage(3, a);
        let a = allocs();
        p.stage_timers();
        stage(4, a);
        let a = allocs();
        p.stage_decode().unwrap();
        stage(5, a);
        let a = allocs();
        p.stage_render(&mut speaker);
        p.advance();
        stage(6, a);
    }
    counts.map(|c| c as f64 / n as f64)
}

fn print_allocations(name: &str, a: &[f64; 7]) {
    println!(
        "{name} allocations per frame: capture {:.2}, encode {:.2}, RTP+SRTP protect {:.2}, \
         SRTP unprotect+RTP parse+jitter insert {:.2}, RTCP timers {:.2}, jitter get_frame+decode+push {:.2}, render {:.2}",
        a[0], a[1], a[2], a[3], a[4], a[5], a[6]
    );
}

#[test]
fn steady_state_allocations() {
    let mut g = PcmuPipeline::pcmu(&PipelineConfig::default(), start()).unwrap();
    let a = allocations(&mut g, 500, 2000);
    print_allocations("PCMU", &a);
    let mut o = OpusPipeline::opus(&opus_shipped(), &PipelineConfig::default(), start()).unwrap();
    let b = allocations(&mut o, 500, 2000);
    print_allocations("Opus", &b);
    for x in [a, b] {
        // Ours: the rings, the codecs, the jitter buffer allocate nothing.
        assert_eq!(x[0], 0.0, "capture");
        assert_eq!(x[1], 0.0, "encode");
        assert_eq!(x[5], 0.0, "jitter buffer / decode / playout push");
        assert_eq!(x[6], 0.0, "render");
        // webrtc-srtp allocates its output on protect and on unprotect
        // (voipkit-media copies it into a reused buffer): one each.
        assert!(x[2] <= 1.0, "protect");
        assert!(x[3] <= 1.0, "unprotect");
    }
}
