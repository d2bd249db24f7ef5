//! The whole voipkit stack calls a real baresip over real UDP on
//! 127.0.0.1: voipkit-sip's `UserAgent` sends the INVITE with our
//! `SdpSession` offer (Opus + PCMU, SRTP mandatory, AES_CM_128_HMAC_SHA1_80,
//! rtcp-mux), baresip auto-answers, and the media half (tests/common's
//! `AudioStream`: `MediaSession::from_negotiated`, libopus, the jitter
//! buffer) exchanges SRTP both ways for about five seconds before we hang
//! up and baresip answers the BYE with 200.
//!
//! The driver is a small blocking loop in the test: one socket for SIP,
//! one for RTP/RTCP (rtcp-mux), wall-clock `Instant`s fed to the sans-IO
//! cores, their transmits drained after every input.
//!
//! Proof both ways: baresip's packets authenticate, decode, and carry its
//! `ausine` tone (1000 Hz) on our side; baresip's SRTCP receiver reports
//! about our SSRC show it authenticated our stream with (almost) no loss,
//! and its `sndfile` dump of what it decoded carries our 440 Hz tone.
//! Skipped (with a message) when `baresip` is not installed.

mod common;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{AudioStream, Tone, rms_db, sdp_from_body, sdp_to_body, tone_level_db};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_codec::FrameKind;
use voipkit_media::DropReason;
use voipkit_sdp::{AudioCodec, CryptoSuite, MediaConfig, SdpSession, SrtpPolicy};
use voipkit_sip::{CallHandle, EndReason, Event, Transport, UaConfig, UserAgent};
use voipkit_testpeers::{Baresip, find_binary};

const OUR_HZ: f64 = 440.0;
const BARESIP_HZ: f64 = 1000.0;

/// Starts baresip (stopped by its PID and its directory removed on drop,
/// also when the test fails) auto-answering with mandatory SDES-SRTP, Opus,
/// a `ausine` microphone at `tone_hz`, no speaker, and `sndfile` dumping
/// what it encodes and decodes into its directory; waits until it is ready.
fn start_baresip(bin: &Path, tone_hz: f64) -> Baresip {
    let bare = Baresip::builder(bin)
        .dir_prefix("voipkit-fullstack-baresip")
        .ausine(tone_hz)
        .config_line("rtcp_mux yes")
        .config_line("snd_path {dir}") // its own config directory
        .modules(["opus.so", "g711.so", "ausine.so", "srtp.so", "sndfile.so"])
        .app_modules(["account.so", "menu.so"])
        .account("<sip:bob@127.0.0.1>;regint=0;answermode=auto;mediaenc=srtp-mand")
        .verbose()
        .timeout_secs(25) // never outlives the test by much
        .start();
    bare.wait_ready(Duration::from_secs(10));
    bare
}

/// The WAV files baresip's `sndfile` module wrote whose name ends in
/// `suffix` (`-dec.wav`: what it decoded from us).
fn dumps(bare: &Baresip, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(bare.dir())
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default()
}

/// Our side: the SIP core on one socket, the audio stream on another, and
/// the loop that feeds them datagrams and the wall clock.
struct Softphone {
    sip: UdpSocket,
    rtp: UdpSocket,
    ua: UserAgent,
    sdp: SdpSession,
    rng: ChaCha20Rng,
    call: Option<CallHandle>,
    media: Option<AudioStream>,
    events: Vec<Event>,
    /// Start line and CSeq of every SIP message received.
    sip_received: Vec<(String, String)>,
    /// Datagrams under 12 bytes on the RTP socket (not RTP, RTCP or STUN).
    short_datagrams: Vec<Vec<u8>>,
}

impl Softphone {
    fn new(seed: u64) -> Self {
        let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&sip, &rtp] {
            s.set_nonblocking(true).unwrap();
        }
        let ua = UserAgent::new(
            UaConfig::new("alice", vec![(Transport::Udp, sip.local_addr().unwrap())]),
            ChaCha20Rng::seed_from_u64(seed),
        );
        let mut rng = ChaCha20Rng::seed_from_u64(seed + 1);
        let config = MediaConfig {
            codecs: vec![AudioCodec::Opus, AudioCodec::Pcmu],
            srtp: SrtpPolicy::Mandatory,
            crypto_suites: vec![CryptoSuite::AesCm128HmacSha1_80],
            ..MediaConfig::default()
        };
        let sdp = SdpSession::new(config, rtp.local_addr().unwrap(), &mut rng);
        Self {
            sip,
            rtp,
            ua,
            sdp,
            rng,
            call: None,
            media: None,
            events: Vec::new(),
            sip_received: Vec::new(),
            short_datagrams: Vec::new(),
        }
    }

    fn media(&self) -> &AudioStream {
        self.media.as_ref().expect("no media stream")
    }

    fn process_sip(&mut self, now: Instant) {
        while let Some(e) = self.ua.poll_event() {
            match &e {
                Event::Answered { sdp, .. } => {
                    let answer = sdp_from_body(sdp.as_ref().expect("200 without SDP"));
                    let audio = self.sdp.accept_answer(&answer).unwrap().unwrap();
                    self.media = Some(AudioStream::new(&audio, Tone::new(OUR_HZ), 99, now));
                }
                Event::Ended { .. } => {
                    if let Some(m) = &mut self.media {
                        m.close(now);
                    }
                }
                _ => {}
            }
            self.events.push(e);
        }
    }

    /// One turn of the driver loop: read what arrived, fire what is due,
    /// send what the cores queued, then sleep until the next deadline
    /// (at most 2 ms, the sockets are polled).
    fn turn(&mut self) {
        let mut buf = [0u8; 65_535];
        while let Ok((n, from)) = self.sip.recv_from(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            let first = text.lines().next().unwrap_or("").to_string();
            let cseq = text
                .lines()
                .find_map(|l| l.strip_prefix("CSeq:"))
                .unwrap_or("")
                .trim()
                .to_string();
            self.sip_received.push((first, cseq));
            let now = Instant::now();
            self.ua.handle_input(now, Transport::Udp, from, &buf[..n]);
            self.process_sip(now);
        }
        while let Ok((n, from)) = self.rtp.recv_from(&mut buf) {
            if n < 12 {
                self.short_datagrams.push(buf[..n].to_vec());
            }
            if let Some(m) = &mut self.media {
                m.handle_input(Instant::now(), from, &buf[..n]);
            }
        }
        let now = Instant::now();
        if self.ua.poll_timeout().is_some_and(|t| t <= now) {
            self.ua.handle_timeout(now);
            self.process_sip(now);
        }
        if let Some(m) = &mut self.media
            && m.poll_timeout().is_some_and(|t| t <= now)
        {
            m.handle_timeout(now);
        }
        while let Some(t) = self.ua.poll_transmit() {
            let _ = self.sip.send_to(&t.contents, t.destination);
        }
        if let Some(m) = &mut self.media {
            while let Some(t) = m.poll_transmit() {
                let _ = self.rtp.send_to(&t.contents, t.destination);
                m.session.recycle(t.contents);
            }
        }
        let next = [
            self.ua.poll_timeout(),
            self.media.as_ref().and_then(AudioStream::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        let wait = next
            .map_or(Duration::from_millis(2), |t| {
                t.saturating_duration_since(Instant::now())
            })
            .min(Duration::from_millis(2));
        std::thread::sleep(wait);
    }

    /// Turns until `done` or `limit`.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if done(self) {
                return true;
            }
            self.turn();
        }
        done(self)
    }
}

#[test]
fn voipkit_calls_baresip_with_opus_and_srtp() {
    let Some(bin) = find_binary("baresip") else {
        eprintln!(
            "SKIPPED voipkit_calls_baresip_with_opus_and_srtp: `baresip` is not installed \
             (apt-get install baresip-core)"
        );
        return;
    };
    let real = Instant::now();
    let mut bare = start_baresip(&bin, BARESIP_HZ);
    let mut phone = Softphone::new(7);

    // INVITE with our offer; baresip answers.
    let offer = phone.sdp.create_offer(&mut phone.rng).unwrap();
    let to = format!("sip:bob@{}", bare.sip_addr()).parse().unwrap();
    let call = phone
        .ua
        .start_call(Instant::now(), to, Some(sdp_to_body(&offer)))
        .unwrap();
    phone.call = Some(call);
    assert!(
        phone.run_until(Duration::from_secs(5), |p| p.media.is_some()),
        "baresip did not answer: {:?}\n{}",
        phone.events,
        bare.log()
    );
    let audio = phone.sdp.negotiated().unwrap().clone();
    assert_eq!(audio.codec.codec, AudioCodec::Opus);
    assert_eq!(
        audio.srtp.as_ref().map(|s| s.suite()),
        Some(CryptoSuite::AesCm128HmacSha1_80)
    );
    assert!(audio.rtcp_mux, "baresip did not take rtcp-mux");
    let answered = Instant::now();

    // Media both ways for at least 5 s, until baresip's SRTCP report
    // about our stream came in (it reports every ~5 s), 9 s at most, with
    // RFC 4733 digits from us after 2 s.
    phone.run_until(Duration::from_secs(2), |_| false);
    // Digits from us, in the middle of the call.
    let now = Instant::now();
    phone.media.as_mut().unwrap().send_digits(now, "1234#");
    phone.run_until(Duration::from_secs(9), |p| {
        answered.elapsed() >= Duration::from_secs(5) && p.media().stats().remote_report.is_some()
    });
    let media_time = answered.elapsed();

    // Hang up; baresip answers the BYE.
    phone.ua.hang_up(Instant::now(), call).unwrap();
    phone.process_sip(Instant::now());
    assert!(
        phone.run_until(Duration::from_secs(3), |p| p.sip_received.iter().any(
            |(line, cseq)| line.starts_with("SIP/2.0 200") && cseq.ends_with("BYE")
        )),
        "no 200 to our BYE: {:?}",
        phone.sip_received
    );
    assert!(phone.events.iter().any(|e| matches!(
        e,
        Event::Ended {
            reason: EndReason::LocalHangup,
            ..
        }
    )));
    assert!(phone.media().is_closed());
    bare.stop();
    let log = bare.log();

    // baresip's stream on our side: authenticated, decoded, its tone.
    let m = phone.media();
    let st = m.stats();
    let js = m.jitter_stats();
    println!("media {media_time:?}: stats {st:#?}\njitter {js:#?}");
    println!(
        "drops {:?}; short datagrams on the RTP socket: {:?}",
        st.drops.iter().collect::<Vec<_>>(),
        phone.short_datagrams
    );
    assert!(
        st.inbound.packets >= 200,
        "only {} packets from baresip\n{log}",
        st.inbound.packets
    );
    assert_eq!(
        st.drops.get(DropReason::AuthenticationFailed),
        0,
        "{:?}",
        st.drops
    );
    assert_eq!(st.drops.get(DropReason::Replayed), 0);
    assert!(st.inbound.cumulative_lost <= 2, "{:?}", st.inbound);
    assert!(
        js.packets_received >= 200 && js.decode_errors == 0,
        "{js:?}"
    );
    let decoded = m
        .kinds
        .iter()
        .filter(|k| {
            matches!(
                k,
                FrameKind::Normal | FrameKind::Accelerated | FrameKind::Expanded
            )
        })
        .count();
    println!("{decoded} frames decoded from baresip's packets");
    assert!(decoded >= 200);
    let tail = m.heard_between(answered + Duration::from_secs(2), answered + media_time);
    let level = tone_level_db(tail, m.sample_rate, BARESIP_HZ);
    let margin = level - tone_level_db(tail, m.sample_rate, OUR_HZ);
    println!(
        "we hear baresip's {BARESIP_HZ} Hz at {level:.1} dBFS, {margin:.1} dB over {OUR_HZ} Hz, rms {:.1} dBFS",
        rms_db(tail)
    );
    assert!(
        level > -40.0 && margin > 20.0,
        "baresip's tone: {level:.1} dBFS, margin {margin:.1} dB"
    );

    // Our stream on baresip's side: its SRTCP receiver report about our
    // SSRC (built only from packets that passed its SRTP unprotect).
    let rr = st
        .remote_report
        .expect("no SRTCP receiver report from baresip about our stream");
    println!("baresip's report on our stream: {rr:?}, rtt {:?}", st.rtt);
    assert!(rr.cumulative_lost <= 2 && rr.fraction_lost < 0.02, "{rr:?}");
    let sent = st.outbound.packets;
    assert!(sent >= 200);
    assert!(st.rtt.samples >= 1);
    let srtp_errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("srtp") && (l.contains("fail") || l.contains("error"))
        })
        .collect();
    assert!(srtp_errors.is_empty(), "baresip: {srtp_errors:?}");
    // It authenticated and decoded our telephone-events.
    for d in "1234#".chars() {
        assert!(
            log.contains(&format!("received event: '{d}' (end=1)")),
            "baresip did not log digit {d}:\n{log}"
        );
    }
    assert_eq!(st.outbound.dtmf_digits, 5);

    // What baresip decoded from us, if its sndfile module dumped it.
    match dumps(&bare, "-dec.wav").first() {
        Some(wav) => {
            let mut r = hound::WavReader::open(wav).unwrap();
            let spec = r.spec();
            let samples: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
            let ch = usize::from(spec.channels);
            let mono: Vec<i16> = samples.iter().step_by(ch).copied().collect();
            let skip = (spec.sample_rate as usize).min(mono.len());
            let mono = &mono[skip..];
            let level = tone_level_db(mono, spec.sample_rate, OUR_HZ);
            let margin = level - tone_level_db(mono, spec.sample_rate, BARESIP_HZ);
            println!(
                "baresip decoded our {OUR_HZ} Hz at {level:.1} dBFS, {margin:.1} dB over {BARESIP_HZ} Hz ({} s at {} Hz)",
                mono.len() / spec.sample_rate as usize,
                spec.sample_rate
            );
            assert!(level > -40.0 && margin > 20.0);
        }
        None => {
            // Required where the module is installed (it is here).
            assert!(
                !Path::new("/usr/lib/baresip/modules/sndfile.so").exists(),
                "baresip's sndfile wrote no -dec.wav: {:?}",
                dumps(&bare, ".wav")
            );
            println!("baresip has no sndfile module: its decoded audio is not checked");
        }
    }
    println!("real time {:?}", real.elapsed());
}
