//! A seeded network emulator on a virtual clock, for voipkit's tests and
//! benches.
//!
//! What it owns: datagrams in flight between socket addresses, and what
//! happens to them on the way (delay, jitter, delay spikes, loss in random or
//! bursty patterns, duplication, reordering), all drawn from one seeded RNG so
//! that a run is repeatable bit for bit. It also owns [`VirtualClock`] and a
//! [`Harness`] that drives any number of sans-IO endpoints until they go
//! quiet, jumping virtual time to the earliest deadline (the shape of str0m's
//! `progress()` and quinn-proto's test `Pair`).
//!
//! What it does not own: any protocol. Endpoints are adapted to the
//! [`Endpoint`] trait by the test that uses them. It never touches a real
//! socket or the real clock (the one [`Instant::now`] it reads is the epoch of
//! a [`VirtualClock`]).
//!
//! Every datagram's fate is recorded per link in [`LinkStats`] so tests can
//! compare what an endpoint measured (loss, jitter, RTT) with the truth.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A clock that only moves when told to. Its epoch is one real
/// [`Instant::now`] taken at construction; after that, time is virtual.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    epoch: Instant,
    now: Instant,
}

impl VirtualClock {
    /// A clock starting now.
    pub fn new() -> Self {
        let epoch = Instant::now();
        Self { epoch, now: epoch }
    }

    /// A clock starting at `epoch`.
    pub fn starting_at(epoch: Instant) -> Self {
        Self { epoch, now: epoch }
    }

    /// The current virtual instant.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time elapsed since the epoch.
    pub fn elapsed(&self) -> Duration {
        self.now.duration_since(self.epoch)
    }

    /// The clock's epoch.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Move forward by `d`.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Move forward to `t`; never backwards.
    pub fn advance_to(&mut self, t: Instant) {
        if t > self.now {
            self.now = t;
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

/// How packets are lost on a link.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Loss {
    /// Nothing is lost.
    #[default]
    None,
    /// Each packet is lost independently with this probability (0..=1).
    Random(f64),
    /// Gilbert-Elliott bursts: in the good state nothing is lost; each packet
    /// moves good->bad with `p_enter` and bad->good with `p_exit`; in the bad
    /// state a packet is lost with `loss_in_bad`. The long-run loss rate is
    /// `loss_in_bad * p_enter / (p_enter + p_exit)`.
    Bursty {
        /// Probability per packet of entering the bad state.
        p_enter: f64,
        /// Probability per packet of leaving the bad state.
        p_exit: f64,
        /// Probability of loss while in the bad state.
        loss_in_bad: f64,
    },
}

impl Loss {
    /// Bursty loss with the given long-run rate and mean burst length in
    /// packets (every packet in a burst is lost).
    pub fn bursts(rate: f64, mean_burst: f64) -> Self {
        let mean_burst = mean_burst.max(1.0);
        let p_exit = 1.0 / mean_burst;
        let rate = rate.clamp(0.0, 0.99);
        // rate = p_enter / (p_enter + p_exit)  =>  p_enter = rate * p_exit / (1 - rate)
        let p_enter = rate * p_exit / (1.0 - rate);
        Loss::Bursty {
            p_enter,
            p_exit,
            loss_in_bad: 1.0,
        }
    }
}

/// Occasional delay spikes: a packet starts a spike with `probability`; for
/// the spike's duration every packet gets the spike's extra delay on top of
/// the link's (the shape of a Wi-Fi or cellular stall).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spikes {
    /// Probability per packet that a spike starts (when none is running).
    pub probability: f64,
    /// Extra delay of a spike, drawn uniformly from this range.
    pub extra: (Duration, Duration),
    /// How long a spike lasts, drawn uniformly from this range.
    pub duration: (Duration, Duration),
}

/// What a one-way link does to packets.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` per packet.
    pub jitter: Duration,
    /// Loss model.
    pub loss: Loss,
    /// Probability that a packet is delivered twice (the copy a little later).
    pub duplicate: f64,
    /// Probability that a packet is held back by `reorder_delay` so that
    /// later packets overtake it.
    pub reorder: f64,
    /// How long a reordered packet is held back.
    pub reorder_delay: Duration,
    /// Occasional delay spikes.
    pub spikes: Option<Spikes>,
    /// First in, first out: a packet never overtakes an earlier one (jitter
    /// then bunches packets up instead of reordering them), as on most real
    /// paths. `reorder` still reorders on purpose.
    pub fifo: bool,
}

impl LinkConfig {
    /// A perfect link with a fixed delay.
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    /// Set the random loss probability.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = Loss::Random(p);
        self
    }

    /// Set uniform jitter.
    pub fn jitter(mut self, j: Duration) -> Self {
        self.jitter = j;
        self
    }
}

/// What happened to the datagrams on one directed link, counted by the
/// emulator (the truth that endpoint statistics are checked against).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkStats {
    /// Datagrams handed to the link.
    pub sent: u64,
    /// Datagrams the link dropped.
    pub lost: u64,
    /// Extra copies the link made.
    pub duplicated: u64,
    /// Datagrams delivered (copies included).
    pub delivered: u64,
    /// Datagrams delivered after one sent later than them.
    pub reordered: u64,
    /// Sum of one-way delays of delivered datagrams.
    pub total_delay: Duration,
}

impl LinkStats {
    /// Fraction of sent datagrams lost.
    pub fn loss_fraction(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.lost as f64 / self.sent as f64
        }
    }

    /// Mean one-way delay of delivered datagrams.
    pub fn mean_delay(&self) -> Duration {
        if self.delivered == 0 {
            Duration::ZERO
        } else {
            self.total_delay / self.delivered as u32
        }
    }
}

/// A datagram delivered by the emulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Datagram {
    /// Source address.
    pub from: SocketAddr,
    /// Destination address.
    pub to: SocketAddr,
    /// When it was sent.
    pub sent_at: Instant,
    /// When it arrives.
    pub arrives_at: Instant,
    /// Payload.
    pub payload: Vec<u8>,
}

#[derive(Debug)]
struct InFlight {
    order: u64,
    datagram: Datagram,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}
impl InFlight {
    fn key(&self) -> (Instant, u64) {
        (self.datagram.arrives_at, self.order)
    }
}

#[derive(Debug, Default)]
struct LinkState {
    stats: LinkStats,
    bad_state: bool,
    spike_until: Option<Instant>,
    spike_extra: Duration,
    last_arrival: Option<Instant>,
    highest_sent_delivered: Option<u64>,
}

/// The network: datagrams in flight between addresses, on a virtual clock.
///
/// Links are directed `(from, to)` pairs; a pair without its own
/// configuration uses the default. Send with [`NetSim::send`], collect with
/// [`NetSim::poll_delivery`] once virtual time reaches
/// [`NetSim::next_delivery`].
#[derive(Debug)]
pub struct NetSim {
    rng: ChaCha8Rng,
    default_link: LinkConfig,
    links: HashMap<(SocketAddr, SocketAddr), LinkConfig>,
    state: HashMap<(SocketAddr, SocketAddr), LinkState>,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    order: u64,
}

impl NetSim {
    /// A network where every link is `default_link`, seeded with `seed`.
    pub fn new(seed: u64, default_link: LinkConfig) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            default_link,
            links: HashMap::new(),
            state: HashMap::new(),
            in_flight: BinaryHeap::new(),
            order: 0,
        }
    }

    /// Configure the directed link `from -> to`.
    pub fn set_link(&mut self, from: SocketAddr, to: SocketAddr, cfg: LinkConfig) {
        self.links.insert((from, to), cfg);
    }

    /// Configure both directions between `a` and `b`.
    pub fn set_path(&mut self, a: SocketAddr, b: SocketAddr, cfg: LinkConfig) {
        self.set_link(a, b, cfg);
        self.set_link(b, a, cfg);
    }

    /// The configuration of `from -> to`.
    pub fn link(&self, from: SocketAddr, to: SocketAddr) -> LinkConfig {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    /// What happened so far on `from -> to`.
    pub fn stats(&self, from: SocketAddr, to: SocketAddr) -> LinkStats {
        self.state
            .get(&(from, to))
            .map(|s| s.stats.clone())
            .unwrap_or_default()
    }

    /// Number of datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Hand a datagram to the network at `now`.
    pub fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, payload: Vec<u8>) {
        let cfg = self.link(from, to);
        let order = self.order;
        self.order += 1;
        let rng = &mut self.rng;
        let st = self.state.entry((from, to)).or_default();
        st.stats.sent += 1;

        // Loss.
        let lost = match cfg.loss {
            Loss::None => false,
            Loss::Random(p) => rng.random_bool(p.clamp(0.0, 1.0)),
            Loss::Bursty {
                p_enter,
                p_exit,
                loss_in_bad,
            } => {
                if st.bad_state {
                    if rng.random_bool(p_exit.clamp(0.0, 1.0)) {
                        st.bad_state = false;
                    }
                } else if rng.random_bool(p_enter.clamp(0.0, 1.0)) {
                    st.bad_state = true;
                }
                st.bad_state && rng.random_bool(loss_in_bad.clamp(0.0, 1.0))
            }
        };
        if lost {
            st.stats.lost += 1;
            return;
        }

        // Delay.
        let mut delay = cfg.delay;
        if !cfg.jitter.is_zero() {
            delay += uniform(rng, Duration::ZERO, cfg.jitter);
        }
        if let Some(sp) = cfg.spikes {
            let running = st.spike_until.is_some_and(|t| now < t);
            if !running {
                st.spike_until = None;
                if rng.random_bool(sp.probability.clamp(0.0, 1.0)) {
                    st.spike_extra = uniform(rng, sp.extra.0, sp.extra.1);
                    st.spike_until = Some(now + uniform(rng, sp.duration.0, sp.duration.1));
                }
            }
            if st.spike_until.is_some_and(|t| now < t) {
                delay += st.spike_extra;
            }
        }
        let mut arrives_at = now + delay;
        let reordered = cfg.reorder > 0.0 && rng.random_bool(cfg.reorder.clamp(0.0, 1.0));
        if reordered {
            arrives_at += cfg.reorder_delay;
        } else if cfg.fifo {
            if let Some(last) = st.last_arrival {
                arrives_at = arrives_at.max(last);
            }
            st.last_arrival = Some(arrives_at);
        }
        let duplicate = cfg.duplicate > 0.0 && rng.random_bool(cfg.duplicate.clamp(0.0, 1.0));

        let dg = Datagram {
            from,
            to,
            sent_at: now,
            arrives_at,
            payload,
        };
        if duplicate {
            st.stats.duplicated += 1;
            let mut copy = dg.clone();
            copy.arrives_at += Duration::from_millis(1);
            self.in_flight.push(Reverse(InFlight {
                order,
                datagram: copy,
            }));
        }
        self.in_flight.push(Reverse(InFlight {
            order,
            datagram: dg,
        }));
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.peek().map(|r| r.0.datagram.arrives_at)
    }

    /// The next datagram that has arrived by `now`.
    pub fn poll_delivery(&mut self, now: Instant) -> Option<Datagram> {
        if self.next_delivery()? > now {
            return None;
        }
        let Reverse(f) = self.in_flight.pop()?;
        let st = self
            .state
            .entry((f.datagram.from, f.datagram.to))
            .or_default();
        st.stats.delivered += 1;
        st.stats.total_delay += f.datagram.arrives_at - f.datagram.sent_at;
        match st.highest_sent_delivered {
            Some(h) if f.order < h => st.stats.reordered += 1,
            _ => st.highest_sent_delivered = Some(f.order),
        }
        Some(f.datagram)
    }

    /// Drop everything in flight (a network outage).
    pub fn clear(&mut self) {
        self.in_flight.clear();
    }
}

fn uniform(rng: &mut ChaCha8Rng, lo: Duration, hi: Duration) -> Duration {
    if hi <= lo {
        return lo;
    }
    let span = (hi - lo).as_nanos() as u64;
    lo + Duration::from_nanos(rng.random_range(0..=span))
}

/// A datagram an endpoint wants sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Source address (one of the endpoint's own).
    pub from: SocketAddr,
    /// Destination.
    pub to: SocketAddr,
    /// Payload.
    pub payload: Vec<u8>,
}

/// A sans-IO endpoint as the [`Harness`] sees it. Tests implement this for an
/// adapter around the core under test.
pub trait Endpoint {
    /// Feed a datagram that arrived at `now`.
    fn handle_input(&mut self, now: Instant, datagram: Datagram);
    /// Let timers that are due at `now` fire.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing>;
    /// The next deadline, if any.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether `addr` belongs to this endpoint (datagrams to it are fed here).
    fn owns(&self, addr: SocketAddr) -> bool;
}

/// Drives sans-IO endpoints over a [`NetSim`] on a [`VirtualClock`].
#[derive(Debug)]
pub struct Harness {
    /// The network.
    pub net: NetSim,
    /// The clock.
    pub clock: VirtualClock,
    /// Datagrams addressed to nobody (dropped), for assertions.
    pub undeliverable: u64,
}

impl Harness {
    /// A harness over `net`, starting now.
    pub fn new(net: NetSim) -> Self {
        Self {
            net,
            clock: VirtualClock::new(),
            undeliverable: 0,
        }
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Drain every endpoint's transmits into the network.
    pub fn flush(&mut self, endpoints: &mut [&mut dyn Endpoint]) {
        let now = self.clock.now();
        for ep in endpoints.iter_mut() {
            while let Some(out) = ep.poll_transmit(now) {
                self.net.send(now, out.from, out.to, out.payload);
            }
        }
    }

    /// The earliest thing that will happen: a delivery or a deadline.
    pub fn next_event(&self, endpoints: &[&mut dyn Endpoint]) -> Option<Instant> {
        let mut next = self.net.next_delivery();
        for ep in endpoints {
            if let Some(t) = ep.poll_timeout() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    /// One step: flush, jump to the earliest event (not beyond `until`),
    /// deliver what has arrived and fire due timers. Returns false when
    /// nothing is scheduled before `until`: the clock then stays where it is
    /// if nothing is scheduled at all, and moves to `until` otherwise.
    pub fn step(&mut self, endpoints: &mut [&mut dyn Endpoint], until: Instant) -> bool {
        self.flush(endpoints);
        let Some(next) = self.next_event(endpoints) else {
            return false;
        };
        if next > until {
            self.clock.advance_to(until);
            return false;
        }
        self.clock.advance_to(next);
        let now = self.clock.now();
        while let Some(dg) = self.net.poll_delivery(now) {
            match endpoints.iter_mut().find(|ep| ep.owns(dg.to)) {
                Some(ep) => ep.handle_input(now, dg),
                None => self.undeliverable += 1,
            }
        }
        for ep in endpoints.iter_mut() {
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
        }
        self.flush(endpoints);
        true
    }

    /// Run until nothing is scheduled before `now + limit`; returns the
    /// number of steps taken. The clock ends at the last event, or at the
    /// limit when events remain beyond it.
    pub fn run_for(&mut self, endpoints: &mut [&mut dyn Endpoint], limit: Duration) -> usize {
        let until = self.clock.now() + limit;
        self.run_until(endpoints, until)
    }

    /// Run until nothing is scheduled before `until`.
    pub fn run_until(&mut self, endpoints: &mut [&mut dyn Endpoint], until: Instant) -> usize {
        let mut steps = 0;
        while self.step(endpoints, until) {
            steps += 1;
        }
        steps
    }

    /// Run until `done` returns true or `limit` passes; true if `done`.
    pub fn run_until_cond(
        &mut self,
        endpoints: &mut [&mut dyn Endpoint],
        limit: Duration,
        mut done: impl FnMut(&mut [&mut dyn Endpoint]) -> bool,
    ) -> bool {
        let until = self.clock.now() + limit;
        loop {
            if done(endpoints) {
                return true;
            }
            if !self.step(endpoints, until) {
                return done(endpoints);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> SocketAddr {
        "127.0.0.1:5060".parse().unwrap()
    }
    fn b() -> SocketAddr {
        "127.0.0.1:5062".parse().unwrap()
    }

    #[test]
    fn delay_is_applied() {
        let mut net = NetSim::new(1, LinkConfig::with_delay(Duration::from_millis(30)));
        let clock = VirtualClock::new();
        net.send(clock.now(), a(), b(), vec![1, 2, 3]);
        assert!(net.poll_delivery(clock.now()).is_none());
        let t = net.next_delivery().unwrap();
        assert_eq!(t - clock.now(), Duration::from_millis(30));
        let d = net.poll_delivery(t).unwrap();
        assert_eq!(d.payload, vec![1, 2, 3]);
        assert_eq!(net.stats(a(), b()).delivered, 1);
    }

    #[test]
    fn random_loss_rate_and_determinism() {
        let run = |seed| {
            let mut net = NetSim::new(seed, LinkConfig::default().loss(0.3));
            let now = Instant::now();
            for i in 0..10_000u32 {
                net.send(now, a(), b(), i.to_be_bytes().to_vec());
            }
            net.stats(a(), b())
        };
        let s = run(7);
        assert!((s.loss_fraction() - 0.3).abs() < 0.02, "{s:?}");
        assert_eq!(s, run(7));
        assert_ne!(s, run(8));
    }

    #[test]
    fn bursty_loss_long_run_rate() {
        let mut net = NetSim::new(3, LinkConfig::default());
        net.set_link(
            a(),
            b(),
            LinkConfig {
                loss: Loss::bursts(0.10, 4.0),
                ..Default::default()
            },
        );
        let now = Instant::now();
        for _ in 0..50_000 {
            net.send(now, a(), b(), vec![0]);
        }
        let s = net.stats(a(), b());
        assert!((s.loss_fraction() - 0.10).abs() < 0.02, "{s:?}");
    }

    #[test]
    fn fifo_keeps_order_and_reorder_breaks_it() {
        let mut clock = VirtualClock::new();
        let cfg = LinkConfig {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(40),
            fifo: true,
            ..Default::default()
        };
        let mut net = NetSim::new(5, cfg);
        for i in 0..500u32 {
            net.send(clock.now(), a(), b(), i.to_be_bytes().to_vec());
            clock.advance(Duration::from_millis(20));
        }
        clock.advance(Duration::from_secs(1));
        while net.poll_delivery(clock.now()).is_some() {}
        assert_eq!(net.stats(a(), b()).reordered, 0);

        let mut net = NetSim::new(
            5,
            LinkConfig {
                reorder: 0.1,
                reorder_delay: Duration::from_millis(50),
                ..cfg
            },
        );
        for i in 0..500u32 {
            net.send(clock.now(), a(), b(), i.to_be_bytes().to_vec());
            clock.advance(Duration::from_millis(20));
        }
        clock.advance(Duration::from_secs(1));
        while net.poll_delivery(clock.now()).is_some() {}
        assert!(net.stats(a(), b()).reordered > 10);
    }

    /// An endpoint that answers every datagram with the same bytes (an echo)
    /// and pings once a second.
    struct Pinger {
        addr: SocketAddr,
        peer: SocketAddr,
        next: Instant,
        out: Vec<Outgoing>,
        got: usize,
        remaining: usize,
    }
    impl Endpoint for Pinger {
        fn handle_input(&mut self, _now: Instant, d: Datagram) {
            self.got += 1;
            if d.payload == b"ping" {
                self.out.push(Outgoing {
                    from: self.addr,
                    to: d.from,
                    payload: b"pong".to_vec(),
                });
            }
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.remaining > 0 && now >= self.next {
                self.remaining -= 1;
                self.next = now + Duration::from_secs(1);
                self.out.push(Outgoing {
                    from: self.addr,
                    to: self.peer,
                    payload: b"ping".to_vec(),
                });
            }
        }
        fn poll_transmit(&mut self, _now: Instant) -> Option<Outgoing> {
            self.out.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            (self.remaining > 0).then_some(self.next)
        }
        fn owns(&self, addr: SocketAddr) -> bool {
            addr == self.addr
        }
    }

    #[test]
    fn harness_runs_on_virtual_time() {
        let net = NetSim::new(1, LinkConfig::with_delay(Duration::from_millis(50)));
        let mut h = Harness::new(net);
        let now = h.now();
        let mut p = Pinger {
            addr: a(),
            peer: b(),
            next: now,
            out: vec![],
            got: 0,
            remaining: 100,
        };
        let mut q = Pinger {
            addr: b(),
            peer: a(),
            next: now,
            out: vec![],
            got: 0,
            remaining: 0,
        };
        let real = Instant::now();
        h.run_for(&mut [&mut p, &mut q], Duration::from_secs(3600));
        assert_eq!(q.got, 100);
        assert_eq!(p.got, 100);
        // 99 s of pings plus one round trip, in virtual time.
        assert_eq!(h.clock.elapsed(), Duration::from_millis(99_100));
        assert!(real.elapsed() < Duration::from_secs(1));
    }
}
