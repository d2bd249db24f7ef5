//! WSOLA-style time stretching: remove (accelerate) or insert (preemptive
//! expand) one pitch period of decoded audio with a cross-fade, the way
//! NetEq's accelerate / preemptive-expand operations do.
//!
//! The lag is the one whose segments correlate best (normalized
//! cross-correlation of `x[0..L]` and `x[L..2L]` on a mono mix, searched on a
//! decimated signal and refined at full rate). Periodic (voiced) or quiet
//! audio stretches without audible damage; noisy loud audio is left alone
//! unless the caller insists.

/// Result of a lag search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Lag {
    /// Lag in samples per channel.
    pub lag: usize,
    /// Normalized correlation at that lag (-1..=1).
    pub corr: f32,
    /// Mean square of the mono mix over the searched region.
    pub power: f32,
}

/// Mean square below which audio counts as quiet (about -44 dBFS).
pub(crate) const QUIET_POWER: f32 = 200.0 * 200.0;

fn mono(pcm: &[i16], ch: usize, i: usize) -> f32 {
    let mut s = 0.0;
    for c in 0..ch {
        s += f32::from(pcm.get(i * ch + c).copied().unwrap_or(0));
    }
    s / ch as f32
}

fn corr_at(pcm: &[i16], ch: usize, lag: usize, step: usize) -> (f32, f32) {
    let (mut xy, mut xx, mut yy) = (0.0f32, 0.0f32, 0.0f32);
    if ch == 1 {
        // Fast path: plain slices.
        let a = pcm.get(..lag).unwrap_or_default();
        let b = pcm.get(lag..2 * lag).unwrap_or_default();
        for (&x, &y) in a.iter().step_by(step).zip(b.iter().step_by(step)) {
            let (x, y) = (f32::from(x), f32::from(y));
            xy += x * y;
            xx += x * x;
            yy += y * y;
        }
    } else {
        let mut i = 0;
        while i < lag {
            let a = mono(pcm, ch, i);
            let b = mono(pcm, ch, i + lag);
            xy += a * b;
            xx += a * a;
            yy += b * b;
            i += step;
        }
    }
    let n = (lag / step).max(1) as f32;
    let c = if xx > 0.0 && yy > 0.0 {
        xy / (xx * yy).sqrt()
    } else {
        0.0
    };
    (c, (xx + yy) / (2.0 * n))
}

/// Normalized correlation of `x[0..lag]` and `x[lag..2lag]`.
pub(crate) fn correlation(pcm: &[i16], ch: usize, lag: usize) -> f32 {
    if lag == 0 || pcm.len() < 2 * lag * ch {
        return 0.0;
    }
    corr_at(pcm, ch, lag, 1).0
}

/// Normalized correlation of `x[0..fade]` and `x[drop..drop + fade]`
/// (mono mix), 0 if `pcm` is too short.
pub(crate) fn correlation_span(pcm: &[i16], ch: usize, drop: usize, fade: usize) -> f32 {
    if fade == 0 || pcm.len() < (drop + fade) * ch {
        return 0.0;
    }
    let (mut xy, mut xx, mut yy) = (0.0f32, 0.0f32, 0.0f32);
    for i in 0..fade {
        let (a, b) = (mono(pcm, ch, i), mono(pcm, ch, i + drop));
        xy += a * b;
        xx += a * a;
        yy += b * b;
    }
    if xx > 0.0 && yy > 0.0 {
        xy / (xx * yy).sqrt()
    } else {
        0.0
    }
}

/// Mean square of the mono mix of the first `n` frames.
pub(crate) fn power(pcm: &[i16], ch: usize, n: usize) -> f32 {
    let n = n.min(pcm.len() / ch.max(1));
    if n == 0 {
        return 0.0;
    }
    let mut e = 0.0;
    for i in 0..n {
        let v = mono(pcm, ch, i);
        e += v * v;
    }
    e / n as f32
}

/// Find the best lag in `lo..=hi` (samples per channel); `pcm` must hold at
/// least `2 * hi` frames. `step` is the decimation of the coarse search.
pub(crate) fn best_lag(pcm: &[i16], ch: usize, lo: usize, hi: usize, step: usize) -> Option<Lag> {
    if lo == 0 || hi < lo || pcm.len() < 2 * hi * ch {
        return None;
    }
    let step = step.max(1);
    let mut best = Lag {
        lag: lo,
        corr: f32::MIN,
        power: 0.0,
    };
    let mut lag = lo;
    while lag <= hi {
        let (c, p) = corr_at(pcm, ch, lag, step);
        if c > best.corr {
            best = Lag {
                lag,
                corr: c,
                power: p,
            };
        }
        lag += step;
    }
    if step > 1 {
        let from = best.lag.saturating_sub(step).max(lo);
        let to = (best.lag + step).min(hi);
        best.corr = f32::MIN;
        for lag in from..=to {
            let (c, p) = corr_at(pcm, ch, lag, 1);
            if c > best.corr {
                best = Lag {
                    lag,
                    corr: c,
                    power: p,
                };
            }
        }
    }
    Some(best)
}

/// Remove `lag` frames from the start of `pcm[start..]`: the first `lag`
/// frames become a cross-fade from `x[0..lag]` into `x[lag..2lag]`, and the
/// rest moves up. The vector shrinks by `lag * ch`.
pub(crate) fn accelerate(pcm: &mut Vec<i16>, start: usize, ch: usize, lag: usize) -> bool {
    splice(pcm, start, ch, lag, lag, false)
}

/// Remove `drop` frames after the start of `pcm[start..]`, with a
/// cross-fade of `fade` frames: the first `fade` frames become a fade from
/// `x[0..fade]` into `x[drop..drop + fade]`, then `x[drop + fade..]`
/// follows. Linear gains suit correlated segments (a pitch period apart);
/// `equal_power` (sine/cosine) gains keep the loudness of uncorrelated
/// ones (noise, a splice shorter than a period) instead of dipping by
/// 3 dB in the middle. The vector shrinks by `drop * ch`.
pub(crate) fn splice(
    pcm: &mut Vec<i16>,
    start: usize,
    ch: usize,
    drop: usize,
    fade: usize,
    equal_power: bool,
) -> bool {
    let (n, f) = (drop * ch, fade * ch);
    if pcm.len() < start + n + f || drop == 0 || fade == 0 {
        return false;
    }
    for i in 0..fade {
        let w = (i as f32 + 0.5) / fade as f32;
        let (ga, gb) = if equal_power {
            let phase = w * std::f32::consts::FRAC_PI_2;
            (phase.cos(), phase.sin())
        } else {
            (1.0 - w, w)
        };
        for c in 0..ch {
            let a = start + i * ch + c;
            let b = a + n;
            let va = f32::from(pcm.get(a).copied().unwrap_or(0));
            let vb = f32::from(pcm.get(b).copied().unwrap_or(0));
            if let Some(d) = pcm.get_mut(a) {
                *d = (va * ga + vb * gb).round().clamp(-32768.0, 32767.0) as i16;
            }
        }
    }
    let len = pcm.len();
    pcm.copy_within(start + n + f..len, start + f);
    pcm.truncate(len - n);
    true
}

/// Insert `lag` frames after the first `lag` frames of `pcm[start..]`: a
/// cross-fade from `x[lag..2lag]` back into `x[0..lag]`, so the signal
/// repeats one period. The vector grows by `lag * ch` (the caller reserves
/// the capacity, so this does not allocate).
pub(crate) fn expand(pcm: &mut Vec<i16>, start: usize, ch: usize, lag: usize) -> bool {
    let n = lag * ch;
    if pcm.len() < start + 2 * n || lag == 0 || pcm.capacity() < pcm.len() + n {
        return false;
    }
    let len = pcm.len();
    pcm.resize(len + n, 0);
    pcm.copy_within(start + n..len, start + 2 * n);
    // Now x[lag..2lag] sits at start + 2n.., x[0..lag] at start...
    for i in 0..lag {
        let w = (i as f32 + 0.5) / lag as f32;
        for c in 0..ch {
            let from = start + 2 * n + i * ch + c; // x[lag + i]
            let to = start + i * ch + c; // x[i]
            let va = f32::from(pcm.get(from).copied().unwrap_or(0));
            let vb = f32::from(pcm.get(to).copied().unwrap_or(0));
            if let Some(d) = pcm.get_mut(start + n + i * ch + c) {
                *d = (va * (1.0 - w) + vb * w).round() as i16;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, period: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * i as f64 / period).sin()) as i16)
            .collect()
    }

    #[test]
    fn finds_the_period() {
        let x = tone(2000, 160.0);
        let l = best_lag(&x, 1, 120, 720, 4).unwrap();
        assert_eq!(l.lag % 160, 0, "{l:?}");
        assert!(l.corr > 0.99);
        assert!(best_lag(&x[..100], 1, 120, 720, 4).is_none());
    }

    #[test]
    fn accelerate_and_expand_keep_the_waveform_smooth() {
        let x = tone(2000, 160.0);
        let mut v = x.clone();
        v.reserve(1000);
        assert!(accelerate(&mut v, 0, 1, 160));
        assert_eq!(v.len(), 2000 - 160);
        // Removing one exact period leaves the same waveform.
        for (a, b) in v.iter().zip(x.iter()) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 2);
        }
        let mut v = x.clone();
        v.reserve(1000);
        assert!(expand(&mut v, 0, 1, 160));
        assert_eq!(v.len(), 2000 + 160);
        for (a, b) in v.iter().zip(x.iter()) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 2);
        }
        // Stereo, with an offset.
        let st: Vec<i16> = x.iter().flat_map(|&s| [s, -s]).collect();
        let mut v = st.clone();
        v.reserve(2000);
        assert!(expand(&mut v, 20, 2, 160));
        assert_eq!(v.len(), st.len() + 320);
        assert!(accelerate(&mut v, 20, 2, 160));
        assert_eq!(v.len(), st.len());
        for (a, b) in v.iter().zip(st.iter()) {
            assert!((i32::from(*a) - i32::from(*b)).abs() <= 2);
        }
        let mut short = vec![0i16; 10];
        assert!(!accelerate(&mut short, 0, 1, 160));
        assert!(!expand(&mut short, 0, 1, 160));
    }

    #[test]
    fn splice_removes_less_than_a_period_smoothly() {
        // Drop 33 frames with a 20-frame fade: the output is x[0..20]
        // faded into x[33..53], then x[53..] unchanged.
        let x: Vec<i16> = (0..400).map(|i| (i * 10) as i16).collect();
        for equal_power in [false, true] {
            let mut v = x.clone();
            assert!(splice(&mut v, 0, 1, 33, 20, equal_power));
            assert_eq!(v.len(), 400 - 33);
            assert_eq!(&v[20..], &x[53..]);
            // Monotonic ramp in, the fade stays between its two sources
            // (linear) or a little above (equal power, for uncorrelated
            // input).
            for i in 0..20 {
                assert!(
                    v[i] >= x[i] && v[i] <= (f32::from(x[i + 33]) * 1.42) as i16,
                    "{i}"
                );
            }
            // Equal power keeps the level of uncorrelated noise.
            let mut seed = 1u32;
            let noise: Vec<i16> = (0..4000)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    ((seed >> 16) as i16) / 4
                })
                .collect();
            let mut v = noise.clone();
            assert!(splice(&mut v, 0, 1, 100, 2000, equal_power));
            let power =
                |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64;
            let ratio = power(&v[500..1500]) / power(&noise[500..1500]);
            if equal_power {
                assert!((0.85..1.15).contains(&ratio), "{ratio}");
            } else {
                assert!(ratio < 0.75, "{ratio}");
            }
        }
        let mut short = vec![0i16; 10];
        assert!(!splice(&mut short, 0, 1, 8, 8, true));
    }
}
