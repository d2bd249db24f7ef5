//! The adaptive jitter buffer (design notes on [`JitterBuffer`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::stretch;
use crate::{CodecError, Decoder, Result};

/// Sub-samples per sample.
const SUB: i64 = 1000;
/// Relative-delay window.
const WINDOW: Duration = Duration::from_secs(2);
/// Most entries of the transit window (bounded memory).
const WINDOW_CAP: usize = 512;
/// Histogram bucket width.
const BUCKET: Duration = Duration::from_micros(500);
/// Packets before the histogram alone sets the target.
const WARMUP_PACKETS: u64 = 50;
/// Played sequence numbers remembered to tell duplicates from late packets.
const PLAYED_RING: usize = 64;
/// Decoded packet starts tracked for [`JitterBuffer::last_frame_packet_starts`].
const MARKERS: usize = 256;
/// A packet whose relative delay exceeds the jitter allowance by this much
/// is a delay peak's.
const PEAK_EXCESS: Duration = Duration::from_millis(60);
/// A delay peak is isolated when no peak started in this long before it
/// (the first peak of a stream is isolated).
const PEAK_QUIET: Duration = Duration::from_secs(20);
/// An isolated peak longer than this is not a peak but a new delay level:
/// its packets count again.
const PEAK_MAX: Duration = Duration::from_secs(2);
/// Rate of FEC-recoverable losses (a missing sequence number whose next
/// packet carries FEC for it, counted at playout over about the last
/// [`LOSS_WINDOW_PACKETS`]) above which the buffer waits one more packet
/// for FEC (see [`JitterBufferConfig::fec_delay`]).
const FEC_LOSS_ON: f64 = 0.02;
/// ... and below which it stops waiting (hysteresis).
const FEC_LOSS_OFF: f64 = 0.01;
/// Memory of the loss rate, in packets (exponential forgetting).
const LOSS_WINDOW_PACKETS: f64 = 250.0;
/// A stall (no packet to play) longer than this, or than three frames or
/// the target delay if either is longer, is a pause: the sender stopped
/// (see [`JitterBuffer`], "Pauses").
const PAUSE_AFTER: Duration = Duration::from_millis(80);
/// A comfort-noise stall (after a DTX packet, or in a DTMF event) pauses
/// only after this long: Opus DTX sends a packet every 400 ms, and a DTMF
/// key may be held for a while.
const PAUSE_AFTER_CN: Duration = Duration::from_secs(1);
/// Sequence numbers announced as carrying no audio
/// ([`JitterBuffer::insert_non_audio`]) remembered at once.
const NON_AUDIO_RING: usize = 64;
/// Above target by this much: drop audio at once instead of stretching.
const CATCH_UP: Duration = Duration::from_millis(500);
/// A timestamp this far behind the playout point with an in-order sequence
/// number is a timestamp jump (the sender's clock restarted).
const TS_JUMP_BACK: Duration = Duration::from_secs(1);
/// Largest decoded packet: 120 ms at 48 kHz.
const MAX_PACKET: usize = 5760;
/// Time-stretch lags: 2.5 ms to 15 ms (a pitch period of 400..67 Hz).
const LAG_MIN: Duration = Duration::from_micros(2500);
const LAG_MAX: Duration = Duration::from_millis(15);
/// Smallest adjustment made in quiet audio.
const LAG_TINY: Duration = Duration::from_micros(500);
/// Correlation needed to accelerate / expand loud audio.
const ACCEL_CORR: f32 = 0.85;
const EXPAND_CORR: f32 = 0.6;
/// Frames left alone after a stretch search found nothing usable (the
/// audio needs time to change; bounds the search cost to one frame in
/// `STRETCH_BACKOFF + 1`).
const STRETCH_BACKOFF: u8 = 4;
/// Fruitless accelerate searches in a row (loud audio that neither repeats
/// within the lag range nor is quiet, or an excess shorter than a pitch
/// period) after which the excess is removed anyway, by a cross-faded
/// splice: about 200 ms above target, instead of for ever.
const FORCE_SPLICE_AFTER: u8 = 3;

/// How the jitter buffer chooses its delay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetDelay {
    /// Follow measured arrival jitter.
    Adaptive,
    /// Use this fixed jitter allowance (on top of the frame alignment).
    /// `Fixed(Duration::ZERO)` plays every packet at the first tick after
    /// it can: the minimal delay, for latency measurements.
    Fixed(Duration),
}

/// Jitter buffer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JitterBufferConfig {
    /// Adaptive or fixed target.
    pub target: TargetDelay,
    /// Smallest jitter allowance.
    pub min_delay: Duration,
    /// Largest jitter allowance.
    pub max_delay: Duration,
    /// Jitter allowance before enough packets were seen to measure it
    /// (decays to the measured one over the first 50 packets).
    pub initial_delay: Duration,
    /// Quantile of relative delay to cover (0.5..=0.9999).
    pub quantile: f64,
    /// Per-packet forgetting factor of the delay histogram (0.9..1.0).
    /// The default 0.99 remembers about the last 100-200 packets: a delay
    /// spike's packets keep the target up for a few seconds (so a burst of
    /// spikes is absorbed), then the delay shrinks. 0.998 (10 s) absorbed
    /// recurring spikes with half the concealment but doubled the mean delay
    /// on the spike trace of `jitter_report`.
    pub forget_factor: f64,
    /// Most packets held (bounded memory).
    pub max_packets: usize,
    /// Largest payload accepted, in bytes.
    pub max_payload: usize,
    /// Whether to time-stretch (accelerate / preemptive expand).
    pub time_stretch: bool,
    /// Wait for in-band FEC when loss is frequent (adaptive target only).
    ///
    /// Opus carries the FEC (LBRR) of packet N in packet N+1, so a loss can
    /// only be recovered from FEC if N+1 is in hand when N is due: one
    /// packet time more than the jitter allowance. When this is on and more
    /// than 2% of the sequence numbers (over about the last 250) went
    /// missing at playout with FEC for them in the next packet
    /// ([`Decoder::has_fec`]: for Opus, that packet has the LBRR flag),
    /// until that falls below 1%, the jitter allowance is raised by one
    /// packet time so that those losses are recovered from FEC instead of
    /// concealed by PLC. It costs that much delay (20 ms with 20 ms
    /// packets) while such loss lasts; `fec_recovered` minus
    /// `fec_without_redundancy` in the statistics counts what it buys.
    /// Losses whose next packet has no FEC (CELT-only Opus, G.711, the
    /// earlier packets of a burst) never raise it.
    pub fec_delay: bool,
}

impl Default for JitterBufferConfig {
    fn default() -> Self {
        Self {
            target: TargetDelay::Adaptive,
            min_delay: Duration::ZERO,
            max_delay: Duration::from_secs(1),
            initial_delay: Duration::from_millis(40),
            quantile: 0.99,
            forget_factor: 0.99,
            max_packets: 256,
            max_payload: 1500,
            time_stretch: true,
            fec_delay: true,
        }
    }
}

impl JitterBufferConfig {
    /// A fixed minimal target: every packet plays at the first playout tick
    /// after it arrived (for mouth-to-ear latency measurements).
    pub fn fixed_minimal() -> Self {
        Self {
            target: TargetDelay::Fixed(Duration::ZERO),
            initial_delay: Duration::ZERO,
            ..Self::default()
        }
    }
}

/// One RTP packet handed to the jitter buffer (the RTP layer parsed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingPacket<'a> {
    /// Synchronization source; a change resets the stream.
    pub ssrc: u32,
    /// RTP sequence number.
    pub sequence_number: u16,
    /// RTP timestamp (codec clock).
    pub timestamp: u32,
    /// RTP marker bit (start of a talkspurt for audio).
    pub marker: bool,
    /// Codec payload.
    pub payload: &'a [u8],
}

/// What [`JitterBuffer::insert`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsertOutcome {
    /// Queued for playout.
    Queued,
    /// Queued after resetting the stream (new SSRC or a timestamp jump).
    QueuedAfterReset,
    /// Already queued or played: dropped.
    Duplicate,
    /// Its playout time has passed: dropped (counted as late loss).
    Late,
    /// Empty, too large or not a packet of this codec: dropped.
    Invalid,
    /// No room (the buffer holds `max_packets` earlier packets): dropped.
    Overflow,
}

/// What one output frame contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameKind {
    /// Silence before playout started.
    Waiting,
    /// Decoded audio.
    Normal,
    /// Decoded audio, shortened by accelerate.
    Accelerated,
    /// Decoded audio, lengthened by preemptive expand.
    Expanded,
    /// Comfort noise / silence in a DTX or silence-suppression gap.
    ComfortNoise,
    /// Contains concealment (PLC, FEC recovery or an underrun).
    Concealed,
    /// Silence because the stream is paused: the sender stopped sending
    /// (hold, a lost BYE, a sendonly/inactive direction, silence
    /// suppression without comfort noise) or the engine said so with
    /// [`JitterBuffer::set_active`]. The first such frame fades the
    /// concealment out; the rest are zeros.
    Paused,
}

/// Jitter buffer statistics (counters are cumulative).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JitterStats {
    /// Packets accepted (queued), duplicates and invalid ones excluded.
    pub packets_received: u64,
    /// Packets dropped as duplicates.
    pub packets_duplicate: u64,
    /// Packets dropped because their playout time had passed.
    pub packets_late: u64,
    /// Packets dropped as invalid (empty, too large, undecodable header).
    pub packets_invalid: u64,
    /// Packets dropped for lack of room.
    pub packets_overflow: u64,
    /// Packets that arrived after a later-sent one (still in time).
    pub packets_reordered: u64,
    /// Queued packets skipped by a catch-up or a timestamp overlap.
    pub packets_discarded: u64,
    /// Sequence numbers missing at playout (lost in the network, or late).
    pub packets_missing: u64,
    /// Lost packets recovered from the next packet's FEC (handed to
    /// [`Decoder::decode_fec`]).
    pub fec_recovered: u64,
    /// Of `fec_recovered`, those whose next packet carried no redundancy
    /// (an Opus packet without LBRR: libopus then conceals, as PLC).
    pub fec_without_redundancy: u64,
    /// Payloads the decoder rejected (concealed instead).
    pub decode_errors: u64,
    /// Output frames.
    pub frames: u64,
    /// Output samples per channel.
    pub samples_out: u64,
    /// Output samples that were not decoded from their own packet: PLC,
    /// FEC recovery, underrun concealment.
    pub samples_concealed: u64,
    /// Output samples of comfort noise / silence in DTX or silence gaps.
    pub samples_comfort_noise: u64,
    /// Samples of silence output before playout started.
    pub samples_waiting: u64,
    /// Samples of silence output while the stream was paused (see
    /// [`FrameKind::Paused`]), not counted as concealment. A stall that
    /// turns out to have been a delay spike or a loss burst (the stream
    /// resumes where it stopped, or the sequence numbers account for the
    /// whole gap) moves its samples to `samples_concealed`.
    pub samples_paused: u64,
    /// Pauses entered (stalls longer than the pause threshold, or
    /// [`JitterBuffer::set_active`]`(false)` and a stall).
    pub pauses: u64,
    /// Sequence numbers announced as carrying no audio
    /// ([`JitterBuffer::insert_non_audio`]): not counted as missing.
    pub packets_non_audio: u64,
    /// Samples removed by accelerate.
    pub samples_accelerated: u64,
    /// Samples inserted by preemptive expand.
    pub samples_expanded: u64,
    /// Samples skipped in gaps (silence or loss) to lower the delay.
    pub samples_skipped: u64,
    /// Accelerate operations.
    pub accelerate_ops: u64,
    /// Preemptive expand operations.
    pub expand_ops: u64,
    /// Underruns: ticks that found no audio and no packet.
    pub underruns: u64,
    /// Catch-ups: audio dropped at once because the delay was far too high.
    pub catch_ups: u64,
    /// Stream resets on an SSRC change.
    pub ssrc_changes: u64,
    /// Timeline resets on a timestamp jump.
    pub timestamp_jumps: u64,
    /// Delay peaks seen: packets more than 60 ms above the jitter
    /// allowance after a packet that was not.
    pub delay_peaks: u64,
    /// Of those, isolated ones (none in the 20 s before): their packets
    /// were kept out of the delay histogram (see [`JitterBuffer`]).
    pub isolated_delay_peaks: u64,
    /// Whether the jitter allowance includes one packet time to wait for
    /// FEC (see [`JitterBufferConfig::fec_delay`]).
    pub fec_waiting: bool,
    /// Current delay (see [`JitterBuffer::current_delay`]).
    pub current_delay: Duration,
    /// Target delay (see [`JitterBuffer::target_delay`]).
    pub target_delay: Duration,
    /// Jitter allowance: the relative-delay quantile in use.
    pub jitter_allowance: Duration,
    /// Packets held now.
    pub buffered_packets: usize,
    /// Whether playout is paused now (see [`JitterBuffer::is_paused`]).
    pub paused: bool,
}

impl JitterStats {
    /// Late packets as a fraction of packets that arrived in or out of time.
    pub fn late_loss_rate(&self) -> f64 {
        let total = self.packets_received + self.packets_late;
        if total == 0 {
            0.0
        } else {
            self.packets_late as f64 / total as f64
        }
    }

    /// Concealed samples as a fraction of output samples.
    pub fn concealed_ratio(&self) -> f64 {
        if self.samples_out == 0 {
            0.0
        } else {
            self.samples_concealed as f64 / self.samples_out as f64
        }
    }
}

/// Relative-delay tracking and the forgetting histogram.
#[derive(Debug, Clone)]
struct DelayEstimator {
    /// Monotonic deque of (arrival, transit): transits increase front to
    /// back, so the front is the window's minimum.
    window: VecDeque<(i64, i64)>,
    window_sub: i64,
    hist: Vec<f64>,
    bucket_sub: i64,
    count: u64,
    forget: f64,
    /// Weight scale of the newest entry (see `on_arrival`).
    scale: f64,
    /// Sum of the histogram.
    total: f64,
    /// Highest bucket ever used.
    top: usize,
    cached: Option<(u64, i64)>,
    /// Arrival (sub-samples) at which the last delay peak started.
    last_peak: Option<i64>,
    /// The isolated peak in progress: its start (sub-samples).
    isolated_since: Option<i64>,
    /// Whether the last packet was a peak's.
    in_peak: bool,
    /// Peaks seen, and those left out of the histogram as isolated.
    peaks: u64,
    isolated_peaks: u64,
    quiet_sub: i64,
    peak_max_sub: i64,
    peak_excess_sub: i64,
}

impl DelayEstimator {
    fn new(rate: u32, max_delay: Duration, forget: f64) -> Self {
        let rate = i64::from(rate);
        let bucket_sub = (BUCKET.as_micros() as i64 * rate / 1000).max(1);
        let buckets = (max_delay.as_micros() / BUCKET.as_micros()).clamp(2, 20_000) as usize + 1;
        Self {
            window: VecDeque::with_capacity(WINDOW_CAP),
            window_sub: WINDOW.as_millis() as i64 * rate,
            hist: vec![0.0; buckets],
            bucket_sub,
            count: 0,
            forget,
            scale: 1.0,
            total: 0.0,
            top: 0,
            cached: None,
            last_peak: None,
            isolated_since: None,
            in_peak: false,
            peaks: 0,
            isolated_peaks: 0,
            quiet_sub: PEAK_QUIET.as_millis() as i64 * rate,
            peak_max_sub: PEAK_MAX.as_millis() as i64 * rate,
            peak_excess_sub: PEAK_EXCESS.as_millis() as i64 * rate,
        }
    }

    fn reset_window(&mut self) {
        self.window.clear();
    }

    fn min_transit(&self) -> Option<i64> {
        self.window.front().map(|&(_, t)| t)
    }

    /// Record an arrival; returns its relative delay. `q` is the quantile
    /// the target follows (for the peak detector).
    ///
    /// Peak detection (after NetEq's DelayPeakDetector, simplified): a
    /// packet more than [`PEAK_EXCESS`] above the current quantile starts a
    /// delay peak. A peak that starts at least [`PEAK_QUIET`] after the
    /// previous one is *isolated*: its packets (until one comes back within
    /// the quantile, for at most [`PEAK_MAX`]) stay out of the histogram, so
    /// that once it is over the target is what it was before and the buffer
    /// shrinks back at once instead of holding the peak's delay for seconds.
    /// Peaks that recur (closer than [`PEAK_QUIET`]) go into the histogram
    /// as any packet, and the quantile then covers them while they recur.
    fn on_arrival(&mut self, arrival: i64, transit: i64, q: f64) -> i64 {
        let horizon = arrival.saturating_sub(self.window_sub);
        while self.window.front().is_some_and(|&(a, _)| a < horizon) {
            self.window.pop_front();
        }
        while self.window.back().is_some_and(|&(_, t)| t >= transit) {
            self.window.pop_back();
        }
        if self.window.len() >= WINDOW_CAP {
            self.window.pop_front();
        }
        self.window.push_back((arrival, transit));
        let min = self.min_transit().unwrap_or(transit);
        let r = transit.saturating_sub(min).max(0);
        if self.count >= WARMUP_PACKETS {
            let allow = self.quantile(q);
            if let Some(since) = self.isolated_since {
                if r <= allow || arrival.saturating_sub(since) > self.peak_max_sub {
                    self.isolated_since = None;
                } else {
                    return r;
                }
            }
            let peak = r > allow.saturating_add(self.peak_excess_sub);
            let starts = peak && !self.in_peak;
            self.in_peak = peak;
            if starts {
                self.peaks += 1;
                let previous = self.last_peak.replace(arrival);
                if previous.is_none_or(|p| arrival.saturating_sub(p) >= self.quiet_sub) {
                    self.isolated_peaks += 1;
                    self.isolated_since = Some(arrival);
                    return r;
                }
            }
        }
        let bucket = ((r / self.bucket_sub) as usize).min(self.hist.len() - 1);
        self.count += 1;
        // Exponential forgetting without touching every bucket: instead of
        // scaling all old weights by (1 - w), scale the new weight up by
        // 1 / (1 - w) and renormalize once in a while.
        let w = (1.0 - self.forget).max(1.0 / self.count as f64);
        self.top = self.top.max(bucket);
        if w >= 1.0 {
            self.hist.iter_mut().for_each(|h| *h = 0.0);
            self.scale = 1.0;
            self.total = 1.0;
            if let Some(h) = self.hist.get_mut(bucket) {
                *h = 1.0;
            }
        } else {
            self.scale /= 1.0 - w;
            if let Some(h) = self.hist.get_mut(bucket) {
                *h += w * self.scale;
            }
            self.total += w * self.scale;
            if self.scale > 1e200 {
                let k = 1.0 / self.scale;
                self.hist.iter_mut().for_each(|h| *h *= k);
                self.total *= k;
                self.scale = 1.0;
            }
        }
        r
    }

    /// Upper edge of the bucket holding quantile `q` (sub-samples).
    fn quantile(&mut self, q: f64) -> i64 {
        if let Some((n, v)) = self.cached
            && n == self.count
        {
            return v;
        }
        // Top-down: the quantile bucket is the highest one whose mass plus
        // the mass above it exceeds the tail (1 - q).
        let tail = (1.0 - q) * self.total * (1.0 + 1e-12);
        let mut above = 0.0;
        let mut v = 0;
        let top = self.top.min(self.hist.len().saturating_sub(1));
        for i in (0..=top).rev() {
            let h = self.hist.get(i).copied().unwrap_or(0.0);
            if above + h > tail {
                v = (i as i64 + 1) * self.bucket_sub;
                break;
            }
            above += h;
        }
        self.cached = Some((self.count, v));
        v
    }
}

#[derive(Debug, Clone, Default)]
struct Slot {
    used: bool,
    seq: i64,
    ts: i64,
    samples: usize,
    marker: bool,
    payload: Vec<u8>,
}

/// The adaptive jitter buffer: RTP packets in, decoded frames out on the
/// caller's playout clock; construct with [`JitterBuffer::new`], feed
/// [`JitterBuffer::insert`], pull [`JitterBuffer::get_frame`] at each tick.
///
/// # Model
///
/// Time is counted in "sub-samples" (1/1000 of a sample at the codec's
/// clock rate) so that RTP timestamps and arrival instants compare exactly.
///
/// - **Transit** of a packet: its arrival instant minus its RTP timestamp
///   (both in sub-samples). Only differences of transits matter.
/// - **Relative delay** `r` of a packet: its transit minus the smallest
///   transit seen in the last 2 s (as NetEq's relative arrival delay
///   tracker): how much later than the fastest recent packet it came. A
///   window, not the all-time minimum, so that clock drift and route changes
///   are followed.
/// - **Jitter allowance** `T`: a high quantile (default 99%) of `r` from a
///   histogram with exponential forgetting (NetEq's delay histogram).
///   Delay peaks (a packet more than 60 ms above `T`) are watched as
///   NetEq's DelayPeakDetector does: an *isolated* peak (no other in the
///   20 s before it) stays out of the histogram until a packet comes back
///   within `T` (at most 2 s), so after it the target is what it was and
///   the buffer shrinks straight back; peaks that recur go in and are
///   covered by `T` while they recur. Either way the peak itself stalls
///   playout (step 3 below), so its packets are not lost.
/// - **Current delay** `m`: at a playout tick `now`, `now` minus the instant
///   at which the next sample to play would have arrived on the fastest
///   path. A packet is late iff its `r` exceeds the `m` in force when it is
///   needed.
/// - **Target delay** `m*`: the smallest `m` that gives every packet at
///   least `T` of allowance at the tick where it is first needed. Playout
///   runs in frames of `F` samples and packets hold `P`, so a packet whose
///   first sample falls `k` samples into a frame must be there `k` samples
///   before it plays; `m*` is therefore the smallest value `>= T + F - g`
///   (`g = gcd(F, P)`) on the lattice that puts packet starts on frame
///   starts. It is what [`JitterBuffer::target_delay`] reports.
///
/// # Decisions at each playout tick
///
/// 1. The expected packet (timestamp = end of decoded audio) is there:
///    decode it.
/// 2. A later packet is there but not the expected one (loss, reorder or
///    silence): if we are above target and nothing decoded is pending, skip
///    ahead (up to the gap); if below target, conceal without advancing
///    (the delay grows); otherwise conceal the missing packet (Opus FEC from
///    the next packet when it is the last one missing, else PLC; comfort
///    noise when the sequence numbers say nothing was lost, i.e. DTX or
///    silence suppression) and advance.
/// 3. Nothing is there (underrun: a delay spike or the start of silence):
///    conceal without advancing, so the delay grows by exactly the stall and
///    no packet of the spike arrives late ("grows fast"). When the next
///    packet comes, step 2 decides how much of the stall stands in for a gap.
/// 4. Then time-stretch the decoded audio: above target, accelerate
///    (remove one or more pitch periods, never below target; in quiet audio
///    also less than a period, down to 0.5 ms); below target, preemptive
///    expand (insert one period). Both need well-correlated (voiced) or
///    quiet audio, at most one operation per frame ("shrinks slowly without
///    audible damage"). After a fruitless search the next four frames are
///    left alone (the search costs about 1 us a frame at 8 kHz, and the
///    audio needs time to change); at target nothing is searched. Loud
///    audio that never repeats within the lag range nor goes quiet (noise,
///    music, or an excess shorter than the pitch period) would otherwise
///    keep the buffer above target for the whole call (40 ms above a 7 ms
///    target for ever with loud noise, `loud_unperiodic_audio_still_reaches_the_target`;
///    the pipeline measurement saw 4 ms above for 400 s with continuous
///    speech-like input): after three fruitless searches in a row
///    (about 200 ms) the excess (up to 15 ms at a time) is removed anyway
///    by a splice with a cross-fade of at least 2.5 ms, equal-power when
///    the two sides do not correlate so the loudness does not dip.
/// 5. More than 500 ms above target with a backlog queued (the backlog of a
///    long outage arrived at once): drop audio at once (a catch-up).
///
/// # Pauses
///
/// A stall (nothing to play) longer than the pause threshold, the longest
/// of 80 ms, three output frames and the target delay before the stall, is
/// a *pause*: the sender has most likely stopped (hold, sendonly, a lost
/// BYE, silence suppression without comfort noise). Up to the threshold
/// the stall is concealed as any underrun (PLC fades out); the first
/// paused frame fades the concealment to zero and the rest are zeros, all
/// [`FrameKind::Paused`], counted in `samples_paused`, not as concealment.
/// While paused, [`JitterBuffer::current_delay`] and
/// [`JitterBuffer::target_delay`] report the values of before the stall:
/// a pause is not playout delay. With
/// [`JitterBuffer::set_active`]`(false)` (the engine knows: hold) the
/// threshold is zero. Stalls after a comfort-noise (DTX) packet or inside
/// a span of sequence numbers announced by
/// [`JitterBuffer::insert_non_audio`] (DTMF) are comfort noise, and pause
/// only after 1 s.
///
/// When a packet is there again the pause ends, and the packet tells what
/// it was. The sender's silence (see below, or the engine said so while
/// paused, or the SSRC or the timeline changed): the pause stays silence, the concealment before it counts as
/// comfort noise, and playout re-anchors at the target (the silence queued
/// is dropped; a timestamp gap is skipped down to the target as in
/// decision 2; if the timestamps did not advance with the pause and the
/// packet has the marker bit, or the engine said so, the transit window
/// restarts with it, so the pause does not count as delay). Otherwise (the
/// packet is the one due: a delay spike; or the missing sequence numbers
/// account for the gap: a loss burst) the pause was an underrun: its
/// samples move to `samples_concealed` and the stall stands as in
/// decision 3 (no packet of a spike is lost).
///
/// A gap is the sender's silence rather than loss when the packet after
/// it starts a talkspurt (marker bit, RFC 3551 section 4.1), or its
/// timestamp is past the decoded audio and no sequence number is missing
/// (contiguous numbering, or the missing ones were announced as non-audio)
/// or the timestamps advanced at least two packet times more than the
/// missing sequence numbers account for (the sender stopped and the first
/// packet after the silence was lost too). This does not hinge on one
/// packet: any later packet tells the same.
///
/// Clock drift needs nothing special: a fast sender fills the buffer and
/// accelerate drains it; a slow one empties it and expand/stall fill it.
///
/// Per call, memory is bounded: at most `max_packets` payloads of at most
/// `max_payload` bytes, a fixed decoded-audio buffer, a bounded transit
/// window and a fixed histogram. After warm-up nothing allocates.
#[derive(Debug)]
pub struct JitterBuffer<D: Decoder> {
    cfg: JitterBufferConfig,
    decoder: D,
    rate: u32,
    ch: usize,
    gran: usize,
    epoch: Option<Instant>,
    ssrc: Option<u32>,
    /// Highest (seq, extended seq) and (ts, extended ts) seen.
    high_seq: Option<(u16, i64)>,
    high_ts: Option<(u32, i64)>,
    slots: Vec<Slot>,
    delay: DelayEstimator,
    have_timeline: bool,
    started: bool,
    /// Decoded audio not yet played: `pcm[pcm_off..]`, interleaved.
    pcm: Vec<i16>,
    pcm_off: usize,
    pcm_cap: usize,
    /// RTP timestamp (extended) just after the decoded audio.
    pcm_end_ts: i64,
    last_decoded_seq: Option<i64>,
    /// Timestamp just after the last decoded packet.
    last_decoded_end: i64,
    last_was_cn: bool,
    packet_samples: usize,
    frame_samples: usize,
    /// Underrun concealment since the last decoded packet (per channel).
    pending_stall: u64,
    played: [i64; PLAYED_RING],
    played_pos: usize,
    scratch: Vec<i16>,
    stats: JitterStats,
    last_delay: i64,
    last_target: i64,
    last_frame_ts: Option<i64>,
    /// Decoded packet starts not yet played: (frame offset into the decoded
    /// audio, extended timestamp).
    markers: VecDeque<(usize, i64)>,
    /// Frames to wait before the next time-stretch search after one found
    /// nothing usable (noise-like loud audio): bounds the search cost.
    stretch_backoff: u8,
    /// Fruitless accelerate searches in a row (see `FORCE_SPLICE_AFTER`).
    stretch_fails: u8,
    /// Packet starts played by the last frame: (RTP timestamp, offset).
    last_starts: Vec<(u32, usize)>,
    /// Recent rate of FEC-recoverable losses at playout (exponential
    /// forgetting per sequence number, see `LOSS_WINDOW_PACKETS`).
    loss_rate: f64,
    /// Whether the allowance includes one packet time for FEC.
    fec_waiting: bool,
    /// Whether the engine says media flows ([`JitterBuffer::set_active`]).
    active: bool,
    /// Whether playout is paused (silence, see "Pauses").
    paused: bool,
    /// Whether the pause in progress is known to be the sender's (the
    /// engine said so while it lasted).
    pause_known: bool,
    /// Samples output in the pause in progress.
    pause_samples: u64,
    /// Samples output since the last decoded packet by underruns of any
    /// kind (concealment, comfort noise, pause).
    stall_samples: u64,
    /// Current delay and target of the last frame that did not stall (what
    /// a pause reports).
    pre_stall_delay: i64,
    pre_stall_target: i64,
    /// Extended sequence numbers that carried no audio (ring).
    non_audio: [i64; NON_AUDIO_RING],
    non_audio_pos: usize,
}

impl<D: Decoder> JitterBuffer<D> {
    /// A jitter buffer feeding `decoder`.
    pub fn new(decoder: D, config: JitterBufferConfig) -> Result<Self> {
        let rate = decoder.sample_rate();
        let ch = decoder.channels();
        if !(1000..=384_000).contains(&rate) {
            return Err(CodecError::UnsupportedSampleRate(rate));
        }
        if ch == 0 || ch > 8 {
            return Err(CodecError::UnsupportedChannels(ch));
        }
        if config.max_packets == 0 || config.max_packets > 4096 {
            return Err(CodecError::InvalidConfig("max_packets must be 1..=4096"));
        }
        if config.max_payload == 0 || config.max_payload > 65_536 {
            return Err(CodecError::InvalidConfig("max_payload must be 1..=65536"));
        }
        if !(0.5..=0.9999).contains(&config.quantile) {
            return Err(CodecError::InvalidConfig("quantile must be 0.5..=0.9999"));
        }
        if !(0.9..1.0).contains(&config.forget_factor) {
            return Err(CodecError::InvalidConfig("forget_factor must be 0.9..1.0"));
        }
        if config.max_delay > Duration::from_secs(10) || config.min_delay > config.max_delay {
            return Err(CodecError::InvalidConfig(
                "need min_delay <= max_delay <= 10 s",
            ));
        }
        let gran = decoder.conceal_granularity().max(1);
        let max_frame = MAX_PACKET.max(rate as usize / 10);
        let lag_max = Self::samples_of(rate, LAG_MAX);
        // Room for: a frame being assembled, the stretch lookahead, one more
        // decoded packet, and an expansion.
        let pcm_cap = (2 * max_frame + 4 * lag_max + 2 * gran) * ch;
        Ok(Self {
            delay: DelayEstimator::new(rate, config.max_delay, config.forget_factor),
            slots: vec![Slot::default(); config.max_packets],
            cfg: config,
            decoder,
            rate,
            ch,
            gran,
            epoch: None,
            ssrc: None,
            high_seq: None,
            high_ts: None,
            have_timeline: false,
            started: false,
            pcm: Vec::with_capacity(pcm_cap),
            pcm_off: 0,
            pcm_cap,
            pcm_end_ts: 0,
            last_decoded_seq: None,
            last_decoded_end: 0,
            last_was_cn: false,
            packet_samples: 0,
            frame_samples: 0,
            pending_stall: 0,
            played: [i64::MIN; PLAYED_RING],
            played_pos: 0,
            scratch: vec![0; MAX_PACKET * ch],
            stats: JitterStats::default(),
            last_delay: 0,
            last_target: 0,
            last_frame_ts: None,
            markers: VecDeque::with_capacity(MARKERS),
            stretch_backoff: 0,
            stretch_fails: 0,
            last_starts: Vec::with_capacity(MARKERS),
            loss_rate: 0.0,
            fec_waiting: false,
            active: true,
            paused: false,
            pause_known: false,
            pause_samples: 0,
            stall_samples: 0,
            pre_stall_delay: 0,
            pre_stall_target: 0,
            non_audio: [i64::MIN; NON_AUDIO_RING],
            non_audio_pos: 0,
        })
    }

    fn samples_of(rate: u32, d: Duration) -> usize {
        (d.as_micros() as u64 * u64::from(rate) / 1_000_000) as usize
    }

    fn sub_of(&self, d: Duration) -> i64 {
        (d.as_micros() as i64).saturating_mul(i64::from(self.rate)) / 1000
    }

    fn duration_of_sub(&self, sub: i64) -> Duration {
        let us = (sub.max(0) as i128 * 1000 / i128::from(self.rate)) as u64;
        Duration::from_micros(us)
    }

    fn t_sub(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        let ns = now.saturating_duration_since(epoch).as_nanos();
        let v = ns.saturating_mul(u128::from(self.rate)) / 1_000_000;
        i64::try_from(v).unwrap_or(i64::MAX / 4)
    }

    /// The decoder.
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The decoder, mutably.
    pub fn decoder_mut(&mut self) -> &mut D {
        &mut self.decoder
    }

    /// Output sample rate (the decoder's, equal to the RTP clock rate).
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Output channels.
    pub fn channels(&self) -> usize {
        self.ch
    }

    /// The configuration.
    pub fn config(&self) -> &JitterBufferConfig {
        &self.cfg
    }

    /// Switch between adaptive and fixed target at run time.
    pub fn set_target(&mut self, target: TargetDelay) {
        self.cfg.target = target;
    }

    /// Statistics, with the delays as of the last playout tick.
    pub fn stats(&self) -> JitterStats {
        let mut s = self.stats;
        s.current_delay = self.duration_of_sub(self.last_delay);
        s.target_delay = self.duration_of_sub(self.last_target);
        s.buffered_packets = self.slots.iter().filter(|s| s.used).count();
        s.fec_waiting = self.fec_waiting;
        s.delay_peaks = self.delay.peaks;
        s.isolated_delay_peaks = self.delay.isolated_peaks;
        s.paused = self.paused;
        s
    }

    /// Delay the buffer adds at the last playout tick: that tick's instant
    /// minus the instant at which the audio it played would have arrived on
    /// the fastest recent path (the minimum transit of the last 2 s).
    pub fn current_delay(&self) -> Duration {
        self.duration_of_sub(self.last_delay)
    }

    /// The delay the buffer steers to (see the module documentation).
    pub fn target_delay(&self) -> Duration {
        self.duration_of_sub(self.last_target)
    }

    /// RTP timestamp of the first sample of the last output frame (its
    /// position on the sender's timeline; concealment inserted during an
    /// underrun does not advance it). `None` before playout started.
    /// For lip sync and for delay measurements.
    pub fn last_frame_timestamp(&self) -> Option<u32> {
        self.last_frame_ts.map(|t| t as u32)
    }

    /// The packets whose first sample the last output frame played, as
    /// (RTP timestamp, sample offset into the frame). Time-stretching moves
    /// offsets; concealment has no entries. For lip sync and delay
    /// measurements.
    pub fn last_frame_packet_starts(&self) -> &[(u32, usize)] {
        &self.last_starts
    }

    /// Packets held now.
    pub fn buffered_packets(&self) -> usize {
        self.slots.iter().filter(|s| s.used).count()
    }

    /// Tell the buffer whether media is expected (`true`, the default) or
    /// the engine knows the far end stopped sending (`false`: on hold, a
    /// sendonly/inactive direction, the call ending). While inactive, the
    /// first tick that finds nothing to play starts a pause at once (one
    /// frame of concealment faded out, then [`FrameKind::Paused`]
    /// silence) instead of after the automatic threshold, and the pause
    /// counts as the sender's whatever the packets after it look like.
    /// Packets still in flight are played as usual. When packets come
    /// again (call `set_active(true)` then, or before), playout re-anchors
    /// at the target delay.
    pub fn set_active(&mut self, active: bool) {
        self.active = active;
        if !active && self.paused {
            self.pause_known = true;
        }
    }

    /// Whether the engine said media flows (see [`JitterBuffer::set_active`]).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether playout is paused: no packet to play for longer than the
    /// pause threshold (see [`JitterBuffer`], "Pauses"), or since
    /// [`JitterBuffer::set_active`]`(false)`; frames are
    /// [`FrameKind::Paused`] silence until a packet comes.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Tell the buffer that a packet of this stream carried no audio: an
    /// RFC 4733 telephone-event (DTMF) packet, or a payload type that is
    /// not this decoder's, with its RTP sequence number (and SSRC; the
    /// payload and timestamp are not used). The sender sends no audio
    /// while it sends a DTMF event and the events take the sequence
    /// numbers in between, so without this the audio's sequence gap looks
    /// like lost packets (about six frames of PLC per digit); with it, that
    /// gap is silence: comfort noise / concealment fading out counted in
    /// `samples_comfort_noise`, nothing in `packets_missing` or
    /// `samples_concealed`. Packets of another SSRC, or before the first
    /// audio packet, are ignored. Call it for every such packet, as it
    /// arrives (repeats are fine).
    pub fn insert_non_audio(&mut self, now: Instant, packet: &IncomingPacket<'_>) {
        // Its arrival does not inform the delay estimate (an event's
        // packets share the event's start timestamp).
        let _ = now;
        if self.ssrc != Some(packet.ssrc) {
            return;
        }
        let Some((s, e)) = self.high_seq else {
            return;
        };
        let seq = e + i64::from(packet.sequence_number.wrapping_sub(s) as i16);
        if self.non_audio.contains(&seq) {
            return;
        }
        if seq > e {
            self.high_seq = Some((packet.sequence_number, seq));
        }
        if let Some(x) = self.non_audio.get_mut(self.non_audio_pos % NON_AUDIO_RING) {
            *x = seq;
        }
        self.non_audio_pos = (self.non_audio_pos + 1) % NON_AUDIO_RING;
        self.stats.packets_non_audio += 1;
    }

    /// Forget the stream (keeps statistics and the delay histogram).
    pub fn reset(&mut self) {
        self.reset_stream(true);
    }

    fn reset_stream(&mut self, reset_decoder: bool) {
        // A new SSRC or timeline during a pause: the old stream stopped.
        if self.paused {
            self.pause_known = true;
        }
        for s in &mut self.slots {
            s.used = false;
        }
        self.delay.reset_window();
        self.high_seq = None;
        self.high_ts = None;
        self.have_timeline = false;
        self.last_decoded_seq = None;
        self.last_was_cn = false;
        // (A pause keeps its fade's count: `end_pause` settles it.)
        if !self.paused {
            self.pending_stall = 0;
        }
        self.stall_samples = 0;
        self.played = [i64::MIN; PLAYED_RING];
        self.non_audio = [i64::MIN; NON_AUDIO_RING];
        if reset_decoder {
            self.decoder.reset();
            self.ssrc = None;
        }
    }

    fn pcm_frames(&self) -> usize {
        (self.pcm.len() - self.pcm_off.min(self.pcm.len())) / self.ch
    }

    fn play_ts(&self) -> i64 {
        self.pcm_end_ts - self.pcm_frames() as i64
    }

    fn compact_pcm(&mut self) {
        if self.pcm_off > 0 {
            let len = self.pcm.len();
            let off = self.pcm_off.min(len);
            self.pcm.copy_within(off..len, 0);
            self.pcm.truncate(len - off);
            self.pcm_off = 0;
        }
    }

    /// Hand a packet that arrived at `now` to the buffer.
    pub fn insert(&mut self, now: Instant, packet: &IncomingPacket<'_>) -> InsertOutcome {
        if packet.payload.is_empty() || packet.payload.len() > self.cfg.max_payload {
            self.stats.packets_invalid += 1;
            return InsertOutcome::Invalid;
        }
        let samples = match self.decoder.packet_samples(packet.payload) {
            Ok(n) if n > 0 && n <= MAX_PACKET => n,
            _ => {
                self.stats.packets_invalid += 1;
                return InsertOutcome::Invalid;
            }
        };
        let t = self.t_sub(now);
        let mut outcome = InsertOutcome::Queued;
        if self.ssrc.is_some_and(|s| s != packet.ssrc) {
            self.reset_stream(true);
            self.stats.ssrc_changes += 1;
            outcome = InsertOutcome::QueuedAfterReset;
        }
        self.ssrc = Some(packet.ssrc);

        // Unwrap sequence number and timestamp against the highest seen.
        let seq = match self.high_seq {
            Some((s, e)) => e + i64::from(packet.sequence_number.wrapping_sub(s) as i16),
            None => i64::from(packet.sequence_number),
        };
        let ts = match self.high_ts {
            Some((s, e)) => e + i64::from(packet.timestamp.wrapping_sub(s) as i32),
            None => i64::from(packet.timestamp),
        };
        let in_order = self.high_seq.is_none_or(|(_, e)| seq > e);
        if !in_order {
            self.stats.packets_reordered += 1;
        }

        // A timestamp far behind the playout point on an in-order packet:
        // the sender's timestamps jumped; start a new timeline.
        let jump_back = Self::samples_of(self.rate, TS_JUMP_BACK) as i64;
        let seq_step = self.high_seq.map_or(0, |(_, e)| seq - e);
        if self.have_timeline && in_order && seq_step <= 100 && ts < self.play_ts() - jump_back {
            self.reset_stream(false);
            self.stats.timestamp_jumps += 1;
            outcome = InsertOutcome::QueuedAfterReset;
        }
        let (seq, ts) = if self.high_seq.is_none() {
            (
                i64::from(packet.sequence_number),
                i64::from(packet.timestamp),
            )
        } else {
            (seq, ts)
        };
        if self.high_seq.is_none_or(|(_, e)| seq > e) {
            self.high_seq = Some((packet.sequence_number, seq));
        }
        if self.high_ts.is_none_or(|(_, e)| ts > e) {
            self.high_ts = Some((packet.timestamp, ts));
        }

        // Every arrival, even a late one, informs the delay estimate.
        let transit = t.saturating_sub(ts.saturating_mul(SUB));
        // The first packet after the sender's pause (see "Pauses") whose
        // timestamps did not advance with the pause (so it would count as
        // a delay as long as the pause): the transits before the pause do
        // not apply any more.
        if self.paused
            && (self.pause_known || !self.active || packet.marker)
            && self
                .delay
                .min_transit()
                .is_some_and(|min| transit - min > self.sub_of(PAUSE_AFTER))
        {
            self.delay.reset_window();
        }
        self.delay.on_arrival(t, transit, self.cfg.quantile);

        if !self.have_timeline {
            self.have_timeline = true;
            self.pcm_end_ts = ts;
            self.packet_samples = samples;
        } else if !self.started && self.pcm_frames() == 0 && ts < self.pcm_end_ts {
            // Before playout, an earlier packet rewinds the start.
            self.pcm_end_ts = ts;
        }

        if self
            .slots
            .iter()
            .any(|s| s.used && (s.seq == seq || s.ts == ts))
        {
            self.stats.packets_duplicate += 1;
            return InsertOutcome::Duplicate;
        }
        if ts < self.pcm_end_ts {
            if self.played.contains(&seq) {
                self.stats.packets_duplicate += 1;
                return InsertOutcome::Duplicate;
            }
            self.stats.packets_late += 1;
            return InsertOutcome::Late;
        }

        // Store; when full, evict the newest if this one is older.
        let idx = match self.slots.iter().position(|s| !s.used) {
            Some(i) => i,
            None => {
                let newest = self
                    .slots
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, s)| s.ts)
                    .map(|(i, s)| (i, s.ts));
                match newest {
                    Some((i, nts)) if nts > ts => {
                        self.stats.packets_overflow += 1;
                        self.stats.packets_received = self.stats.packets_received.saturating_sub(1);
                        i
                    }
                    _ => {
                        self.stats.packets_overflow += 1;
                        return InsertOutcome::Overflow;
                    }
                }
            }
        };
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.used = true;
            slot.seq = seq;
            slot.ts = ts;
            slot.samples = samples;
            slot.marker = packet.marker;
            slot.payload.clear();
            slot.payload.extend_from_slice(packet.payload);
        }
        self.stats.packets_received += 1;
        outcome
    }

    /// Index of the queued packet with the smallest timestamp, after
    /// dropping any that fell behind the playout point.
    fn head(&mut self) -> Option<usize> {
        let end = self.pcm_end_ts;
        let mut best: Option<(usize, i64)> = None;
        for (i, s) in self.slots.iter_mut().enumerate() {
            if !s.used {
                continue;
            }
            if s.ts < end {
                s.used = false;
                self.stats.packets_discarded += 1;
                continue;
            }
            if best.is_none_or(|(_, ts)| s.ts < ts) {
                best = Some((i, s.ts));
            }
        }
        best.map(|(i, _)| i)
    }

    fn current_delay_sub(&self, t: i64) -> i64 {
        match self.delay.min_transit() {
            Some(min) => t
                .saturating_sub(self.play_ts().saturating_mul(SUB))
                .saturating_sub(min),
            None => 0,
        }
    }

    fn allowance_sub(&mut self) -> (i64, i64) {
        let bucket = self.delay.bucket_sub;
        let (t, tol) = match self.cfg.target {
            TargetDelay::Fixed(d) => (self.sub_of(d), SUB / 2),
            TargetDelay::Adaptive => {
                let q = self.delay.quantile(self.cfg.quantile);
                let n = self.delay.count;
                let t = if n < WARMUP_PACKETS {
                    let init = self.sub_of(self.cfg.initial_delay);
                    let left = (WARMUP_PACKETS - n) as i64;
                    q.max(init * left / WARMUP_PACKETS as i64)
                } else {
                    q
                };
                let t = if self.fec_waiting {
                    t.saturating_add(self.packet_samples as i64 * SUB)
                } else {
                    t
                };
                (t, bucket)
            }
        };
        let min = self.sub_of(self.cfg.min_delay);
        let max = self.sub_of(self.cfg.max_delay);
        (t.clamp(min, max.max(min)), tol)
    }

    /// Target delay `m*` for the current state (sub-samples), given the
    /// current delay `m`.
    fn target_sub(&mut self, m: i64, head_ts: Option<i64>) -> i64 {
        let (allow, tol) = self.allowance_sub();
        let f = self.frame_samples.max(1) as i64;
        let p = if self.packet_samples > 0 {
            self.packet_samples as i64
        } else {
            f
        };
        let g = gcd(f, p).max(1);
        let play = self.play_ts();
        let boundary = match head_ts {
            Some(h) if h > self.pcm_end_ts => h,
            _ => self.pcm_end_ts,
        };
        let k0 = (boundary - play).max(0);
        let c = k0.rem_euclid(g) * SUB;
        let g_sub = g * SUB;
        let base = m - c;
        let need = allow + (f - g) * SUB - tol;
        let n = (need - base).div_euclid(g_sub) + i64::from((need - base).rem_euclid(g_sub) != 0);
        base + n * g_sub
    }

    fn head_ts(&self, idx: Option<usize>) -> Option<i64> {
        idx.and_then(|i| self.slots.get(i)).map(|s| s.ts)
    }

    /// Append `n` frames produced by `f` (which fills the slice it gets) to
    /// the decoded audio. On failure nothing is appended.
    fn append_with<F>(&mut self, n: usize, f: F) -> std::result::Result<usize, ()>
    where
        F: FnOnce(&mut D, &mut [i16]) -> Result<usize>,
    {
        self.compact_pcm();
        let len = self.pcm.len();
        let add = n * self.ch;
        if len + add > self.pcm_cap {
            return Err(());
        }
        self.pcm.resize(len + add, 0);
        let out = self.pcm.get_mut(len..).unwrap_or_default();
        match f(&mut self.decoder, out) {
            Ok(_) => Ok(n),
            Err(_) => {
                self.pcm.truncate(len);
                Err(())
            }
        }
    }

    fn round_up(&self, n: usize) -> usize {
        n.div_ceil(self.gran) * self.gran
    }

    /// Conceal `n` frames (rounded up to the codec's granularity); returns
    /// the frames appended (silence if the decoder failed, 0 if no room).
    fn conceal_frames(&mut self, n: usize) -> usize {
        let n = self.round_up(n.max(1)).min(MAX_PACKET);
        match self.append_with(n, |d, out| d.conceal(out)) {
            Ok(k) => k,
            Err(()) => self.append_with(n, |_, _| Ok(n)).unwrap_or(0),
        }
    }

    /// Move packet-start markers at or after `from` by `by` frames (later if
    /// `later`, else earlier; markers before `from` that would pass 0 are
    /// dropped).
    fn shift_markers(&mut self, from: usize, by: usize, later: bool) {
        for m in self.markers.iter_mut() {
            if m.0 >= from {
                if later {
                    m.0 += by;
                } else {
                    m.0 -= by.min(m.0);
                }
            }
        }
    }

    /// The first `n` frames of decoded audio are gone (played or dropped).
    fn drop_front_markers(&mut self, n: usize) {
        while self.markers.front().is_some_and(|&(pos, _)| pos < n) {
            self.markers.pop_front();
        }
        self.shift_markers(0, n, false);
    }

    /// Sequence numbers strictly between `last` and `seq` that were neither
    /// received (as far as playout knows) nor announced as non-audio.
    fn missing_between(&self, last: i64, seq: i64) -> i64 {
        let gap = (seq - last - 1).max(0);
        if gap == 0 {
            return 0;
        }
        let known = self
            .non_audio
            .iter()
            .filter(|&&x| x > last && x < seq)
            .count() as i64;
        (gap - known).max(0)
    }

    /// Whether every sequence number received after the last decoded one
    /// carried no audio (and there is one): the sender is sending a DTMF
    /// event instead of audio.
    fn in_non_audio_span(&self) -> bool {
        match (self.last_decoded_seq, self.high_seq) {
            (Some(last), Some((_, high))) => {
                high > last && self.missing_between(last, high + 1) == 0
            }
            _ => false,
        }
    }

    /// Whether the timeline gap between the last decoded packet and a
    /// packet (`seq`, `ts`, `marker`) is the sender's silence rather than
    /// loss: it starts a talkspurt (marker bit) not before the decoded
    /// audio's end, or its timestamp is past that end and either no
    /// sequence number is missing in between
    /// (DTX, silence suppression, hold with contiguous numbering, DTMF
    /// events announced by [`JitterBuffer::insert_non_audio`]), or the
    /// timestamps advanced at least two packet times more than the missing
    /// sequence numbers account for (the sender stopped sending, and the
    /// packets around the silence were lost too).
    fn sender_silent(&self, seq: i64, ts: i64, marker: bool) -> bool {
        let Some(last) = self.last_decoded_seq else {
            return false;
        };
        if ts < self.last_decoded_end || (ts == self.last_decoded_end && !marker) {
            return false;
        }
        let missing = self.missing_between(last, seq);
        let p = self.packet_samples.max(1) as i64;
        let excess = ts - self.last_decoded_end - missing.saturating_mul(p);
        marker || missing == 0 || excess >= 2 * p
    }

    /// Stall length (samples) after which playout pauses: 0 when the
    /// engine said media stopped, else the longest of [`PAUSE_AFTER`],
    /// three frames and the target delay before the stall.
    fn pause_after(&self) -> u64 {
        if !self.active {
            return 0;
        }
        let base = Self::samples_of(self.rate, PAUSE_AFTER) as u64;
        let frames = 3 * self.frame_samples as u64;
        let target = (self.pre_stall_target.max(0) / SUB) as u64;
        base.max(frames).max(target)
    }

    /// A packet `h` is there to play after a pause: end it. If the gap was
    /// the sender's (see `sender_silent`, or the engine said so), the pause
    /// stays silence and the silence queued is dropped so that playout
    /// re-anchors at the target; else (a delay spike or a loss burst) the
    /// pause was concealment after all.
    fn end_pause(&mut self, h: usize) {
        self.paused = false;
        let silent = self.pause_known
            || self
                .slots
                .get(h)
                .is_some_and(|s| self.sender_silent(s.seq, s.ts, s.marker));
        if silent {
            self.pcm.clear();
            self.pcm_off = 0;
            self.markers.clear();
            // The concealment before the pause was the fade into silence.
            let moved = self.pending_stall.min(self.stats.samples_concealed);
            self.stats.samples_concealed -= moved;
            self.stats.samples_comfort_noise += moved;
            self.pending_stall = 0;
        } else {
            let moved = self.pause_samples.min(self.stats.samples_paused);
            self.stats.samples_paused -= moved;
            self.stats.samples_concealed += moved;
        }
        self.pause_known = false;
        self.pause_samples = 0;
    }

    /// Account one decoded packet after `missing` lost ones in the recent
    /// rate of FEC-recoverable losses (the last of them is recoverable if
    /// this packet carries FEC), and decide whether to wait for FEC.
    fn update_loss_rate(&mut self, missing: i32, carries_fec: bool) {
        let keep = 1.0 - 1.0 / LOSS_WINDOW_PACKETS;
        // The losses (a 1 for the recoverable one, a 0 for the others),
        // then this packet (a 0).
        let recoverable = missing > 0 && carries_fec;
        self.loss_rate *= if missing == 0 {
            keep
        } else {
            keep.powi(missing.saturating_add(1))
        };
        if recoverable {
            self.loss_rate += (1.0 / LOSS_WINDOW_PACKETS) * keep;
        }
        self.fec_waiting = self.cfg.fec_delay
            && if self.fec_waiting {
                self.loss_rate >= FEC_LOSS_OFF
            } else {
                self.loss_rate > FEC_LOSS_ON
            };
    }

    fn decode_slot(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        slot.used = false;
        let (seq, ts, n, marker) = (slot.seq, slot.ts, slot.samples, slot.marker);
        let payload = std::mem::take(&mut slot.payload);
        let ch = self.ch;
        // Decode into scratch, then copy (the decoder may write less).
        let res = self.decoder.decode(&payload, &mut self.scratch);
        let cn = self.decoder.is_comfort_noise(&payload);
        if let Some(slot) = self.slots.get_mut(idx) {
            slot.payload = payload;
        }
        match res {
            Ok(_) => {
                self.compact_pcm();
                let len = self.pcm.len();
                if len + n * ch <= self.pcm_cap {
                    let pos = self.pcm_frames();
                    if self.markers.len() >= MARKERS {
                        self.markers.pop_front();
                    }
                    self.markers.push_back((pos, ts));
                    let src = self.scratch.get(..n * ch).unwrap_or_default();
                    self.pcm.extend_from_slice(src);
                }
            }
            Err(_) => {
                self.stats.decode_errors += 1;
                let k = self.conceal_frames(n);
                self.stats.samples_concealed += k as u64;
            }
        }
        if let Some(last) = self.last_decoded_seq {
            let missing = self.missing_between(last, seq);
            if missing > 0 {
                self.stats.packets_missing += missing.min(1 << 20) as u64;
            }
            if self.cfg.fec_delay {
                let fec = missing > 0
                    && self
                        .slots
                        .get(idx)
                        .is_some_and(|s| self.decoder.has_fec(&s.payload));
                // Nothing to forget nor to add (codecs without FEC).
                if fec || self.loss_rate > 0.0 {
                    self.update_loss_rate(missing.clamp(0, 1000) as i32, fec);
                }
            }
            // An underrun followed by a packet whose timestamp gap the
            // sequence numbers do not account for was silence (DTX, silence
            // suppression, hold), not loss.
            if self.pending_stall > 0 && self.sender_silent(seq, ts, marker) {
                let moved = self.pending_stall.min(self.stats.samples_concealed);
                self.stats.samples_concealed -= moved;
                self.stats.samples_comfort_noise += moved;
            }
        }
        self.pending_stall = 0;
        self.stall_samples = 0;
        self.pcm_end_ts = ts + n as i64;
        self.last_decoded_end = self.pcm_end_ts;
        self.packet_samples = n;
        self.last_decoded_seq = Some(seq);
        self.last_was_cn = cn;
        if let Some(p) = self.played.get_mut(self.played_pos % PLAYED_RING) {
            *p = seq;
        }
        self.played_pos = (self.played_pos + 1) % PLAYED_RING;
    }

    /// Produce the next output frame at playout tick `now` into `out`
    /// (interleaved, `channels()` channels; any length up to 120 ms, usually
    /// 10 or 20 ms). Always fills `out`; returns what it holds.
    pub fn get_frame(&mut self, now: Instant, out: &mut [i16]) -> Result<FrameKind> {
        let ch = self.ch;
        if out.is_empty() || !out.len().is_multiple_of(ch) || out.len() / ch > MAX_PACKET {
            return Err(CodecError::InvalidFrameSize {
                samples: out.len(),
                channels: ch,
            });
        }
        let f = out.len() / ch;
        self.frame_samples = f;
        let t = self.t_sub(now);
        self.stats.frames += 1;
        self.stats.samples_out += f as u64;

        if !self.have_timeline {
            out.fill(0);
            self.stats.samples_waiting += f as u64;
            return Ok(FrameKind::Waiting);
        }
        let mut head = self.head();
        let m = self.current_delay_sub(t);
        let target = self.target_sub(m, self.head_ts(head));
        self.last_delay = m;
        self.last_target = target;
        if !self.started {
            if m < target || head.is_none() {
                out.fill(0);
                self.stats.samples_waiting += f as u64;
                return Ok(FrameKind::Waiting);
            }
            self.started = true;
        }

        // Far too much delay with a backlog queued (e.g. after a long outage
        // the backlog arrived at once): drop audio now rather than stretching
        // for seconds. Never skip past the newest queued packet.
        if m - target > self.sub_of(CATCH_UP) {
            let newest_end = self
                .slots
                .iter()
                .filter(|s| s.used)
                .map(|s| s.ts + s.samples as i64)
                .max()
                .unwrap_or(self.pcm_end_ts);
            let backlog = newest_end - self.play_ts() - self.packet_samples as i64;
            let skip = ((m - target) / SUB).min(backlog).max(0) as usize;
            if skip > 0 {
                let have = self.pcm_frames();
                if skip <= have {
                    self.pcm_off += skip * ch;
                    self.drop_front_markers(skip);
                } else {
                    self.pcm.clear();
                    self.pcm_off = 0;
                    self.markers.clear();
                    self.pcm_end_ts += (skip - have) as i64;
                }
                self.stats.samples_skipped += skip as u64;
                self.stats.catch_ups += 1;
                head = self.head();
            }
        }

        let mut kind = FrameKind::Normal;
        let mut guard = 0;
        // Timeline position of this frame's first sample: the first audio
        // appended to an empty buffer starts at `pcm_end_ts` (an underrun's
        // concealment does not advance it).
        let mut frame_ts = (self.pcm_frames() > 0).then(|| self.play_ts());
        while self.pcm_frames() < f && guard < 64 {
            guard += 1;

            let Some(h) = head else {
                // Underrun: conceal without advancing.
                frame_ts.get_or_insert(self.pcm_end_ts);
                let want = f - self.pcm_frames();
                // The sender said silence follows (DTX), or every sequence
                // number after the last decoded one carried no audio (a
                // DTMF event): comfort noise, not concealment, no pause.
                let cn = (self.last_was_cn || self.in_non_audio_span()) && self.active;
                let limit = if cn {
                    self.pause_after()
                        .max(Self::samples_of(self.rate, PAUSE_AFTER_CN) as u64)
                } else {
                    self.pause_after()
                };
                if !self.paused && self.stall_samples >= limit {
                    self.paused = true;
                    self.pause_known = !self.active;
                    self.pause_samples = 0;
                    self.stats.pauses += 1;
                }
                if self.paused {
                    let k = if self.pause_samples == 0 {
                        // Fade the concealment out over this frame.
                        let len = self.pcm.len();
                        let k = self.conceal_frames(want);
                        let ch = self.ch;
                        if let Some(faded) = self.pcm.get_mut(len..) {
                            let n = (faded.len() / ch).max(1) as i32;
                            for (i, frame) in faded.chunks_mut(ch).enumerate() {
                                let g = n - (i as i32).min(n);
                                for x in frame {
                                    *x = (i32::from(*x) * g / n) as i16;
                                }
                            }
                        }
                        k
                    } else {
                        self.append_with(want, |_, _| Ok(want)).unwrap_or(0)
                    };
                    self.stats.samples_paused += k as u64;
                    self.pause_samples += k as u64;
                    self.stall_samples += k as u64;
                    self.stats.underruns += 1;
                    kind = FrameKind::Paused;
                    if k == 0 {
                        break;
                    }
                    continue;
                }
                let k = self.conceal_frames(want);
                self.stall_samples += k as u64;
                if cn || self.last_was_cn {
                    self.stats.samples_comfort_noise += k as u64;
                    if kind == FrameKind::Normal {
                        kind = FrameKind::ComfortNoise;
                    }
                } else {
                    self.stats.samples_concealed += k as u64;
                    self.pending_stall += k as u64;
                    kind = FrameKind::Concealed;
                }
                self.stats.underruns += 1;
                if k == 0 {
                    break;
                }
                continue;
            };
            if self.paused {
                self.end_pause(h);
            }
            let Some((h_ts, h_seq, h_marker)) = self.slots.get(h).map(|s| (s.ts, s.seq, s.marker))
            else {
                break;
            };
            if h_ts == self.pcm_end_ts {
                frame_ts.get_or_insert(self.pcm_end_ts);
                self.decode_slot(h);
                head = self.head();
                continue;
            }
            // A gap before the head packet.
            let gap = (h_ts - self.pcm_end_ts) as usize;
            let missing = self
                .last_decoded_seq
                .map_or(1, |s| self.missing_between(s, h_seq));
            let silence =
                missing == 0 || self.last_was_cn || self.sender_silent(h_seq, h_ts, h_marker);
            let m = self.current_delay_sub(t);
            let target = self.target_sub(m, Some(h_ts));
            if self.pcm_frames() == 0 && m > target {
                let jump = (((m - target) / SUB) as usize).min(gap);
                if jump > 0 {
                    self.pcm_end_ts += jump as i64;
                    self.stats.samples_skipped += jump as u64;
                    continue;
                }
            }
            frame_ts.get_or_insert(self.pcm_end_ts);
            if m < target {
                // Below target: conceal without advancing.
                let k = self.conceal_frames(f - self.pcm_frames());
                if silence {
                    self.stats.samples_comfort_noise += k as u64;
                    if kind == FrameKind::Normal {
                        kind = FrameKind::ComfortNoise;
                    }
                } else {
                    self.stats.samples_concealed += k as u64;
                    kind = FrameKind::Concealed;
                }
                if k == 0 {
                    break;
                }
                continue;
            }
            // Conceal one missing packet's worth and advance.
            let per = if missing > 0 {
                (gap / (missing as usize)).max(1)
            } else {
                self.packet_samples.max(1)
            };
            // One packet's worth at a time (timestamps may be garbage).
            let n = gap.min(per).min(self.packet_samples.max(f));
            let nr = self.round_up(n).min(MAX_PACKET);
            let k = if silence {
                let k = self.conceal_frames(nr);
                self.stats.samples_comfort_noise += k as u64;
                if kind == FrameKind::Normal {
                    kind = FrameKind::ComfortNoise;
                }
                k
            } else {
                let payload = self
                    .slots
                    .get_mut(h)
                    .map(|s| std::mem::take(&mut s.payload))
                    .unwrap_or_default();
                let fec = n == gap;
                let mut k = 0;
                if fec {
                    let got = self.append_with(nr, |d, out| match d.decode_fec(&payload, out) {
                        Ok(Some(k)) => Ok(k),
                        Ok(None) => Err(CodecError::InvalidPacket("no FEC")),
                        Err(e) => Err(e),
                    });
                    if let Ok(got) = got {
                        self.stats.fec_recovered += 1;
                        // Without LBRR in the next packet libopus' FEC
                        // decode is its PLC.
                        if !self.decoder.has_fec(&payload) {
                            self.stats.fec_without_redundancy += 1;
                        }
                        k = got;
                    }
                }
                if let Some(s) = self.slots.get_mut(h) {
                    s.payload = payload;
                }
                if k == 0 {
                    k = self.conceal_frames(nr);
                }
                self.stats.samples_concealed += k as u64;
                kind = FrameKind::Concealed;
                k
            };
            if k == 0 {
                break;
            }
            self.pcm_end_ts += n as i64;
        }

        // Decode ahead what is already here, for the stretch lookahead.
        let lag_max = Self::samples_of(self.rate, LAG_MAX);
        let lag_min = Self::samples_of(self.rate, LAG_MIN).max(1);
        while self.pcm_frames() < f + 2 * lag_max {
            let Some(h) = head else { break };
            let Some((h_ts, n)) = self.slots.get(h).map(|s| (s.ts, s.samples)) else {
                break;
            };
            if h_ts != self.pcm_end_ts
                || (self.pcm.len() - self.pcm_off + n * ch) > self.pcm_cap / 2
            {
                break;
            }
            self.decode_slot(h);
            head = self.head();
        }

        // Time stretch.
        if self.cfg.time_stretch && self.pcm_frames() >= f && matches!(kind, FrameKind::Normal) {
            let m = self.current_delay_sub(t);
            let target = self.target_sub(m, self.head_ts(head));
            let have = self.pcm_frames();
            let step = (self.rate as usize / 12_000).max(1);
            let tiny = Self::samples_of(self.rate, LAG_TINY).max(1);
            if m - target >= tiny as i64 * SUB {
                let room = ((m - target) / SUB) as usize;
                let hi = lag_max.min(room).min(have.saturating_sub(f)).min(have / 2);
                let region = self.pcm.get(self.pcm_off..).unwrap_or_default();
                let mut lag = None;
                let mut splice = None;
                if self.stretch_backoff > 0 {
                    // The last search found nothing: let the audio change.
                    self.stretch_backoff -= 1;
                } else {
                    if hi >= lag_min
                        && let Some(l) = stretch::best_lag(region, ch, lag_min, hi, step)
                    {
                        if l.corr >= ACCEL_CORR {
                            // The largest multiple of the period that still
                            // correlates gets closest to the target.
                            let mut best = l.lag;
                            let mut k = 2;
                            while l.lag * k <= hi {
                                if stretch::correlation(region, ch, l.lag * k) >= ACCEL_CORR {
                                    best = l.lag * k;
                                }
                                k += 1;
                            }
                            lag = Some(best);
                        } else if l.power < stretch::QUIET_POWER {
                            lag = Some(hi);
                        }
                    }
                    // Less than a pitch period to go: at once in quiet audio.
                    if lag.is_none()
                        && hi >= tiny
                        && hi < lag_min.max(tiny + 1)
                        && stretch::power(region, ch, 2 * hi) < stretch::QUIET_POWER
                    {
                        lag = Some(hi);
                    }
                    if lag.is_none() && hi >= tiny {
                        // Loud audio that does not repeat within the range
                        // (noise-like, or less than a period to remove).
                        self.stretch_fails = self.stretch_fails.saturating_add(1);
                        self.stretch_backoff = STRETCH_BACKOFF;
                        if self.stretch_fails >= FORCE_SPLICE_AFTER {
                            // Remove the excess anyway: one splice with a
                            // cross-fade of at least LAG_MIN, equal-power
                            // when the two sides do not correlate.
                            let fade = hi.max(lag_min).min(have.saturating_sub(hi));
                            let corr = stretch::correlation_span(region, ch, hi, fade);
                            splice = Some((hi, fade, corr < 0.5));
                        }
                    }
                }
                if let Some(lag) = lag
                    && stretch::accelerate(&mut self.pcm, self.pcm_off, ch, lag)
                {
                    self.stretch_fails = 0;
                    self.shift_markers(lag, lag, false);
                    self.stats.accelerate_ops += 1;
                    self.stats.samples_accelerated += lag as u64;
                    if kind == FrameKind::Normal {
                        kind = FrameKind::Accelerated;
                    }
                } else if let Some((drop, fade, equal_power)) = splice
                    && stretch::splice(&mut self.pcm, self.pcm_off, ch, drop, fade, equal_power)
                {
                    // Stay ready to splice again after the back-off if the
                    // audio still does not stretch.
                    self.shift_markers(fade, drop, false);
                    self.stats.accelerate_ops += 1;
                    self.stats.samples_accelerated += drop as u64;
                    if kind == FrameKind::Normal {
                        kind = FrameKind::Accelerated;
                    }
                }
            } else if m < target {
                self.stretch_fails = 0;
                if self.stretch_backoff > 0 {
                    self.stretch_backoff -= 1;
                } else {
                    let hi = lag_max.min(have / 2);
                    let short = m < target - 10 * i64::from(self.rate);
                    let region = self.pcm.get(self.pcm_off..).unwrap_or_default();
                    if hi >= lag_min
                        && self.pcm.len() + hi * ch <= self.pcm_cap
                        && let Some(l) = stretch::best_lag(region, ch, lag_min, hi, step)
                        && (l.corr >= EXPAND_CORR || l.power < stretch::QUIET_POWER || short)
                        && stretch::expand(&mut self.pcm, self.pcm_off, ch, l.lag)
                    {
                        self.shift_markers(l.lag, l.lag, true);
                        self.stats.expand_ops += 1;
                        self.stats.samples_expanded += l.lag as u64;
                        if kind == FrameKind::Normal {
                            kind = FrameKind::Expanded;
                        }
                    } else if hi >= lag_min {
                        self.stretch_backoff = STRETCH_BACKOFF;
                    }
                }
            } else {
                // At target: nothing to search for.
                self.stretch_fails = 0;
                self.stretch_backoff = 0;
            }
        }

        // Output. The delay and target reported are those of this frame's
        // first sample.
        let fts = frame_ts.unwrap_or_else(|| self.play_ts());
        self.last_frame_ts = Some(fts);
        let m = match self.delay.min_transit() {
            Some(min) => t
                .saturating_sub(fts.saturating_mul(SUB))
                .saturating_sub(min),
            None => 0,
        };
        let h = self.head_ts(head);
        let target = self.target_sub(m, h);
        if self.paused {
            // A pause is not playout delay: report the delay and target of
            // before the stall.
            self.last_delay = self.pre_stall_delay;
            self.last_target = self.pre_stall_target;
        } else {
            self.last_delay = m;
            self.last_target = target;
            if self.stall_samples == 0 {
                self.pre_stall_delay = m;
                self.pre_stall_target = target;
            }
        }
        let allow = self.allowance_sub().0;
        self.stats.jitter_allowance = self.duration_of_sub(allow);
        let have = self.pcm_frames();
        let take = have.min(f);
        let src = self
            .pcm
            .get(self.pcm_off..self.pcm_off + take * ch)
            .unwrap_or_default();
        if let Some(dst) = out.get_mut(..take * ch) {
            dst.copy_from_slice(src);
        }
        if let Some(rest) = out.get_mut(take * ch..) {
            rest.fill(0);
        }
        self.pcm_off += take * ch;
        self.last_starts.clear();
        while let Some(&(pos, ts)) = self.markers.front() {
            if pos >= take {
                break;
            }
            self.markers.pop_front();
            self.last_starts.push((ts as u32, pos));
        }
        self.drop_front_markers(take);
        if self.pcm_off >= self.pcm.len() {
            self.markers.clear();
            self.pcm.clear();
            self.pcm_off = 0;
        }
        Ok(kind)
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a.abs()
}

/// Whether `p` is an Opus packet whose first frame carries in-band FEC
/// (LBRR) for the packet before it: the LBRR flag(s) of the SILK layer
/// (RFC 6716 sections 3.1-3.2 for the packet framing, 4.2.3-4.2.4 for the
/// flags, which are the first range-coded bits of the frame at probability
/// one half and so its first byte's top bits; as libopus'
/// `opus_packet_has_lbrr`). CELT-only packets carry none. Anything
/// malformed is `false`.
pub(crate) fn opus_has_lbrr(p: &[u8]) -> bool {
    let Some(&toc) = p.first() else {
        return false;
    };
    let config = toc >> 3;
    if config >= 16 {
        return false;
    }
    // SILK-only configs 0-11: 10/20/40/60 ms; hybrid 12-15: 10/20 ms. One
    // SILK frame per 20 ms (at least one).
    let frame_ms: u32 = if config < 12 {
        [10, 20, 40, 60]
            .get(usize::from(config & 3))
            .copied()
            .unwrap_or(20)
    } else if config & 1 == 0 {
        10
    } else {
        20
    };
    let silk_frames = (frame_ms / 20).max(1);
    let stereo = toc & 0x04 != 0;
    let Some(first) = opus_first_frame(p) else {
        return false;
    };
    let Some(&b) = first.first() else {
        return false;
    };
    let mut lbrr = (b >> (7 - silk_frames)) & 1 != 0;
    if stereo {
        lbrr |= (b >> (6 - 2 * silk_frames)) & 1 != 0;
    }
    lbrr
}

/// The first frame's bytes of an Opus packet (RFC 6716 section 3.2), or
/// `None` if the framing is malformed or the frame empty.
fn opus_first_frame(p: &[u8]) -> Option<&[u8]> {
    let size_at = |i: usize| -> Option<(usize, usize)> {
        let b0 = usize::from(*p.get(i)?);
        if b0 < 252 {
            Some((b0, 1))
        } else {
            Some((b0 + 4 * usize::from(*p.get(i + 1)?), 2))
        }
    };
    let frame = match p.first()? & 3 {
        0 => p.get(1..)?,
        1 => {
            let rest = p.get(1..)?;
            if rest.len() % 2 != 0 {
                return None;
            }
            rest.get(..rest.len() / 2)?
        }
        2 => {
            let (n, k) = size_at(1)?;
            p.get(1 + k..1 + k + n)?
        }
        _ => {
            let h = *p.get(1)?;
            let (vbr, padded, count) = (h & 0x80 != 0, h & 0x40 != 0, usize::from(h & 0x3F));
            if count == 0 {
                return None;
            }
            let mut off = 2;
            let mut pad = 0usize;
            if padded {
                loop {
                    let b = *p.get(off)?;
                    off += 1;
                    if b == 255 {
                        pad += 254;
                    } else {
                        pad += usize::from(b);
                        break;
                    }
                }
            }
            let end = p.len().checked_sub(pad)?;
            if count == 1 {
                p.get(off..end)?
            } else if vbr {
                let (first_len, k) = size_at(off)?;
                off += k;
                for _ in 1..count.saturating_sub(1) {
                    let (_, k) = size_at(off)?;
                    off += k;
                }
                p.get(off..end)?.get(..first_len)?
            } else {
                let body = p.get(off..end)?;
                if body.len() % count != 0 {
                    return None;
                }
                body.get(..body.len() / count)?
            }
        }
    };
    (!frame.is_empty()).then_some(frame)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::testing::SpeechlikeSignal;
    use crate::{Encoder, OpusEncoder, OpusEncoderConfig};

    fn lbrr_share(expected_loss_percent: u8, fec: bool) -> (usize, usize) {
        let mut enc = OpusEncoder::new(&OpusEncoderConfig {
            fec,
            expected_loss_percent,
            ..Default::default()
        })
        .unwrap();
        let sig = SpeechlikeSignal::VOICE_130HZ.samples(48_000, 48_000 * 4, |_| 1.0);
        let mut buf = [0u8; 1500];
        let mut n = 0;
        let mut with = 0;
        for f in sig.chunks_exact(960) {
            let k = enc.encode(f, &mut buf).unwrap();
            n += 1;
            with += usize::from(opus_has_lbrr(&buf[..k]));
        }
        (with, n)
    }

    #[test]
    fn lbrr_flag_of_real_opus_packets() {
        // libopus 1.3 puts LBRR in its SILK-layer frames while it codes
        // super-wideband hybrid (the first ~0.6 s here), not once it moves
        // to fullband hybrid on this steady synthetic voice.
        let (with, n) = lbrr_share(10, true);
        assert!(with >= 20 && with < n, "{with}/{n}");
        let (none, _) = lbrr_share(10, false);
        assert_eq!(none, 0);
    }

    #[test]
    fn lbrr_flag_framing() {
        // SILK WB 20 ms mono (config 9), code 0: LBRR is bit 6 of byte 1.
        assert!(opus_has_lbrr(&[9 << 3, 0x40, 0]));
        assert!(!opus_has_lbrr(&[9 << 3, 0x80, 0]));
        // CELT-only never.
        assert!(!opus_has_lbrr(&[20 << 3, 0xFF]));
        // SILK 40 ms (config 10, two SILK frames): bit 5.
        assert!(opus_has_lbrr(&[10 << 3, 0x20]));
        assert!(!opus_has_lbrr(&[10 << 3, 0x40]));
        // Code 1: two equal frames, the first one's byte.
        assert!(opus_has_lbrr(&[(9 << 3) | 1, 0x40, 0x00]));
        assert!(!opus_has_lbrr(&[(9 << 3) | 1, 0x40, 0x00, 0x00]));
        // Code 2: first frame length 1.
        assert!(opus_has_lbrr(&[(9 << 3) | 2, 1, 0x40, 0x00]));
        assert!(!opus_has_lbrr(&[(9 << 3) | 2, 5, 0x40]));
        // Code 3: CBR, 2 frames, padding 1 byte.
        assert!(opus_has_lbrr(&[(9 << 3) | 3, 0x42, 1, 0x40, 0x00, 0xAA]));
        // Code 3: VBR, 3 frames of sizes 1, 1, rest.
        assert!(opus_has_lbrr(&[(9 << 3) | 3, 0x83, 1, 1, 0x40, 0, 0]));
        // Stereo: the side channel's flag (bit 4 for one SILK frame).
        assert!(opus_has_lbrr(&[(9 << 3) | 4, 0x10]));
        // Malformed.
        for p in [
            &[][..],
            &[9 << 3],
            &[(9 << 3) | 3, 0],
            &[(9 << 3) | 3, 0x41, 255],
        ] {
            assert!(!opus_has_lbrr(p), "{p:?}");
        }
    }
}
