//! The registration client (RFC 3261 §10): REGISTER with refresh before
//! expiry, 423 Min-Expires, un-REGISTER, digest challenges, back-off after
//! failures, rport/received learning (RFC 3581), RFC 8599 push parameters
//! and RFC 5626 instance id / reg-id in the Contact.
//!
//! Refresh policy: a binding granted for `E` seconds is refreshed after
//! `min(0.9 * E, E - 5)` seconds (at least 1 s): 54 s for 60 s, 3240 s
//! for an hour, 5 s for 10 s.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Event, RegistrationHandle, TxOwner, UaTimer, UserAgent};
use crate::auth::ChallengeOutcome;
use crate::error::Error;
use crate::message::{
    HeaderName, Method, NameAddr, Request, Response, SipMessage, SipUri, StatusCode, Uri,
};
use crate::timer::TimerKey;
use crate::transport::Transport;

/// RFC 8599 push notification parameters for the Contact URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushParams {
    /// `pn-provider` (e.g. `apns`, `fcm`).
    pub provider: String,
    /// `pn-prid`: the push token. Left out of un-REGISTERs.
    pub prid: String,
    /// `pn-param` (e.g. `TEAMID.com.example.app.voip`).
    pub param: Option<String>,
}

/// What to register.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The registrar (Request-URI), e.g. `sip:127.0.0.1:5060`.
    pub registrar: Uri,
    /// The address of record (From and To), e.g. `sip:alice@example.com`.
    pub aor: Uri,
    /// Requested binding lifetime in seconds, default 3600.
    pub expires: u32,
    /// RFC 8599 push parameters.
    pub push: Option<PushParams>,
    /// RFC 5626 `+sip.instance` (e.g. `urn:uuid:...`).
    pub instance_id: Option<String>,
    /// RFC 5626 `reg-id`.
    pub reg_id: Option<u32>,
}

impl RegistrationConfig {
    /// Registers `aor` at `registrar` for an hour.
    pub fn new(registrar: Uri, aor: Uri) -> Self {
        Self {
            registrar,
            aor,
            expires: 3600,
            push: None,
            instance_id: None,
            reg_id: None,
        }
    }
}

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationFailure {
    /// The registrar refused our credentials (wrong user name or password).
    AuthenticationFailed,
    /// A challenge came but we have no credentials for its realm.
    NoCredentials,
    /// A final error response.
    Rejected {
        /// The status.
        status: StatusCode,
        /// Its reason phrase.
        reason: String,
    },
    /// No response (timer F).
    Timeout,
    /// The driver could not send.
    TransportError,
}

/// The state of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationState {
    /// REGISTER sent.
    Registering,
    /// The binding is in place.
    Registered {
        /// Seconds the registrar granted.
        expires: u32,
        /// Our address as the registrar saw it (received/rport), if told.
        public_address: Option<SocketAddr>,
    },
    /// Un-REGISTER sent.
    Unregistering,
    /// The binding is removed; the handle is forgotten.
    Unregistered,
    /// Failed; retried automatically after `retry_in`.
    Failed {
        /// Why.
        failure: RegistrationFailure,
        /// When the next attempt is made.
        retry_in: Duration,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegTimer {
    Refresh,
    Retry,
}

#[derive(Debug)]
pub(crate) struct Registration {
    cfg: RegistrationConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    contact_addr: Option<SocketAddr>,
    stale_contact: Option<String>,
    unregistering: bool,
    auth_attempts: u32,
    failures: u32,
    timer: Option<(RegTimer, TimerKey)>,
    learned_once: bool,
    /// The binding is in place (last REGISTER succeeded).
    registered: bool,
    last_report: Option<std::mem::Discriminant<RegistrationState>>,
}

/// When to refresh a binding granted for `expires` seconds.
pub(crate) fn refresh_after(expires: u32) -> Duration {
    let e = u64::from(expires);
    let secs = (e * 9 / 10).min(e.saturating_sub(5)).max(1);
    Duration::from_secs(secs)
}

impl UserAgent {
    /// Starts registering; progress comes as [`Event::Registration`].
    pub fn register(
        &mut self,
        now: Instant,
        cfg: RegistrationConfig,
    ) -> Result<RegistrationHandle, Error> {
        let h = RegistrationHandle(self.new_handle());
        let reg = Registration {
            expires: cfg.expires,
            cfg,
            call_id: self.new_call_id(),
            from_tag: self.new_tag(),
            cseq: 0,
            contact_addr: None,
            stale_contact: None,
            unregistering: false,
            auth_attempts: 0,
            failures: 0,
            timer: None,
            learned_once: false,
            registered: false,
            last_report: None,
        };
        self.registrations.insert(h, reg);
        if let Err(e) = self.send_register(now, h) {
            self.registrations.remove(&h);
            return Err(e);
        }
        Ok(h)
    }

    /// Removes the binding (REGISTER with `Expires: 0`).
    pub fn unregister(&mut self, now: Instant, h: RegistrationHandle) -> Result<(), Error> {
        let reg = self
            .registrations
            .get_mut(&h)
            .ok_or(Error::NoSuchRegistration)?;
        reg.unregistering = true;
        reg.auth_attempts = 0;
        if let Some((_, k)) = reg.timer.take() {
            self.timers.cancel(Some(k));
        }
        self.send_register(now, h)
    }

    /// The current registration state is reported by events; this tells
    /// whether a handle is still alive.
    pub fn has_registration(&self, h: RegistrationHandle) -> bool {
        self.registrations.contains_key(&h)
    }

    fn contact_for(
        &self,
        reg: &Registration,
        addr: SocketAddr,
        t: Transport,
        unregister: bool,
    ) -> String {
        let mut u = SipUri::from_addr(Some(&self.cfg.user), addr);
        if t != Transport::Udp {
            u.params
                .set("transport", Some(&t.as_str().to_ascii_lowercase()));
        }
        if let Some(p) = &reg.cfg.push {
            u.params.set("pn-provider", Some(&p.provider));
            if !unregister {
                u.params.set("pn-prid", Some(&p.prid));
            }
            if let Some(v) = &p.param {
                u.params.set("pn-param", Some(v));
            }
        }
        let mut na = NameAddr::new(Uri::Sip(u));
        if let Some(i) = &reg.cfg.instance_id {
            na.params.set("+sip.instance", Some(&format!("\"<{i}>\"")));
        }
        if let Some(r) = reg.cfg.reg_id {
            na.params.set("reg-id", Some(&r.to_string()));
        }
        na.to_string()
    }

    fn send_register(&mut self, now: Instant, h: RegistrationHandle) -> Result<(), Error> {
        let Some(reg) = self.registrations.get(&h) else {
            return Err(Error::NoSuchRegistration);
        };
        let mut req = Request::new(Method::Register, reg.cfg.registrar.clone());
        let mut from = NameAddr::new(reg.cfg.aor.clone());
        from.display_name = self.cfg.display_name.as_deref().map(Into::into);
        from.set_tag(&reg.from_tag);
        req.headers.push(HeaderName::From, from.to_string());
        req.headers.push(
            HeaderName::To,
            NameAddr::new(reg.cfg.aor.clone()).to_string(),
        );
        req.headers.push(HeaderName::CallId, reg.call_id.clone());
        req.headers
            .push(HeaderName::CSeq, format!("{} REGISTER", reg.cseq + 1));
        self.push_preloaded_routes(&mut req);
        let (t, _) = self.route_for(&req)?;
        let addr = self.contact_addr(t)?;
        let unregister = reg.unregistering;
        // Un-REGISTER the binding we registered (its address), not a new one.
        let contact_addr = if unregister {
            reg.contact_addr.unwrap_or(addr)
        } else {
            addr
        };
        let contact = self.contact_for(reg, contact_addr, t, unregister);
        if unregister {
            req.headers.push(HeaderName::Contact, contact);
            req.headers.push(HeaderName::Expires, "0");
        } else {
            req.headers.push(HeaderName::Contact, contact);
            if let Some(old) = &reg.stale_contact {
                req.headers
                    .push(HeaderName::Contact, format!("{old};expires=0"));
            }
            req.headers
                .push(HeaderName::Expires, reg.expires.to_string());
        }
        req.headers.push(HeaderName::Allow, super::ALLOW);
        // RFC 5626 "outbound" only when we give an instance and reg-id.
        let outbound = reg.cfg.instance_id.is_some() && reg.cfg.reg_id.is_some();
        req.headers.push(
            HeaderName::Supported,
            if outbound { "path, outbound" } else { "path" },
        );
        let state = if unregister {
            RegistrationState::Unregistering
        } else {
            RegistrationState::Registering
        };
        let mut report = true;
        if let Some(reg) = self.registrations.get_mut(&h) {
            reg.cseq += 1;
            if !unregister {
                reg.contact_addr = Some(addr);
            }
            // Report Registering/Unregistering once per attempt: not for
            // challenge answers, nor for refreshes of a live binding.
            report = reg.last_report != Some(std::mem::discriminant(&state)) && !reg.registered;
            if unregister {
                report = reg.last_report != Some(std::mem::discriminant(&state));
            }
            if report {
                reg.last_report = Some(std::mem::discriminant(&state));
            }
        }
        self.send_request(now, req, TxOwner::Registration(h))?;
        if report {
            self.events.push_back(Event::Registration {
                registration: h,
                state,
            });
        }
        Ok(())
    }

    fn reg_arm(&mut self, h: RegistrationHandle, t: RegTimer, at: Instant) {
        let k = self.arm(at, UaTimer::Reg(h, t));
        if let Some(reg) = self.registrations.get_mut(&h)
            && let Some((_, old)) = reg.timer.replace((t, k))
        {
            self.timers.cancel(Some(old));
        }
    }

    fn reg_fail(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        failure: RegistrationFailure,
        retry_after: Option<Duration>,
    ) {
        let Some(reg) = self.registrations.get_mut(&h) else {
            return;
        };
        if reg.unregistering {
            // Giving up on removing it: the binding expires by itself.
            self.registrations.remove(&h);
            self.events.push_back(Event::Registration {
                registration: h,
                state: RegistrationState::Unregistered,
            });
            return;
        }
        reg.failures += 1;
        reg.auth_attempts = 0;
        reg.registered = false;
        reg.last_report = None;
        let retry_in = match (&failure, retry_after) {
            (RegistrationFailure::AuthenticationFailed, _) => self.cfg.auth_failure_retry,
            (_, Some(d)) => d.max(self.cfg.registration_retry_min),
            _ => {
                let exp = reg.failures.saturating_sub(1).min(16);
                (self.cfg.registration_retry_min * (1u32 << exp))
                    .min(self.cfg.registration_retry_max)
            }
        };
        self.reg_arm(h, RegTimer::Retry, now + retry_in);
        tracing::debug!(
            registration = h.0,
            ?failure,
            ?retry_in,
            "registration failed"
        );
        self.events.push_back(Event::Registration {
            registration: h,
            state: RegistrationState::Failed { failure, retry_in },
        });
    }

    pub(crate) fn reg_response(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        request: Request,
        resp: Response,
    ) {
        let status = resp.status;
        if status.is_provisional() {
            return;
        }
        let Some(reg) = self.registrations.get_mut(&h) else {
            return;
        };
        if request.cseq().map(|c| c.seq).ok() != Some(reg.cseq) {
            return; // an answer to a REGISTER we already replaced
        }
        let unregistering = reg.unregistering;
        if status.is_success() {
            reg.auth_attempts = 0;
            reg.failures = 0;
            reg.stale_contact = None;
            let registered_addr = reg.contact_addr;
            let learned_once = reg.learned_once;
            if unregistering {
                self.registrations.remove(&h);
                self.events.push_back(Event::Registration {
                    registration: h,
                    state: RegistrationState::Unregistered,
                });
                return;
            }
            // RFC 3581: where the registrar saw us.
            let public = resp.top_via().ok().and_then(|v| {
                let ip = v.received().or_else(|| v.host.ip())?;
                let port = v.rport().flatten().or(v.port)?;
                Some(SocketAddr::new(ip, port))
            });
            let t = self
                .route_for(&request)
                .map(|r| r.0)
                .unwrap_or(Transport::Udp);
            if let Some(p) = public {
                let local = self.local_addr(t).ok();
                if Some(p) != local
                    && self.cfg.use_learned_contact
                    && self.learned.get(&t) != Some(&p)
                {
                    self.learned.insert(t, p);
                    if registered_addr != Some(p) && !learned_once {
                        // Re-register with the public address; remove the
                        // binding we just made.
                        let stale = match (registered_addr, self.registrations.get(&h)) {
                            (Some(old), Some(reg)) => Some(self.contact_for(reg, old, t, false)),
                            _ => None,
                        };
                        if let Some(reg) = self.registrations.get_mut(&h) {
                            reg.learned_once = true;
                            reg.stale_contact = stale;
                        }
                        let _ = self.send_register(now, h);
                        return;
                    }
                }
            }
            let Some(reg) = self.registrations.get(&h) else {
                return;
            };
            // The expiry granted for our binding.
            let ours = registered_addr;
            let granted = resp
                .contacts()
                .ok()
                .and_then(|cs| {
                    cs.into_iter()
                        .find(|c| {
                            c.uri.as_sip().is_some_and(|u| {
                                ours.is_some_and(|a| {
                                    u.host.ip() == Some(a.ip())
                                        && u.port.unwrap_or(5060) == a.port()
                                })
                            })
                        })
                        .and_then(|c| c.params.get("expires").and_then(|e| e.parse::<u32>().ok()))
                })
                .or_else(|| resp.u32_header(&HeaderName::Expires).ok().flatten())
                .unwrap_or(reg.expires);
            if granted == 0 {
                self.reg_fail(
                    now,
                    h,
                    RegistrationFailure::Rejected {
                        status,
                        reason: "registrar granted 0 s".into(),
                    },
                    None,
                );
                return;
            }
            self.reg_arm(h, RegTimer::Refresh, now + refresh_after(granted));
            if let Some(reg) = self.registrations.get_mut(&h) {
                // A later change of the public address (NAT rebinding)
                // may trigger one re-REGISTER again.
                reg.learned_once = false;
                reg.registered = true;
                reg.last_report = None;
            }
            self.events.push_back(Event::Registration {
                registration: h,
                state: RegistrationState::Registered {
                    expires: granted,
                    public_address: public,
                },
            });
            return;
        }
        if matches!(status.as_u16(), 401 | 407) {
            let outcome = self.digest.on_challenge(&request, &resp, &mut self.rng);
            let Some(reg) = self.registrations.get_mut(&h) else {
                return;
            };
            match outcome {
                ChallengeOutcome::Retry { stale } => {
                    // A stale nonce is not a failure; a fresh challenge to
                    // an answer with a different nonce gets two more tries.
                    if !stale {
                        reg.auth_attempts += 1;
                    }
                    if reg.auth_attempts <= 2 {
                        let _ = self.send_register(now, h);
                        return;
                    }
                    self.reg_fail(now, h, RegistrationFailure::AuthenticationFailed, None);
                }
                ChallengeOutcome::Rejected => {
                    self.reg_fail(now, h, RegistrationFailure::AuthenticationFailed, None)
                }
                ChallengeOutcome::NoCredentials => {
                    self.reg_fail(now, h, RegistrationFailure::NoCredentials, None)
                }
            }
            return;
        }
        if status == StatusCode::INTERVAL_TOO_BRIEF
            && let Ok(Some(min)) = resp.u32_header(&HeaderName::MinExpires)
            && min > reg.expires
        {
            reg.expires = min;
            let _ = self.send_register(now, h);
            return;
        }
        let retry_after = resp
            .u32_header(&HeaderName::RetryAfter)
            .ok()
            .flatten()
            .map(|s| Duration::from_secs(u64::from(s)));
        self.reg_fail(
            now,
            h,
            RegistrationFailure::Rejected {
                status,
                reason: resp.reason.to_string(),
            },
            retry_after,
        );
    }

    pub(crate) fn reg_failed(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        transport_error: bool,
    ) {
        let f = if transport_error {
            RegistrationFailure::TransportError
        } else {
            RegistrationFailure::Timeout
        };
        self.reg_fail(now, h, f, None);
    }

    pub(crate) fn reg_timer(
        &mut self,
        now: Instant,
        h: RegistrationHandle,
        t: RegTimer,
        key: TimerKey,
    ) {
        let Some(reg) = self.registrations.get_mut(&h) else {
            return;
        };
        if reg.timer != Some((t, key)) {
            return;
        }
        reg.timer = None;
        if t == RegTimer::Retry {
            reg.learned_once = false;
        }
        if self.send_register(now, h).is_err() {
            let retry = self.cfg.registration_retry_max;
            self.reg_arm(h, RegTimer::Retry, now + retry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_policy() {
        assert_eq!(refresh_after(3600), Duration::from_secs(3240));
        assert_eq!(refresh_after(60), Duration::from_secs(54));
        assert_eq!(refresh_after(10), Duration::from_secs(5));
        assert_eq!(refresh_after(3), Duration::from_secs(1));
    }
}
