//! A simplified ITU-T G.107 E-model: from one-way delay, packet loss and
//! the codec's G.113 impairment values to an R factor and a MOS estimate.
//!
//! R = 93.2 - Id - Ie,eff (G.107 defaults for Ro - Is, advantage A = 0),
//! with the delay impairment in the widely used simplification of Cole and
//! Rosenbluth (2001) of G.107's Id for echo-free paths:
//! Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3), Ta in ms;
//! the effective equipment impairment of G.107 §7.5:
//! Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl), Ppl in percent;
//! and G.107 Annex B's R-to-MOS mapping.

use std::time::Duration;

/// A codec's E-model parameters (G.113 Appendix I).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor Ie.
    pub ie: f64,
    /// Packet-loss robustness factor Bpl.
    pub bpl: f64,
    /// Algorithmic delay (frame lookahead) added to the mouth-to-ear delay.
    pub lookahead: Duration,
}

impl CodecImpairment {
    /// G.711 with packet loss concealment (G.711 Appendix I): Ie 0, Bpl 25.1
    /// (G.113 Appendix I, Table I.3). voipkit's jitter buffer conceals loss.
    pub const G711_PLC: Self = Self {
        ie: 0.0,
        bpl: 25.1,
        lookahead: Duration::ZERO,
    };
    /// G.711 without concealment: Ie 0, Bpl 4.3 (G.113 Appendix I).
    pub const G711: Self = Self {
        ie: 0.0,
        bpl: 4.3,
        lookahead: Duration::ZERO,
    };
    /// Opus: PROVISIONAL. G.113 gives no narrowband-scale Ie/Bpl for Opus;
    /// until one is derived (P.833/P.834) we rate it like G.711 with PLC
    /// (Ie 0, Bpl 25.1), which under-rates Opus wideband, plus its 6.5 ms
    /// lookahead.
    pub const OPUS: Self = Self {
        ie: 0.0,
        bpl: 25.1,
        lookahead: Duration::from_micros(6_500),
    };
}

/// The E-model's inputs for one direction of a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EModel {
    /// Mouth-to-ear one-way delay (network + jitter buffer + packetisation).
    pub one_way_delay: Duration,
    /// Packet loss probability, 0..=1 (after any jitter-buffer discards).
    pub packet_loss: f64,
    /// Burst ratio BurstR (1 for random loss).
    pub burst_ratio: f64,
    /// The codec.
    pub codec: CodecImpairment,
}

impl EModel {
    /// The transmission rating factor R (0..=93.2).
    pub fn r_factor(&self) -> f64 {
        let ta = (self.one_way_delay + self.codec.lookahead).as_secs_f64() * 1000.0;
        let id = 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
        let ppl = (self.packet_loss.clamp(0.0, 1.0)) * 100.0;
        let burst = if self.burst_ratio.is_finite() && self.burst_ratio >= 1.0 {
            self.burst_ratio
        } else {
            1.0
        };
        let ie = self.codec.ie;
        let ie_eff = ie + (95.0 - ie) * ppl / (ppl / burst + self.codec.bpl.max(f64::EPSILON));
        (93.2 - id - ie_eff).clamp(0.0, 100.0)
    }

    /// Estimated MOS (conversational quality, 1..=4.5).
    pub fn mos(&self) -> f64 {
        mos_from_r(self.r_factor())
    }
}

/// G.107 Annex B: MOS from R.
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).clamp(1.0, 4.5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points() {
        // Perfect G.711: R = 93.2 - tiny delay term, MOS ~4.41.
        let e = EModel {
            one_way_delay: Duration::ZERO,
            packet_loss: 0.0,
            burst_ratio: 1.0,
            codec: CodecImpairment::G711_PLC,
        };
        assert!((e.r_factor() - 93.2).abs() < 1e-9);
        assert!((e.mos() - 4.41).abs() < 0.01, "{}", e.mos());
        // 5% random loss with PLC: Ie,eff = 95*5/(5+25.1) = 15.78.
        let e5 = EModel {
            packet_loss: 0.05,
            ..e
        };
        assert!((e5.r_factor() - (93.2 - 15.78)).abs() < 0.01);
        // Without PLC it is much worse: 95*5/(5+4.3) = 51.08.
        let e5n = EModel {
            codec: CodecImpairment::G711,
            ..e5
        };
        assert!((e5n.r_factor() - (93.2 - 51.08)).abs() < 0.01);
        // 200 ms one-way: Id = 4.8 + 0.11*22.7 = 7.297.
        let d = EModel {
            one_way_delay: Duration::from_millis(200),
            ..e
        };
        assert!((d.r_factor() - (93.2 - 7.297)).abs() < 0.001);
        assert_eq!(mos_from_r(-3.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        assert!(mos_from_r(50.0) > 2.5 && mos_from_r(50.0) < 2.6);
    }
}
