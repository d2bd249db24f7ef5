//! RFC 4733 telephone-events (DTMF): the payload, the sender's schedule
//! and the receiver's de-duplication.
//!
//! Sender: a start packet with the marker bit, an update every interval
//! (the stream's ptime) carrying the growing duration, then the final
//! packet with the E bit three times (§2.5.1.4) at the same update
//! interval, all on the event's start timestamp, each with its own
//! sequence number. Durations are capped at 65535 units of the event's
//! clock (no long-event segmentation: 8.2 s at 8 kHz, 1.36 s at 48 kHz).
//!
//! Receiver: events are keyed by (SSRC, timestamp); each is reported twice
//! and once each way: [`DtmfUpdate::Started`] at its first packet to arrive
//! (so a tone can be played or the audio muted from its start), and
//! [`DtmfUpdate::Ended`] with its duration when its first E packet arrives,
//! when a newer event starts (its end packets were lost), or after
//! [`DtmfReceiver::TIMEOUT`] without any packet. A lost start packet is
//! harmless: any packet opens the event (an E packet alone reports both).
//!
//! # Two clocks: timestamps on the audio clock, durations in the event's
//!
//! The telephone-event's clock rate declared in SDP
//! (`a=rtpmap:101 telephone-event/8000`) may differ from the audio's:
//! Asterisk, Polycom/Yealink phones, older PJSIP and baresip pair
//! `opus/48000/2` with `telephone-event/8000` only, and voipkit-sdp accepts
//! that rather than losing RTP DTMF (its `TelephoneEvent` has both
//! `clock_rate` and `audio_clock_rate`). Then:
//! - **Timestamps** stay on the audio RTP clock. RFC 4733 §2.1: events
//!   MUST use the same timestamp base as the audio stream. A tone starts at
//!   the timestamp the next audio frame would carry, and the audio after it
//!   resumes the tone's length later in audio units (48 kHz with Opus).
//! - **The duration field** is in units of the event's declared rate (800
//!   for 100 ms at `/8000`, even with Opus). The receiver has nothing but
//!   the rtpmap to convert it with. Writing it on the audio clock instead
//!   is what baresip did (baresip/baresip#2062: `/8000` declared, 48 kHz
//!   sent), and FreeSWITCH then played the tones six times too long
//!   (signalwire/freeswitch#1724).
//! - **On receive**, [`DtmfReceiver`] converts durations with the declared
//!   rate; timestamps only key the de-duplication, so a peer on either
//!   convention is de-duplicated the same way.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::DropReason;
use crate::wire;

/// A DTMF digit: RFC 4733 event codes 0..=16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfDigit(u8);

impl DtmfDigit {
    /// From '0'..'9', '*', '#', 'A'..'D' (either case), '!' (flash).
    pub fn from_char(c: char) -> Option<Self> {
        let code = match c.to_ascii_uppercase() {
            d @ '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            d @ 'A'..='D' => d as u8 - b'A' + 12,
            '!' => 16,
            _ => return None,
        };
        Some(Self(code))
    }

    /// From an RFC 4733 event code (0..=16).
    pub fn from_event_code(code: u8) -> Option<Self> {
        (code <= 16).then_some(Self(code))
    }

    /// The RFC 4733 event code.
    pub fn event_code(self) -> u8 {
        self.0
    }

    /// The digit as a character ('!' for flash).
    pub fn to_char(self) -> char {
        match self.0 {
            d @ 0..=9 => char::from(b'0' + d),
            10 => '*',
            11 => '#',
            d @ 12..=15 => char::from(b'A' + d - 12),
            _ => '!',
        }
    }
}

impl std::fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_char())
    }
}

/// A telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code.
    pub event: u8,
    /// End of event.
    pub end: bool,
    /// Volume, 0..=63 (-dBm0).
    pub volume: u8,
    /// Duration in units of the telephone-event's declared clock rate
    /// (module doc).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Payload length.
    pub const LEN: usize = 4;

    /// Parse the first event of a payload.
    pub fn parse(payload: &[u8]) -> Result<Self, DropReason> {
        let event = wire::u8_at(payload, 0).ok_or(DropReason::MalformedDtmf)?;
        let flags = wire::u8_at(payload, 1).ok_or(DropReason::MalformedDtmf)?;
        let duration = wire::u16_at(payload, 2).ok_or(DropReason::MalformedDtmf)?;
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration,
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }
}

/// A digit received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfReport {
    /// The digit.
    pub digit: DtmfDigit,
    /// How long it was held.
    pub duration: Duration,
    /// Its volume (-dBm0).
    pub volume: u8,
}

/// What the receiver tells about one event (digit), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfUpdate {
    /// The event's first packet arrived: the digit is being pressed.
    Started {
        /// The digit.
        digit: DtmfDigit,
        /// Its volume (-dBm0).
        volume: u8,
    },
    /// The event is over.
    Ended(DtmfReport),
}

#[derive(Debug, Clone, Copy)]
struct OpenEvent {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    duration: u16,
    volume: u8,
    last_seen: Instant,
}

/// Turns received telephone-event packets into one start and one end
/// ([`DtmfUpdate`]) per digit.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    clock_rate: u32,
    open: Option<OpenEvent>,
    done: [(u32, u32); 8],
    done_len: usize,
    done_next: usize,
    updates: VecDeque<DtmfUpdate>,
}

impl DtmfReceiver {
    /// An event with no packet for this long is over.
    pub const TIMEOUT: Duration = Duration::from_millis(500);
    const MAX_UPDATES: usize = 32;

    /// A receiver for telephone-events declared at `clock_rate` Hz in SDP
    /// (the rtpmap's rate, which gives the duration's units; module doc).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            open: None,
            done: [(0, 0); 8],
            done_len: 0,
            done_next: 0,
            updates: VecDeque::with_capacity(4),
        }
    }

    fn is_done(&self, ssrc: u32, ts: u32) -> bool {
        self.done
            .iter()
            .take(self.done_len)
            .any(|d| *d == (ssrc, ts))
    }

    fn finish(&mut self, ev: OpenEvent) {
        if let Some(slot) = self.done.get_mut(self.done_next) {
            *slot = (ev.ssrc, ev.timestamp);
        }
        self.done_next = (self.done_next + 1) % self.done.len();
        self.done_len = (self.done_len + 1).min(self.done.len());
        if let Some(digit) = DtmfDigit::from_event_code(ev.event) {
            self.push(DtmfUpdate::Ended(DtmfReport {
                digit,
                duration: Duration::from_secs_f64(
                    f64::from(ev.duration) / f64::from(self.clock_rate),
                ),
                volume: ev.volume,
            }));
        }
    }

    fn start(&mut self, ev: &OpenEvent) {
        if let Some(digit) = DtmfDigit::from_event_code(ev.event) {
            self.push(DtmfUpdate::Started {
                digit,
                volume: ev.volume,
            });
        }
    }

    fn push(&mut self, u: DtmfUpdate) {
        if self.updates.len() >= Self::MAX_UPDATES {
            self.updates.pop_front();
        }
        self.updates.push_back(u);
    }

    /// Feed a telephone-event packet (already authenticated and parsed).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        let ev = TelephoneEvent::parse(payload)?;
        if self.is_done(ssrc, timestamp) {
            return Ok(());
        }
        if let Some(open) = self.open {
            if (open.ssrc, open.timestamp) == (ssrc, timestamp) {
                let mut open = open;
                open.duration = open.duration.max(ev.duration);
                open.volume = ev.volume;
                open.last_seen = now;
                if ev.end {
                    self.open = None;
                    self.finish(open);
                } else {
                    self.open = Some(open);
                }
                return Ok(());
            }
            if open.ssrc == ssrc && (timestamp.wrapping_sub(open.timestamp) as i32) < 0 {
                // A stale packet of an older event.
                return Ok(());
            }
            // A new event: the open one lost its end packets.
            self.open = None;
            self.finish(open);
        }
        let new = OpenEvent {
            ssrc,
            timestamp,
            event: ev.event,
            duration: ev.duration,
            volume: ev.volume,
            last_seen: now,
        };
        self.start(&new);
        if ev.end {
            self.finish(new);
        } else {
            self.open = Some(new);
        }
        Ok(())
    }

    /// Close an event that went quiet.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(open) = self.open
            && now >= open.last_seen + Self::TIMEOUT
        {
            self.open = None;
            self.finish(open);
        }
    }

    /// When [`DtmfReceiver::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.open.map(|o| o.last_seen + Self::TIMEOUT)
    }

    /// The next start or end of a digit, in the order they happened.
    pub fn poll_update(&mut self) -> Option<DtmfUpdate> {
        self.updates.pop_front()
    }
}

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DtmfPacket {
    pub event: TelephoneEvent,
    pub marker: bool,
    pub timestamp: u32,
}

#[derive(Debug, Clone, Copy)]
struct Tone {
    digit: DtmfDigit,
    volume: u8,
    total: u16,
    start_ts: Option<u32>,
    sent: u32,
    ends_sent: u8,
    next_at: Instant,
}

/// The RFC 4733 sender schedule: timestamps on the audio clock, durations
/// at the event's declared rate (module doc).
#[derive(Debug, Clone)]
pub(crate) struct DtmfSender {
    /// The audio stream's RTP clock (timestamps).
    audio_clock_rate: u32,
    /// The telephone-event's declared clock (duration field).
    event_clock_rate: u32,
    interval: Duration,
    queue: VecDeque<(DtmfDigit, Duration, u8)>,
    active: Option<Tone>,
    not_before: Option<Instant>,
}

/// Silence between the last end packet of one digit and the next digit.
const INTER_DIGIT_GAP: Duration = Duration::from_millis(50);
const MAX_QUEUED: usize = 64;

impl DtmfSender {
    pub fn new(audio_clock_rate: u32, event_clock_rate: u32, interval: Duration) -> Self {
        Self {
            audio_clock_rate: audio_clock_rate.max(1),
            event_clock_rate: event_clock_rate.max(1),
            interval: interval.max(Duration::from_millis(5)),
            queue: VecDeque::new(),
            active: None,
            not_before: None,
        }
    }

    pub fn enqueue(
        &mut self,
        now: Instant,
        digit: DtmfDigit,
        duration: Duration,
        volume: u8,
    ) -> bool {
        if self.queue.len() >= MAX_QUEUED {
            return false;
        }
        if self.not_before.is_none() {
            self.not_before = Some(now);
        }
        self.queue.push_back((digit, duration, volume.min(63)));
        true
    }

    /// Forget the queued digits and the one being sent.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.active = None;
        self.not_before = None;
    }

    /// A tone (or its end packets) is being sent.
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.active {
            Some(t) => Some(t.next_at),
            None if !self.queue.is_empty() => self.not_before,
            None => None,
        }
    }

    /// `d` in units of the event's declared clock.
    fn event_units(&self, d: Duration) -> u64 {
        (d.as_secs_f64() * f64::from(self.event_clock_rate)).round() as u64
    }

    /// A duration in event units, in audio clock units.
    fn to_audio_units(&self, event_units: u16) -> u32 {
        let audio = (u64::from(event_units) * u64::from(self.audio_clock_rate)
            + u64::from(self.event_clock_rate) / 2)
            / u64::from(self.event_clock_rate);
        u32::try_from(audio).unwrap_or(u32::MAX)
    }

    /// The next packet due at `now`. `media_ts` is the timestamp the next
    /// audio frame would carry (a new tone starts there). Returns the packet
    /// and, when the digit's last packet went out, its digit and the audio
    /// timestamp where the tone ends.
    pub fn poll(
        &mut self,
        now: Instant,
        media_ts: u32,
    ) -> Option<(DtmfPacket, Option<(DtmfDigit, u32)>)> {
        if self.active.is_none() {
            if self.not_before.is_some_and(|t| now < t) {
                return None;
            }
            let (digit, duration, volume) = self.queue.pop_front()?;
            let total = self.event_units(duration).clamp(1, u64::from(u16::MAX)) as u16;
            self.active = Some(Tone {
                digit,
                volume,
                total,
                start_ts: None,
                sent: 0,
                ends_sent: 0,
                next_at: now,
            });
        }
        let step = self.event_units(self.interval).max(1);
        let tone = self.active.as_mut()?;
        if now < tone.next_at {
            return None;
        }
        let start_ts = *tone.start_ts.get_or_insert(media_ts);
        let marker = tone.sent == 0;
        let elapsed = step * (u64::from(tone.sent) + 1);
        let (duration, end) = if elapsed < u64::from(tone.total) && tone.ends_sent == 0 {
            (elapsed as u16, false)
        } else {
            (tone.total, true)
        };
        tone.sent += 1;
        tone.next_at = now + self.interval;
        let pkt = DtmfPacket {
            event: TelephoneEvent {
                event: tone.digit.event_code(),
                end,
                volume: tone.volume,
                duration,
            },
            marker,
            timestamp: start_ts,
        };
        let mut finished = None;
        if end {
            tone.ends_sent += 1;
            if tone.ends_sent >= 3 {
                let total = tone.total;
                finished = Some((
                    tone.digit,
                    start_ts.wrapping_add(self.to_audio_units(total)),
                ));
                self.active = None;
                self.not_before = Some(now + INTER_DIGIT_GAP);
            }
        }
        Some((pkt, finished))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        for (c, code) in [
            ('0', 0),
            ('9', 9),
            ('*', 10),
            ('#', 11),
            ('a', 12),
            ('D', 15),
        ] {
            let d = DtmfDigit::from_char(c).unwrap();
            assert_eq!(d.event_code(), code);
            assert_eq!(d.to_char(), c.to_ascii_uppercase());
        }
        assert!(DtmfDigit::from_char('x').is_none());
        assert!(DtmfDigit::from_event_code(17).is_none());
        let e = TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()), Ok(e));
        assert_eq!(e.to_bytes(), [5, 0x8a, 0x03, 0x20]);
        assert!(TelephoneEvent::parse(&[1, 2, 3]).is_err());
    }

    #[test]
    fn sender_schedule() {
        let t0 = Instant::now();
        let mut s = DtmfSender::new(8000, 8000, Duration::from_millis(20));
        assert!(s.enqueue(
            t0,
            DtmfDigit::from_char('5').unwrap(),
            Duration::from_millis(100),
            10
        ));
        let mut pkts = Vec::new();
        let mut now = t0;
        let mut finished = None;
        for _ in 0..20 {
            while let Some((p, f)) = s.poll(now, 4000) {
                pkts.push((now - t0, p));
                if f.is_some() {
                    finished = f;
                }
            }
            now += Duration::from_millis(20);
        }
        // 4 updates (160..640), then 3 end packets with 800.
        let durs: Vec<_> = pkts.iter().map(|(_, p)| p.event.duration).collect();
        assert_eq!(durs, vec![160, 320, 480, 640, 800, 800, 800]);
        assert!(pkts[0].1.marker);
        assert!(pkts[1..].iter().all(|(_, p)| !p.marker));
        assert!(pkts.iter().all(|(_, p)| p.timestamp == 4000));
        assert_eq!(pkts.iter().filter(|(_, p)| p.event.end).count(), 3);
        assert_eq!(pkts[6].0, Duration::from_millis(120));
        assert_eq!(finished.unwrap().1, 4800);
    }

    #[test]
    fn sender_durations_at_event_rate_timestamps_at_audio_rate() {
        // Opus (48 kHz) with telephone-event/8000.
        let t0 = Instant::now();
        let mut s = DtmfSender::new(48_000, 8000, Duration::from_millis(20));
        assert!(s.enqueue(
            t0,
            DtmfDigit::from_char('7').unwrap(),
            Duration::from_millis(100),
            10
        ));
        let mut pkts = Vec::new();
        let mut finished = None;
        let mut now = t0;
        for _ in 0..20 {
            while let Some((p, f)) = s.poll(now, 96_000) {
                pkts.push(p);
                finished = finished.or(f);
            }
            now += Duration::from_millis(20);
        }
        let durs: Vec<_> = pkts.iter().map(|p| p.event.duration).collect();
        assert_eq!(durs, vec![160, 320, 480, 640, 800, 800, 800]);
        assert!(pkts.iter().all(|p| p.timestamp == 96_000));
        // The tone ends 100 ms later on the audio clock: 4800 at 48 kHz.
        assert_eq!(finished.unwrap().1, 96_000 + 4800);
    }

    fn pkt(ev: u8, end: bool, dur: u16) -> [u8; 4] {
        TelephoneEvent {
            event: ev,
            end,
            volume: 10,
            duration: dur,
        }
        .to_bytes()
    }

    #[test]
    fn receiver_dedupes_and_survives_loss() {
        let t0 = Instant::now();
        let mut r = DtmfReceiver::new(8000);
        let updates = |r: &mut DtmfReceiver| -> Vec<String> {
            std::iter::from_fn(|| r.poll_update())
                .map(|u| match u {
                    DtmfUpdate::Started { digit, .. } => format!("+{digit}"),
                    DtmfUpdate::Ended(rep) => {
                        format!("-{}/{}", rep.digit, rep.duration.as_millis())
                    }
                })
                .collect()
        };
        // Normal: updates then three ends; started at the first packet.
        r.handle_packet(t0, 1, 1000, &pkt(1, false, 160)).unwrap();
        assert_eq!(updates(&mut r), ["+1"]);
        for (d, e) in [(320, false), (800, true), (800, true), (800, true)] {
            r.handle_packet(t0, 1, 1000, &pkt(1, e, d)).unwrap();
        }
        assert_eq!(updates(&mut r), ["-1/100"]);
        // Lost start: the first update starts it.
        r.handle_packet(t0, 1, 3000, &pkt(2, false, 480)).unwrap();
        r.handle_packet(t0, 1, 3000, &pkt(2, false, 560)).unwrap();
        assert_eq!(updates(&mut r), ["+2"]);
        r.handle_packet(t0, 1, 3000, &pkt(2, true, 640)).unwrap();
        assert_eq!(updates(&mut r), ["-2/80"]);
        // Lost ends: the next digit closes it, then starts.
        r.handle_packet(t0, 1, 5000, &pkt(3, false, 160)).unwrap();
        r.handle_packet(t0, 1, 5000, &pkt(3, false, 320)).unwrap();
        r.handle_packet(t0, 1, 7000, &pkt(4, false, 160)).unwrap();
        assert_eq!(updates(&mut r), ["+3", "-3/40", "+4"]);
        // Late end of '3' after '4' started: ignored.
        r.handle_packet(t0, 1, 5000, &pkt(3, true, 800)).unwrap();
        assert!(r.poll_update().is_none());
        // Lost ends and nothing follows: timeout.
        assert!(r.poll_timeout().is_some());
        r.handle_timeout(t0 + DtmfReceiver::TIMEOUT);
        assert_eq!(updates(&mut r), ["-4/20"]);
        assert!(r.poll_timeout().is_none());
        // Only an end packet arrived: started and ended; its repeats are
        // de-duplicated.
        for _ in 0..3 {
            r.handle_packet(t0, 1, 9000, &pkt(11, true, 800)).unwrap();
        }
        assert_eq!(updates(&mut r), ["+#", "-#/100"]);
        // The same timestamp from another SSRC is another event.
        r.handle_packet(t0, 2, 9000, &pkt(11, false, 160)).unwrap();
        assert_eq!(updates(&mut r), ["+#"]);
        assert!(r.handle_packet(t0, 1, 9000, &[1]).is_err());
    }
}
