//! Rational polyphase resampler with a Kaiser-windowed-sinc low-pass.
//!
//! For a rate change `in -> out`, with `L/M = out/in` in lowest terms, the
//! signal is (conceptually) upsampled by `L`, low-pass filtered and
//! downsampled by `M`; only the needed polyphase branch is computed for each
//! output sample. The filter's stopband starts at the lower Nyquist frequency
//! and its passband ends at 85% of it (3.4 kHz for 8 kHz, 6.8 kHz for
//! 16 kHz, 18.7 kHz for 44.1 kHz), with about 70 dB stopband attenuation.
//! Frames whose duration is a whole multiple of `M / gcd` input samples
//! (every multiple of 10 ms for the usual rates) give an exact output
//! length: 441 samples at 44.1 kHz become 480 at 48 kHz, every time.

use std::time::Duration;

use crate::{CodecError, Result};

/// Stopband attenuation target in dB.
const ATTENUATION_DB: f64 = 70.0;
/// Passband edge as a fraction of the lower Nyquist frequency.
const PASSBAND: f64 = 0.85;
/// Input samples per channel processed per internal chunk.
const CHUNK: usize = 1024;

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// Dot product with eight independent accumulators, so the compiler can
/// vectorize it (a plain `sum()` of `f32` must stay sequential).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            if let (Some(p), Some(q), Some(s)) = (x.get(k), y.get(k), acc.get_mut(k)) {
                *s += p * q;
            }
        }
    }
    let mut tail = 0.0;
    for (p, q) in ra.iter().zip(rb) {
        tail += p * q;
    }
    acc.iter().sum::<f32>() + tail
}

/// Zeroth-order modified Bessel function of the first kind (series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= half / k as f64;
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// A streaming sample-rate converter for interleaved 16-bit PCM.
///
/// Construction allocates the filter and its buffers; [`Resampler::process`]
/// never allocates.
#[derive(Debug, Clone)]
pub struct Resampler {
    in_rate: u32,
    out_rate: u32,
    channels: usize,
    up: u64,
    down: u64,
    taps: usize,
    /// `up` phases of `taps` coefficients each, time-reversed per phase.
    coeffs: Vec<f32>,
    /// Per channel: `taps - 1` history samples then up to `CHUNK` new ones.
    bufs: Vec<Vec<f32>>,
    buf_len: usize,
    /// Position of the next output in the upsampled domain, relative to
    /// buffer index 0.
    next: u64,
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz for `channels`
    /// interleaved channels. Rates must be 1000..=384000 Hz and their ratio
    /// must reduce to a numerator of at most 1000 (true for all the usual
    /// rates: 8/11.025/16/22.05/24/32/44.1/48/88.2/96 kHz).
    pub fn new(in_rate: u32, out_rate: u32, channels: usize) -> Result<Self> {
        for r in [in_rate, out_rate] {
            if !(1000..=384_000).contains(&r) {
                return Err(CodecError::UnsupportedSampleRate(r));
            }
        }
        if channels == 0 || channels > 8 {
            return Err(CodecError::UnsupportedChannels(channels));
        }
        let g = gcd(u64::from(in_rate), u64::from(out_rate));
        let up = u64::from(out_rate) / g;
        let down = u64::from(in_rate) / g;
        if up > 1000 {
            return Err(CodecError::InvalidConfig(
                "resampling ratio too irregular (numerator > 1000)",
            ));
        }
        let ratio = f64::from(out_rate) / f64::from(in_rate);
        let nyq = 0.5 * ratio.min(1.0); // lower Nyquist, cycles per input sample
        let transition = nyq * (1.0 - PASSBAND);
        let cutoff = nyq * (1.0 + PASSBAND) / 2.0;
        let n = (ATTENUATION_DB - 8.0) / (2.285 * 2.0 * std::f64::consts::PI * transition);
        let mut taps = n.ceil() as usize;
        taps += taps % 2; // even
        let taps = taps.max(4);
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        let up_us = up as usize;
        let len = taps * up_us;
        let center = (len as f64 - 1.0) / 2.0;
        let i0_beta = bessel_i0(beta);
        let mut proto = vec![0f64; len];
        for (m, h) in proto.iter_mut().enumerate() {
            let t = (m as f64 - center) / up as f64; // in input samples
            let x = 2.0 * cutoff * t;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = 2.0 * (m as f64) / (len as f64 - 1.0) - 1.0;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            *h = 2.0 * cutoff * sinc * w;
        }
        // Phase p, tap k is proto[k * up + p]; store reversed so that the
        // dot product runs forward over the input window.
        let mut coeffs = vec![0f32; len];
        for p in 0..up_us {
            let mut sum = 0.0;
            for k in 0..taps {
                sum += proto.get(k * up_us + p).copied().unwrap_or(0.0);
            }
            let norm = if sum.abs() > 1e-9 { 1.0 / sum } else { 1.0 };
            for k in 0..taps {
                let v = proto.get(k * up_us + p).copied().unwrap_or(0.0) * norm;
                if let Some(c) = coeffs.get_mut(p * taps + (taps - 1 - k)) {
                    *c = v as f32;
                }
            }
        }
        let bufs = vec![vec![0f32; taps - 1 + CHUNK]; channels];
        Ok(Self {
            in_rate,
            out_rate,
            channels,
            up,
            down,
            taps,
            coeffs,
            bufs,
            buf_len: taps - 1,
            next: (taps as u64 - 1) * up,
        })
    }

    /// Input rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.in_rate
    }

    /// Output rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.out_rate
    }

    /// Channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Filter length in input samples.
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// The delay the filter adds (its group delay).
    pub fn latency(&self) -> Duration {
        if self.in_rate == self.out_rate {
            return Duration::ZERO;
        }
        let samples = (self.taps as f64 - 1.0) / 2.0;
        Duration::from_secs_f64(samples / f64::from(self.in_rate))
    }

    /// Output samples per channel that the next call with `input_len`
    /// samples per channel will produce.
    pub fn output_len(&self, input_len: usize) -> usize {
        if self.in_rate == self.out_rate {
            return input_len;
        }
        let end = (self.buf_len as u64 + input_len as u64) * self.up;
        if end <= self.next {
            0
        } else {
            (end - self.next).div_ceil(self.down) as usize
        }
    }

    /// Forget the signal history.
    pub fn reset(&mut self) {
        for b in &mut self.bufs {
            b.iter_mut().for_each(|s| *s = 0.0);
        }
        self.buf_len = self.taps - 1;
        self.next = (self.taps as u64 - 1) * self.up;
    }

    /// Resample interleaved `input` into `output`; returns output samples
    /// per channel written (see [`Resampler::output_len`]).
    pub fn process(&mut self, input: &[i16], output: &mut [i16]) -> Result<usize> {
        let ch = self.channels;
        if !input.len().is_multiple_of(ch) {
            return Err(CodecError::InvalidFrameSize {
                samples: input.len(),
                channels: ch,
            });
        }
        let frames_in = input.len() / ch;
        let total = self.output_len(frames_in);
        if output.len() < total * ch {
            return Err(CodecError::BufferTooSmall {
                needed: total * ch,
                available: output.len(),
            });
        }
        if self.in_rate == self.out_rate {
            if let Some(o) = output.get_mut(..input.len()) {
                o.copy_from_slice(input);
            }
            return Ok(frames_in);
        }
        let mut written = 0usize;
        for chunk in input.chunks(CHUNK * ch) {
            let n = chunk.len() / ch;
            // Append the chunk, deinterleaved.
            for (c, buf) in self.bufs.iter_mut().enumerate() {
                let dst = buf
                    .get_mut(self.buf_len..self.buf_len + n)
                    .unwrap_or_default();
                for (d, s) in dst.iter_mut().zip(chunk.iter().skip(c).step_by(ch)) {
                    *d = f32::from(*s);
                }
            }
            self.buf_len += n;
            let taps = self.taps;
            while self.next / self.up < self.buf_len as u64 {
                let i = (self.next / self.up) as usize;
                let p = (self.next % self.up) as usize;
                let coef = self
                    .coeffs
                    .get(p * taps..(p + 1) * taps)
                    .unwrap_or_default();
                let start = i + 1 - taps;
                for (c, buf) in self.bufs.iter().enumerate() {
                    let win = buf.get(start..=i).unwrap_or_default();
                    let acc = dot(coef, win);
                    if let Some(o) = output.get_mut(written * ch + c) {
                        *o = acc.round().clamp(-32768.0, 32767.0) as i16;
                    }
                }
                written += 1;
                self.next += self.down;
            }
            // Keep the last `taps - 1` samples as history.
            let shift = self.buf_len - (taps - 1);
            for buf in &mut self.bufs {
                buf.copy_within(shift..self.buf_len, 0);
            }
            self.buf_len = taps - 1;
            self.next -= shift as u64 * self.up;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f64, n: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    /// Amplitude of `freq` in `x` (single-bin DFT).
    fn amplitude(x: &[i16], rate: u32, freq: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in x.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate);
            re += f64::from(s) * ph.cos();
            im += f64::from(s) * ph.sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    }

    fn run(inr: u32, outr: u32, frame_ms: usize, input: &[i16]) -> Vec<i16> {
        let mut r = Resampler::new(inr, outr, 1).unwrap();
        let fin = inr as usize * frame_ms / 1000;
        let fout = outr as usize * frame_ms / 1000;
        let mut out = Vec::new();
        let mut buf = vec![0i16; fout + 2];
        for f in input.chunks(fin) {
            let n = r.process(f, &mut buf).unwrap();
            if f.len() == fin {
                assert_eq!(n, fout, "{inr}->{outr}");
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn exact_frame_lengths() {
        for (inr, outr) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (48_000, 8_000),
            (8_000, 48_000),
            (44_100, 16_000),
            (16_000, 44_100),
            (44_100, 8_000),
            (32_000, 48_000),
        ] {
            let input = tone(inr, 440.0, inr as usize, 5000.0);
            let out = run(inr, outr, 10, &input);
            assert_eq!(out.len(), outr as usize, "{inr}->{outr}");
        }
    }

    #[test]
    fn tone_survives() {
        for (inr, outr, f) in [
            (44_100, 48_000, 1000.0),
            (48_000, 44_100, 3000.0),
            (48_000, 8_000, 1000.0),
            (48_000, 16_000, 3000.0),
            (8_000, 48_000, 1000.0),
            (16_000, 48_000, 5000.0),
            (44_100, 8_000, 300.0),
        ] {
            let input = tone(inr, f, inr as usize, 10_000.0);
            let out = run(inr, outr, 20, &input);
            // Skip the filter's start-up.
            let a = amplitude(&out[outr as usize / 10..], outr, f);
            assert!(
                (a - 10_000.0).abs() < 10_000.0 * 0.06,
                "{inr}->{outr} {f} Hz: {a}"
            );
        }
    }

    #[test]
    fn aliasing_is_low() {
        // 6 kHz and 10 kHz are above 8 kHz's Nyquist: they must vanish, not
        // fold to 2 kHz / 2 kHz.
        for f in [6_000.0, 10_000.0] {
            let input = tone(48_000, f, 48_000, 20_000.0);
            let out = run(48_000, 8_000, 20, &input);
            let alias = amplitude(&out[800..], 8_000, 8_000.0 - f % 8_000.0);
            let total = (out[800..]
                .iter()
                .map(|&s| f64::from(s).powi(2))
                .sum::<f64>()
                / (out.len() - 800) as f64)
                .sqrt();
            assert!(alias < 20_000.0 * 0.001, "{f} Hz alias {alias}"); // < -60 dB
            assert!(total < 20_000.0 * 0.003, "{f} Hz residue {total}");
        }
        // Upsampling 8 kHz -> 48 kHz: the 1 kHz tone's image at 7 kHz is
        // removed.
        let input = tone(8_000, 1000.0, 8_000, 20_000.0);
        let out = run(8_000, 48_000, 20, &input);
        let image = amplitude(&out[4800..], 48_000, 7000.0);
        assert!(image < 20_000.0 * 0.001, "image {image}");
        // 44.1 -> 48: a 21 kHz tone (above 0.85 * 22.05k) is attenuated, not
        // folded.
        let input = tone(48_000, 23_000.0, 48_000, 20_000.0);
        let out = run(48_000, 44_100, 10, &input);
        let alias = amplitude(&out[4410..], 44_100, 44_100.0 - 23_000.0);
        assert!(alias < 20_000.0 * 0.001, "alias {alias}");
    }

    #[test]
    fn stereo_passthrough_and_errors() {
        let mut r = Resampler::new(48_000, 48_000, 2).unwrap();
        let input: Vec<i16> = (0..960).map(|i| i as i16).collect();
        let mut out = vec![0i16; 960];
        assert_eq!(r.process(&input, &mut out).unwrap(), 480);
        assert_eq!(out, input);
        assert_eq!(r.latency(), Duration::ZERO);
        assert!(r.process(&input[..3], &mut out).is_err());
        assert!(r.process(&input, &mut out[..10]).is_err());
        assert!(Resampler::new(100, 48_000, 1).is_err());
        assert!(Resampler::new(48_000, 48_000, 0).is_err());
        assert!(Resampler::new(48_000, 47_999, 1).is_err());

        // Stereo keeps channels apart.
        let mut r = Resampler::new(48_000, 16_000, 2).unwrap();
        let l = tone(48_000, 500.0, 9600, 8000.0);
        let inter: Vec<i16> = l.iter().flat_map(|&s| [s, 0]).collect();
        let mut out = vec![0i16; 3200 * 2 + 4];
        let n = r.process(&inter, &mut out).unwrap();
        assert_eq!(n, 3200);
        let right: Vec<i16> = out[..n * 2].iter().skip(1).step_by(2).copied().collect();
        assert!(right.iter().all(|&s| s == 0));
        let left: Vec<i16> = out[..n * 2].iter().step_by(2).copied().collect();
        assert!((amplitude(&left[400..], 16_000, 500.0) - 8000.0).abs() < 400.0);
        assert!(r.latency() > Duration::ZERO && r.latency() < Duration::from_millis(5));
    }
}
