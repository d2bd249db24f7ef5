//! Criterion benches of voipkit-media:
//! - `srtp/protect_unprotect_g711`: protect + unprotect one 160-byte G.711
//!   RTP packet (throughput in packets/s), per suite;
//! - `receive_path`: the whole per-packet receive path of a MediaSession
//!   (demux, SRTP unprotect, replay check, RTP parse, latching, statistics,
//!   hand-off to the jitter-buffer queue), SRTP and plain;
//! - `send_path`: send_audio + poll_transmit (RTP build, SRTP protect).
//!
//! Run: `cargo bench --bench media -- --warm-up-time 1 --measurement-time 3`
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_media::rtp::{RtpHeaderFields, build_rtp};
use voipkit_media::srtp::{SrtpReceiver, SrtpSender};
use voipkit_media::{MediaSession, MediaSessionConfig, SrtpParameters};
use voipkit_sdp::{CryptoSuite, SrtpKeyingMaterial};

fn keys(suite: CryptoSuite) -> (SrtpKeyingMaterial, SrtpKeyingMaterial) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    (
        SrtpKeyingMaterial::generate(suite, &mut rng),
        SrtpKeyingMaterial::generate(suite, &mut rng),
    )
}

fn srtp(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp");
    g.throughput(Throughput::Elements(1));
    for suite in [CryptoSuite::AesCm128HmacSha1_80, CryptoSuite::AeadAes128Gcm] {
        let (k, _) = keys(suite);
        let mut tx = SrtpSender::new(&k).unwrap();
        let mut rx = SrtpReceiver::new(&k).unwrap();
        let (mut plain, mut enc, mut dec) = (Vec::new(), Vec::new(), Vec::new());
        let mut seq: u16 = 0;
        let mut roc_ts: u32 = 0;
        g.bench_function(format!("protect_unprotect_g711/{}", suite.name()), |b| {
            b.iter(|| {
                build_rtp(
                    RtpHeaderFields {
                        payload_type: 0,
                        marker: false,
                        sequence_number: seq,
                        timestamp: roc_ts,
                        ssrc: 0x1234_5678,
                    },
                    &[0xd5; 160],
                    &mut plain,
                )
                .unwrap();
                tx.protect_rtp(&plain, &mut enc).unwrap();
                rx.unprotect_rtp(&enc, &mut dec).unwrap();
                seq = seq.wrapping_add(1);
                roc_ts = roc_ts.wrapping_add(160);
                dec.len()
            })
        });
    }
    g.finish();
}

fn pair(srtp: bool) -> (MediaSession, MediaSession, Instant) {
    let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let b: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    let now = Instant::now();
    let (ka, kb) = keys(CryptoSuite::AesCm128HmacSha1_80);
    let mut ca = MediaSessionConfig::new(b, 0, 8000);
    let mut cb = MediaSessionConfig::new(a, 0, 8000);
    if srtp {
        let keys = SrtpParameters {
            local: ka,
            remote: kb,
        };
        cb.srtp = Some(keys.reversed());
        ca.srtp = Some(keys);
    }
    (
        MediaSession::new(ca, ChaCha20Rng::seed_from_u64(1), now).unwrap(),
        MediaSession::new(cb, ChaCha20Rng::seed_from_u64(2), now).unwrap(),
        now,
    )
}

fn receive_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("receive_path");
    g.throughput(Throughput::Elements(1));
    let from: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    for srtp in [true, false] {
        let (mut sender, mut receiver, now) = pair(srtp);
        let name = if srtp { "srtp_g711" } else { "rtp_g711" };
        let mut t = now;
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // Not timed: the next packet of the peer's stream.
                    t += Duration::from_millis(20);
                    sender.send_audio(t, &[0xd5; 160], 160).unwrap();
                    (sender.poll_transmit().unwrap().contents, t)
                },
                |(pkt, at)| {
                    receiver.handle_input(at, from, &pkt);
                    let p = receiver.poll_rtp().unwrap();
                    let n = p.payload.len();
                    receiver.recycle(p.payload);
                    n
                },
                BatchSize::SmallInput,
            )
        });
        assert_eq!(receiver.stats().drops.total(), 0);
    }
    g.finish();
}

fn send_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("send_path");
    g.throughput(Throughput::Elements(1));
    for srtp in [true, false] {
        let (mut sender, _, now) = pair(srtp);
        let name = if srtp { "srtp_g711" } else { "rtp_g711" };
        let mut t = now;
        g.bench_function(name, |b| {
            b.iter(|| {
                t += Duration::from_millis(20);
                sender.send_audio(t, &[0xd5; 160], 160).unwrap();
                let tr = sender.poll_transmit().unwrap();
                let n = tr.contents.len();
                sender.recycle(tr.contents);
                n
            })
        });
    }
    g.finish();
}

criterion_group!(benches, srtp, receive_path, send_path);
criterion_main!(benches);
