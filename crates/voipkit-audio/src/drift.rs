//! Clock-drift absorption: a controller that watches the ring fill level
//! and returns a tiny rate correction for the resampler.
//!
//! The device consumes (playout) or produces (capture) at its own clock,
//! which is never exactly the nominal rate the media thread runs at. Left
//! alone, a 1 % difference grows the ring by 6 s in 10 minutes, or empties
//! it in a second. The controller holds the *average* fill at a target:
//!
//! - The fill is sampled once per callback. It is a sawtooth (the media
//!   thread adds whole frames, the device takes whole buffers), and
//!   sampling it at the callback rate aliases that sawtooth down to low
//!   beat frequencies, so it first goes through two cascaded first-order
//!   low-pass stages (time constant `smoothing` each).
//! - A PI law turns the smoothed error into a correction: proportional gain
//!   `2ζω`, integral gain `ω²` (critically damped, ζ = 1, ω the loop
//!   bandwidth). The integral converges to the drift itself, so the
//!   steady-state error is zero. Both terms are clamped to
//!   `max_correction` (anti-windup).
//! - Gain scheduling: a fast loop (`acquisition_bandwidth`, light
//!   smoothing) learns the drift quickly at start, so a 1 % drift costs
//!   only ~10 ms of fill excursion; it then relaxes (time constant
//!   `acquisition_time`) into a slow loop (`bandwidth`, heavy smoothing)
//!   whose correction barely moves with the fill's sawtooth (the pitch
//!   wobble stays around 100 ppm peak to peak for 20 ms frames against
//!   10 ms device buffers, versus ~2000 ppm for the fast loop). If the
//!   smoothed error ever exceeds `reacquire_threshold` (the drift itself
//!   changed, e.g. a route change), the fast loop comes back.
//!
//! Sign convention: a fill above target gives a positive correction, and
//! the caller turns a positive correction into *more input consumed per
//! output* (playout drains faster, capture produces fewer engine samples).
//!
//! Pure arithmetic, no allocation, no clock: time comes in as `dt`.

use crate::AudioError;

/// Tuning of the [`DriftController`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriftConfig {
    /// Tracking loop bandwidth ω in rad/s. Larger follows drift faster
    /// (smaller latency excursions) but passes more fill jitter into the
    /// pitch.
    pub bandwidth: f64,
    /// Tracking time constant, in seconds, of each of the two low-pass
    /// stages on the measured fill.
    pub smoothing: f64,
    /// Acquisition loop bandwidth (rad/s), used at start.
    pub acquisition_bandwidth: f64,
    /// Acquisition smoothing time constant (s).
    pub acquisition_smoothing: f64,
    /// Time constant (s) of the move from acquisition to tracking.
    pub acquisition_time: f64,
    /// Smoothed error (s) that sends the tracking loop back to acquisition.
    pub reacquire_threshold: f64,
    /// Largest rate correction, as a fraction (0.02 = ±2 %).
    pub max_correction: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl DriftConfig {
    /// The default settings (what [`Default`] gives), usable in `const`
    /// items: `DriftConfig { max_correction: 0.0, ..DriftConfig::DEFAULT }`
    /// is a controller that never corrects.
    pub const DEFAULT: DriftConfig = DriftConfig {
        bandwidth: 0.2,
        smoothing: 0.8,
        acquisition_bandwidth: 1.0,
        acquisition_smoothing: 0.1,
        acquisition_time: 12.0,
        reacquire_threshold: 0.010,
        max_correction: 0.02,
    };

    /// Checks the values are finite and in a sensible range.
    pub fn validate(&self) -> Result<(), AudioError> {
        let in_range = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
        let ok = in_range(self.bandwidth, 1e-6, 20.0)
            && in_range(self.acquisition_bandwidth, 1e-6, 20.0)
            && in_range(self.smoothing, 0.0, 30.0)
            && in_range(self.acquisition_smoothing, 0.0, 30.0)
            && in_range(self.acquisition_time, 0.0, 3600.0)
            && in_range(self.reacquire_threshold, 0.0, 10.0)
            && self.max_correction.is_finite()
            && self.max_correction >= 0.0
            && self.max_correction <= 0.1;
        if ok {
            Ok(())
        } else {
            Err(AudioError::UnsupportedConfig {
                reason: format!("drift controller settings out of range: {self:?}"),
            })
        }
    }
}

/// Holds a ring's average fill level at a target by a small rate
/// correction (see the module doc for the law).
#[derive(Clone, Debug)]
pub struct DriftController {
    config: DriftConfig,
    target: f64,
    stage1: f64,
    stage2: f64,
    primed: bool,
    /// Seconds since acquisition (re)started.
    acquisition_age: f64,
    /// Integral term, already multiplied by its gain (a rate fraction).
    integral: f64,
    correction: f64,
}

impl DriftController {
    /// A controller holding the fill at `target` seconds.
    pub fn new(config: DriftConfig, target: f64) -> Self {
        DriftController {
            config,
            target,
            stage1: target,
            stage2: target,
            primed: false,
            acquisition_age: 0.0,
            integral: 0.0,
            correction: 0.0,
        }
    }

    /// The fill level held, in seconds.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// Moves the fill level held (e.g. the device turned out to use bigger
    /// buffers); the smoothed measurement and the learnt drift are kept.
    pub fn set_target(&mut self, target: f64) {
        if target.is_finite() && target >= 0.0 {
            self.target = target;
        }
    }

    /// The current correction (fraction; 0.001 = +1000 ppm).
    pub fn correction(&self) -> f64 {
        self.correction
    }

    /// True while the fast acquisition loop dominates (blend above 5 %).
    pub fn acquiring(&self) -> bool {
        self.config.acquisition_time > 0.0
            && (-self.acquisition_age / self.config.acquisition_time).exp() >= 0.05
    }

    /// The smoothed fill level, in seconds.
    pub fn smoothed_fill(&self) -> f64 {
        self.stage2
    }

    /// Starts measuring afresh (after an underrun and re-priming), keeping
    /// the learnt drift (the integral) so the loop does not relearn it.
    pub fn restart(&mut self) {
        self.primed = false;
        self.correction = self.integral;
    }

    /// Feeds one measurement: `fill` seconds buffered, `dt` seconds of
    /// device time since the previous one. Returns the new correction.
    pub fn update(&mut self, fill: f64, dt: f64) -> f64 {
        if !fill.is_finite() || !dt.is_finite() || dt <= 0.0 {
            return self.correction;
        }
        if !self.primed {
            // Start the filter at the target rather than at this one
            // sample of the sawtooth, so the first correction is not a
            // jump of up to ±2 %.
            self.stage1 = self.target;
            self.stage2 = self.target;
            self.primed = true;
        }
        let c = &self.config;
        let blend = if c.acquisition_time > 0.0 {
            (-self.acquisition_age / c.acquisition_time).exp()
        } else {
            0.0
        };
        self.acquisition_age += dt;
        let omega = c.bandwidth + (c.acquisition_bandwidth - c.bandwidth) * blend;
        let smoothing = c.smoothing + (c.acquisition_smoothing - c.smoothing) * blend;
        let alpha = if smoothing > 0.0 {
            1.0 - (-dt / smoothing).exp()
        } else {
            1.0
        };
        self.stage1 += alpha * (fill - self.stage1);
        self.stage2 += alpha * (self.stage1 - self.stage2);
        let error = self.stage2 - self.target;
        if blend < 0.05 && error.abs() > c.reacquire_threshold {
            self.acquisition_age = 0.0;
        }
        let limit = self.config.max_correction;
        let proportional = 2.0 * omega * error;
        self.integral = (self.integral + omega * omega * error * dt).clamp(-limit, limit);
        self.correction = (proportional + self.integral).clamp(-limit, limit);
        self.correction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring between a producer at rate 1 and a consumer at rate
    /// `1 + drift` (continuous model, 10 ms steps).
    fn simulate(drift: f64, seconds: f64) -> (f64, f64, f64) {
        let mut c = DriftController::new(DriftConfig::default(), 0.04);
        let dt = 0.01;
        let mut fill = 0.04;
        let (mut lo, mut hi) = (fill, fill);
        let steps = (seconds / dt) as usize;
        for _ in 0..steps {
            let corr = c.correction();
            fill += dt - dt * (1.0 + drift) * (1.0 + corr);
            c.update(fill, dt);
            lo = lo.min(fill);
            hi = hi.max(fill);
        }
        (fill, lo, hi)
    }

    #[test]
    fn absorbs_one_percent_both_ways() {
        for drift in [0.01, -0.01, 0.0001] {
            let (fill, lo, hi) = simulate(drift, 120.0);
            assert!((fill - 0.04).abs() < 0.0005, "{drift}: {fill}");
            assert!(lo > 0.02 && hi < 0.06, "{drift}: {lo}..{hi}");
        }
    }

    #[test]
    fn garbage_input_is_ignored() {
        let mut c = DriftController::new(DriftConfig::default(), 0.04);
        assert_eq!(c.update(f64::NAN, 0.01), 0.0);
        assert_eq!(c.update(0.05, 0.0), 0.0);
        assert_eq!(c.update(0.05, f64::INFINITY), 0.0);
        let big = c.update(10.0, 1.0);
        assert!(big <= 0.02 + 1e-12);
    }

    #[test]
    fn config_validation() {
        assert!(DriftConfig::default().validate().is_ok());
        let bad = DriftConfig {
            bandwidth: f64::NAN,
            ..DriftConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
