//! Shared test helpers: a sine source, a rough spectral-purity meter and
//! a WAV file writer.
#![allow(dead_code)]

use std::f64::consts::PI;
use std::path::Path;

/// One event of [`two_clocks`], at its time in seconds.
pub enum Tick {
    /// The media thread's frame.
    Media(f64),
    /// A device callback.
    Device(f64),
}

/// Two clocks merged on virtual time (no sleeps): the media thread's
/// frames every `media_period` seconds and the device's callbacks every
/// `device_period`, event `n` of each at `n` periods, handed to `on` in
/// time order until both clocks reach `until`. At equal times the device
/// goes first if `device_first`.
pub fn two_clocks(
    media_period: f64,
    device_period: f64,
    until: f64,
    device_first: bool,
    mut on: impl FnMut(Tick),
) {
    let (mut media_n, mut device_n) = (0u64, 0u64);
    loop {
        let t_media = media_n as f64 * media_period;
        let t_device = device_n as f64 * device_period;
        if t_media.min(t_device) >= until {
            break;
        }
        let device_next = if device_first {
            t_device <= t_media
        } else {
            t_device < t_media
        };
        if device_next {
            on(Tick::Device(t_device));
            device_n += 1;
        } else {
            on(Tick::Media(t_media));
            media_n += 1;
        }
    }
}

/// A sample type the WAV writer takes: 16-bit PCM (`i16`) or 32-bit
/// float (`f32`).
pub trait WavSample: hound::Sample {
    const BITS: u16;
    const FORMAT: hound::SampleFormat;
}

impl WavSample for i16 {
    const BITS: u16 = 16;
    const FORMAT: hound::SampleFormat = hound::SampleFormat::Int;
}

impl WavSample for f32 {
    const BITS: u16 = 32;
    const FORMAT: hound::SampleFormat = hound::SampleFormat::Float;
}

/// Writes `samples` (interleaved) to a new WAV file at `path`.
pub fn write_wav<S: WavSample>(
    path: &Path,
    channels: u16,
    sample_rate: u32,
    samples: impl IntoIterator<Item = S>,
) {
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: S::BITS,
        sample_format: S::FORMAT,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// A phase-continuous sine generator (a rotating phasor: two multiplies
/// per sample instead of a `sin` call, renormalised every 1024 samples).
pub struct Sine {
    re: f64,
    im: f64,
    rot_re: f64,
    rot_im: f64,
    amplitude: f64,
    count: u32,
}

impl Sine {
    pub fn new(freq: f64, rate: f64, amplitude: f64) -> Self {
        let w = 2.0 * PI * freq / rate;
        Sine {
            re: 1.0,
            im: 0.0,
            rot_re: w.cos(),
            rot_im: w.sin(),
            amplitude,
            count: 0,
        }
    }

    pub fn next(&mut self) -> f64 {
        let v = self.im * self.amplitude;
        let re = self.re * self.rot_re - self.im * self.rot_im;
        let im = self.re * self.rot_im + self.im * self.rot_re;
        self.re = re;
        self.im = im;
        self.count += 1;
        if self.count == 1024 {
            self.count = 0;
            let norm = (re * re + im * im).sqrt();
            self.re /= norm;
            self.im /= norm;
        }
        v
    }

    pub fn fill_i16(&mut self, out: &mut [i16], channels: usize) {
        for frame in out.chunks_exact_mut(channels) {
            let v = (self.next() * 32767.0) as i16;
            for s in frame {
                *s = v;
            }
        }
    }

    pub fn fill_f32(&mut self, out: &mut [f32], channels: usize) {
        for frame in out.chunks_exact_mut(channels) {
            let v = self.next() as f32;
            for s in frame {
                *s = v;
            }
        }
    }
}

fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    assert!(n.is_power_of_two());
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -2.0 * PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (wr, wi) = ((ang * k as f64).cos(), (ang * k as f64).sin());
                let (a, b) = (start + k, start + k + len / 2);
                let (xr, xi) = (re[b] * wr - im[b] * wi, re[b] * wi + im[b] * wr);
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
        len <<= 1;
    }
}

/// Spectral purity of a (supposedly) single sine: power within ±`main`
/// bins of the peak over power everywhere else (DC excluded), in dB, with
/// a Blackman-Harris window (sidelobes < -92 dB). Also returns the peak
/// frequency as a fraction of the sample rate.
pub fn purity_db(signal: &[f64]) -> (f64, f64) {
    let n = signal.len();
    let mut re: Vec<f64> = signal
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let t = 2.0 * PI * i as f64 / (n - 1) as f64;
            let w =
                0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos();
            x * w
        })
        .collect();
    let mut im = vec![0.0; n];
    fft(&mut re, &mut im);
    let power: Vec<f64> = (0..n / 2).map(|k| re[k] * re[k] + im[k] * im[k]).collect();
    let peak = (5..n / 2)
        .max_by(|&a, &b| power[a].partial_cmp(&power[b]).unwrap())
        .unwrap();
    let main = 6;
    let signal_power: f64 = power[peak.saturating_sub(main)..(peak + main + 1).min(n / 2)]
        .iter()
        .sum();
    let total: f64 = power[5..].iter().sum();
    let rest = (total - signal_power).max(1e-30);
    (10.0 * (signal_power / rest).log10(), peak as f64 / n as f64)
}
