//! The user-agent core: calls (INVITE sessions with their dialogs),
//! registrations and out-of-dialog requests on top of the transaction
//! layer, all sans-IO.
//!
//! Drive it like every voipkit core: feed [`UserAgent::handle_input`] and
//! [`UserAgent::handle_timeout`], then drain [`UserAgent::poll_transmit`]
//! and [`UserAgent::poll_event`]; sleep until [`UserAgent::poll_timeout`].
//! Commands (start a call, answer, hang up, ...) queue transmits and
//! events the same way.
//!
//! # Timers and policies
//!
//! | what | value |
//! | --- | --- |
//! | T1 / T2 / T4 | 500 ms / 4 s / 5 s ([`TimerConfig`], configurable) |
//! | A (INVITE retransmit) | T1, doubling without cap (RFC 3261 §17.1.1.2), UDP only |
//! | B, F, H, J (UDP), L, M | 64*T1 = 32 s |
//! | D | 32 s on UDP, 0 on TCP/TLS |
//! | E, G | T1 doubling, capped at T2; E is T2 in Proceeding; UDP only |
//! | I, K | T4 on UDP, 0 on TCP/TLS |
//! | 2xx to INVITE, reliable 1xx | re-sent by the core, T1 doubling (2xx capped at T2), for 64*T1, on every transport (end to end, RFC 3261 §13.3.1.4, RFC 3262 §3); no ACK: BYE; no PRACK: 500 |
//! | glare (491) retry | 2.1-4 s if we own the Call-ID (we sent the INVITE), else 0-2 s, 10 ms steps |
//! | overlapping offer | 500 with `Retry-After: 0..=10` |
//! | session timer | Session-Expires 1800 s, Min-SE 90 s; the refresher refreshes at half the interval (UPDATE if the peer allows it, else re-INVITE with the current SDP); the other side sends BYE at interval - min(32 s, interval/3) |
//! | registration refresh | after min(90 %, expires - 5 s) of the granted time, at least 1 s |
//! | registration failure | retry after 30 s, doubling to 30 min (Retry-After honoured, at least 30 s); wrong password: 5 min; a stale nonce is not a failure |
//! | ended calls | kept 64*T1 (128*T1 after a local CANCEL or hang-up) for late messages, then forgotten |
//! | limits | [`UaConfig::max_calls`] (64: then 486), 10,000 live server transactions (then a stateless 503) |
//!
//! There is no DNS here: a next hop must be an IP address (or go through
//! [`UaConfig::outbound_proxy`]); [`Error::Unresolvable`] otherwise.
//!
//! # Counters
//!
//! [`UserAgent::stats`] returns every counter in one [`UaStats`]: what was
//! dropped (unparseable, malformed, misrouted, unmatched), refused or
//! timed out, each kind of retransmission (the transaction layer's and the
//! core's 2xx, ACK and reliable-1xx resends, each copy counted once), and
//! the live transactions and calls.

mod call;
mod register;
mod validate;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha20Rng;

use crate::auth::{Credentials, DigestClient, random_hex};
use crate::error::Error;
use crate::message::{
    Framing, HeaderName, Host, Limits, Message, Method, NameAddr, Request, Response, SipMessage,
    StatusCode, Uri, parse_message,
};
use crate::timer::{TimerConfig, TimerKey, Timers};
use crate::transaction::{BRANCH_COOKIE, Inbound, TransactionStats, TuEvent, TxId, TxLayer};
use crate::transport::{Transmit, Transport};

pub use call::{CallState, EndReason, OutgoingCall, ReasonHeader};
pub use register::{PushParams, RegistrationConfig, RegistrationFailure, RegistrationState};

pub(crate) use call::{Call, CallTimer, Purpose};
pub(crate) use register::{RegTimer, Registration};

/// Opaque handle of one call (an INVITE session and its dialogs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub(crate) u64);

/// Opaque handle of one registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistrationHandle(pub(crate) u64);

/// Opaque handle of one out-of-dialog request (OPTIONS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestHandle(pub(crate) u64);

impl fmt::Display for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// RFC 4028 session timer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// Session-Expires asked for in our INVITEs (seconds), default 1800.
    pub expires: u32,
    /// Smallest interval we accept (Min-SE, at least 90), default 90.
    pub min_se: u32,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        Self {
            expires: 1800,
            min_se: 90,
        }
    }
}

/// Configuration of a [`UserAgent`].
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Local addresses, one per transport (Via and Contact use them).
    pub local_addrs: Vec<(Transport, SocketAddr)>,
    /// User part of our Contact and default identity.
    pub user: String,
    /// Display name in From.
    pub display_name: Option<String>,
    /// Our identity (From of out-of-dialog requests), e.g.
    /// `sip:alice@example.com`; default `sip:USER@LOCAL_IP:PORT`.
    pub identity: Option<Uri>,
    /// Every request goes to this next hop when set.
    pub outbound_proxy: Option<(Transport, SocketAddr)>,
    /// Pre-loaded Route set (loose routes) for out-of-dialog requests.
    pub route_set: Vec<Uri>,
    /// Transaction timers.
    pub timers: TimerConfig,
    /// RFC 4028 session timers (`None`: not used, not offered).
    pub session_timer: Option<SessionTimerConfig>,
    /// Offer and accept reliable provisional responses (RFC 3262).
    pub enable_100rel: bool,
    /// Digest credentials (per realm or for any).
    pub credentials: Vec<Credentials>,
    /// Put the public address learned from `received`/`rport` (RFC 3581)
    /// into Contacts once a registrar told us.
    pub use_learned_contact: bool,
    /// `User-Agent`/`Server` header value.
    pub user_agent: Option<String>,
    /// Parser limits for received messages.
    pub limits: Limits,
    /// After a wrong password, wait this long before trying again.
    pub auth_failure_retry: Duration,
    /// First back-off after a failed registration (doubles to
    /// `registration_retry_max`).
    pub registration_retry_min: Duration,
    /// Longest back-off after failed registrations.
    pub registration_retry_max: Duration,
    /// Most calls kept at once; further INVITEs get 486 Busy Here.
    pub max_calls: usize,
}

impl UaConfig {
    /// A configuration with defaults for `user` on `local_addrs`.
    pub fn new(user: impl Into<String>, local_addrs: Vec<(Transport, SocketAddr)>) -> Self {
        Self {
            local_addrs,
            user: user.into(),
            display_name: None,
            identity: None,
            outbound_proxy: None,
            route_set: Vec::new(),
            timers: TimerConfig::default(),
            session_timer: Some(SessionTimerConfig::default()),
            enable_100rel: true,
            credentials: Vec::new(),
            use_learned_contact: true,
            user_agent: Some(concat!("voipkit/", env!("CARGO_PKG_VERSION")).to_string()),
            limits: Limits::default(),
            auth_failure_retry: Duration::from_secs(300),
            registration_retry_min: Duration::from_secs(30),
            registration_retry_max: Duration::from_secs(1800),
            max_calls: 64,
        }
    }
}

/// An incoming call, as reported by [`Event::IncomingCall`].
#[derive(Debug, Clone)]
pub struct IncomingCall {
    /// The handle to answer, reject or redirect it with.
    pub call: CallHandle,
    /// The caller (From).
    pub from: NameAddr,
    /// The callee as the caller addressed it (To).
    pub to: NameAddr,
    /// The Call-ID.
    pub call_id: String,
    /// The SDP offer, if the INVITE carried one.
    pub sdp: Option<Bytes>,
    /// The whole INVITE (headers such as P-Asserted-Identity, Alert-Info).
    pub request: Request,
}

/// What the user agent reports to the application.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A new incoming call.
    IncomingCall(Box<IncomingCall>),
    /// A provisional response (180/183/...) to our INVITE.
    Provisional {
        /// The call.
        call: CallHandle,
        /// The status.
        status: StatusCode,
        /// Reason phrase.
        reason: String,
        /// SDP in the response (early media), if any.
        sdp: Option<Bytes>,
        /// It created or continued an early dialog (carried a To tag).
        early_dialog: bool,
        /// It was sent reliably (RFC 3262) and we sent PRACK.
        reliable: bool,
    },
    /// Our INVITE was answered (2xx; ACK sent).
    Answered {
        /// The call.
        call: CallHandle,
        /// The SDP answer.
        sdp: Option<Bytes>,
    },
    /// The ACK for our 2xx arrived: the incoming call is confirmed.
    Confirmed {
        /// The call.
        call: CallHandle,
        /// SDP in the ACK (the answer to an offer in our 2xx), if any.
        sdp: Option<Bytes>,
    },
    /// A re-INVITE or UPDATE brought an SDP offer: answer it with
    /// [`UserAgent::answer_offer`] (or refuse with
    /// [`UserAgent::reject_offer`]).
    OfferReceived {
        /// The call.
        call: CallHandle,
        /// The offer.
        sdp: Bytes,
        /// INVITE or UPDATE.
        method: Method,
    },
    /// The answer to our re-INVITE/UPDATE offer.
    AnswerReceived {
        /// The call.
        call: CallHandle,
        /// The answer.
        sdp: Option<Bytes>,
    },
    /// Our re-INVITE/UPDATE was refused (the session goes on unchanged).
    OfferRejected {
        /// The call.
        call: CallHandle,
        /// The final status.
        status: StatusCode,
    },
    /// The call ended (reported exactly once per call).
    Ended {
        /// The call.
        call: CallHandle,
        /// Why.
        reason: EndReason,
    },
    /// The peer asks us to transfer (REFER): accept with
    /// [`UserAgent::accept_transfer`], place the new call, and report its
    /// progress with [`UserAgent::notify_transfer`].
    TransferRequested {
        /// The call the REFER came in.
        call: CallHandle,
        /// Refer-To.
        refer_to: Box<NameAddr>,
        /// Referred-By, if given.
        referred_by: Option<Box<NameAddr>>,
    },
    /// Progress of a transfer we asked for (the REFER's response, then
    /// each NOTIFY's sipfrag status).
    TransferProgress {
        /// The call we sent REFER in.
        call: CallHandle,
        /// Status: the REFER's own response, then the sipfrag status.
        status: StatusCode,
        /// No more progress will come.
        done: bool,
    },
    /// An INFO request arrived (e.g. DTMF as application/dtmf-relay).
    InfoReceived {
        /// The call.
        call: CallHandle,
        /// Its Content-Type.
        content_type: Option<String>,
        /// Its body.
        body: Bytes,
    },
    /// A registration changed state.
    Registration {
        /// The registration.
        registration: RegistrationHandle,
        /// The new state.
        state: RegistrationState,
    },
    /// The final response to an OPTIONS we sent (`None`: timed out).
    OptionsResponse {
        /// The request.
        request: RequestHandle,
        /// The status, or `None` on timeout / transport error.
        status: Option<StatusCode>,
    },
}

/// Counters of what the core saw and did, all from
/// [`UserAgent::stats`]: the transaction layer's in
/// [`transactions`](Self::transactions), the core's own here, and the
/// live transactions and calls at the time of the call.
///
/// Every copy of an earlier message the user agent sends is counted in
/// exactly one retransmission counter: the transaction layer's
/// ([`TransactionStats::request_retransmissions`],
/// [`TransactionStats::response_retransmissions`],
/// [`TransactionStats::ack_retransmissions`]) or the call layer's
/// ([`retransmitted_2xx`](Self::retransmitted_2xx),
/// [`retransmitted_acks`](Self::retransmitted_acks),
/// [`retransmitted_reliable_1xx`](Self::retransmitted_reliable_1xx)).
/// [`retransmissions`](Self::retransmissions) is their sum: the number of
/// transmits whose bytes were already sent before.
///
/// For diagnostics: a `retransmitted_2xx` that keeps growing means our
/// 2xx answers (or the peer's ACKs) are lost on the way, the classic sign
/// of a NAT or firewall dropping the peer's traffic to the Contact we
/// gave; `retransmitted_acks` growing means the same seen from the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UaStats {
    /// Transaction layer counters.
    pub transactions: TransactionStats,
    /// Received bytes that were not a SIP message.
    pub parse_errors: u64,
    /// Requests refused by validation (400/416/420/415/505/483).
    pub rejected_requests: u64,
    /// Responses whose top Via is not ours (dropped).
    pub misrouted_responses: u64,
    /// Malformed responses (dropped, RFC 3261 §8.1.3.3).
    pub invalid_responses: u64,
    /// UAS: copies of a 2xx to INVITE (or re-INVITE) re-sent by the core
    /// because its ACK had not come yet (RFC 3261 §13.3.1.4: T1 doubling
    /// up to T2). The first send is not counted.
    pub retransmitted_2xx: u64,
    /// UAC: ACKs re-sent because the 2xx they acknowledge arrived again
    /// (RFC 3261 §13.2.2.4). ACKs of non-2xx responses are the transaction
    /// layer's ([`TransactionStats::ack_retransmissions`]).
    pub retransmitted_acks: u64,
    /// UAS: copies of a reliable provisional response (100rel) re-sent by
    /// the core because its PRACK had not come yet (RFC 3262 §3). Copies
    /// re-sent on a retransmitted INVITE are the transaction layer's
    /// ([`TransactionStats::response_retransmissions`]).
    pub retransmitted_reliable_1xx: u64,
    /// Live client transactions (a gauge, at the time of `stats()`).
    pub client_transactions: usize,
    /// Live server transactions (a gauge, at the time of `stats()`).
    pub server_transactions: usize,
    /// Calls the core still keeps, ended ones included until they linger
    /// out (64*T1), as [`UserAgent::call_count`] (a gauge).
    pub calls: usize,
}

impl UaStats {
    /// Every retransmission, of either layer: the number of messages sent
    /// that were copies of one sent before.
    pub fn retransmissions(&self) -> u64 {
        let t = &self.transactions;
        t.request_retransmissions
            + t.response_retransmissions
            + t.ack_retransmissions
            + self.retransmitted_2xx
            + self.retransmitted_acks
            + self.retransmitted_reliable_1xx
    }
}

/// What a timer of the core (not of a transaction) is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UaTimer {
    Call(CallHandle, CallTimer),
    Reg(RegistrationHandle, RegTimer),
}

/// Who a client transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxOwner {
    Call(CallHandle, Purpose),
    Registration(RegistrationHandle),
    Options(RequestHandle),
    /// A request of a call that no longer matters (BYE to a stray fork).
    Stray,
}

/// A SIP user agent core (UAC and UAS), sans-IO.
pub struct UserAgent {
    pub(crate) cfg: UaConfig,
    pub(crate) caps: crate::message::UasCapabilities,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) tx: TxLayer<TxOwner>,
    pub(crate) timers: Timers<UaTimer>,
    pub(crate) calls: HashMap<CallHandle, Call>,
    /// (Call-ID, local tag) -> call.
    pub(crate) dialog_index: HashMap<(String, String), CallHandle>,
    pub(crate) registrations: HashMap<RegistrationHandle, Registration>,
    pub(crate) digest: DigestClient,
    pub(crate) events: VecDeque<Event>,
    pub(crate) next_handle: u64,
    pub(crate) learned: HashMap<Transport, SocketAddr>,
    pub(crate) stats: UaStats,
}

impl fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserAgent")
            .field("user", &self.cfg.user)
            .field("local_addrs", &self.cfg.local_addrs)
            .field("calls", &self.calls.len())
            .field("registrations", &self.registrations.len())
            .field("digest", &self.digest)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl UserAgent {
    /// A user agent with `cfg`, drawing tags, branches, Call-IDs and
    /// cnonces from `rng` (seed it from the OS in production, from a fixed
    /// number in tests).
    pub fn new(cfg: UaConfig, rng: ChaCha20Rng) -> Self {
        let mut digest = DigestClient::default();
        for c in &cfg.credentials {
            digest.add(c.clone());
        }
        Self {
            caps: validate::capabilities(&cfg),
            tx: TxLayer::new(cfg.timers),
            cfg,
            rng,
            timers: Timers::new(),
            calls: HashMap::new(),
            dialog_index: HashMap::new(),
            registrations: HashMap::new(),
            digest,
            events: VecDeque::new(),
            next_handle: 1,
            learned: HashMap::new(),
            stats: UaStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UaConfig {
        &self.cfg
    }

    /// Adds digest credentials.
    pub fn add_credentials(&mut self, c: Credentials) {
        self.digest.add(c);
    }

    /// Every counter of the core and of its transaction layer, with the
    /// live transaction and call counts (see [`UaStats`]).
    pub fn stats(&self) -> UaStats {
        let mut s = self.stats;
        s.transactions = self.tx.stats;
        (s.client_transactions, s.server_transactions) = self.tx.counts();
        s.calls = self.calls.len();
        s
    }

    /// Live (client, server) transactions (also in [`UaStats`]).
    pub fn transaction_counts(&self) -> (usize, usize) {
        self.tx.counts()
    }

    /// The public address learned from `received`/`rport` for `transport`.
    pub fn learned_address(&self, transport: Transport) -> Option<SocketAddr> {
        self.learned.get(&transport).copied()
    }

    // ----- the sans-IO surface -----

    /// Feeds bytes received on `transport` from `source`: one datagram
    /// (UDP), or one message cut from the stream by
    /// [`StreamFramer`](crate::StreamFramer) (TCP/TLS).
    pub fn handle_input(
        &mut self,
        now: Instant,
        transport: Transport,
        source: SocketAddr,
        bytes: &[u8],
    ) {
        let framing = if transport.is_reliable() {
            Framing::Stream
        } else {
            Framing::Datagram
        };
        match parse_message(Bytes::copy_from_slice(bytes), framing, &self.cfg.limits) {
            Ok(Message::Request(r)) => self.on_request(now, r, source, transport),
            Ok(Message::Response(r)) => self.on_response(now, r),
            Err(e) => {
                tracing::debug!(%source, error = %e, "unparseable message");
                self.stats.parse_errors += 1;
                self.best_effort_400(bytes, &e, source, transport);
            }
        }
        self.drain_tu(now);
    }

    /// The driver could not send to `destination` (ICMP unreachable,
    /// connection refused): transactions sending there fail.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        transport: Transport,
        destination: SocketAddr,
    ) {
        self.tx.transport_error(transport, destination);
        self.drain_tu(now);
    }

    /// Fires every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.drain_tu(now);
        while let Some((key, t)) = self.timers.pop_due(now) {
            match t {
                UaTimer::Call(h, ct) => self.call_timer(now, h, ct, key),
                UaTimer::Reg(h, rt) => self.reg_timer(now, h, rt, key),
            }
            self.drain_tu(now);
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.out.pop_front()
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.tx.poll_timeout(), self.timers.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- dispatch -----

    fn on_response(&mut self, now: Instant, resp: Response) {
        // RFC 3261 §8.1.3.3: a malformed response is discarded.
        if crate::message::validate_response(&resp).is_err() {
            self.stats.invalid_responses += 1;
            return;
        }
        // RFC 3261 §18.1.2: the top Via must be ours.
        let ours =
            resp.top_via().ok().is_some_and(|v| {
                v.branch().is_some_and(|b| b.starts_with(BRANCH_COOKIE))
                    && self.cfg.local_addrs.iter().any(|(_, a)| {
                        v.host.ip() == Some(a.ip()) && v.port.unwrap_or(5060) == a.port()
                    })
            });
        if !ours {
            self.stats.misrouted_responses += 1;
            return;
        }
        self.tx.on_response(now, resp);
    }

    fn on_request(
        &mut self,
        now: Instant,
        mut req: Request,
        source: SocketAddr,
        transport: Transport,
    ) {
        route_and_stamp(&mut req, source);
        match self.tx.on_request(now, &req, source, transport) {
            Inbound::Absorbed | Inbound::Merged => {}
            Inbound::Overloaded => self.reject_statelessly(
                &req,
                source,
                transport,
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable (too many transactions)",
            ),
            Inbound::Unusable => self.reject_statelessly(
                &req,
                source,
                transport,
                StatusCode::BAD_REQUEST,
                "Bad Request (missing or malformed Via/From/Call-ID/CSeq)",
            ),
            Inbound::Ack => self.on_ack(now, req),
            Inbound::New(id) => self.on_new_request(now, id, req),
        }
    }

    fn on_new_request(&mut self, now: Instant, id: TxId, req: Request) {
        if let Some(rej) = validate::check(&req, &self.caps) {
            self.stats.rejected_requests += 1;
            let tag = self.new_tag();
            let resp = rej.to_response(&req, &tag);
            self.tx.respond(now, id, resp);
            return;
        }
        if req.method == Method::Cancel {
            self.on_cancel(now, id, req);
            return;
        }
        // The request passed validate_request: its keys are well-formed.
        let dialog = req.keys().ok().and_then(|k| {
            k.to_tag
                .map(|tag| (k.call_id.to_string(), tag.as_str().to_string()))
        });
        if let Some((call_id, tag)) = dialog {
            match self.dialog_index.get(&(call_id, tag)).copied() {
                Some(h) => self.in_dialog_request(now, h, id, req),
                None => self.reply(now, id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST),
            }
            return;
        }
        match req.method {
            Method::Invite => self.incoming_invite(now, id, req),
            Method::Options => {
                let resp = self.options_response(&req);
                self.tx.respond(now, id, resp);
            }
            Method::Bye
            | Method::Prack
            | Method::Update
            | Method::Info
            | Method::Notify
            | Method::Refer => {
                self.reply(now, id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST)
            }
            Method::Register | Method::Subscribe | Method::Publish | Method::Message => {
                let mut resp = Response::for_request(&req, StatusCode::METHOD_NOT_ALLOWED);
                resp.headers.push(HeaderName::Allow, ALLOW);
                self.add_to_tag_if_missing(&mut resp);
                self.tx.respond(now, id, resp);
            }
            _ => {
                let mut resp = Response::for_request(&req, StatusCode::NOT_IMPLEMENTED);
                resp.headers.push(HeaderName::Allow, ALLOW);
                self.add_to_tag_if_missing(&mut resp);
                self.tx.respond(now, id, resp);
            }
        }
    }

    fn drain_tu(&mut self, now: Instant) {
        while let Some(ev) = self.tx.tu.pop_front() {
            match ev {
                TuEvent::Response {
                    tx,
                    owner,
                    request,
                    response,
                } => match owner {
                    TxOwner::Call(h, p) => self.call_response(now, h, p, tx, request, response),
                    TxOwner::Registration(h) => self.reg_response(now, h, request, response),
                    TxOwner::Options(h) => {
                        if response.status.is_final() {
                            self.events.push_back(Event::OptionsResponse {
                                request: h,
                                status: Some(response.status),
                            });
                        }
                    }
                    TxOwner::Stray => {}
                },
                TuEvent::Timeout { owner, request, .. } => {
                    self.tx_failed(now, owner, request, false)
                }
                TuEvent::TransportError { owner, request, .. } => {
                    self.tx_failed(now, owner, request, true)
                }
                TuEvent::AckTimeout => {}
                TuEvent::ServerTerminated { tx } => self.server_terminated(tx),
            }
        }
    }

    fn tx_failed(&mut self, now: Instant, owner: TxOwner, request: Request, transport_error: bool) {
        match owner {
            TxOwner::Call(h, p) => self.call_failed(now, h, p, request, transport_error),
            TxOwner::Registration(h) => self.reg_failed(now, h, transport_error),
            TxOwner::Options(h) => self.events.push_back(Event::OptionsResponse {
                request: h,
                status: None,
            }),
            TxOwner::Stray => {}
        }
    }

    // ----- helpers shared by calls and registrations -----

    pub(crate) fn new_handle(&mut self) -> u64 {
        let h = self.next_handle;
        self.next_handle += 1;
        h
    }

    pub(crate) fn new_tag(&mut self) -> String {
        random_hex(&mut self.rng, 8)
    }

    pub(crate) fn new_branch(&mut self) -> String {
        format!("{BRANCH_COOKIE}{}", random_hex(&mut self.rng, 12))
    }

    pub(crate) fn new_call_id(&mut self) -> String {
        let host = self
            .cfg
            .local_addrs
            .first()
            .map(|(_, a)| a.ip().to_string())
            .unwrap_or_else(|| "voipkit".into());
        let host = host.replace([':', '[', ']'], "-");
        format!("{}@{host}", random_hex(&mut self.rng, 12))
    }

    /// A uniformly random duration in `lo..=hi` (10 ms granularity).
    pub(crate) fn random_duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        let lo_ms = lo.as_millis() as u64 / 10;
        let hi_ms = hi.as_millis() as u64 / 10;
        if hi_ms <= lo_ms {
            return lo;
        }
        Duration::from_millis(self.rng.random_range(lo_ms..=hi_ms) * 10)
    }

    pub(crate) fn local_addr(&self, t: Transport) -> Result<SocketAddr, Error> {
        self.cfg
            .local_addrs
            .iter()
            .find(|(tt, _)| *tt == t)
            .map(|(_, a)| *a)
            .ok_or(Error::NoLocalAddress(t.as_str()))
    }

    /// The address for our Contact on `t`: the learned public one when
    /// enabled and known, else the local one.
    pub(crate) fn contact_addr(&self, t: Transport) -> Result<SocketAddr, Error> {
        if self.cfg.use_learned_contact
            && let Some(a) = self.learned.get(&t)
        {
            return Ok(*a);
        }
        self.local_addr(t)
    }

    pub(crate) fn contact_uri(&self, t: Transport) -> Result<String, Error> {
        let a = self.contact_addr(t)?;
        let mut u = crate::message::SipUri::from_addr(Some(&self.cfg.user), a);
        if t != Transport::Udp {
            u.params
                .set("transport", Some(&t.as_str().to_ascii_lowercase()));
        }
        Ok(u.to_string())
    }

    pub(crate) fn contact_header(&self, t: Transport) -> Result<String, Error> {
        Ok(format!("<{}>", self.contact_uri(t)?))
    }

    /// Our identity for From (without tag).
    pub(crate) fn identity(&self) -> NameAddr {
        let uri = match &self.cfg.identity {
            Some(u) => u.clone(),
            None => {
                let a = self
                    .cfg
                    .local_addrs
                    .first()
                    .map(|(_, a)| *a)
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)));
                Uri::Sip(crate::message::SipUri::from_addr(Some(&self.cfg.user), a))
            }
        };
        let mut na = NameAddr::new(uri);
        na.display_name = self.cfg.display_name.as_deref().map(Into::into);
        na
    }

    /// Turns a URI into a next hop (no DNS: the host must be an IP).
    pub(crate) fn resolve(&self, uri: &Uri) -> Result<(Transport, SocketAddr), Error> {
        let sip = uri
            .as_sip()
            .ok_or_else(|| Error::Unresolvable(uri.to_string()))?;
        let transport = match sip.transport_param() {
            Some(t) => Transport::from_token(&t)
                .ok_or(Error::InvalidArgument("unknown transport parameter"))?,
            None if sip.secure => Transport::Tls,
            None => Transport::Udp,
        };
        let host = match sip.params.get("maddr") {
            Some(m) => Host::parse(&crate::message::SipStr::from(m), m).ok(),
            None => Some(sip.host.clone()),
        };
        let ip = host
            .and_then(|h| h.ip())
            .ok_or_else(|| Error::Unresolvable(uri.to_string()))?;
        let default_port = if transport == Transport::Tls {
            5061
        } else {
            5060
        };
        Ok((
            transport,
            SocketAddr::new(ip, sip.port.unwrap_or(default_port)),
        ))
    }

    /// Where a request goes: the outbound proxy, else its first (loose)
    /// Route, else its Request-URI.
    pub(crate) fn route_for(&self, req: &Request) -> Result<(Transport, SocketAddr), Error> {
        if let Some(p) = self.cfg.outbound_proxy {
            return Ok(p);
        }
        if let Ok(routes) = req.name_addrs(&HeaderName::Route)
            && let Some(first) = routes.first()
            && first.uri.as_sip().is_some_and(|u| u.params.contains("lr"))
        {
            return self.resolve(&first.uri);
        }
        self.resolve(req.uri())
    }

    /// Routes `req` and stamps it for sending there: a fresh Via (new
    /// branch, rport) replacing any, Max-Forwards 70 unless set. Returns
    /// the transport and destination.
    fn route_with_fresh_via(
        &mut self,
        req: &mut Request,
    ) -> Result<(Transport, SocketAddr), Error> {
        let (t, dest) = self.route_for(req)?;
        let local = self.local_addr(t)?;
        let branch = self.new_branch();
        req.headers.remove(&HeaderName::Via);
        req.headers
            .push_front(HeaderName::Via, via_value(t, local, &branch));
        if !req.headers.contains(&HeaderName::MaxForwards) {
            req.headers.push(HeaderName::MaxForwards, "70");
        }
        Ok((t, dest))
    }

    /// Stamps Via (fresh branch, rport), credentials and common headers,
    /// and starts a client transaction.
    pub(crate) fn send_request(
        &mut self,
        now: Instant,
        mut req: Request,
        owner: TxOwner,
    ) -> Result<TxId, Error> {
        let (t, dest) = self.route_with_fresh_via(&mut req)?;
        if let Some(ua) = &self.cfg.user_agent
            && !req.headers.contains(&HeaderName::UserAgent)
        {
            req.headers.push(HeaderName::UserAgent, ua.clone());
        }
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            self.digest.authorize(&mut req);
        }
        Ok(self.tx.start_client(now, req, dest, t, owner))
    }

    /// Sends a request outside any transaction (ACK for 2xx).
    pub(crate) fn send_stateless(
        &mut self,
        mut req: Request,
    ) -> Result<(Transport, SocketAddr, Vec<u8>), Error> {
        let (t, dest) = self.route_with_fresh_via(&mut req)?;
        let bytes = req.to_bytes();
        self.tx.out.push_back(Transmit {
            transport: t,
            destination: dest,
            contents: bytes.clone(),
        });
        Ok((t, dest, bytes))
    }

    /// Adds a To tag to a non-100 response that lacks one (responses to
    /// out-of-dialog requests, RFC 3261 §8.2.6.2).
    pub(crate) fn add_to_tag_if_missing(&mut self, resp: &mut Response) {
        if resp.status == StatusCode::TRYING {
            return;
        }
        if let Ok(mut to) = resp.to()
            && to.tag().is_none()
        {
            let tag = self.new_tag();
            to.set_tag(&tag);
            resp.headers.set(HeaderName::To, to.to_string());
        }
    }

    /// A plain response with a To tag.
    pub(crate) fn reply(&mut self, now: Instant, id: TxId, req: &Request, status: StatusCode) {
        let mut resp = Response::for_request(req, status);
        self.add_to_tag_if_missing(&mut resp);
        if let Some(s) = &self.cfg.user_agent {
            resp.headers.push(HeaderName::Server, s.clone());
        }
        self.tx.respond(now, id, resp);
    }

    /// Rejects a request no transaction takes (counted; an ACK gets no
    /// answer, nor does a request without a Via to answer along).
    fn reject_statelessly(
        &mut self,
        req: &Request,
        source: SocketAddr,
        transport: Transport,
        status: StatusCode,
        reason: &'static str,
    ) {
        if req.method == Method::Ack {
            return;
        }
        self.stats.rejected_requests += 1;
        if !req.headers.contains(&HeaderName::Via) {
            return;
        }
        let mut resp = Response::for_request(req, status).with_reason(reason);
        self.add_to_tag_if_missing(&mut resp);
        let dest = crate::transaction::response_destination(req, source, transport);
        self.tx.out.push_back(Transmit {
            transport,
            destination: dest,
            contents: resp.to_bytes(),
        });
    }

    /// A 400 for bytes that did not parse, when they look like a request
    /// with a Via we can copy (best effort; responses are dropped).
    fn best_effort_400(
        &mut self,
        bytes: &[u8],
        err: &crate::message::ParseError,
        source: SocketAddr,
        transport: Transport,
    ) {
        let tag = self.new_tag();
        if let Some(out) = crate::message::best_effort_rejection(bytes, err, &tag) {
            self.stats.rejected_requests += 1;
            self.tx.out.push_back(Transmit {
                transport,
                destination: source,
                contents: out.to_bytes(),
            });
        }
    }

    /// The answer to OPTIONS (in or out of dialog).
    pub(crate) fn options_response(&mut self, req: &Request) -> Response {
        let mut resp = Response::for_request(req, StatusCode::OK);
        self.add_to_tag_if_missing(&mut resp);
        resp.headers.push(HeaderName::Allow, ALLOW);
        resp.headers.push(HeaderName::Supported, self.supported());
        resp.headers.push(HeaderName::Accept, "application/sdp");
        resp.headers.push(HeaderName::AcceptEncoding, "identity");
        resp.headers.push(HeaderName::AcceptLanguage, "en");
        if let Some(t) = req
            .headers
            .get(&HeaderName::Via)
            .and_then(|_| self.cfg.local_addrs.first().map(|(t, _)| *t))
            && let Ok(c) = self.contact_header(t)
        {
            resp.headers.push(HeaderName::Contact, c);
        }
        if let Some(s) = &self.cfg.user_agent {
            resp.headers.push(HeaderName::Server, s.clone());
        }
        resp
    }

    /// Our Supported header value.
    pub(crate) fn supported(&self) -> String {
        let mut v = Vec::new();
        if self.cfg.enable_100rel {
            v.push("100rel");
        }
        if self.cfg.session_timer.is_some() {
            v.push("timer");
        }
        v.push("norefersub");
        v.join(", ")
    }

    /// Sends OPTIONS to `target` outside any dialog (a keep-alive or a
    /// capability query); the answer comes as [`Event::OptionsResponse`].
    pub fn send_options(&mut self, now: Instant, target: Uri) -> Result<RequestHandle, Error> {
        let h = RequestHandle(self.new_handle());
        let mut req = Request::new(Method::Options, target.clone());
        let mut from = self.identity();
        let tag = self.new_tag();
        from.set_tag(&tag);
        let call_id = self.new_call_id();
        req.headers.push(HeaderName::From, from.to_string());
        req.headers
            .push(HeaderName::To, NameAddr::new(target).to_string());
        req.headers.push(HeaderName::CallId, call_id);
        req.headers.push(HeaderName::CSeq, "1 OPTIONS");
        req.headers.push(HeaderName::Accept, "application/sdp");
        self.push_preloaded_routes(&mut req);
        self.send_request(now, req, TxOwner::Options(h))?;
        Ok(h)
    }

    /// The configured Route set, as loose routes.
    pub(crate) fn push_preloaded_routes(&self, req: &mut Request) {
        for r in &self.cfg.route_set {
            let mut u = r.clone();
            if let Some(s) = u.as_sip_mut() {
                s.params.set("lr", None);
            }
            req.headers.push(HeaderName::Route, format!("<{u}>"));
        }
    }

    pub(crate) fn arm(&mut self, at: Instant, t: UaTimer) -> TimerKey {
        self.timers.arm(at, t)
    }
}

/// Methods we handle.
pub(crate) const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY";

pub(crate) fn via_value(t: Transport, local: SocketAddr, branch: &str) -> String {
    let host: Host = local.ip().into();
    format!(
        "SIP/2.0/{} {host}:{};branch={branch};rport",
        t.as_str(),
        local.port()
    )
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: note where the request really came
/// from in its top Via (`received`, and `rport` when asked for).
fn route_and_stamp(req: &mut Request, source: SocketAddr) {
    let Ok(mut via) = req.top_via() else {
        return;
    };
    let mut changed = false;
    if via.host.ip() != Some(source.ip()) {
        via.params.set("received", Some(&source.ip().to_string()));
        changed = true;
    }
    if via.rport() == Some(None) {
        via.params.set("rport", Some(&source.port().to_string()));
        if !changed {
            via.params.set("received", Some(&source.ip().to_string()));
        }
        changed = true;
    }
    if changed {
        req.headers.remove_first_item(&HeaderName::Via);
        req.headers.push_front(HeaderName::Via, via.to_string());
    }
}
