//! Per-call statistics (RFC 3550 Appendix A.1, A.3, A.8) and the public
//! stats struct.

use std::time::{Duration, Instant};

use crate::error::DropCounters;
use crate::rtcp::ReportBlock;

const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const RTP_SEQ_MOD: u32 = 1 << 16;

/// Receive statistics of one remote source (RFC 3550 A.1/A.3/A.8).
#[derive(Debug, Clone)]
pub(crate) struct SourceStats {
    pub ssrc: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    pub received: u64,
    expected_prior: u64,
    received_prior: u64,
    pub payload_bytes: u64,
    pub duplicates_or_late: u64,
    transit: Option<u32>,
    /// Jitter in timestamp units (floating point; RFC A.8 keeps it x16).
    jitter: f64,
    /// (middle 32 bits of the NTP timestamp of the last SR, when received).
    pub last_sr: Option<(u32, Instant)>,
    pub last_packet: Instant,
    pub received_since_report: bool,
    /// Fraction lost computed at the last report, for our own stats.
    pub last_fraction_lost: u8,
}

impl SourceStats {
    pub fn new(ssrc: u32, seq: u16, now: Instant) -> Self {
        let mut s = Self {
            ssrc,
            max_seq: seq,
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: RTP_SEQ_MOD + 1,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            payload_bytes: 0,
            duplicates_or_late: 0,
            transit: None,
            jitter: 0.0,
            last_sr: None,
            last_packet: now,
            received_since_report: false,
            last_fraction_lost: 0,
        };
        s.init_seq(seq);
        s
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq` (without probation: our sources are
    /// authenticated by SRTP or latched). Returns false for a packet that
    /// was not counted (an unconfirmed large jump).
    pub fn update_seq(&mut self, seq: u16) -> bool {
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= RTP_SEQ_MOD - u32::from(MAX_MISORDER) {
            // A very large jump.
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: the source restarted.
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        } else {
            // Duplicate or reordered.
            self.duplicates_or_late += 1;
        }
        self.received += 1;
        true
    }

    /// RFC 3550 A.8 interarrival jitter. `arrival` is the arrival time in
    /// timestamp units (wrapping).
    pub fn update_jitter(&mut self, arrival: u32, rtp_timestamp: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(prev) = self.transit {
            let d = f64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Extended sequence number of `seq`, judged against the highest seen.
    pub fn extend(&self, seq: u16) -> u64 {
        let max = u64::from(self.cycles) + u64::from(self.max_seq);
        let delta = i64::from(seq.wrapping_sub(self.max_seq) as i16);
        (max as i64 + delta).max(0) as u64
    }

    pub fn expected(&self) -> u64 {
        u64::from(self.extended_max().wrapping_sub(self.base_seq)) + 1
    }

    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    pub fn jitter_units(&self) -> u32 {
        self.jitter as u32
    }

    /// RFC 3550 A.3: the report block for this source; moves the interval.
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        self.last_fraction_lost = fraction;
        self.received_since_report = false;
        let (last_sr, delay) = match self.last_sr {
            Some((lsr, at)) => (
                lsr,
                crate::rtcp::to_dlsr_units(now.saturating_duration_since(at)),
            ),
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: fraction,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            extended_highest_sequence: self.extended_max(),
            jitter: self.jitter_units(),
            last_sr,
            delay_since_last_sr: delay,
        }
    }
}

/// What we sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundStats {
    /// RTP packets sent (audio and telephone-event).
    pub packets: u64,
    /// RTP payload octets sent.
    pub payload_bytes: u64,
    /// RTCP compound packets sent.
    pub rtcp_packets: u64,
    /// DTMF digits sent (RFC 4733).
    pub dtmf_digits: u64,
    /// Keep-alives sent (RFC 6263).
    pub keepalives: u64,
}

/// What we received from the current remote source (RFC 3550 A.3).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InboundStats {
    /// RTP packets received and accepted (authenticated when SRTP is on).
    pub packets: u64,
    /// Their payload octets.
    pub payload_bytes: u64,
    /// Packets expected from the sequence numbers.
    pub expected: u64,
    /// Cumulative packets lost (expected - received; negative with duplicates).
    pub cumulative_lost: i64,
    /// `cumulative_lost / expected`, clamped to 0..=1.
    pub loss_fraction: f64,
    /// Fraction lost over the last RTCP reporting interval (0..=1).
    pub interval_fraction_lost: f64,
    /// Interarrival jitter (RFC 3550 A.8).
    pub jitter: Duration,
    /// Interarrival jitter in timestamp units.
    pub jitter_units: u32,
    /// Packets that arrived late or twice.
    pub duplicates_or_late: u64,
    /// RTCP compound packets received and accepted.
    pub rtcp_packets: u64,
}

/// What the remote side last reported about our stream (its RR/SR block
/// about our SSRC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteReport {
    /// Fraction lost in its last interval (0..=1).
    pub fraction_lost: f64,
    /// Cumulative lost.
    pub cumulative_lost: i32,
    /// Extended highest sequence number it received.
    pub extended_highest_sequence: u32,
    /// Jitter it measured.
    pub jitter: Duration,
    /// When the report arrived.
    pub received_at: Instant,
}

/// Round-trip time from RTCP LSR/DLSR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RttStats {
    /// The latest sample.
    pub latest: Option<Duration>,
    /// Mean of all samples.
    pub mean: Option<Duration>,
    /// Smallest sample.
    pub min: Option<Duration>,
    /// Largest sample.
    pub max: Option<Duration>,
    /// Number of samples.
    pub samples: u32,
}

impl RttStats {
    pub(crate) fn add(&mut self, rtt: Duration) {
        self.latest = Some(rtt);
        self.samples = self.samples.saturating_add(1);
        let n = f64::from(self.samples);
        let mean = self.mean.map_or(0.0, |m| m.as_secs_f64());
        self.mean = Some(Duration::from_secs_f64(
            mean + (rtt.as_secs_f64() - mean) / n,
        ));
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = Some(self.max.map_or(rtt, |m| m.max(rtt)));
    }
}

/// Statistics of one call's media stream, both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaStats {
    /// Our SSRC.
    pub local_ssrc: u32,
    /// The current remote SSRC.
    pub remote_ssrc: Option<u32>,
    /// Sent.
    pub outbound: OutboundStats,
    /// Received from the current remote source.
    pub inbound: InboundStats,
    /// The remote side's view of our stream.
    pub remote_report: Option<RemoteReport>,
    /// Round-trip time.
    pub rtt: RttStats,
    /// E-model MOS of what we hear: our measured loss (cumulative), and a
    /// one-way delay of RTT/2 + our playout delay (what the caller passed
    /// to [`crate::MediaSession::set_playout_delay`]: the jitter buffer's
    /// target delay) + ptime.
    pub inbound_mos: Option<f64>,
    /// E-model MOS of what the peer hears, an estimate: the loss fraction
    /// the peer reported in its last RTCP report about our stream, and a
    /// one-way delay of RTT/2 + [`crate::NOMINAL_REMOTE_PLAYOUT_DELAY`]
    /// (the peer's jitter buffer is not known to us) + ptime; our send
    /// codec's E-model values. `None` before the peer's first report.
    pub outbound_mos: Option<f64>,
    /// Datagrams dropped, by reason.
    pub drops: DropCounters,
}
