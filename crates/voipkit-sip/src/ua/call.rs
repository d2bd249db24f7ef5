//! INVITE sessions: dialogs (RFC 3261 §12), UAC and UAS INVITE handling
//! (§13) with forking, CANCEL (§9), BYE (§15), re-INVITE and UPDATE
//! (RFC 3311) with glare, 100rel/PRACK (RFC 3262), session timers
//! (RFC 4028), REFER (RFC 3515) and INFO.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;

use super::{CallHandle, Event, TxOwner, UaTimer, UserAgent};
use crate::auth::ChallengeOutcome;
use crate::error::Error;
use crate::message::{
    HeaderName, Method, NameAddr, Request, Response, SipMessage, StatusCode, Uri,
};
use crate::timer::TimerKey;
use crate::transaction::TxId;
use crate::transport::{Transmit, Transport};

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallState {
    /// Outgoing: INVITE sent, no final response yet.
    Calling,
    /// Incoming: INVITE received, not answered yet.
    Incoming,
    /// Incoming: answered with 2xx, waiting for the ACK.
    Answering,
    /// The dialog is confirmed.
    Confirmed,
    /// Over (the handle stays valid a little while for late messages).
    Ended,
}

/// A parsed Reason header (RFC 3326).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonHeader {
    /// `SIP` or `Q.850`.
    pub protocol: String,
    /// The `cause` parameter.
    pub cause: Option<u16>,
    /// The `text` parameter, unquoted.
    pub text: Option<String>,
}

impl ReasonHeader {
    /// Parses one Reason value, e.g.
    /// `SIP;cause=200;text="Call completed elsewhere"`.
    pub fn parse(v: &str) -> Option<Self> {
        let mut parts = v.split(';');
        let protocol = parts.next()?.trim().to_string();
        if protocol.is_empty() {
            return None;
        }
        let mut cause = None;
        let mut text = None;
        let rest: Vec<&str> = parts.collect();
        let joined = rest.join(";");
        // text may hold ';' inside quotes: walk the parameters by hand.
        let mut s = joined.as_str();
        while !s.is_empty() {
            let (name, after) = s.split_once('=').unwrap_or((s, ""));
            let name = name.trim().to_ascii_lowercase();
            let after = after.trim_start();
            let (value, next) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find('"').unwrap_or(q.len());
                let (val, tail) = q.split_at(end);
                (
                    val.to_string(),
                    tail.get(1..)
                        .unwrap_or("")
                        .trim_start_matches(|c: char| c == ';' || c.is_whitespace()),
                )
            } else {
                let (val, tail) = after.split_once(';').unwrap_or((after, ""));
                (val.trim().to_string(), tail)
            };
            match name.as_str() {
                "cause" => cause = value.parse().ok(),
                "text" => text = Some(value),
                _ => {}
            }
            s = next;
        }
        Some(Self {
            protocol,
            cause,
            text,
        })
    }

    /// `SIP;cause=200`: answered on another device (CallKit's
    /// answeredElsewhere).
    pub fn answered_elsewhere(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("SIP") && self.cause == Some(200)
    }

    /// `SIP;cause=600/603`: declined on another device (CallKit's
    /// declinedElsewhere).
    pub fn declined_elsewhere(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("SIP") && matches!(self.cause, Some(600 | 603))
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// We hung up (BYE sent).
    LocalHangup,
    /// We cancelled our INVITE.
    LocalCancel,
    /// We rejected the incoming call with this status.
    LocalReject(StatusCode),
    /// The peer sent BYE.
    RemoteBye,
    /// The caller cancelled (CANCEL), with its Reason header if any.
    RemoteCancel {
        /// The Reason of the CANCEL (RFC 3326).
        reason: Option<ReasonHeader>,
    },
    /// Our INVITE got a final error response.
    Rejected {
        /// The status.
        status: StatusCode,
        /// The reason phrase.
        reason: String,
    },
    /// Our INVITE was redirected (3xx): call one of `contacts` instead.
    Redirected {
        /// The status (301, 302, ...).
        status: StatusCode,
        /// The Contact URIs of the response, in order.
        contacts: Vec<Uri>,
    },
    /// Our credentials were refused (401/407 again).
    AuthenticationFailed,
    /// No response (timer B), or a re-INVITE/refresh timed out.
    Timeout,
    /// The driver could not send.
    TransportError,
    /// No session refresh came in time (RFC 4028).
    SessionTimerExpired,
    /// Our 2xx was never ACKed (64*T1); BYE sent.
    AckTimeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Uac,
    Uas,
}

/// What a client transaction of a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Invite,
    Cancel,
    Bye,
    Reinvite,
    Update,
    Prack,
    Info,
    Refer,
    Notify,
}

/// Removes the REFER waiting for the application's answer.
fn take_refer(call: &mut Call) -> Result<TxId, Error> {
    call.refer_in
        .take()
        .ok_or(Error::InvalidState("no transfer request"))
}

/// Deadlines of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallTimer {
    /// 2xx retransmission (RFC 3261 §13.3.1.4).
    Retransmit2xx,
    /// 64*T1 without ACK.
    AckWait,
    /// Reliable provisional retransmission (RFC 3262).
    Rel1xx,
    /// 64*T1 without PRACK.
    Rel1xxTimeout,
    /// Retry after 491 (RFC 3261 §14.1).
    Glare,
    /// Send a session refresh (RFC 4028).
    SessionRefresh,
    /// No refresh came: BYE.
    SessionExpiry,
    /// Forget the ended call.
    Cleanup,
}

#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub(crate) local_tag: String,
    pub(crate) remote_tag: String,
    pub(crate) local_uri: NameAddr,
    pub(crate) remote_uri: NameAddr,
    pub(crate) local_seq: u32,
    pub(crate) remote_seq: Option<u32>,
    pub(crate) remote_target: Uri,
    pub(crate) route_set: Vec<NameAddr>,
    /// UAC: the last RSeq we PRACKed.
    pub(crate) last_rseq: Option<u32>,
    /// UAC: the ACK for the last 2xx (CSeq, where, bytes).
    pub(crate) ack: Option<(u32, Transport, SocketAddr, Vec<u8>)>,
}

/// A response the UA core retransmits itself (a 2xx until its ACK, a
/// reliable 1xx until its PRACK): where it goes, its bytes, and the
/// interval to its next copy.
#[derive(Debug, Clone)]
pub(crate) struct Resend {
    transport: Transport,
    destination: SocketAddr,
    bytes: Vec<u8>,
    interval: Duration,
}

impl Resend {
    /// Doubles the interval (up to `cap`) and returns the next copy with
    /// the delay until the one after it.
    fn again(&mut self, cap: Duration) -> (Transmit, Duration) {
        self.interval = (self.interval * 2).min(cap);
        let copy = Transmit {
            transport: self.transport,
            destination: self.destination,
            contents: self.bytes.clone(),
        };
        (copy, self.interval)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Pending2xx {
    cseq: u32,
    resend: Resend,
}

#[derive(Debug, Clone)]
pub(crate) struct Rel1xx {
    rseq: u32,
    has_sdp: bool,
    resend: Resend,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingOffer {
    tx: TxId,
    method: Method,
    sdp: Option<Bytes>,
    refresh: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionTimer {
    interval: u32,
    we_refresh: bool,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) handle: CallHandle,
    pub(crate) role: Role,
    pub(crate) state: CallState,
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
    pub(crate) dialog: Option<Dialog>,
    pub(crate) early: Vec<Dialog>,
    pub(crate) invite_tx: Option<TxId>,
    pub(crate) invite: Request,
    pub(crate) local_sdp: Option<Bytes>,
    pub(crate) cancel_requested: bool,
    pub(crate) cancel_sent: bool,
    /// UAC: the last provisional reported (status, To tag, body).
    last_provisional: Option<(StatusCode, Option<String>, Bytes)>,
    pub(crate) ended: bool,
    pub(crate) peer_100rel: bool,
    pub(crate) peer_timer: bool,
    pub(crate) peer_update: bool,
    pending_2xx: Option<Pending2xx>,
    /// UAC, offerless INVITE: the ACK waits for the application's answer.
    ack_pending: Option<u32>,
    bye_after_ack: bool,
    rel1xx: Option<Rel1xx>,
    rel_queue: VecDeque<Response>,
    /// A 2xx waiting for the PRACK of a reliable 1xx with SDP.
    deferred_2xx: Option<Response>,
    next_rseq: u32,
    pending_out: Option<PendingOffer>,
    pending_in: Option<(TxId, Method)>,
    glare_retry: Option<(Method, Option<Bytes>)>,
    session: Option<SessionTimer>,
    refer_in: Option<TxId>,
    refer_out: bool,
    timers: Vec<(CallTimer, TimerKey)>,
    auth_attempts: u32,
    retried_422: bool,
}

impl Call {
    fn new(
        handle: CallHandle,
        role: Role,
        call_id: String,
        local_tag: String,
        invite: Request,
    ) -> Self {
        Self {
            handle,
            role,
            state: if role == Role::Uac {
                CallState::Calling
            } else {
                CallState::Incoming
            },
            call_id,
            local_tag,
            dialog: None,
            early: Vec::new(),
            invite_tx: None,
            invite,
            local_sdp: None,
            cancel_requested: false,
            cancel_sent: false,
            last_provisional: None,
            ended: false,
            peer_100rel: false,
            peer_timer: false,
            peer_update: false,
            pending_2xx: None,
            ack_pending: None,
            bye_after_ack: false,
            rel1xx: None,
            rel_queue: VecDeque::new(),
            deferred_2xx: None,
            next_rseq: 1,
            pending_out: None,
            pending_in: None,
            glare_retry: None,
            session: None,
            refer_in: None,
            refer_out: false,
            timers: Vec::new(),
            auth_attempts: 0,
            retried_422: false,
        }
    }

    fn dialog_for(&mut self, remote_tag: &str) -> Option<&mut Dialog> {
        if self
            .dialog
            .as_ref()
            .is_some_and(|d| d.remote_tag == remote_tag)
        {
            return self.dialog.as_mut();
        }
        self.early.iter_mut().find(|d| d.remote_tag == remote_tag)
    }

    fn invite_cseq(&self) -> u32 {
        self.invite.cseq().map(|c| c.seq).unwrap_or(1)
    }
}

/// Options for [`UserAgent::start_call_with`].
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// Who to call (Request-URI and To).
    pub to: Uri,
    /// The SDP offer.
    pub sdp: Option<Bytes>,
    /// Extra headers (e.g. P-Preferred-Identity, X-...).
    pub headers: Vec<(HeaderName, String)>,
    /// Ask for reliable provisional responses (`Require: 100rel`) rather
    /// than just offering them (`Supported`).
    pub require_100rel: bool,
}

impl OutgoingCall {
    /// A call to `to` with an SDP offer.
    pub fn new(to: Uri, sdp: Option<Bytes>) -> Self {
        Self {
            to,
            sdp,
            headers: Vec::new(),
            require_100rel: false,
        }
    }
}

fn tag_of(na: &Result<NameAddr, crate::message::ParseError>) -> Option<String> {
    na.as_ref().ok().and_then(|n| n.tag().map(str::to_string))
}

fn without_tag(mut na: NameAddr) -> NameAddr {
    na.params.remove("tag");
    na
}

fn body_of(m: &impl SipMessage) -> Option<Bytes> {
    (!m.body().is_empty()).then(|| m.body().clone())
}

fn session_expires(m: &impl SipMessage) -> Option<(u32, Option<String>)> {
    let v = m.headers().get(&HeaderName::SessionExpires)?;
    let mut parts = v.split(';');
    let secs: u32 = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_ascii_lowercase())
    });
    Some((secs, refresher))
}

impl UserAgent {
    // ----- call bookkeeping -----

    fn with_call<R>(
        &mut self,
        h: CallHandle,
        f: impl FnOnce(&mut Self, &mut Call) -> R,
    ) -> Option<R> {
        let mut call = self.calls.remove(&h)?;
        let r = f(self, &mut call);
        self.calls.insert(h, call);
        Some(r)
    }

    /// The state of a call.
    pub fn call_state(&self, call: CallHandle) -> Option<CallState> {
        self.calls.get(&call).map(|c| c.state)
    }

    /// The Call-ID of a call.
    pub fn call_id(&self, call: CallHandle) -> Option<&str> {
        self.calls.get(&call).map(|c| c.call_id.as_str())
    }

    /// The live (not ended) call with this Call-ID, if any (e.g. to join
    /// a push notification with the INVITE it announced).
    pub fn find_call(&self, call_id: &str) -> Option<CallHandle> {
        self.calls
            .values()
            .find(|c| c.call_id == call_id && !c.ended)
            .map(|c| c.handle)
    }

    /// Number of calls the core still keeps (ended ones linger 64*T1).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    fn arm_call(&mut self, call: &mut Call, t: CallTimer, at: Instant) {
        self.disarm_call(call, t);
        let k = self.arm(at, UaTimer::Call(call.handle, t));
        call.timers.push((t, k));
    }

    fn disarm_call(&mut self, call: &mut Call, t: CallTimer) {
        if let Some(i) = call.timers.iter().position(|(tt, _)| *tt == t) {
            let (_, k) = call.timers.swap_remove(i);
            self.timers.cancel(Some(k));
        }
    }

    fn end_call(&mut self, now: Instant, call: &mut Call, reason: EndReason) {
        if !call.ended {
            tracing::debug!(call = %call.handle, call_id = %call.call_id, ?reason, "call ended");
            call.ended = true;
            self.events.push_back(Event::Ended {
                call: call.handle,
                reason,
            });
        }
        call.state = CallState::Ended;
        for t in [
            CallTimer::Rel1xx,
            CallTimer::Rel1xxTimeout,
            CallTimer::Glare,
            CallTimer::SessionRefresh,
            CallTimer::SessionExpiry,
        ] {
            self.disarm_call(call, t);
        }
        call.rel1xx = None;
        let linger = self.tx.config().t1x64();
        self.arm_call(call, CallTimer::Cleanup, now + linger);
    }

    // ----- building requests and responses -----

    fn dialog_request(
        &self,
        d: &mut Dialog,
        call_id: &str,
        method: Method,
        cseq: Option<u32>,
    ) -> Request {
        let seq = cseq.unwrap_or_else(|| {
            d.local_seq = d.local_seq.wrapping_add(1);
            d.local_seq
        });
        let strict = d
            .route_set
            .first()
            .is_some_and(|r| r.uri.as_sip().is_some_and(|u| !u.params.contains("lr")));
        let (ruri, routes): (Uri, Vec<NameAddr>) = if strict {
            let mut routes: Vec<NameAddr> = d.route_set.iter().skip(1).cloned().collect();
            routes.push(NameAddr::new(d.remote_target.clone()));
            let first = d
                .route_set
                .first()
                .map(|r| r.uri.clone())
                .unwrap_or_else(|| d.remote_target.clone());
            (first, routes)
        } else {
            (d.remote_target.clone(), d.route_set.clone())
        };
        let mut req = Request::new(method.clone(), ruri);
        let mut from = d.local_uri.clone();
        from.set_tag(&d.local_tag);
        let mut to = d.remote_uri.clone();
        if !d.remote_tag.is_empty() {
            to.set_tag(&d.remote_tag);
        }
        req.headers.push(HeaderName::From, from.to_string());
        req.headers.push(HeaderName::To, to.to_string());
        req.headers.push(HeaderName::CallId, call_id.to_string());
        req.headers
            .push(HeaderName::CSeq, format!("{seq} {method}"));
        for r in routes {
            req.headers.push(HeaderName::Route, r.to_string());
        }
        req
    }

    fn transport_of(&self, d: &Dialog) -> Transport {
        let uri = d
            .route_set
            .first()
            .map(|r| &r.uri)
            .unwrap_or(&d.remote_target);
        if let Some((t, _)) = self.cfg.outbound_proxy {
            return t;
        }
        self.resolve(uri).map(|(t, _)| t).unwrap_or(Transport::Udp)
    }

    fn add_body(req: &mut Request, sdp: Option<&Bytes>) {
        if let Some(b) = sdp {
            req.headers.push(HeaderName::ContentType, "application/sdp");
            req.body = b.clone();
        }
    }

    /// A response of the UAS side of `call` to `req`: To tag, Record-Route
    /// (for dialog-creating INVITE responses), Contact where needed.
    fn uas_response(
        &mut self,
        call: &Call,
        req: &Request,
        status: StatusCode,
        transport: Transport,
    ) -> Response {
        let mut resp = Response::for_request(req, status);
        if status != StatusCode::TRYING
            && let Ok(mut to) = resp.to()
            && to.tag().is_none()
        {
            to.set_tag(&call.local_tag);
            resp.headers.set(HeaderName::To, to.to_string());
        }
        let dialog_forming = req.method == Method::Invite
            && req.to().ok().is_some_and(|t| t.tag().is_none())
            && status != StatusCode::TRYING
            && status.as_u16() < 300;
        if dialog_forming {
            resp.headers
                .copy_from(&req.headers, &HeaderName::RecordRoute);
        }
        let wants_contact = matches!(req.method, Method::Invite | Method::Update)
            && status != StatusCode::TRYING
            && status.as_u16() < 300;
        if wants_contact && let Ok(c) = self.contact_header(transport) {
            resp.headers.push(HeaderName::Contact, c);
        }
        if status.is_success() && matches!(req.method, Method::Invite | Method::Update) {
            resp.headers.push(HeaderName::Allow, super::ALLOW);
            resp.headers.push(HeaderName::Supported, self.supported());
        }
        if let Some(s) = &self.cfg.user_agent {
            resp.headers.push(HeaderName::Server, s.clone());
        }
        resp
    }

    fn invite_transport(&self, call: &Call) -> Transport {
        call.invite_tx
            .and_then(|t| self.tx.server_route(t))
            .map(|(t, _)| t)
            .unwrap_or(Transport::Udp)
    }

    // ----- UAC: starting a call -----

    /// Starts an outgoing call to `to` with an SDP offer.
    pub fn start_call(
        &mut self,
        now: Instant,
        to: Uri,
        sdp: Option<Bytes>,
    ) -> Result<CallHandle, Error> {
        self.start_call_with(now, OutgoingCall::new(to, sdp))
    }

    /// Starts an outgoing call with options.
    pub fn start_call_with(
        &mut self,
        now: Instant,
        opts: OutgoingCall,
    ) -> Result<CallHandle, Error> {
        let h = CallHandle(self.new_handle());
        let call_id = self.new_call_id();
        let tag = self.new_tag();
        let mut from = self.identity();
        from.set_tag(&tag);
        let mut req = Request::new(Method::Invite, opts.to.clone());
        req.headers.push(HeaderName::From, from.to_string());
        req.headers
            .push(HeaderName::To, NameAddr::new(opts.to.clone()).to_string());
        req.headers.push(HeaderName::CallId, call_id.clone());
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        self.push_preloaded_routes(&mut req);
        let (t, _) = self.route_for(&req)?;
        req.headers
            .push(HeaderName::Contact, self.contact_header(t)?);
        req.headers.push(HeaderName::Allow, super::ALLOW);
        req.headers.push(HeaderName::Supported, self.supported());
        if opts.require_100rel && self.cfg.enable_100rel {
            req.headers.push(HeaderName::Require, "100rel");
        }
        if let Some(st) = self.cfg.session_timer {
            req.headers
                .push(HeaderName::SessionExpires, st.expires.to_string());
            req.headers.push(HeaderName::MinSe, st.min_se.to_string());
        }
        for (n, v) in &opts.headers {
            req.headers.push(n.clone(), v.clone());
        }
        Self::add_body(&mut req, opts.sdp.as_ref());
        let mut call = Call::new(h, Role::Uac, call_id.clone(), tag.clone(), req.clone());
        call.local_sdp = opts.sdp;
        let tx = self.send_request(now, req, TxOwner::Call(h, Purpose::Invite))?;
        if let Some(sent) = self.tx.client_request(tx) {
            call.invite = sent.clone();
        }
        call.invite_tx = Some(tx);
        self.dialog_index.insert((call_id, tag), h);
        self.calls.insert(h, call);
        Ok(h)
    }

    fn resend_invite(
        &mut self,
        now: Instant,
        call: &mut Call,
        edit: impl FnOnce(&mut Request),
    ) -> bool {
        let mut req = call.invite.clone();
        let seq = call.invite_cseq().wrapping_add(1);
        req.headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
        edit(&mut req);
        match self.send_request(now, req, TxOwner::Call(call.handle, Purpose::Invite)) {
            Ok(tx) => {
                if let Some(sent) = self.tx.client_request(tx) {
                    call.invite = sent.clone();
                }
                call.invite_tx = Some(tx);
                call.early.clear();
                true
            }
            Err(_) => false,
        }
    }

    fn uac_dialog(&self, call: &Call, resp: &Response, remote_tag: &str) -> Dialog {
        let mut route_set: Vec<NameAddr> = resp
            .name_addrs(&HeaderName::RecordRoute)
            .unwrap_or_default();
        route_set.reverse();
        let remote_target = resp
            .contacts()
            .ok()
            .and_then(|c| c.into_iter().next())
            .map(|c| c.uri)
            .unwrap_or_else(|| call.invite.uri().clone());
        Dialog {
            local_tag: call.local_tag.clone(),
            remote_tag: remote_tag.to_string(),
            local_uri: call
                .invite
                .from()
                .map(without_tag)
                .unwrap_or_else(|_| self.identity()),
            remote_uri: call
                .invite
                .to()
                .map(without_tag)
                .unwrap_or_else(|_| NameAddr::new(call.invite.uri().clone())),
            local_seq: call.invite_cseq(),
            remote_seq: None,
            remote_target,
            route_set,
            last_rseq: None,
            ack: None,
        }
    }

    fn send_cancel(&mut self, now: Instant, call: &mut Call) {
        let Some(tx) = call.invite_tx else {
            return;
        };
        let Some(invite) = self.tx.client_request(tx).cloned() else {
            return;
        };
        let Some((t, dest)) = self.tx.client_route(tx) else {
            return;
        };
        let mut cancel = Request::new(Method::Cancel, invite.uri().clone());
        if let Some((_, via)) = invite.headers.items(&HeaderName::Via).next() {
            cancel.headers.push(HeaderName::Via, via.to_string());
        }
        for n in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
            if let Some(v) = invite.headers.get_shared(&n) {
                cancel.headers.push(n, v);
            }
        }
        cancel
            .headers
            .push(HeaderName::CSeq, format!("{} CANCEL", call.invite_cseq()));
        cancel.headers.push(HeaderName::MaxForwards, "70");
        cancel
            .headers
            .copy_from(&invite.headers, &HeaderName::Route);
        self.tx.start_client(
            now,
            cancel,
            dest,
            t,
            TxOwner::Call(call.handle, Purpose::Cancel),
        );
        call.cancel_sent = true;
    }

    fn send_ack_2xx(&mut self, call_id: &str, d: &mut Dialog, cseq: u32, sdp: Option<&Bytes>) {
        let mut ack = self.dialog_request(d, call_id, Method::Ack, Some(cseq));
        Self::add_body(&mut ack, sdp);
        if let Ok((t, dest, bytes)) = self.send_stateless(ack) {
            d.ack = Some((cseq, t, dest, bytes));
        }
    }

    fn send_in_dialog(
        &mut self,
        now: Instant,
        call: &mut Call,
        req: Request,
        p: Purpose,
    ) -> Result<TxId, Error> {
        self.send_request(now, req, TxOwner::Call(call.handle, p))
    }

    fn send_bye(&mut self, now: Instant, call: &mut Call) {
        let call_id = call.call_id.clone();
        if let Some(mut d) = call.dialog.take() {
            let req = self.dialog_request(&mut d, &call_id, Method::Bye, None);
            let _ = self.send_in_dialog(now, call, req, Purpose::Bye);
            call.dialog = Some(d);
        }
    }

    // ----- UAC: responses -----

    pub(crate) fn call_response(
        &mut self,
        now: Instant,
        h: CallHandle,
        p: Purpose,
        _tx: TxId,
        request: Request,
        resp: Response,
    ) {
        self.with_call(h, |ua, call| match p {
            Purpose::Invite => ua.invite_response(now, call, request, resp),
            Purpose::Reinvite | Purpose::Update => ua.offer_response(now, call, p, request, resp),
            Purpose::Refer => {
                if resp.status.is_final() {
                    if ua.auth_retry(now, call, p, &request, &resp) {
                        return;
                    }
                    ua.events.push_back(Event::TransferProgress {
                        call: call.handle,
                        status: resp.status,
                        done: !resp.status.is_success(),
                    });
                    call.refer_out = resp.status.is_success();
                }
            }
            Purpose::Bye | Purpose::Info | Purpose::Notify | Purpose::Prack => {
                if matches!(resp.status.as_u16(), 401 | 407) {
                    ua.auth_retry(now, call, p, &request, &resp);
                } else if p == Purpose::Info
                    && matches!(resp.status.as_u16(), 408 | 481)
                    && !call.ended
                {
                    // RFC 3261 §12.2.1.2: the dialog is gone.
                    ua.send_bye(now, call);
                    ua.end_call(now, call, EndReason::Timeout);
                }
            }
            Purpose::Cancel => {}
        });
    }

    /// Re-sends an in-dialog request with credentials after 401/407.
    fn auth_retry(
        &mut self,
        now: Instant,
        call: &mut Call,
        p: Purpose,
        request: &Request,
        resp: &Response,
    ) -> bool {
        if !matches!(resp.status.as_u16(), 401 | 407) || call.auth_attempts >= 3 {
            return false;
        }
        if !matches!(
            self.digest.on_challenge(request, resp, &mut self.rng),
            ChallengeOutcome::Retry { .. }
        ) {
            return false;
        }
        call.auth_attempts += 1;
        let Some(d) = call.dialog.as_mut() else {
            return false;
        };
        d.local_seq = d.local_seq.wrapping_add(1);
        let mut req = request.clone();
        req.headers
            .set(HeaderName::CSeq, format!("{} {}", d.local_seq, req.method));
        match self.send_in_dialog(now, call, req, p) {
            Ok(tx) => {
                if let Some(po) = call.pending_out.as_mut()
                    && matches!(p, Purpose::Reinvite | Purpose::Update)
                {
                    po.tx = tx;
                }
                true
            }
            Err(_) => false,
        }
    }

    fn invite_response(&mut self, now: Instant, call: &mut Call, request: Request, resp: Response) {
        let status = resp.status;
        let remote_tag = tag_of(&resp.to());
        let seq = request.cseq().map(|c| c.seq).unwrap_or(1);
        if seq != call.invite_cseq() {
            // A response to an INVITE we already re-sent (auth, 422):
            // only a late 2xx matters (ACK and BYE it).
            if status.is_success()
                && let Some(tag) = remote_tag
            {
                self.stray_2xx(now, call, &resp, &tag, seq);
            }
            return;
        }
        if status.is_provisional() {
            if status == StatusCode::TRYING {
                return;
            }
            let mut reliable = false;
            if let Some(tag) = &remote_tag {
                if call.dialog_for(tag).is_none() && call.dialog.is_none() {
                    let d = self.uac_dialog(call, &resp, tag);
                    call.early.push(d);
                }
                let rseq = resp.u32_header(&HeaderName::RSeq).ok().flatten();
                if resp.has_token(&HeaderName::Require, "100rel")
                    && let Some(rseq) = rseq
                {
                    let Some(d) = call.dialog_for(tag) else {
                        return;
                    };
                    match d.last_rseq {
                        Some(last) if rseq <= last => return, // retransmission
                        Some(last) if rseq != last.wrapping_add(1) => return, // gap
                        _ => {}
                    }
                    d.last_rseq = Some(rseq);
                    let mut dd = d.clone();
                    let mut prack =
                        self.dialog_request(&mut dd, &call.call_id, Method::Prack, None);
                    prack
                        .headers
                        .push(HeaderName::RAck, format!("{rseq} {seq} INVITE"));
                    if let Some(d) = call.dialog_for(tag) {
                        d.local_seq = dd.local_seq;
                    }
                    let _ = self.send_in_dialog(now, call, prack, Purpose::Prack);
                    reliable = true;
                }
                if let Some(d) = call.dialog_for(tag)
                    && let Some(c) = resp.contacts().ok().and_then(|c| c.into_iter().next())
                {
                    d.remote_target = c.uri;
                }
            }
            // A repeated unreliable provisional (the UAS re-sends it when
            // our INVITE is retransmitted) is reported once.
            let key = (status, remote_tag.clone(), resp.body.clone());
            if reliable || call.last_provisional.as_ref() != Some(&key) {
                call.last_provisional = Some(key);
                self.events.push_back(Event::Provisional {
                    call: call.handle,
                    status,
                    reason: resp.reason.to_string(),
                    sdp: body_of(&resp),
                    early_dialog: remote_tag.is_some(),
                    reliable,
                });
            }
            if call.cancel_requested && !call.cancel_sent {
                self.send_cancel(now, call);
            }
            return;
        }
        if status.is_success() {
            let tag = remote_tag.unwrap_or_default();
            if let Some(d) = call.dialog.as_mut() {
                if d.remote_tag == tag {
                    // A retransmission: ACK again.
                    if let Some((cs, t, dest, bytes)) = d.ack.clone()
                        && cs == seq
                    {
                        self.stats.retransmitted_acks += 1;
                        self.tx.out.push_back(Transmit {
                            transport: t,
                            destination: dest,
                            contents: bytes,
                        });
                    }
                } else {
                    self.stray_2xx(now, call, &resp, &tag, seq);
                }
                return;
            }
            // The first 2xx: this fork wins.
            let mut d = self.uac_dialog(call, &resp, &tag);
            if let Some(early) = call.early.iter().find(|e| e.remote_tag == tag) {
                d.local_seq = early.local_seq;
            }
            call.early.clear();
            let call_id = call.call_id.clone();
            // An offerless INVITE: the 2xx holds the offer and the ACK must
            // carry our answer, which the application gives with
            // answer_offer (unless the call is being cancelled).
            let offerless = call.invite.body.is_empty() && !resp.body.is_empty();
            if offerless && !call.cancel_requested {
                call.ack_pending = Some(seq);
            } else {
                self.send_ack_2xx(&call_id, &mut d, seq, None);
            }
            call.dialog = Some(d);
            call.peer_update = resp.has_token(&HeaderName::Allow, "UPDATE");
            call.peer_timer = resp.has_token(&HeaderName::Supported, "timer")
                || resp.has_token(&HeaderName::Require, "timer");
            if call.cancel_requested {
                // CANCEL crossed the 2xx: the call is answered; end it.
                self.send_bye(now, call);
                self.end_call(now, call, EndReason::LocalCancel);
                return;
            }
            call.state = CallState::Confirmed;
            if let Some((secs, refresher)) = session_expires(&resp) {
                call.session = Some(SessionTimer {
                    interval: secs,
                    we_refresh: refresher.as_deref() != Some("uas"),
                });
                self.session_timer_start(now, call);
            }
            self.events.push_back(Event::Answered {
                call: call.handle,
                sdp: body_of(&resp),
            });
            if call.ack_pending.is_some() {
                self.events.push_back(Event::OfferReceived {
                    call: call.handle,
                    sdp: resp.body.clone(),
                    method: Method::Invite,
                });
            }
            return;
        }
        // A final error.
        if call.cancel_requested || call.ended {
            self.end_call(now, call, EndReason::LocalCancel);
            return;
        }
        if matches!(status.as_u16(), 401 | 407) && call.auth_attempts < 3 {
            match self.digest.on_challenge(&request, &resp, &mut self.rng) {
                ChallengeOutcome::Retry { .. } => {
                    call.auth_attempts += 1;
                    if self.resend_invite(now, call, |_| {}) {
                        return;
                    }
                }
                ChallengeOutcome::Rejected => {
                    self.end_call(now, call, EndReason::AuthenticationFailed);
                    return;
                }
                ChallengeOutcome::NoCredentials => {}
            }
        }
        if status == StatusCode::SESSION_INTERVAL_TOO_SMALL
            && !call.retried_422
            && let Ok(Some(min)) = resp.u32_header(&HeaderName::MinSe)
        {
            call.retried_422 = true;
            if self.resend_invite(now, call, |r| {
                r.headers.set(HeaderName::SessionExpires, min.to_string());
                r.headers.set(HeaderName::MinSe, min.to_string());
            }) {
                return;
            }
        }
        let reason = if status.class() == 3 {
            EndReason::Redirected {
                status,
                contacts: resp
                    .contacts()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.uri)
                    .collect(),
            }
        } else {
            EndReason::Rejected {
                status,
                reason: resp.reason.to_string(),
            }
        };
        self.end_call(now, call, reason);
    }

    /// A 2xx from a fork other than the one that won: ACK it, then BYE it.
    fn stray_2xx(&mut self, now: Instant, call: &mut Call, resp: &Response, tag: &str, seq: u32) {
        let mut d = self.uac_dialog(call, resp, tag);
        let call_id = call.call_id.clone();
        self.send_ack_2xx(&call_id, &mut d, seq, None);
        let bye = self.dialog_request(&mut d, &call_id, Method::Bye, None);
        let _ = self.send_request(now, bye, TxOwner::Stray);
    }

    fn offer_response(
        &mut self,
        now: Instant,
        call: &mut Call,
        p: Purpose,
        request: Request,
        resp: Response,
    ) {
        let status = resp.status;
        if status.is_provisional() {
            return;
        }
        let seq = request.cseq().map(|c| c.seq).unwrap_or(0);
        let Some(po) = call.pending_out.clone() else {
            // A 2xx retransmission to an old re-INVITE: ACK again.
            if status.is_success()
                && p == Purpose::Reinvite
                && let Some(d) = call.dialog.as_ref()
                && let Some((cs, t, dest, bytes)) = d.ack.clone()
                && cs == seq
            {
                self.stats.retransmitted_acks += 1;
                self.tx.out.push_back(Transmit {
                    transport: t,
                    destination: dest,
                    contents: bytes,
                });
            }
            return;
        };
        if self.auth_retry(now, call, p, &request, &resp) {
            return;
        }
        call.pending_out = None;
        if p == Purpose::Reinvite && status.is_success() {
            let call_id = call.call_id.clone();
            if let Some(mut d) = call.dialog.take() {
                if let Some(c) = resp.contacts().ok().and_then(|c| c.into_iter().next()) {
                    d.remote_target = c.uri;
                }
                self.send_ack_2xx(&call_id, &mut d, seq, None);
                call.dialog = Some(d);
            }
        }
        if status.is_success() {
            if po.sdp.is_some() {
                call.local_sdp = po.sdp.clone();
            }
            if let Some((secs, refresher)) = session_expires(&resp) {
                let we = refresher.as_deref() != Some("uas");
                call.session = Some(SessionTimer {
                    interval: secs,
                    we_refresh: we,
                });
            }
            if call.session.is_some() {
                self.session_timer_start(now, call);
            }
            if !po.refresh {
                self.events.push_back(Event::AnswerReceived {
                    call: call.handle,
                    sdp: body_of(&resp),
                });
            }
            return;
        }
        if status == StatusCode::REQUEST_PENDING {
            // Glare (RFC 3261 §14.1): 2.1-4 s if we own the Call-ID (we
            // sent the INVITE), 0-2 s otherwise, in 10 ms steps.
            let wait = if call.role == Role::Uac {
                self.random_duration(Duration::from_millis(2100), Duration::from_secs(4))
            } else {
                self.random_duration(Duration::ZERO, Duration::from_secs(2))
            };
            call.glare_retry = Some((po.method.clone(), po.sdp.clone()));
            self.arm_call(call, CallTimer::Glare, now + wait);
            return;
        }
        if matches!(status.as_u16(), 408 | 481) {
            // The dialog is gone (RFC 3261 §14.1, RFC 4028 §10).
            self.send_bye(now, call);
            self.end_call(now, call, EndReason::Timeout);
            return;
        }
        if po.refresh {
            // A refused refresh: try again in a while, the expiry still
            // stands.
            return;
        }
        self.events.push_back(Event::OfferRejected {
            call: call.handle,
            status,
        });
    }

    pub(crate) fn call_failed(
        &mut self,
        now: Instant,
        h: CallHandle,
        p: Purpose,
        request: Request,
        transport_error: bool,
    ) {
        let reason = if transport_error {
            EndReason::TransportError
        } else {
            EndReason::Timeout
        };
        self.with_call(h, |ua, call| match p {
            Purpose::Invite => {
                let seq = request.cseq().map(|c| c.seq).unwrap_or(0);
                if seq == call.invite_cseq() && call.dialog.is_none() {
                    ua.end_call(now, call, reason);
                }
            }
            Purpose::Reinvite | Purpose::Update => {
                call.pending_out = None;
                ua.send_bye(now, call);
                ua.end_call(now, call, reason);
            }
            Purpose::Refer => ua.events.push_back(Event::TransferProgress {
                call: call.handle,
                status: StatusCode::REQUEST_TIMEOUT,
                done: true,
            }),
            Purpose::Info if !call.ended => {
                // A timeout counts as 408: the dialog is gone (§12.2.1.2).
                ua.send_bye(now, call);
                ua.end_call(now, call, reason);
            }
            _ => {}
        });
    }

    // ----- UAS: incoming INVITE -----

    pub(crate) fn incoming_invite(&mut self, now: Instant, id: TxId, req: Request) {
        let contact = req.contacts().ok().and_then(|c| c.into_iter().next());
        let (Some(contact), Ok(from), Ok(to), Ok(call_id), Ok(cseq)) =
            (contact, req.from(), req.to(), req.call_id(), req.cseq())
        else {
            let mut resp = Response::for_request(&req, StatusCode::BAD_REQUEST)
                .with_reason("Bad Request (missing Contact)");
            self.add_to_tag_if_missing(&mut resp);
            self.tx.respond(now, id, resp);
            return;
        };
        // RFC 4028: refuse intervals below our Min-SE.
        if let (Some(st), Some((secs, _))) = (self.cfg.session_timer, session_expires(&req))
            && secs < st.min_se
        {
            let mut resp = Response::for_request(&req, StatusCode::SESSION_INTERVAL_TOO_SMALL);
            resp.headers.push(HeaderName::MinSe, st.min_se.to_string());
            self.add_to_tag_if_missing(&mut resp);
            self.tx.respond(now, id, resp);
            return;
        }
        if self.calls.len() >= self.cfg.max_calls {
            let mut resp = Response::for_request(&req, StatusCode::BUSY_HERE)
                .with_reason("Busy Here (too many calls)");
            self.add_to_tag_if_missing(&mut resp);
            self.tx.respond(now, id, resp);
            return;
        }
        let h = CallHandle(self.new_handle());
        let local_tag = self.new_tag();
        let call_id = call_id.to_string();
        tracing::debug!(call = %h, %call_id, "incoming call");
        let mut call = Call::new(
            h,
            Role::Uas,
            call_id.clone(),
            local_tag.clone(),
            req.clone(),
        );
        call.invite_tx = Some(id);
        call.peer_100rel = req.has_token(&HeaderName::Supported, "100rel")
            || req.has_token(&HeaderName::Require, "100rel");
        call.peer_timer = req.has_token(&HeaderName::Supported, "timer");
        call.peer_update = req.has_token(&HeaderName::Allow, "UPDATE");
        let local_seq = self.rng.random_range(1..10_000u32);
        call.dialog = Some(Dialog {
            local_tag: local_tag.clone(),
            remote_tag: from.tag().unwrap_or("").to_string(),
            local_uri: without_tag(to.clone()),
            remote_uri: without_tag(from.clone()),
            local_seq,
            remote_seq: Some(cseq.seq),
            remote_target: contact.uri,
            route_set: req.name_addrs(&HeaderName::RecordRoute).unwrap_or_default(),
            last_rseq: None,
            ack: None,
        });
        let trying = Response::for_request(&req, StatusCode::TRYING);
        self.tx.respond(now, id, trying);
        self.dialog_index.insert((call_id.clone(), local_tag), h);
        self.calls.insert(h, call);
        self.events
            .push_back(Event::IncomingCall(Box::new(super::IncomingCall {
                call: h,
                from,
                to,
                call_id,
                sdp: body_of(&req),
                request: req,
            })));
    }

    /// Sends a provisional response (180 Ringing, 183 Session Progress,
    /// ...) to an incoming call, with early media SDP if given, reliably
    /// (RFC 3262) if asked and the caller supports it.
    pub fn send_provisional(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
        sdp: Option<Bytes>,
        reliable: bool,
    ) -> Result<(), Error> {
        if !(101..200).contains(&status.as_u16()) {
            return Err(Error::BadStatus(status.as_u16()));
        }
        self.with_call(call, |ua, call| {
            let tx = call
                .invite_tx
                .filter(|t| ua.tx.server_can_respond(*t))
                .ok_or(Error::InvalidState("the INVITE is answered already"))?;
            if call.role != Role::Uas {
                return Err(Error::InvalidState("not an incoming call"));
            }
            let reliable = reliable && call.peer_100rel && ua.cfg.enable_100rel;
            let t = ua.invite_transport(call);
            let req = call.invite.clone();
            let mut resp = ua.uas_response(call, &req, status, t);
            if let Some(b) = &sdp {
                resp.headers
                    .push(HeaderName::ContentType, "application/sdp");
                resp.body = b.clone();
                call.local_sdp = Some(b.clone());
            }
            if reliable {
                resp.headers.push(HeaderName::Require, "100rel");
                if call.rel1xx.is_some() {
                    // One unacknowledged reliable provisional at a time.
                    call.rel_queue.push_back(resp);
                    return Ok(());
                }
                ua.send_rel1xx(now, call, tx, resp);
            } else {
                ua.tx.respond(now, tx, resp);
            }
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Sends 180 Ringing.
    pub fn ringing(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        self.send_provisional(now, call, StatusCode::RINGING, None, false)
    }

    fn send_rel1xx(&mut self, now: Instant, call: &mut Call, tx: TxId, mut resp: Response) {
        let rseq = call.next_rseq;
        call.next_rseq += 1;
        resp.headers.push(HeaderName::RSeq, rseq.to_string());
        let has_sdp = !resp.body.is_empty();
        let timers = (CallTimer::Rel1xx, CallTimer::Rel1xxTimeout);
        if let Some(resend) = self.respond_and_resend(now, call, tx, resp, timers) {
            call.rel1xx = Some(Rel1xx {
                rseq,
                has_sdp,
                resend,
            });
        }
    }

    /// Sends `resp` on the server transaction `tx` and arms the call's
    /// `retransmit` timer at T1 and its `give_up` timer at 64*T1; returns
    /// what to retransmit (none when the transaction has no route).
    fn respond_and_resend(
        &mut self,
        now: Instant,
        call: &mut Call,
        tx: TxId,
        resp: Response,
        (retransmit, give_up): (CallTimer, CallTimer),
    ) -> Option<Resend> {
        let (transport, destination) = self.tx.server_route(tx)?;
        let bytes = resp.to_bytes();
        self.tx.respond(now, tx, resp);
        let t1 = self.tx.config().t1;
        self.arm_call(call, retransmit, now + t1);
        let limit = self.tx.config().t1x64();
        self.arm_call(call, give_up, now + limit);
        Some(Resend {
            transport,
            destination,
            bytes,
            interval: t1,
        })
    }

    fn session_headers_for_answer(&self, call: &Call, resp: &mut Response) {
        if let Some(s) = call.session {
            // refresher seen from the INVITE's transaction: uac = the caller.
            let refresher_is_uac = (call.role == Role::Uas) != s.we_refresh;
            let r = if refresher_is_uac { "uac" } else { "uas" };
            resp.headers.push(
                HeaderName::SessionExpires,
                format!("{};refresher={r}", s.interval),
            );
            if call.peer_timer {
                resp.headers.push(HeaderName::Require, "timer");
            }
        }
    }

    /// Answers an incoming call with 200 OK and an SDP answer (or offer,
    /// if the INVITE had none).
    pub fn answer(
        &mut self,
        now: Instant,
        call: CallHandle,
        sdp: Option<Bytes>,
    ) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            let tx = call
                .invite_tx
                .filter(|t| ua.tx.server_can_respond(*t))
                .ok_or(Error::InvalidState("the INVITE is answered already"))?;
            if call.deferred_2xx.is_some() {
                return Err(Error::InvalidState("the INVITE is answered already"));
            }
            if call.role != Role::Uas || call.ended {
                return Err(Error::InvalidState("not an incoming call"));
            }
            // Session timer (RFC 4028 §9).
            if let Some(st) = ua.cfg.session_timer {
                call.session = match session_expires(&call.invite) {
                    Some((secs, refresher)) => Some(SessionTimer {
                        interval: secs,
                        we_refresh: refresher.as_deref() == Some("uas")
                            || (refresher.is_none() && !call.peer_timer),
                    }),
                    None => Some(SessionTimer {
                        interval: st.expires,
                        we_refresh: !call.peer_timer,
                    }),
                };
            } else if let Some((secs, refresher)) = session_expires(&call.invite) {
                // We don't run timers ourselves, but a caller that asked
                // to refresh may.
                if refresher.as_deref() == Some("uac") {
                    call.session = Some(SessionTimer {
                        interval: secs,
                        we_refresh: false,
                    });
                }
            }
            let t = ua.invite_transport(call);
            let req = call.invite.clone();
            let mut resp = ua.uas_response(call, &req, StatusCode::OK, t);
            ua.session_headers_for_answer(call, &mut resp);
            if let Some(b) = &sdp {
                resp.headers
                    .push(HeaderName::ContentType, "application/sdp");
                resp.body = b.clone();
                call.local_sdp = Some(b.clone());
            }
            call.rel_queue.clear();
            if call.rel1xx.as_ref().is_some_and(|r| r.has_sdp) {
                // RFC 3262 §3: no 2xx before the PRACK of a reliable
                // provisional response that carried SDP.
                call.deferred_2xx = Some(resp);
            } else {
                ua.send_2xx(now, call, tx, resp);
                call.rel1xx = None;
                ua.disarm_call(call, CallTimer::Rel1xx);
                ua.disarm_call(call, CallTimer::Rel1xxTimeout);
            }
            call.state = CallState::Answering;
            if call.session.is_some() {
                ua.session_timer_start(now, call);
            }
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Sends a 2xx to an INVITE and retransmits it until the ACK comes
    /// (RFC 3261 §13.3.1.4: T1 doubling up to T2, for 64*T1).
    fn send_2xx(&mut self, now: Instant, call: &mut Call, tx: TxId, resp: Response) {
        let cseq = resp.cseq().map(|c| c.seq).unwrap_or(0);
        let timers = (CallTimer::Retransmit2xx, CallTimer::AckWait);
        if let Some(resend) = self.respond_and_resend(now, call, tx, resp, timers) {
            call.pending_2xx = Some(Pending2xx { cseq, resend });
        }
    }

    /// Rejects an incoming call with a final status (486, 603, ...).
    pub fn reject(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
    ) -> Result<(), Error> {
        if status.as_u16() < 300 {
            return Err(Error::BadStatus(status.as_u16()));
        }
        self.final_uas(now, call, status, &[])
    }

    /// Redirects an incoming call (3xx) to `targets`.
    pub fn redirect(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
        targets: &[Uri],
    ) -> Result<(), Error> {
        if status.class() != 3 {
            return Err(Error::BadStatus(status.as_u16()));
        }
        self.final_uas(now, call, status, targets)
    }

    fn final_uas(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
        targets: &[Uri],
    ) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            let tx = call
                .invite_tx
                .filter(|t| ua.tx.server_can_respond(*t))
                .ok_or(Error::InvalidState("the INVITE is answered already"))?;
            if call.role != Role::Uas {
                return Err(Error::InvalidState("not an incoming call"));
            }
            let t = ua.invite_transport(call);
            let req = call.invite.clone();
            let mut resp = ua.uas_response(call, &req, status, t);
            for u in targets {
                resp.headers.push(HeaderName::Contact, format!("<{u}>"));
            }
            ua.tx.respond(now, tx, resp);
            ua.end_call(now, call, EndReason::LocalReject(status));
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Cancels an outgoing call that has not been answered. The CANCEL
    /// goes out once a provisional response came (RFC 3261 §9.1).
    pub fn cancel(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            if call.role != Role::Uac || call.state != CallState::Calling {
                return Err(Error::InvalidState("not an unanswered outgoing call"));
            }
            call.cancel_requested = true;
            if let Some(tx) = call.invite_tx {
                if ua.tx.client_is_proceeding(tx) {
                    ua.send_cancel(now, call);
                } else if !ua.tx.client_is_pending(tx) {
                    // Already final.
                }
            }
            ua.end_call(now, call, EndReason::LocalCancel);
            // Keep the call alive for the 487 / a crossing 2xx.
            ua.disarm_call(call, CallTimer::Cleanup);
            let linger = ua.tx.config().t1x64();
            ua.arm_call(call, CallTimer::Cleanup, now + linger * 2);
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Ends a call whatever its state: CANCEL (outgoing, unanswered), 603
    /// Decline (incoming, unanswered) or BYE.
    pub fn hang_up(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        let state = self.call_state(call).ok_or(Error::NoSuchCall)?;
        let role = self.calls.get(&call).map(|c| c.role);
        match (state, role) {
            (CallState::Calling, _) => self.cancel(now, call),
            (CallState::Incoming, _) => self.reject(now, call, StatusCode::DECLINE),
            (CallState::Ended, _) => Err(Error::InvalidState("the call has ended")),
            (CallState::Answering, _) => self
                .with_call(call, |ua, call| {
                    // No BYE before the ACK (RFC 3261 §15): after it.
                    call.bye_after_ack = true;
                    ua.end_call(now, call, EndReason::LocalHangup);
                    ua.disarm_call(call, CallTimer::Cleanup);
                    let linger = ua.tx.config().t1x64();
                    ua.arm_call(call, CallTimer::Cleanup, now + linger * 2);
                    Ok(())
                })
                .ok_or(Error::NoSuchCall)?,
            (CallState::Confirmed, _) => self
                .with_call(call, |ua, call| {
                    if let Some(seq) = call.ack_pending.take() {
                        // Never answered the 2xx's offer: ACK it anyway
                        // (the transaction must end), then BYE.
                        let call_id = call.call_id.clone();
                        if let Some(mut d) = call.dialog.take() {
                            ua.send_ack_2xx(&call_id, &mut d, seq, None);
                            call.dialog = Some(d);
                        }
                    }
                    ua.send_bye(now, call);
                    ua.end_call(now, call, EndReason::LocalHangup);
                    Ok(())
                })
                .ok_or(Error::NoSuchCall)?,
        }
    }

    // ----- offers in a confirmed dialog -----

    /// Sends a re-INVITE with a new SDP offer (hold, resume, codec change).
    pub fn reinvite(&mut self, now: Instant, call: CallHandle, sdp: Bytes) -> Result<(), Error> {
        self.send_offer(now, call, Method::Invite, Some(sdp), false)
    }

    /// Sends an UPDATE (RFC 3311) with a new SDP offer.
    pub fn update(&mut self, now: Instant, call: CallHandle, sdp: Bytes) -> Result<(), Error> {
        self.send_offer(now, call, Method::Update, Some(sdp), false)
    }

    fn send_offer(
        &mut self,
        now: Instant,
        call: CallHandle,
        method: Method,
        sdp: Option<Bytes>,
        refresh: bool,
    ) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            ua.send_offer_in(now, call, method, sdp, refresh)
        })
        .ok_or(Error::NoSuchCall)?
    }

    fn send_offer_in(
        &mut self,
        now: Instant,
        call: &mut Call,
        method: Method,
        sdp: Option<Bytes>,
        refresh: bool,
    ) -> Result<(), Error> {
        if call.state != CallState::Confirmed || call.ended {
            return Err(Error::InvalidState("the call is not established"));
        }
        // No new offer while an INVITE is unfinished in either direction
        // (RFC 3261 §14.1): ours unanswered, theirs un-ACKed.
        if call.pending_out.is_some()
            || call.pending_in.is_some()
            || (method == Method::Invite
                && (call.pending_2xx.is_some() || call.ack_pending.is_some()))
        {
            return Err(Error::RequestPending);
        }
        let Some(mut d) = call.dialog.take() else {
            return Err(Error::InvalidState("no dialog"));
        };
        let mut req = self.dialog_request(&mut d, &call.call_id, method.clone(), None);
        let t = self.transport_of(&d);
        call.dialog = Some(d);
        if let Ok(c) = self.contact_header(t) {
            req.headers.push(HeaderName::Contact, c);
        }
        req.headers.push(HeaderName::Supported, self.supported());
        if let Some(s) = call.session {
            let r = if s.we_refresh { "uac" } else { "uas" };
            req.headers.push(
                HeaderName::SessionExpires,
                format!("{};refresher={r}", s.interval),
            );
        }
        Self::add_body(&mut req, sdp.as_ref());
        let p = if method == Method::Invite {
            Purpose::Reinvite
        } else {
            Purpose::Update
        };
        let tx = self.send_in_dialog(now, call, req, p)?;
        call.pending_out = Some(PendingOffer {
            tx,
            method,
            sdp,
            refresh,
        });
        Ok(())
    }

    /// Answers an offer received in a re-INVITE or UPDATE
    /// ([`Event::OfferReceived`]).
    pub fn answer_offer(
        &mut self,
        now: Instant,
        call: CallHandle,
        sdp: Bytes,
    ) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            if let Some(seq) = call.ack_pending.take() {
                // The answer to the offer in the 2xx of our offerless
                // INVITE goes in the ACK.
                let call_id = call.call_id.clone();
                if let Some(mut d) = call.dialog.take() {
                    ua.send_ack_2xx(&call_id, &mut d, seq, Some(&sdp));
                    call.dialog = Some(d);
                }
                call.local_sdp = Some(sdp);
                return Ok(());
            }
            let (tx, method) = call
                .pending_in
                .take()
                .ok_or(Error::InvalidState("no offer to answer"))?;
            let Some(req) = ua.tx.server_request(tx).cloned() else {
                return Err(Error::InvalidState("the offer's transaction is gone"));
            };
            let t = ua
                .tx
                .server_route(tx)
                .map(|r| r.0)
                .unwrap_or(Transport::Udp);
            let mut resp = ua.uas_response(call, &req, StatusCode::OK, t);
            ua.refresh_headers(call, &req, &mut resp);
            resp.headers
                .push(HeaderName::ContentType, "application/sdp");
            resp.body = sdp.clone();
            call.local_sdp = Some(sdp);
            if method == Method::Invite {
                ua.send_2xx(now, call, tx, resp);
            } else {
                ua.tx.respond(now, tx, resp);
            }
            if call.session.is_some() {
                ua.session_timer_start(now, call);
            }
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Refuses an offer received in a re-INVITE or UPDATE (488, ...); the
    /// session goes on unchanged.
    pub fn reject_offer(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
    ) -> Result<(), Error> {
        if status.as_u16() < 300 {
            return Err(Error::BadStatus(status.as_u16()));
        }
        self.respond_pending(now, call, status, |call| {
            let (tx, _) = call
                .pending_in
                .take()
                .ok_or(Error::InvalidState("no offer to answer"))?;
            Ok(tx)
        })
    }

    /// Answers with `status` the server transaction that `take` removes
    /// from the call (a pending offer, a REFER).
    fn respond_pending(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
        take: impl FnOnce(&mut Call) -> Result<TxId, Error>,
    ) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            let tx = take(call)?;
            if let Some(req) = ua.tx.server_request(tx).cloned() {
                let resp = ua.uas_response(call, &req, status, Transport::Udp);
                ua.tx.respond(now, tx, resp);
            }
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Session-Expires in a 2xx to a refresh request.
    fn refresh_headers(&self, call: &mut Call, req: &Request, resp: &mut Response) {
        if let Some((secs, refresher)) = session_expires(req) {
            let interval = secs.max(self.cfg.session_timer.map_or(90, |s| s.min_se));
            // refresher in this transaction: uac = the peer (it sent it).
            let peer_refreshes = refresher.as_deref() != Some("uas");
            call.session = Some(SessionTimer {
                interval,
                we_refresh: !peer_refreshes,
            });
            let r = if peer_refreshes { "uac" } else { "uas" };
            resp.headers.push(
                HeaderName::SessionExpires,
                format!("{interval};refresher={r}"),
            );
            resp.headers.push(HeaderName::Require, "timer");
        } else if let Some(s) = call.session {
            let r = if s.we_refresh { "uas" } else { "uac" };
            resp.headers.push(
                HeaderName::SessionExpires,
                format!("{};refresher={r}", s.interval),
            );
        }
    }

    // ----- INFO, REFER, NOTIFY -----

    /// Sends INFO with a body (RFC 6086).
    pub fn send_info(
        &mut self,
        now: Instant,
        call: CallHandle,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), Error> {
        self.simple_in_dialog(now, call, Method::Info, Purpose::Info, |r| {
            r.headers
                .push(HeaderName::ContentType, content_type.to_string());
            r.body = body;
        })
    }

    /// Sends one DTMF digit as SIP INFO (application/dtmf-relay).
    pub fn send_dtmf_info(
        &mut self,
        now: Instant,
        call: CallHandle,
        digit: char,
        duration_ms: u32,
    ) -> Result<(), Error> {
        if !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D') {
            return Err(Error::InvalidArgument("not a DTMF digit"));
        }
        let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
        self.send_info(now, call, "application/dtmf-relay", Bytes::from(body))
    }

    /// Asks the peer to call `target` (REFER, RFC 3515: blind transfer).
    /// Progress comes as [`Event::TransferProgress`].
    pub fn transfer(&mut self, now: Instant, call: CallHandle, target: Uri) -> Result<(), Error> {
        let me = self
            .calls
            .get(&call)
            .and_then(|c| c.dialog.as_ref())
            .map(|d| d.local_uri.clone());
        self.simple_in_dialog(now, call, Method::Refer, Purpose::Refer, |r| {
            r.headers.push(HeaderName::ReferTo, format!("<{target}>"));
            if let Some(me) = me {
                r.headers.push(HeaderName::ReferredBy, me.to_string());
            }
        })
    }

    fn simple_in_dialog(
        &mut self,
        now: Instant,
        call: CallHandle,
        method: Method,
        p: Purpose,
        edit: impl FnOnce(&mut Request),
    ) -> Result<(), Error> {
        self.with_call(call, |ua, call| {
            if call.ended {
                return Err(Error::InvalidState("the call has ended"));
            }
            let Some(mut d) = call.dialog.take() else {
                return Err(Error::InvalidState("no dialog"));
            };
            if d.remote_tag.is_empty()
                || (call.role == Role::Uas
                    && call.state == CallState::Incoming
                    && method != Method::Notify)
            {
                call.dialog = Some(d);
                return Err(Error::InvalidState("the call is not established"));
            }
            let mut req = ua.dialog_request(&mut d, &call.call_id, method, None);
            let t = ua.transport_of(&d);
            call.dialog = Some(d);
            if matches!(p, Purpose::Refer | Purpose::Notify)
                && let Ok(c) = ua.contact_header(t)
            {
                req.headers.push(HeaderName::Contact, c);
            }
            edit(&mut req);
            ua.send_in_dialog(now, call, req, p)?;
            Ok(())
        })
        .ok_or(Error::NoSuchCall)?
    }

    /// Accepts a REFER ([`Event::TransferRequested`]): 202 Accepted and a
    /// first NOTIFY (`SIP/2.0 100 Trying`).
    pub fn accept_transfer(&mut self, now: Instant, call: CallHandle) -> Result<(), Error> {
        self.respond_pending(now, call, StatusCode::ACCEPTED, take_refer)?;
        self.notify_transfer(now, call, StatusCode::TRYING)
    }

    /// Refuses a REFER with a final status (e.g. 603).
    pub fn reject_transfer(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
    ) -> Result<(), Error> {
        if status.as_u16() < 300 {
            return Err(Error::BadStatus(status.as_u16()));
        }
        self.respond_pending(now, call, status, take_refer)
    }

    /// Reports the progress of the call placed for a transfer to the
    /// referrer (NOTIFY with a message/sipfrag body). A final status ends
    /// the implicit subscription.
    pub fn notify_transfer(
        &mut self,
        now: Instant,
        call: CallHandle,
        status: StatusCode,
    ) -> Result<(), Error> {
        let final_ = status.is_final();
        let body = format!(
            "SIP/2.0 {} {}\r\n",
            status.as_u16(),
            status.default_reason()
        );
        self.simple_in_dialog(now, call, Method::Notify, Purpose::Notify, |r| {
            r.headers.push(HeaderName::Event, "refer");
            r.headers.push(
                HeaderName::SubscriptionState,
                if final_ {
                    "terminated;reason=noresource"
                } else {
                    "active;expires=60"
                },
            );
            r.headers
                .push(HeaderName::ContentType, "message/sipfrag;version=2.0");
            r.body = Bytes::from(body);
        })
    }

    // ----- UAS: requests inside a dialog -----

    pub(crate) fn on_cancel(&mut self, now: Instant, id: TxId, req: Request) {
        let Some(inv) = self.tx.invite_for_cancel(&req) else {
            self.reply(now, id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
            return;
        };
        self.reply(now, id, &req, StatusCode::OK);
        let h = self
            .calls
            .values()
            .find(|c| c.role == Role::Uas && c.invite_tx == Some(inv))
            .map(|c| c.handle);
        let Some(h) = h else {
            return;
        };
        if !self.tx.server_can_respond(inv) {
            return;
        }
        let reason = req
            .headers
            .get(&HeaderName::Reason)
            .and_then(ReasonHeader::parse);
        self.with_call(h, |ua, call| {
            let t = ua.invite_transport(call);
            let inv_req = call.invite.clone();
            let resp = ua.uas_response(call, &inv_req, StatusCode::REQUEST_TERMINATED, t);
            ua.tx.respond(now, inv, resp);
            ua.end_call(now, call, EndReason::RemoteCancel { reason });
        });
    }

    pub(crate) fn on_ack(&mut self, now: Instant, req: Request) {
        let (Ok(call_id), Some(tag)) = (req.call_id(), tag_of(&req.to())) else {
            return;
        };
        let Some(h) = self.dialog_index.get(&(call_id.to_string(), tag)).copied() else {
            return;
        };
        let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
        self.with_call(h, |ua, call| {
            let Some(p) = call.pending_2xx.as_ref() else {
                return;
            };
            if p.cseq != seq {
                return;
            }
            call.pending_2xx = None;
            ua.disarm_call(call, CallTimer::Retransmit2xx);
            ua.disarm_call(call, CallTimer::AckWait);
            if call.bye_after_ack {
                call.bye_after_ack = false;
                ua.send_bye(now, call);
                return;
            }
            if call.state == CallState::Answering {
                call.state = CallState::Confirmed;
                ua.events.push_back(Event::Confirmed {
                    call: call.handle,
                    sdp: body_of(&req),
                });
            } else if let Some(sdp) = body_of(&req) {
                ua.events.push_back(Event::AnswerReceived {
                    call: call.handle,
                    sdp: Some(sdp),
                });
            }
        });
    }

    pub(crate) fn in_dialog_request(
        &mut self,
        now: Instant,
        h: CallHandle,
        id: TxId,
        req: Request,
    ) {
        self.with_call(h, |ua, call| ua.in_dialog(now, call, id, req));
    }

    fn in_dialog(&mut self, now: Instant, call: &mut Call, id: TxId, req: Request) {
        let remote_tag = tag_of(&req.from()).unwrap_or_default();
        let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
        if call.ended && req.method != Method::Bye {
            self.reply(now, id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
            return;
        }
        let Some(d) = call.dialog_for(&remote_tag) else {
            self.reply(now, id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
            return;
        };
        // CSeq must grow (RFC 3261 §12.2.2).
        if let Some(r) = d.remote_seq
            && seq < r
        {
            let mut resp = Response::for_request(&req, StatusCode::SERVER_INTERNAL_ERROR)
                .with_reason("Server Internal Error (CSeq out of order)");
            self.add_to_tag_if_missing(&mut resp);
            self.tx.respond(now, id, resp);
            return;
        }
        d.remote_seq = Some(seq);
        let t = self
            .tx
            .server_route(id)
            .map(|r| r.0)
            .unwrap_or(Transport::Udp);
        match req.method {
            Method::Bye => {
                let resp = self.uas_response(call, &req, StatusCode::OK, t);
                self.tx.respond(now, id, resp);
                if call.role == Role::Uas
                    && let Some(inv) = call.invite_tx.filter(|x| self.tx.server_can_respond(*x))
                {
                    let invite = call.invite.clone();
                    let r = self.uas_response(call, &invite, StatusCode::REQUEST_TERMINATED, t);
                    self.tx.respond(now, inv, r);
                }
                call.pending_2xx = None;
                self.disarm_call(call, CallTimer::Retransmit2xx);
                self.disarm_call(call, CallTimer::AckWait);
                self.end_call(now, call, EndReason::RemoteBye);
            }
            Method::Invite | Method::Update => self.incoming_offer(now, call, id, req, t),
            Method::Prack => {
                let rack: Option<(u32, u32)> = req.headers.get(&HeaderName::RAck).and_then(|v| {
                    let mut it = v.split_whitespace();
                    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
                });
                let invite_cseq = call.invite_cseq();
                // Any reliable provisional we sent (RSeq below next_rseq)
                // may be PRACKed, also after the final response.
                let Some((rseq, _)) = rack.filter(|(r, c)| {
                    *c == invite_cseq && *r >= 1 && *r < call.next_rseq && call.role == Role::Uas
                }) else {
                    self.reply(now, id, &req, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
                    return;
                };
                let resp = self.uas_response(call, &req, StatusCode::OK, t);
                self.tx.respond(now, id, resp);
                if call.rel1xx.as_ref().is_some_and(|r| r.rseq == rseq) {
                    call.rel1xx = None;
                    self.disarm_call(call, CallTimer::Rel1xx);
                    self.disarm_call(call, CallTimer::Rel1xxTimeout);
                    let Some(tx) = call.invite_tx.filter(|x| self.tx.server_can_respond(*x)) else {
                        return;
                    };
                    if let Some(ok) = call.deferred_2xx.take() {
                        self.send_2xx(now, call, tx, ok);
                    } else if let Some(next) = call.rel_queue.pop_front() {
                        self.send_rel1xx(now, call, tx, next);
                    }
                }
            }
            Method::Info => {
                let resp = self.uas_response(call, &req, StatusCode::OK, t);
                self.tx.respond(now, id, resp);
                self.events.push_back(Event::InfoReceived {
                    call: call.handle,
                    content_type: req
                        .headers
                        .get(&HeaderName::ContentType)
                        .map(|v| v.to_string()),
                    body: req.body.clone(),
                });
            }
            Method::Options => {
                let resp = self.options_response(&req);
                self.tx.respond(now, id, resp);
            }
            Method::Refer => {
                let refer_to = req
                    .name_addrs(&HeaderName::ReferTo)
                    .ok()
                    .and_then(|v| v.into_iter().next());
                let Some(refer_to) = refer_to else {
                    let resp = Response::for_request(&req, StatusCode::BAD_REQUEST)
                        .with_reason("Bad Request (Refer-To)");
                    self.tx.respond(now, id, resp);
                    return;
                };
                if call.refer_in.is_some() {
                    self.reply(now, id, &req, StatusCode::REQUEST_PENDING);
                    return;
                }
                call.refer_in = Some(id);
                self.events.push_back(Event::TransferRequested {
                    call: call.handle,
                    refer_to: Box::new(refer_to),
                    referred_by: req
                        .name_addrs(&HeaderName::ReferredBy)
                        .ok()
                        .and_then(|v| v.into_iter().next())
                        .map(Box::new),
                });
            }
            Method::Notify => {
                let is_refer = req.headers.get(&HeaderName::Event).is_some_and(|e| {
                    e.split(';')
                        .next()
                        .is_some_and(|p| p.trim().eq_ignore_ascii_case("refer"))
                });
                if !is_refer || !call.refer_out {
                    self.reply(now, id, &req, StatusCode::BAD_EVENT);
                    return;
                }
                let resp = self.uas_response(call, &req, StatusCode::OK, t);
                self.tx.respond(now, id, resp);
                let done = req
                    .headers
                    .get(&HeaderName::SubscriptionState)
                    .is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"));
                let status = sipfrag_status(&req.body);
                if done {
                    call.refer_out = false;
                }
                if let Some(status) = status {
                    self.events.push_back(Event::TransferProgress {
                        call: call.handle,
                        status,
                        done,
                    });
                }
            }
            Method::Ack | Method::Cancel => {}
            _ => {
                let mut resp = Response::for_request(&req, StatusCode::NOT_IMPLEMENTED);
                resp.headers.push(HeaderName::Allow, super::ALLOW);
                self.tx.respond(now, id, resp);
            }
        }
    }

    fn incoming_offer(
        &mut self,
        now: Instant,
        call: &mut Call,
        id: TxId,
        req: Request,
        t: Transport,
    ) {
        let is_invite = req.method == Method::Invite;
        if is_invite {
            self.tx
                .respond(now, id, Response::for_request(&req, StatusCode::TRYING));
        }
        let has_offer = !req.body.is_empty();
        // Our own offer is outstanding: glare (RFC 3261 §14.2, RFC 3311).
        if call.pending_out.is_some() && (is_invite || has_offer) {
            let resp = self.uas_response(call, &req, StatusCode::REQUEST_PENDING, t);
            self.tx.respond(now, id, resp);
            return;
        }
        // Their earlier offer is still unanswered: 500 with Retry-After.
        if call.pending_in.is_some()
            || (is_invite && call.pending_2xx.is_some())
            || (is_invite && call.state != CallState::Confirmed)
        {
            let mut resp = self.uas_response(call, &req, StatusCode::SERVER_INTERNAL_ERROR, t);
            let secs = self.rng.random_range(0..=10u32);
            resp.headers.push(HeaderName::RetryAfter, secs.to_string());
            self.tx.respond(now, id, resp);
            return;
        }
        // Target refresh.
        if let Some(c) = req.contacts().ok().and_then(|c| c.into_iter().next())
            && let Some(d) = call.dialog.as_mut()
        {
            d.remote_target = c.uri;
        }
        if has_offer {
            call.pending_in = Some((id, req.method.clone()));
            if let Some((secs, refresher)) = session_expires(&req) {
                let peer_refreshes = refresher.as_deref() != Some("uas");
                call.session = Some(SessionTimer {
                    interval: secs,
                    we_refresh: !peer_refreshes,
                });
            }
            self.events.push_back(Event::OfferReceived {
                call: call.handle,
                sdp: req.body.clone(),
                method: req.method.clone(),
            });
            return;
        }
        // No offer: a session refresh (UPDATE) or an offerless re-INVITE,
        // answered at once with our current SDP.
        let mut resp = self.uas_response(call, &req, StatusCode::OK, t);
        self.refresh_headers(call, &req, &mut resp);
        if is_invite {
            if let Some(sdp) = &call.local_sdp {
                resp.headers
                    .push(HeaderName::ContentType, "application/sdp");
                resp.body = sdp.clone();
            }
            self.send_2xx(now, call, id, resp);
        } else {
            self.tx.respond(now, id, resp);
        }
        if call.session.is_some() {
            self.session_timer_start(now, call);
        }
    }

    // ----- session timers -----

    fn session_timer_start(&mut self, now: Instant, call: &mut Call) {
        let Some(s) = call.session else {
            return;
        };
        self.disarm_call(call, CallTimer::SessionRefresh);
        self.disarm_call(call, CallTimer::SessionExpiry);
        let interval = Duration::from_secs(u64::from(s.interval.max(1)));
        if s.we_refresh {
            self.arm_call(call, CallTimer::SessionRefresh, now + interval / 2);
        } else {
            // RFC 4028 §10: BYE at interval - min(32, interval/3).
            let guard = Duration::from_secs(32).min(interval / 3);
            self.arm_call(call, CallTimer::SessionExpiry, now + interval - guard);
        }
    }

    fn session_refresh(&mut self, now: Instant, call: &mut Call) {
        let method = if call.peer_update {
            Method::Update
        } else {
            Method::Invite
        };
        let sdp = if method == Method::Invite {
            call.local_sdp.clone()
        } else {
            None
        };
        match self.send_offer_in(now, call, method, sdp, true) {
            Ok(()) => {
                // If no answer comes, the expiry still ends the call.
                if let Some(s) = call.session {
                    let interval = Duration::from_secs(u64::from(s.interval.max(1)));
                    let guard = Duration::from_secs(32).min(interval / 3);
                    self.arm_call(
                        call,
                        CallTimer::SessionExpiry,
                        now + interval / 2 - guard.min(interval / 2),
                    );
                }
            }
            Err(_) => {
                // Busy with another exchange: try again in 2 s.
                self.arm_call(
                    call,
                    CallTimer::SessionRefresh,
                    now + Duration::from_secs(2),
                );
            }
        }
    }

    // ----- timers -----

    pub(crate) fn call_timer(&mut self, now: Instant, h: CallHandle, t: CallTimer, key: TimerKey) {
        let remove = self
            .with_call(h, |ua, call| {
                let Some(i) = call.timers.iter().position(|(tt, k)| *tt == t && *k == key) else {
                    return false;
                };
                call.timers.swap_remove(i);
                ua.fire_call_timer(now, call, t)
            })
            .unwrap_or(false);
        if remove && let Some(call) = self.calls.remove(&h) {
            self.dialog_index
                .remove(&(call.call_id.clone(), call.local_tag.clone()));
            for (_, k) in call.timers {
                self.timers.cancel(Some(k));
            }
        }
    }

    /// Returns true when the call must be forgotten.
    fn fire_call_timer(&mut self, now: Instant, call: &mut Call, t: CallTimer) -> bool {
        let cfg = *self.tx.config();
        match t {
            CallTimer::Retransmit2xx => {
                if let Some(p) = call.pending_2xx.as_mut() {
                    let (copy, next) = p.resend.again(cfg.t2);
                    self.stats.retransmitted_2xx += 1;
                    self.tx.out.push_back(copy);
                    self.arm_call(call, CallTimer::Retransmit2xx, now + next);
                }
            }
            CallTimer::AckWait => {
                if call.pending_2xx.take().is_some() {
                    self.disarm_call(call, CallTimer::Retransmit2xx);
                    call.bye_after_ack = false;
                    self.send_bye(now, call);
                    self.end_call(now, call, EndReason::AckTimeout);
                }
            }
            CallTimer::Rel1xx => {
                if let Some(r) = call.rel1xx.as_mut() {
                    // No cap: reliable 1xx copies double all the way (RFC 3262 §3).
                    let (copy, next) = r.resend.again(Duration::MAX);
                    self.stats.retransmitted_reliable_1xx += 1;
                    self.tx.out.push_back(copy);
                    self.arm_call(call, CallTimer::Rel1xx, now + next);
                }
            }
            CallTimer::Rel1xxTimeout => {
                if call.rel1xx.take().is_some() {
                    self.disarm_call(call, CallTimer::Rel1xx);
                    if let Some(tx) = call.invite_tx.filter(|x| self.tx.server_can_respond(*x)) {
                        let t = self.invite_transport(call);
                        let inv = call.invite.clone();
                        let resp = self
                            .uas_response(call, &inv, StatusCode::SERVER_INTERNAL_ERROR, t)
                            .with_reason("Reliable provisional response not acknowledged");
                        self.tx.respond(now, tx, resp);
                    }
                    self.end_call(now, call, EndReason::Timeout);
                }
            }
            CallTimer::Glare => {
                if let Some((method, sdp)) = call.glare_retry.take()
                    && self
                        .send_offer_in(now, call, method.clone(), sdp.clone(), false)
                        .is_err()
                    && !call.ended
                {
                    // Still busy: the other side's exchange goes first.
                    call.glare_retry = Some((method, sdp));
                    self.arm_call(call, CallTimer::Glare, now + Duration::from_secs(1));
                }
            }
            CallTimer::SessionRefresh => {
                if !call.ended {
                    self.session_refresh(now, call);
                }
            }
            CallTimer::SessionExpiry => {
                if !call.ended {
                    self.send_bye(now, call);
                    self.end_call(now, call, EndReason::SessionTimerExpired);
                }
            }
            CallTimer::Cleanup => return true,
        }
        false
    }

    pub(crate) fn server_terminated(&mut self, tx: TxId) {
        for call in self.calls.values_mut() {
            if call.pending_in.as_ref().is_some_and(|(t, _)| *t == tx) {
                call.pending_in = None;
            }
            if call.refer_in == Some(tx) {
                call.refer_in = None;
            }
        }
    }
}

/// The status of a message/sipfrag body (`SIP/2.0 200 OK`).
fn sipfrag_status(body: &[u8]) -> Option<StatusCode> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?;
    let mut it = line.split_whitespace();
    if !it.next()?.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    StatusCode::new(it.next()?.parse().ok()?)
}
