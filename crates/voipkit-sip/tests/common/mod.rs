//! Shared test helpers: adapters of the user agent (and of scripted peers)
//! to voipkit-netsim's `Endpoint`.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_netsim::{Datagram, Endpoint, Harness, Outgoing};
use voipkit_sip::message::Message;
use voipkit_sip::{CallHandle, EndReason, Event, IncomingCall, Transport, UaConfig, UserAgent};

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn uri(s: &str) -> voipkit_sip::Uri {
    s.parse().unwrap()
}

pub fn sdp(tag: &str) -> bytes::Bytes {
    bytes::Bytes::from(format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns={tag}\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
    ))
}

/// The first line of a message.
pub fn start_line(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.lines().next().unwrap_or("").to_string()
}

type Reaction = Box<dyn FnMut(&mut UserAgent, Instant, &Event)>;

/// A user agent on the emulated network, with a log of what it sent and
/// received, its events, and an optional reaction to events (the app).
pub struct Node {
    pub name: &'static str,
    pub ua: UserAgent,
    pub addr: SocketAddr,
    pub epoch: Instant,
    pub events: Vec<(Duration, Event)>,
    pub sent: Vec<(Duration, String, Vec<u8>)>,
    pub received: Vec<(Duration, String)>,
    pub react: Option<Reaction>,
    pub verbose: bool,
    pub transport: Transport,
}

impl Node {
    pub fn new(name: &'static str, port: u16, epoch: Instant, seed: u64) -> Self {
        let cfg = UaConfig::new(name, vec![(Transport::Udp, addr(port))]);
        Self::with_config(name, cfg, epoch, seed)
    }

    /// A node listening on TCP only.
    pub fn tcp(name: &'static str, port: u16, epoch: Instant, seed: u64) -> Self {
        let cfg = UaConfig::new(name, vec![(Transport::Tcp, addr(port))]);
        Self::with_config(name, cfg, epoch, seed)
    }

    pub fn with_config(name: &'static str, cfg: UaConfig, epoch: Instant, seed: u64) -> Self {
        let (transport, addr) = cfg.local_addrs[0];
        Self {
            transport,
            name,
            ua: UserAgent::new(cfg, ChaCha20Rng::seed_from_u64(seed)),
            addr,
            epoch,
            events: Vec::new(),
            sent: Vec::new(),
            received: Vec::new(),
            react: None,
            verbose: std::env::var("SIP_TRACE").is_ok(),
        }
    }

    pub fn on_event(&mut self, f: impl FnMut(&mut UserAgent, Instant, &Event) + 'static) {
        self.react = Some(Box::new(f));
    }

    /// Reacts to incoming calls only (the app's part of the callee).
    pub fn on_incoming_call(
        &mut self,
        mut f: impl FnMut(&mut UserAgent, Instant, &IncomingCall) + 'static,
    ) {
        self.on_event(move |ua, now, ev| {
            if let Event::IncomingCall(ic) = ev {
                f(ua, now, ic);
            }
        });
    }

    /// Answers every incoming call at once with `sdp(tag)`.
    pub fn answer_calls(&mut self, tag: &'static str) {
        self.on_incoming_call(move |ua, now, ic| ua.answer(now, ic.call, Some(sdp(tag))).unwrap());
    }

    /// Sends 180 Ringing to every incoming call.
    pub fn ring_calls(&mut self) {
        self.on_incoming_call(|ua, now, ic| ua.ringing(now, ic.call).unwrap());
    }

    /// Calls `target` (a SIP URI), offering `sdp(tag)` when a tag is given.
    pub fn call(&mut self, now: Instant, target: &str, offer: Option<&str>) -> CallHandle {
        self.ua
            .start_call(now, uri(target), offer.map(sdp))
            .unwrap()
    }

    /// The first incoming call this node saw.
    pub fn incoming_call(&self) -> CallHandle {
        self.events
            .iter()
            .find_map(|(_, e)| match e {
                Event::IncomingCall(ic) => Some(ic.call),
                _ => None,
            })
            .unwrap()
    }

    pub fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.ua.poll_event() {
            if self.verbose {
                eprintln!(
                    "{:>9.3} {} EVENT {ev:?}",
                    (now - self.epoch).as_secs_f64(),
                    self.name
                );
            }
            if let Some(r) = self.react.as_mut() {
                r(&mut self.ua, now, &ev);
            }
            self.events.push((now - self.epoch, ev));
        }
    }

    /// Events matching `f`.
    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }

    pub fn find(&self, f: impl Fn(&Event) -> bool) -> Option<&(Duration, Event)> {
        self.events.iter().find(|(_, e)| f(e))
    }

    /// Whether an event matches `f`.
    pub fn has(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.find(f).is_some()
    }

    /// Whether a call of this node ended for exactly `reason`.
    pub fn ended_by(&self, reason: EndReason) -> bool {
        self.has(|e| matches!(e, Event::Ended { reason: r, .. } if *r == reason))
    }

    /// Whether any call of this node ended.
    pub fn ended(&self) -> bool {
        self.has(|e| matches!(e, Event::Ended { .. }))
    }

    /// Start lines this node sent that begin with `prefix`, with times.
    pub fn sent_times(&self, prefix: &str) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|(_, l, _)| l.starts_with(prefix))
            .map(|(t, _, _)| *t)
            .collect()
    }

    pub fn sent_count(&self, prefix: &str) -> usize {
        self.sent_times(prefix).len()
    }

    /// The text of the messages this node sent whose start line begins
    /// with `prefix`.
    pub fn sent_texts(&self, prefix: &str) -> Vec<String> {
        self.sent
            .iter()
            .filter(|(_, l, _)| l.starts_with(prefix))
            .map(|(_, _, x)| String::from_utf8_lossy(x).to_string())
            .collect()
    }

    /// Times at which messages whose start line begins with `prefix`
    /// arrived.
    pub fn received_times(&self, prefix: &str) -> Vec<Duration> {
        self.received
            .iter()
            .filter(|(_, l)| l.starts_with(prefix))
            .map(|(t, _)| *t)
            .collect()
    }

    pub fn received_count(&self, prefix: &str) -> usize {
        self.received_times(prefix).len()
    }
}

impl Endpoint for Node {
    fn handle_input(&mut self, now: Instant, d: Datagram) {
        let line = start_line(&d.payload);
        if self.verbose {
            eprintln!(
                "{:>9.3} {} <- {line}",
                (now - self.epoch).as_secs_f64(),
                self.name
            );
        }
        self.received.push((now - self.epoch, line));
        self.ua
            .handle_input(now, self.transport, d.from, &d.payload);
        self.drain(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
        self.drain(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        // Commands issued by reactions queue events too.
        self.drain(now);
        let t = self.ua.poll_transmit()?;
        let line = start_line(&t.contents);
        if self.verbose {
            eprintln!(
                "{:>9.3} {} -> {line}  ({})",
                (now - self.epoch).as_secs_f64(),
                self.name,
                t.destination
            );
        }
        self.sent.push((now - self.epoch, line, t.contents.clone()));
        Some(Outgoing {
            from: self.addr,
            to: t.destination,
            payload: t.contents,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.ua.poll_timeout()
    }

    fn owns(&self, a: SocketAddr) -> bool {
        a == self.addr
    }
}

type Script = Box<dyn FnMut(Instant, SocketAddr, &Message) -> Vec<(SocketAddr, Vec<u8>)>>;

/// A scripted peer: every datagram it gets is parsed and handed to a
/// closure that returns what to send back.
pub struct Peer {
    pub addr: SocketAddr,
    pub epoch: Instant,
    pub received: Vec<(Duration, Message)>,
    pub out: std::collections::VecDeque<Outgoing>,
    pub script: Script,
}

impl Peer {
    pub fn new(
        port: u16,
        epoch: Instant,
        script: impl FnMut(Instant, SocketAddr, &Message) -> Vec<(SocketAddr, Vec<u8>)> + 'static,
    ) -> Self {
        Self {
            addr: addr(port),
            epoch,
            received: Vec::new(),
            out: Default::default(),
            script: Box::new(script),
        }
    }

    /// A peer that never answers (it records what it gets).
    pub fn silent(port: u16, epoch: Instant) -> Self {
        Self::new(port, epoch, |_, _, _| vec![])
    }

    /// A peer that hands only requests (with their source) to `script`
    /// and ignores responses.
    pub fn on_requests(
        port: u16,
        epoch: Instant,
        mut script: impl FnMut(SocketAddr, &voipkit_sip::Request) -> Vec<(SocketAddr, Vec<u8>)>
        + 'static,
    ) -> Self {
        Self::new(port, epoch, move |_, from, m| match m {
            Message::Request(r) => script(from, r),
            Message::Response(_) => vec![],
        })
    }

    pub fn send(&mut self, to: SocketAddr, payload: Vec<u8>) {
        self.out.push_back(Outgoing {
            from: self.addr,
            to,
            payload,
        });
    }

    /// Times at which requests (or responses) whose start line begins with
    /// `prefix` arrived.
    pub fn times(&self, prefix: &str) -> Vec<Duration> {
        self.received
            .iter()
            .filter(|(_, m)| start_line(&m.to_bytes()).starts_with(prefix))
            .map(|(t, _)| *t)
            .collect()
    }
}

impl Endpoint for Peer {
    fn handle_input(&mut self, now: Instant, d: Datagram) {
        let Ok(m) = Message::parse(d.payload.clone()) else {
            return;
        };
        for (to, bytes) in (self.script)(now, d.from, &m) {
            self.out.push_back(Outgoing {
                from: self.addr,
                to,
                payload: bytes,
            });
        }
        self.received.push((now - self.epoch, m));
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, _now: Instant) -> Option<Outgoing> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn owns(&self, a: SocketAddr) -> bool {
        a == self.addr
    }
}

/// Alice on 127.0.0.1:5060 (seed 1) and Bob on 127.0.0.1:5062 (seed 2),
/// both on UDP, with `h`'s clock as epoch.
pub fn alice_and_bob(h: &Harness) -> (Node, Node) {
    let epoch = h.now();
    (
        Node::new("alice", 5060, epoch, 1),
        Node::new("bob", 5062, epoch, 2),
    )
}

/// Runs `h` for `limit` with the two endpoints `a` and `b`.
pub fn run_pair(h: &mut Harness, a: &mut dyn Endpoint, b: &mut dyn Endpoint, limit: Duration) {
    h.run_for(&mut [a, b], limit);
}

/// Milliseconds as a Duration.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Secs as a Duration from f64.
pub fn s(x: f64) -> Duration {
    Duration::from_secs_f64(x)
}

/// Asserts `a` is within 1 ms of `b`.
pub fn near(a: Duration, b: Duration) -> bool {
    let d = a.abs_diff(b);
    d <= Duration::from_millis(1)
}

/// A response to `req` with an optional To tag and extra header lines
/// (each ending in CRLF).
pub fn respond(
    req: &voipkit_sip::Request,
    code: u16,
    to_tag: Option<&str>,
    extra: &str,
) -> Vec<u8> {
    use voipkit_sip::{HeaderName, Response, SipMessage};
    let mut r = Response::for_request(req, voipkit_sip::StatusCode::new(code).unwrap());
    if let Some(tag) = to_tag {
        let mut to = r.to().unwrap();
        if to.tag().is_none() {
            to.set_tag(tag);
            r.headers.set(HeaderName::To, to.to_string());
        }
    }
    let mut text = String::from_utf8(r.to_bytes()).unwrap();
    // insert extra headers before the blank line
    let cut = text.find("\r\n\r\n").unwrap() + 2;
    text.insert_str(cut, extra);
    text.into_bytes()
}
