//! The registration client against a scripted registrar: digest
//! challenges (MD5, SHA-256, stale nonces, wrong passwords), refresh
//! timing, 423, un-REGISTER, RFC 8599 push parameters and rport learning;
//! and proxy authentication of INVITE and BYE.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use voipkit_netsim::{Harness, LinkConfig, NetSim};
use voipkit_sip::auth::{DigestAlgorithm, DigestInput, Qop, Secret, digest_response};
use voipkit_sip::{
    Credentials, Event, HeaderName, PushParams, RegistrationConfig, RegistrationFailure,
    RegistrationState, Request, SipMessage, Transport, UaConfig,
};

const REALM: &str = "voipkit.test";
const PASSWORD: &str = "s3cret-Pa55";

fn parse_auth(v: &str) -> HashMap<String, String> {
    let rest = v.trim().strip_prefix("Digest").unwrap().trim();
    let mut out = HashMap::new();
    let mut s = rest;
    while !s.is_empty() {
        let (k, after) = s.split_once('=').unwrap();
        let k = k.trim().trim_start_matches(',').trim().to_string();
        let (val, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap();
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.insert(k, val);
        s = next.trim_start_matches([',', ' ']);
    }
    out
}

/// Checks an Authorization value against the password.
fn verify(req: &Request, header: &HeaderName, password: &str) -> Option<HashMap<String, String>> {
    let v = req.headers.get(header)?;
    let p = parse_auth(v);
    let alg = DigestAlgorithm::parse(p.get("algorithm").map(String::as_str).unwrap_or("MD5"))?;
    let secret = Secret::Password(password.into());
    let nc = u32::from_str_radix(p.get("nc")?, 16).ok()?;
    let expect = digest_response(&DigestInput {
        algorithm: alg,
        username: p.get("username")?,
        secret: &secret,
        realm: p.get("realm")?,
        nonce: p.get("nonce")?,
        cnonce: p.get("cnonce")?,
        nc,
        qop: Some(Qop::Auth),
        method: req.method.as_str(),
        uri: p.get("uri")?,
        body: b"",
    });
    (p.get("response")? == &expect).then_some(p)
}

#[derive(Default)]
struct RegistrarState {
    nonce: u32,
    stale_next: bool,
    min_expires: Option<u32>,
    grant: u32,
    received: Option<(String, u16)>,
    log: Vec<Request>,
    sha256: bool,
}

fn registrar(epoch: std::time::Instant, st: Rc<RefCell<RegistrarState>>) -> Peer {
    Peer::on_requests(5080, epoch, move |from, req| {
        let mut st = st.borrow_mut();
        st.log.push(req.clone());
        let mut req = req.clone();
        // rport/received as a real registrar fills them in
        let mut via = req.top_via().unwrap();
        let (ip, port) = st
            .received
            .clone()
            .unwrap_or((from.ip().to_string(), from.port()));
        via.params.set("received", Some(&ip));
        via.params.set("rport", Some(&port.to_string()));
        req.headers.remove_first_item(&HeaderName::Via);
        req.headers.push_front(HeaderName::Via, via.to_string());

        let challenge = |st: &mut RegistrarState, stale: bool| {
            st.nonce += 1;
            let mut h = String::new();
            if st.sha256 {
                h.push_str(&format!(
                    "WWW-Authenticate: Digest realm=\"{REALM}\", nonce=\"nonce{}\", qop=\"auth\", algorithm=SHA-256{}\r\n",
                    st.nonce,
                    if stale { ", stale=true" } else { "" }
                ));
            }
            h.push_str(&format!(
                "WWW-Authenticate: Digest realm=\"{REALM}\", nonce=\"nonce{}\", qop=\"auth\", algorithm=MD5{}\r\n",
                st.nonce,
                if stale { ", stale=true" } else { "" }
            ));
            respond(&req, 401, Some("reg"), &h)
        };
        let Some(p) = verify(&req, &HeaderName::Authorization, PASSWORD) else {
            return vec![(from, challenge(&mut st, false))];
        };
        if p.get("nonce").unwrap() != &format!("nonce{}", st.nonce) {
            return vec![(from, challenge(&mut st, true))];
        }
        if st.stale_next {
            st.stale_next = false;
            return vec![(from, challenge(&mut st, true))];
        }
        let expires: u32 = req
            .u32_header(&HeaderName::Expires)
            .unwrap()
            .unwrap_or(3600);
        if let Some(min) = st.min_expires
            && expires != 0
            && expires < min
        {
            return vec![(
                from,
                respond(&req, 423, Some("reg"), &format!("Min-Expires: {min}\r\n")),
            )];
        }
        let contacts: Vec<String> = req
            .headers
            .get_all(&HeaderName::Contact)
            .map(|c| c.to_string())
            .collect();
        let granted = if expires == 0 {
            0
        } else {
            st.grant.min(expires)
        };
        let mut extra = String::new();
        for c in contacts {
            if c.contains("expires=0") || expires == 0 {
                continue;
            }
            extra.push_str(&format!("Contact: {c};expires={granted}\r\n"));
        }
        vec![(from, respond(&req, 200, Some("reg"), &extra))]
    })
}

fn alice(epoch: std::time::Instant, password: &str) -> Node {
    let mut cfg = UaConfig::new("alice", vec![(Transport::Udp, addr(5060))]);
    cfg.credentials.push(Credentials::new("alice", password));
    cfg.identity = Some(uri("sip:alice@voipkit.test"));
    Node::with_config("alice", cfg, epoch, 77)
}

fn reg_cfg() -> RegistrationConfig {
    let mut c = RegistrationConfig::new(uri("sip:127.0.0.1:5080"), uri("sip:alice@voipkit.test"));
    c.expires = 600;
    c
}

fn registered(n: &Node) -> Vec<(Duration, u32)> {
    n.events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Registration {
                state: RegistrationState::Registered { expires, .. },
                ..
            } => Some((*t, *expires)),
            _ => None,
        })
        .collect()
}

fn net() -> Harness {
    Harness::new(NetSim::new(
        1,
        LinkConfig::with_delay(Duration::from_millis(10)),
    ))
}

/// The network, a registrar in state `st` and Alice with `password`.
fn with_registrar(
    st: RegistrarState,
    password: &str,
) -> (Harness, Rc<RefCell<RegistrarState>>, Peer, Node) {
    let h = net();
    let epoch = h.now();
    let st = Rc::new(RefCell::new(st));
    let r = registrar(epoch, st.clone());
    let a = alice(epoch, password);
    (h, st, r, a)
}

#[test]
fn register_through_md5_challenge_and_refresh() {
    let (mut h, st, mut r, mut a) = with_registrar(
        RegistrarState {
            grant: 60,
            ..Default::default()
        },
        PASSWORD,
    );
    a.ua.register(h.now(), reg_cfg()).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(130));
    let regs = registered(&a);
    // Registered at 40 ms (two round trips), refreshed at 54 s and 108 s
    // (min(90 %, expires - 5 s) of the 60 s granted).
    assert_eq!(regs.len(), 3, "{regs:?}");
    assert_eq!(regs[0], (Duration::from_millis(40), 60));
    assert_eq!(regs[1].0, Duration::from_millis(54_060));
    assert_eq!(regs[2].0, Duration::from_millis(108_080));
    // One Registering for the attempt (not one per challenge answer or
    // refresh), then one Registered per successful REGISTER.
    let kinds: Vec<&str> = a
        .events
        .iter()
        .map(|(_, e)| match e {
            Event::Registration {
                state: RegistrationState::Registering,
                ..
            } => "registering",
            Event::Registration {
                state: RegistrationState::Registered { .. },
                ..
            } => "registered",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["registering", "registered", "registered", "registered"]
    );
    let st = st.borrow();
    // First REGISTER unauthenticated, then one answer per REGISTER with
    // the nonce count counting up (credentials cached for the realm).
    assert_eq!(st.log.len(), 4);
    assert!(!st.log[0].headers.contains(&HeaderName::Authorization));
    let ncs: Vec<String> = st.log[1..]
        .iter()
        .map(|r| parse_auth(r.headers.get(&HeaderName::Authorization).unwrap())["nc"].clone())
        .collect();
    assert_eq!(ncs, vec!["00000001", "00000002", "00000003"]);
    // Same Call-ID, CSeq growing.
    let call_ids: Vec<String> = st
        .log
        .iter()
        .map(|r| r.call_id().unwrap().to_string())
        .collect();
    assert!(call_ids.iter().all(|c| c == &call_ids[0]));
    let cseqs: Vec<u32> = st.log.iter().map(|r| r.cseq().unwrap().seq).collect();
    assert_eq!(cseqs, vec![1, 2, 3, 4]);
    // rport asked for in every Via.
    assert!(
        st.log
            .iter()
            .all(|r| r.top_via().unwrap().params.contains("rport"))
    );
}

#[test]
fn sha256_preferred_and_stale_nonce_is_not_a_failure() {
    let (mut h, st, mut r, mut a) = with_registrar(
        RegistrarState {
            grant: 60,
            sha256: true,
            ..Default::default()
        },
        PASSWORD,
    );
    a.ua.register(h.now(), reg_cfg()).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(1));
    st.borrow_mut().stale_next = true;
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(60));
    assert_eq!(registered(&a).len(), 2);
    assert_eq!(
        a.count(|e| matches!(
            e,
            Event::Registration {
                state: RegistrationState::Failed { .. },
                ..
            }
        )),
        0
    );
    let st = st.borrow();
    let auth = st.log[1]
        .headers
        .get(&HeaderName::Authorization)
        .unwrap()
        .to_string();
    assert!(auth.contains("algorithm=SHA-256"), "{auth}");
    // refresh (stale), retry with the new nonce, nc starting over at 1
    assert_eq!(st.log.len(), 4);
    let last = parse_auth(st.log[3].headers.get(&HeaderName::Authorization).unwrap());
    assert_eq!(last["nonce"], "nonce2");
    assert_eq!(last["nc"], "00000001");
}

#[test]
fn wrong_password_backs_off_for_minutes() {
    let (mut h, st, mut r, mut a) = with_registrar(
        RegistrarState {
            grant: 60,
            ..Default::default()
        },
        "wrong",
    );
    a.ua.register(h.now(), reg_cfg()).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(20 * 60));
    let fails: Vec<(Duration, RegistrationFailure, Duration)> = a
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Registration {
                state: RegistrationState::Failed { failure, retry_in },
                ..
            } => Some((*t, failure.clone(), *retry_in)),
            _ => None,
        })
        .collect();
    assert!(!fails.is_empty());
    assert!(
        fails
            .iter()
            .all(|(_, f, r)| *f == RegistrationFailure::AuthenticationFailed
                && *r == Duration::from_secs(300))
    );
    // Four tries in 20 minutes (at 0, 5, 10, 15 min), two REGISTERs each.
    assert_eq!(fails.len(), 4, "{fails:?}");
    assert_eq!(st.borrow().log.len(), 8);
    assert!(registered(&a).is_empty());
}

#[test]
fn interval_too_brief_retries_with_min_expires() {
    let (mut h, st, mut r, mut a) = with_registrar(
        RegistrarState {
            grant: 3600,
            min_expires: Some(1800),
            ..Default::default()
        },
        PASSWORD,
    );
    a.ua.register(h.now(), reg_cfg()).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(5));
    assert_eq!(registered(&a).last().map(|r| r.1), Some(1800));
    let st = st.borrow();
    let last = st.log.last().unwrap();
    assert_eq!(last.u32_header(&HeaderName::Expires).unwrap(), Some(1800));
}

#[test]
fn push_params_instance_and_unregister() {
    let (mut h, st, mut r, mut a) = with_registrar(
        RegistrarState {
            grant: 600,
            ..Default::default()
        },
        PASSWORD,
    );
    let mut cfg = reg_cfg();
    cfg.push = Some(PushParams {
        provider: "apns".into(),
        prid: "0123abcd".into(),
        param: Some("TEAM.com.example.voip".into()),
    });
    cfg.instance_id = Some("urn:uuid:00000000-0000-1000-8000-000A95A0E128".into());
    cfg.reg_id = Some(1);
    let reg = a.ua.register(h.now(), cfg).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(5));
    a.ua.unregister(h.now(), reg).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(5));
    assert!(
        a.find(|e| matches!(
            e,
            Event::Registration {
                state: RegistrationState::Unregistered,
                ..
            }
        ))
        .is_some()
    );
    assert!(!a.ua.has_registration(reg));
    let st = st.borrow();
    let first = st.log[1]
        .headers
        .get(&HeaderName::Contact)
        .unwrap()
        .to_string();
    assert!(first.contains("pn-provider=apns"), "{first}");
    assert!(first.contains("pn-prid=0123abcd"), "{first}");
    assert!(first.contains("pn-param=TEAM.com.example.voip"), "{first}");
    assert!(
        first.contains("+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""),
        "{first}"
    );
    assert!(first.contains("reg-id=1"), "{first}");
    let last = st.log.last().unwrap();
    assert_eq!(last.u32_header(&HeaderName::Expires).unwrap(), Some(0));
    let c = last.headers.get(&HeaderName::Contact).unwrap().to_string();
    assert!(
        c.contains("pn-provider=apns") && !c.contains("pn-prid"),
        "{c}"
    );
}

#[test]
fn rport_learned_address_goes_into_contact() {
    // The registrar sees us at another address (a NAT): text only.
    let (mut h, st, mut r, mut a) = with_registrar(
        RegistrarState {
            grant: 600,
            received: Some(("127.0.0.5".into(), 40000)),
            ..Default::default()
        },
        PASSWORD,
    );
    a.ua.register(h.now(), reg_cfg()).unwrap();
    run_pair(&mut h, &mut a, &mut r, Duration::from_secs(5));
    assert_eq!(
        a.ua.learned_address(Transport::Udp),
        Some("127.0.0.5:40000".parse().unwrap())
    );
    let st = st.borrow();
    let last = st.log.last().unwrap();
    let contacts: Vec<String> = last
        .headers
        .get_all(&HeaderName::Contact)
        .map(|c| c.to_string())
        .collect();
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert!(contacts[0].contains("127.0.0.5:40000"));
    assert!(contacts[1].contains("127.0.0.1:5060") && contacts[1].contains("expires=0"));
    let regs = registered(&a);
    assert_eq!(
        regs.len(),
        1,
        "one Registered, after the re-REGISTER: {regs:?}"
    );
}

#[test]
fn proxy_auth_for_invite_and_bye_with_cached_credentials() {
    let mut h = net();
    let epoch = h.now();
    let log: Rc<RefCell<Vec<Request>>> = Rc::default();
    let l2 = log.clone();
    let mut proxy = Peer::on_requests(5080, epoch, move |from, req| {
        l2.borrow_mut().push(req.clone());
        if req.method == voipkit_sip::Method::Ack {
            return vec![];
        }
        if verify(req, &HeaderName::ProxyAuthorization, PASSWORD).is_none() {
            return vec![(
                from,
                respond(
                    req,
                    407,
                    Some("px"),
                    &format!(
                        "Proxy-Authenticate: Digest realm=\"{REALM}\", nonce=\"pn1\", qop=\"auth\"\r\n"
                    ),
                ),
            )];
        }
        vec![(
            from,
            respond(
                req,
                200,
                Some("px"),
                "Contact: <sip:callee@127.0.0.1:5080>\r\nContent-Type: application/sdp\r\n",
            ),
        )]
    });
    let mut a = alice(epoch, PASSWORD);
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5080", Some("a"));
    run_pair(&mut h, &mut a, &mut proxy, Duration::from_secs(2));
    assert!(a.has(|e| matches!(e, Event::Answered { .. })));
    a.ua.hang_up(h.now(), call).unwrap();
    run_pair(&mut h, &mut a, &mut proxy, Duration::from_secs(2));
    let log = log.borrow();
    let lines: Vec<String> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.cseq().unwrap().seq))
        .collect();
    // INVITE 1 -> 407, ACK 1, INVITE 2 (with credentials) -> 200, ACK 2, BYE 3
    // (carrying credentials pre-emptively, accepted at once).
    assert_eq!(
        lines,
        vec!["INVITE 1", "ACK 1", "INVITE 2", "ACK 2", "BYE 3"]
    );
    assert!(log[2].headers.contains(&HeaderName::ProxyAuthorization));
    assert_eq!(log[0].call_id().unwrap(), log[2].call_id().unwrap());
    let bye_auth = parse_auth(log[4].headers.get(&HeaderName::ProxyAuthorization).unwrap());
    assert_eq!(bye_auth["nc"], "00000002");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let epoch = std::time::Instant::now();
    let a = alice(epoch, PASSWORD);
    let dbg = format!("{:?} {:?}", a.ua, a.ua.config());
    assert!(!dbg.contains(PASSWORD), "{dbg}");
    assert!(dbg.contains("<redacted>"));
    let c = Credentials {
        username: "alice".into(),
        secret: Secret::Ha1 {
            algorithm: DigestAlgorithm::Md5,
            ha1: "939e7578ed9e3c518a452acee763bce9".into(),
        },
        realm: Some(REALM.into()),
    };
    assert!(!format!("{c:?}").contains("939e7578"));
}
