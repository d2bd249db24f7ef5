//! Forking, re-INVITE glare, 100rel/PRACK, session timers and REFER over
//! the emulated network.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use voipkit_netsim::{Endpoint, Harness, LinkConfig, NetSim};
use voipkit_sip::message::Message;
use voipkit_sip::{
    CallHandle, EndReason, Event, HeaderName, Method, SessionTimerConfig, SipMessage, StatusCode,
    Transport, UaConfig, Uri,
};

fn net(seed: u64, loss: f64) -> Harness {
    Harness::new(NetSim::new(
        seed,
        LinkConfig::with_delay(Duration::from_millis(20)).loss(loss),
    ))
}

// ---------------------------------------------------------------------
// Forking

/// A minimal stateless forking proxy at 127.0.0.1:5090: initial INVITEs
/// go to every target (with Record-Route), requests with a Route to us go
/// to their Request-URI, responses go back along the Via.
fn forking_proxy(epoch: Instant, targets: Vec<SocketAddr>) -> Peer {
    let me = addr(5090);
    Peer::new(5090, epoch, move |_, _, m| match m.clone() {
        Message::Request(mut req) => {
            let branch = req.top_via().unwrap().branch().unwrap().to_string();
            let routed = req
                .name_addrs(&HeaderName::Route)
                .unwrap()
                .first()
                .is_some_and(|r| hostport(&r.uri) == me);
            if routed {
                req.headers.remove_first_item(&HeaderName::Route);
                req.headers.push_front(
                    HeaderName::Via,
                    format!("SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKrt{branch}"),
                );
                return vec![(hostport(req.uri()), req.to_bytes())];
            }
            targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let mut r = req.clone();
                    r.set_uri(format!("sip:bob@{t}").parse::<voipkit_sip::Uri>().unwrap());
                    r.headers
                        .push_front(HeaderName::RecordRoute, "<sip:127.0.0.1:5090;lr>");
                    r.headers.push_front(
                        HeaderName::Via,
                        format!("SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKf{i}{branch}"),
                    );
                    (*t, r.to_bytes())
                })
                .collect()
        }
        Message::Response(mut resp) => {
            resp.headers.remove_first_item(&HeaderName::Via);
            let via = resp.top_via().unwrap();
            let to = SocketAddr::new(
                via.received().unwrap_or(via.host.ip().unwrap()),
                via.rport().flatten().unwrap_or(via.port.unwrap_or(5060)),
            );
            vec![(to, resp.to_bytes())]
        }
    })
}

fn hostport(u: &Uri) -> SocketAddr {
    let s = u.as_sip().unwrap();
    SocketAddr::new(s.host.ip().unwrap(), s.port.unwrap_or(5060))
}

#[test]
fn forking_two_180s_two_200s_first_wins_second_is_acked_and_byed() {
    let mut h = net(1, 0.0);
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut b1 = Node::new("bob1", 5062, epoch, 2);
    let mut b2 = Node::new("bob2", 5064, epoch, 3);
    for b in [&mut b1, &mut b2] {
        b.ring_calls();
    }
    let mut proxy = forking_proxy(epoch, vec![addr(5062), addr(5064)]);
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5090", Some("alice"));
    macro_rules! run {
        ($d:expr) => {
            h.run_for(
                &mut [&mut a as &mut dyn Endpoint, &mut b1, &mut b2, &mut proxy],
                $d,
            )
        };
    }
    run!(Duration::from_secs(1));
    // Two early dialogs.
    let early: Vec<_> = a
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Provisional {
                    early_dialog: true,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(early.len(), 2);
    let (c1, c2) = (b1.incoming_call(), b2.incoming_call());
    b1.ua.answer(h.now(), c1, Some(sdp("bob1"))).unwrap();
    run!(Duration::from_millis(500));
    b2.ua.answer(h.now(), c2, Some(sdp("bob2"))).unwrap();
    run!(Duration::from_secs(40));
    assert_eq!(a.count(|e| matches!(e, Event::Answered { .. })), 1);
    let answered = a.find(|e| matches!(e, Event::Answered { .. })).unwrap();
    match &answered.1 {
        Event::Answered { sdp: Some(s), .. } => {
            assert!(String::from_utf8_lossy(s).contains("bob1"))
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(a.sent_count("ACK"), 2, "both 2xx ACKed");
    assert_eq!(a.sent_count("BYE"), 1, "the losing fork gets BYE");
    assert!(b2.ended_by(EndReason::RemoteBye));
    assert!(b1.has(|e| matches!(e, Event::Confirmed { .. })));
    assert!(!b1.ended());
    // The winning call goes on, through the proxy (Record-Route).
    a.ua.hang_up(h.now(), call).unwrap();
    run!(Duration::from_secs(40));
    assert!(b1.ended_by(EndReason::RemoteBye));
    assert_eq!(
        b1.received
            .iter()
            .filter(|(_, l)| l.starts_with("BYE"))
            .count(),
        1
    );
}

// ---------------------------------------------------------------------
// Glare

fn answering(n: &mut Node) {
    n.on_event(|ua, now, ev| match ev {
        Event::IncomingCall(ic) => ua.answer(now, ic.call, Some(sdp("answer"))).unwrap(),
        Event::OfferReceived { call, .. } => ua.answer_offer(now, *call, sdp("answer2")).unwrap(),
        _ => {}
    });
}

/// Alice (seed `seed`) and Bob (`seed + 1`), both `answering`, a second
/// into a call from Alice on a network seeded `net_seed`; with Alice's and
/// Bob's handles of the call.
fn answering_pair(net_seed: u64, seed: u64) -> (Harness, Node, Node, CallHandle, CallHandle) {
    let mut h = net(net_seed, 0.0);
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, seed);
    let mut b = Node::new("bob", 5062, epoch, seed + 1);
    answering(&mut a);
    answering(&mut b);
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("a"));
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(1));
    let bcall = b.incoming_call();
    (h, a, b, call, bcall)
}

#[test]
fn reinvite_glare_491_and_rfc_retry_timing() {
    for seed in 1..6 {
        let (mut h, mut a, mut b, call, bcall) = answering_pair(seed, seed * 10);
        // Both offer at the same instant.
        a.ua.reinvite(h.now(), call, sdp("a-hold")).unwrap();
        b.ua.reinvite(h.now(), bcall, sdp("b-hold")).unwrap();
        run_pair(&mut h, &mut a, &mut b, Duration::from_secs(30));
        let got491 = |n: &Node| {
            n.received
                .iter()
                .find(|(_, l)| l.starts_with("SIP/2.0 491"))
                .unwrap()
                .0
        };
        // Alice owns the Call-ID (she sent the INVITE): 2.1-4 s; Bob 0-2 s.
        let a_retry = a.sent_times("INVITE")[2] - got491(&a);
        let b_retry = b.sent_times("INVITE")[1] - got491(&b);
        assert!(a_retry >= s(2.1) && a_retry <= s(4.0), "{a_retry:?}");
        assert!(b_retry <= s(2.0), "{b_retry:?}");
        // In the end both offers went through.
        assert_eq!(
            a.count(|e| matches!(e, Event::AnswerReceived { .. })),
            1,
            "seed {seed}"
        );
        assert_eq!(
            b.count(|e| matches!(e, Event::AnswerReceived { .. })),
            1,
            "seed {seed}"
        );
        assert_eq!(a.count(|e| matches!(e, Event::OfferReceived { .. })), 1);
        assert_eq!(b.count(|e| matches!(e, Event::OfferReceived { .. })), 1);
    }
}

#[test]
fn update_glare_and_update_offer() {
    let (mut h, mut a, mut b, call, bcall) = answering_pair(3, 5);
    a.ua.update(h.now(), call, sdp("a2")).unwrap();
    b.ua.update(h.now(), bcall, sdp("b2")).unwrap();
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(30));
    assert!(a.received.iter().any(|(_, l)| l.starts_with("SIP/2.0 491")));
    assert_eq!(a.count(|e| matches!(e, Event::AnswerReceived { .. })), 1);
    assert_eq!(b.count(|e| matches!(e, Event::AnswerReceived { .. })), 1);
    assert!(
        a.find(|e| matches!(
            e,
            Event::OfferReceived {
                method: Method::Update,
                ..
            }
        ))
        .is_some()
    );
}

// ---------------------------------------------------------------------
// 100rel / PRACK

/// Sends a reliable 183 with `sdp("early")`.
fn send_reliable_183(ua: &mut voipkit_sip::UserAgent, now: Instant, call: CallHandle) {
    ua.send_provisional(
        now,
        call,
        StatusCode::SESSION_PROGRESS,
        Some(sdp("early")),
        true,
    )
    .unwrap();
}

#[test]
fn reliable_183_prack_then_answer() {
    for (seed, loss) in [(1u64, 0.0), (2, 0.3), (3, 0.3), (4, 0.3), (5, 0.3)] {
        let mut h = net(seed, loss);
        let epoch = h.now();
        let mut a = Node::new("alice", 5060, epoch, seed);
        let mut b = Node::new("bob", 5062, epoch, seed + 100);
        b.on_incoming_call(|ua, now, ic| {
            send_reliable_183(ua, now, ic.call);
            // A second reliable one waits for the first PRACK.
            ua.send_provisional(now, ic.call, StatusCode::RINGING, None, true)
                .unwrap();
        });
        let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
        run_pair(&mut h, &mut a, &mut b, Duration::from_secs(20));
        let prov: Vec<(StatusCode, bool, bool)> = a
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Provisional {
                    status,
                    reliable,
                    sdp,
                    ..
                } => Some((*status, *reliable, sdp.is_some())),
                _ => None,
            })
            .collect();
        assert_eq!(
            prov,
            vec![
                (StatusCode::SESSION_PROGRESS, true, true),
                (StatusCode::RINGING, true, false)
            ],
            "seed {seed}: each reliable provisional reported once, in order"
        );
        // The PRACKs carried RAck for RSeq 1 and 2.
        let racks: Vec<String> = a
            .sent
            .iter()
            .filter(|(_, l, _)| l.starts_with("PRACK"))
            .map(|(_, _, b)| {
                let m = voipkit_sip::Request::parse(b.clone()).unwrap();
                m.headers.get(&HeaderName::RAck).unwrap().to_string()
            })
            .collect();
        assert!(
            racks.contains(&"1 1 INVITE".to_string()) && racks.contains(&"2 1 INVITE".to_string()),
            "{racks:?}"
        );
        if loss == 0.0 {
            assert_eq!(
                b.sent_count("SIP/2.0 183"),
                1,
                "no retransmission once PRACKed"
            );
        }
        let bcall = b.incoming_call();
        b.ua.answer(h.now(), bcall, Some(sdp("bob"))).unwrap();
        run_pair(&mut h, &mut a, &mut b, Duration::from_secs(40));
        assert!(
            a.has(|e| matches!(e, Event::Answered { .. })),
            "seed {seed}"
        );
        let _ = call;
    }
}

#[test]
fn unacknowledged_reliable_provisional_is_retransmitted_then_fails_with_5xx() {
    let mut h = net(1, 0.0);
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    b.on_incoming_call(|ua, now, ic| {
        ua.send_provisional(now, ic.call, StatusCode::RINGING, None, true)
            .unwrap();
    });
    // A caller that supports 100rel but never PRACKs.
    let mut p = Peer::silent(5070, epoch);
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKr1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: rel@p\r\nCSeq: 1 INVITE\r\nSupported: 100rel\r\nContact: <sip:p@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    p.send(b.addr, invite.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_secs(40));
    let t: Vec<f64> = b
        .sent_times("SIP/2.0 180")
        .iter()
        .map(|d| ((d.as_secs_f64() - 0.02) * 1000.0).round() / 1000.0)
        .collect();
    assert_eq!(t, vec![0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
    assert!(b.sent_count("SIP/2.0 500") >= 1);
    assert!(b.ended_by(EndReason::Timeout));
}

// ---------------------------------------------------------------------
// Session timers

fn st_node(
    name: &'static str,
    port: u16,
    epoch: Instant,
    seed: u64,
    min_se: u32,
    expires: u32,
) -> Node {
    let mut cfg = UaConfig::new(name, vec![(Transport::Udp, addr(port))]);
    cfg.session_timer = Some(SessionTimerConfig { expires, min_se });
    Node::with_config(name, cfg, epoch, seed)
}

#[test]
fn session_timer_refresh_by_update_then_expiry() {
    let mut h = net(1, 0.0);
    let epoch = h.now();
    let mut a = st_node("alice", 5060, epoch, 1, 90, 90);
    let mut b = st_node("bob", 5062, epoch, 2, 90, 90);
    answering(&mut b);
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("a"));
    run_pair(&mut h, &mut a, &mut b, Duration::from_millis(200));
    let ok = b
        .sent
        .iter()
        .find(|(_, l, _)| l.starts_with("SIP/2.0 200"))
        .unwrap();
    let text = String::from_utf8_lossy(&ok.2);
    assert!(text.contains("Session-Expires: 90;refresher=uac"), "{text}");
    assert!(text.contains("Require: timer"), "{text}");
    // Alice (uac) refreshes every 45 s with UPDATE.
    run_pair(&mut h, &mut a, &mut b, Duration::from_millis(200_000 - 200));
    let ups: Vec<f64> = a
        .sent_times("UPDATE")
        .iter()
        .map(|d| d.as_secs_f64().round())
        .collect();
    assert_eq!(ups, vec![45.0, 90.0, 135.0, 180.0]);
    assert!(!b.ended());
    assert_eq!(
        a.count(|e| matches!(e, Event::AnswerReceived { .. })),
        0,
        "refreshes are silent"
    );
    // Cut alice off: her next refresh is lost, bob ends the session at
    // last refresh + 90 - min(32, 90/3) = 180 + 60 s.
    h.net
        .set_link(a.addr, b.addr, LinkConfig::default().loss(1.0));
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(100));
    let (t, _) = b
        .find(|e| {
            matches!(
                e,
                Event::Ended {
                    reason: EndReason::SessionTimerExpired,
                    ..
                }
            )
        })
        .unwrap();
    let last_refresh = b
        .received
        .iter()
        .rfind(|(_, l)| l.starts_with("UPDATE"))
        .unwrap()
        .0;
    assert_eq!(
        *t - last_refresh,
        Duration::from_secs(60),
        "{t:?} {last_refresh:?}"
    );
    // One BYE transaction (retransmitted: alice's answers can't get through).
    let byes: std::collections::HashSet<&Vec<u8>> = b
        .sent
        .iter()
        .filter(|(_, l, _)| l.starts_with("BYE"))
        .map(|(_, _, x)| x)
        .collect();
    assert_eq!(byes.len(), 1);
    assert!(a.ended());
}

#[test]
fn session_interval_too_small_422_retry() {
    let mut h = net(1, 0.0);
    let epoch = h.now();
    let mut a = st_node("alice", 5060, epoch, 1, 90, 90);
    let mut b = st_node("bob", 5062, epoch, 2, 300, 1800);
    answering(&mut b);
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("a"));
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(2));
    assert_eq!(b.sent_count("SIP/2.0 422"), 1);
    let invites: Vec<String> = a
        .sent
        .iter()
        .filter(|(_, l, _)| l.starts_with("INVITE"))
        .map(|(_, _, b)| String::from_utf8_lossy(b).to_string())
        .collect();
    assert_eq!(invites.len(), 2);
    assert!(invites[1].contains("Session-Expires: 300") && invites[1].contains("Min-SE: 300"));
    assert!(invites[1].contains("CSeq: 2 INVITE"));
    assert!(a.has(|e| matches!(e, Event::Answered { .. })));
    assert_eq!(b.count(|e| matches!(e, Event::IncomingCall(_))), 1);
}

#[test]
fn uas_refreshes_with_reinvite_when_peer_has_no_update() {
    // The caller asks the callee to refresh and does not allow UPDATE:
    // the callee refreshes with re-INVITEs carrying its current SDP.
    let mut h = net(1, 0.0);
    let epoch = h.now();
    let mut b = st_node("bob", 5062, epoch, 2, 90, 1800);
    answering(&mut b);
    let mut p = Peer::new(5070, epoch, |_, from, m| match m {
        Message::Response(r)
            if r.status.as_u16() == 200 && r.cseq().unwrap().method == Method::Invite =>
        {
            let to = r.headers.get(&HeaderName::To).unwrap();
            let ack = format!(
                "ACK sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: {to}\r\nCall-ID: st@p\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            );
            vec![(from, ack.into_bytes())]
        }
        Message::Request(r) if r.method == Method::Invite => {
            vec![(
                from,
                respond(
                    r,
                    200,
                    None,
                    "Contact: <sip:p@127.0.0.1:5070>\r\nSession-Expires: 90;refresher=uac\r\nContent-Type: application/sdp\r\n",
                ),
            )]
        }
        _ => vec![],
    });
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKst1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: st@p\r\nCSeq: 1 INVITE\r\nAllow: INVITE, ACK, BYE, CANCEL\r\nSupported: timer\r\nSession-Expires: 90;refresher=uas\r\nContact: <sip:p@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n";
    p.send(b.addr, invite.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_secs(100));
    let reinv: Vec<f64> = b
        .sent_times("INVITE")
        .iter()
        .map(|d| d.as_secs_f64().round())
        .collect();
    assert_eq!(reinv, vec![45.0, 90.0]);
    let last = b
        .sent
        .iter()
        .rfind(|(_, l, _)| l.starts_with("INVITE"))
        .unwrap();
    let text = String::from_utf8_lossy(&last.2);
    assert!(
        text.contains("answer") && text.contains("Session-Expires: 90;refresher=uac"),
        "{text}"
    );
    assert_eq!(b.sent_count("UPDATE"), 0);
    assert!(!b.ended());
}

// ---------------------------------------------------------------------
// REFER

#[test]
fn blind_transfer_with_notify_progress() {
    let mut h = net(1, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    let mut c = Node::new("carol", 5064, h.now(), 3);
    c.on_incoming_call(|ua, now, ic| {
        ua.ringing(now, ic.call).unwrap();
        ua.answer(now, ic.call, Some(sdp("carol"))).unwrap();
    });
    // Bob: answers alice, and on REFER places the new call and reports
    // its progress back.
    let transfers: Rc<RefCell<HashMap<CallHandle, CallHandle>>> = Rc::default();
    let tr = transfers.clone();
    b.on_event(move |ua, now, ev| match ev {
        Event::IncomingCall(ic) => ua.answer(now, ic.call, Some(sdp("bob"))).unwrap(),
        Event::TransferRequested { call, refer_to, .. } => {
            ua.accept_transfer(now, *call).unwrap();
            let new = ua
                .start_call(now, refer_to.uri.clone(), Some(sdp("bob2")))
                .unwrap();
            tr.borrow_mut().insert(new, *call);
        }
        Event::Provisional { call, status, .. } => {
            if let Some(orig) = tr.borrow().get(call) {
                ua.notify_transfer(now, *orig, *status).unwrap();
            }
        }
        Event::Answered { call, .. } => {
            if let Some(orig) = tr.borrow().get(call) {
                ua.notify_transfer(now, *orig, StatusCode::OK).unwrap();
            }
        }
        _ => {}
    });
    // Alice hangs up once the transfer succeeded.
    a.on_event(|ua, now, ev| {
        if let Event::TransferProgress {
            call,
            status,
            done: true,
        } = ev
            && *status == StatusCode::OK
        {
            ua.hang_up(now, *call).unwrap();
        }
    });
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("a"));
    h.run_for(
        &mut [&mut a as &mut dyn Endpoint, &mut b, &mut c],
        Duration::from_secs(1),
    );
    a.ua.transfer(h.now(), call, uri("sip:carol@127.0.0.1:5064"))
        .unwrap();
    h.run_for(
        &mut [&mut a as &mut dyn Endpoint, &mut b, &mut c],
        Duration::from_secs(60),
    );
    let progress: Vec<(u16, bool)> = a
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::TransferProgress { status, done, .. } => Some((status.as_u16(), *done)),
            _ => None,
        })
        .collect();
    assert_eq!(
        progress,
        vec![(202, false), (100, false), (180, false), (200, true)]
    );
    let refer = b
        .received
        .iter()
        .find(|(_, l)| l.starts_with("REFER"))
        .is_some();
    assert!(refer);
    let notifies: Vec<String> = b
        .sent
        .iter()
        .filter(|(_, l, _)| l.starts_with("NOTIFY"))
        .map(|(_, _, x)| String::from_utf8_lossy(x).to_string())
        .collect();
    assert_eq!(notifies.len(), 3);
    assert!(
        notifies
            .iter()
            .all(|n| n.contains("Event: refer") && n.contains("Content-Type: message/sipfrag"))
    );
    assert!(notifies[0].ends_with("SIP/2.0 100 Trying\r\n"));
    assert!(
        notifies[2].ends_with("SIP/2.0 200 OK\r\n")
            && notifies[2].contains("Subscription-State: terminated")
    );
    // Alice hung up on bob; bob and carol talk.
    assert!(b.ended_by(EndReason::RemoteBye));
    assert!(c.has(|e| matches!(e, Event::Confirmed { .. })));
    assert!(!c.ended());
}

#[test]
fn refer_rejected() {
    let mut h = net(1, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_event(|ua, now, ev| match ev {
        Event::IncomingCall(ic) => ua.answer(now, ic.call, Some(sdp("bob"))).unwrap(),
        Event::TransferRequested { call, .. } => {
            ua.reject_transfer(now, *call, StatusCode::DECLINE).unwrap()
        }
        _ => {}
    });
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("a"));
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(1));
    a.ua.transfer(h.now(), call, uri("sip:carol@127.0.0.1:5064"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(2));
    assert!(a.find(|e| matches!(e, Event::TransferProgress { status, done: true, .. } if status.as_u16() == 603)).is_some());
}

#[test]
fn answer_waits_for_prack_of_reliable_1xx_with_sdp() {
    let mut h = net(1, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_incoming_call(|ua, now, ic| {
        send_reliable_183(ua, now, ic.call);
        // Answered at once: the 200 must wait for the PRACK (RFC 3262 §3).
        ua.answer(now, ic.call, Some(sdp("bob"))).unwrap();
        assert!(ua.answer(now, ic.call, Some(sdp("bob"))).is_err());
    });
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run_pair(&mut h, &mut a, &mut b, Duration::from_secs(5));
    let prack_in = b
        .received
        .iter()
        .find(|(_, l)| l.starts_with("PRACK"))
        .unwrap()
        .0;
    let ok_out: Vec<Duration> = b
        .sent
        .iter()
        .filter(|(_, l, x)| {
            l.starts_with("SIP/2.0 200") && String::from_utf8_lossy(x).contains("CSeq: 1 INVITE")
        })
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(ok_out.len(), 1);
    assert!(ok_out[0] >= prack_in);
    assert!(a.has(|e| matches!(e, Event::Answered { .. })));
    assert!(b.has(|e| matches!(e, Event::Confirmed { .. })));
}
