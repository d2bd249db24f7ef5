//! MediaSession behaviour: media both ways, DTMF, symmetric latching, SSRC
//! change, STUN, keep-alives, rekeying, BYE, rtcp-mux off, bad input.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_media::stun;
use voipkit_media::{
    CryptoSuite, DropReason, DtmfDigit, DtmfReport, KeepAlive, KeepAliveKind, MediaEvent,
    MediaSession, MediaSessionConfig, MediaSocket, ReceivedRtp, SrtpKeyingMaterial, SrtpParameters,
    Transmit, TransmitKind,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A: &str = "127.0.0.1:30000";
const B: &str = "127.0.0.1:30002";

fn keys(seed: u64) -> (SrtpKeyingMaterial, SrtpKeyingMaterial) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (
        SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng),
        SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng),
    )
}

fn config(remote: &str, srtp: Option<SrtpParameters>) -> MediaSessionConfig {
    let mut c = MediaSessionConfig::new(addr(remote), 0, 8000);
    c.telephone_event_payload_type = Some(101);
    c.srtp = srtp;
    c
}

/// Decides whether a transmit (from A when the flag is set) is delivered.
type Filter = Box<dyn FnMut(bool, &Transmit) -> bool>;

/// Two sessions wired back to back with no delay; transmits can be
/// filtered (dropped) or redirected.
struct Pair {
    a: MediaSession,
    b: MediaSession,
    now: Instant,
    a_rx: Vec<ReceivedRtp>,
    b_rx: Vec<ReceivedRtp>,
    a_events: Vec<MediaEvent>,
    b_events: Vec<MediaEvent>,
    /// (from A?, transmit) -> deliver?
    filter: Filter,
    /// Source address B sees for A's packets.
    a_source: SocketAddr,
    a_to_b: Vec<Transmit>,
    /// Samples per 20 ms frame on the audio clock (160 G.711, 960 Opus).
    frame_samples: u32,
}

impl Pair {
    fn new(srtp: bool) -> Self {
        let now = Instant::now();
        let (ka, kb) = keys(1);
        let (sa, sb) = if srtp {
            let keys = SrtpParameters {
                local: ka,
                remote: kb,
            };
            (Some(keys.clone()), Some(keys.reversed()))
        } else {
            (None, None)
        };
        Self::with(config(B, sa), config(A, sb), now)
    }

    fn with(ca: MediaSessionConfig, cb: MediaSessionConfig, now: Instant) -> Self {
        Self {
            a: MediaSession::new(ca, ChaCha20Rng::seed_from_u64(10), now).unwrap(),
            b: MediaSession::new(cb, ChaCha20Rng::seed_from_u64(20), now).unwrap(),
            now,
            a_rx: vec![],
            b_rx: vec![],
            a_events: vec![],
            b_events: vec![],
            filter: Box::new(|_, _| true),
            a_source: addr(A),
            a_to_b: vec![],
            frame_samples: 160,
        }
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.a.poll_transmit() {
                moved = true;
                if (self.filter)(true, &t) && t.destination.ip() == addr(B).ip() {
                    match t.socket {
                        MediaSocket::Rtp => {
                            self.b.handle_input(self.now, self.a_source, &t.contents)
                        }
                        MediaSocket::Rtcp => {
                            self.b
                                .handle_rtcp_input(self.now, self.a_source, &t.contents)
                        }
                    }
                }
                self.a_to_b.push(t);
            }
            while let Some(t) = self.b.poll_transmit() {
                moved = true;
                if (self.filter)(false, &t) && t.destination.ip() == addr(A).ip() {
                    let from = addr(B);
                    match t.socket {
                        MediaSocket::Rtp => self.a.handle_input(self.now, from, &t.contents),
                        MediaSocket::Rtcp => self.a.handle_rtcp_input(
                            self.now,
                            SocketAddr::new(from.ip(), from.port() + 1),
                            &t.contents,
                        ),
                    }
                }
            }
            while let Some(p) = self.a.poll_rtp() {
                self.a_rx.push(p);
            }
            while let Some(p) = self.b.poll_rtp() {
                self.b_rx.push(p);
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    /// A queues each `(digit, milliseconds)` now, at volume 10.
    fn send_digits(&mut self, digits: &[(char, u64)]) {
        for &(c, ms) in digits {
            self.a
                .send_dtmf(
                    self.now,
                    DtmfDigit::from_char(c).unwrap(),
                    Duration::from_millis(ms),
                    10,
                )
                .unwrap();
        }
    }

    /// B's DTMF starts ("+d") and ends ("-d"), in order.
    fn b_dtmf_events(&self) -> Vec<String> {
        self.b_events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::DtmfStarted { digit, .. } => Some(format!("+{digit}")),
                MediaEvent::DtmfReceived(r) => Some(format!("-{}", r.digit)),
                _ => None,
            })
            .collect()
    }

    /// The digits B reported, in order.
    fn b_digits(&self) -> Vec<DtmfReport> {
        self.b_events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::DtmfReceived(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    /// Advance to `until`, firing timers; A and B send a 20 ms frame every
    /// 20 ms when `audio`.
    fn run(&mut self, d: Duration, audio: bool) {
        let until = self.now + d;
        let mut next_frame = self.now;
        loop {
            let mut next = until;
            for t in [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
            {
                next = next.min(t);
            }
            if audio {
                next = next.min(next_frame);
            }
            if next > until || (next == until && self.now == until) {
                break;
            }
            self.now = next.max(self.now);
            if audio && self.now >= next_frame && self.now < until {
                self.a
                    .send_audio(self.now, &[1; 160], self.frame_samples)
                    .unwrap();
                self.b
                    .send_audio(self.now, &[2; 160], self.frame_samples)
                    .unwrap();
                next_frame += Duration::from_millis(20);
            }
            if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
                self.a.handle_timeout(self.now);
            }
            if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
                self.b.handle_timeout(self.now);
            }
            self.pump();
            if self.now >= until {
                break;
            }
        }
        self.now = until;
    }
}

#[test]
fn audio_both_ways_plain_and_srtp() {
    for srtp in [false, true] {
        let mut p = Pair::new(srtp);
        p.run(Duration::from_secs(4), true);
        assert_eq!(p.b_rx.len(), 200, "srtp {srtp}");
        assert_eq!(p.a_rx.len(), 200);
        let first = &p.b_rx[0];
        assert!(first.marker);
        assert!(!p.b_rx[1].marker);
        assert_eq!(first.payload, vec![1; 160]);
        assert_eq!(first.payload_type, 0);
        assert_eq!(first.ssrc, p.a.local_ssrc());
        assert_eq!(
            p.b_rx[1].timestamp.wrapping_sub(first.timestamp),
            160,
            "timestamps advance by the frame"
        );
        assert_eq!(
            p.b_rx[1].extended_sequence_number,
            first.extended_sequence_number + 1
        );
        assert!(p.b_events.contains(&MediaEvent::RemoteSsrcChanged {
            ssrc: p.a.local_ssrc()
        }));
        let st = p.b.stats();
        assert_eq!(st.inbound.packets, 200);
        assert_eq!(st.inbound.cumulative_lost, 0);
        assert_eq!(st.drops.total(), 0);
        assert!(st.inbound.rtcp_packets >= 1);
        assert!(p.a.stats().remote_report.is_some());
        // The pool: recycled buffers come back out.
        for r in p.b_rx.drain(..) {
            p.b.recycle(r.payload);
        }
    }
}

#[test]
fn dtmf_end_to_end_with_audio_held_back() {
    let mut p = Pair::new(true);
    p.run(Duration::from_millis(200), true);
    let before = p.b_rx.len();
    p.send_digits(&[('5', 100), ('#', 60)]);
    p.run(Duration::from_millis(800), true);
    let digits: Vec<_> = p
        .b_digits()
        .iter()
        .map(|r| (r.digit.to_char(), r.duration, r.volume))
        .collect();
    assert_eq!(
        digits,
        vec![
            ('5', Duration::from_millis(100), 10),
            ('#', Duration::from_millis(60), 10)
        ]
    );
    assert_eq!(
        p.a_events
            .iter()
            .filter(|e| matches!(e, MediaEvent::DtmfSent { .. }))
            .count(),
        2
    );
    // Audio was held back during the tones: 50 frames in 1 s minus the
    // frames covering 7 + 6 DTMF packet intervals and the gap.
    let audio_during = p.b_rx.len() - before;
    assert!(audio_during < 40, "{audio_during}");
    // The first audio after the tone starts a talk spurt at a later timestamp.
    let resumed = p.b_rx[before..]
        .windows(2)
        .find(|w| w[1].timestamp.wrapping_sub(w[0].timestamp) > 160)
        .unwrap();
    assert!(resumed[1].marker);
    // The telephone-event packets come out of poll_non_audio (never
    // poll_rtp) and fill exactly the audio's sequence gaps.
    let non_audio: Vec<_> = std::iter::from_fn(|| p.b.poll_non_audio()).collect();
    assert!(non_audio.len() >= 10, "{non_audio:?}");
    let audio = &p.b_rx[before - 1..];
    assert!(audio.iter().all(|r| r.payload_type == 0));
    assert!(
        non_audio
            .iter()
            .all(|n| n.ssrc == audio[0].ssrc && n.payload_type != 0)
    );
    let mut seqs: Vec<u64> = audio
        .iter()
        .map(|r| r.extended_sequence_number)
        .chain(non_audio.iter().map(|n| n.extended_sequence_number))
        .collect();
    seqs.sort_unstable();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(p.a.stats().outbound.dtmf_digits, 2);
    assert_eq!(p.b.stats().drops.total(), 0);
}

/// Opus (48 kHz) negotiated with telephone-event/8000 (Asterisk, desk
/// phones, baresip), through voipkit-sdp: durations in 8 kHz units,
/// timestamps on the 48 kHz audio clock.
#[test]
fn dtmf_opus_with_telephone_event_8000() {
    use voipkit_sdp::{MediaConfig, SdpSession, SessionDescription, SrtpPolicy};
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    // Plain RTP, so the test can read the packets on the wire.
    let config = MediaConfig {
        srtp: SrtpPolicy::Disabled,
        ..MediaConfig::default()
    };
    let mut alice = SdpSession::new(config.clone(), addr(A), &mut rng);
    let mut bob = SdpSession::new(config, addr(B), &mut rng);
    // Alice's offer as Asterisk writes it: Opus, PCMU, PCMA and
    // telephone-event/8000 only (our te/48000 at 110 removed).
    let mut offer = alice.create_offer(&mut rng).unwrap();
    let m = &mut offer.media[0];
    m.formats.retain(|f| f != "110");
    m.attributes
        .retain(|a| !a.value.as_deref().is_some_and(|v| v.starts_with("110 ")));
    let offer: SessionDescription = offer.to_string().parse().unwrap();
    let answer = bob.answer_offer(&offer, &mut rng).unwrap();
    let b_audio = answer.audio.unwrap();
    let answer: SessionDescription = answer.sdp.to_string().parse().unwrap();
    let a_audio = alice.accept_answer(&answer).unwrap().unwrap();
    for n in [&a_audio, &b_audio] {
        assert_eq!(n.codec.name(), "opus");
        let te = n.telephone_event.unwrap();
        assert_eq!((te.send_payload_type, te.recv_payload_type), (101, 101));
        assert_eq!((te.clock_rate, te.audio_clock_rate), (8000, 48_000));
    }
    let (ca, cb) = (
        MediaSessionConfig::from_negotiated(&a_audio),
        MediaSessionConfig::from_negotiated(&b_audio),
    );
    assert_eq!(
        (
            ca.payload_type,
            ca.clock_rate,
            ca.telephone_event_clock_rate
        ),
        (111, 48_000, Some(8000))
    );
    let mut p = Pair::with(ca, cb, Instant::now());
    p.frame_samples = 960;
    p.run(Duration::from_millis(200), true);
    let sent_before = p.a_to_b.len();
    p.send_digits(&[('5', 100), ('#', 60)]);
    p.run(Duration::from_millis(800), true);

    // The receiver reports the digits with their durations (within one
    // 20 ms packet of the truth; here exact, from the end packets).
    let digits: Vec<_> = p
        .b_digits()
        .iter()
        .map(|r| (r.digit.to_char(), r.duration))
        .collect();
    assert_eq!(digits.len(), 2, "{digits:?}");
    for ((c, d), (want_c, want_ms)) in digits.iter().zip([('5', 100), ('#', 60)]) {
        assert_eq!(*c, want_c);
        let truth = Duration::from_millis(want_ms);
        assert!(d.abs_diff(truth) <= Duration::from_millis(20), "{d:?}");
        assert_eq!(*d, truth);
    }

    // On the wire (plain RTP): (timestamp, event, end, duration) per
    // event packet, and the audio timestamps.
    let rtp: Vec<(u8, u32, &[u8])> = p.a_to_b[sent_before..]
        .iter()
        .filter(|t| t.kind == TransmitKind::Rtp)
        .map(|t| {
            let c = &t.contents;
            let ts = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
            (c[1] & 0x7f, ts, &c[12..])
        })
        .collect();
    let events: Vec<(u32, u8, bool, u16)> = rtp
        .iter()
        .filter(|(pt, _, _)| *pt == 101)
        .map(|(_, ts, pl)| {
            (
                *ts,
                pl[0],
                pl[1] & 0x80 != 0,
                u16::from_be_bytes([pl[2], pl[3]]),
            )
        })
        .collect();
    let durations =
        |ev: u8| -> Vec<u16> { events.iter().filter(|e| e.1 == ev).map(|e| e.3).collect() };
    // Durations in telephone-event/8000 units: 20 ms steps of 160.
    assert_eq!(durations(5), vec![160, 320, 480, 640, 800, 800, 800]);
    assert_eq!(durations(11), vec![160, 320, 480, 480, 480]);
    let ts_of = |ev: u8| events.iter().find(|e| e.1 == ev).unwrap().0;
    let (t5, thash) = (ts_of(5), ts_of(11));
    assert!(
        events
            .iter()
            .all(|e| e.0 == if e.1 == 5 { t5 } else { thash })
    );
    // Timestamps on the audio clock: the audio frames' 960-sample grid,
    // and the second digit starts after the first (100 ms = 4800 at
    // 48 kHz) and the 50 ms gap (2400).
    let audio_ts: Vec<u32> = rtp
        .iter()
        .filter(|(pt, _, _)| *pt == 111)
        .map(|(_, ts, _)| *ts)
        .collect();
    let base = audio_ts[0];
    assert!(
        audio_ts
            .iter()
            .chain([&t5, &thash])
            .all(|ts| (ts.wrapping_sub(base) as i32).rem_euclid(960) == 0)
    );
    assert!(thash.wrapping_sub(t5) >= 4800 + 2400, "{t5} {thash}");
    // The audio after the first digit resumes at least its length later
    // on the audio clock.
    let resumed = audio_ts
        .iter()
        .find(|ts| ts.wrapping_sub(t5) as i32 > 0)
        .unwrap();
    assert!(resumed.wrapping_sub(t5) >= 4800);
    assert_eq!(p.b.stats().drops.total(), 0);
}

/// An answer that renumbered the telephone-event (RFC 3264 §6.1): each
/// side sends with the other's number and receives on its own.
#[test]
fn dtmf_both_ways_with_renumbered_telephone_event() {
    use voipkit_sdp::{MediaConfig, SdpSession, SrtpPolicy};
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let config = MediaConfig {
        srtp: SrtpPolicy::Disabled,
        ..MediaConfig::default()
    };
    let mut alice = SdpSession::new(config, addr(A), &mut rng);
    alice.create_offer(&mut rng).unwrap();
    // Bob answers Opus with telephone-event/8000 on 126 (our offer: 101).
    let answer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 111 0 126\r\na=rtpmap:111 opus/48000/2\r\n\
         a=rtpmap:126 telephone-event/8000\r\na=rtcp-mux\r\n",
        addr(B).port()
    );
    let a_audio = alice
        .accept_answer(&answer.parse().unwrap())
        .unwrap()
        .unwrap();
    let ca = MediaSessionConfig::from_negotiated(&a_audio);
    assert_eq!(ca.telephone_event_payload_type, Some(126));
    assert_eq!(ca.telephone_event_recv_payload_type, Some(101));
    assert_eq!(ca.accepted_payload_types, vec![0]);
    assert_eq!(ca.remote_rtp, addr(B));
    // Bob's side, as his answer implies: sends 101, receives 126.
    let mut cb = MediaSessionConfig::new(addr(A), 111, 48_000);
    cb.telephone_event_payload_type = Some(101);
    cb.telephone_event_recv_payload_type = Some(126);
    cb.telephone_event_clock_rate = Some(8000);
    let mut p = Pair::with(ca, cb, Instant::now());
    p.frame_samples = 960;
    p.run(Duration::from_millis(100), true);
    p.send_digits(&[('9', 100)]);
    let now = p.now;
    p.b.send_dtmf(
        now,
        DtmfDigit::from_char('*').unwrap(),
        Duration::from_millis(80),
        10,
    )
    .unwrap();
    p.run(Duration::from_millis(600), true);
    let at_b: Vec<_> = p
        .b_digits()
        .iter()
        .map(|r| (r.digit.to_char(), r.duration))
        .collect();
    assert_eq!(at_b, vec![('9', Duration::from_millis(100))]);
    let at_a: Vec<_> = p
        .a_events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::DtmfReceived(r) => Some((r.digit.to_char(), r.duration)),
            _ => None,
        })
        .collect();
    assert_eq!(at_a, vec![('*', Duration::from_millis(80))]);
    assert_eq!(p.a.stats().drops.total(), 0);
    assert_eq!(p.b.stats().drops.total(), 0);
}

#[test]
fn dtmf_survives_lost_start_and_lost_end_packets() {
    let mut p = Pair::new(false);
    p.run(Duration::from_millis(100), false);
    let mut n = 0;
    // Drop the first DTMF packet (start) of the first digit, and every end
    // packet of the second.
    p.filter = Box::new(move |from_a, t| {
        if !from_a || t.kind != TransmitKind::Rtp || t.contents[1] & 0x7f != 101 {
            return true;
        }
        n += 1;
        let end = t.contents[13] & 0x80 != 0;
        let digit = t.contents[12];
        !(n == 1 || (digit == 2 && end))
    });
    p.send_digits(&[('1', 100), ('2', 100)]);
    p.run(Duration::from_secs(2), false);
    let digits: Vec<_> = p
        .b_digits()
        .iter()
        .map(|r| (r.digit.to_char(), r.duration))
        .collect();
    // '2' lost its end packets: reported on timeout with the last update's
    // duration (80 ms: updates carry 20..80 ms).
    assert_eq!(
        digits,
        vec![
            ('1', Duration::from_millis(100)),
            ('2', Duration::from_millis(80))
        ]
    );
    // '1' lost its start packet: started from the next one, once.
    assert_eq!(p.b_dtmf_events(), ["+1", "-1", "+2", "-2"]);
}

/// The start of a digit is reported at its first packet, before the end.
#[test]
fn dtmf_started_at_the_first_packet() {
    let mut p = Pair::new(true);
    p.run(Duration::from_millis(100), true);
    p.send_digits(&[('7', 200), ('7', 100)]);
    p.pump();
    assert_eq!(p.b_dtmf_events(), ["+7"]);
    assert!(p.b_events.contains(&MediaEvent::DtmfStarted {
        digit: DtmfDigit::from_char('7').unwrap(),
        volume: 10
    }));
    p.run(Duration::from_millis(150), true);
    assert_eq!(p.b_dtmf_events(), ["+7"], "one start per event");
    p.run(Duration::from_secs(1), true);
    assert_eq!(p.b_dtmf_events(), ["+7", "-7", "+7", "-7"]);
}

#[test]
fn srtp_latches_to_authenticated_source_and_ignores_forgeries() {
    let mut p = Pair::new(true);
    p.run(Duration::from_millis(100), true);
    // A forged packet (bad tag) from an attacker does not move B.
    let mut forged = p
        .a_to_b
        .iter()
        .find(|t| t.kind == TransmitKind::Rtp)
        .unwrap()
        .contents
        .clone();
    forged[20] ^= 1;
    forged[3] = forged[3].wrapping_add(200);
    let attacker = addr("127.0.0.1:31000");
    p.b.handle_input(p.now, attacker, &forged);
    assert_eq!(p.b.remote_rtp_address(), addr(A));
    assert_eq!(p.b.stats().drops.get(DropReason::AuthenticationFailed), 1);
    // A moves (NAT rebinding): B follows with the first authenticated packet.
    p.a_source = addr("127.0.0.1:30500");
    p.run(Duration::from_millis(100), true);
    assert_eq!(p.b.remote_rtp_address(), addr("127.0.0.1:30500"));
    assert!(p.b_events.contains(&MediaEvent::RemoteAddressChanged {
        socket: MediaSocket::Rtp,
        address: addr("127.0.0.1:30500")
    }));
    // A replay of an old packet from the old address neither plays nor moves B.
    let old = p.a_to_b[0].contents.clone();
    let n = p.b_rx.len();
    p.b.handle_input(p.now, addr(A), &old);
    p.pump();
    assert_eq!(p.b_rx.len(), n);
    assert_eq!(p.b.remote_rtp_address(), addr("127.0.0.1:30500"));
    assert_eq!(p.b.stats().drops.get(DropReason::Replayed), 1);
}

#[test]
fn plain_rtp_latch_resists_hijack_while_peer_is_active() {
    let mut p = Pair::new(false);
    p.run(Duration::from_millis(200), true);
    // An attacker injects valid-looking RTP while A is talking: dropped.
    let attacker = addr("127.0.0.1:31000");
    let pkt = p
        .a_to_b
        .iter()
        .rev()
        .find(|t| t.kind == TransmitKind::Rtp)
        .unwrap()
        .contents
        .clone();
    for i in 0..5u16 {
        let mut q = pkt.clone();
        let seq = u16::from_be_bytes([q[2], q[3]]).wrapping_add(100 + i);
        q[2..4].copy_from_slice(&seq.to_be_bytes());
        p.b.handle_input(p.now, attacker, &q);
    }
    assert_eq!(p.b.remote_rtp_address(), addr(A));
    assert_eq!(p.b.stats().drops.get(DropReason::WrongSource), 5);
    // A goes quiet (moves); packets from its new address latch after 3.
    p.a_source = addr("127.0.0.1:30600");
    p.run(Duration::from_millis(200), true);
    assert_eq!(p.b.remote_rtp_address(), addr("127.0.0.1:30600"));
}

#[test]
fn remote_ssrc_change_is_followed() {
    let now = Instant::now();
    let (ka, kb) = keys(3);
    let keys = SrtpParameters {
        local: ka,
        remote: kb,
    };
    let mut p = Pair::with(
        config(B, Some(keys.clone())),
        config(A, Some(keys.reversed())),
        now,
    );
    p.run(Duration::from_millis(200), true);
    let old = p.a.local_ssrc();
    // A restarts its stream (new session, new SSRC, same keys).
    p.a = MediaSession::new(config(B, Some(keys)), ChaCha20Rng::seed_from_u64(99), p.now).unwrap();
    assert_ne!(p.a.local_ssrc(), old);
    let n = p.b_rx.len();
    p.run(Duration::from_millis(200), true);
    assert!(p.b_rx.len() - n >= 9);
    assert!(p.b_events.contains(&MediaEvent::RemoteSsrcChanged {
        ssrc: p.a.local_ssrc()
    }));
    assert_eq!(p.b.stats().remote_ssrc, Some(p.a.local_ssrc()));
    assert_eq!(p.b.stats().drops.total(), 0);
}

#[test]
fn rekey_switches_cleanly() {
    let mut p = Pair::new(true);
    p.run(Duration::from_millis(200), true);
    // A sends a packet with the old key that is still in flight.
    p.filter = Box::new(|_, _| false);
    p.run(Duration::from_millis(20), true);
    let in_flight: Vec<_> = std::mem::take(&mut p.a_to_b);
    assert!(in_flight.iter().any(|t| t.kind == TransmitKind::Rtp));
    p.filter = Box::new(|_, _| true);
    let (na, nb) = keys(77);
    let now = p.now;
    let keys = SrtpParameters {
        local: na,
        remote: nb,
    };
    p.b.rekey(now, Some(keys.reversed())).unwrap();
    p.a.rekey(now, Some(keys)).unwrap();
    let n = p.b_rx.len();
    for t in &in_flight {
        p.b.handle_input(p.now, addr(A), &t.contents);
    }
    p.run(Duration::from_millis(400), true);
    assert!(p.b_rx.len() - n >= 20);
    assert_eq!(p.b.stats().drops.get(DropReason::AuthenticationFailed), 0);
    // After the grace period the old key is gone.
    p.run(Duration::from_secs(3), true);
    let n = p.b_rx.len();
    let dropped = p.b.stats().drops.total();
    for t in &in_flight {
        p.b.handle_input(p.now, addr(A), &t.contents);
    }
    p.pump();
    assert_eq!(p.b_rx.len(), n);
    assert_eq!(p.b.stats().drops.total(), dropped + in_flight.len() as u64);
}

#[test]
fn close_sends_bye() {
    let mut p = Pair::new(true);
    p.run(Duration::from_millis(200), true);
    let now = p.now;
    p.a.close(now);
    p.pump();
    assert!(p.b_events.contains(&MediaEvent::RemoteBye {
        ssrc: p.a.local_ssrc()
    }));
    assert!(p.a.send_audio(now, &[0; 160], 160).is_err());
    assert!(p.a.poll_timeout().is_none());
}

#[test]
fn stun_binding_learns_public_address_and_times_out() {
    let now = Instant::now();
    let mut s = MediaSession::new(config(B, None), ChaCha20Rng::seed_from_u64(5), now).unwrap();
    let server = addr("127.0.0.1:3478");
    s.start_stun_binding(now, server);
    let req = loop {
        let t = s.poll_transmit().unwrap();
        if t.kind == TransmitKind::Stun {
            break t;
        }
    };
    assert_eq!(req.destination, server);
    let m = stun::decode(&req.contents).unwrap();
    // Retransmitted at 500 ms.
    s.handle_timeout(now + Duration::from_millis(500));
    assert!(std::iter::from_fn(|| s.poll_transmit()).any(|t| t.kind == TransmitKind::Stun));
    // A response with a wrong transaction id is ignored; the right one wins.
    let public = addr("127.0.0.1:45678");
    s.handle_input(now, server, &stun::binding_success([9; 12], public));
    assert_eq!(s.stats().drops.get(DropReason::UnexpectedStun), 1);
    s.handle_input(
        now,
        server,
        &stun::binding_success(m.transaction_id, public),
    );
    assert_eq!(
        s.poll_event(),
        Some(MediaEvent::PublicAddressDiscovered { address: public })
    );
    assert_eq!(s.public_address(), Some(public));

    // No answer at all: fails after RFC 8489's 39.5 s.
    s.start_stun_binding(now, server);
    let mut t = now;
    let mut sent = 0;
    let failed = loop {
        while let Some(x) = s.poll_transmit() {
            if x.kind == TransmitKind::Stun {
                sent += 1;
            }
        }
        if let Some(e) = s.poll_event() {
            break (e, t - now);
        }
        t = s.poll_timeout().unwrap();
        s.handle_timeout(t);
    };
    assert_eq!(failed.0, MediaEvent::StunBindingFailed { server });
    assert_eq!(failed.1, Duration::from_millis(39_500));
    assert_eq!(sent, 7);
}

#[test]
fn answers_peer_stun_requests_only() {
    let now = Instant::now();
    let mut s = MediaSession::new(config(B, None), ChaCha20Rng::seed_from_u64(5), now).unwrap();
    s.handle_input(now, addr(B), &stun::binding_request([4; 12]));
    let t = s.poll_transmit().unwrap();
    assert_eq!(t.destination, addr(B));
    assert_eq!(
        stun::decode(&t.contents).unwrap().mapped_address,
        Some(addr(B))
    );
    s.handle_input(now, addr("127.0.0.1:9"), &stun::binding_request([4; 12]));
    assert!(s.poll_transmit().is_none());
    s.handle_input(now, addr(B), &stun::binding_indication([4; 12]));
    assert_eq!(s.stats().drops.get(DropReason::UnexpectedStun), 1);
}

#[test]
fn keepalives_when_idle() {
    for kind in [
        KeepAliveKind::StunIndication,
        KeepAliveKind::EmptyRtp { payload_type: 127 },
    ] {
        let now = Instant::now();
        let mut c = config(B, None);
        c.keep_alive = Some(KeepAlive {
            interval: Duration::from_secs(5),
            kind,
        });
        let mut s = MediaSession::new(c, ChaCha20Rng::seed_from_u64(5), now).unwrap();
        s.send_audio(now, &[0; 160], 160).unwrap();
        let mut t = now;
        let mut kas = vec![];
        while t < now + Duration::from_secs(16) {
            t = s.poll_timeout().unwrap();
            s.handle_timeout(t);
            while let Some(x) = s.poll_transmit() {
                if x.kind == TransmitKind::KeepAlive {
                    kas.push((t - now, x.contents));
                }
            }
        }
        let times: Vec<_> = kas.iter().map(|k| k.0.as_secs()).collect();
        assert_eq!(times, vec![5, 10, 15], "{kind:?}");
        match kind {
            KeepAliveKind::StunIndication => {
                assert_eq!(
                    stun::decode(&kas[0].1).unwrap().class,
                    stun::StunClass::Indication
                )
            }
            KeepAliveKind::EmptyRtp { .. } => {
                assert_eq!(kas[0].1.len(), 12);
                assert_eq!(kas[0].1[1] & 0x7f, 127);
            }
        }
        assert_eq!(s.stats().outbound.keepalives, 3);
    }
}

#[test]
fn rtcp_on_its_own_port_without_mux() {
    let now = Instant::now();
    let mut ca = config(B, None);
    ca.rtcp_mux = false;
    let mut cb = config(A, None);
    cb.rtcp_mux = false;
    let mut p = Pair::with(ca, cb, now);
    p.run(Duration::from_secs(8), true);
    let rtcp: Vec<_> = p
        .a_to_b
        .iter()
        .filter(|t| t.kind == TransmitKind::Rtcp)
        .collect();
    assert!(!rtcp.is_empty());
    assert!(
        rtcp.iter()
            .all(|t| t.socket == MediaSocket::Rtcp && t.destination == addr("127.0.0.1:30003"))
    );
    assert!(p.a.stats().remote_report.is_some());
    assert!(p.a.stats().rtt.samples >= 1);
}

#[test]
fn bad_input_is_dropped_and_counted_by_reason() {
    let now = Instant::now();
    let (ka, kb) = keys(1);
    let mut s = MediaSession::new(
        config(
            B,
            Some(SrtpParameters {
                local: ka,
                remote: kb,
            }),
        ),
        ChaCha20Rng::seed_from_u64(5),
        now,
    )
    .unwrap();
    let from = addr(B);
    let cases: Vec<(Vec<u8>, DropReason)> = vec![
        (vec![], DropReason::Truncated),
        (vec![0x80, 0, 0], DropReason::Truncated),
        (
            vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
            DropReason::Truncated,
        ),
        (
            vec![0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3],
            DropReason::UnknownPayloadType,
        ),
        (
            [vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], vec![0; 40]].concat(),
            DropReason::AuthenticationFailed,
        ),
        (vec![0x80, 201, 0, 1, 0, 0, 0, 1], DropReason::Truncated),
        (
            [vec![0x80, 201, 0, 1, 0, 0, 0, 1], vec![0; 14]].concat(),
            DropReason::UnencryptedSrtcp,
        ),
        (
            [
                vec![0x80, 201, 0, 1, 0, 0, 0, 1, 0x80, 0, 0, 1],
                vec![0; 10],
            ]
            .concat(),
            DropReason::AuthenticationFailed,
        ),
        (
            vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42],
            DropReason::MalformedStun,
        ),
        (vec![22, 0xfe, 0xfd, 0, 0], DropReason::Dtls),
        (vec![17, 0], DropReason::Zrtp),
        (vec![64, 0, 0, 4, 1, 2, 3, 4], DropReason::TurnChannel),
        (vec![0xff; 30], DropReason::UnknownProtocol),
    ];
    for (bytes, reason) in &cases {
        let before = s.stats().drops.get(*reason);
        s.handle_input(now, from, bytes);
        assert_eq!(
            s.stats().drops.get(*reason),
            before + 1,
            "{reason:?} for {bytes:02x?}"
        );
    }
    assert_eq!(s.stats().drops.total(), cases.len() as u64);
    assert!(s.poll_rtp().is_none());
}

#[test]
fn plain_session_drops_malformed_rtcp_and_rtp() {
    let now = Instant::now();
    let mut s = MediaSession::new(config(B, None), ChaCha20Rng::seed_from_u64(5), now).unwrap();
    let from = addr(B);
    // RR whose length runs past the datagram.
    s.handle_input(now, from, &[0x81, 201, 0, 9, 0, 0, 0, 1]);
    assert_eq!(s.stats().drops.get(DropReason::MalformedRtcp), 1);
    // RTP with padding longer than the packet.
    s.handle_input(now, from, &[0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 200]);
    assert_eq!(s.stats().drops.get(DropReason::MalformedRtp), 1);
    // Telephone-event shorter than 4 bytes.
    s.handle_input(now, from, &[0x80, 101, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9]);
    assert_eq!(s.stats().drops.get(DropReason::MalformedDtmf), 1);
    // A valid packet with CSRCs, extension and padding plays.
    let mut p = vec![0xb1, 0x80, 0, 2, 0, 0, 0, 160, 0, 0, 0, 1, 0, 0, 0, 7];
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    p.extend_from_slice(&[5; 160]);
    p.extend_from_slice(&[0, 0, 0, 4]);
    s.handle_input(now, from, &p);
    let r = s.poll_rtp().unwrap();
    assert_eq!(r.payload, vec![5; 160]);
    assert!(r.marker);
}

#[test]
fn sequence_wrap_with_loss_and_reordering_under_srtp() {
    use voipkit_media::rtp::{RtpHeaderFields, build_rtp};
    use voipkit_media::srtp::SrtpSender;
    let now = Instant::now();
    let (ka, kb) = keys(5);
    let mut s = MediaSession::new(
        config(
            B,
            Some(SrtpParameters {
                local: kb.clone(),
                remote: ka.clone(),
            }),
        ),
        ChaCha20Rng::seed_from_u64(5),
        now,
    )
    .unwrap();
    let mut tx = SrtpSender::new(&ka).unwrap();
    let (mut plain, mut enc) = (Vec::new(), Vec::new());
    let mut packets = Vec::new();
    for i in 0..400u32 {
        let seq = 65_400u16.wrapping_add(i as u16);
        build_rtp(
            RtpHeaderFields {
                payload_type: 0,
                marker: i == 0,
                sequence_number: seq,
                timestamp: 1000 + i * 160,
                ssrc: 0xabc,
            },
            &[i as u8; 160],
            &mut plain,
        )
        .unwrap();
        tx.protect_rtp(&plain, &mut enc).unwrap();
        packets.push(enc.clone());
    }
    // Lose every 10th packet, swap neighbours around the wrap.
    packets.swap(135, 136);
    let mut t = now;
    let mut delivered = 0;
    let mut got = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        t += Duration::from_millis(20);
        if i % 10 == 9 {
            continue;
        }
        s.handle_input(t, addr(B), p);
        delivered += 1;
        got.extend(std::iter::from_fn(|| s.poll_rtp()));
    }
    assert_eq!(got.len(), delivered);
    let ext: Vec<u64> = got.iter().map(|r| r.extended_sequence_number).collect();
    assert_eq!(ext[0], 65_400);
    assert!(
        ext.iter().any(|e| *e > 65_536 + 200),
        "wrap extended: {:?}",
        &ext[130..140]
    );
    let st = s.stats();
    assert_eq!(st.drops.total(), 0, "{:?}", st.drops);
    // The last packet (index 399) was lost: not yet expected.
    assert_eq!(st.inbound.expected, 399);
    assert_eq!(st.inbound.cumulative_lost, 39);
    assert!((st.inbound.loss_fraction - 39.0 / 399.0).abs() < 1e-9);
    assert_eq!(st.inbound.duplicates_or_late, 1);
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Any bytes on the media ports: never a panic, every datagram is
        /// either used or counted as dropped, queues stay bounded.
        #[test]
        fn any_datagram_is_handled(
            datagrams in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..300), 1..40),
            srtp in any::<bool>(),
            first in prop_oneof![Just(0x80u8), Just(0x00), any::<u8>()],
        ) {
            let now = Instant::now();
            let (ka, kb) = keys(1);
            let cfg = config(B, srtp.then_some(SrtpParameters { local: ka, remote: kb }));
            let mut s = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(5), now).unwrap();
            let n = datagrams.len() as u64;
            for (i, mut d) in datagrams.into_iter().enumerate() {
                if let Some(b) = d.first_mut() {
                    *b = if i % 2 == 0 { first } else { *b };
                }
                let t = now + Duration::from_millis(i as u64 * 20);
                s.handle_input(t, addr(B), &d);
                s.handle_rtcp_input(t, addr(B), &d);
                s.handle_timeout(t);
            }
            let st = s.stats();
            prop_assert!(st.drops.total() <= 2 * n);
            prop_assert!(std::iter::from_fn(|| s.poll_rtp()).count() as u64 <= n);
            if srtp {
                prop_assert_eq!(st.inbound.packets, 0);
            }
        }
    }
}

/// RFC 3264 §5.1/§6.1 direction, enforced by the session: on hold
/// (recvonly) no RTP goes out but RTCP does and the RTP clock runs on, so
/// the resumed stream continues seamlessly; sendonly still counts the
/// peer's RTP but does not queue it for playout (nor its DTMF).
#[test]
fn direction_is_enforced_and_resume_is_seamless() {
    use voipkit_media::{Direction, MediaError};
    let mut p = Pair::new(true);
    p.run(Duration::from_millis(400), true);
    let last = p.b_rx.last().unwrap().clone();
    let held_at = p.now;
    // A is held by B: A recvonly, B sendonly.
    p.a.set_direction(Direction::RecvOnly);
    p.b.set_direction(Direction::SendOnly);
    assert_eq!(p.a.direction(), Direction::RecvOnly);
    assert_eq!(
        p.a.send_dtmf(
            p.now,
            DtmfDigit::from_char('1').unwrap(),
            Duration::from_millis(100),
            10
        ),
        Err(MediaError::NotSending)
    );
    let (b_rx, a_rx, b_in) = (p.b_rx.len(), p.a_rx.len(), p.b.stats().inbound.packets);
    let sent = p.a_to_b.len();
    p.run(Duration::from_secs(6), true);
    let during = &p.a_to_b[sent..];
    assert!(during.iter().all(|t| t.kind != TransmitKind::Rtp));
    assert!(
        during.iter().any(|t| t.kind == TransmitKind::Rtcp),
        "RTCP goes on"
    );
    assert_eq!(p.b_rx.len(), b_rx, "nothing from A");
    assert_eq!(p.b.stats().inbound.packets, b_in);
    assert_eq!(p.a_rx.len() - a_rx, 300, "B (sendonly) still sends");
    // A goes sendonly while B keeps sending (it should not): B's RTP is
    // counted by A but not played out.
    p.a.set_direction(Direction::SendOnly);
    p.b.set_direction(Direction::SendRecv);
    let (a_rx, a_in) = (p.a_rx.len(), p.a.stats().inbound.packets);
    let resumed_at = p.now;
    p.run(Duration::from_millis(400), true);
    assert_eq!(p.a_rx.len(), a_rx, "sendonly: no playout");
    assert_eq!(p.a.stats().inbound.packets - a_in, 20, "but counted");
    assert_eq!(p.a.stats().drops.total(), 0);
    // A resumed sending: the stream continues as if it had never stopped,
    // with a talk-spurt marker.
    let first = &p.b_rx[b_rx];
    assert!(first.marker);
    assert_eq!(first.sequence_number, last.sequence_number.wrapping_add(1));
    // (`last` went out one frame before `held_at`.)
    let frames = ((resumed_at - held_at).as_millis() / 20) as u32 + 1;
    assert_eq!(first.timestamp.wrapping_sub(last.timestamp), frames * 160);
    assert_eq!(p.b_rx.len() - b_rx, 20);

    // Going on hold mid-digit cuts it and drops the queued ones.
    p.send_digits(&[('1', 1000), ('2', 100)]);
    p.run(Duration::from_millis(100), true);
    p.a.set_direction(Direction::RecvOnly);
    let sent = p.a_to_b.len();
    p.run(Duration::from_secs(2), true);
    assert!(p.a_to_b[sent..].iter().all(|t| t.kind != TransmitKind::Rtp));
    assert!(
        !p.a_events
            .iter()
            .any(|e| matches!(e, MediaEvent::DtmfSent { .. }))
    );
    // B closes the cut digit after its timeout; '2' never went out.
    assert_eq!(p.b_dtmf_events(), ["+1", "-1"]);
    // Sendonly: the peer's digits are not reported either.
    p.a.set_direction(Direction::SendOnly);
    p.b.send_dtmf(
        p.now,
        DtmfDigit::from_char('9').unwrap(),
        Duration::from_millis(100),
        10,
    )
    .unwrap();
    p.run(Duration::from_secs(1), true);
    assert!(p.b_events.contains(&MediaEvent::DtmfSent {
        digit: DtmfDigit::from_char('9').unwrap()
    }));
    assert!(!p.a_events.iter().any(|e| matches!(
        e,
        MediaEvent::DtmfStarted { .. } | MediaEvent::DtmfReceived(_)
    )));
    assert_eq!(p.a.stats().drops.total(), 0);
}

/// Alice offers, Bob answers (through SDP text); both results.
fn negotiate(
    alice: &mut voipkit_sdp::SdpSession,
    bob: &mut voipkit_sdp::SdpSession,
    rng: &mut ChaCha20Rng,
) -> (voipkit_sdp::NegotiatedAudio, voipkit_sdp::NegotiatedAudio) {
    use voipkit_sdp::SessionDescription;
    let offer: SessionDescription = alice
        .create_offer(rng)
        .unwrap()
        .to_string()
        .parse()
        .unwrap();
    let answer = bob.answer_offer(&offer, rng).unwrap();
    let b = answer.audio.unwrap();
    let sdp: SessionDescription = answer.sdp.to_string().parse().unwrap();
    (alice.accept_answer(&sdp).unwrap().unwrap(), b)
}

/// Media sessions made from a first offer/answer and the SDP sessions that
/// re-negotiate them.
fn negotiated_pair(
    codecs: &[voipkit_sdp::AudioCodec],
) -> (
    Pair,
    voipkit_sdp::SdpSession,
    voipkit_sdp::SdpSession,
    ChaCha20Rng,
) {
    use voipkit_sdp::{MediaConfig, SdpSession};
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let config = MediaConfig {
        codecs: codecs.to_vec(),
        ..MediaConfig::default()
    };
    let mut alice = SdpSession::new(config.clone(), addr(A), &mut rng);
    let mut bob = SdpSession::new(config, addr(B), &mut rng);
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    let mut p = Pair::with(
        MediaSessionConfig::from_negotiated(&a),
        MediaSessionConfig::from_negotiated(&b),
        Instant::now(),
    );
    p.frame_samples = a.codec.clock_rate / 50;
    (p, alice, bob, rng)
}

impl Pair {
    fn apply(&mut self, a: &voipkit_sdp::NegotiatedAudio, b: &voipkit_sdp::NegotiatedAudio) {
        self.a.apply_negotiated(self.now, a).unwrap();
        self.b.apply_negotiated(self.now, b).unwrap();
        self.frame_samples = a.codec.clock_rate / 50;
    }
}

/// A re-offer applied in one call: new SRTP keys, hold and resume, a new
/// remote address, telephone-event dropped; SSRC and sequence go on.
#[test]
fn apply_negotiated_rekey_hold_address_and_telephone_event() {
    use voipkit_media::{Direction, MediaError};
    use voipkit_sdp::{AudioCodec, MediaConfig};
    let (mut p, mut alice, mut bob, mut rng) = negotiated_pair(&[AudioCodec::Pcmu]);
    let keys = p.a.config().srtp.clone().unwrap();
    let ssrc = p.a.local_ssrc();
    p.run(Duration::from_millis(300), true);
    assert_eq!(p.b_rx.len(), 15);

    // Re-keying (RFC 4568 §7.1.4): both sides take the new keys at once.
    alice.rekey();
    bob.rekey();
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    p.apply(&a, &b);
    assert_ne!(p.a.config().srtp.as_ref(), Some(&keys));
    assert_eq!(p.a.config().srtp, a.srtp);
    p.run(Duration::from_millis(300), true);
    assert_eq!((p.a_rx.len(), p.b_rx.len()), (30, 30));

    // Alice holds: she only sends, Bob only receives.
    alice.set_held(true);
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    p.apply(&a, &b);
    assert_eq!(
        (p.a.direction(), p.b.direction()),
        (Direction::SendOnly, Direction::RecvOnly)
    );
    p.run(Duration::from_millis(300), true);
    assert_eq!((p.a_rx.len(), p.b_rx.len()), (30, 45));
    alice.set_held(false);
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    p.apply(&a, &b);
    assert_eq!(p.b.direction(), Direction::SendRecv);
    p.run(Duration::from_millis(300), true);
    assert_eq!((p.a_rx.len(), p.b_rx.len()), (45, 60));

    // Bob moves to another port and drops telephone-event.
    let moved = addr("127.0.0.1:30004");
    bob.set_local_rtp(moved);
    bob.set_config(MediaConfig {
        codecs: vec![AudioCodec::Pcmu],
        telephone_event: false,
        ..MediaConfig::default()
    });
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    p.apply(&a, &b);
    assert_eq!(p.a.remote_rtp_address(), moved);
    assert_eq!(p.a.remote_rtcp_address(), moved, "rtcp-mux");
    assert_eq!(p.a.config().telephone_event_payload_type, None);
    assert_eq!(
        p.a.send_dtmf(
            p.now,
            DtmfDigit::from_char('1').unwrap(),
            Duration::from_millis(100),
            10
        ),
        Err(MediaError::NoTelephoneEvent)
    );
    p.run(Duration::from_millis(300), true);
    assert_eq!((p.a_rx.len(), p.b_rx.len()), (60, 75));
    // One stream throughout: same SSRC, no sequence gap, no drop.
    assert_eq!(p.a.local_ssrc(), ssrc);
    assert!(p.b_rx.iter().all(|r| r.ssrc == ssrc));
    assert!(
        p.b_rx
            .windows(2)
            .all(|w| w[1].extended_sequence_number == w[0].extended_sequence_number + 1)
    );
    assert_eq!(p.b.stats().inbound.cumulative_lost, 0);
    assert_eq!(p.a.stats().drops.total() + p.b.stats().drops.total(), 0);
}

/// A codec change by re-offer: PCMU -> PCMA (same 8 kHz clock) keeps the
/// SSRC and sequence and changes the payload type; PCMA -> Opus (48 kHz)
/// says BYE for the old SSRC and starts a new one (RFC 7160 §4.1).
#[test]
fn apply_negotiated_codec_change_same_and_other_clock_rate() {
    use voipkit_sdp::{AudioCodec, MediaConfig};
    let (mut p, mut alice, mut bob, mut rng) =
        negotiated_pair(&[AudioCodec::Pcmu, AudioCodec::Pcma]);
    p.run(Duration::from_millis(200), true);
    assert!(p.b_rx.iter().all(|r| r.payload_type == 0));
    let ssrc = p.a.local_ssrc();
    let codecs = |c: &[AudioCodec]| MediaConfig {
        codecs: c.to_vec(),
        ..MediaConfig::default()
    };

    alice.set_config(codecs(&[AudioCodec::Pcma]));
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    assert_eq!(a.codec.codec, AudioCodec::Pcma);
    p.apply(&a, &b);
    let n = p.b_rx.len();
    p.run(Duration::from_millis(200), true);
    assert_eq!(p.a.local_ssrc(), ssrc);
    let (before, after) = (&p.b_rx[n - 1], &p.b_rx[n]);
    assert_eq!((before.payload_type, after.payload_type), (0, 8));
    assert_eq!(after.ssrc, ssrc);
    assert_eq!(
        after.sequence_number,
        before.sequence_number.wrapping_add(1)
    );
    assert_eq!(after.timestamp.wrapping_sub(before.timestamp), 160);
    assert!(p.b_rx[n..].iter().all(|r| r.payload_type == 8));
    assert_eq!(p.b_rx.len() - n, 10);

    // With new keys too; Alice applies the result before Bob does.
    alice.set_config(codecs(&[AudioCodec::Opus]));
    bob.set_config(codecs(&[AudioCodec::Opus, AudioCodec::Pcma]));
    alice.rekey();
    bob.rekey();
    let (a, b) = negotiate(&mut alice, &mut bob, &mut rng);
    assert_eq!(a.codec.codec, AudioCodec::Opus);
    let sent = p.a.stats().outbound.packets;
    let b_old = p.b.local_ssrc();
    p.a.apply_negotiated(p.now, &a).unwrap();
    p.pump();
    // The old SSRC's BYE went out at once, under the old keys that Bob
    // still has.
    assert!(p.b_events.contains(&MediaEvent::RemoteBye { ssrc }));
    p.apply(&a, &b);
    p.pump();
    assert!(p.a_events.contains(&MediaEvent::RemoteBye { ssrc: b_old }));
    let n = p.b_rx.len();
    p.run(Duration::from_millis(200), true);
    let new = p.a.local_ssrc();
    assert_ne!(new, ssrc);
    assert_ne!(p.b.local_ssrc(), b_old);
    assert!(
        p.b_events
            .contains(&MediaEvent::RemoteSsrcChanged { ssrc: new })
    );
    assert_eq!(p.b_rx.len() - n, 10);
    assert!(
        p.b_rx[n..]
            .iter()
            .all(|r| r.ssrc == new && r.payload_type == 111)
    );
    assert_eq!(
        p.b_rx[n + 1].timestamp.wrapping_sub(p.b_rx[n].timestamp),
        960
    );
    assert!(p.b_rx[n].marker);
    // Sent counts go on across the SSRCs.
    assert_eq!(p.a.stats().outbound.packets, sent + 10);
    assert_eq!(p.b.stats().drops.total(), 0);
}

/// Outbound MOS: the far end's reported loss fraction and RTT/2 plus the
/// nominal remote jitter buffer; packets sent after the last report do not
/// move it (they used to dilute the loss).
#[test]
fn outbound_mos_uses_the_far_ends_report() {
    use voipkit_media::NOMINAL_REMOTE_PLAYOUT_DELAY;
    use voipkit_media::emodel::EModel;
    let mut p = Pair::new(false);
    // A's RTP loses every 5th packet (20 %).
    let mut n = 0u32;
    p.filter = Box::new(move |from_a, t| {
        if from_a && t.kind == TransmitKind::Rtp {
            n += 1;
            return !n.is_multiple_of(5);
        }
        true
    });
    p.run(Duration::from_secs(12), true);
    let st = p.a.stats();
    let r = st.remote_report.unwrap();
    assert!((r.fraction_lost - 0.2).abs() < 0.02, "{r:?}");
    let mos = st.outbound_mos.unwrap();
    let want = EModel {
        one_way_delay: st.rtt.mean.unwrap() / 2
            + NOMINAL_REMOTE_PLAYOUT_DELAY
            + Duration::from_millis(20),
        packet_loss: r.fraction_lost,
        burst_ratio: 1.0,
        codec: p.a.config().codec,
    }
    .mos();
    assert_eq!(mos, want);
    assert!(mos < st.inbound_mos.unwrap(), "A hears a clean stream");
    // No report from B any more: A keeps sending, the estimate stays.
    p.filter = Box::new(|from_a, t| from_a || t.kind != TransmitKind::Rtcp);
    let reports = st.inbound.rtcp_packets;
    p.run(Duration::from_secs(3), true);
    let st = p.a.stats();
    assert_eq!(st.inbound.rtcp_packets, reports);
    assert_eq!(st.outbound_mos, Some(mos));
}
