//! Whole calls between two user agents over the emulated network, on a
//! virtual clock.

mod common;

use std::time::Duration;

use common::*;
use voipkit_netsim::{Endpoint, Harness, LinkConfig, NetSim};
use voipkit_sip::{CallState, EndReason, Event, StatusCode};

fn harness(seed: u64, loss: f64) -> Harness {
    let mut link = LinkConfig::with_delay(Duration::from_millis(20)).loss(loss);
    if seed >= 100 {
        // Seeds from 100 on also jitter, duplicate and reorder.
        link.jitter = Duration::from_millis(30);
        link.duplicate = 0.1;
        link.reorder = 0.1;
        link.reorder_delay = Duration::from_millis(80);
    }
    Harness::new(NetSim::new(seed, link))
}

fn run(h: &mut Harness, a: &mut Node, b: &mut Node, secs: u64) {
    h.run_for(
        &mut [a as &mut dyn Endpoint, b as &mut dyn Endpoint],
        Duration::from_secs(secs),
    );
}

/// INVITE/180/200/ACK, re-INVITE to hold and to resume, BYE.
fn full_call(seed: u64, loss: f64) -> (Node, Node) {
    let mut h = harness(seed, loss);
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, seed * 2 + 1);
    let mut b = Node::new("bob", 5062, epoch, seed * 2 + 2);
    b.on_event(|ua, now, ev| match ev {
        Event::IncomingCall(ic) => {
            ua.ringing(now, ic.call).unwrap();
            ua.answer(now, ic.call, Some(sdp("bob"))).unwrap();
        }
        Event::OfferReceived {
            call, sdp: offer, ..
        } => {
            let hold = String::from_utf8_lossy(offer).contains("sendonly");
            let answer = if hold { "bob-recvonly" } else { "bob-sendrecv" };
            ua.answer_offer(now, *call, sdp(answer)).unwrap();
        }
        _ => {}
    });
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run(&mut h, &mut a, &mut b, 40);
    assert_eq!(
        a.count(|e| matches!(e, Event::Answered { .. })),
        1,
        "answered once"
    );
    assert_eq!(a.ua.call_state(call), Some(CallState::Confirmed));
    let bcall = match &b.events[0].1 {
        Event::IncomingCall(ic) => ic.call,
        e => panic!("{e:?}"),
    };
    assert_eq!(b.ua.call_state(bcall), Some(CallState::Confirmed));
    let call_id = a.ua.call_id(call).unwrap().to_string();
    assert_eq!(b.ua.find_call(&call_id), Some(bcall));

    // Hold.
    let mut hold = String::from_utf8(sdp("alice").to_vec()).unwrap();
    hold.push_str("a=sendonly\r\n");
    a.ua.reinvite(h.now(), call, hold.into()).unwrap();
    run(&mut h, &mut a, &mut b, 40);
    let answers: Vec<_> = a
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::AnswerReceived { sdp: Some(s), .. } => {
                Some(String::from_utf8_lossy(s).to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1);
    assert!(answers[0].contains("bob-recvonly"));
    // Resume.
    a.ua.reinvite(h.now(), call, sdp("alice")).unwrap();
    run(&mut h, &mut a, &mut b, 40);
    assert_eq!(a.count(|e| matches!(e, Event::AnswerReceived { .. })), 2);
    // Hang up.
    if a.ua.hang_up(h.now(), call).is_err() {
        let oks = b
            .sent
            .iter()
            .filter(|(_, l, x)| {
                l.starts_with("SIP/2.0 200") && String::from_utf8_lossy(x).contains("INVITE")
            })
            .count();
        let got = a.received_count("SIP/2.0 200");
        let acks = a.sent_count("ACK");
        let acks_in = b.received_count("ACK");
        eprintln!(
            "2xx sent by bob {oks}, 200s got by alice {got}, acks sent {acks}, acks got by bob {acks_in}"
        );
        let ends = |n: &Node| {
            n.events
                .iter()
                .filter(|(_, e)| matches!(e, Event::Ended { .. }))
                .cloned()
                .collect::<Vec<_>>()
        };
        panic!("seed {seed}: alice {:?}\nbob {:?}", ends(&a), ends(&b));
    }
    run(&mut h, &mut a, &mut b, 120);
    assert!(a.ended_by(EndReason::LocalHangup));
    assert!(b.ended_by(EndReason::RemoteBye));
    assert_eq!(a.count(|e| matches!(e, Event::Ended { .. })), 1);
    assert_eq!(b.count(|e| matches!(e, Event::Ended { .. })), 1);
    // Everything is cleaned up once the lingering timers ran.
    assert_eq!(a.ua.call_count(), 0);
    assert_eq!(b.ua.call_count(), 0);
    assert_eq!(a.ua.transaction_counts(), (0, 0));
    assert_eq!(b.ua.transaction_counts(), (0, 0));
    assert_eq!(a.ua.poll_timeout(), None);
    assert_eq!(b.ua.poll_timeout(), None);
    (a, b)
}

#[test]
fn full_call_no_loss() {
    let (a, b) = full_call(1, 0.0);
    // No retransmissions were needed.
    assert_eq!(a.sent_count("INVITE"), 3);
    assert_eq!(a.sent_count("ACK"), 3);
    assert_eq!(a.sent_count("BYE"), 1);
    assert_eq!(b.sent_count("SIP/2.0 200"), 4);
    assert_eq!(b.sent_count("SIP/2.0 180"), 1);
    let st = a.ua.stats();
    assert_eq!(st.transactions.request_retransmissions, 0);
    assert_eq!(st.transactions.unmatched_responses, 0);
}

#[test]
fn full_call_30_percent_loss() {
    let mut retrans = 0;
    for seed in 10..(10
        + std::env::var("SIP_SEEDS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(10))
    {
        let (a, b) = full_call(seed, 0.3);
        retrans += a.ua.stats().transactions.request_retransmissions
            + b.ua.stats().transactions.request_retransmissions;
    }
    assert!(
        retrans > 10,
        "loss must have forced retransmissions ({retrans})"
    );
}

#[test]
fn full_call_with_loss_jitter_duplicates_and_reordering() {
    for seed in 100..(100
        + std::env::var("SIP_SEEDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20))
    {
        full_call(seed, 0.2);
    }
}

#[test]
fn ack_lost_2xx_retransmitted_and_acked_again() {
    let mut h = harness(3, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.answer_calls("bob");
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    // Drop the first ACK: alice -> bob link fails after the INVITE went.
    let (aa, ba) = (a.addr, b.addr);
    h.flush(&mut [&mut a as &mut dyn Endpoint, &mut b]);
    h.net.set_link(
        aa,
        ba,
        LinkConfig::with_delay(Duration::from_millis(20)).loss(1.0),
    );
    run_pair(&mut h, &mut a, &mut b, Duration::from_millis(700));
    h.net
        .set_link(aa, ba, LinkConfig::with_delay(Duration::from_millis(20)));
    run(&mut h, &mut a, &mut b, 10);
    // bob re-sent the 2xx at T1; alice ACKed each 2xx.
    let oks = b.sent_times("SIP/2.0 200");
    assert!(oks.len() >= 2, "{oks:?}");
    assert!(near(oks[1] - oks[0], s(0.5)), "{oks:?}");
    assert_eq!(a.sent_count("ACK"), oks.len());
    assert_eq!(b.count(|e| matches!(e, Event::Confirmed { .. })), 1);
}

#[test]
fn cancel_before_answer_gets_487() {
    let mut h = harness(4, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.ring_calls();
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run(&mut h, &mut a, &mut b, 2);
    a.ua.cancel(h.now(), call).unwrap();
    run(&mut h, &mut a, &mut b, 60);
    assert_eq!(a.sent_count("CANCEL"), 1);
    assert_eq!(b.sent_count("SIP/2.0 487"), 1);
    assert_eq!(a.sent_count("ACK"), 1);
    assert!(a.ended_by(EndReason::LocalCancel));
    assert!(b.ended_by(EndReason::RemoteCancel { reason: None }));
}

#[test]
fn cancel_reason_reported_answered_elsewhere() {
    // A raw CANCEL with a Reason header (RFC 3326), as a forking proxy sends.
    let mut h = harness(5, 0.0);
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    let mut p = Peer::silent(5070, epoch);
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKp1;rport\r\nFrom: <sip:proxy@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1@x\r\nCSeq: 7 INVITE\r\nContact: <sip:p@127.0.0.1:5070>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    let cancel = "CANCEL sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKp1;rport\r\nFrom: <sip:proxy@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: c1@x\r\nCSeq: 7 CANCEL\r\nReason: SIP;cause=200;text=\"Call completed elsewhere\"\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    p.send(b.addr, invite.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_secs(1));
    p.send(b.addr, cancel.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_secs(1));
    let (_, ended) = b.find(|e| matches!(e, Event::Ended { .. })).unwrap();
    match ended {
        Event::Ended {
            reason: EndReason::RemoteCancel { reason: Some(r) },
            ..
        } => {
            assert!(r.answered_elsewhere());
            assert_eq!(r.text.as_deref(), Some("Call completed elsewhere"));
        }
        e => panic!("{e:?}"),
    }
    let got: Vec<String> = p
        .received
        .iter()
        .map(|(_, m)| start_line(&m.to_bytes()))
        .collect();
    assert!(got.contains(&"SIP/2.0 200 OK".to_string()), "{got:?}");
    assert!(
        got.contains(&"SIP/2.0 487 Request Terminated".to_string()),
        "{got:?}"
    );
}

#[test]
fn cancel_crossing_200() {
    let mut h = harness(6, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.ring_calls();
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run(&mut h, &mut a, &mut b, 2);
    // Both act at the same instant: the 200 and the CANCEL cross.
    let bcall = match &b.events[0].1 {
        Event::IncomingCall(ic) => ic.call,
        e => panic!("{e:?}"),
    };
    b.ua.answer(h.now(), bcall, Some(sdp("bob"))).unwrap();
    a.ua.cancel(h.now(), call).unwrap();
    run(&mut h, &mut a, &mut b, 60);
    // bob: 200 to the CANCEL, no 487 (the INVITE was answered), then the
    // ACK confirms and the BYE ends the call.
    assert_eq!(b.sent_count("SIP/2.0 487"), 0);
    assert!(b.has(|e| matches!(e, Event::Confirmed { .. })));
    assert!(b.ended_by(EndReason::RemoteBye));
    // alice: ACK and BYE the 2xx, one Ended (LocalCancel), never Answered.
    assert_eq!(a.sent_count("ACK"), 1);
    assert_eq!(a.sent_count("BYE"), 1);
    assert_eq!(a.count(|e| matches!(e, Event::Answered { .. })), 0);
    assert_eq!(
        a.count(|e| matches!(
            e,
            Event::Ended {
                reason: EndReason::LocalCancel,
                ..
            }
        )),
        1
    );
}

#[test]
fn rejected_call_is_acked_and_reported() {
    let mut h = harness(7, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_incoming_call(|ua, now, ic| ua.reject(now, ic.call, StatusCode::BUSY_HERE).unwrap());
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run(&mut h, &mut a, &mut b, 60);
    assert!(a.has(|e| matches!(e, Event::Ended { reason: EndReason::Rejected { status, .. }, .. } if *status == StatusCode::BUSY_HERE)));
    assert!(b.ended_by(EndReason::LocalReject(StatusCode::BUSY_HERE)));
    assert_eq!(a.sent_count("ACK"), 1);
}

#[test]
fn info_dtmf_and_options() {
    let mut h = harness(8, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.answer_calls("bob");
    let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run(&mut h, &mut a, &mut b, 2);
    a.ua.send_dtmf_info(h.now(), call, '5', 160).unwrap();
    let req =
        a.ua.send_options(h.now(), uri("sip:bob@127.0.0.1:5062"))
            .unwrap();
    run(&mut h, &mut a, &mut b, 2);
    let (_, info) = b.find(|e| matches!(e, Event::InfoReceived { .. })).unwrap();
    match info {
        Event::InfoReceived {
            body, content_type, ..
        } => {
            assert_eq!(content_type.as_deref(), Some("application/dtmf-relay"));
            assert_eq!(&body[..], b"Signal=5\r\nDuration=160\r\n");
        }
        _ => unreachable!(),
    }
    assert!(a
        .has(|e| matches!(e, Event::OptionsResponse { request, status: Some(s) } if *request == req && *s == StatusCode::OK)));
    // The 200 to OPTIONS lists what we do.
    let ok = b
        .sent
        .iter()
        .find(|(_, l, b)| {
            l.starts_with("SIP/2.0 200") && String::from_utf8_lossy(b).contains("CSeq: 1 OPTIONS")
        })
        .unwrap();
    let text = String::from_utf8_lossy(&ok.2);
    assert!(
        text.contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"),
        "{text}"
    );
    assert!(text.contains("Supported: 100rel, timer"), "{text}");
    assert!(text.contains("Accept: application/sdp"), "{text}");
}

#[test]
fn redirect_reports_contacts() {
    let mut h = harness(9, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_incoming_call(|ua, now, ic| {
        ua.redirect(
            now,
            ic.call,
            StatusCode::new(302).unwrap(),
            &[uri("sip:bob@127.0.0.1:5064")],
        )
        .unwrap();
    });
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run(&mut h, &mut a, &mut b, 5);
    let (_, e) = a.find(|e| matches!(e, Event::Ended { .. })).unwrap();
    match e {
        Event::Ended {
            reason: EndReason::Redirected { status, contacts },
            ..
        } => {
            assert_eq!(status.as_u16(), 302);
            assert_eq!(contacts, &vec![uri("sip:bob@127.0.0.1:5064")]);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn offerless_invite_offer_in_2xx_answer_in_ack() {
    let mut h = harness(10, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_incoming_call(|ua, now, ic| {
        assert!(ic.sdp.is_none());
        ua.answer(now, ic.call, Some(sdp("bob-offer"))).unwrap();
    });
    a.on_event(|ua, now, ev| {
        if let Event::OfferReceived {
            call, sdp: offer, ..
        } = ev
        {
            assert!(String::from_utf8_lossy(offer).contains("bob-offer"));
            ua.answer_offer(now, *call, sdp("alice-answer")).unwrap();
        }
    });
    a.call(h.now(), "sip:bob@127.0.0.1:5062", None);
    run(&mut h, &mut a, &mut b, 5);
    let (_, e) = b.find(|e| matches!(e, Event::Confirmed { .. })).unwrap();
    match e {
        Event::Confirmed { sdp: Some(s), .. } => {
            assert!(String::from_utf8_lossy(s).contains("alice-answer"))
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(a.sent_count("ACK"), 1);
}

#[test]
fn full_call_over_tcp_has_no_retransmissions() {
    let mut h = harness(11, 0.0);
    let epoch = h.now();
    let mut a = Node::tcp("alice", 5060, epoch, 1);
    let mut b = Node::tcp("bob", 5062, epoch, 2);
    b.answer_calls("bob");
    let call = a.call(
        h.now(),
        "sip:bob@127.0.0.1:5062;transport=tcp",
        Some("alice"),
    );
    run(&mut h, &mut a, &mut b, 1);
    let invite = String::from_utf8(a.sent[0].2.clone()).unwrap();
    assert!(
        invite.contains("Via: SIP/2.0/TCP 127.0.0.1:5060;"),
        "{invite}"
    );
    assert!(
        invite.contains("Contact: <sip:alice@127.0.0.1:5060;transport=tcp>"),
        "{invite}"
    );
    a.ua.hang_up(h.now(), call).unwrap();
    run(&mut h, &mut a, &mut b, 1);
    assert!(b.ended_by(EndReason::RemoteBye));
    // Timer K and J are zero on TCP: the BYE transactions are gone at once;
    // only the INVITE transactions linger (timers L and M, 64*T1).
    assert_eq!(a.ua.transaction_counts().0, 1);
    assert_eq!(b.ua.transaction_counts().1, 1);
    assert_eq!(a.ua.stats().transactions.request_retransmissions, 0);
}
