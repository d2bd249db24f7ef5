//! Transaction matching details: unmatched (no transaction, a late copy,
//! the wrong CSeq method) and misrouted responses are dropped and counted,
//! RFC 2543 peers (no magic cookie) are matched by the §17.2.3 fallback,
//! transport errors end calls, outbound proxy routing.

mod common;

use std::time::Duration;

use common::*;
use voipkit_netsim::{Endpoint, Harness, LinkConfig, NetSim};
use voipkit_sip::message::Message;
use voipkit_sip::{EndReason, Event, HeaderName, SipMessage, Transport, UaConfig};

fn harness() -> Harness {
    Harness::new(NetSim::new(
        1,
        LinkConfig::with_delay(Duration::from_millis(5)),
    ))
}

#[test]
fn unmatched_and_misrouted_responses_are_dropped_and_counted() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = Peer::silent(5070, epoch);
    let resp = |via: &str| {
        format!(
            "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: x@y\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    p.send(
        a.addr,
        resp("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnothing;rport").into_bytes(),
    );
    p.send(
        a.addr,
        resp("SIP/2.0/UDP 127.0.0.1:9999;branch=z9hG4bKnotours").into_bytes(),
    );
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(1));
    let st = a.ua.stats();
    assert_eq!(st.transactions.unmatched_responses, 1);
    assert_eq!(st.misrouted_responses, 1);
    assert!(a.events.is_empty());
    assert!(a.sent.is_empty());
}

#[test]
fn rfc2543_requests_match_by_fallback() {
    let mut h = harness();
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    let mut p = Peer::silent(5070, epoch);
    // No magic cookie, no branch at all.
    let invite = "INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070\r\nFrom: <sip:p@127.0.0.1>;tag=old\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: 2543@p\r\nCSeq: 4 INVITE\r\nContact: <sip:p@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n";
    p.send(b.addr, invite.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(100));
    // The retransmission is absorbed: one call, the 100 re-sent.
    p.send(b.addr, invite.as_bytes().to_vec());
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(100));
    assert_eq!(b.count(|e| matches!(e, Event::IncomingCall(_))), 1);
    assert_eq!(b.ua.stats().transactions.absorbed_requests, 1);
    assert_eq!(b.sent_count("SIP/2.0 100"), 2);
    // The CANCEL finds the INVITE by the same fallback.
    let cancel = invite
        .replace("INVITE sip", "CANCEL sip")
        .replace("4 INVITE", "4 CANCEL")
        .replace("Contact: <sip:p@127.0.0.1:5070>\r\n", "");
    p.send(b.addr, cancel.into_bytes());
    run_pair(&mut h, &mut b, &mut p, Duration::from_millis(100));
    let got: Vec<String> = p
        .received
        .iter()
        .filter_map(|(_, m)| match m {
            Message::Response(r) => Some(format!(
                "{} {}",
                r.status.as_u16(),
                r.cseq().map(|c| c.method.to_string()).unwrap_or_default()
            )),
            _ => None,
        })
        .collect();
    assert!(got.contains(&"200 CANCEL".to_string()), "{got:?}");
    assert!(got.contains(&"487 INVITE".to_string()), "{got:?}");
    assert!(
        b.find(|e| matches!(
            e,
            Event::Ended {
                reason: EndReason::RemoteCancel { .. },
                ..
            }
        ))
        .is_some()
    );
    // The Via got received/rport-free treatment: no rport asked, none added.
    let first_100 = b
        .sent
        .iter()
        .find(|(_, l, _)| l.starts_with("SIP/2.0 100"))
        .unwrap();
    assert!(!String::from_utf8_lossy(&first_100.2).contains("rport="));
}

#[test]
fn transport_error_ends_the_call() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    a.call(h.now(), "sip:bob@127.0.0.1:5099", Some("a"));
    h.run_for(
        &mut [&mut a as &mut dyn Endpoint],
        Duration::from_millis(10),
    );
    // The driver learned (ICMP port unreachable) that nothing listens there.
    a.ua.handle_transport_error(h.now(), Transport::Udp, addr(5099));
    a.drain(h.now());
    assert!(a.ended_by(EndReason::TransportError));
    assert_eq!(a.ua.transaction_counts().0, 0);
}

#[test]
fn outbound_proxy_and_preloaded_route() {
    let mut h = harness();
    let epoch = h.now();
    let mut cfg = UaConfig::new("alice", vec![(Transport::Udp, addr(5060))]);
    cfg.outbound_proxy = Some((Transport::Udp, addr(5090)));
    cfg.route_set = vec![uri("sip:127.0.0.1:5090")];
    let mut a = Node::with_config("alice", cfg, epoch, 1);
    let mut proxy = Peer::silent(5090, epoch);
    a.call(h.now(), "sip:bob@192.0.2.1:5062", Some("a"));
    run_pair(&mut h, &mut a, &mut proxy, Duration::from_millis(100));
    let (_, m) = &proxy.received[0];
    let Message::Request(r) = m else { panic!() };
    assert_eq!(r.uri().to_string(), "sip:bob@192.0.2.1:5062");
    assert_eq!(
        r.headers
            .get(&HeaderName::Route)
            .map(|v| v.to_string())
            .as_deref(),
        Some("<sip:127.0.0.1:5090;lr>")
    );
    // A domain Request-URI without a proxy can't be resolved (no DNS in
    // the core): a clear error, not a guess.
    let mut b = Node::new("bob", 5062, epoch, 2);
    let err =
        b.ua.start_call(h.now(), uri("sip:carol@example.com"), None)
            .unwrap_err();
    assert!(
        matches!(err, voipkit_sip::Error::Unresolvable(_)),
        "{err:?}"
    );
}

#[test]
fn in_dialog_481_ends_the_call() {
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let mut p = Peer::on_requests(5070, epoch, |from, r| match r.method {
        voipkit_sip::Method::Invite => vec![(
            from,
            respond(
                r,
                200,
                Some("px"),
                "Contact: <sip:p@127.0.0.1:5070>\r\nContent-Type: application/sdp\r\n",
            ),
        )],
        voipkit_sip::Method::Info => vec![(from, respond(r, 481, None, ""))],
        voipkit_sip::Method::Bye => vec![(from, respond(r, 200, None, ""))],
        _ => vec![],
    });
    let call = a.call(h.now(), "sip:p@127.0.0.1:5070", Some("a"));
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(100));
    a.ua.send_dtmf_info(h.now(), call, '1', 100).unwrap();
    run_pair(&mut h, &mut a, &mut p, Duration::from_millis(100));
    assert!(a.ended_by(EndReason::Timeout));
    assert_eq!(a.sent_count("BYE"), 1);
}

/// A response that matches no live client transaction is dropped and
/// counted in `TransactionStats::unmatched_responses`: a late copy of a
/// 200 after its transaction ended (timer K), and a response carrying a
/// live transaction's branch but another CSeq method.
#[test]
fn late_and_wrong_method_responses_are_unmatched_and_counted() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut h = harness();
    let epoch = h.now();
    let mut a = Node::new("alice", 5060, epoch, 1);
    let seen: Rc<RefCell<Vec<voipkit_sip::Request>>> = Rc::default();
    let log = seen.clone();
    let mut p = Peer::on_requests(5070, epoch, move |from, r| {
        log.borrow_mut().push(r.clone());
        vec![(from, respond(r, 200, Some("p"), ""))]
    });
    a.ua.send_options(h.now(), uri("sip:p@127.0.0.1:5070"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(1));
    assert!(a.has(|e| matches!(
        e,
        Event::OptionsResponse {
            status: Some(s),
            ..
        } if s.as_u16() == 200
    )));
    assert_eq!(a.ua.stats().transactions.unmatched_responses, 0);
    // Long after timer K: the transaction is gone, a copy of the 200 is
    // unmatched.
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(40));
    assert_eq!(a.ua.transaction_counts(), (0, 0));
    let options = seen.borrow()[0].clone();
    let late = respond(&options, 200, Some("p"), "");
    p.send(a.addr, late);
    run_pair(&mut h, &mut a, &mut p, Duration::from_secs(1));
    let st = a.ua.stats();
    assert_eq!(st.transactions.unmatched_responses, 1, "{st:#?}");

    // A live OPTIONS transaction (the peer now stays silent) and a
    // response with its branch but CSeq method INVITE.
    let mut q = Peer::silent(5072, epoch);
    a.ua.send_options(h.now(), uri("sip:q@127.0.0.1:5072"))
        .unwrap();
    run_pair(&mut h, &mut a, &mut q, Duration::from_millis(100));
    let Message::Request(live) = &q.received[0].1 else {
        panic!("a request");
    };
    let wrong = String::from_utf8(respond(live, 200, Some("q"), ""))
        .unwrap()
        .replace(" OPTIONS\r\n", " INVITE\r\n");
    assert!(!wrong.contains(" OPTIONS\r\n"), "{wrong}");
    q.send(a.addr, wrong.into_bytes());
    run_pair(&mut h, &mut a, &mut q, Duration::from_millis(100));
    let st = a.ua.stats();
    assert_eq!(st.transactions.unmatched_responses, 2, "{st:#?}");
    assert_eq!(st.misrouted_responses + st.invalid_responses, 0);
    assert_eq!(st.client_transactions, 1, "the OPTIONS is still live");
    assert_eq!(
        a.count(|e| matches!(e, Event::OptionsResponse { .. })),
        1,
        "nothing delivered"
    );
}
