//! What the whole-call tests share: one call's audio stream built from the
//! SDP result (the media session, the codec pair and the jitter buffer,
//! ticked every frame), a sine source, Goertzel tone levels, and SDP text
//! to and from the SIP body type.
//!
//! This is the composition the future engine's media half has to do; the
//! friction met writing it is listed in the tests' report.
#![allow(dead_code)] // each test file uses its own part

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_codec::{
    Decoder, Encoder, FrameKind, G711Decoder, G711Encoder, G711Law, IncomingPacket, JitterBuffer,
    JitterBufferConfig, OpusDecoder, OpusEncoder, OpusEncoderConfig,
};
use voipkit_media::{
    DtmfDigit, DtmfReport, MediaEvent, MediaSession, MediaSessionConfig, MediaStats, Transmit,
};
use voipkit_sdp::{AudioCodec, Direction, NegotiatedAudio, NegotiatedCodec, SessionDescription};

/// Parses an SDP body as voipkit-sip hands it over.
pub fn sdp_from_body(body: &Bytes) -> SessionDescription {
    SessionDescription::parse(body).expect("unparseable SDP body")
}

/// An SDP description as a body voipkit-sip sends.
pub fn sdp_to_body(sdp: &SessionDescription) -> Bytes {
    Bytes::from(sdp.to_bytes())
}

/// Encoder and decoder (mono) for a negotiated codec and ptime.
pub fn codec_pair(codec: &NegotiatedCodec, ptime_ms: u32) -> (Box<dyn Encoder>, Box<dyn Decoder>) {
    let frame = Duration::from_millis(u64::from(ptime_ms));
    let g711 = |law| -> (Box<dyn Encoder>, Box<dyn Decoder>) {
        (
            Box::new(G711Encoder::new(law, frame).unwrap()),
            Box::new(G711Decoder::new(law)),
        )
    };
    match codec.codec {
        AudioCodec::Opus => (
            Box::new(
                OpusEncoder::new(&OpusEncoderConfig {
                    frame,
                    fec: codec.use_inband_fec(),
                    ..OpusEncoderConfig::default()
                })
                .unwrap(),
            ),
            Box::new(OpusDecoder::new(1).unwrap()),
        ),
        AudioCodec::Pcmu => g711(G711Law::Mu),
        AudioCodec::Pcma => g711(G711Law::A),
        other => panic!("no codec for {other:?}"),
    }
}

/// A sine source.
#[derive(Debug, Clone)]
pub struct Tone {
    /// Frequency in Hz.
    pub hz: f64,
    amplitude: f64,
    phase: f64,
}

impl Tone {
    /// A sine of `hz` at a quarter of full scale (-12 dBFS).
    pub fn new(hz: f64) -> Self {
        Self {
            hz,
            amplitude: 8192.0,
            phase: 0.0,
        }
    }

    /// Fills `out` with the next samples at `rate`.
    pub fn fill(&mut self, rate: u32, out: &mut [i16]) {
        let step = 2.0 * PI * self.hz / f64::from(rate);
        for s in out {
            *s = (self.amplitude * self.phase.sin()) as i16;
            self.phase = (self.phase + step) % (2.0 * PI);
        }
    }
}

/// Level of the `hz` component of `samples` (Goertzel), in dBFS: a full
/// scale sine of that frequency is 0 dB.
pub fn tone_level_db(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * PI * hz / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    let amplitude = 2.0 * power.sqrt() / samples.len().max(1) as f64;
    20.0 * (amplitude.max(1e-3) / 32768.0).log10()
}

/// RMS level of `samples` in dBFS.
pub fn rms_db(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let rms = (sum / samples.len().max(1) as f64).sqrt();
    20.0 * (rms.max(1e-3) / 32768.0).log10()
}

/// One call's audio stream: the media session configured from the SDP
/// result, our tone encoded and sent every frame while the direction
/// allows sending, and what arrives through the jitter buffer, decoded, on
/// the same frame clock (kept in `heard`). The jitter buffer is told when
/// the far end's media is not expected (the direction does not let us
/// receive, the stream closed: a pause, not loss) and which sequence
/// numbers carried no audio (DTMF, other payload types).
pub struct AudioStream {
    /// The media session.
    pub session: MediaSession,
    encoder: Box<dyn Encoder>,
    jitter: JitterBuffer<Box<dyn Decoder>>,
    /// What we send.
    pub tone: Tone,
    /// The negotiated codec.
    pub codec: AudioCodec,
    recv_payload_type: u8,
    frame: Duration,
    rtp_frame: u32,
    pcm: Vec<i16>,
    payload: Vec<u8>,
    out: Vec<i16>,
    /// Decoded (or concealed) audio, one frame per tick from `started`.
    pub heard: Vec<i16>,
    /// What each tick's frame was.
    pub kinds: Vec<FrameKind>,
    /// Sample rate of `heard`.
    pub sample_rate: u32,
    /// The first tick.
    pub started: Instant,
    next_tick: Instant,
    /// Digits received (RFC 4733), in order, when they ended.
    pub digits: String,
    /// The same digits, when they started (their first packet).
    pub digits_started: String,
    /// Every media event.
    pub events: Vec<MediaEvent>,
    /// RTP packets of another payload type than the codec's.
    pub other_payload_types: u64,
    /// Telephone-event (DTMF) packets told to the jitter buffer as
    /// carrying no audio.
    pub non_audio_packets: u64,
    /// Frames sent.
    pub frames_sent: u64,
    closed: bool,
}

impl AudioStream {
    /// The stream `audio` describes, sending `tone`, starting at `now`.
    pub fn new(audio: &NegotiatedAudio, tone: Tone, seed: u64, now: Instant) -> Self {
        let session = MediaSession::new(
            MediaSessionConfig::from_negotiated(audio),
            ChaCha20Rng::seed_from_u64(seed),
            now,
        )
        .unwrap();
        let (encoder, decoder) = codec_pair(&audio.codec, audio.ptime);
        let rate = encoder.sample_rate();
        let frame_samples = encoder.frame_samples();
        let rtp_frame =
            (frame_samples as u64 * u64::from(encoder.rtp_clock_rate()) / u64::from(rate)) as u32;
        let mut jitter = JitterBuffer::new(decoder, JitterBufferConfig::default()).unwrap();
        // Whether the far end's media is expected (hold: a pause, not loss).
        jitter.set_active(session.direction().can_recv());
        Self {
            session,
            encoder,
            jitter,
            tone,
            codec: audio.codec.codec,
            recv_payload_type: audio.codec.recv_payload_type,
            frame: Duration::from_millis(u64::from(audio.ptime)),
            rtp_frame,
            pcm: vec![0; frame_samples],
            payload: vec![0; 1500],
            out: vec![0; frame_samples],
            heard: Vec::new(),
            kinds: Vec::new(),
            sample_rate: rate,
            started: now,
            next_tick: now,
            digits: String::new(),
            digits_started: String::new(),
            events: Vec::new(),
            other_payload_types: 0,
            non_audio_packets: 0,
            frames_sent: 0,
            closed: false,
        }
    }

    /// Applies a new offer/answer result (hold, resume, new address, new
    /// keys). The codec must not change (this stream's encoder and decoder
    /// are made once; the media session would follow a change).
    pub fn update(&mut self, now: Instant, audio: &NegotiatedAudio) {
        assert_eq!(audio.codec.codec, self.codec, "codec change not handled");
        self.session.apply_negotiated(now, audio).unwrap();
        // Hold / resume: the jitter buffer plays a pause (silence) while
        // the direction does not let us receive, not concealment.
        self.jitter.set_active(self.session.direction().can_recv());
    }

    /// The direction in force, from our side (the media session enforces
    /// it).
    pub fn direction(&self) -> Direction {
        self.session.direction()
    }

    /// Queues RFC 4733 digits of 100 ms each.
    pub fn send_digits(&mut self, now: Instant, digits: &str) {
        for c in digits.chars() {
            let d = DtmfDigit::from_char(c).unwrap();
            self.session
                .send_dtmf(now, d, Duration::from_millis(100), 10)
                .unwrap();
        }
    }

    /// Ends the stream (RTCP BYE).
    pub fn close(&mut self, now: Instant) {
        self.session.close(now);
        self.jitter.set_active(false);
        self.closed = true;
    }

    /// Whether [`AudioStream::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// When [`AudioStream::handle_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let t = self.session.poll_timeout();
        Some(t.map_or(self.next_tick, |t| t.min(self.next_tick)))
    }

    /// A datagram arrived on the RTP socket.
    pub fn handle_input(&mut self, now: Instant, from: std::net::SocketAddr, bytes: &[u8]) {
        self.session.handle_input(now, from, bytes);
        self.drain();
    }

    /// Frame ticks (send and play) and session timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        while now >= self.next_tick {
            let tick = self.next_tick;
            self.tick(tick.max(now));
            self.next_tick += self.frame;
        }
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
        self.drain();
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.session.poll_transmit()
    }

    fn tick(&mut self, now: Instant) {
        // Nothing to encode while we may not send (the session would not
        // send it, only advance its clock).
        if self.session.direction().can_send() {
            self.tone.fill(self.sample_rate, &mut self.pcm);
            let n = self.encoder.encode(&self.pcm, &mut self.payload).unwrap();
            self.session
                .send_audio(now, &self.payload[..n], self.rtp_frame)
                .unwrap();
            self.frames_sent += 1;
        } else {
            self.session.skip_audio(self.rtp_frame);
        }
        let kind = self.jitter.get_frame(now, &mut self.out).unwrap();
        // The target, as MediaSession::set_playout_delay asks.
        self.session.set_playout_delay(self.jitter.target_delay());
        self.heard.extend_from_slice(&self.out);
        self.kinds.push(kind);
    }

    fn drain(&mut self) {
        while let Some(p) = self.session.poll_rtp() {
            let packet = IncomingPacket {
                ssrc: p.ssrc,
                sequence_number: p.sequence_number,
                timestamp: p.timestamp,
                marker: p.marker,
                payload: &p.payload,
            };
            if p.payload_type == self.recv_payload_type {
                self.jitter.insert(p.arrival, &packet);
            } else {
                // Not our decoder's: its sequence number carried no audio.
                self.jitter.insert_non_audio(p.arrival, &packet);
                self.other_payload_types += 1;
            }
            self.session.recycle(p.payload);
        }
        // Telephone-events (DTMF) take the audio's sequence numbers.
        while let Some(n) = self.session.poll_non_audio() {
            self.jitter.insert_non_audio(
                n.arrival,
                &IncomingPacket {
                    ssrc: n.ssrc,
                    sequence_number: n.sequence_number,
                    timestamp: n.timestamp,
                    marker: n.marker,
                    payload: &[],
                },
            );
            self.non_audio_packets += 1;
        }
        while let Some(e) = self.session.poll_event() {
            match &e {
                MediaEvent::DtmfStarted { digit, .. } => self.digits_started.push(digit.to_char()),
                MediaEvent::DtmfReceived(r) => self.digits.push(r.digit.to_char()),
                _ => {}
            }
            self.events.push(e);
        }
    }

    /// What was heard between `from` and `to` (instants on the frame clock).
    pub fn heard_between(&self, from: Instant, to: Instant) -> &[i16] {
        let index = |t: Instant| {
            let d = t.saturating_duration_since(self.started);
            ((d.as_secs_f64() * f64::from(self.sample_rate)) as usize).min(self.heard.len())
        };
        &self.heard[index(from)..index(to).max(index(from))]
    }

    /// What the jitter buffer made of each frame between `from` and `to`.
    pub fn frames_between(&self, from: Instant, to: Instant) -> &[FrameKind] {
        let index = |t: Instant| {
            let frames =
                t.saturating_duration_since(self.started).as_nanos() / self.frame.as_nanos().max(1);
            (frames as usize).min(self.kinds.len())
        };
        &self.kinds[index(from)..index(to).max(index(from))]
    }

    /// The digits received, each with how long it was held.
    pub fn digit_reports(&self) -> Vec<DtmfReport> {
        self.events
            .iter()
            .filter_map(|e| match e {
                MediaEvent::DtmfReceived(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    /// Media statistics.
    pub fn stats(&self) -> MediaStats {
        self.session.stats()
    }

    /// Jitter buffer statistics.
    pub fn jitter_stats(&self) -> voipkit_codec::JitterStats {
        self.jitter.stats()
    }
}
