//! The whole per-frame media pipeline of one call direction, with no audio
//! device and no network, on virtual time. Shared by `benches/pipeline.rs`
//! (CPU per frame) and `tests/pipeline_latency.rs` (the engine's own
//! mouth-to-ear latency), so the pipeline is written once.
//!
//! One [`Pipeline::tick`] is one frame (20 ms), made of the real parts in
//! the order the engine runs them:
//!
//! ```text
//! mic block -> CaptureCallback::capture      (real-time half of the capture ring)
//!           -> CaptureStream::pop_frame      (media thread)
//!           -> Encoder::encode               (G.711 or libopus)
//!           -> MediaSession::send_audio      (RTP packetize + SRTP protect, sender session)
//!           -> MediaSession::handle_input    (SRTP unprotect + replay check + RTP parse,
//!                                             latching, statistics: receiver session)
//!           -> MediaSession::poll_rtp -> JitterBuffer::insert
//!              (MediaSession::poll_non_audio -> JitterBuffer::insert_non_audio: DTMF)
//!           -> JitterBuffer::get_frame       (decode, conceal, time-stretch)
//!           -> PlayoutStream::push_frame     (media thread)
//!           -> PlayoutCallback::render       (real-time half of the playout ring)
//!           -> speaker block
//! ```
//!
//! plus the two sessions' timers (RTCP reports, keep-alives), whose
//! datagrams are delivered to the other session at once.
//!
//! The "device" is the caller: each tick hands in one frame of microphone
//! samples and takes one frame of speaker samples, at the codec's rate, mono,
//! `i16`; the device format equals the engine format and device and media
//! thread share the (virtual) clock, so the rings do no rate conversion and
//! their drift correction stays at exactly 0: their resamplers run as a
//! straight copy (a two-sample delay line). Virtual time: every
//! tick advances the clock by one frame, and a packet "arrives" at the
//! receiver in the tick it was sent. The capture callback of tick `k`
//! delivers the block spoken during the previous frame, and the render
//! callback of tick `k` fills the block played during the next frame: a
//! sample captured and played in the same tick is one frame late, the
//! framing delay.
//!
//! What the pipeline adds to mouth-to-ear delay, and where each figure comes
//! from, is [`LatencyBreakdown`] ([`Pipeline::latency`]).
//!
//! Nothing here reads a clock: the caller passes the start instant.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_audio::{
    AudioError, CaptureCallback, CaptureStatus, CaptureStream, DeviceFormat, DriftConfig,
    FractionalResampler, FrameDuration, LatencyConfig, PlayoutCallback, PlayoutStream,
    StreamConfig, capture_channel, playout_channel,
};
use voipkit_codec::{
    CodecError, Decoder, Encoder, FrameKind, G711Decoder, G711Encoder, G711Law, IncomingPacket,
    JitterBuffer, JitterBufferConfig, OpusDecoder, OpusEncoder, OpusEncoderConfig,
};
use voipkit_media::{
    CodecImpairment, CryptoSuite, MediaError, MediaSession, MediaSessionConfig, SrtpKeyingMaterial,
    SrtpParameters,
};

/// The sender session's address (loopback; never used for a socket).
pub const SENDER_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);
/// The receiver session's address (loopback; never used for a socket).
pub const RECEIVER_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_002);
/// RTP payload type used for Opus (dynamic).
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// Largest encoded frame we hand to the media session.
const MAX_PAYLOAD: usize = 1500;

/// What can go wrong building or running the pipeline.
#[derive(Debug)]
#[non_exhaustive]
pub enum PipelineError {
    /// A codec or the jitter buffer refused.
    Codec(CodecError),
    /// A media session refused.
    Media(MediaError),
    /// An audio ring refused.
    Audio(AudioError),
    /// The configuration is unusable.
    Config(&'static str),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Codec(e) => write!(f, "codec: {e}"),
            Self::Media(e) => write!(f, "media: {e}"),
            Self::Audio(e) => write!(f, "audio: {e}"),
            Self::Config(e) => write!(f, "configuration: {e}"),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<CodecError> for PipelineError {
    fn from(e: CodecError) -> Self {
        Self::Codec(e)
    }
}

impl From<MediaError> for PipelineError {
    fn from(e: MediaError) -> Self {
        Self::Media(e)
    }
}

impl From<AudioError> for PipelineError {
    fn from(e: AudioError) -> Self {
        Self::Audio(e)
    }
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, PipelineError>;

/// How the pipeline is set up (everything but the codec).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Frame duration: encoder frame, packetisation time, jitter-buffer
    /// playout tick, engine frame of both rings and device callback.
    pub frame: FrameDuration,
    /// The receiver's jitter buffer.
    pub jitter: JitterBufferConfig,
    /// SRTP suite of both directions.
    pub suite: CryptoSuite,
    /// Target of the capture ring ([`LatencyConfig::target`]; `None`: the
    /// engine's automatic target, 25 ms for 20 ms frames on 20 ms device
    /// callbacks). `Some(Duration::ZERO)` is the least that never
    /// underruns here (device callbacks in phase with the media tick, one
    /// clock), with drift correction off.
    pub capture_ring_target: Option<Duration>,
    /// Target of the playout ring (as above).
    pub playout_ring_target: Option<Duration>,
    /// Drift absorption of both rings: the engine's default (on). Device
    /// and media thread share the virtual clock, so the correction stays at
    /// exactly 0 and the rings add their targets from the first frame on,
    /// as with it off ([`PipelineConfig::NO_DRIFT`]).
    pub drift: DriftConfig,
    /// Seed of the sessions' RNGs and of the SRTP keys.
    pub seed: u64,
}

impl PipelineConfig {
    /// Drift controller settings that never correct (max correction 0).
    pub const NO_DRIFT: DriftConfig = DriftConfig {
        max_correction: 0.0,
        ..DriftConfig::DEFAULT
    };
}

impl Default for PipelineConfig {
    /// 20 ms frames, the engine's default (adaptive) jitter buffer,
    /// AES_CM_128_HMAC_SHA1_80, the engine's default rings (automatic
    /// targets, drift correction on).
    fn default() -> Self {
        Self {
            frame: FrameDuration::Ms20,
            jitter: JitterBufferConfig::default(),
            suite: CryptoSuite::AesCm128HmacSha1_80,
            capture_ring_target: None,
            playout_ring_target: None,
            drift: DriftConfig::default(),
            seed: 1,
        }
    }
}

impl PipelineConfig {
    /// The least the pipeline can add: jitter buffer fixed minimal, ring
    /// targets 0 and drift correction off (what is left is the framing
    /// delay, the codec's delay and the rings' two-sample kernels).
    pub fn minimal() -> Self {
        Self {
            jitter: JitterBufferConfig::fixed_minimal(),
            capture_ring_target: Some(Duration::ZERO),
            playout_ring_target: Some(Duration::ZERO),
            drift: Self::NO_DRIFT,
            ..Self::default()
        }
    }
}

/// The latency the pipeline adds, figure by figure, as the parts report it
/// (see [`Pipeline::latency`]). Mouth-to-ear without device and network is
/// [`LatencyBreakdown::total`]:
///
/// - `frame`: the framing delay (one frame, see the module documentation);
/// - `encoder_delay` + `decoder_delay`: the codec's algorithmic delay, from
///   [`Encoder::algorithmic_delay`] (Opus: `OPUS_GET_LOOKAHEAD`, 312
///   samples = 6.5 ms, which is libopus's whole encoder+decoder delay) and
///   [`Decoder::algorithmic_delay`] (0 for both codecs);
/// - `jitter_target`: [`JitterBuffer::target_delay`] as of the last
///   playout tick (the jitter buffer steers its current delay,
///   `jitter_current`, to it; they agree once it has settled);
/// - `capture_ring` and `playout_ring`: what each ring adds, as it
///   reports it ([`CaptureStream::latency`], [`PlayoutStream::latency`]):
///   its target (the audio it holds in front of the device's buffer,
///   from the first frame on, drift correction on or off) plus its
///   resampling kernel's delay (2 samples: the cubic drift kernel at equal
///   rates, a pure delay; [`kernel_delay_samples`] measures it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyBreakdown {
    /// Codec sample rate in Hz.
    pub sample_rate: u32,
    /// Framing delay: one frame.
    pub frame: Duration,
    /// The encoder's algorithmic delay.
    pub encoder_delay: Duration,
    /// The decoder's algorithmic delay.
    pub decoder_delay: Duration,
    /// The jitter buffer's target delay at the last playout tick.
    pub jitter_target: Duration,
    /// The jitter buffer's current delay at the last playout tick.
    pub jitter_current: Duration,
    /// What the capture ring adds ([`CaptureStream::latency`]).
    pub capture_ring: Duration,
    /// What the playout ring adds ([`PlayoutStream::latency`]).
    pub playout_ring: Duration,
}

impl LatencyBreakdown {
    /// The expected mouth-to-ear delay: frame + codec delay + jitter-buffer
    /// target + the rings' latencies, in samples at the codec rate
    /// (durations are rounded to the nearest sample).
    pub fn total_samples(&self) -> i64 {
        let s = |d: Duration| -> i64 {
            ((d.as_nanos() * u128::from(self.sample_rate) + 500_000_000) / 1_000_000_000) as i64
        };
        s(self.frame)
            + s(self.encoder_delay)
            + s(self.decoder_delay)
            + s(self.jitter_target)
            + s(self.capture_ring)
            + s(self.playout_ring)
    }

    /// [`LatencyBreakdown::total_samples`] as a duration.
    pub fn total(&self) -> Duration {
        samples_to_duration(self.total_samples(), self.sample_rate)
    }
}

impl fmt::Display for LatencyBreakdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "frame {:.3} ms + codec {:.3} ms (encoder {:.3} + decoder {:.3}) + jitter target {:.3} ms \
             (current {:.3}) + capture ring {:.3} ms + playout ring {:.3} ms (targets + kernels) \
             = {:.3} ms ({} samples at {} Hz)",
            ms(self.frame),
            ms(self.encoder_delay + self.decoder_delay),
            ms(self.encoder_delay),
            ms(self.decoder_delay),
            ms(self.jitter_target),
            ms(self.jitter_current),
            ms(self.capture_ring),
            ms(self.playout_ring),
            ms(self.total()),
            self.total_samples(),
            self.sample_rate,
        )
    }
}

fn samples_to_duration(samples: i64, rate: u32) -> Duration {
    let ns = i128::from(samples.max(0)) * 1_000_000_000 / i128::from(rate.max(1));
    Duration::from_nanos(ns as u64)
}

/// Samples of pure delay of the rings' resampling kernel at equal engine
/// and device rates (`FractionalResampler::for_rates(1, rate, rate)`),
/// measured by pulling an impulse through it the way the playout callback
/// does (to check `delay_frames()`, which the rings' `latency()` uses).
pub fn kernel_delay_samples(rate: u32) -> u32 {
    let mut r = FractionalResampler::for_rates(1, rate, rate);
    let mut pushed = 0u32;
    for out in 0..64u32 {
        while r.needs_input() {
            r.push_mono(if pushed == 0 { 1.0 } else { 0.0 });
            pushed += 1;
        }
        if r.emit_mono() > 0.5 {
            return out;
        }
    }
    0
}

/// Where a datagram in flight goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    ToReceiver,
    ToSender,
}

/// The pipeline of one call direction (see the module documentation).
pub struct Pipeline<E: Encoder, D: Decoder> {
    capture_device: CaptureCallback,
    capture: CaptureStream,
    encoder: E,
    sender: MediaSession,
    receiver: MediaSession,
    jitter: JitterBuffer<D>,
    playout: PlayoutStream,
    playout_device: PlayoutCallback,
    now: Instant,
    frame: Duration,
    /// Samples per channel of one frame at the codec rate.
    frame_samples: usize,
    /// RTP timestamp units of one frame.
    rtp_frame: u32,
    sample_rate: u32,
    pcm: Vec<i16>,
    payload: Vec<u8>,
    payload_len: usize,
    captured: bool,
    decoded: Vec<i16>,
    in_flight: VecDeque<(Hop, Vec<u8>)>,
}

impl<E: Encoder, D: Decoder> fmt::Debug for Pipeline<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("sample_rate", &self.sample_rate)
            .field("frame_samples", &self.frame_samples)
            .field("sender", &self.sender)
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

/// The G.711 u-law (PCMU, 8 kHz) pipeline.
pub type PcmuPipeline = Pipeline<G711Encoder, G711Decoder>;
/// The Opus (48 kHz mono) pipeline.
pub type OpusPipeline = Pipeline<OpusEncoder, OpusDecoder>;

impl PcmuPipeline {
    /// A PCMU pipeline (payload type 0, 8 kHz) starting at `start`.
    pub fn pcmu(config: &PipelineConfig, start: Instant) -> Result<Self> {
        let frame = config.frame.as_duration();
        Self::new(
            G711Encoder::new(G711Law::Mu, frame)?,
            G711Decoder::new(G711Law::Mu),
            G711Law::Mu.payload_type(),
            CodecImpairment::G711_PLC,
            config,
            start,
        )
    }
}

impl OpusPipeline {
    /// An Opus pipeline (payload type 111, 48 kHz mono) with the encoder set
    /// up as `opus` says (its frame must match `config.frame`).
    pub fn opus(opus: &OpusEncoderConfig, config: &PipelineConfig, start: Instant) -> Result<Self> {
        if opus.frame != config.frame.as_duration() || opus.channels != 1 {
            return Err(PipelineError::Config(
                "the Opus encoder must be mono with the pipeline's frame",
            ));
        }
        Self::new(
            OpusEncoder::new(opus)?,
            OpusDecoder::new(1)?,
            OPUS_PAYLOAD_TYPE,
            CodecImpairment::OPUS,
            config,
            start,
        )
    }
}

impl<E: Encoder, D: Decoder> Pipeline<E, D> {
    /// A pipeline around `encoder` and `decoder` sending with
    /// `payload_type`, starting at `start`.
    pub fn new(
        encoder: E,
        decoder: D,
        payload_type: u8,
        impairment: CodecImpairment,
        config: &PipelineConfig,
        start: Instant,
    ) -> Result<Self> {
        let rate = encoder.sample_rate();
        if encoder.channels() != 1 || decoder.channels() != 1 || decoder.sample_rate() != rate {
            return Err(PipelineError::Config(
                "encoder and decoder must be mono at the same rate",
            ));
        }
        let frame = config.frame.as_duration();
        let frame_samples = encoder.frame_samples();
        if frame_samples as u128 * 1000 != u128::from(rate) * frame.as_millis() {
            return Err(PipelineError::Config(
                "the encoder's frame must match the pipeline's",
            ));
        }
        let rtp_frame =
            (frame_samples as u64 * u64::from(encoder.rtp_clock_rate()) / u64::from(rate)) as u32;

        // SDES keys of both directions, from the seeded RNG.
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed);
        let keys = SrtpParameters {
            local: SrtpKeyingMaterial::generate(config.suite, &mut rng),
            remote: SrtpKeyingMaterial::generate(config.suite, &mut rng),
        };
        let session_config = |remote: SocketAddr, keys: SrtpParameters| {
            let mut c = MediaSessionConfig::new(remote, payload_type, encoder.rtp_clock_rate());
            c.ptime = frame;
            c.codec = impairment;
            c.srtp = Some(keys);
            c
        };
        let sender = MediaSession::new(
            session_config(RECEIVER_ADDR, keys.clone()),
            ChaCha20Rng::seed_from_u64(config.seed.wrapping_add(1)),
            start,
        )?;
        let receiver = MediaSession::new(
            session_config(SENDER_ADDR, keys.reversed()),
            ChaCha20Rng::seed_from_u64(config.seed.wrapping_add(2)),
            start,
        )?;

        let device = DeviceFormat {
            sample_rate: rate,
            channels: 1,
            buffer_frames: u32::try_from(frame_samples).ok(),
        };
        let stream = |target: Option<Duration>| StreamConfig {
            sample_rate: rate,
            channels: 1,
            frame_duration: config.frame,
            latency: LatencyConfig {
                target,
                drift: config.drift,
                ..LatencyConfig::default()
            },
        };
        let (capture, capture_device) =
            capture_channel(&stream(config.capture_ring_target), &device)?;
        let (playout, playout_device) =
            playout_channel(&stream(config.playout_ring_target), &device)?;

        let jitter = JitterBuffer::new(decoder, config.jitter.clone())?;
        let in_flight = VecDeque::with_capacity(16);
        Ok(Self {
            capture_device,
            capture,
            encoder,
            sender,
            receiver,
            jitter,
            playout,
            playout_device,
            now: start,
            frame,
            frame_samples,
            rtp_frame,
            sample_rate: rate,
            pcm: vec![0; frame_samples],
            payload: vec![0; MAX_PAYLOAD],
            payload_len: 0,
            captured: false,
            decoded: vec![0; frame_samples],
            in_flight,
        })
    }

    /// Codec (and device) sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples in one frame: what [`Pipeline::tick`] takes and gives.
    pub fn samples_per_frame(&self) -> usize {
        self.frame_samples
    }

    /// The frame duration.
    pub fn frame(&self) -> Duration {
        self.frame
    }

    /// The virtual clock: the instant of the next tick.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The encoder.
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    /// The receiver's jitter buffer.
    pub fn jitter_buffer(&self) -> &JitterBuffer<D> {
        &self.jitter
    }

    /// The sending media session.
    pub fn sender(&self) -> &MediaSession {
        &self.sender
    }

    /// The receiving media session.
    pub fn receiver(&self) -> &MediaSession {
        &self.receiver
    }

    /// The media-thread half of the capture ring.
    pub fn capture_stream(&self) -> &CaptureStream {
        &self.capture
    }

    /// The media-thread half of the playout ring.
    pub fn playout_stream(&self) -> &PlayoutStream {
        &self.playout
    }

    /// The last encoded frame (the RTP payload sent).
    pub fn last_payload(&self) -> &[u8] {
        self.payload.get(..self.payload_len).unwrap_or_default()
    }

    /// One frame through the whole pipeline: `mic` (one frame of samples)
    /// in, `speaker` (one frame) out; then the clock advances by a frame.
    /// Returns what the jitter buffer produced.
    pub fn tick(&mut self, mic: &[i16], speaker: &mut [i16]) -> Result<FrameKind> {
        if self.stage_capture(mic)? == CaptureStatus::Frame {
            self.stage_encode()?;
            self.stage_send()?;
            self.stage_receive()?;
        }
        self.stage_timers();
        let kind = self.stage_decode()?;
        self.stage_render(speaker);
        self.advance();
        Ok(kind)
    }

    /// Stage 1: the capture device callback hands `mic` to the capture ring
    /// and the media thread pops one frame.
    pub fn stage_capture(&mut self, mic: &[i16]) -> Result<CaptureStatus> {
        self.capture_device.capture(mic);
        let status = self.capture.pop_frame(&mut self.pcm)?;
        self.captured = status == CaptureStatus::Frame;
        Ok(status)
    }

    /// Stage 2: encode the captured frame.
    pub fn stage_encode(&mut self) -> Result<usize> {
        self.payload_len = self.encoder.encode(&self.pcm, &mut self.payload)?;
        Ok(self.payload_len)
    }

    /// Stage 3: RTP packetize and SRTP protect (the sender session), and
    /// put the datagram on the (instant) wire.
    pub fn stage_send(&mut self) -> Result<()> {
        let payload = self.payload.get(..self.payload_len).unwrap_or_default();
        self.sender.send_audio(self.now, payload, self.rtp_frame)?;
        while let Some(t) = self.sender.poll_transmit() {
            self.in_flight.push_back((Hop::ToReceiver, t.contents));
        }
        Ok(())
    }

    /// Stage 4: deliver what is on the wire: SRTP unprotect, replay check,
    /// RTP parse (the receiver session), then into the jitter buffer.
    pub fn stage_receive(&mut self) -> Result<()> {
        while let Some((hop, datagram)) = self.in_flight.pop_front() {
            match hop {
                Hop::ToReceiver => {
                    self.receiver.handle_input(self.now, SENDER_ADDR, &datagram);
                    self.sender.recycle(datagram);
                }
                Hop::ToSender => {
                    self.sender.handle_input(self.now, RECEIVER_ADDR, &datagram);
                    self.receiver.recycle(datagram);
                }
            }
        }
        while let Some(rtp) = self.receiver.poll_rtp() {
            self.jitter.insert(
                rtp.arrival,
                &IncomingPacket {
                    ssrc: rtp.ssrc,
                    sequence_number: rtp.sequence_number,
                    timestamp: rtp.timestamp,
                    marker: rtp.marker,
                    payload: &rtp.payload,
                },
            );
            self.receiver.recycle(rtp.payload);
        }
        // Telephone-event packets take the audio's sequence numbers: tell
        // the jitter buffer they carried no audio (not lost).
        while let Some(n) = self.receiver.poll_non_audio() {
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
        }
        while self.receiver.poll_event().is_some() {}
        while self.sender.poll_event().is_some() {}
        Ok(())
    }

    /// The sessions' timers (RTCP reports, keep-alives), their datagrams
    /// delivered to the other side at once.
    pub fn stage_timers(&mut self) {
        let now = self.now;
        if self.sender.poll_timeout().is_some_and(|t| t <= now) {
            self.sender.handle_timeout(now);
        }
        if self.receiver.poll_timeout().is_some_and(|t| t <= now) {
            self.receiver.handle_timeout(now);
        }
        while let Some(t) = self.sender.poll_transmit() {
            self.in_flight.push_back((Hop::ToReceiver, t.contents));
        }
        while let Some(t) = self.receiver.poll_transmit() {
            self.in_flight.push_back((Hop::ToSender, t.contents));
        }
        if !self.in_flight.is_empty() {
            let _ = self.stage_receive();
        }
    }

    /// Stage 5: the playout tick: the jitter buffer decodes (or conceals)
    /// one frame, which goes into the playout ring.
    pub fn stage_decode(&mut self) -> Result<FrameKind> {
        let kind = self.jitter.get_frame(self.now, &mut self.decoded)?;
        // The target: `current_delay` also counts stalls (MediaSession::set_playout_delay).
        self.receiver.set_playout_delay(self.jitter.target_delay());
        self.playout.push_frame(&self.decoded)?;
        Ok(kind)
    }

    /// Stage 6: the playout device callback renders one frame.
    pub fn stage_render(&mut self, speaker: &mut [i16]) {
        self.playout_device.render(speaker);
    }

    /// Advance the virtual clock by one frame.
    pub fn advance(&mut self) {
        self.now += self.frame;
    }

    /// The latency breakdown as the parts report it now (the jitter
    /// buffer's figures are those of the last playout tick).
    pub fn latency(&self) -> LatencyBreakdown {
        LatencyBreakdown {
            sample_rate: self.sample_rate,
            frame: self.frame,
            encoder_delay: self.encoder.algorithmic_delay(),
            decoder_delay: self.jitter.decoder().algorithmic_delay(),
            jitter_target: self.jitter.target_delay(),
            jitter_current: self.jitter.current_delay(),
            capture_ring: self.capture.latency(),
            playout_ring: self.playout.latency(),
        }
    }
}
