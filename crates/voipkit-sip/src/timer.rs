//! RFC 3261 timer values and the deadline set the core keeps (an ordered
//! map, never sleeping tasks).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The base timer values of RFC 3261 §17.1.1.1 / table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate, default 500 ms.
    pub t1: Duration,
    /// Largest retransmit interval for non-INVITE requests and INVITE
    /// responses, default 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, default 5 s.
    pub t4: Duration,
    /// Timer D on unreliable transports (at least 32 s), default 32 s.
    pub timer_d: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
        }
    }
}

impl TimerConfig {
    /// 64*T1: timers B, F, H, J, L, M and the 2xx retransmission limit.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }
}

/// A key into [`Timers`]: the deadline and a tie-breaking sequence number.
pub(crate) type TimerKey = (Instant, u64);

/// Deadlines ordered by time, each with what it is for.
#[derive(Debug)]
pub(crate) struct Timers<T> {
    map: BTreeMap<TimerKey, T>,
    seq: u64,
}

impl<T: Clone> Timers<T> {
    pub(crate) fn new() -> Self {
        Self {
            map: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Arms a deadline; keep the key to cancel it.
    pub(crate) fn arm(&mut self, at: Instant, what: T) -> TimerKey {
        self.seq += 1;
        let key = (at, self.seq);
        self.map.insert(key, what);
        key
    }

    /// Cancels a deadline (no-op if it already fired).
    pub(crate) fn cancel(&mut self, key: Option<TimerKey>) {
        if let Some(k) = key {
            self.map.remove(&k);
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.map.keys().next().map(|k| k.0)
    }

    /// Removes and returns the earliest deadline due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(TimerKey, T)> {
        let (&k, _) = self.map.iter().next()?;
        if k.0 > now {
            return None;
        }
        self.map.remove(&k).map(|v| (k, v))
    }
}
