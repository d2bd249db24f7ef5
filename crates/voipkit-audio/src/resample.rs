//! The real-time side's fractional resampler.
//!
//! Its step (input frames per output frame) may change between any two
//! output frames, which is what drift absorption needs: the step is the
//! nominal rate ratio times `1 + correction`, a correction of at most a
//! few percent that moves slowly. Two kernels, chosen by
//! [`FractionalResampler::for_rates`]:
//!
//! - Equal nominal rates (only drift to absorb): 4-point cubic Hermite
//!   (Catmull-Rom). Transparent there (the fractional position sweeps
//!   slowly; a 1 kHz tone keeps its distortion below -85 dB) and cheap.
//! - Different rates (8 kHz G.711 on a 48 kHz card, 48 kHz Opus on a
//!   44.1 kHz card): a Kaiser-windowed sinc (beta 7, about -70 dB stop
//!   band) of 48 taps in the lower rate's terms, tabulated in 128 phases
//!   with linear interpolation between phases, cutoff at 0.9 of the lower
//!   Nyquist frequency: anti-aliasing when downsampling, anti-imaging when
//!   upsampling. About 100 multiply-adds per output sample and channel.
//!
//! Tables and history are allocated when the resampler is created, never
//! afterwards. `tests/resampler_quality.rs` measures both kernels.

use crate::format::MAX_CHANNELS;

/// Taps of the sinc kernel when upsampling (scaled by the ratio when
/// downsampling, so the cutoff follows the output's Nyquist frequency).
const SINC_TAPS: usize = 48;
/// Most taps (downsampling 48 kHz to 8 kHz needs 288).
const MAX_SINC_TAPS: usize = 512;
/// Tabulated phases per input sample.
const SINC_PHASES: usize = 128;
/// Kaiser window beta.
const KAISER_BETA: f64 = 7.0;
/// Cutoff as a fraction of the lower Nyquist frequency.
const CUTOFF: f64 = 0.9;

/// Resamples interleaved `f32` frames by a (slowly) variable ratio.
///
/// Pull use (playout): `while r.needs_input() { r.push_input(next) }` then
/// `r.emit(out)`. Push use (capture): `r.push_input(x)` then
/// `while !r.needs_input() { r.emit(out) }`.
#[derive(Clone, Debug)]
pub struct FractionalResampler {
    channels: usize,
    kernel: Kernel,
    /// Position of the next output frame, in input frames after the
    /// sample just before the kernel's centre.
    position: f64,
    step: f64,
}

#[derive(Clone, Debug)]
enum Kernel {
    /// Per channel, the four most recent input samples, oldest first.
    Cubic([[f32; 4]; MAX_CHANNELS]),
    Sinc(Sinc),
}

#[derive(Clone, Debug)]
struct Sinc {
    taps: usize,
    /// `(SINC_PHASES + 1) * taps` coefficients; row `p` is the kernel for
    /// fractional position `p / SINC_PHASES`.
    table: Box<[f32]>,
    /// Per channel, `2 * taps` samples: every sample is stored twice
    /// (`i` and `i + taps`) so the window is one contiguous slice.
    history: Box<[f32]>,
    /// Slot of the newest sample.
    newest: usize,
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

/// The cubic kernel at step 1 with the position on an input frame: each
/// output frame is the input frame pushed two frames earlier (`cubic(h, 0)`
/// is `h[1]` exactly), so copy with a two-frame delay and keep the last
/// four inputs as the history. One input per output.
#[inline]
fn copy_delayed(h: &mut [f32; 4], input: &[f32], output: &mut [f32]) -> (usize, usize) {
    let n = input.len().min(output.len());
    let (input, output) = (
        input.get(..n).unwrap_or_default(),
        output.get_mut(..n).unwrap_or_default(),
    );
    // Output k is the history's [2 + k] for k < 2, else input[k - 2].
    let lead = n.min(2);
    if let (Some(dst), Some(src)) = (output.get_mut(..lead), h.get(2..2 + lead)) {
        dst.copy_from_slice(src);
    }
    if let (Some(dst), Some(src)) = (output.get_mut(lead..), input.get(..n - lead)) {
        dst.copy_from_slice(src);
    }
    // New history: the last four of (history, input).
    if n >= 4 {
        if let Some(src) = input.get(n - 4..) {
            h.copy_from_slice(src);
        }
    } else {
        for &x in input {
            *h = shift(*h, x);
        }
    }
    (n, n)
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        let f = half / f64::from(k);
        term *= f * f;
        sum += term;
        if term < sum * 1e-15 {
            break;
        }
    }
    sum
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f32 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        if let ([x0, x1, x2, x3], [y0, y1, y2, y3]) = (x, y) {
            acc = [
                acc[0] + x0 * y0,
                acc[1] + x1 * y1,
                acc[2] + x2 * y2,
                acc[3] + x3 * y3,
            ];
        }
    }
    let [s0, s1, s2, s3] = acc;
    (s0 + s1) + (s2 + s3) + tail
}

impl Sinc {
    /// A kernel for input frames per output frame `step`.
    fn new(channels: usize, step: f64) -> Self {
        let scale = step.max(1.0);
        let taps = ((SINC_TAPS as f64 * scale).ceil() as usize)
            .next_multiple_of(2)
            .clamp(4, MAX_SINC_TAPS);
        let cutoff = CUTOFF / scale;
        let half = taps as f64 / 2.0;
        let i0_beta = bessel_i0(KAISER_BETA);
        let mut table = vec![0.0f32; (SINC_PHASES + 1) * taps].into_boxed_slice();
        for (p, row) in table.chunks_exact_mut(taps).enumerate() {
            let frac = p as f64 / SINC_PHASES as f64;
            let mut raw = [0.0f64; MAX_SINC_TAPS];
            let mut sum = 0.0;
            for (k, slot) in raw.iter_mut().take(taps).enumerate() {
                let x = half - 1.0 + frac - k as f64;
                let u = x / half;
                let window = if u.abs() >= 1.0 {
                    0.0
                } else {
                    bessel_i0(KAISER_BETA * (1.0 - u * u).sqrt()) / i0_beta
                };
                let arg = std::f64::consts::PI * cutoff * x;
                let sinc = if arg.abs() < 1e-12 {
                    1.0
                } else {
                    arg.sin() / arg
                };
                *slot = cutoff * sinc * window;
                sum += *slot;
            }
            // Unity gain at DC for every phase.
            for (c, &r) in row.iter_mut().zip(raw.iter()) {
                *c = (r / sum) as f32;
            }
        }
        Sinc {
            taps,
            table,
            history: vec![0.0; channels * 2 * taps].into_boxed_slice(),
            newest: 0,
        }
    }

    fn reset(&mut self) {
        self.history.fill(0.0);
        self.newest = 0;
    }

    #[inline]
    fn advance(&mut self) {
        self.newest += 1;
        if self.newest == self.taps {
            self.newest = 0;
        }
    }

    #[inline]
    fn store(&mut self, channel: usize, x: f32) {
        let base = channel * 2 * self.taps + self.newest;
        if let Some(slot) = self.history.get_mut(base) {
            *slot = x;
        }
        if let Some(slot) = self.history.get_mut(base + self.taps) {
            *slot = x;
        }
    }

    /// Interpolated output of `channel` at fractional position `t`.
    #[inline]
    fn output(&self, channel: usize, t: f64) -> f32 {
        let scaled = t * SINC_PHASES as f64;
        let phase = (scaled as usize).min(SINC_PHASES - 1);
        let a = (scaled - phase as f64) as f32;
        let taps = self.taps;
        let start = channel * 2 * taps + self.newest + 1;
        let window = self.history.get(start..start + taps).unwrap_or_default();
        let row0 = self
            .table
            .get(phase * taps..(phase + 1) * taps)
            .unwrap_or_default();
        let row1 = self
            .table
            .get((phase + 1) * taps..(phase + 2) * taps)
            .unwrap_or_default();
        let y0 = dot(window, row0);
        let y1 = dot(window, row1);
        y0 + a * (y1 - y0)
    }
}

impl FractionalResampler {
    /// A cubic resampler for `channels` interleaved channels (clamped to
    /// 1..=[`MAX_CHANNELS`]) with step `step` (clamped to 1/8..=8). Meant
    /// for steps near 1 (drift only); see [`for_rates`](Self::for_rates).
    pub fn new(channels: usize, step: f64) -> Self {
        let mut r = FractionalResampler {
            channels: channels.clamp(1, MAX_CHANNELS),
            kernel: Kernel::Cubic([[0.0; 4]; MAX_CHANNELS]),
            position: 1.0,
            step: 1.0,
        };
        r.set_step(step);
        r
    }

    /// A resampler from `from_rate` to `to_rate` (Hz): cubic when the
    /// rates are equal, windowed sinc otherwise (see the module doc).
    /// Allocates its tables here.
    pub fn for_rates(channels: usize, from_rate: u32, to_rate: u32) -> Self {
        let step = f64::from(from_rate) / f64::from(to_rate.max(1));
        let mut r = Self::new(channels, step);
        if from_rate != to_rate {
            r.kernel = Kernel::Sinc(Sinc::new(r.channels, r.step));
        }
        r
    }

    /// Channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// True if this resampler uses the windowed-sinc kernel.
    pub fn is_sinc(&self) -> bool {
        matches!(self.kernel, Kernel::Sinc(_))
    }

    /// Input frames of delay the kernel adds: 2 for the cubic kernel (it
    /// interpolates between the second and third newest of its four input
    /// frames, so at a unity step it is a pure two-frame delay), half the
    /// taps for the sinc kernel (its centre). Measured by pushing an
    /// impulse through (`delay_matches_an_impulse` below).
    pub fn delay_frames(&self) -> usize {
        match &self.kernel {
            Kernel::Cubic(_) => 2,
            Kernel::Sinc(s) => s.taps / 2,
        }
    }

    /// [`delay_frames`](Self::delay_frames) as time, at `input_rate` Hz.
    pub fn delay(&self, input_rate: u32) -> std::time::Duration {
        std::time::Duration::from_nanos(
            self.delay_frames() as u64 * 1_000_000_000 / u64::from(input_rate.max(1)),
        )
    }

    /// Input frames consumed per output frame.
    pub fn step(&self) -> f64 {
        self.step
    }

    /// Sets the step (input frames per output frame), clamped to 1/8..=8;
    /// takes effect from the next output frame, without a discontinuity.
    /// (The sinc kernel keeps the cutoff chosen at creation.)
    pub fn set_step(&mut self, step: f64) {
        self.step = if step.is_finite() {
            step.clamp(0.125, 8.0)
        } else {
            1.0
        };
    }

    /// Forgets all history (as after silence), keeping the step.
    pub fn reset(&mut self) {
        match &mut self.kernel {
            Kernel::Cubic(h) => *h = [[0.0; 4]; MAX_CHANNELS],
            Kernel::Sinc(s) => s.reset(),
        }
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
        match &mut self.kernel {
            Kernel::Cubic(history) => {
                for (i, h) in history.iter_mut().take(self.channels).enumerate() {
                    *h = shift(*h, frame.get(i).copied().unwrap_or(0.0));
                }
            }
            Kernel::Sinc(s) => {
                s.advance();
                for c in 0..self.channels {
                    s.store(c, frame.get(c).copied().unwrap_or(0.0));
                }
            }
        }
        self.position -= 1.0;
    }

    /// [`push_input`](Self::push_input) for one channel.
    #[inline]
    pub fn push_mono(&mut self, x: f32) {
        match &mut self.kernel {
            Kernel::Cubic([h, ..]) => *h = shift(*h, x),
            Kernel::Sinc(s) => {
                s.advance();
                s.store(0, x);
            }
        }
        self.position -= 1.0;
    }

    /// Writes one output frame into the first `channels` values of `out`
    /// and advances by the step. Call only when `!needs_input()`.
    #[inline]
    pub fn emit(&mut self, out: &mut [f32]) {
        let t = self.position.clamp(0.0, 1.0);
        match &self.kernel {
            Kernel::Cubic(history) => {
                for (o, h) in out.iter_mut().zip(history.iter().take(self.channels)) {
                    *o = cubic(*h, t as f32);
                }
            }
            Kernel::Sinc(s) => {
                for (c, o) in out.iter_mut().take(self.channels).enumerate() {
                    *o = s.output(c, t);
                }
            }
        }
        self.position += self.step;
    }

    /// [`emit`](Self::emit) for one channel.
    #[inline]
    pub fn emit_mono(&mut self) -> f32 {
        let t = self.position.clamp(0.0, 1.0);
        self.position += self.step;
        match &self.kernel {
            Kernel::Cubic([h, ..]) => cubic(*h, t as f32),
            Kernel::Sinc(s) => s.output(0, t),
        }
    }

    /// Block processing of the first channel (for one-channel work; the
    /// other channels' state is left alone): takes input frames from
    /// `input` as they are needed and writes output frames to `output`,
    /// until `output` is full or the next output frame needs an input
    /// frame that `input` does not have. Returns `(consumed, produced)`.
    ///
    /// Gives exactly what the same sequence of
    /// [`push_mono`](Self::push_mono) / [`emit_mono`](Self::emit_mono)
    /// calls would (pull use: `while needs_input() { push } emit`; push
    /// use: `push; while !needs_input() { emit }`), in a tight loop. When
    /// the step is exactly 1 and the position sits on an input frame (no
    /// drift correction, the resampler created at equal rates), the cubic
    /// kernel is a pure two-frame delay and this is a straight copy.
    pub fn process_mono(&mut self, input: &[f32], output: &mut [f32]) -> (usize, usize) {
        let step = self.step;
        match &mut self.kernel {
            Kernel::Cubic([h, ..]) => {
                if step == 1.0 && self.position == 1.0 {
                    return copy_delayed(h, input, output);
                }
                let mut hist = *h;
                let mut pos = self.position;
                let mut consumed = 0;
                let mut produced = 0;
                let mut inputs = input.iter();
                'out: for o in output.iter_mut() {
                    while pos >= 1.0 {
                        let Some(&x) = inputs.next() else {
                            break 'out;
                        };
                        hist = shift(hist, x);
                        consumed += 1;
                        pos -= 1.0;
                    }
                    *o = cubic(hist, pos.clamp(0.0, 1.0) as f32);
                    pos += step;
                    produced += 1;
                }
                *h = hist;
                self.position = pos;
                (consumed, produced)
            }
            Kernel::Sinc(_) => {
                let mut consumed = 0;
                let mut produced = 0;
                let mut inputs = input.iter();
                'out: for o in output.iter_mut() {
                    while self.needs_input() {
                        let Some(&x) = inputs.next() else {
                            break 'out;
                        };
                        self.push_mono(x);
                        consumed += 1;
                    }
                    *o = self.emit_mono();
                    produced += 1;
                }
                (consumed, produced)
            }
        }
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
    fn delay_matches_an_impulse() {
        for (from, to) in [
            (48_000, 48_000),
            (8_000, 8_000),
            (8_000, 48_000),
            (48_000, 8_000),
        ] {
            let mut r = FractionalResampler::for_rates(1, from, to);
            let mut input = vec![0.0f32; 2000];
            input[100] = 1.0;
            let mut out = Vec::new();
            r.process(&input, &mut out);
            // Where the output peaks, in input frames.
            let peak = out
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
                .unwrap();
            let at_input = peak as f64 * f64::from(from) / f64::from(to);
            let delay = at_input - 100.0;
            assert!(
                (delay - r.delay_frames() as f64).abs() <= f64::from(from) / f64::from(to),
                "{from}->{to}: measured {delay}, reported {}",
                r.delay_frames()
            );
        }
        assert_eq!(FractionalResampler::new(1, 1.0).delay_frames(), 2);
    }

    /// `process_mono` equals the sample-by-sample calls, in pull and push
    /// use, with the step changing between blocks, through the copy path
    /// and the interpolating path.
    #[test]
    fn block_processing_matches_per_sample() {
        let input: Vec<f32> = (0..5000)
            .map(|i| ((i as f32) * 0.0137).sin() * 0.7)
            .collect();
        for (from, to) in [(8_000u32, 8_000u32), (48_000, 44_100), (8_000, 48_000)] {
            let steps = [1.0, 1.0, 1.0 + 3e-4, 1.0 - 0.02, 1.0, 1.0 + 1e-9];
            // Pull: outputs in blocks of varying size.
            let mut a = FractionalResampler::for_rates(1, from, to);
            let mut b = a.clone();
            let nominal = a.step();
            let (mut ia, mut ib) = (0usize, 0usize);
            let (mut outa, mut outb) = (Vec::new(), Vec::new());
            for (k, block) in [1usize, 7, 160, 333, 2, 960, 41]
                .iter()
                .cycle()
                .take(40)
                .enumerate()
            {
                let step = nominal * steps[k % steps.len()];
                a.set_step(step);
                b.set_step(step);
                for _ in 0..*block {
                    while a.needs_input() && ia < input.len() {
                        a.push_mono(input[ia]);
                        ia += 1;
                    }
                    if a.needs_input() {
                        break;
                    }
                    outa.push(a.emit_mono());
                }
                let mut buf = vec![0.0f32; *block];
                let (c, p) = b.process_mono(&input[ib..], &mut buf);
                ib += c;
                outb.extend_from_slice(&buf[..p]);
            }
            assert_eq!(ia, ib, "{from}->{to} pull consumed");
            assert_eq!(outa, outb, "{from}->{to} pull output");
            // Push: inputs in blocks, outputs into a small buffer.
            let mut a = FractionalResampler::for_rates(1, from, to);
            let mut b = a.clone();
            let (mut outa, mut outb) = (Vec::new(), Vec::new());
            let mut pos = 0;
            for (k, block) in [160usize, 1, 441, 3, 480]
                .iter()
                .cycle()
                .take(30)
                .enumerate()
            {
                let step = nominal * steps[k % steps.len()];
                a.set_step(step);
                b.set_step(step);
                let chunk = &input[pos..(pos + block).min(input.len())];
                pos += chunk.len();
                for &x in chunk {
                    a.push_mono(x);
                    while !a.needs_input() {
                        outa.push(a.emit_mono());
                    }
                }
                let mut used = 0;
                loop {
                    let mut buf = [0.0f32; 64];
                    let (c, p) = b.process_mono(&chunk[used..], &mut buf);
                    used += c;
                    outb.extend_from_slice(&buf[..p]);
                    if p < buf.len() {
                        break;
                    }
                }
                assert_eq!(used, chunk.len());
            }
            assert_eq!(outa, outb, "{from}->{to} push output");
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
    fn sinc_keeps_dc_and_counts() {
        for (from, to) in [
            (8_000, 48_000),
            (48_000, 8_000),
            (48_000, 44_100),
            (16_000, 48_000),
        ] {
            let mut r = FractionalResampler::for_rates(2, from, to);
            assert!(r.is_sinc());
            let input = vec![0.25f32; from as usize * 2];
            let mut out = Vec::new();
            r.process(&input, &mut out);
            let frames = out.len() / 2;
            let expected = to as usize;
            assert!(frames.abs_diff(expected) <= 1, "{from}->{to}: {frames}");
            // The step response settles once the whole window holds input.
            let settled = 2 * (2 * r.delay_frames() * to as usize / from as usize + 8);
            assert!(
                out[settled..].iter().all(|&s| (s - 0.25).abs() < 1e-4),
                "{from}->{to}"
            );
        }
        assert!(!FractionalResampler::for_rates(1, 48_000, 48_000).is_sinc());
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
