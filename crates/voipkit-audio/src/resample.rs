//! A small fractional resampler for the real-time side.
//!
//! 4-point cubic Hermite (Catmull-Rom) interpolation with a step (input
//! frames per output frame) that may change between any two output frames,
//! which is what drift absorption needs: the step is the nominal rate ratio
//! times `1 + correction`, with a correction of a few hundred ppm that moves
//! slowly. State is a fixed array; nothing allocates.
//!
//! Quality: for voice band content it is transparent (a 1 kHz sine at
//! 48 kHz converted to 44.1 kHz keeps its distortion products below
//! -80 dB). It has no anti-aliasing filter, so content above the lower of
//! the two Nyquist frequencies folds back when downsampling: fine for
//! speech, not a mastering-grade converter. voipkit-codec's resampler is
//! the place for high-quality rate conversion of whole signals; this one
//! exists because the callback must vary the ratio continuously.

use crate::format::MAX_CHANNELS;

/// Resamples interleaved `f32` frames by a (slowly) variable ratio.
///
/// Pull use (playout): `while r.needs_input() { r.push_input(next) }` then
/// `r.emit(out)`. Push use (capture): `r.push_input(x)` then
/// `while !r.needs_input() { r.emit(out) }`.
#[derive(Clone, Debug)]
pub struct FractionalResampler {
    channels: usize,
    /// Per channel, the four most recent input samples, oldest first.
    history: [[f32; 4]; MAX_CHANNELS],
    /// Position of the next output frame, in input frames after the
    /// second-oldest history sample.
    position: f64,
    step: f64,
}

/// Catmull-Rom spline through `x1..x2` (tangents from `x0`, `x3`) at `t`.
#[inline(always)]
fn cubic([x0, x1, x2, x3]: [f32; 4], t: f32) -> f32 {
    let c1 = 0.5 * (x2 - x0);
    let c2 = x0 - 2.5 * x1 + 2.0 * x2 - 0.5 * x3;
    let c3 = 0.5 * (x3 - x0) + 1.5 * (x1 - x2);
    ((c3 * t + c2) * t + c1) * t + x1
}

#[inline(always)]
fn shift([_, a, b, c]: [f32; 4], x: f32) -> [f32; 4] {
    [a, b, c, x]
}

impl FractionalResampler {
    /// A resampler for `channels` interleaved channels (clamped to
    /// 1..=[`MAX_CHANNELS`]) with input/output step `step` (clamped to
    /// 1/8..=8).
    pub fn new(channels: usize, step: f64) -> Self {
        let mut r = FractionalResampler {
            channels: channels.clamp(1, MAX_CHANNELS),
            history: [[0.0; 4]; MAX_CHANNELS],
            position: 1.0,
            step: 1.0,
        };
        r.set_step(step);
        r
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Input frames consumed per output frame.
    pub fn step(&self) -> f64 {
        self.step
    }

    /// Sets the step (input frames per output frame), clamped to 1/8..=8;
    /// takes effect from the next output frame, without a discontinuity.
    pub fn set_step(&mut self, step: f64) {
        self.step = if step.is_finite() {
            step.clamp(0.125, 8.0)
        } else {
            1.0
        };
    }

    /// Forgets all history (as after silence), keeping the step.
    pub fn reset(&mut self) {
        self.history = [[0.0; 4]; MAX_CHANNELS];
        self.position = 1.0;
    }

    /// True when the next output frame needs another input frame first.
    #[inline]
    pub fn needs_input(&self) -> bool {
        self.position >= 1.0
    }

    /// Shifts in one input frame (its first `channels` values; missing
    /// values count as 0).
    #[inline]
    pub fn push_input(&mut self, frame: &[f32]) {
        for (i, h) in self.history.iter_mut().take(self.channels).enumerate() {
            *h = shift(*h, frame.get(i).copied().unwrap_or(0.0));
        }
        self.position -= 1.0;
    }

    /// [`push_input`](Self::push_input) for one channel.
    #[inline]
    pub fn push_mono(&mut self, x: f32) {
        let [h, ..] = &mut self.history;
        *h = shift(*h, x);
        self.position -= 1.0;
    }

    /// Writes one output frame into the first `channels` values of `out`
    /// and advances by the step. Call only when `!needs_input()`.
    #[inline]
    pub fn emit(&mut self, out: &mut [f32]) {
        let t = self.position.clamp(0.0, 1.0) as f32;
        for (o, h) in out.iter_mut().zip(self.history.iter().take(self.channels)) {
            *o = cubic(*h, t);
        }
        self.position += self.step;
    }

    /// [`emit`](Self::emit) for one channel.
    #[inline]
    pub fn emit_mono(&mut self) -> f32 {
        let t = self.position.clamp(0.0, 1.0) as f32;
        let [h, ..] = self.history;
        self.position += self.step;
        cubic(h, t)
    }

    /// Convenience for offline use (allocates): resamples a whole
    /// interleaved buffer, appending to `output`.
    pub fn process(&mut self, input: &[f32], output: &mut Vec<f32>) {
        let mut frame = [0.0f32; MAX_CHANNELS];
        for x in input.chunks_exact(self.channels) {
            self.push_input(x);
            while !self.needs_input() {
                self.emit(&mut frame);
                output.extend(frame.iter().take(self.channels));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unity_step_is_a_pure_delay() {
        let mut r = FractionalResampler::new(1, 1.0);
        let input: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let mut out = Vec::new();
        r.process(&input, &mut out);
        assert_eq!(out.len(), input.len());
        // Output lags by two input frames (it is read at history[1]).
        for i in 2..100 {
            assert!((out[i] - input[i - 2]).abs() < 1e-6, "{i}");
        }
    }

    #[test]
    fn ratio_sets_output_count() {
        let mut r = FractionalResampler::new(2, 48_000.0 / 44_100.0);
        let input = vec![0.25f32; 48_000 * 2];
        let mut out = Vec::new();
        r.process(&input, &mut out);
        let frames = out.len() / 2;
        assert!((44_099..=44_101).contains(&frames), "{frames}");
        assert!(out[200..].iter().all(|&s| (s - 0.25).abs() < 1e-6));
    }

    #[test]
    fn bad_steps_are_clamped() {
        let mut r = FractionalResampler::new(0, f64::NAN);
        assert_eq!(r.step(), 1.0);
        assert_eq!(r.channels(), 1);
        r.set_step(1e9);
        assert_eq!(r.step(), 8.0);
        r.set_step(-1.0);
        assert_eq!(r.step(), 0.125);
    }
}
