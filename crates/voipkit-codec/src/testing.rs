//! Test signals shared by this crate's tests and the workspace's benches
//! and examples, so that each states its signal's parameters rather than
//! another copy of the generator. Not part of the API.

use std::f64::consts::PI;

/// A speech-like test signal: the harmonics (amplitude `1/h`) of a pitch
/// that glides sinusoidally, scaled by an envelope (syllables, pauses).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeechlikeSignal {
    /// Centre pitch in Hz.
    pub pitch_hz: f64,
    /// How far the pitch glides either side of the centre, in Hz.
    pub glide_hz: f64,
    /// How often the pitch glides up and down, in Hz.
    pub glide_rate_hz: f64,
    /// Harmonics summed (the fundamental is the first).
    pub harmonics: u32,
    /// Scale from the harmonics' sum to `i16` sample values.
    pub amplitude: f64,
}

impl SpeechlikeSignal {
    /// Five harmonics of a pitch gliding 130 ± 30 Hz (one glide up and
    /// down every 2 s): the voice of the codec bench and of the jitter
    /// buffer tests, each with its own envelope.
    pub const VOICE_130HZ: SpeechlikeSignal = SpeechlikeSignal {
        pitch_hz: 130.0,
        glide_hz: 30.0,
        glide_rate_hz: 0.5,
        harmonics: 5,
        amplitude: 6000.0,
    };

    /// `n` samples at `rate` Hz; `envelope(t)` scales the sample at `t`
    /// seconds (values past `i16`'s range saturate).
    pub fn samples(&self, rate: u32, n: usize, envelope: impl Fn(f64) -> f64) -> Vec<i16> {
        let rate = f64::from(rate);
        let mut phase = 0.0f64;
        (0..n)
            .map(|i| {
                let t = i as f64 / rate;
                let f0 = self.pitch_hz + self.glide_hz * (2.0 * PI * self.glide_rate_hz * t).sin();
                phase += 2.0 * PI * f0 / rate;
                let mut v = 0.0;
                for h in 1..=self.harmonics {
                    v += (phase * f64::from(h)).sin() / f64::from(h);
                }
                (v * self.amplitude * envelope(t)) as i16
            })
            .collect()
    }
}
