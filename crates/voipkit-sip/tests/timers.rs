//! Each RFC 3261 / RFC 6026 transaction timer fires at the RFC's time
//! (T1 = 500 ms, T2 = 4 s, T4 = 5 s), against scripted peers on the
//! emulated network (zero delay, so send and receive times coincide).

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use voipkit_netsim::{Harness, LinkConfig, NetSim};
use voipkit_sip::message::Message;
use voipkit_sip::{EndReason, Event, StatusCode, TimerConfig, Transport, UaConfig};

fn harness() -> Harness {
    Harness::new(NetSim::new(1, LinkConfig::default()))
}

fn secs(v: &[Duration]) -> Vec<f64> {
    v.iter()
        .map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0)
        .collect()
}

#[test]
fn timer_a_doubles_and_b_fires_at_64_t1() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = Peer::silent(5070, epoch);
    a.call(h.now(), "sip:x@127.0.0.1:5070", Some("a"));
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(100));
    assert_eq!(
        secs(&p.times("INVITE")),
        vec![0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    );
    let (t, _) = a
        .find(|e| {
            matches!(
                e,
                Event::Ended {
                    reason: EndReason::Timeout,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(*t, s(32.0));
}

#[test]
fn timers_follow_configured_t1() {
    let mut h = harness();
    let epoch = h.now();
    let mut cfg = UaConfig::new("alice", vec![(Transport::Udp, addr(5060))]);
    cfg.timers = TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        ..TimerConfig::default()
    };
    let mut a = Node::with_config("alice", cfg, epoch, 1);
    let mut p = Peer::silent(5070, epoch);
    a.ua.send_options(h.now(), uri("sip:x@127.0.0.1:5070"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(100));
    // E: 100, 200, 400 (T2), 400, ...; F at 64*T1 = 6.4 s.
    let t = secs(&p.times("OPTIONS"));
    assert_eq!(&t[..5], &[0.0, 0.1, 0.3, 0.7, 1.1]);
    assert_eq!(*t.last().unwrap(), 6.3);
    let (t, _) = a
        .find(|e| matches!(e, Event::OptionsResponse { status: None, .. }))
        .unwrap();
    assert_eq!(*t, s(6.4));
}

#[test]
fn timer_e_caps_at_t2_and_f_fires_at_64_t1() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = Peer::silent(5070, epoch);
    a.ua.send_options(h.now(), uri("sip:x@127.0.0.1:5070"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(100));
    assert_eq!(
        secs(&p.times("OPTIONS")),
        vec![0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    let (t, _) = a
        .find(|e| matches!(e, Event::OptionsResponse { status: None, .. }))
        .unwrap();
    assert_eq!(*t, s(32.0));
}

#[test]
fn timer_e_in_proceeding_is_t2() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut first = true;
    let mut p = Peer::on_requests(5070, epoch, move |from, r| {
        if first {
            first = false;
            vec![(from, respond(r, 100, None, ""))]
        } else {
            vec![]
        }
    });
    a.ua.send_options(h.now(), uri("sip:x@127.0.0.1:5070"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(100));
    assert_eq!(
        secs(&p.times("OPTIONS")),
        vec![0.0, 0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
    );
}

/// A callee that answers every INVITE with `code` (and repeats the answer
/// a second later, as if its first copy had crossed our ACK).
fn rejecting_peer(epoch: std::time::Instant, code: u16, repeat: bool) -> Peer {
    let pending: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    Peer::on_requests(5070, epoch, move |from, r| {
        if r.method != voipkit_sip::Method::Invite {
            return vec![];
        }
        let resp = respond(
            r,
            code,
            Some("peer1"),
            "Contact: <sip:x@127.0.0.1:5070>\r\n",
        );
        let mut out = vec![(from, resp.clone())];
        if repeat {
            pending.borrow_mut().push(resp.clone());
            out.push((from, resp));
        }
        out
    })
}

#[test]
fn timer_d_is_32s_on_udp_and_ack_repeats() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = rejecting_peer(epoch, 486, true);
    a.call(h.now(), "sip:x@127.0.0.1:5070", Some("a"));
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(31_900));
    // Both copies of the 486 were ACKed; the call ended once.
    assert_eq!(p.times("ACK").len(), 2);
    assert_eq!(a.count(|e| matches!(e, Event::Ended { .. })), 1);
    assert_eq!(a.ua.transaction_counts().0, 1, "still in Completed");
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(200));
    assert_eq!(a.ua.transaction_counts().0, 0, "timer D fired at 32 s");
}

#[test]
fn timer_d_is_zero_on_tcp() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::tcp("alice", 5060, epoch, 9);
    let mut p = rejecting_peer(epoch, 486, false);
    a.call(h.now(), "sip:x@127.0.0.1:5070;transport=tcp", Some("a"));
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(10));
    assert_eq!(p.times("INVITE").len(), 1, "no retransmission on TCP");
    assert_eq!(p.times("ACK").len(), 1);
    assert_eq!(a.ua.transaction_counts().0, 0);
}

/// A caller that sends one INVITE (and optionally ACKs the final answer).
fn calling_peer(epoch: std::time::Instant, ack: bool, target: u16) -> Peer {
    let mut p = Peer::new(5070, epoch, move |_, from, m| {
        let Message::Response(r) = m else {
            return vec![];
        };
        if !ack || r.status.as_u16() < 300 {
            return vec![];
        }
        let ack = format!(
            "ACK sip:bob@127.0.0.1:{target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKpeer1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: {}\r\nCall-ID: call1@p\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            r.headers.get(&voipkit_sip::HeaderName::To).unwrap()
        );
        vec![(from, ack.into_bytes())]
    });
    let invite = format!(
        "INVITE sip:bob@127.0.0.1:{target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKpeer1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: call1@p\r\nCSeq: 1 INVITE\r\nContact: <sip:p@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    p.send(addr(target), invite.into_bytes());
    p
}

#[test]
fn timer_g_doubles_to_t2_and_h_fires_at_64_t1() {
    let mut h = harness();
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    b.on_incoming_call(|ua, now, ic| {
        ua.reject(now, ic.call, StatusCode::BUSY_HERE).unwrap();
    });
    let mut p = calling_peer(epoch, false, 5062);
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(31_900));
    assert_eq!(
        secs(&b.sent_times("SIP/2.0 486")),
        vec![0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    );
    assert_eq!(b.ua.transaction_counts().1, 1);
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(200));
    assert_eq!(b.ua.transaction_counts().1, 0, "timer H fired at 32 s");
    assert_eq!(b.ua.stats().transactions.ack_timeouts, 1);
}

#[test]
fn timer_i_is_t4_after_ack() {
    let mut h = harness();
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    b.on_incoming_call(|ua, now, ic| {
        ua.reject(now, ic.call, StatusCode::BUSY_HERE).unwrap();
    });
    let mut p = calling_peer(epoch, true, 5062);
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(4_900));
    assert_eq!(b.sent_count("SIP/2.0 486"), 1, "ACK stopped timer G");
    assert_eq!(b.ua.transaction_counts().1, 1, "Confirmed until timer I");
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(200));
    assert_eq!(b.ua.transaction_counts().1, 0, "timer I fired at T4");
}

fn options_peer(epoch: std::time::Instant, target: u16, transport: &str) -> Peer {
    let mut p = Peer::silent(5070, epoch);
    let opt = format!(
        "OPTIONS sip:bob@127.0.0.1:{target} SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:5070;branch=z9hG4bKopt1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: opt1@p\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    p.send(addr(target), opt.clone().into_bytes());
    p
}

#[test]
fn timer_j_is_64_t1_on_udp_and_absorbs_retransmissions() {
    let mut h = harness();
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    let mut p = options_peer(epoch, 5062, "UDP");
    run_pair(&mut h, &mut b, &mut p, Duration::from_secs(1));
    // The retransmitted OPTIONS gets the same 200 again.
    let again = p.received.first().map(|_| ()).and(Some(()));
    assert!(again.is_some());
    let opt = b.received.len();
    assert_eq!(opt, 1);
    let raw = "OPTIONS sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKopt1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: opt1@p\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    p.send(b.addr, raw.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(30_800));
    assert_eq!(b.sent_count("SIP/2.0 200"), 2);
    assert_eq!(b.ua.stats().transactions.absorbed_requests, 1);
    assert_eq!(b.ua.transaction_counts().1, 1);
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(300));
    assert_eq!(b.ua.transaction_counts().1, 0, "timer J fired at 32 s");
}

#[test]
fn timer_j_is_zero_on_tcp() {
    let mut h = harness();
    let epoch = h.now();
    let mut b = Node::tcp("bob", 5062, epoch, 9);
    let mut p = options_peer(epoch, 5062, "TCP");
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(1));
    assert_eq!(b.sent_count("SIP/2.0 200"), 1);
    assert_eq!(b.ua.transaction_counts().1, 0);
}

#[test]
fn timer_k_is_t4_on_udp() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = Peer::on_requests(5070, epoch, |from, r| {
        vec![(from, respond(r, 200, Some("x"), ""))]
    });
    a.ua.send_options(h.now(), uri("sip:x@127.0.0.1:5070"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(4_900));
    assert_eq!(a.ua.transaction_counts().0, 1);
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(200));
    assert_eq!(a.ua.transaction_counts().0, 0, "timer K fired at T4");
}

#[test]
fn timer_l_keeps_accepted_invite_server_for_64_t1() {
    let mut h = harness();
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    b.answer_calls("b");
    let mut p = calling_peer(epoch, false, 5062);
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(100));
    // A retransmitted INVITE is absorbed by the Accepted transaction: no
    // second incoming call.
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKpeer1;rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: call1@p\r\nCSeq: 1 INVITE\r\nContact: <sip:p@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    p.send(b.addr, invite.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(31_800));
    assert_eq!(b.count(|e| matches!(e, Event::IncomingCall(_))), 1);
    assert!(b.ua.transaction_counts().1 >= 1);
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(200));
    assert_eq!(b.ua.transaction_counts().1, 0, "timer L fired at 32 s");
    // The 2xx was retransmitted by the core (no ACK came) and the call
    // ended with BYE after 64*T1.
    assert!(b.sent_count("SIP/2.0 200") >= 7);
    assert!(b.ended_by(EndReason::AckTimeout));
    assert_eq!(b.sent_count("BYE"), 1);
}

#[test]
fn timer_m_keeps_accepted_invite_client_for_64_t1_and_acks_each_2xx() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = rejecting_peer(epoch, 200, true);
    a.call(h.now(), "sip:x@127.0.0.1:5070", Some("a"));
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(31_900));
    assert_eq!(
        p.times("ACK").len(),
        2,
        "each 2xx copy is ACKed by the core"
    );
    assert_eq!(a.count(|e| matches!(e, Event::Answered { .. })), 1);
    assert_eq!(a.ua.transaction_counts().0, 1, "Accepted until timer M");
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(200));
    assert_eq!(a.ua.transaction_counts().0, 0, "timer M fired at 32 s");
}
