//! Measured quality of voipkit-codec's adaptive jitter buffer over seeded
//! voipkit-netsim traces.
//!
//! ```text
//! cargo run --release --example jitter_report            # table
//! cargo run --release --example jitter_report -- --tsv   # header + one line per trace
//! ```
//!
//! `JB_DEBUG=1` in the environment prints every playout tick to stderr.
//!
//! The `fec` and `plc` columns count lost packets recovered from the next
//! packet's in-band FEC (LBRR) and concealed by PLC. With the default
//! encoder settings (5% expected loss) libopus 1.3 puts no LBRR in this
//! signal's packets, so the jitter buffer's FEC delay
//! (`JitterBufferConfig::fec_delay`: one packet time more while over 2% of
//! packets are lost with FEC for them in the next packet) never engages and
//! `--no-fec-delay` changes nothing. `--expected-loss 10` gives LBRR in
//! some packets; then on `bursty_loss10` (seed 1) the FEC delay engages on
//! and off: mean 36.21 ms (1.33x the oracle, which measures delay only)
//! for 37 FEC recoveries instead of 27 (of 869 losses), against 27.35 ms
//! with `--no-fec-delay`. It pays where most packets carry FEC and losses
//! are isolated (the `opus_fec_delay_*` tests of voipkit-codec).
//!
//! Each trace is a few minutes (default 180 s) of 20 ms Opus packets (48 kHz
//! mono, a synthetic speech-like signal encoded once with the shipped
//! settings; `--codec pcmu` for G.711 u-law at 8 kHz instead) sent over a `NetSim` link and played by a `JitterBuffer` on a
//! playout clock that ticks every frame (default 20 ms), starting at an
//! arbitrary phase (7.3 ms past the first packet's nominal arrival). Sends,
//! deliveries and ticks run on virtual time in event order.
//!
//! Definitions (all in milliseconds):
//!
//! - **D0**: the trace's minimum one-way network delay (over all delivered
//!   packets), the delay of the fastest possible path.
//! - **added delay** of a played packet: the instant its first sample is
//!   played minus `(its send instant + D0)`. The play instant is the tick
//!   of the frame that carries the sample plus its offset in that frame
//!   (`JitterBuffer::last_frame_packet_starts`). It is what the buffer adds
//!   on top of the best network path. `mean_ms` and `p95_ms` are its mean
//!   and 95th percentile over all packets played (lost and late packets are
//!   not played). The table also shows `tick_ms`, the mean per playout tick
//!   of `tick - (send(ts) + D0)` with `ts` the timeline position the tick
//!   starts at (`JitterBuffer::last_frame_timestamp`); it differs where
//!   underruns stall the timeline (loss bursts: the buffer cannot know at
//!   once that a packet is lost rather than late).
//! - **late_pct**: packets that arrived after their playout time and were
//!   dropped, as a percentage of packets that arrived (duplicates excluded).
//! - **concealed_pct**: output samples not decoded from their own packet
//!   (PLC, FEC recovery, underrun concealment) as a percentage of output.
//!   It includes concealment of packets the network lost.
//! - **oracle_ms**: the smallest fixed added delay `D` that, on the same
//!   trace and the same playout ticks, would have lost no more than 1% of
//!   the delivered packets late, computed in hindsight. A fixed-delay player
//!   plays the sample sent at `s` at `s + D0 + D`; a packet whose first
//!   sample falls in the frame starting at tick `τ` is needed at `τ`, so it
//!   is on time iff it arrived by `floor_tick(s + D0 + D)`. Every packet it
//!   plays has an added delay of exactly `D`, the same measure as `mean_ms`.
//!   (Because the ticks are discrete, the oracle is quantized to the tick
//!   phase: on the clean trace it is the distance from arrival to the next
//!   tick, 7.3 ms here.)
//!
//! Targets: on the clean trace the buffer adds at most one frame + 2 ms; on
//! every trace the mean added delay is at most 1.2 x the oracle, with late
//! loss at most 1%.
//!
//! `rare_spikes` is an extra trace beyond the five of the issue: delay
//! spikes that hit fewer than 1% of the packets, which the oracle simply
//! lets be late (its 1% budget) while the buffer stalls playout through
//! each spike (no late loss: a 100-200 ms concealment instead of losing
//! 200-600 ms of audio, as NetEq does). Its peak detector keeps an isolated
//! spike (none in the 20 s before) out of the delay histogram, so the
//! buffer shrinks back within about half a second instead of holding the
//! spike's delay for seconds (seed 1: 1.61x the oracle before, 1.08x now).
//! What remains above the oracle is the spike's own packets, played
//! 100-200 ms late rather than dropped: with several long spikes (seed 3)
//! that alone is about 1.3x the oracle.

use std::time::{Duration, Instant};

use clap::Parser;
use voipkit_codec::testing::SpeechlikeSignal;
use voipkit_codec::{
    Decoder, Encoder, FrameKind, G711Decoder, G711Encoder, G711Law, IncomingPacket, JitterBuffer,
    JitterBufferConfig, OpusDecoder, OpusEncoder, OpusEncoderConfig,
};
use voipkit_netsim::{LinkConfig, Loss, NetSim, Spikes};

/// The trace beyond the issue's five (see the module doc).
const EXTRA_TRACE: &str = "rare_spikes";

#[derive(Parser, Debug)]
#[command(about = "Jitter buffer quality over seeded network traces")]
struct Args {
    /// Print tab-separated lines (a header, then one line per trace).
    #[arg(long)]
    tsv: bool,
    /// Seconds of audio per trace.
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// Playout frame (tick) in ms: 10 or 20.
    #[arg(long, default_value_t = 20)]
    frame_ms: u64,
    /// Seed of the network traces.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only run traces whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Codec: opus (48 kHz) or pcmu (G.711 u-law, 8 kHz).
    #[arg(long, default_value = "opus")]
    codec: String,
    /// Override the jitter buffer's histogram forgetting factor (tuning).
    #[arg(long)]
    forget: Option<f64>,
    /// Override the jitter buffer's delay quantile (tuning).
    #[arg(long)]
    quantile: Option<f64>,
    /// Opus encoder's expected loss in percent (how much FEC it spends).
    #[arg(long, default_value_t = 5)]
    expected_loss: u8,
    /// Turn the jitter buffer's FEC delay off (`JitterBufferConfig::fec_delay`).
    #[arg(long)]
    no_fec_delay: bool,
}

const TS0: u32 = 0xFFFF_0000; // wraps a few seconds in

fn addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// A speech-like test signal: a harmonic voice with a gliding pitch,
/// syllable-rate amplitude modulation and short pauses.
fn speechlike(rate: u32, n: usize) -> Vec<i16> {
    SpeechlikeSignal {
        pitch_hz: 120.0,
        glide_hz: 40.0,
        glide_rate_hz: 0.7,
        harmonics: 9,
        amplitude: 7000.0,
    }
    .samples(rate, n, |t| {
        let syll = (2.0 * std::f64::consts::PI * 4.0 * t).sin().max(0.0);
        let pause = if (t % 3.0) > 2.4 { 0.0 } else { 1.0 };
        syll * pause
    })
}

struct Trace {
    name: &'static str,
    link: LinkConfig,
}

fn traces() -> Vec<Trace> {
    let base = Duration::from_millis(40);
    vec![
        Trace {
            name: "clean",
            link: LinkConfig::with_delay(base),
        },
        Trace {
            name: "jitter20_loss1",
            link: LinkConfig {
                delay: base,
                jitter: Duration::from_millis(20),
                loss: Loss::Random(0.01),
                ..Default::default()
            },
        },
        Trace {
            name: "spikes100_200",
            link: LinkConfig {
                delay: base,
                jitter: Duration::from_millis(5),
                spikes: Some(Spikes {
                    probability: 0.002,
                    extra: (Duration::from_millis(100), Duration::from_millis(200)),
                    duration: (Duration::from_millis(200), Duration::from_millis(1000)),
                }),
                fifo: true,
                ..Default::default()
            },
        },
        Trace {
            name: EXTRA_TRACE,
            link: LinkConfig {
                delay: base,
                jitter: Duration::from_millis(5),
                spikes: Some(Spikes {
                    probability: 0.0003,
                    extra: (Duration::from_millis(100), Duration::from_millis(200)),
                    duration: (Duration::from_millis(200), Duration::from_millis(600)),
                }),
                fifo: true,
                ..Default::default()
            },
        },
        Trace {
            name: "bursty_loss10",
            link: LinkConfig {
                delay: base,
                jitter: Duration::from_millis(10),
                loss: Loss::bursts(0.10, 3.0),
                fifo: true,
                ..Default::default()
            },
        },
        Trace {
            name: "heavy_reorder",
            link: LinkConfig {
                delay: base,
                jitter: Duration::from_millis(10),
                reorder: 0.10,
                reorder_delay: Duration::from_millis(30),
                duplicate: 0.01,
                fifo: true,
                ..Default::default()
            },
        },
    ]
}

struct Result {
    mean_ms: f64,
    p95_ms: f64,
    late_pct: f64,
    concealed_pct: f64,
    oracle_ms: f64,
    tick_mean_ms: f64,
    accelerated_ms: f64,
    expanded_ms: f64,
    /// Lost packets recovered from FEC / concealed by PLC.
    fec: u64,
    plc: u64,
}

fn run(trace: &Trace, packets: &[Vec<u8>], args: &Args, seed: u64) -> Result {
    let frame_ms = args.frame_ms;
    let pcmu = args.codec == "pcmu";
    let (rate, packet) = if pcmu {
        (8000u32, 160usize)
    } else {
        (48_000, 960)
    };
    let mut config = JitterBufferConfig::default();
    if let Some(f) = args.forget {
        config.forget_factor = f;
    }
    if let Some(q) = args.quantile {
        config.quantile = q;
    }
    config.fec_delay = !args.no_fec_delay;
    let frame = Duration::from_millis(frame_ms);
    let frame_samples = rate as usize * frame_ms as usize / 1000;
    let (a, b) = (addr(40000), addr(40002));
    let mut net = NetSim::new(seed, LinkConfig::default());
    net.set_link(a, b, trace.link);
    let t0 = Instant::now();
    let decoder: Box<dyn Decoder> = if pcmu {
        Box::new(G711Decoder::new(G711Law::Mu))
    } else {
        Box::new(OpusDecoder::new(1).expect("decoder"))
    };
    let mut jb = JitterBuffer::new(decoder, config).expect("jitter buffer");
    let packet_dur = Duration::from_millis(20);
    let send_at = |i: usize| t0 + packet_dur * i as u32;
    let end = send_at(packets.len());
    let mut next_send = 0usize;
    let mut next_tick = t0 + trace.link.delay + Duration::from_micros(7300);
    let mut out = vec![0i16; frame_samples];
    let mut arrivals: Vec<(usize, Instant)> = Vec::with_capacity(packets.len());
    let mut ticks: Vec<(Instant, u32)> = Vec::with_capacity(packets.len() * 2);
    let mut starts: Vec<(Instant, u32)> = Vec::with_capacity(packets.len());
    let mut played_last = false;
    let mut final_stats = None;
    let mut ticks_kept = 0usize;
    let last_ts = TS0.wrapping_add(((packets.len() - 1) * packet) as u32);
    loop {
        let send_t = (next_send < packets.len()).then(|| send_at(next_send));
        let deliver_t = net.next_delivery();
        let mut t = next_tick;
        if let Some(s) = send_t {
            t = t.min(s);
        }
        if let Some(d) = deliver_t {
            t = t.min(d);
        }
        // Stop once the last packet played (or could not be).
        if t > end + Duration::from_secs(3) || played_last {
            break;
        }
        if send_t == Some(t) {
            let i = next_send;
            let mut payload = (i as u32).to_be_bytes().to_vec();
            payload.extend_from_slice(&packets[i]);
            net.send(t, a, b, payload);
            next_send += 1;
            continue;
        }
        if deliver_t == Some(t) {
            let d = net.poll_delivery(t).expect("due");
            let i = u32::from_be_bytes(d.payload[..4].try_into().expect("4")) as usize;
            arrivals.push((i, t));
            let pkt = IncomingPacket {
                ssrc: 0x1234_5678,
                sequence_number: (i as u16).wrapping_add(60_000),
                timestamp: TS0.wrapping_add((i * packet) as u32),
                marker: i == 0,
                payload: &d.payload[4..],
            };
            jb.insert(t, &pkt);
            continue;
        }
        // Playout tick.
        let kind = jb.get_frame(t, &mut out).expect("frame");
        if std::env::var_os("JB_DEBUG").is_some() {
            let st = jb.stats();
            eprintln!(
                "{:>9.1} {:?} ts={:?} cur={:.2} tgt={:.2} allow={:.2} buf={}",
                (t - t0).as_secs_f64() * 1000.0,
                kind,
                jb.last_frame_timestamp()
                    .map(|x| x.wrapping_sub(TS0) / (rate / 1000)),
                st.current_delay.as_secs_f64() * 1000.0,
                st.target_delay.as_secs_f64() * 1000.0,
                st.jitter_allowance.as_secs_f64() * 1000.0,
                st.buffered_packets
            );
        }
        if kind != FrameKind::Waiting {
            if !jb.last_frame_packet_starts().is_empty() {
                // Statistics and ticks count up to the last tick that played
                // a packet: after the stream's last packet (or after it was
                // lost) there is only concealment of the stream's end.
                final_stats = Some(jb.stats());
                ticks_kept = ticks.len() + 1;
            }
            for &(ts, pos) in jb.last_frame_packet_starts() {
                starts.push((
                    t + Duration::from_secs_f64(pos as f64 / f64::from(rate)),
                    ts,
                ));
            }
            if let Some(ts) = jb.last_frame_timestamp() {
                played_last |= ts.wrapping_sub(last_ts) as i32 >= 0;
                ticks.push((t, ts));
            }
        }
        next_tick += frame;
    }

    // D0 and the oracle.
    let mut seen = vec![false; packets.len()];
    let mut first_arrival: Vec<(usize, Instant)> = Vec::new();
    for &(i, t) in &arrivals {
        if !seen[i] {
            seen[i] = true;
            first_arrival.push((i, t));
        }
    }
    let d0 = first_arrival
        .iter()
        .map(|&(i, t)| t - send_at(i))
        .min()
        .unwrap_or_default();
    let tick0 = t0 + trace.link.delay + Duration::from_micros(7300);
    let ceil_tick = |x: Instant| -> Instant {
        if x <= tick0 {
            return tick0;
        }
        let n = (x - tick0).as_nanos().div_ceil(frame.as_nanos());
        tick0 + frame * n as u32
    };
    let mut need: Vec<f64> = first_arrival
        .iter()
        .map(|&(i, t)| {
            let s = send_at(i);
            (ceil_tick(t) - (s + d0)).as_secs_f64() * 1000.0
        })
        .collect();
    need.sort_by(f64::total_cmp);
    let allowed = need.len() / 100;
    let oracle_ms = need
        .get(need.len().saturating_sub(1 + allowed))
        .copied()
        .unwrap_or(0.0);

    // Added delay per played packet.
    let mut delays: Vec<f64> = Vec::with_capacity(starts.len());
    for &(t, ts) in &starts {
        let i = ts.wrapping_sub(TS0) as usize / packet;
        let d = t.saturating_duration_since(send_at(i) + d0).as_secs_f64() * 1000.0;
        delays.push(d);
    }
    // And per tick (the timeline position each tick starts playing).
    let mut tick_delays: Vec<f64> = Vec::with_capacity(ticks.len());
    let mut prev: Option<(u32, i64)> = None;
    for &(t, ts) in ticks.iter().take(ticks_kept) {
        let ext = match prev {
            None => i64::from(ts.wrapping_sub(TS0) as i32),
            Some((p, e)) => e + i64::from(ts.wrapping_sub(p) as i32),
        };
        prev = Some((ts, ext));
        let sent = t0 + Duration::from_secs_f64(ext.max(0) as f64 / f64::from(rate));
        tick_delays.push(t.saturating_duration_since(sent + d0).as_secs_f64() * 1000.0);
    }
    let tick_mean_ms = tick_delays.iter().sum::<f64>() / tick_delays.len().max(1) as f64;
    let mean_ms = delays.iter().sum::<f64>() / delays.len().max(1) as f64;
    let mut sorted = delays.clone();
    sorted.sort_by(f64::total_cmp);
    let p95_ms = sorted
        .get((sorted.len() as f64 * 0.95) as usize)
        .copied()
        .unwrap_or(0.0);
    let st = final_stats.unwrap_or_else(|| jb.stats());
    Result {
        mean_ms,
        p95_ms,
        late_pct: st.late_loss_rate() * 100.0,
        concealed_pct: if st.samples_out > st.samples_waiting {
            st.samples_concealed as f64 * 100.0 / (st.samples_out - st.samples_waiting) as f64
        } else {
            0.0
        },
        oracle_ms,
        tick_mean_ms,
        accelerated_ms: st.samples_accelerated as f64 * 1000.0 / f64::from(rate),
        expanded_ms: st.samples_expanded as f64 * 1000.0 / f64::from(rate),
        fec: st.fec_recovered - st.fec_without_redundancy,
        plc: st
            .packets_missing
            .saturating_sub(st.fec_recovered - st.fec_without_redundancy),
    }
}

fn main() {
    let args = Args::parse();
    if args.frame_ms != 10 && args.frame_ms != 20 {
        eprintln!("--frame-ms must be 10 or 20");
        std::process::exit(2);
    }
    if args.codec != "opus" && args.codec != "pcmu" {
        eprintln!("--codec must be opus or pcmu");
        std::process::exit(2);
    }
    let n_packets = (args.seconds * 50) as usize;
    let packets: Vec<Vec<u8>> = if args.codec == "pcmu" {
        let audio = speechlike(8000, n_packets * 160);
        let mut enc = G711Encoder::new(G711Law::Mu, Duration::from_millis(20)).expect("encoder");
        audio
            .chunks(160)
            .map(|f| {
                let mut b = vec![0u8; 160];
                enc.encode(f, &mut b).expect("encode");
                b
            })
            .collect()
    } else {
        let audio = speechlike(48_000, n_packets * 960);
        let mut enc = OpusEncoder::new(&OpusEncoderConfig {
            expected_loss_percent: args.expected_loss,
            ..Default::default()
        })
        .expect("encoder");
        let mut buf = [0u8; 1500];
        audio
            .chunks(960)
            .map(|f| {
                let n = enc.encode(f, &mut buf).expect("encode");
                buf[..n].to_vec()
            })
            .collect()
    };

    if args.tsv {
        println!("trace\tmean_ms\tp95_ms\tlate_pct\tconcealed_pct\toracle_ms");
    } else {
        println!(
            "{} s of 20 ms {} packets per trace, {} ms playout ticks, seed {}",
            args.seconds, args.codec, args.frame_ms, args.seed
        );
        println!(
            "{:<16} {:>8} {:>8} {:>8} {:>10} {:>9} {:>7} {:>9} {:>9} {:>9} {:>5} {:>5}  verdict",
            "trace",
            "mean_ms",
            "p95_ms",
            "late_%",
            "concealed%",
            "oracle_ms",
            "ratio",
            "accel_ms",
            "expand_ms",
            "tick_ms",
            "fec",
            "plc"
        );
    }
    let mut all_ok = true;
    let mut extra_ok = true;
    for (k, tr) in traces().iter().enumerate() {
        if args.only.as_deref().is_some_and(|o| !tr.name.contains(o)) {
            continue;
        }
        let r = run(tr, &packets, &args, args.seed.wrapping_add(k as u64));
        if args.tsv {
            println!(
                "{}\t{:.2}\t{:.2}\t{:.3}\t{:.3}\t{:.2}",
                tr.name, r.mean_ms, r.p95_ms, r.late_pct, r.concealed_pct, r.oracle_ms
            );
        } else {
            let ratio = if r.oracle_ms > 0.0 {
                r.mean_ms / r.oracle_ms
            } else {
                f64::NAN
            };
            let mut ok = r.late_pct <= 1.0;
            if tr.name == "clean" {
                ok &= r.mean_ms <= args.frame_ms as f64 + 2.0;
            }
            ok &= r.mean_ms <= 1.2 * r.oracle_ms.max(1e-9) || r.mean_ms <= 0.5;
            if tr.name == EXTRA_TRACE {
                extra_ok = ok;
            } else {
                all_ok &= ok;
            }
            println!(
                "{:<16} {:>8.2} {:>8.2} {:>8.3} {:>10.3} {:>9.2} {:>7.3} {:>9.0} {:>9.0} {:>9.2} {:>5} {:>5}  {}",
                tr.name,
                r.mean_ms,
                r.p95_ms,
                r.late_pct,
                r.concealed_pct,
                r.oracle_ms,
                ratio,
                r.accelerated_ms,
                r.expanded_ms,
                r.tick_mean_ms,
                r.fec,
                r.plc,
                if ok { "ok" } else { "MISSED" },
            );
        }
    }
    if !args.tsv {
        println!(
            "{}",
            if all_ok {
                "targets met on the issue's five traces"
            } else {
                "targets MISSED on the issue's traces"
            }
        );
        if !extra_ok {
            println!(
                "{EXTRA_TRACE} (an extra trace, not an issue target) misses the 1.2x ratio: see this example's doc"
            );
        }
    }
}
