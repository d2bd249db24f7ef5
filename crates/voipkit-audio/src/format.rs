//! Formats: what the engine exchanges ([`StreamConfig`]) and what a device
//! runs at ([`DeviceFormat`]), plus the sample types a device may use.

use std::time::Duration;

use crate::AudioError;
use crate::drift::DriftConfig;

/// Most channels a stream or device may have (the real-time side keeps
/// per-channel state in fixed arrays of this size, so it never allocates).
pub const MAX_CHANNELS: usize = 8;

/// Lowest sample rate accepted, in Hz.
pub const MIN_SAMPLE_RATE: u32 = 8_000;

/// Highest sample rate accepted, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 192_000;

/// Duration of one engine frame: what the codec encodes or decodes at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameDuration {
    /// 10 ms frames.
    Ms10,
    /// 20 ms frames (the usual packetisation time).
    Ms20,
}

impl FrameDuration {
    /// The duration in milliseconds (10 or 20).
    pub fn as_millis(self) -> u32 {
        match self {
            FrameDuration::Ms10 => 10,
            FrameDuration::Ms20 => 20,
        }
    }

    /// The duration as a [`Duration`].
    pub fn as_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.as_millis()))
    }
}

/// How much audio the ring between the media thread and the real-time
/// callback holds, and how clock drift is absorbed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyConfig {
    /// The ring's latency: the audio it holds in front of the device's
    /// buffer, measured by the callback right after the device took its
    /// buffer (playout) or right before the device adds one (capture).
    /// The drift controller holds its average there, and a stream starts
    /// (at first and after an underrun) exactly there, so the ring adds
    /// this (plus its resampling kernel's delay, see
    /// `PlayoutStream::latency`) from the first callback on. `None`:
    /// automatic (see [`StreamConfig::target_latency`]).
    pub target: Option<Duration>,
    /// Ring capacity. Playout frames that don't fit are dropped (counted
    /// as overruns); captured samples that don't fit are dropped likewise.
    /// Raised to at least twice the target plus two frames.
    pub capacity: Duration,
    /// Drift controller tuning.
    pub drift: DriftConfig,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            target: None,
            capacity: Duration::from_millis(200),
            drift: DriftConfig::default(),
        }
    }
}

/// The engine side of a stream: what the media thread pushes (playout) or
/// pops (capture), as interleaved `i16` PCM frames of fixed size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamConfig {
    /// Engine sample rate in Hz (8000..=192000, a multiple of 100 so a
    /// 10 ms frame is a whole number of samples).
    pub sample_rate: u32,
    /// Engine channel count (1..=[`MAX_CHANNELS`]).
    pub channels: u16,
    /// Frame duration (10 or 20 ms).
    pub frame_duration: FrameDuration,
    /// Ring size and drift absorption.
    pub latency: LatencyConfig,
}

impl StreamConfig {
    /// A configuration with default latency settings.
    pub fn new(sample_rate: u32, channels: u16, frame_duration: FrameDuration) -> Self {
        StreamConfig {
            sample_rate,
            channels,
            frame_duration,
            latency: LatencyConfig::default(),
        }
    }

    /// Checks the values; every constructor of a stream calls this.
    pub fn validate(&self) -> Result<(), AudioError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&self.sample_rate)
            || !self.sample_rate.is_multiple_of(100)
        {
            return Err(AudioError::UnsupportedConfig {
                reason: format!(
                    "engine sample rate {} Hz (must be {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} and a multiple of 100)",
                    self.sample_rate
                ),
            });
        }
        check_channels("engine", self.channels)?;
        self.latency.drift.validate()?;
        if self
            .latency
            .target
            .is_some_and(|t| t > Duration::from_secs(2))
        {
            return Err(AudioError::UnsupportedConfig {
                reason: "target latency above 2 s".to_owned(),
            });
        }
        if self.latency.capacity > Duration::from_secs(10) {
            return Err(AudioError::UnsupportedConfig {
                reason: "ring capacity above 10 s".to_owned(),
            });
        }
        Ok(())
    }

    /// Sample frames (one sample per channel) in one engine frame.
    pub fn frames_per_frame(&self) -> usize {
        self.sample_rate as usize * self.frame_duration.as_millis() as usize / 1000
    }

    /// Interleaved samples in one engine frame: what `push_frame` takes and
    /// `pop_frame` fills.
    pub fn samples_per_frame(&self) -> usize {
        self.frames_per_frame() * usize::from(self.channels)
    }

    /// The ring latency for a device whose callbacks carry
    /// `device_buffer` of audio: the configured target, or automatically
    /// `max(frame - buffer, 0) / 2 + buffer + 5 ms` (20 ms for 20 ms
    /// frames and 10 ms callbacks, 25 ms for 20/20, 15 ms for 10/10),
    /// the least that never underran in `tests/drift.rs`'s conditions:
    ///
    /// - half the sawtooth: the media thread moves whole frames and the
    ///   device whole buffers, so when frames are the bigger the fill
    ///   measured at callbacks spans `frame - buffer`, and its average
    ///   (what the controller holds) sits half of that above its lowest
    ///   point;
    /// - one device buffer: the two clocks are not the same, so their
    ///   phases slide past each other and now and then a callback comes
    ///   before the frame it used to follow (or two in a row): the lowest
    ///   point drops by one callback's worth;
    /// - 5 ms for the media thread's scheduling jitter and the drift
    ///   controller's acquisition (measured: ±1 % drift with 0..4 ms of
    ///   media-thread jitter and 2.7..43 ms device buffers, no underrun).
    ///
    /// PJSIP and WebRTC run their device paths at about one to two device
    /// buffers; this is in that range. The old default, `frame + buffer +
    /// 5 ms`, added 15 ms more per ring for 20 ms frames on 10 ms
    /// callbacks (35 ms against 20 ms). A media loop paced by the device
    /// (pushing while [`wants_frame`](crate::PlayoutStream::wants_frame))
    /// has no slide and could run lower with an explicit target.
    pub fn target_latency(&self, device_buffer: Duration) -> Duration {
        self.latency.target.unwrap_or_else(|| {
            let frame = self.frame_duration.as_duration();
            frame.saturating_sub(device_buffer) / 2 + device_buffer + Duration::from_millis(5)
        })
    }
}

/// What a device runs at. Differs from the engine's [`StreamConfig`] in
/// general (e.g. device 44.1 kHz stereo, engine 48 kHz mono); the real-time
/// callback converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceFormat {
    /// Device sample rate in Hz (nominal; the real clock may drift).
    pub sample_rate: u32,
    /// Device channel count (1..=[`MAX_CHANNELS`]).
    pub channels: u16,
    /// Typical number of sample frames per callback, if known. Only a
    /// hint for sizing the latency target: callbacks may carry any count.
    pub buffer_frames: Option<u32>,
}

impl DeviceFormat {
    /// A device format without a buffer-size hint.
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        DeviceFormat {
            sample_rate,
            channels,
            buffer_frames: None,
        }
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), AudioError> {
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&self.sample_rate) {
            return Err(AudioError::UnsupportedConfig {
                reason: format!(
                    "device sample rate {} Hz (must be {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE})",
                    self.sample_rate
                ),
            });
        }
        check_channels("device", self.channels)?;
        if self
            .buffer_frames
            .is_some_and(|b| b == 0 || b > self.sample_rate)
        {
            return Err(AudioError::UnsupportedConfig {
                reason: "device buffer size must be 1 frame .. 1 s".to_owned(),
            });
        }
        Ok(())
    }

    /// The buffer-size hint as a duration (10 ms when unknown).
    pub fn buffer_duration(&self) -> Duration {
        match self.buffer_frames {
            Some(frames) => {
                Duration::from_secs_f64(f64::from(frames) / f64::from(self.sample_rate))
            }
            None => Duration::from_millis(10),
        }
    }
}

/// The engine's and the device's channel counts must be
/// 1..=[`MAX_CHANNELS`]; `what` names which one is checked.
fn check_channels(what: &str, channels: u16) -> Result<(), AudioError> {
    if channels == 0 || usize::from(channels) > MAX_CHANNELS {
        return Err(AudioError::UnsupportedConfig {
            reason: format!("{what} channel count {channels} (must be 1..={MAX_CHANNELS})"),
        });
    }
    Ok(())
}

/// `x.round()` (half away from zero) as an integer, for `|x| <= 2^31`
/// (the callers clamp first), without a libm call: truncate, then step
/// away from zero when the dropped fraction is at least one half. `x -
/// trunc(x)` is exact in `f32`. NaN gives 0.
#[inline(always)]
fn round_f32(x: f32) -> i32 {
    let t = x as i32;
    let frac = x - t as f32;
    t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)
}

/// [`round_f32`] for `f64` (`|x| <= 2^31`).
#[inline(always)]
fn round_f64(x: f64) -> i64 {
    let t = x as i64;
    let frac = x - t as f64;
    t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
}

/// A sample type a device may use. Conversion goes through `f32` in
/// [-1.0, 1.0]; it is a pure function (no allocation, no lock).
pub trait DeviceSample: Copy + Send + 'static {
    /// The value that means silence.
    const SILENCE: Self;
    /// Converts to `f32` in [-1.0, 1.0].
    fn to_f32(self) -> f32;
    /// Converts from `f32`, clamping to the type's range.
    fn from_f32(value: f32) -> Self;
}

impl DeviceSample for f32 {
    const SILENCE: Self = 0.0;
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f32(value: f32) -> Self {
        value.clamp(-1.0, 1.0)
    }
}

impl DeviceSample for i16 {
    const SILENCE: Self = 0;
    #[inline]
    fn to_f32(self) -> f32 {
        f32::from(self) / 32768.0
    }
    #[inline]
    fn from_f32(value: f32) -> Self {
        // Same result as `(value * 32768.0).round().clamp(..) as i16`
        // (round half away from zero; NaN becomes 0) for every input, but
        // without `round`, which is a libm call on baseline x86-64.
        round_f32((value * 32768.0).clamp(-32768.0, 32767.0)) as i16
    }
}

impl DeviceSample for i32 {
    const SILENCE: Self = 0;
    #[inline]
    fn to_f32(self) -> f32 {
        (f64::from(self) / 2_147_483_648.0) as f32
    }
    #[inline]
    fn from_f32(value: f32) -> Self {
        round_f64((f64::from(value) * 2_147_483_648.0).clamp(-2_147_483_648.0, 2_147_483_647.0))
            as i32
    }
}

impl DeviceSample for u16 {
    const SILENCE: Self = 32768;
    #[inline]
    fn to_f32(self) -> f32 {
        (f32::from(self) - 32768.0) / 32768.0
    }
    #[inline]
    fn from_f32(value: f32) -> Self {
        round_f32((value * 32768.0 + 32768.0).clamp(0.0, 65535.0)) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes() {
        let c = StreamConfig::new(48_000, 1, FrameDuration::Ms20);
        assert_eq!(c.samples_per_frame(), 960);
        let c = StreamConfig::new(44_100, 2, FrameDuration::Ms10);
        assert_eq!(c.frames_per_frame(), 441);
        assert_eq!(c.samples_per_frame(), 882);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_configs_are_errors() {
        for (rate, ch) in [
            (22_050, 1),
            (7_000, 1),
            (48_000, 0),
            (48_000, 9),
            (400_000, 1),
        ] {
            let c = StreamConfig::new(rate, ch, FrameDuration::Ms20);
            assert!(matches!(
                c.validate(),
                Err(AudioError::UnsupportedConfig { .. })
            ));
        }
        assert!(DeviceFormat::new(22_050, 2).validate().is_ok());
        assert!(DeviceFormat::new(1_000, 2).validate().is_err());
    }

    #[test]
    fn sample_conversions_round_trip() {
        for v in [-32768i16, -1, 0, 1, 12345, 32767] {
            assert_eq!(i16::from_f32(v.to_f32()), v);
            let as_f = v.to_f32();
            assert_eq!(i16::from_f32(i32::from_f32(as_f).to_f32()), v);
            assert_eq!(i16::from_f32(u16::from_f32(as_f).to_f32()), v);
        }
        assert_eq!(i16::from_f32(2.0), 32767);
        assert_eq!(i16::from_f32(-2.0), -32768);
        assert_eq!(i16::from_f32(f32::NAN), 0);
        assert_eq!(u16::SILENCE.to_f32(), 0.0);
    }

    /// The inline rounding gives what `round()` gave, bit for bit.
    #[test]
    fn conversions_match_libm_rounding() {
        let old_i16 = |v: f32| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
        let old_u16 = |v: f32| (v * 32768.0 + 32768.0).round().clamp(0.0, 65535.0) as u16;
        let old_i32 = |v: f32| {
            (f64::from(v) * 2_147_483_648.0)
                .round()
                .clamp(-2_147_483_648.0, 2_147_483_647.0) as i32
        };
        let check = |v: f32| {
            assert_eq!(i16::from_f32(v), old_i16(v), "i16 {v:e}");
            assert_eq!(u16::from_f32(v), old_u16(v), "u16 {v:e}");
            assert_eq!(i32::from_f32(v), old_i32(v), "i32 {v:e}");
        };
        // Every sample value, exact halves and their neighbours.
        for n in -70_000i32..=70_000 {
            let x = n as f32 / 2.0;
            for y in [
                x,
                f32::from_bits(x.to_bits() + 1),
                f32::from_bits(x.to_bits().saturating_sub(1)),
            ] {
                check(y / 32768.0);
            }
        }
        // Just below one half of a sample (where `x + 0.5` would round up).
        check(0.499_999_97 / 32768.0);
        check(-0.499_999_97 / 32768.0);
        // A sweep over bit patterns: tiny, huge, infinities, NaNs.
        let mut bits = 0u32;
        loop {
            check(f32::from_bits(bits));
            match bits.checked_add(65_537) {
                Some(b) => bits = b,
                None => break,
            }
        }
        for v in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::MAX,
            f32::MIN,
        ] {
            check(v);
        }
    }
}
