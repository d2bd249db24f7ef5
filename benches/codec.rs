//! Criterion benches of voipkit-codec: per-frame costs of G.711, Opus, the
//! jitter buffer and the resampler.
//!
//! `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use voipkit_codec::testing::SpeechlikeSignal;
use voipkit_codec::{
    Decoder, Encoder, G711Decoder, G711Encoder, G711Law, IncomingPacket, JitterBuffer,
    JitterBufferConfig, OpusDecoder, OpusEncoder, OpusEncoderConfig, Resampler,
};

/// Five harmonics of a pitch gliding 130 ± 30 Hz, with syllables.
fn speechlike(rate: u32, n: usize) -> Vec<i16> {
    SpeechlikeSignal::VOICE_130HZ.samples(rate, n, |t| 0.3 + 0.7 * (6.0 * t).sin().abs())
}

/// `pcm` (48 kHz mono) as 20 ms Opus packets from a new encoder with the
/// shipped settings.
fn opus_packets(pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
    let mut buf = [0u8; 1500];
    pcm.chunks(960)
        .map(|f| {
            let n = enc.encode(f, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

fn g711(c: &mut Criterion) {
    let pcm = speechlike(8000, 160);
    let mut enc = G711Encoder::new(G711Law::Mu, Duration::from_millis(20)).unwrap();
    let mut dec = G711Decoder::new(G711Law::Mu);
    let mut pkt = [0u8; 160];
    let mut out = [0i16; 160];
    c.bench_function("g711_ulaw_encode_decode_20ms", |b| {
        b.iter(|| {
            enc.encode(black_box(&pcm), &mut pkt).unwrap();
            dec.decode(black_box(&pkt), &mut out).unwrap();
            black_box(out[80])
        })
    });
}

fn opus(c: &mut Criterion) {
    // What we ship: 48 kHz mono, 20 ms, VOIP, speech (OPUS_SET_SIGNAL
    // voice, so hybrid frames), 32 kbit/s, complexity 5, FEC.
    let cfg = OpusEncoderConfig::default();
    let pcm = speechlike(48_000, 960 * 50);
    let mut enc = OpusEncoder::new(&cfg).unwrap();
    let mut pkt = [0u8; 1500];
    let mut i = 0usize;
    c.bench_function("opus_encode_20ms_48k_mono_voice_c5_fec", |b| {
        b.iter(|| {
            let f = &pcm[(i % 50) * 960..(i % 50 + 1) * 960];
            i += 1;
            black_box(enc.encode(black_box(f), &mut pkt).unwrap())
        })
    });
    // The cost of each complexity with speech (the shipped settings
    // otherwise), to choose the default.
    let mut g = c.benchmark_group("opus_encode_voice");
    for complexity in [3u8, 5, 6, 7, 8, 9] {
        let mut enc = OpusEncoder::new(&OpusEncoderConfig {
            complexity,
            ..OpusEncoderConfig::default()
        })
        .unwrap();
        let mut i = 0usize;
        g.bench_function(format!("c{complexity}"), |b| {
            b.iter(|| {
                let f = &pcm[(i % 50) * 960..(i % 50 + 1) * 960];
                i += 1;
                black_box(enc.encode(black_box(f), &mut pkt).unwrap())
            })
        });
    }
    g.finish();
    let packets = opus_packets(&pcm);
    let mut dec = OpusDecoder::new(1).unwrap();
    let mut out = [0i16; 960];
    let mut j = 0usize;
    c.bench_function("opus_decode_20ms_48k_mono", |b| {
        b.iter(|| {
            let p = &packets[j % packets.len()];
            j += 1;
            black_box(dec.decode(black_box(p), &mut out).unwrap())
        })
    });
    let mut k = 0usize;
    c.bench_function("opus_plc_20ms_48k_mono", |b| {
        b.iter(|| {
            k += 1;
            if k.is_multiple_of(2) {
                dec.decode(&packets[k % packets.len()], &mut out).unwrap();
            }
            black_box(dec.conceal(&mut out).unwrap())
        })
    });
}

fn jitter<D: Decoder>(
    c: &mut Criterion,
    name: &str,
    decoder: D,
    packets: &[Vec<u8>],
    samples: usize,
) {
    let mut jb = JitterBuffer::new(decoder, JitterBufferConfig::default()).unwrap();
    let t0 = Instant::now();
    let mut out = vec![0i16; samples];
    let mut i = 0usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            let t = t0 + Duration::from_millis(20 * i as u64);
            // A little deterministic jitter so the estimator has work.
            let arrival = t + Duration::from_micros((i as u64 * 7919) % 9000);
            let p = &packets[i % packets.len()];
            jb.insert(
                arrival,
                &IncomingPacket {
                    ssrc: 1,
                    sequence_number: i as u16,
                    timestamp: (i * samples) as u32,
                    marker: false,
                    payload: p,
                },
            );
            let k = jb
                .get_frame(t + Duration::from_millis(25), &mut out)
                .unwrap();
            i += 1;
            black_box(k)
        })
    });
}

fn jitter_buffers(c: &mut Criterion) {
    let pcm = speechlike(8000, 160 * 50);
    let mut enc = G711Encoder::new(G711Law::Mu, Duration::from_millis(20)).unwrap();
    let g711: Vec<Vec<u8>> = pcm
        .chunks(160)
        .map(|f| {
            let mut b = vec![0u8; 160];
            enc.encode(f, &mut b).unwrap();
            b
        })
        .collect();
    jitter(
        c,
        "jitter_insert_get_20ms_g711",
        G711Decoder::new(G711Law::Mu),
        &g711,
        160,
    );
    let opus = opus_packets(&speechlike(48_000, 960 * 50));
    jitter(
        c,
        "jitter_insert_get_decode_20ms_opus",
        OpusDecoder::new(1).unwrap(),
        &opus,
        960,
    );
}

fn resampler(c: &mut Criterion) {
    for (inr, outr, ms) in [
        (48_000u32, 8_000u32, 20usize),
        (8_000, 48_000, 20),
        (44_100, 48_000, 10),
        (48_000, 16_000, 20),
    ] {
        let n = inr as usize * ms / 1000;
        let pcm = speechlike(inr, n);
        let mut r = Resampler::new(inr, outr, 1).unwrap();
        let mut out = vec![0i16; outr as usize * ms / 1000 + 2];
        c.bench_function(&format!("resample_{inr}_to_{outr}_{ms}ms"), |b| {
            b.iter(|| black_box(r.process(black_box(&pcm), &mut out).unwrap()))
        });
    }
}

criterion_group!(benches, g711, opus, jitter_buffers, resampler);
criterion_main!(benches);
