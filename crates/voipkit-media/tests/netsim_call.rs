//! Two media sessions exchange SRTP (20 ms G.711-sized frames both ways)
//! for 60 s of virtual time over voipkit-netsim at 5% loss and 40 ms
//! jitter; each side's statistics are checked against the emulator's truth.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_media::{
    CryptoSuite, MediaSession, MediaSessionConfig, SrtpKeyingMaterial, SrtpParameters, TransmitKind,
};
use voipkit_netsim::{Datagram, Endpoint, Harness, LinkConfig, NetSim, Outgoing};

const DELAY: Duration = Duration::from_millis(50);
const JITTER: Duration = Duration::from_millis(40);
const LOSS: f64 = 0.05;
const CALL: Duration = Duration::from_secs(60);
const PTIME: Duration = Duration::from_millis(20);

/// Delay of the last RTCP packet each side received, keyed by the bytes of
/// the RTCP packets it then sent (so the other side can compute the true
/// RTT of the LSR/DLSR sample an RTCP packet carries).
type Truth = Rc<RefCell<HashMap<Vec<u8>, Duration>>>;

struct Peer {
    addr: SocketAddr,
    session: MediaSession,
    next_frame: Instant,
    end: Instant,
    rtp_in: u64,
    last_rtcp_in_delay: Option<Duration>,
    truth_out: Truth,
    truth_in: Truth,
    /// (measured, true) RTT per sample.
    rtt_samples: Vec<(Duration, Duration)>,
    jitter_samples: Vec<f64>,
    next_jitter_sample: Instant,
}

impl Peer {
    fn drain(&mut self) {
        while let Some(p) = self.session.poll_rtp() {
            assert_eq!(p.payload.len(), 160);
            self.rtp_in += 1;
            self.session.recycle(p.payload);
        }
        while self.session.poll_event().is_some() {}
    }
}

impl Endpoint for Peer {
    fn handle_input(&mut self, now: Instant, d: Datagram) {
        let is_rtcp = d.payload.get(1).is_some_and(|b| (192..=223).contains(b));
        let before = self.session.stats().rtt.samples;
        self.session.handle_input(now, d.from, &d.payload);
        if is_rtcp {
            let delay = d.arrives_at - d.sent_at;
            self.last_rtcp_in_delay = Some(delay);
            let st = self.session.stats();
            if st.rtt.samples > before {
                let d1 = self.truth_in.borrow().get(&d.payload).copied();
                let d1 = d1.expect("RTT sample without a known SR delay");
                self.rtt_samples.push((st.rtt.latest.unwrap(), d1 + delay));
            }
        }
        self.drain();
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_frame && now < self.end {
            self.session.send_audio(now, &[0xd5; 160], 160).unwrap();
            self.next_frame += PTIME;
        }
        if now >= self.next_jitter_sample {
            let st = self.session.stats();
            if st.inbound.packets > 100 {
                self.jitter_samples.push(st.inbound.jitter.as_secs_f64());
            }
            self.next_jitter_sample += Duration::from_secs(1);
        }
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
        self.drain();
    }

    fn poll_transmit(&mut self, _now: Instant) -> Option<Outgoing> {
        let t = self.session.poll_transmit()?;
        if t.kind == TransmitKind::Rtcp
            && let Some(d) = self.last_rtcp_in_delay
        {
            self.truth_out.borrow_mut().insert(t.contents.clone(), d);
        }
        Some(Outgoing {
            from: self.addr,
            to: t.destination,
            payload: t.contents,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.session.poll_timeout();
        for extra in [
            (self.next_frame < self.end).then_some(self.next_frame),
            (self.next_jitter_sample < self.end).then_some(self.next_jitter_sample),
        ]
        .into_iter()
        .flatten()
        {
            t = Some(t.map_or(extra, |x| x.min(extra)));
        }
        t
    }

    fn owns(&self, addr: SocketAddr) -> bool {
        addr == self.addr
    }
}

fn peer(
    addr: SocketAddr,
    remote: SocketAddr,
    keys: SrtpParameters,
    seed: u64,
    now: Instant,
    truth_out: Truth,
    truth_in: Truth,
) -> Peer {
    let mut cfg = MediaSessionConfig::new(remote, 0, 8000);
    cfg.srtp = Some(keys);
    cfg.playout_delay = Duration::from_millis(60);
    let session = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(seed), now).unwrap();
    Peer {
        addr,
        session,
        next_frame: now,
        end: now + CALL,
        rtp_in: 0,
        last_rtcp_in_delay: None,
        truth_out,
        truth_in,
        rtt_samples: Vec::new(),
        jitter_samples: Vec::new(),
        next_jitter_sample: now + Duration::from_secs(1),
    }
}

#[test]
fn srtp_call_statistics_match_the_emulator() {
    let real_start = Instant::now();
    let a_addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let b_addr: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    let link = LinkConfig::with_delay(DELAY).jitter(JITTER).loss(LOSS);
    let mut h = Harness::new(NetSim::new(1, link));
    let now = h.now();
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let ka = SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng);
    let kb = SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng);
    let keys = SrtpParameters {
        local: ka,
        remote: kb,
    };
    let (ta, tb): (Truth, Truth) = Default::default();
    let mut a = peer(a_addr, b_addr, keys.clone(), 1, now, ta.clone(), tb.clone());
    let mut b = peer(b_addr, a_addr, keys.reversed(), 2, now, tb, ta);
    h.run_until(
        &mut [&mut a, &mut b],
        now + CALL + Duration::from_millis(500),
    );

    let configured_rtt = 2 * DELAY + JITTER; // mean of 2 x (delay + U(0, jitter))
    // RFC 3550 A.8 jitter of i.i.d. U(0, J) delays: E|U1 - U2| = J / 3.
    let expected_jitter = JITTER.as_secs_f64() / 3.0;
    let mut all_rtt = Vec::new();
    for (name, me, link_in) in [
        ("a", &a, h.net.stats(b_addr, a_addr)),
        ("b", &b, h.net.stats(a_addr, b_addr)),
    ] {
        let st = me.session.stats();
        println!("{name}: link in {link_in:?}, rtp_in {}", me.rtp_in);
        // Nothing dropped: every packet authenticated.
        assert_eq!(st.drops.total(), 0, "{name}: {:?}", st.drops);
        assert!(st.outbound.packets >= 3000);
        // Loss: within 1 percentage point of the link's truth, and the
        // cumulative count within a few packets of the RTP truth.
        let true_loss = link_in.loss_fraction();
        assert!(
            (st.inbound.loss_fraction - true_loss).abs() < 0.01,
            "{name}: loss {} vs link {}",
            st.inbound.loss_fraction,
            true_loss
        );
        let rtp_lost = 3000 - me.rtp_in as i64;
        assert!(
            (st.inbound.cumulative_lost - rtp_lost).abs() <= 3,
            "{name}: lost {} vs {rtp_lost}",
            st.inbound.cumulative_lost
        );
        assert_eq!(st.inbound.packets, me.rtp_in);
        // The peer's report about us agrees with the other link.
        let rr = st.remote_report.expect("no RR received");
        assert!(
            rr.cumulative_lost > 100 && rr.cumulative_lost < 200,
            "{rr:?}"
        );
        // Jitter: time-average within 10% of J/3, final value within 25%.
        let mean_j = me.jitter_samples.iter().sum::<f64>() / me.jitter_samples.len() as f64;
        assert!(
            (mean_j - expected_jitter).abs() < 0.10 * expected_jitter,
            "{name}: mean jitter {mean_j} vs {expected_jitter}"
        );
        println!(
            "{name}: mean jitter {mean_j:.5} s over {} samples, expected {expected_jitter:.5} s",
            me.jitter_samples.len()
        );
        let j = st.inbound.jitter.as_secs_f64();
        assert!(
            (j - expected_jitter).abs() < 0.25 * expected_jitter,
            "{name}: jitter {j} vs {expected_jitter}"
        );
        // RTT: every LSR/DLSR sample equals the emulator's per-packet truth
        // (SR delay + RR delay) to NTP-fraction precision.
        assert!(me.rtt_samples.len() >= 8, "{name}: {:?}", me.rtt_samples);
        for (m, t) in &me.rtt_samples {
            let err = (m.as_secs_f64() - t.as_secs_f64()).abs();
            assert!(err < 0.000_2, "{name}: rtt {m:?} vs truth {t:?}");
        }
        all_rtt.extend(me.rtt_samples.iter().map(|(m, _)| m.as_secs_f64()));
        let mos = st.inbound_mos.unwrap();
        assert!(mos > 3.5 && mos < 4.3, "{name}: MOS {mos}");
    }
    // And against the configured round trip: the mean of the samples of
    // both sides. One sample is 2 x delay + U1 + U2 (σ = J·sqrt(1/6) =
    // 16.3 ms), so the tolerance is 3 σ of the mean of n samples (and the
    // brief's 5 ms when n is large enough for that to be meaningful).
    let n = all_rtt.len() as f64;
    let mean_rtt = all_rtt.iter().sum::<f64>() / n;
    let sigma_mean = JITTER.as_secs_f64() * (1.0f64 / 6.0).sqrt() / n.sqrt();
    let tol = (3.0 * sigma_mean).max(0.005);
    println!(
        "rtt mean {mean_rtt:.4} s over {n} samples vs configured {:.4} s (tolerance {tol:.4})",
        configured_rtt.as_secs_f64()
    );
    assert!((mean_rtt - configured_rtt.as_secs_f64()).abs() < tol);
    let real = real_start.elapsed();
    println!("real time: {real:?}");
}
