//! Criterion benches of the whole media pipeline: CPU per 20 ms frame,
//! with no network and no device (`voipkit_dev::pipeline`):
//!
//! capture callback -> capture ring -> encode -> RTP packetize -> SRTP
//! protect (AES_CM_128_HMAC_SHA1_80) -> SRTP unprotect -> RTP parse (the
//! receiving `MediaSession`, the engine's real receive path) -> jitter
//! buffer insert -> jitter buffer get_frame (decode) -> playout ring ->
//! render callback, plus the sessions' RTCP timers.
//!
//! `pipeline/frame_20ms/*` report the calling thread's CPU time per frame
//! (`CLOCK_THREAD_CPUTIME_ID`), so that other work on the machine (2 cores,
//! shared) does not count; `pipeline_wall/frame_20ms/*` are the same in
//! wall-clock time for comparison.
//!
//! - `pcmu`: G.711 u-law, 8 kHz (target: < 5 us per frame);
//! - `opus_shipped`: Opus as we ship it, `OpusEncoderConfig::default()`:
//!   48 kHz mono, application VOIP, told it carries speech
//!   (`OpusSignal::Voice`, so every frame is hybrid SILK + CELT), 32 kbit/s,
//!   complexity 5, in-band FEC (5% expected loss), no DTX (target: < 400
//!   us, 2% of the frame). The mode mix is printed;
//! - `opus_voice_c9`: the same at complexity 9 (a desktop app's choice):
//!   the worst realistic case;
//! - `opus_auto_c9`: complexity 9 with the signal left to libopus
//!   (`OpusSignal::Auto`, what shipped before): its speech/music analysis
//!   takes this input mostly for music and codes CELT-only frames, about
//!   five times cheaper to encode than hybrid, and not what real speech
//!   gets;
//! - `pipeline_stage/<codec>/<stage>`: full ticks, wall time of one stage
//!   only, to show where the time goes.
//!
//! Input: a source-filter speech-like signal (jittered glottal pulses or
//! noise through three moving formant resonators, syllables of random
//! length), 4 s looped. The jitter buffer and the rings are the engine's
//! defaults (adaptive buffer; automatic ring targets, drift correction on,
//! which on the shared clock stays at 0, so the rings run their straight
//! copy); 5 s of audio warm the pipeline up first.
//!
//! Run: `cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 3`
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voipkit_codec::{Decoder, Encoder, OpusDecoder, OpusEncoderConfig, OpusSignal};
use voipkit_dev::pipeline::{OpusPipeline, PcmuPipeline, Pipeline, PipelineConfig};

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `seconds` of a source-filter speech-like signal at `rate`.
fn speechlike(rate: u32, seconds: usize) -> Vec<i16> {
    let fs = f64::from(rate);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = rate as usize * seconds;
    let mut out = Vec::with_capacity(n);
    let mut state = [[0.0f64; 2]; 3];
    let (mut phase, mut glottis, mut left) = (0.0f64, 0.0f64, 0usize);
    let (mut voiced, mut amp, mut f0) = (false, 0.0f64, 120.0f64);
    let (mut formants, mut target, mut target_amp) = ([500.0f64, 1500.0, 2500.0], [0.0; 3], 0.0);
    for _ in 0..n {
        if left == 0 {
            if rnd() < 0.25 {
                // Fricative.
                left = (fs * (0.05 + 0.08 * rnd())) as usize;
                voiced = false;
                target_amp = 0.15;
                target = [
                    2500.0 + 1000.0 * rnd(),
                    4000.0 + 1500.0 * rnd(),
                    6000.0 + 1000.0 * rnd(),
                ];
            } else {
                // Vowel.
                left = (fs * (0.08 + 0.15 * rnd())) as usize;
                voiced = true;
                target_amp = 1.0;
                target = [
                    300.0 + 500.0 * rnd(),
                    900.0 + 1400.0 * rnd(),
                    2300.0 + 800.0 * rnd(),
                ];
                f0 = 100.0 + 80.0 * rnd();
            }
            // Keep the formants below Nyquist at 8 kHz.
            for t in &mut target {
                *t = t.min(0.45 * fs);
            }
        }
        left -= 1;
        amp += (target_amp - amp) * (96.0 / fs);
        for (f, t) in formants.iter_mut().zip(target) {
            *f += (t - *f) * (48.0 / fs);
        }
        let noise = rnd() - 0.5;
        let excitation = if voiced {
            phase += f0 * (1.0 + 0.01 * (rnd() - 0.5)) / fs;
            if phase >= 1.0 {
                phase -= 1.0;
                glottis = 1.0;
            }
            let g = glottis;
            glottis *= 0.6;
            3.0 * g + 0.05 * noise
        } else {
            0.8 * noise
        };
        let mut y = excitation * amp;
        for (k, (s, f)) in state.iter_mut().zip(formants).enumerate() {
            let r = (-std::f64::consts::PI * (80.0 + 40.0 * k as f64) / fs).exp();
            let a1 = 2.0 * r * (2.0 * std::f64::consts::PI * f / fs).cos();
            let v = (1.0 - r) * y + a1 * s[0] - r * r * s[1];
            s[1] = s[0];
            s[0] = v;
            y = v * if k == 0 { 8.0 } else { 3.0 };
        }
        out.push(y + noise * 0.006);
    }
    let peak = out.iter().fold(1e-9f64, |m, &x| m.max(x.abs()));
    out.iter().map(|&x| (x / peak * 20_000.0) as i16).collect()
}

struct Run<E: Encoder, D: Decoder> {
    p: Pipeline<E, D>,
    mic: Vec<i16>,
    speaker: Vec<i16>,
    pos: usize,
    /// Opus TOC configurations seen (index: config number).
    configs: [u64; 32],
}

impl<E: Encoder, D: Decoder> Run<E, D> {
    fn new(p: Pipeline<E, D>) -> Self {
        let mic = speechlike(p.sample_rate(), 4);
        let speaker = vec![0; p.samples_per_frame()];
        let mut r = Self {
            p,
            mic,
            speaker,
            pos: 0,
            configs: [0; 32],
        };
        for _ in 0..250 {
            r.tick();
        }
        let jb = r.p.jitter_buffer().stats();
        assert_eq!(jb.packets_late + jb.packets_missing, 0);
        r
    }

    fn next_mic(&mut self) -> std::ops::Range<usize> {
        let f = self.p.samples_per_frame();
        if self.pos + f > self.mic.len() {
            self.pos = 0;
        }
        let r = self.pos..self.pos + f;
        self.pos += f;
        r
    }

    fn tick(&mut self) {
        let r = self.next_mic();
        black_box(self.p.tick(&self.mic[r], &mut self.speaker).unwrap());
        if let Some(&toc) = self.p.last_payload().first() {
            self.configs[usize::from(toc >> 3)] += 1;
        }
    }

    /// `iters` ticks; the thread's CPU time they took.
    fn cpu(&mut self, iters: u64) -> Duration {
        let t = thread_cpu();
        for _ in 0..iters {
            self.tick();
        }
        thread_cpu() - t
    }

    /// One full tick; returns the wall time spent in stage `which`.
    fn tick_timing(&mut self, which: usize) -> Duration {
        let r = self.next_mic();
        let mut spent = Duration::ZERO;
        let mut timed = |i: usize, t: Instant| {
            if i == which {
                spent += t.elapsed();
            }
        };
        let t = Instant::now();
        self.p.stage_capture(&self.mic[r]).unwrap();
        timed(0, t);
        let t = Instant::now();
        self.p.stage_encode().unwrap();
        timed(1, t);
        let t = Instant::now();
        self.p.stage_send().unwrap();
        timed(2, t);
        let t = Instant::now();
        self.p.stage_receive().unwrap();
        timed(3, t);
        let t = Instant::now();
        self.p.stage_timers();
        self.p.stage_decode().unwrap();
        timed(4, t);
        let t = Instant::now();
        self.p.stage_render(&mut self.speaker);
        timed(5, t);
        self.p.advance();
        black_box(&self.speaker);
        spent
    }

    /// Prints the Opus modes chosen since the last call.
    fn print_modes(&mut self, name: &str) {
        let total: u64 = self.configs.iter().sum();
        let share = |range: std::ops::Range<usize>| {
            100.0 * self.configs[range].iter().sum::<u64>() as f64 / total.max(1) as f64
        };
        println!(
            "{name}: Opus frames SILK-only {:.1}%, hybrid {:.1}%, CELT-only {:.1}% (of {total})",
            share(0..12),
            share(12..16),
            share(16..32)
        );
        self.configs = [0; 32];
    }
}

const STAGES: [&str; 6] = [
    "capture_ring",
    "encode",
    "rtp_srtp_protect",
    "srtp_unprotect_rtp_parse_jb_insert",
    "rtcp_timers_jb_get_frame_decode_push",
    "render",
];

fn pcmu() -> Run<voipkit_codec::G711Encoder, voipkit_codec::G711Decoder> {
    Run::new(PcmuPipeline::pcmu(&PipelineConfig::default(), Instant::now()).unwrap())
}

fn opus(complexity: u8, signal: OpusSignal) -> Run<voipkit_codec::OpusEncoder, OpusDecoder> {
    let cfg = OpusEncoderConfig {
        complexity,
        signal,
        ..OpusEncoderConfig::default()
    };
    Run::new(OpusPipeline::opus(&cfg, &PipelineConfig::default(), Instant::now()).unwrap())
}

fn opus_shipped() -> Run<voipkit_codec::OpusEncoder, OpusDecoder> {
    let d = OpusEncoderConfig::default();
    opus(d.complexity, d.signal)
}

fn whole_frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline/frame_20ms");
    g.throughput(Throughput::Elements(1));
    let mut r = pcmu();
    g.bench_function("pcmu", |b| b.iter_custom(|n| r.cpu(n)));
    let mut r = opus_shipped();
    r.print_modes("opus_shipped warm-up");
    g.bench_function("opus_shipped", |b| b.iter_custom(|n| r.cpu(n)));
    r.print_modes("opus_shipped");
    let mut r = opus(9, OpusSignal::Voice);
    g.bench_function("opus_voice_c9", |b| b.iter_custom(|n| r.cpu(n)));
    r.print_modes("opus_voice_c9");
    let mut r = opus(9, OpusSignal::Auto);
    g.bench_function("opus_auto_c9", |b| b.iter_custom(|n| r.cpu(n)));
    r.print_modes("opus_auto_c9");
    g.finish();

    let mut g = c.benchmark_group("pipeline_wall/frame_20ms");
    g.throughput(Throughput::Elements(1));
    let mut r = pcmu();
    g.bench_function("pcmu", |b| b.iter(|| r.tick()));
    let mut r = opus_shipped();
    g.bench_function("opus_shipped", |b| b.iter(|| r.tick()));
    g.finish();
}

fn stage_group<E: Encoder, D: Decoder>(c: &mut Criterion, name: &str, mut r: Run<E, D>) {
    let mut g = c.benchmark_group(format!("pipeline_stage/{name}"));
    for (i, stage) in STAGES.iter().enumerate() {
        g.bench_function(*stage, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| r.tick_timing(i)).sum())
        });
    }
    g.finish();
}

fn stages(c: &mut Criterion) {
    stage_group(c, "pcmu", pcmu());
    stage_group(c, "opus_shipped", opus_shipped());
}

/// The rings alone, per 20 ms PCMU frame (push + render, capture + pop,
/// 160 samples each way, i16 device at 8 kHz): `in_phase` is the
/// pipeline's case (correction exactly 0: the straight copy); `drifting`
/// has device callbacks of 159 frames with an extra one every 159 frames
/// (the rates agree on average, the phase wanders), so the drift
/// controllers' corrections are not 0 (about ±450 ppm, printed) and the
/// cubic kernel interpolates every sample (in blocks). Before the block
/// paths both cost about 8 us (25 ns a sample, per-sample calls).
fn rings(c: &mut Criterion) {
    use voipkit_audio::{
        DeviceFormat, FrameDuration, StreamConfig, capture_channel, playout_channel,
    };
    let mut g = c.benchmark_group("ring/pcmu_frame");
    for (name, device_frames) in [("in_phase", 160usize), ("drifting", 159)] {
        let engine = StreamConfig::new(8_000, 1, FrameDuration::Ms20);
        let device = DeviceFormat {
            sample_rate: 8_000,
            channels: 1,
            buffer_frames: Some(160),
        };
        let (mut playout, mut render) = playout_channel(&engine, &device).unwrap();
        let (mut capture, mut capture_cb) = capture_channel(&engine, &device).unwrap();
        let mic = speechlike(8_000, 1);
        let mut frame = vec![0i16; 160];
        let mut out = vec![0i16; device_frames];
        let mut pos = 0usize;
        let mut owed = 0usize;
        let mut tick = |frame: &mut Vec<i16>| {
            if pos + 160 > mic.len() {
                pos = 0;
            }
            let _ = playout.push_frame(&mic[pos..pos + 160]);
            render.render(&mut out);
            // Shorter callbacks, and an extra one now and then.
            owed += 160 - device_frames;
            if owed >= device_frames {
                owed -= device_frames;
                render.render(&mut out);
                capture_cb.capture(&mic[pos..pos + device_frames]);
            }
            capture_cb.capture(&mic[pos..pos + device_frames]);
            let _ = capture.pop_frame(frame);
            pos += 160;
        };
        for _ in 0..3000 {
            tick(&mut frame);
        }
        g.bench_function(name, |b| {
            b.iter_custom(|n| {
                let t = thread_cpu();
                for _ in 0..n {
                    tick(&mut frame);
                }
                thread_cpu() - t
            })
        });
        println!(
            "ring/pcmu_frame/{name}: playout correction {} ppm, capture correction {} ppm",
            playout.stats().drift_correction_ppm,
            capture.stats().drift_correction_ppm
        );
    }
    g.finish();
}

criterion_group!(benches, whole_frame, stages, rings);
criterion_main!(benches);
