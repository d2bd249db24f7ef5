//! Interop smoke tests against real peers on 127.0.0.1 over real UDP:
//! kamailio as a digest registrar (MD5 and SHA-256, a wrong password) and
//! SIPp's built-in `uas` scenario as a callee. Each test is skipped, with a
//! message, when the binary is missing.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_sip::{
    Credentials, EndReason, Event, RegistrationConfig, RegistrationFailure, RegistrationState,
    StatusCode, Transport, UaConfig, UserAgent,
};
use voipkit_testpeers::{Baresip, Kamailio, Sipp, find_binary, free_udp_port};

fn have(bin: &str) -> bool {
    let found = find_binary(bin).is_some();
    if !found {
        eprintln!("skipped: `{bin}` is not installed");
    }
    found
}

fn is_registered(e: &Event) -> bool {
    matches!(
        e,
        Event::Registration {
            state: RegistrationState::Registered { .. },
            ..
        }
    )
}

fn is_unregistered(e: &Event) -> bool {
    matches!(
        e,
        Event::Registration {
            state: RegistrationState::Unregistered,
            ..
        }
    )
}

fn is_ended_by(e: &Event, why: EndReason) -> bool {
    matches!(e, Event::Ended { reason, .. } if *reason == why)
}

/// A user agent on a real UDP socket, driven by a small loop.
struct Driver {
    ua: UserAgent,
    sock: UdpSocket,
    events: Vec<Event>,
    sent: Vec<String>,
}

impl Driver {
    fn new(cfg_edit: impl FnOnce(&mut UaConfig)) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let mut cfg = UaConfig::new("alice", vec![(Transport::Udp, sock.local_addr().unwrap())]);
        cfg_edit(&mut cfg);
        Self {
            ua: UserAgent::new(cfg, ChaCha20Rng::seed_from_u64(7)),
            sock,
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Sends what the user agent queued and collects its events.
    fn flush(&mut self) {
        while let Some(t) = self.ua.poll_transmit() {
            let line = String::from_utf8_lossy(&t.contents)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            self.sent.push(line);
            let _ = self.sock.send_to(&t.contents, t.destination);
        }
        while let Some(e) = self.ua.poll_event() {
            self.events.push(e);
        }
    }

    /// Waits up to 5 ms for one datagram, then fires due timers.
    fn receive_and_tick(&mut self) {
        let mut buf = vec![0u8; 65_535];
        if let Ok((n, from)) = self.sock.recv_from(&mut buf) {
            self.ua
                .handle_input(Instant::now(), Transport::Udp, from, &buf[..n]);
        }
        let now = Instant::now();
        if self.ua.poll_timeout().is_some_and(|t| t <= now) {
            self.ua.handle_timeout(now);
        }
    }

    /// Sends, collects events, waits up to 5 ms for one datagram, fires
    /// due timers.
    fn step(&mut self) {
        self.flush();
        self.receive_and_tick();
        while let Some(e) = self.ua.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs until `done` holds for the events seen so far, or `limit`.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&[Event]) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            let now = Instant::now();
            self.flush();
            if done(&self.events) {
                return true;
            }
            if now > end {
                return false;
            }
            self.receive_and_tick();
        }
    }

    /// Runs for `limit` whatever happens.
    fn run_for(&mut self, limit: Duration) {
        self.run_until(limit, |_| false);
    }

    /// Hangs up `call`, then runs for `settle`.
    fn hang_up(&mut self, call: voipkit_sip::CallHandle, settle: Duration) {
        self.ua.hang_up(Instant::now(), call).unwrap();
        self.run_for(settle);
    }

    /// Runs until an event matching `f` arrives, or `limit`.
    fn run_until_event(&mut self, limit: Duration, f: impl Fn(&Event) -> bool) -> bool {
        self.run_until(limit, |ev| ev.iter().any(&f))
    }

    /// The call of the first incoming call seen.
    fn incoming_call(&self) -> Option<voipkit_sip::CallHandle> {
        self.events.iter().find_map(|e| match e {
            Event::IncomingCall(ic) => Some(ic.call),
            _ => None,
        })
    }

    /// Whether an event matching `f` was seen.
    fn has(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(f)
    }

    /// Waits up to 5 s for an incoming call from `peer` and returns it.
    fn await_incoming_call(&mut self, peer: &str) -> voipkit_sip::CallHandle {
        assert!(
            self.run_until_event(Duration::from_secs(5), |e| matches!(
                e,
                Event::IncomingCall(_)
            )),
            "no INVITE from {peer}"
        );
        self.incoming_call().unwrap()
    }

    /// Rings, then answers `call` with a PCMU offer on `rtp_port`.
    fn ring_and_answer(&mut self, call: voipkit_sip::CallHandle, rtp_port: u16) {
        self.ua.ringing(Instant::now(), call).unwrap();
        self.ua
            .answer(Instant::now(), call, Some(pcmu_offer(rtp_port)))
            .unwrap();
    }

    /// Requests (or responses) sent whose start line begins with `prefix`.
    fn sent_count(&self, prefix: &str) -> usize {
        self.sent.iter().filter(|l| l.starts_with(prefix)).count()
    }
}

/// The installed kamailio's module directory (its path differs by
/// architecture).
fn kamailio_modules() -> String {
    Kamailio::module_dir()
        .expect("kamailio is installed but its modules (tm.so) were not found")
        .display()
        .to_string()
}

fn kamailio(algorithm: &str) -> Kamailio {
    Kamailio::start("voipkit-kam", |port| {
        let mpath = kamailio_modules();
        format!(
            r#"#!KAMAILIO
debug=1
log_stderror=yes
children=1
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("auth", "algorithm", "{algorithm}")
request_route {{
    if (is_method("REGISTER")) {{
        if (!pv_www_authenticate("voipkit.test", "s3cret", "0")) {{
            www_challenge("voipkit.test", "1");
            exit;
        }}
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    sl_send_reply("404", "Not here");
}}
"#
        )
    })
}

/// Waits until the server answers OPTIONS.
fn wait_ready(d: &mut Driver, server: SocketAddr) -> bool {
    for _ in 0..25 {
        let req =
            d.ua.send_options(Instant::now(), format!("sip:{server}").parse().unwrap())
                .unwrap();
        if d.run_until(Duration::from_millis(200), |ev| {
            ev.iter().any(|e| matches!(e, Event::OptionsResponse { request, status: Some(_) } if *request == req))
        }) {
            return true;
        }
    }
    false
}

fn register_with(algorithm: &str, password: &str) -> Option<(Driver, Vec<Event>)> {
    if !have("kamailio") {
        return None;
    }
    let kam = kamailio(algorithm);
    let server = kam.sip_addr();
    let mut d = Driver::new(|c| c.credentials.push(Credentials::new("alice", password)));
    assert!(wait_ready(&mut d, server), "kamailio did not come up");
    let mut rc = RegistrationConfig::new(
        format!("sip:{server}").parse().unwrap(),
        "sip:alice@voipkit.test".parse().unwrap(),
    );
    rc.expires = 300;
    let h = d.ua.register(Instant::now(), rc).unwrap();
    d.run_until_event(Duration::from_secs(3), |e| {
        matches!(
            e,
            Event::Registration {
                state: RegistrationState::Registered { .. } | RegistrationState::Failed { .. },
                ..
            }
        )
    });
    if d.has(is_registered) {
        d.ua.unregister(Instant::now(), h).unwrap();
        d.run_until_event(Duration::from_secs(3), is_unregistered);
    } else {
        // Give a looping client the chance to show itself.
        d.run_for(Duration::from_secs(2));
    }
    let ev = d.events.clone();
    Some((d, ev))
}

#[test]
fn kamailio_register_md5_and_unregister() {
    let Some((d, ev)) = register_with("MD5", "s3cret") else {
        return;
    };
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Registration {
                state: RegistrationState::Registered { expires: 300, .. },
                ..
            }
        )),
        "{ev:?}"
    );
    assert!(ev.iter().any(is_unregistered));
    // plain -> 401, answer -> 200, un-REGISTER with cached credentials (nc=2) -> 200
    assert_eq!(d.sent_count("REGISTER"), 3, "{:?}", d.sent);
}

#[test]
fn kamailio_register_sha256() {
    let Some((_, ev)) = register_with("SHA-256", "s3cret") else {
        return;
    };
    assert!(ev.iter().any(is_registered), "{ev:?}");
}

#[test]
fn kamailio_wrong_password_fails_cleanly() {
    let Some((d, ev)) = register_with("MD5", "wrong") else {
        return;
    };
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Registration {
            state: RegistrationState::Failed {
                failure: RegistrationFailure::AuthenticationFailed,
                ..
            },
            ..
        }
    )));
    // Two REGISTERs (plain, then one answer), then silence for minutes.
    assert_eq!(d.sent_count("REGISTER"), 2, "{:?}", d.sent);
}

#[test]
fn sipp_uas_call() {
    if !have("sipp") {
        return;
    }
    let port = free_udp_port();
    let mut sipp = Sipp::builtin("uas", port, &[]);
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let mut d = Driver::new(|_| {});
    std::thread::sleep(Duration::from_millis(300));
    let call = d
        .ua
        .start_call(Instant::now(), format!("sip:service@{server}").parse().unwrap(), Some(bytes::Bytes::from_static(b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n")))
        .unwrap();
    assert!(
        d.run_until_event(Duration::from_secs(10), |e| matches!(
            e,
            Event::Answered { .. }
        )),
        "no answer from SIPp: {:?} sent {:?}",
        d.events,
        d.sent
    );
    assert!(
        d.has(|e| matches!(e, Event::Provisional { status, .. } if *status == StatusCode::RINGING))
    );
    d.hang_up(call, Duration::from_secs(2));
    assert!(d.has(|e| is_ended_by(e, EndReason::LocalHangup)));
    // SIPp exits 0 when its one call completed.
    let status = sipp.wait_exit(|| std::thread::sleep(Duration::from_millis(50)));
    assert!(
        status.success(),
        "sipp exit {status:?}; we sent {:?}",
        d.sent
    );
    assert_eq!(d.ua.stats().transactions.unmatched_responses, 0);
}

/// Starts baresip on 127.0.0.1:`port` auto-answering PCMU as `bob`, with
/// its RTP ports derived from `port` and `extra` arguments.
fn baresip(port: u16, extra: &[&str]) -> Baresip {
    let rtp = 30000 + (port % 1000) * 20;
    Baresip::builder("baresip")
        .sip_port(port)
        .ausine(440)
        .modules(["g711.so", "ausine.so"])
        .app_modules(["account.so", "menu.so"])
        .config_line(format!("rtp_ports {rtp}-{}", rtp + 19))
        .account("<sip:bob@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1")
        .timeout_secs(10)
        .args(extra.iter().copied())
        .start()
}

fn pcmu_offer(port: u16) -> bytes::Bytes {
    bytes::Bytes::from(format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    ))
}

#[test]
fn baresip_answers_our_call() {
    if !have("baresip") {
        return;
    }
    let port = free_udp_port();
    let _b = baresip(port, &[]);
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let mut d = Driver::new(|_| {});
    assert!(wait_ready(&mut d, server), "baresip did not come up");
    let call =
        d.ua.start_call(
            Instant::now(),
            format!("sip:bob@{server}").parse().unwrap(),
            Some(pcmu_offer(41000)),
        )
        .unwrap();
    assert!(
        d.run_until_event(Duration::from_secs(5), |e| matches!(
            e,
            Event::Answered { .. }
        )),
        "baresip did not answer: {:?} sent {:?}",
        d.events,
        d.sent
    );
    d.run_for(Duration::from_millis(300));
    d.hang_up(call, Duration::from_secs(1));
    assert!(d.has(|e| is_ended_by(e, EndReason::LocalHangup)));
    let st = d.ua.stats();
    assert_eq!(st.transactions.timeouts, 0);
    assert_eq!(st.transactions.unmatched_responses, 0);
    // The BYE was answered at once: no retransmission.
    assert_eq!(d.sent_count("BYE"), 1, "{:?}", d.sent);
}

#[test]
fn baresip_calls_us() {
    if !have("baresip") {
        return;
    }
    let mut d = Driver::new(|_| {});
    let me = d.sock.local_addr().unwrap();
    let port = free_udp_port();
    let dial = format!("/dial sip:alice@{me}");
    let _b = baresip(port, &["-e", &dial]);
    let call = d.await_incoming_call("baresip");
    d.ring_and_answer(call, 41002);
    assert!(
        d.run_until_event(Duration::from_secs(3), |e| matches!(
            e,
            Event::Confirmed { .. }
        )),
        "no ACK: {:?} sent {:?}",
        d.events,
        d.sent
    );
    d.run_for(Duration::from_millis(300));
    d.hang_up(call, Duration::from_secs(1));
    let st = d.ua.stats();
    assert_eq!(st.transactions.timeouts, 0, "sent {:?}", d.sent);
    assert_eq!(d.sent_count("BYE"), 1, "{:?}", d.sent);
}

fn kamailio_proxy() -> Kamailio {
    Kamailio::start("voipkit-kamp", |port| {
        let mpath = kamailio_modules();
        format!(
            r#"#!KAMAILIO
debug=1
log_stderror=yes
children=1
listen=udp:127.0.0.1:{port}
alias="voipkit.test"
mpath="{mpath}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (is_method("REGISTER")) {{
        if (!pv_www_authenticate("voipkit.test", "s3cret", "0")) {{
            www_challenge("voipkit.test", "1");
            exit;
        }}
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    if (is_method("OPTIONS") && uri==myself && $rU==$null) {{ sl_send_reply("200", "OK"); exit; }}
    if (is_method("INVITE")) {{
        if (!pv_proxy_authenticate("voipkit.test", "s3cret", "0")) {{
            proxy_challenge("voipkit.test", "1");
            exit;
        }}
        consume_credentials();
    }}
    record_route();
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    t_relay();
}}
"#
        )
    })
}

/// Alice calls Bob through kamailio: both register (401), the INVITE is
/// challenged by the proxy (407), kamailio record-routes, the in-dialog
/// requests follow the route set.
#[test]
fn kamailio_proxied_call_with_407_and_record_route() {
    if !have("kamailio") {
        return;
    }
    let kam = kamailio_proxy();
    let proxy = kam.sip_addr();
    let mk = |user: &'static str| {
        Driver::new(|c| {
            c.user = user.into();
            c.identity = Some(format!("sip:{user}@voipkit.test").parse().unwrap());
            c.outbound_proxy = Some((Transport::Udp, proxy));
            c.credentials.push(Credentials::new(user, "s3cret"));
        })
    };
    let mut a = mk("alice");
    let mut b = mk("bob");
    assert!(wait_ready(&mut a, proxy), "kamailio did not come up");
    for (d, user) in [(&mut a, "alice"), (&mut b, "bob")] {
        let rc = RegistrationConfig::new(
            "sip:voipkit.test".parse().unwrap(),
            format!("sip:{user}@voipkit.test").parse().unwrap(),
        );
        d.ua.register(Instant::now(), rc).unwrap();
        assert!(d.run_until_event(Duration::from_secs(3), is_registered));
    }
    let call =
        a.ua.start_call(
            Instant::now(),
            "sip:bob@voipkit.test".parse().unwrap(),
            Some(pcmu_offer(41004)),
        )
        .unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    let mut answered = false;
    while Instant::now() < end && !a.has(|e| matches!(e, Event::Answered { .. })) {
        a.step();
        b.step();
        if !answered && let Some(c) = b.incoming_call() {
            b.ring_and_answer(c, 41006);
            answered = true;
        }
    }
    assert!(
        a.has(|e| matches!(e, Event::Answered { .. })),
        "a {:?}\nsent {:?}\nb {:?}",
        a.events,
        a.sent,
        b.sent
    );
    // Bob saw the Record-Route of kamailio in the INVITE.
    let invite = b
        .events
        .iter()
        .find_map(|e| match e {
            Event::IncomingCall(ic) => Some(ic.request.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        invite
            .headers
            .contains(&voipkit_sip::HeaderName::RecordRoute)
    );
    a.ua.hang_up(Instant::now(), call).unwrap();
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end && !b.has(|e| matches!(e, Event::Ended { .. })) {
        a.step();
        b.step();
    }
    assert!(b.has(|e| matches!(e, Event::Confirmed { .. })));
    assert!(b.has(|e| is_ended_by(e, EndReason::RemoteBye)));
    // INVITE, (407, ACK), INVITE with credentials.
    assert_eq!(a.sent_count("INVITE"), 2, "{:?}", a.sent);
}

/// SIPp's built-in `uac` scenario calls us: INVITE, we ring and answer,
/// it ACKs, pauses, sends BYE.
#[test]
fn sipp_uac_calls_us() {
    if !have("sipp") {
        return;
    }
    let mut d = Driver::new(|_| {});
    let me = d.sock.local_addr().unwrap();
    let port = free_udp_port();
    let mut sipp = Sipp::builtin("uac", port, &["-d", "200", &me.to_string()]);
    let call = d.await_incoming_call("SIPp");
    d.ring_and_answer(call, 41008);
    assert!(
        d.run_until_event(Duration::from_secs(5), |e| is_ended_by(
            e,
            EndReason::RemoteBye
        )),
        "{:?} sent {:?}",
        d.events,
        d.sent
    );
    assert!(d.has(|e| matches!(e, Event::Confirmed { .. })));
    let status = sipp.wait_exit(|| d.step());
    assert!(
        status.success(),
        "sipp exit {status:?}; we sent {:?}",
        d.sent
    );
}
