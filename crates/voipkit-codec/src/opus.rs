//! Opus through `audiopus` 0.2 on the system libopus.
//!
//! audiopus 0.2 has no typed DTX setter; DTX goes through the raw CTL
//! `OPUS_SET_DTX_REQUEST` (4016). Its `packet::nb_samples` casts libopus's
//! negative error codes to `usize`, so packet durations are read from the
//! TOC byte here (RFC 6716 section 3.1) instead.

use std::time::Duration;

use audiopus::coder::{Decoder as RawDecoder, Encoder as RawEncoder};
use audiopus::{Application, Bitrate, Channels, SampleRate, Signal};

use crate::{CodecError, Decoder, Encoder, Result};

/// The Opus RTP clock rate (RFC 7587: always 48000, whatever the audio
/// bandwidth).
pub const OPUS_CLOCK_RATE: u32 = 48_000;

/// Largest Opus packet duration: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5760;

/// 2.5 ms at 48 kHz: Opus frame sizes (and concealment lengths) are
/// multiples of this.
const GRANULE: usize = 120;

/// `OPUS_SET_DTX_REQUEST` from opus_defines.h.
const OPUS_SET_DTX_REQUEST: i32 = 4016;

fn channels_of(n: usize) -> Result<Channels> {
    match n {
        1 => Ok(Channels::Mono),
        2 => Ok(Channels::Stereo),
        _ => Err(CodecError::UnsupportedChannels(n)),
    }
}

/// Samples per channel at 48 kHz of an Opus packet, read from its TOC byte
/// (and frame-count byte for code 3), RFC 6716 section 3.1.
pub(crate) fn opus_packet_samples(payload: &[u8]) -> Result<usize> {
    let toc = *payload
        .first()
        .ok_or(CodecError::InvalidPacket("empty Opus packet"))?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => match config % 4 {
            0 => 480,
            1 => 960,
            2 => 1920,
            _ => 2880,
        },
        12..=15 => 480 << (config % 2),
        _ => 120 << (config % 4),
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => {
            let count = payload.get(1).ok_or(CodecError::InvalidPacket(
                "Opus code 3 packet without count",
            ))? & 0x3F;
            if count == 0 {
                return Err(CodecError::InvalidPacket(
                    "Opus code 3 packet with 0 frames",
                ));
            }
            usize::from(count)
        }
    };
    let total = frame * frames;
    if total > MAX_PACKET_SAMPLES {
        return Err(CodecError::InvalidPacket("Opus packet longer than 120 ms"));
    }
    Ok(total)
}

/// What the encoder is told it carries (`OPUS_SET_SIGNAL`): a hint to
/// libopus's mode decision (SILK/hybrid for speech, CELT for music).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OpusSignal {
    /// Let libopus decide from its own speech/music analysis (which it only
    /// runs at complexity 7 and above; below, it guesses from the bitrate).
    Auto,
    /// Speech: SILK (narrow/wideband) or hybrid (SILK below 8 kHz + CELT
    /// above) frames, with SILK's LPC/LTP coding, which is made for it and
    /// is what packet-loss concealment and in-band FEC (LBRR, a SILK
    /// feature) work best with. The default: a softphone carries speech.
    #[default]
    Voice,
    /// Music: CELT-only frames (music on hold played by the app itself,
    /// for instance).
    Music,
}

impl OpusSignal {
    fn raw(self) -> Signal {
        match self {
            OpusSignal::Auto => Signal::Auto,
            OpusSignal::Voice => Signal::Voice,
            OpusSignal::Music => Signal::Music,
        }
    }
}

/// How an [`OpusEncoder`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct OpusEncoderConfig {
    /// Input channels: 1 (the usual for calls) or 2.
    pub channels: usize,
    /// Frame duration: 10, 20, 40 or 60 ms.
    pub frame: Duration,
    /// Target bitrate in bit/s (6000..=510000).
    pub bitrate: u32,
    /// Encoder complexity 0..=10. Default 5, WebRTC's choice on mobile:
    /// with speech (hybrid frames at 32 kbit/s, FEC on) a 20 ms frame
    /// costs about 110 us to encode on the 2-core x86 machine we measure
    /// on, against 87 us at 3, 145 at 6, 212 at 7, 279 at 8 and 285 at 9
    /// (`cargo bench --bench codec`, `opus_encode_voice/*`), and a phone
    /// core can be 2-4 times slower and runs on battery. Above 5 SILK only adds
    /// delayed-decision states to its quantiser (3 at 6-7, 4 at 8+) and
    /// libopus its speech/music analysis (7+, moot with
    /// [`OpusSignal::Voice`]): small gains for two to three times the
    /// CPU. Desktop apps can raise it (`set_complexity`).
    pub complexity: u8,
    /// In-band forward error correction (LBRR): each packet also carries a
    /// low-bitrate copy of the previous frame.
    pub fec: bool,
    /// Expected packet loss in percent; FEC is only produced when this is
    /// above 0, and more redundancy is spent as it rises.
    pub expected_loss_percent: u8,
    /// Discontinuous transmission: during silence the encoder emits tiny
    /// (<= 2 byte) packets that the sender need not transmit.
    pub dtx: bool,
    /// What the encoder carries (`OPUS_SET_SIGNAL`); [`OpusSignal::Voice`]
    /// by default.
    pub signal: OpusSignal,
}

impl Default for OpusEncoderConfig {
    fn default() -> Self {
        Self {
            channels: 1,
            frame: Duration::from_millis(20),
            bitrate: 32_000,
            complexity: 5,
            fec: true,
            expected_loss_percent: 5,
            dtx: false,
            signal: OpusSignal::Voice,
        }
    }
}

/// Bitrate and FEC settings chosen by [`LossAdaptation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// Target bitrate in bit/s.
    pub bitrate: u32,
    /// Whether in-band FEC is on.
    pub fec: bool,
    /// Expected loss in percent handed to the encoder.
    pub expected_loss_percent: u8,
}

/// Opus encoder: 48 kHz, application VOIP.
pub struct OpusEncoder {
    raw: RawEncoder,
    channels: usize,
    frame_samples: usize,
    lookahead: usize,
    settings: OpusSettings,
    complexity: u8,
    dtx: bool,
    signal: OpusSignal,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("channels", &self.channels)
            .field("frame_samples", &self.frame_samples)
            .field("settings", &self.settings)
            .field("complexity", &self.complexity)
            .field("dtx", &self.dtx)
            .field("signal", &self.signal)
            .finish()
    }
}

impl OpusEncoder {
    /// An encoder set up as `config` says.
    pub fn new(config: &OpusEncoderConfig) -> Result<Self> {
        let frame_samples = match config.frame.as_micros() {
            10_000 => 480,
            20_000 => 960,
            40_000 => 1920,
            60_000 => 2880,
            _ => {
                return Err(CodecError::InvalidConfig(
                    "Opus frame must be 10/20/40/60 ms",
                ));
            }
        };
        let raw = RawEncoder::new(
            SampleRate::Hz48000,
            channels_of(config.channels)?,
            Application::Voip,
        )?;
        let lookahead = raw.lookahead()? as usize;
        let mut enc = Self {
            raw,
            channels: config.channels,
            frame_samples,
            lookahead,
            settings: OpusSettings {
                bitrate: config.bitrate,
                fec: config.fec,
                expected_loss_percent: config.expected_loss_percent,
            },
            complexity: config.complexity,
            dtx: config.dtx,
            signal: config.signal,
        };
        enc.set_complexity(config.complexity)?;
        enc.apply(OpusSettings {
            bitrate: config.bitrate,
            fec: config.fec,
            expected_loss_percent: config.expected_loss_percent,
        })?;
        enc.set_dtx(config.dtx)?;
        enc.set_signal(config.signal)?;
        Ok(enc)
    }

    /// Set the target bitrate (bit/s, 6000..=510000).
    pub fn set_bitrate(&mut self, bitrate: u32) -> Result<()> {
        if !(6_000..=510_000).contains(&bitrate) {
            return Err(CodecError::InvalidConfig(
                "Opus bitrate must be 6000..=510000",
            ));
        }
        self.raw
            .set_bitrate(Bitrate::BitsPerSecond(bitrate as i32))?;
        self.settings.bitrate = bitrate;
        Ok(())
    }

    /// Set the complexity (0..=10).
    pub fn set_complexity(&mut self, complexity: u8) -> Result<()> {
        if complexity > 10 {
            return Err(CodecError::InvalidConfig("Opus complexity must be 0..=10"));
        }
        self.raw.set_complexity(complexity)?;
        self.complexity = complexity;
        Ok(())
    }

    /// Turn in-band FEC on or off.
    pub fn set_fec(&mut self, on: bool) -> Result<()> {
        self.raw.set_inband_fec(on)?;
        self.settings.fec = on;
        Ok(())
    }

    /// Set the expected packet loss (percent, 0..=100).
    pub fn set_expected_loss_percent(&mut self, percent: u8) -> Result<()> {
        let p = percent.min(100);
        self.raw.set_packet_loss_perc(p)?;
        self.settings.expected_loss_percent = p;
        Ok(())
    }

    /// Turn DTX on or off.
    pub fn set_dtx(&mut self, on: bool) -> Result<()> {
        self.raw
            .set_encoder_ctl_request(OPUS_SET_DTX_REQUEST, i32::from(on))?;
        self.dtx = on;
        Ok(())
    }

    /// Tell the encoder what it carries (`OPUS_SET_SIGNAL`).
    pub fn set_signal(&mut self, signal: OpusSignal) -> Result<()> {
        self.raw.set_signal(signal.raw())?;
        self.signal = signal;
        Ok(())
    }

    /// What the encoder was told it carries.
    pub fn signal(&self) -> OpusSignal {
        self.signal
    }

    /// Apply bitrate/FEC settings (e.g. from [`LossAdaptation`]).
    pub fn apply(&mut self, s: OpusSettings) -> Result<()> {
        self.set_bitrate(s.bitrate)?;
        self.set_fec(s.fec)?;
        self.set_expected_loss_percent(s.expected_loss_percent)
    }

    /// Current bitrate/FEC settings.
    pub fn settings(&self) -> OpusSettings {
        self.settings
    }

    /// Current complexity.
    pub fn complexity(&self) -> u8 {
        self.complexity
    }

    /// Whether DTX is on.
    pub fn dtx(&self) -> bool {
        self.dtx
    }

    /// The encoder's lookahead in samples at 48 kHz (`OPUS_GET_LOOKAHEAD`;
    /// 312 = 6.5 ms for application VOIP).
    pub fn lookahead_samples(&self) -> usize {
        self.lookahead
    }

    /// Whether an encoded packet of `len` bytes is a DTX frame that the
    /// sender need not transmit (RFC 7587 section 3.1.3).
    pub fn is_dtx_packet(len: usize) -> bool {
        len <= 2
    }
}

impl Encoder for OpusEncoder {
    fn sample_rate(&self) -> u32 {
        OPUS_CLOCK_RATE
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn rtp_clock_rate(&self) -> u32 {
        OPUS_CLOCK_RATE
    }
    fn frame_samples(&self) -> usize {
        self.frame_samples
    }
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize> {
        if pcm.len() != self.frame_samples * self.channels {
            return Err(CodecError::InvalidFrameSize {
                samples: pcm.len(),
                channels: self.channels,
            });
        }
        if out.is_empty() {
            return Err(CodecError::BufferTooSmall {
                needed: 1,
                available: 0,
            });
        }
        // Cap the output length so the i32 cast in audiopus stays valid.
        let cap = out.len().min(4000);
        let out = out.get_mut(..cap).unwrap_or_default();
        Ok(self.raw.encode(pcm, out)?)
    }
    fn algorithmic_delay(&self) -> Duration {
        Duration::from_micros(self.lookahead as u64 * 1_000_000 / u64::from(OPUS_CLOCK_RATE))
    }
}

/// Opus decoder: 48 kHz, mono or stereo output.
pub struct OpusDecoder {
    raw: RawDecoder,
    channels: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("channels", &self.channels)
            .finish()
    }
}

impl OpusDecoder {
    /// A decoder producing `channels` (1 or 2) interleaved channels at
    /// 48 kHz. A mono stream decodes into stereo and vice versa.
    pub fn new(channels: usize) -> Result<Self> {
        let raw = RawDecoder::new(SampleRate::Hz48000, channels_of(channels)?)?;
        Ok(Self { raw, channels })
    }

    /// The pitch period (samples at 48 kHz) of the last decoded frame, as
    /// libopus reports it (0 if unknown).
    pub fn pitch(&self) -> i32 {
        self.raw.pitch().unwrap_or(0)
    }
}

impl Decoder for OpusDecoder {
    fn sample_rate(&self) -> u32 {
        OPUS_CLOCK_RATE
    }
    fn channels(&self) -> usize {
        self.channels
    }
    fn packet_samples(&self, payload: &[u8]) -> Result<usize> {
        opus_packet_samples(payload)
    }
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize> {
        let n = opus_packet_samples(payload)?;
        let needed = n * self.channels;
        let out = match out.get_mut(..needed) {
            Some(o) => o,
            None => {
                return Err(CodecError::BufferTooSmall {
                    needed,
                    available: out.len(),
                });
            }
        };
        let got = self.raw.decode(Some(payload), out, false)?;
        Ok(got)
    }
    fn conceal(&mut self, out: &mut [i16]) -> Result<usize> {
        let n = out.len() / self.channels;
        if !n.is_multiple_of(GRANULE) || n == 0 || n > MAX_PACKET_SAMPLES {
            return Err(CodecError::InvalidFrameSize {
                samples: out.len(),
                channels: self.channels,
            });
        }
        let out = out.get_mut(..n * self.channels).unwrap_or_default();
        let got = self.raw.decode(None::<&[u8]>, out, false)?;
        Ok(got)
    }
    fn conceal_granularity(&self) -> usize {
        GRANULE
    }
    fn decode_fec(&mut self, next_payload: &[u8], out: &mut [i16]) -> Result<Option<usize>> {
        let n = out.len() / self.channels;
        if !n.is_multiple_of(GRANULE) || n == 0 || n > MAX_PACKET_SAMPLES {
            return Err(CodecError::InvalidFrameSize {
                samples: out.len(),
                channels: self.channels,
            });
        }
        opus_packet_samples(next_payload)?;
        let out = out.get_mut(..n * self.channels).unwrap_or_default();
        let got = self.raw.decode(Some(next_payload), out, true)?;
        Ok(Some(got))
    }
    fn is_comfort_noise(&self, payload: &[u8]) -> bool {
        payload.len() <= 2
    }
    /// The LBRR flag(s) of the packet's first frame (see
    /// `opus_has_lbrr`): CELT-only and malformed packets have none.
    fn has_fec(&self, payload: &[u8]) -> bool {
        crate::jitter::opus_has_lbrr(payload)
    }
    fn reset(&mut self) {
        let ch = if self.channels == 2 {
            Channels::Stereo
        } else {
            Channels::Mono
        };
        if let Ok(fresh) = RawDecoder::new(SampleRate::Hz48000, ch) {
            self.raw = fresh;
        }
    }
}

/// A small policy that adapts Opus to the loss the far end reports (RTCP
/// receiver reports' fraction lost).
///
/// The reported loss is smoothed (a rise is taken at once, a fall slowly).
/// As it rises the encoder is told to expect more loss (more FEC
/// redundancy: `expected_loss_percent = ceil(loss%) + 1`, at most 40), FEC is
/// switched on from 1% loss, and the bitrate is lowered: full up to 2% loss,
/// then linearly down to `min_bitrate` at 20% loss and beyond (loss often
/// means congestion; a lower rate with redundancy beats a high rate lost).
#[derive(Debug, Clone, PartialEq)]
pub struct LossAdaptation {
    /// Bitrate used without loss.
    pub max_bitrate: u32,
    /// Bitrate floor at heavy loss.
    pub min_bitrate: u32,
    /// Whether FEC stays on even without loss (costs a little bitrate, saves
    /// the first losses).
    pub fec_always: bool,
    smoothed: f64,
}

impl LossAdaptation {
    /// A policy between `min_bitrate` and `max_bitrate`.
    pub fn new(max_bitrate: u32, min_bitrate: u32) -> Self {
        Self {
            max_bitrate,
            min_bitrate: min_bitrate.min(max_bitrate),
            fec_always: true,
            smoothed: 0.0,
        }
    }

    /// Feed one report of the fraction lost (0.0..=1.0) and get the
    /// settings to apply.
    pub fn on_report(&mut self, fraction_lost: f64) -> OpusSettings {
        let f = if fraction_lost.is_finite() {
            fraction_lost.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.smoothed = if f > self.smoothed {
            f
        } else {
            0.7 * self.smoothed + 0.3 * f
        };
        self.settings()
    }

    /// The smoothed loss fraction.
    pub fn smoothed_loss(&self) -> f64 {
        self.smoothed
    }

    /// Settings for the current smoothed loss.
    pub fn settings(&self) -> OpusSettings {
        let pct = self.smoothed * 100.0;
        let expected = if pct > 0.05 {
            (pct.ceil() + 1.0).min(40.0) as u8
        } else {
            0
        };
        let fec = self.fec_always || pct >= 1.0;
        let span = f64::from(self.max_bitrate.saturating_sub(self.min_bitrate));
        let cut = ((pct - 2.0) / 18.0).clamp(0.0, 1.0);
        let bitrate = self.max_bitrate.saturating_sub((span * cut).round() as u32);
        OpusSettings {
            bitrate,
            fec,
            // With FEC on, libopus needs a non-zero expectation to spend
            // anything on it.
            expected_loss_percent: if fec { expected.max(1) } else { expected },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speechlike(n: usize, offset: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = (i + offset) as f64 / 48_000.0;
                let f0 = 140.0 + 20.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
                let mut v = 0.0;
                for h in 1..8 {
                    v += (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64;
                }
                (v * 6000.0) as i16
            })
            .collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn toc_parsing() {
        assert_eq!(opus_packet_samples(&[0x08]).unwrap(), 960); // SILK NB 20 ms
        assert_eq!(opus_packet_samples(&[0x78]).unwrap(), 960); // hybrid FB 20 ms
        assert_eq!(opus_packet_samples(&[0xF8]).unwrap(), 960); // CELT FB 20 ms
        assert_eq!(opus_packet_samples(&[0x80]).unwrap(), 120); // CELT 2.5 ms
        assert_eq!(opus_packet_samples(&[0x19]).unwrap(), 5760); // 2 x 60 ms
        assert_eq!(opus_packet_samples(&[0x1B, 0x02]).unwrap(), 5760);
        assert!(opus_packet_samples(&[0x1B, 0x03]).is_err()); // 180 ms
        assert!(opus_packet_samples(&[0x1B, 0x00]).is_err());
        assert!(opus_packet_samples(&[0x1B]).is_err());
        assert!(opus_packet_samples(&[]).is_err());
    }

    #[test]
    fn encode_decode_mono_and_stereo_output() {
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
        assert_eq!(enc.lookahead_samples(), 312);
        assert_eq!(enc.algorithmic_delay(), Duration::from_micros(6500));
        let mut dec = OpusDecoder::new(1).unwrap();
        let mut dec2 = OpusDecoder::new(2).unwrap();
        let mut pkt = [0u8; 1500];
        let mut out = [0i16; 960];
        let mut out2 = [0i16; 1920];
        let sig = speechlike(960 * 50, 0);
        let mut last = 0.0;
        for f in sig.chunks(960) {
            let n = enc.encode(f, &mut pkt).unwrap();
            assert!(n > 10 && n < 400, "{n}");
            assert_eq!(dec.packet_samples(&pkt[..n]).unwrap(), 960);
            assert_eq!(dec.decode(&pkt[..n], &mut out).unwrap(), 960);
            assert_eq!(dec2.decode(&pkt[..n], &mut out2).unwrap(), 960);
            last = rms(&out);
        }
        assert!(last > 0.5 * rms(&sig[..960]), "{last}");
        assert!(rms(&out2) > 0.5 * rms(&sig[..960]));
        // Wrong frame size, bad packets.
        assert!(enc.encode(&sig[..100], &mut pkt).is_err());
        assert!(dec.decode(&[], &mut out).is_err());
        assert!(dec.decode(&pkt[..1], &mut out[..10]).is_err());
    }

    /// `OPUS_SET_SIGNAL` reaches libopus: speech-like input comes out as
    /// SILK/hybrid frames with Voice (the default), CELT-only with Music.
    #[test]
    fn signal_sets_the_mode() {
        let sig = speechlike(960 * 50, 0);
        let modes = |signal: OpusSignal| {
            let mut enc = OpusEncoder::new(&OpusEncoderConfig {
                signal,
                ..Default::default()
            })
            .unwrap();
            assert_eq!(enc.signal(), signal);
            let mut pkt = [0u8; 1500];
            let mut celt = 0;
            for f in sig.chunks_exact(960) {
                let n = enc.encode(f, &mut pkt).unwrap();
                // TOC configurations 16..=31 are CELT-only (RFC 6716 3.1).
                if n > 2 && pkt[0] >> 3 >= 16 {
                    celt += 1;
                }
            }
            celt
        };
        assert_eq!(OpusEncoderConfig::default().signal, OpusSignal::Voice);
        assert_eq!(modes(OpusSignal::Voice), 0);
        assert_eq!(modes(OpusSignal::Music), 50);
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
        enc.set_signal(OpusSignal::Auto).unwrap();
        assert_eq!(enc.signal(), OpusSignal::Auto);
    }

    #[test]
    fn ten_ms_frames_and_settings() {
        let cfg = OpusEncoderConfig {
            frame: Duration::from_millis(10),
            complexity: 5,
            ..Default::default()
        };
        let mut enc = OpusEncoder::new(&cfg).unwrap();
        assert_eq!(enc.frame_samples(), 480);
        let mut pkt = [0u8; 1500];
        let n = enc.encode(&speechlike(480, 0), &mut pkt).unwrap();
        assert_eq!(opus_packet_samples(&pkt[..n]).unwrap(), 480);
        enc.set_bitrate(16_000).unwrap();
        assert!(enc.set_bitrate(1_000).is_err());
        assert!(enc.set_complexity(11).is_err());
        enc.set_dtx(true).unwrap();
        assert!(enc.dtx());
        assert!(
            OpusEncoder::new(&OpusEncoderConfig {
                frame: Duration::from_millis(15),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            OpusEncoder::new(&OpusEncoderConfig {
                channels: 3,
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn plc_and_fec_recover_a_lost_packet() {
        let mut enc = OpusEncoder::new(&OpusEncoderConfig {
            expected_loss_percent: 20,
            ..Default::default()
        })
        .unwrap();
        let sig = speechlike(960 * 40, 0);
        let mut pkts = Vec::new();
        for f in sig.chunks(960) {
            let mut pkt = [0u8; 1500];
            let n = enc.encode(f, &mut pkt).unwrap();
            pkts.push(pkt[..n].to_vec());
        }
        // Reference decode of everything.
        let mut dec = OpusDecoder::new(1).unwrap();
        let mut reference = Vec::new();
        for p in &pkts {
            let mut out = [0i16; 960];
            dec.decode(p, &mut out).unwrap();
            reference.push(out);
        }
        // Lose packet 30: PLC vs FEC from packet 31.
        let run = |use_fec: bool| {
            let mut dec = OpusDecoder::new(1).unwrap();
            let mut out = [0i16; 960];
            for p in &pkts[..30] {
                dec.decode(p, &mut out).unwrap();
            }
            if use_fec {
                assert_eq!(dec.decode_fec(&pkts[31], &mut out).unwrap(), Some(960));
            } else {
                assert_eq!(dec.conceal(&mut out).unwrap(), 960);
            }
            let err: f64 = out
                .iter()
                .zip(reference[30].iter())
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                .sum();
            (err / 960.0).sqrt()
        };
        let plc_err = run(false);
        let fec_err = run(true);
        let sig_rms = rms(&reference[30]);
        assert!(plc_err < sig_rms * 1.5, "plc {plc_err} vs {sig_rms}");
        assert!(fec_err < plc_err, "fec {fec_err} plc {plc_err}");
        let mut dec = OpusDecoder::new(1).unwrap();
        let mut out = [0i16; 1000];
        assert!(dec.conceal(&mut out).is_err(), "not a multiple of 2.5 ms");
    }

    #[test]
    fn dtx_emits_tiny_packets_in_silence() {
        let mut enc = OpusEncoder::new(&OpusEncoderConfig {
            dtx: true,
            ..Default::default()
        })
        .unwrap();
        let silence = [0i16; 960];
        let mut pkt = [0u8; 1500];
        let mut tiny = 0;
        for _ in 0..100 {
            let n = enc.encode(&silence, &mut pkt).unwrap();
            if OpusEncoder::is_dtx_packet(n) {
                tiny += 1;
            }
        }
        assert!(tiny > 80, "{tiny}");
        let dec = OpusDecoder::new(1).unwrap();
        assert!(dec.is_comfort_noise(&pkt[..1]));
    }

    #[test]
    fn loss_policy() {
        let mut p = LossAdaptation::new(32_000, 12_000);
        let s0 = p.on_report(0.0);
        assert_eq!(s0.bitrate, 32_000);
        assert!(s0.fec);
        let s1 = p.on_report(0.05);
        assert_eq!(s1.expected_loss_percent, 6);
        assert!(s1.bitrate < 32_000 && s1.bitrate > 12_000);
        let s2 = p.on_report(0.30);
        assert_eq!(s2.bitrate, 12_000);
        assert!(s2.expected_loss_percent >= 31);
        // Falls slowly.
        let s3 = p.on_report(0.0);
        assert!(s3.expected_loss_percent > 15);
        for _ in 0..30 {
            p.on_report(0.0);
        }
        assert_eq!(p.settings().bitrate, 32_000);
        assert!(p.on_report(f64::NAN).bitrate > 0);
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
        enc.apply(s2).unwrap();
        assert_eq!(enc.settings(), s2);
    }
}
