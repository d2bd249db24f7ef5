//! Criterion benches of the whole media pipeline: CPU per 20 ms frame,
//! with no network and no device (`voipkit_dev::pipeline`):
//!
//! capture callback -> capture ring -> encode -> RTP packetize -> SRTP
//! protect (AES_CM_128_HMAC_SHA1_80) -> SRTP unprotect -> RTP parse (the
//! receiving `MediaSession`, the engine's real receive path) -> jitter
//! buffer insert -> jitter buffer get_frame (decode) -> playout ring ->
//! render callback, plus the sessions' RTCP timers.
//!
//! - `pipeline/frame_20ms/pcmu`: G.711 u-law, 8 kHz (target: < 5 us);
//! - `pipeline/frame_20ms/opus_c9_32k_fec`: Opus as we ship it (48 kHz
//!   mono, VOIP, 32 kbit/s, complexity 9, in-band FEC with 5% expected
//!   loss, no DTX; `OpusEncoderConfig::default()`) (target: < 400 us, 2%
//!   of the frame);
//! - `pipeline/frame_20ms/opus_c5_32k_fec`: the same at complexity 5 (the
//!   mobile choice);
//! - `pipeline_stage/<codec>/<stage>`: the same full ticks, timing one
//!   stage only, to show where the time goes.
//!
//! Input is a speech-like signal (harmonics of a wandering 110-170 Hz
//! pitch, syllable-rate envelope, a little noise), looped over 2 s. The
//! jitter buffer is the engine's default (adaptive); the pipeline is warmed
//! up for 5 s of audio first, so it is measured in steady state.
//!
//! Run: `cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 3`
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voipkit_codec::{Decoder, Encoder, OpusEncoderConfig};
use voipkit_dev::pipeline::{OpusPipeline, PcmuPipeline, Pipeline, PipelineConfig};

/// `seconds` of a speech-like signal at `rate`.
fn speechlike(rate: u32, seconds: usize) -> Vec<i16> {
    let n = rate as usize * seconds;
    let mut phase = 0.0f64;
    let mut noise = 0x2545_f491_u32;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 140.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f64::consts::PI * f0 / f64::from(rate);
            let mut v = 0.0;
            for h in 1..8 {
                v += (phase * h as f64).sin() / h as f64;
            }
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let hiss = (f64::from(noise) / f64::from(u32::MAX) - 0.5) * 300.0;
            let envelope = 0.2 + 0.8 * (2.0 * std::f64::consts::PI * 2.5 * t).sin().abs();
            (v * 5000.0 * envelope + hiss) as i16
        })
        .collect()
}

struct Run<E: Encoder, D: Decoder> {
    p: Pipeline<E, D>,
    mic: Vec<i16>,
    speaker: Vec<i16>,
    pos: usize,
}

impl<E: Encoder, D: Decoder> Run<E, D> {
    fn new(p: Pipeline<E, D>) -> Self {
        let mic = speechlike(p.sample_rate(), 2);
        let speaker = vec![0; p.samples_per_frame()];
        let mut r = Self {
            p,
            mic,
            speaker,
            pos: 0,
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
    }

    /// One full tick; returns the time spent in stage `which`.
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

fn opus(complexity: u8) -> Run<voipkit_codec::OpusEncoder, voipkit_codec::OpusDecoder> {
    let cfg = OpusEncoderConfig {
        complexity,
        ..OpusEncoderConfig::default()
    };
    Run::new(OpusPipeline::opus(&cfg, &PipelineConfig::default(), Instant::now()).unwrap())
}

fn whole_frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline/frame_20ms");
    g.throughput(Throughput::Elements(1));
    let mut r = pcmu();
    g.bench_function("pcmu", |b| b.iter(|| r.tick()));
    let mut r = opus(9);
    g.bench_function("opus_c9_32k_fec", |b| b.iter(|| r.tick()));
    let mut r = opus(5);
    g.bench_function("opus_c5_32k_fec", |b| b.iter(|| r.tick()));
    g.finish();
}

fn stages(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline_stage/pcmu");
    let mut r = pcmu();
    for (i, name) in STAGES.iter().enumerate() {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| r.tick_timing(i)).sum())
        });
    }
    g.finish();
    let mut g = c.benchmark_group("pipeline_stage/opus_c9_32k_fec");
    let mut r = opus(9);
    for (i, name) in STAGES.iter().enumerate() {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| r.tick_timing(i)).sum())
        });
    }
    g.finish();
}

criterion_group!(benches, whole_frame, stages);
criterion_main!(benches);
