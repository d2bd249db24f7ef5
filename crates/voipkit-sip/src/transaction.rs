//! Transactions (RFC 3261 §17 as updated by RFC 6026): INVITE and
//! non-INVITE, client and server, timers A-K, L and M.
//!
//! The layer owns every transaction, their deadlines and their
//! retransmissions. It hands the transaction user (the user-agent core)
//! `TuEvent`s: responses, timeouts and transport errors for client
//! transactions; server transactions are created by `TxLayer::on_request`
//! and answered with `TxLayer::respond`. Retransmissions happen only on
//! unreliable transports; timers D, I, J and K are zero on reliable ones.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::message::{HeaderName, Method, Request, Response, SipMessage, StatusCode};
use crate::timer::{TimerConfig, TimerKey, Timers};
use crate::transport::{Transmit, Transport};

/// Identifies one transaction inside a [`TxLayer`].
pub(crate) type TxId = u64;

/// The magic cookie of RFC 3261 branches.
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// Most live server transactions (each lingers up to 64*T1): beyond it,
/// new requests get a stateless 503 so a flood can't grow memory without
/// bound.
pub const MAX_SERVER_TRANSACTIONS: usize = 10_000;

/// Which RFC timer a deadline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxTimer {
    /// A (INVITE retransmit) or E (non-INVITE retransmit).
    Retransmit,
    /// B (INVITE timeout) or F (non-INVITE timeout).
    Timeout,
    /// D, K (client linger), I, J, L, M: the transaction ends.
    Linger,
    /// G (INVITE response retransmit, server).
    ResponseRetransmit,
    /// H (wait for ACK, server).
    AckWait,
}

/// Counters of what the transaction layer did.
///
/// The `*_retransmissions` counters count only copies this layer sent
/// itself; the resends the user-agent core does as transaction user (2xx
/// to INVITE until the ACK, the ACK of a retransmitted 2xx, reliable
/// provisionals until the PRACK) are counted in
/// [`UaStats`](crate::UaStats) instead, never in both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionStats {
    /// Responses that matched no client transaction (dropped).
    pub unmatched_responses: u64,
    /// Requests retransmitted by timers A, E.
    pub request_retransmissions: u64,
    /// Responses retransmitted (timer G, or re-sent on a retransmitted
    /// request).
    pub response_retransmissions: u64,
    /// ACKs re-sent for a retransmitted non-2xx final response to INVITE
    /// (RFC 3261 §17.1.1.2, Completed state).
    pub ack_retransmissions: u64,
    /// Retransmitted requests absorbed by a server transaction.
    pub absorbed_requests: u64,
    /// Client transactions that timed out (B, F).
    pub timeouts: u64,
    /// ACKs that never came for a non-2xx final response (timer H).
    pub ack_timeouts: u64,
    /// Merged requests answered with 482 (RFC 3261 §8.2.2.2).
    pub merged_requests: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    /// Calling (INVITE) or Trying (non-INVITE).
    Initial,
    Proceeding,
    Completed,
    /// RFC 6026: a 2xx to INVITE received; further 2xx go to the TU.
    Accepted,
    Terminated,
}

#[derive(Debug)]
struct ClientTx<O> {
    invite: bool,
    key: (String, Method),
    request: Request,
    bytes: Vec<u8>,
    destination: SocketAddr,
    transport: Transport,
    state: ClientState,
    interval: Duration,
    retransmit: Option<TimerKey>,
    timeout: Option<TimerKey>,
    linger: Option<TimerKey>,
    ack: Option<Vec<u8>>,
    owner: O,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    /// Proceeding (INVITE) or Trying/Proceeding (non-INVITE).
    Proceeding,
    Completed,
    Confirmed,
    /// RFC 6026: a 2xx sent to INVITE; absorbs INVITE retransmissions,
    /// ACKs go to the TU.
    Accepted,
}

/// How a server transaction is found (RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ServerKey {
    Branch {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 peers: no magic cookie.
    Legacy {
        request_uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        via: String,
        method: Method,
    },
}

#[derive(Debug)]
struct ServerTx {
    invite: bool,
    key: ServerKey,
    merge_key: Option<(String, String, u32)>,
    request: Request,
    response_to: SocketAddr,
    transport: Transport,
    state: ServerState,
    last_response: Option<Vec<u8>>,
    last_status: Option<StatusCode>,
    interval: Duration,
    timer_g: Option<TimerKey>,
    timer_h: Option<TimerKey>,
    linger: Option<TimerKey>,
}

/// What the transaction user must handle (drained right away, so the size
/// of the largest variant does not matter).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum TuEvent<O> {
    /// A response for a client transaction (only those the TU must see:
    /// not retransmissions absorbed by the transaction).
    Response {
        tx: TxId,
        owner: O,
        request: Request,
        response: Response,
    },
    /// Timer B or F fired.
    Timeout { owner: O, request: Request },
    /// The driver reported that sending failed.
    TransportError { owner: O, request: Request },
    /// Timer H fired: the ACK for a non-2xx final response never came.
    AckTimeout,
    /// A server transaction ended (TU bookkeeping).
    ServerTerminated { tx: TxId },
}

/// What [`TxLayer::on_request`] made of a request.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A new request: a server transaction was created; the TU must answer.
    New(TxId),
    /// A retransmission or an ACK for a non-2xx: handled.
    Absorbed,
    /// An ACK that the TU must see (for a 2xx).
    Ack,
    /// A merged request (§8.2.2.2): the layer answered 482.
    Merged,
    /// Too many live server transactions: answer 503 statelessly.
    Overloaded,
    /// No usable Via/From/Call-ID/CSeq to key a transaction on: the caller
    /// answers 400 by hand (or drops it).
    Unusable,
}

#[derive(Debug, Clone, Copy)]
struct TimerRef {
    tx: TxId,
    timer: TxTimer,
    server: bool,
}

/// The transaction layer of one user agent.
#[derive(Debug)]
pub(crate) struct TxLayer<O> {
    cfg: TimerConfig,
    clients: HashMap<TxId, ClientTx<O>>,
    client_index: HashMap<(String, Method), TxId>,
    servers: HashMap<TxId, ServerTx>,
    server_index: HashMap<ServerKey, TxId>,
    merge_index: HashMap<(String, String, u32), TxId>,
    timers: Timers<TimerRef>,
    next_id: TxId,
    pub(crate) out: VecDeque<Transmit>,
    pub(crate) tu: VecDeque<TuEvent<O>>,
    pub(crate) stats: TransactionStats,
}

fn server_key(req: &Request) -> Option<ServerKey> {
    let via = req.top_via().ok()?;
    let method = if req.method == Method::Ack {
        Method::Invite
    } else {
        req.method.clone()
    };
    match via.branch() {
        Some(b) if b.starts_with(BRANCH_COOKIE) => {
            let sent_by = match via.port {
                Some(p) => format!("{}:{p}", via.host),
                None => via.host.to_string(),
            };
            Some(ServerKey::Branch {
                branch: b.to_string(),
                sent_by: sent_by.to_ascii_lowercase(),
                method,
            })
        }
        _ => {
            let from = req.from().ok()?;
            Some(ServerKey::Legacy {
                request_uri: req.uri().to_string(),
                from_tag: from.tag().unwrap_or("").to_string(),
                call_id: req.call_id().ok()?.to_string(),
                cseq: req.cseq().ok()?.seq,
                via: format!("{}:{:?}", via.host, via.port),
                method,
            })
        }
    }
}

/// Where responses to `req`, received from `source`, go (RFC 3261
/// §18.2.2, RFC 3581 §4): back to the source on reliable transports or
/// when `rport` was asked for; else to the source address at the Via port.
pub(crate) fn response_destination(
    req: &Request,
    source: SocketAddr,
    transport: Transport,
) -> SocketAddr {
    if transport.is_reliable() {
        return source;
    }
    match req.top_via() {
        Ok(via) if via.rport().is_none() => SocketAddr::new(source.ip(), via.port.unwrap_or(5060)),
        _ => source,
    }
}

impl<O: Clone> TxLayer<O> {
    pub(crate) fn new(cfg: TimerConfig) -> Self {
        Self {
            cfg,
            clients: HashMap::new(),
            client_index: HashMap::new(),
            servers: HashMap::new(),
            server_index: HashMap::new(),
            merge_index: HashMap::new(),
            timers: Timers::new(),
            next_id: 1,
            out: VecDeque::new(),
            tu: VecDeque::new(),
            stats: TransactionStats::default(),
        }
    }

    pub(crate) fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    /// The earliest transaction deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Number of live transactions (client, server).
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    fn send(&mut self, transport: Transport, destination: SocketAddr, contents: Vec<u8>) {
        self.out.push_back(Transmit {
            transport,
            destination,
            contents,
        });
    }

    fn arm(
        &mut self,
        now: Instant,
        d: Duration,
        tx: TxId,
        timer: TxTimer,
        server: bool,
    ) -> TimerKey {
        self.timers.arm(now + d, TimerRef { tx, timer, server })
    }

    // ----- client side -----

    /// Starts a client transaction for `request` (whose top Via carries a
    /// fresh branch) and sends it.
    pub(crate) fn start_client(
        &mut self,
        now: Instant,
        request: Request,
        destination: SocketAddr,
        transport: Transport,
        owner: O,
    ) -> TxId {
        let id = self.next_id;
        self.next_id += 1;
        let branch = request
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_string))
            .unwrap_or_default();
        let invite = request.method == Method::Invite;
        let key = (branch, request.method.clone());
        let bytes = request.to_bytes();
        self.send(transport, destination, bytes.clone());
        let t1 = self.cfg.t1;
        let retransmit =
            (!transport.is_reliable()).then(|| self.arm(now, t1, id, TxTimer::Retransmit, false));
        let timeout = Some(self.arm(now, self.cfg.t1x64(), id, TxTimer::Timeout, false));
        self.client_index.insert(key.clone(), id);
        self.clients.insert(
            id,
            ClientTx {
                invite,
                key,
                request,
                bytes,
                destination,
                transport,
                state: ClientState::Initial,
                interval: t1,
                retransmit,
                timeout,
                linger: None,
                ack: None,
                owner,
            },
        );
        id
    }

    /// The request a client transaction sent.
    pub(crate) fn client_request(&self, tx: TxId) -> Option<&Request> {
        self.clients.get(&tx).map(|c| &c.request)
    }

    /// Where and how a client transaction sends.
    pub(crate) fn client_route(&self, tx: TxId) -> Option<(Transport, SocketAddr)> {
        self.clients.get(&tx).map(|c| (c.transport, c.destination))
    }

    /// Whether a client INVITE transaction has seen a provisional response
    /// (CANCEL may only be sent then, RFC 3261 §9.1).
    pub(crate) fn client_is_proceeding(&self, tx: TxId) -> bool {
        self.clients
            .get(&tx)
            .is_some_and(|c| c.state == ClientState::Proceeding)
    }

    /// Whether the client transaction still waits for a final response.
    pub(crate) fn client_is_pending(&self, tx: TxId) -> bool {
        self.clients
            .get(&tx)
            .is_some_and(|c| matches!(c.state, ClientState::Initial | ClientState::Proceeding))
    }

    /// Feeds a response. Unmatched responses are dropped and counted.
    pub(crate) fn on_response(&mut self, now: Instant, response: Response) {
        let key = match (response.top_via(), response.cseq()) {
            (Ok(via), Ok(cseq)) => (via.branch().unwrap_or("").to_string(), cseq.method),
            _ => {
                self.stats.unmatched_responses += 1;
                return;
            }
        };
        let Some(&id) = self.client_index.get(&key) else {
            self.stats.unmatched_responses += 1;
            return;
        };
        let cfg = self.cfg;
        let Some(tx) = self.clients.get_mut(&id) else {
            self.stats.unmatched_responses += 1;
            return;
        };
        let status = response.status;
        let reliable = tx.transport.is_reliable();
        let mut deliver = false;
        let mut cancel = Vec::new();
        let mut arm: Option<(Duration, TxTimer)> = None;
        let mut send_ack = None;
        match (tx.invite, tx.state) {
            (true, ClientState::Initial | ClientState::Proceeding) => {
                deliver = true;
                cancel.push(tx.retransmit.take());
                if status.is_provisional() {
                    tx.state = ClientState::Proceeding;
                } else {
                    cancel.push(tx.timeout.take());
                    if status.is_success() {
                        tx.state = ClientState::Accepted;
                        arm = Some((cfg.t1x64(), TxTimer::Linger));
                    } else {
                        tx.state = ClientState::Completed;
                        let ack = build_ack(&tx.request, &response).to_bytes();
                        send_ack = Some((tx.transport, tx.destination, ack.clone()));
                        tx.ack = Some(ack);
                        let d = if reliable {
                            Duration::ZERO
                        } else {
                            cfg.timer_d
                        };
                        arm = Some((d, TxTimer::Linger));
                    }
                }
            }
            (true, ClientState::Completed) => {
                if status.class() >= 3
                    && let Some(ack) = &tx.ack
                {
                    self.stats.ack_retransmissions += 1;
                    send_ack = Some((tx.transport, tx.destination, ack.clone()));
                }
            }
            (true, ClientState::Accepted) => {
                deliver = status.is_success();
            }
            (false, ClientState::Initial | ClientState::Proceeding) => {
                deliver = true;
                if status.is_provisional() {
                    tx.state = ClientState::Proceeding;
                } else {
                    tx.state = ClientState::Completed;
                    cancel.push(tx.retransmit.take());
                    cancel.push(tx.timeout.take());
                    let d = if reliable { Duration::ZERO } else { cfg.t4 };
                    arm = Some((d, TxTimer::Linger));
                }
            }
            _ => {}
        }
        let (owner, request) = (tx.owner.clone(), tx.request.clone());
        for k in cancel {
            self.timers.cancel(k);
        }
        if let Some((t, d, b)) = send_ack {
            self.send(t, d, b);
        }
        if let Some((d, timer)) = arm {
            let k = self.arm(now, d, id, timer, false);
            if let Some(tx) = self.clients.get_mut(&id) {
                tx.linger = Some(k);
            }
        }
        if deliver {
            self.tu.push_back(TuEvent::Response {
                tx: id,
                owner,
                request,
                response,
            });
        }
    }

    fn remove_client(&mut self, id: TxId) {
        if let Some(tx) = self.clients.remove(&id) {
            self.client_index.remove(&tx.key);
            for k in [tx.retransmit, tx.timeout, tx.linger] {
                self.timers.cancel(k);
            }
        }
    }

    /// The driver could not send to `destination`: every client
    /// transaction sending there fails.
    pub(crate) fn transport_error(&mut self, transport: Transport, destination: SocketAddr) {
        let ids: Vec<TxId> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.transport == transport
                    && c.destination == destination
                    && matches!(c.state, ClientState::Initial | ClientState::Proceeding)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(tx) = self.clients.get(&id) {
                self.tu.push_back(TuEvent::TransportError {
                    owner: tx.owner.clone(),
                    request: tx.request.clone(),
                });
            }
            self.remove_client(id);
        }
    }

    // ----- server side -----

    /// Feeds a request received from `source`. `request`'s top Via should
    /// already carry `received`/`rport`.
    pub(crate) fn on_request(
        &mut self,
        now: Instant,
        request: &Request,
        source: SocketAddr,
        transport: Transport,
    ) -> Inbound {
        let Some(key) = server_key(request) else {
            return Inbound::Unusable;
        };
        if let Some(&id) = self.server_index.get(&key) {
            let cfg = self.cfg;
            let Some(tx) = self.servers.get_mut(&id) else {
                return Inbound::Absorbed;
            };
            if request.method == Method::Ack {
                return match tx.state {
                    ServerState::Completed => {
                        tx.state = ServerState::Confirmed;
                        let cancel = [tx.timer_g.take(), tx.timer_h.take()];
                        let d = if tx.transport.is_reliable() {
                            Duration::ZERO
                        } else {
                            cfg.t4
                        };
                        for k in cancel {
                            self.timers.cancel(k);
                        }
                        let k = self.arm(now, d, id, TxTimer::Linger, true);
                        if let Some(tx) = self.servers.get_mut(&id) {
                            tx.linger = Some(k);
                        }
                        Inbound::Absorbed
                    }
                    ServerState::Accepted => Inbound::Ack,
                    _ => Inbound::Absorbed,
                };
            }
            // A retransmission: re-send the last response, if any.
            self.stats.absorbed_requests += 1;
            if matches!(tx.state, ServerState::Proceeding | ServerState::Completed)
                && let Some(b) = tx.last_response.clone()
            {
                let (t, d) = (tx.transport, tx.response_to);
                self.stats.response_retransmissions += 1;
                self.send(t, d, b);
            }
            return Inbound::Absorbed;
        }
        if request.method == Method::Ack {
            return Inbound::Ack;
        }
        if self.servers.len() >= MAX_SERVER_TRANSACTIONS {
            return Inbound::Overloaded;
        }
        // Merged request (§8.2.2.2): no To tag, same From tag, Call-ID and
        // CSeq as a live transaction with another branch.
        // (The top Via is well-formed here: `server_key` needed it.)
        let merge_key = match request.keys() {
            Ok(k) if k.to_tag.is_none() && request.method != Method::Cancel => Some((
                k.from_tag.as_deref().unwrap_or("").to_string(),
                k.call_id.to_string(),
                k.cseq.seq,
            )),
            _ => None,
        };
        let merged = merge_key
            .as_ref()
            .and_then(|k| self.merge_index.get(k))
            .is_some_and(|id| self.servers.contains_key(id));
        let id = self.next_id;
        self.next_id += 1;
        let response_to = response_destination(request, source, transport);
        self.server_index.insert(key.clone(), id);
        if let (Some(k), false) = (&merge_key, merged) {
            self.merge_index.insert(k.clone(), id);
        }
        self.servers.insert(
            id,
            ServerTx {
                invite: request.method == Method::Invite,
                key,
                merge_key: if merged { None } else { merge_key },
                request: request.clone(),
                response_to,
                transport,
                state: ServerState::Proceeding,
                last_response: None,
                last_status: None,
                interval: self.cfg.t1,
                timer_g: None,
                timer_h: None,
                linger: None,
            },
        );
        if merged {
            self.stats.merged_requests += 1;
            let resp = Response::for_request(request, StatusCode::LOOP_DETECTED);
            self.respond(now, id, resp);
            return Inbound::Merged;
        }
        Inbound::New(id)
    }

    /// The request of a server transaction.
    pub(crate) fn server_request(&self, tx: TxId) -> Option<&Request> {
        self.servers.get(&tx).map(|s| &s.request)
    }

    /// Where responses of a server transaction go.
    pub(crate) fn server_route(&self, tx: TxId) -> Option<(Transport, SocketAddr)> {
        self.servers.get(&tx).map(|s| (s.transport, s.response_to))
    }

    /// Whether a server transaction may still send a final response.
    pub(crate) fn server_can_respond(&self, tx: TxId) -> bool {
        self.servers
            .get(&tx)
            .is_some_and(|s| s.state == ServerState::Proceeding)
    }

    /// The INVITE server transaction a CANCEL is for (RFC 3261 §9.2).
    pub(crate) fn invite_for_cancel(&self, cancel: &Request) -> Option<TxId> {
        let key = match server_key(cancel)? {
            ServerKey::Branch {
                branch, sent_by, ..
            } => ServerKey::Branch {
                branch,
                sent_by,
                method: Method::Invite,
            },
            ServerKey::Legacy {
                request_uri,
                from_tag,
                call_id,
                cseq,
                via,
                ..
            } => ServerKey::Legacy {
                request_uri,
                from_tag,
                call_id,
                cseq,
                via,
                method: Method::Invite,
            },
        };
        self.server_index.get(&key).copied()
    }

    /// Sends a response on a server transaction. Returns false if the
    /// transaction no longer takes responses.
    pub(crate) fn respond(&mut self, now: Instant, id: TxId, response: Response) -> bool {
        let cfg = self.cfg;
        let Some(tx) = self.servers.get_mut(&id) else {
            return false;
        };
        if tx.state != ServerState::Proceeding {
            return false;
        }
        let status = response.status;
        let bytes = response.to_bytes();
        let (t, d) = (tx.transport, tx.response_to);
        let reliable = t.is_reliable();
        tx.last_status = Some(status);
        let mut arms: Vec<(Duration, TxTimer)> = Vec::new();
        if status.is_provisional() {
            tx.last_response = Some(bytes.clone());
        } else if tx.invite {
            if status.is_success() {
                tx.state = ServerState::Accepted;
                tx.last_response = None;
                arms.push((cfg.t1x64(), TxTimer::Linger));
            } else {
                tx.state = ServerState::Completed;
                tx.last_response = Some(bytes.clone());
                if !reliable {
                    arms.push((cfg.t1, TxTimer::ResponseRetransmit));
                }
                arms.push((cfg.t1x64(), TxTimer::AckWait));
            }
        } else {
            tx.state = ServerState::Completed;
            tx.last_response = Some(bytes.clone());
            let j = if reliable {
                Duration::ZERO
            } else {
                cfg.t1x64()
            };
            arms.push((j, TxTimer::Linger));
        }
        self.send(t, d, bytes);
        for (dur, timer) in arms {
            let k = self.arm(now, dur, id, timer, true);
            if let Some(tx) = self.servers.get_mut(&id) {
                match timer {
                    TxTimer::ResponseRetransmit => tx.timer_g = Some(k),
                    TxTimer::AckWait => tx.timer_h = Some(k),
                    _ => tx.linger = Some(k),
                }
            }
        }
        true
    }

    fn remove_server(&mut self, id: TxId) {
        if let Some(tx) = self.servers.remove(&id) {
            self.server_index.remove(&tx.key);
            if let Some(k) = &tx.merge_key
                && self.merge_index.get(k) == Some(&id)
            {
                self.merge_index.remove(k);
            }
            for k in [tx.timer_g, tx.timer_h, tx.linger] {
                self.timers.cancel(k);
            }
            self.tu.push_back(TuEvent::ServerTerminated { tx: id });
        }
    }

    // ----- timers -----

    /// Fires every transaction deadline due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        while let Some((key, r)) = self.timers.pop_due(now) {
            if r.server {
                self.fire_server(now, key, r);
            } else {
                self.fire_client(now, key, r);
            }
        }
    }

    fn fire_client(&mut self, now: Instant, key: TimerKey, r: TimerRef) {
        let cfg = self.cfg;
        let Some(tx) = self.clients.get_mut(&r.tx) else {
            return;
        };
        match r.timer {
            TxTimer::Retransmit if tx.retransmit == Some(key) => {
                let (t, d, b) = (tx.transport, tx.destination, tx.bytes.clone());
                tx.interval = if tx.invite {
                    tx.interval * 2
                } else if tx.state == ClientState::Proceeding {
                    cfg.t2
                } else {
                    (tx.interval * 2).min(cfg.t2)
                };
                let next = tx.interval;
                self.stats.request_retransmissions += 1;
                self.send(t, d, b);
                let k = self.arm(now, next, r.tx, TxTimer::Retransmit, false);
                if let Some(tx) = self.clients.get_mut(&r.tx) {
                    tx.retransmit = Some(k);
                }
            }
            TxTimer::Timeout if tx.timeout == Some(key) => {
                // B fires only in Calling; F in Trying or Proceeding.
                let fires = if tx.invite {
                    tx.state == ClientState::Initial
                } else {
                    matches!(tx.state, ClientState::Initial | ClientState::Proceeding)
                };
                if fires {
                    tx.state = ClientState::Terminated;
                    self.stats.timeouts += 1;
                    self.tu.push_back(TuEvent::Timeout {
                        owner: tx.owner.clone(),
                        request: tx.request.clone(),
                    });
                    self.remove_client(r.tx);
                }
            }
            TxTimer::Linger if tx.linger == Some(key) => self.remove_client(r.tx),
            _ => {}
        }
    }

    fn fire_server(&mut self, now: Instant, key: TimerKey, r: TimerRef) {
        let cfg = self.cfg;
        let Some(tx) = self.servers.get_mut(&r.tx) else {
            return;
        };
        match r.timer {
            TxTimer::ResponseRetransmit
                if tx.timer_g == Some(key) && tx.state == ServerState::Completed =>
            {
                tx.interval = (tx.interval * 2).min(cfg.t2);
                let next = tx.interval;
                let send = tx
                    .last_response
                    .clone()
                    .map(|b| (tx.transport, tx.response_to, b));
                if let Some((t, d, b)) = send {
                    self.stats.response_retransmissions += 1;
                    self.send(t, d, b);
                }
                let k = self.arm(now, next, r.tx, TxTimer::ResponseRetransmit, true);
                if let Some(tx) = self.servers.get_mut(&r.tx) {
                    tx.timer_g = Some(k);
                }
            }
            TxTimer::AckWait if tx.timer_h == Some(key) && tx.state == ServerState::Completed => {
                self.stats.ack_timeouts += 1;
                self.tu.push_back(TuEvent::AckTimeout);
                self.remove_server(r.tx);
            }
            TxTimer::Linger if tx.linger == Some(key) => self.remove_server(r.tx),
            _ => {}
        }
    }
}

/// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3).
pub(crate) fn build_ack(invite: &Request, response: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri().clone());
    if let Some(via) = invite.headers.items(&HeaderName::Via).next() {
        ack.headers.push(HeaderName::Via, via.1);
    }
    for name in [HeaderName::From, HeaderName::CallId] {
        if let Some(v) = invite.headers.get_shared(&name) {
            ack.headers.push(name, v);
        }
    }
    if let Some(to) = response.headers.get_shared(&HeaderName::To) {
        ack.headers.push(HeaderName::To, to);
    }
    let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    ack.headers.push(HeaderName::MaxForwards, "70");
    ack.headers.copy_from(&invite.headers, &HeaderName::Route);
    ack
}
