//! G.711 u-law and A-law, table driven, with Appendix-I-style concealment.
//!
//! The tables are computed at compile time from the ITU-T G.191 reference
//! algorithm (`alaw_compress`/`ulaw_compress`/`*_expand` of the STL). u-law
//! encoding depends only on the 14 most significant bits of the input and
//! A-law only on the 12 most significant, so the encode tables have 16384
//! and 4096 entries; decoding is a 256-entry table.

use std::time::Duration;

use crate::{CodecError, Decoder, Encoder, Result};

/// G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Law {
    /// u-law (PCMU, RTP payload type 0).
    Mu,
    /// A-law (PCMA, RTP payload type 8).
    A,
}

/// G.711 sample rate (and RTP clock rate).
const RATE: u32 = 8000;

const fn ulaw_compress_ref(x: i16) -> u8 {
    let mut absno: i32 = if x < 0 {
        ((!x) as i32 >> 2) + 33
    } else {
        (x as i32 >> 2) + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    let mut i = absno >> 6;
    let mut segno = 1;
    while i != 0 {
        segno += 1;
        i >>= 1;
    }
    let high = 8 - segno;
    let low = 0x0F - ((absno >> segno) & 0x0F);
    let mut out = (high << 4) | low;
    if x >= 0 {
        out |= 0x80;
    }
    out as u8
}

const fn ulaw_expand_ref(code: u8) -> i16 {
    let sign: i32 = if code < 0x80 { -1 } else { 1 };
    let mantissa = !(code as i32);
    let exponent = (mantissa >> 4) & 0x07;
    let segment = exponent + 1;
    let mantissa = mantissa & 0x0F;
    let step = 4 << segment;
    (sign * ((0x80 << exponent) + step * mantissa + step / 2 - 4 * 33)) as i16
}

const fn alaw_compress_ref(x: i16) -> u8 {
    let mut ix: i32 = if x < 0 {
        (!x) as i32 >> 4
    } else {
        x as i32 >> 4
    };
    if ix > 15 {
        let mut iexp = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            iexp += 1;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    (ix ^ 0x55) as u8
}

const fn alaw_expand_ref(code: u8) -> i16 {
    let ix = (code as i32 ^ 0x55) & 0x7F;
    let iexp = ix >> 4;
    let mut mant = ix & 0x0F;
    if iexp > 0 {
        mant += 16;
    }
    mant = (mant << 4) + 8;
    if iexp > 1 {
        mant <<= iexp - 1;
    }
    if code > 127 {
        mant as i16
    } else {
        -mant as i16
    }
}

// Indexing in a const block is checked at compile time: an out-of-bounds
// index fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const ULAW_ENCODE: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        // Index is the 14-bit two's complement value x >> 2.
        let v = ((i as i32) << 18) >> 16; // sign-extend 14 bits, scale by 4
        t[i] = ulaw_compress_ref(v as i16);
        i += 1;
    }
    t
};

// Indexing in a const block is checked at compile time: an out-of-bounds
// index fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const ALAW_ENCODE: [u8; 4096] = {
    let mut t = [0u8; 4096];
    let mut i = 0;
    while i < 4096 {
        let v = ((i as i32) << 20) >> 16; // sign-extend 12 bits, scale by 16
        t[i] = alaw_compress_ref(v as i16);
        i += 1;
    }
    t
};

// Indexing in a const block is checked at compile time: an out-of-bounds
// index fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const ULAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_expand_ref(i as u8);
        i += 1;
    }
    t
};

// Indexing in a const block is checked at compile time: an out-of-bounds
// index fails the build, it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
const ALAW_DECODE: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_expand_ref(i as u8);
        i += 1;
    }
    t
};

impl G711Law {
    /// Encode one 16-bit linear sample.
    #[inline]
    pub fn encode_sample(self, x: i16) -> u8 {
        match self {
            G711Law::Mu => ULAW_ENCODE
                .get(((x >> 2) as u16 & 0x3FFF) as usize)
                .copied()
                .unwrap_or(0),
            G711Law::A => ALAW_ENCODE
                .get(((x >> 4) as u16 & 0x0FFF) as usize)
                .copied()
                .unwrap_or(0),
        }
    }

    /// Decode one code to a 16-bit linear sample.
    #[inline]
    pub fn decode_sample(self, code: u8) -> i16 {
        let table = match self {
            G711Law::Mu => &ULAW_DECODE,
            G711Law::A => &ALAW_DECODE,
        };
        table.get(code as usize).copied().unwrap_or(0)
    }

    /// The RTP static payload type (0 for u-law, 8 for A-law).
    pub fn payload_type(self) -> u8 {
        match self {
            G711Law::Mu => 0,
            G711Law::A => 8,
        }
    }
}

/// G.711 encoder: 8 kHz mono, one byte per sample.
#[derive(Debug, Clone)]
pub struct G711Encoder {
    law: G711Law,
    frame_samples: usize,
}

impl G711Encoder {
    /// An encoder of `law` taking frames of `frame` duration (a multiple of
    /// 1 ms up to 120 ms; 10 and 20 ms are usual).
    pub fn new(law: G711Law, frame: Duration) -> Result<Self> {
        let ms = frame.as_millis();
        if !frame.subsec_nanos().is_multiple_of(1_000_000) || ms == 0 || ms > 120 {
            return Err(CodecError::InvalidConfig("G.711 frame must be 1..=120 ms"));
        }
        Ok(Self {
            law,
            frame_samples: (ms as usize) * (RATE as usize / 1000),
        })
    }

    /// The companding law.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl Encoder for G711Encoder {
    fn sample_rate(&self) -> u32 {
        RATE
    }
    fn channels(&self) -> usize {
        1
    }
    fn rtp_clock_rate(&self) -> u32 {
        RATE
    }
    fn frame_samples(&self) -> usize {
        self.frame_samples
    }
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize> {
        if pcm.len() != self.frame_samples {
            return Err(CodecError::InvalidFrameSize {
                samples: pcm.len(),
                channels: 1,
            });
        }
        if out.len() < pcm.len() {
            return Err(CodecError::BufferTooSmall {
                needed: pcm.len(),
                available: out.len(),
            });
        }
        for (o, &x) in out.iter_mut().zip(pcm) {
            *o = self.law.encode_sample(x);
        }
        Ok(pcm.len())
    }
    fn algorithmic_delay(&self) -> Duration {
        Duration::ZERO
    }
}

/// History kept for concealment: 48.75 ms at 8 kHz (as in G.711 Appendix I).
const HIST: usize = 390;
/// Pitch search range: 5..15 ms (200..66 Hz).
const PITCH_MIN: usize = 40;
const PITCH_MAX: usize = 120;
/// Correlation window for the pitch search (20 ms).
const CORR_WIN: usize = 160;
/// Samples per 10 ms.
const TEN_MS: usize = 80;

/// G.711 decoder: 8 kHz mono, with packet-loss concealment in the style of
/// G.711 Appendix I.
///
/// Concealment repeats the last pitch period of the history (1 period for
/// the first 10 ms, then 2, then 3, to avoid a buzzy sound), smooths each
/// loop junction with a quarter-period overlap-add, attenuates by 20% per
/// 10 ms after the first 10 ms (silence after 60 ms), and on the first good
/// packet cross-fades from the synthetic continuation into the real signal
/// over a quarter period plus 4 ms per extra 10 ms of erasure (at most 10 ms).
#[derive(Debug, Clone)]
pub struct G711Decoder {
    law: G711Law,
    hist: [i16; HIST],
    /// Concealment state; `erased == 0` means not in an erasure.
    erased: usize,
    pitch: usize,
    periods: usize,
    /// Loop position (index into the last `periods * pitch` history samples).
    pos: usize,
    /// Frozen history at the start of the erasure.
    frozen: [i16; HIST],
}

impl G711Decoder {
    /// A decoder of `law`.
    pub fn new(law: G711Law) -> Self {
        Self {
            law,
            hist: [0; HIST],
            erased: 0,
            pitch: PITCH_MAX,
            periods: 1,
            pos: 0,
            frozen: [0; HIST],
        }
    }

    /// The companding law.
    pub fn law(&self) -> G711Law {
        self.law
    }

    fn push_history(&mut self, samples: &[i16]) {
        let n = samples.len();
        if n >= HIST {
            let start = n - HIST;
            if let Some(src) = samples.get(start..) {
                self.hist.copy_from_slice(src);
            }
        } else {
            self.hist.copy_within(n.., 0);
            if let Some(dst) = self.hist.get_mut(HIST - n..) {
                dst.copy_from_slice(samples);
            }
        }
    }

    fn estimate_pitch(h: &[i16; HIST]) -> usize {
        let x = |i: usize| f64::from(h.get(i).copied().unwrap_or(0));
        let base = HIST - CORR_WIN;
        let mut best = PITCH_MAX;
        let mut best_score = f64::MIN;
        let mut energy_ref = 0.0;
        for i in 0..CORR_WIN {
            energy_ref += x(base + i) * x(base + i);
        }
        if energy_ref <= 0.0 {
            return PITCH_MAX;
        }
        for lag in PITCH_MIN..=PITCH_MAX {
            let mut c = 0.0;
            let mut e = 0.0;
            for i in 0..CORR_WIN {
                let a = x(base + i);
                let b = x(base + i - lag);
                c += a * b;
                e += b * b;
            }
            let score = if e > 0.0 {
                c / (e * energy_ref).sqrt()
            } else {
                0.0
            };
            if score > best_score {
                best_score = score;
                best = lag;
            }
        }
        best
    }

    /// One synthetic sample at the current loop position, advancing it.
    fn synth_next(&mut self) -> f64 {
        let len = self.pitch * self.periods;
        let q = (self.pitch / 4).max(1);
        let f = |i: usize| f64::from(self.frozen.get(i).copied().unwrap_or(0));
        let start = HIST - len;
        let mut v = f(start + self.pos);
        if self.pos + q >= len {
            // Blend the loop's end toward the samples that precede its
            // start, so that the wrap to `start` is seamless.
            let k = self.pos + q - len; // 0..q
            let w = (k as f64 + 1.0) / (q as f64 + 1.0);
            let before = f((start + self.pos).saturating_sub(len));
            v = v * (1.0 - w) + before * w;
        }
        self.pos += 1;
        if self.pos >= len {
            self.pos = 0;
        }
        // Attenuation: none for 10 ms, then 20% per 10 ms.
        let n = self.erased;
        let gain = if n < TEN_MS {
            1.0
        } else {
            (1.0 - 0.2 * (n - TEN_MS) as f64 / TEN_MS as f64).max(0.0)
        };
        self.erased += 1;
        // Use more periods as the erasure grows.
        let want = if self.erased < TEN_MS {
            1
        } else if self.erased < 2 * TEN_MS {
            2
        } else {
            3
        };
        if want != self.periods && self.pitch * want < HIST - self.pitch / 4 {
            // The last `pitch` samples are the tail of every loop length,
            // so the position maps by adding whole periods.
            self.pos += self.pitch * (want - self.periods);
            self.periods = want;
        }
        v * gain
    }
}

impl Decoder for G711Decoder {
    fn sample_rate(&self) -> u32 {
        RATE
    }
    fn channels(&self) -> usize {
        1
    }
    fn packet_samples(&self, payload: &[u8]) -> Result<usize> {
        if payload.is_empty() {
            return Err(CodecError::InvalidPacket("empty G.711 payload"));
        }
        Ok(payload.len())
    }
    fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> Result<usize> {
        if payload.is_empty() {
            return Err(CodecError::InvalidPacket("empty G.711 payload"));
        }
        if out.len() < payload.len() {
            return Err(CodecError::BufferTooSmall {
                needed: payload.len(),
                available: out.len(),
            });
        }
        let out = out.get_mut(..payload.len()).unwrap_or_default();
        for (o, &c) in out.iter_mut().zip(payload) {
            *o = self.law.decode_sample(c);
        }
        if self.erased > 0 {
            // Cross-fade from the synthetic continuation into the real signal.
            let extra_10ms = (self.erased / TEN_MS).saturating_sub(1);
            let len = (self.pitch / 4 + extra_10ms * 32)
                .min(TEN_MS)
                .min(out.len());
            for (i, o) in out.iter_mut().take(len).enumerate() {
                let s = self.synth_next();
                let w = (i as f64 + 1.0) / (len as f64 + 1.0);
                *o = (s * (1.0 - w) + f64::from(*o) * w)
                    .round()
                    .clamp(-32768.0, 32767.0) as i16;
            }
            self.erased = 0;
        }
        self.push_history(out);
        Ok(payload.len())
    }
    fn conceal(&mut self, out: &mut [i16]) -> Result<usize> {
        if self.erased == 0 {
            self.frozen = self.hist;
            self.pitch = Self::estimate_pitch(&self.hist);
            self.periods = 1;
            self.pos = 0;
        }
        for o in out.iter_mut() {
            *o = self.synth_next().round().clamp(-32768.0, 32767.0) as i16;
        }
        self.push_history(out);
        Ok(out.len())
    }
    fn reset(&mut self) {
        *self = Self::new(self.law);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_table_matches_reference_for_all_inputs() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(G711Law::Mu.encode_sample(x), ulaw_compress_ref(x), "x={x}");
        }
        for c in 0..=255u8 {
            assert_eq!(G711Law::Mu.decode_sample(c), ulaw_expand_ref(c), "c={c}");
        }
    }

    #[test]
    fn alaw_table_matches_reference_for_all_inputs() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(G711Law::A.encode_sample(x), alaw_compress_ref(x), "x={x}");
        }
        for c in 0..=255u8 {
            assert_eq!(G711Law::A.decode_sample(c), alaw_expand_ref(c), "c={c}");
        }
    }

    /// Known values of G.711 (Table 1a/1b and common knowledge).
    #[test]
    fn known_code_points() {
        assert_eq!(G711Law::Mu.encode_sample(0), 0xFF);
        assert_eq!(G711Law::Mu.encode_sample(-1), 0x7F);
        assert_eq!(G711Law::Mu.decode_sample(0xFF), 0);
        assert_eq!(G711Law::Mu.decode_sample(0x80), 32124);
        assert_eq!(G711Law::Mu.decode_sample(0x00), -32124);
        assert_eq!(G711Law::A.encode_sample(0), 0xD5);
        assert_eq!(G711Law::A.encode_sample(-1), 0x55);
        assert_eq!(G711Law::A.decode_sample(0xD5), 8);
        assert_eq!(G711Law::A.decode_sample(0x55), -8);
        assert_eq!(G711Law::A.decode_sample(0xAA), 32256);
        assert_eq!(G711Law::A.decode_sample(0x2A), -32256);
    }

    /// Decoding then re-encoding every code gives the code back (the
    /// decision levels put each reconstruction value inside its own cell),
    /// except u-law's negative zero (0x7F decodes to 0, which encodes 0xFF).
    #[test]
    fn decode_encode_round_trip() {
        for law in [G711Law::Mu, G711Law::A] {
            for c in 0..=255u8 {
                let x = law.decode_sample(c);
                let back = law.encode_sample(x);
                if law == G711Law::Mu && c == 0x7F {
                    assert_eq!(back, 0xFF);
                } else {
                    assert_eq!(back, c, "{law:?} code {c:#x} -> {x}");
                }
            }
        }
    }

    #[test]
    fn encoder_and_decoder_frames() {
        let mut enc = G711Encoder::new(G711Law::A, Duration::from_millis(20)).unwrap();
        let mut dec = G711Decoder::new(G711Law::A);
        assert_eq!(enc.frame_samples(), 160);
        let pcm: Vec<i16> = (0..160)
            .map(|i| ((i as f64 * 0.2).sin() * 8000.0) as i16)
            .collect();
        let mut pkt = [0u8; 160];
        assert_eq!(enc.encode(&pcm, &mut pkt).unwrap(), 160);
        let mut out = [0i16; 160];
        assert_eq!(dec.decode(&pkt, &mut out).unwrap(), 160);
        for (a, b) in pcm.iter().zip(out.iter()) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 256);
        }
        assert!(enc.encode(&pcm[..100], &mut pkt).is_err());
        assert!(enc.encode(&pcm, &mut pkt[..10]).is_err());
        assert!(dec.decode(&[], &mut out).is_err());
        assert!(dec.decode(&pkt, &mut out[..10]).is_err());
        assert!(G711Encoder::new(G711Law::Mu, Duration::from_micros(500)).is_err());
    }

    fn tone(n: usize, period: f64, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * i as f64 / period).sin()) as i16)
            .collect()
    }

    #[test]
    fn concealment_continues_pitch_then_fades() {
        let mut dec = G711Decoder::new(G711Law::Mu);
        let mut enc = G711Encoder::new(G711Law::Mu, Duration::from_millis(20)).unwrap();
        // 100 Hz periodic signal (80 samples per period).
        let sig = tone(160 * 10, 80.0, 10000.0);
        let mut pkt = [0u8; 160];
        let mut out = [0i16; 160];
        for f in sig.chunks(160) {
            enc.encode(f, &mut pkt).unwrap();
            dec.decode(&pkt, &mut out).unwrap();
        }
        assert_eq!(G711Decoder::estimate_pitch(&dec.hist), 80);
        // First 10 ms of concealment continue the waveform closely.
        let mut plc = [0i16; 80];
        dec.conceal(&mut plc).unwrap();
        let expect = tone(160 * 10 + 80, 80.0, 10000.0);
        let mut err = 0.0;
        for (i, &p) in plc.iter().enumerate() {
            err += (f64::from(p) - f64::from(expect[1600 + i])).abs();
        }
        assert!(err / 80.0 < 400.0, "mean abs error {}", err / 80.0);
        // After 60 ms it is silent.
        let mut more = [0i16; 480];
        dec.conceal(&mut more).unwrap();
        assert!(more[400..].iter().all(|&s| s == 0));
        // Resume: the first good frame fades in without a jump.
        enc.encode(&sig[..160], &mut pkt).unwrap();
        dec.decode(&pkt, &mut out).unwrap();
        assert!(out[0].abs() < 2000, "{}", out[0]);
    }
}
