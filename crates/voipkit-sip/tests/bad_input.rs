//! Requests the core can't take get the RFC's answer, never silence, and
//! nothing received panics.

mod common;

use std::time::Duration;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use voipkit_netsim::{Endpoint, Harness, LinkConfig, NetSim};
use voipkit_sip::message::Message;
use voipkit_sip::{Event, HeaderName, SipMessage, Transport, UaConfig, UserAgent};

struct Setup {
    h: Harness,
    b: Node,
    p: Peer,
}

fn setup() -> Setup {
    let h = Harness::new(NetSim::new(
        1,
        LinkConfig::with_delay(Duration::from_millis(5)),
    ));
    let epoch = h.now();
    let mut b = Node::new("bob", 5062, epoch, 2);
    b.on_event(|ua, now, ev| {
        if let Event::IncomingCall(ic) = ev {
            ua.answer(now, ic.call, Some(sdp("bob"))).unwrap();
        }
    });
    let p = Peer::silent(5070, epoch);
    Setup { h, b, p }
}

impl Setup {
    fn send(&mut self, text: &str) {
        self.p.send(self.b.addr, text.as_bytes().to_vec());
        self.h.run_for(
            &mut [&mut self.b as &mut dyn Endpoint, &mut self.p],
            Duration::from_secs(1),
        );
    }

    /// The start lines of the responses the peer got, in order.
    fn responses(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .p
            .received
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(format!("{} {}", r.status.as_u16(), r.reason)),
                _ => None,
            })
            .collect();
        // Retransmissions (timer G for INVITE errors) count once.
        v.dedup();
        v
    }

    fn last_response(&self) -> voipkit_sip::Response {
        self.p
            .received
            .iter()
            .rev()
            .find_map(|(_, m)| match m {
                Message::Response(r) => Some(r.clone()),
                _ => None,
            })
            .unwrap()
    }
}

fn req(method: &str, branch: &str, cseq: u32, extra: &str, body: &str) -> String {
    format!(
        "{method} sip:bob@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{branch};rport\r\nFrom: <sip:p@127.0.0.1>;tag=pp\r\nTo: <sip:bob@127.0.0.1>{}\r\nCall-ID: bad1@p\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\nContact: <sip:p@127.0.0.1:5070>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        if extra.contains("TO-TAG") {
            ";tag=x"
        } else {
            ""
        },
        body.len()
    )
}

#[test]
fn garbage_is_counted_not_answered() {
    let mut s = setup();
    s.send("hello world\r\n\r\n");
    s.send("SIP/2.0 200 OK\r\n\r\n");
    assert!(s.responses().is_empty());
    let st = s.b.ua.stats();
    assert_eq!(st.parse_errors + st.invalid_responses, 2);
}

#[test]
fn unparseable_request_gets_best_effort_400() {
    let mut s = setup();
    // Content-Length larger than the body: the parser refuses it.
    let text = req("OPTIONS", "u1", 1, "", "").replace("Content-Length: 0", "Content-Length: 50");
    s.send(&text);
    assert_eq!(s.responses().len(), 1);
    assert!(s.responses()[0].starts_with("400"), "{:?}", s.responses());
}

#[test]
fn validation_answers() {
    let cases: &[(&str, String, &str)] = &[
        (
            "505",
            req("OPTIONS", "v1", 1, "", "").replace(
                "sip:bob@127.0.0.1:5062 SIP/2.0",
                "sip:bob@127.0.0.1:5062 SIP/3.0",
            ),
            "",
        ),
        (
            "483",
            req("OPTIONS", "v2", 1, "", "")
                .replace("Max-Forwards: 70", "Max-Forwards: 0")
                .replace("OPTIONS", "INFO"),
            "",
        ),
        ("501", req("FOO", "v3", 1, "", ""), "Allow"),
        ("405", req("MESSAGE", "v4", 1, "", ""), "Allow"),
        (
            "420",
            req("OPTIONS", "v5", 1, "Require: foo, 100rel\r\n", ""),
            "Unsupported",
        ),
        (
            "415",
            req("INVITE", "v6", 1, "Content-Type: text/plain\r\n", "hello"),
            "Accept",
        ),
        (
            "416",
            req("OPTIONS", "v7", 1, "", "").replace(
                "OPTIONS sip:bob@127.0.0.1:5062",
                "OPTIONS mailto:bob@example.com",
            ),
            "",
        ),
        (
            "400",
            req("OPTIONS", "v8", 1, "", "").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"),
            "",
        ),
        ("481", req("BYE", "v9", 1, "TO-TAG", ""), ""),
        ("481", req("CANCEL", "v10", 1, "", ""), ""),
    ];
    for (code, text, header) in cases {
        let mut s = setup();
        s.send(text);
        let r = s.responses();
        assert_eq!(r.len(), 1, "{code}: {r:?}");
        assert!(r[0].starts_with(code), "expected {code}, got {r:?}");
        if !header.is_empty() {
            let resp = s.last_response();
            assert!(
                resp.headers.contains(&HeaderName::from(*header)),
                "{code} lacks {header}"
            );
        }
        // Responses to out-of-dialog requests carry a To tag.
        assert!(s.last_response().to().unwrap().tag().is_some());
    }
}

#[test]
fn merged_request_gets_482() {
    let mut s = setup();
    // Bob does not answer this time: the first INVITE stays pending.
    s.b.react = None;
    s.send(&req(
        "INVITE",
        "m1",
        1,
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    ));
    s.send(&req(
        "INVITE",
        "m2",
        1,
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    ));
    let r = s.responses();
    assert_eq!(r, vec!["100 Trying", "482 Loop Detected"]);
    assert_eq!(s.b.count(|e| matches!(e, Event::IncomingCall(_))), 1);
    assert_eq!(s.b.ua.stats().transactions.merged_requests, 1);
}

/// A confirmed call from the peer; returns bob's To tag.
fn established(s: &mut Setup) -> String {
    s.send(&req(
        "INVITE",
        "e1",
        1,
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    ));
    let ok = s.last_response();
    assert_eq!(ok.status.as_u16(), 200);
    let tag = ok.to().unwrap().tag().unwrap().to_string();
    let ack = req("ACK", "e1ack", 1, "", "").replace(
        "<sip:bob@127.0.0.1>",
        &format!("<sip:bob@127.0.0.1>;tag={tag}"),
    );
    s.send(&ack);
    assert!(s.b.find(|e| matches!(e, Event::Confirmed { .. })).is_some());
    tag
}

fn in_dialog(method: &str, branch: &str, cseq: u32, tag: &str, extra: &str, body: &str) -> String {
    req(method, branch, cseq, extra, body).replace(
        "<sip:bob@127.0.0.1>",
        &format!("<sip:bob@127.0.0.1>;tag={tag}"),
    )
}

#[test]
fn in_dialog_errors() {
    let mut s = setup();
    let tag = established(&mut s);
    // CSeq going backwards: 500.
    s.send(&in_dialog("INFO", "i1", 5, &tag, "", ""));
    s.send(&in_dialog("INFO", "i2", 3, &tag, "", ""));
    let r = s.responses();
    assert!(r[r.len() - 2].starts_with("200"));
    assert!(r[r.len() - 1].starts_with("500"), "{r:?}");
    // Unknown remote tag in a known dialog: 481.
    s.send(&in_dialog("INFO", "i3", 6, &tag, "", "").replace("tag=pp", "tag=other"));
    assert!(s.responses().last().unwrap().starts_with("481"));
    // PRACK that matches no reliable provisional: 481.
    s.send(&in_dialog(
        "PRACK",
        "i4",
        7,
        &tag,
        "RAck: 1 1 INVITE\r\n",
        "",
    ));
    assert!(s.responses().last().unwrap().starts_with("481"));
    // A re-INVITE whose offer is not answered yet, then another one:
    // 500 with Retry-After (RFC 3261 §14.2).
    s.b.react = None;
    s.send(&in_dialog(
        "INVITE",
        "r1",
        8,
        &tag,
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    ));
    assert!(
        s.b.find(|e| matches!(e, Event::OfferReceived { .. }))
            .is_some()
    );
    s.send(&in_dialog(
        "INVITE",
        "r2",
        9,
        &tag,
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    ));
    let last = s.last_response();
    assert_eq!(last.status.as_u16(), 500);
    let ra = last.u32_header(&HeaderName::RetryAfter).unwrap().unwrap();
    assert!(ra <= 10);
    // UPDATE with an offer while that offer is pending: 500 too.
    s.send(&in_dialog(
        "UPDATE",
        "u1",
        10,
        &tag,
        "Content-Type: application/sdp\r\n",
        "v=0\r\n",
    ));
    assert_eq!(s.last_response().status.as_u16(), 500);
    // NOTIFY for an event we never subscribed to: 489.
    s.send(&in_dialog(
        "NOTIFY",
        "n1",
        11,
        &tag,
        "Event: presence\r\nSubscription-State: active\r\n",
        "",
    ));
    assert_eq!(s.last_response().status.as_u16(), 489);
}

#[test]
fn mutated_messages_never_panic() {
    let base = req(
        "INVITE",
        "f1",
        1,
        "Content-Type: application/sdp\r\nRecord-Route: <sip:127.0.0.1:5070;lr>\r\nSession-Expires: 90;refresher=uac\r\nRequire: 100rel\r\n",
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n",
    );
    let resp = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKx;rport\r\nFrom: <sip:bob@127.0.0.1>;tag=a\r\nTo: <sip:p@127.0.0.1>;tag=b\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nRSeq: 1\r\nRequire: 100rel\r\nContact: <sip:p@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n";
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let mut ua = UserAgent::new(
        UaConfig::new("bob", vec![(Transport::Udp, addr(5062))]),
        ChaCha20Rng::seed_from_u64(1),
    );
    let mut now = std::time::Instant::now();
    for i in 0..3000 {
        let src = if i % 2 == 0 {
            base.as_bytes()
        } else {
            resp.as_bytes()
        };
        let mut m = src.to_vec();
        for _ in 0..rng.random_range(1..8) {
            if m.is_empty() {
                break;
            }
            let pos = rng.random_range(0..m.len());
            match rng.random_range(0..4) {
                0 => m[pos] = rng.random(),
                1 => {
                    m.remove(pos);
                }
                2 => m.insert(pos, b"\r\n;,:<>\"@ 0"[rng.random_range(0..11)]),
                _ => m.truncate(pos.max(1)),
            }
        }
        ua.handle_input(now, Transport::Udp, addr(5070), &m);
        while ua.poll_transmit().is_some() {}
        while let Some(ev) = ua.poll_event() {
            if let Event::IncomingCall(ic) = ev {
                let _ =
                    ua.send_provisional(now, ic.call, voipkit_sip::StatusCode::RINGING, None, true);
                let _ = ua.answer(now, ic.call, Some(sdp("b")));
            }
        }
        now += Duration::from_millis(50);
        ua.handle_timeout(now);
    }
}
