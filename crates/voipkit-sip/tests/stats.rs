//! `UaStats`: every resend the user agent makes is counted once, by the
//! layer that made it. Loss on the emulated network forces each kind of
//! resend (the UAS core's 2xx until ACK, the UAC's ACK of a retransmitted
//! 2xx, reliable provisionals until PRACK, the transaction layer's
//! request/response/ACK retransmissions), and the counters are checked
//! against the transmits: a copy is a transmit whose bytes were sent
//! before.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use voipkit_netsim::{Endpoint, Harness, LinkConfig, NetSim};
use voipkit_sip::{Event, StatusCode, UaStats};

fn harness(seed: u64, loss: f64) -> Harness {
    Harness::new(NetSim::new(
        seed,
        LinkConfig::with_delay(Duration::from_millis(20)).loss(loss),
    ))
}

fn link(loss: f64) -> LinkConfig {
    LinkConfig::with_delay(Duration::from_millis(20)).loss(loss)
}

/// The CSeq method of a message's text.
fn cseq_method(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(text);
    s.lines()
        .find_map(|l| l.strip_prefix("CSeq:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string()
}

fn has_rseq(text: &[u8]) -> bool {
    String::from_utf8_lossy(text)
        .lines()
        .any(|l| l.starts_with("RSeq:"))
}

/// Transmits of `n` that copy an earlier transmit and match `f` (start
/// line, whole text).
fn copies(n: &Node, f: impl Fn(&str, &[u8]) -> bool) -> u64 {
    let mut seen: HashMap<&[u8], ()> = HashMap::new();
    let mut c = 0;
    for (_, line, bytes) in &n.sent {
        if seen.insert(bytes.as_slice(), ()).is_some() && f(line, bytes) {
            c += 1;
        }
    }
    c
}

fn all_copies(n: &Node) -> u64 {
    copies(n, |_, _| true)
}

fn is_2xx_to_invite(line: &str, b: &[u8]) -> bool {
    line.starts_with("SIP/2.0 2") && cseq_method(b) == "INVITE"
}

/// The whole-node invariant: every copy counted once, in one counter.
fn assert_copies_counted(n: &Node) -> UaStats {
    let st = n.ua.stats();
    assert_eq!(
        st.retransmissions(),
        all_copies(n),
        "{}: counted retransmissions vs copies in transmits: {st:#?}",
        n.name
    );
    st
}

fn run_ms(h: &mut Harness, a: &mut Node, b: &mut Node, ms: u64) {
    h.run_for(
        &mut [a as &mut dyn Endpoint, b as &mut dyn Endpoint],
        Duration::from_millis(ms),
    );
}

/// The ACKs from alice are lost for 1.6 s: bob re-sends his 2xx at T1 and
/// 2*T1 after the first; alice ACKs each copy again.
#[test]
fn lost_acks_count_retransmitted_2xx_and_acks() {
    let mut h = harness(1, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.answer_calls("bob");
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    h.flush(&mut [&mut a as &mut dyn Endpoint, &mut b]);
    h.net.set_link(a.addr, b.addr, link(1.0));
    run_ms(&mut h, &mut a, &mut b, 1600);
    h.net.set_link(a.addr, b.addr, link(0.0));
    run_ms(&mut h, &mut a, &mut b, 10_000);

    assert_eq!(b.count(|e| matches!(e, Event::Confirmed { .. })), 1);
    let sb = assert_copies_counted(&b);
    let sa = assert_copies_counted(&a);
    let oks = b.sent_count("SIP/2.0 200") as u64;
    assert!(oks >= 3, "two resends at least: {oks}");
    assert_eq!(sb.retransmitted_2xx, oks - 1);
    assert_eq!(sb.retransmitted_2xx, copies(&b, is_2xx_to_invite));
    assert_eq!(sa.retransmitted_acks, a.sent_count("ACK") as u64 - 1);
    assert_eq!(
        sa.retransmitted_acks,
        copies(&a, |l, _| l.starts_with("ACK"))
    );
    // The transaction layer resent nothing: no double count.
    assert_eq!(sb.transactions.response_retransmissions, 0);
    assert_eq!(sa.transactions.request_retransmissions, 0);
    assert_eq!(sa.transactions.ack_retransmissions, 0);
    assert_eq!((sa.retransmitted_2xx, sb.retransmitted_acks), (0, 0));
    assert_eq!(sb.retransmitted_reliable_1xx, 0);
    println!("alice {sa:#?}\nbob {sb:#?}");
}

/// The PRACKs from alice are lost for 1.6 s: bob re-sends his reliable
/// 183 on his own timer (T1 doubling) and alice's PRACK transaction
/// retransmits the PRACK (timer E).
#[test]
fn lost_pracks_count_retransmitted_reliable_1xx() {
    let mut h = harness(2, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_incoming_call(|ua, now, ic| {
        ua.send_provisional(
            now,
            ic.call,
            StatusCode::SESSION_PROGRESS,
            Some(sdp("early")),
            true,
        )
        .unwrap();
    });
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    h.flush(&mut [&mut a as &mut dyn Endpoint, &mut b]);
    h.net.set_link(a.addr, b.addr, link(1.0));
    run_ms(&mut h, &mut a, &mut b, 1600);
    h.net.set_link(a.addr, b.addr, link(0.0));
    run_ms(&mut h, &mut a, &mut b, 2000);
    let bcall = b.incoming_call();
    b.ua.answer(h.now(), bcall, Some(sdp("bob"))).unwrap();
    run_ms(&mut h, &mut a, &mut b, 10_000);

    assert!(a.has(|e| matches!(e, Event::Answered { .. })));
    let sb = assert_copies_counted(&b);
    let sa = assert_copies_counted(&a);
    let rel = b.sent_count("SIP/2.0 183") as u64;
    assert!(rel >= 3, "two resends at least: {rel}");
    assert_eq!(sb.retransmitted_reliable_1xx, rel - 1);
    assert_eq!(
        sb.retransmitted_reliable_1xx,
        copies(&b, |l, x| l.starts_with("SIP/2.0 1") && has_rseq(x))
    );
    // alice's PRACK was retransmitted by its transaction (timer E), and
    // only counted there.
    let pracks = a.sent_count("PRACK") as u64;
    assert!(pracks >= 2, "{pracks}");
    assert_eq!(sa.transactions.request_retransmissions, pracks - 1);
    assert_eq!(sa.retransmitted_acks, 0);
    assert_eq!(sb.retransmitted_2xx, 0);
    println!("alice {sa:#?}\nbob {sb:#?}");
}

/// The ACK of a 486 is lost for 1.6 s: bob's INVITE server transaction
/// re-sends the 486 (timer G) and alice's client transaction ACKs each
/// copy again; both are the transaction layer's, not the call layer's.
#[test]
fn lost_ack_of_rejection_counts_transaction_layer_resends() {
    let mut h = harness(3, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.on_incoming_call(|ua, now, ic| {
        ua.reject(now, ic.call, StatusCode::BUSY_HERE).unwrap();
    });
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    h.flush(&mut [&mut a as &mut dyn Endpoint, &mut b]);
    h.net.set_link(a.addr, b.addr, link(1.0));
    run_ms(&mut h, &mut a, &mut b, 1600);
    h.net.set_link(a.addr, b.addr, link(0.0));
    run_ms(&mut h, &mut a, &mut b, 40_000);

    let sb = assert_copies_counted(&b);
    let sa = assert_copies_counted(&a);
    let busy = b.sent_count("SIP/2.0 486") as u64;
    assert!(busy >= 3, "{busy}");
    assert_eq!(sb.transactions.response_retransmissions, busy - 1);
    assert_eq!(
        sa.transactions.ack_retransmissions,
        a.sent_count("ACK") as u64 - 1
    );
    assert_eq!(sa.transactions.ack_retransmissions, busy - 1);
    assert_eq!((sa.retransmitted_acks, sb.retransmitted_2xx), (0, 0));
    println!("alice {sa:#?}\nbob {sb:#?}");
}

/// Random loss (and, on odd seeds, jitter, duplicates and reordering) over
/// whole calls (100rel, re-INVITE, BYE) on many seeds:
/// on both sides the counters add up to the copies in the transmits, and
/// the 2xx copies are exactly `retransmitted_2xx`.
#[test]
fn random_loss_every_copy_counted_once() {
    let seeds = std::env::var("SIP_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(12);
    let mut totals = [0u64; 6];
    for seed in 20..20 + seeds {
        let mut h = harness(seed, 0.3);
        if seed % 2 == 1 {
            // Odd seeds also jitter, duplicate and reorder: a duplicated
            // 2xx is ACKed again and counted like a retransmitted one.
            let mut l = link(0.3);
            l.jitter = Duration::from_millis(30);
            l.duplicate = 0.1;
            l.reorder = 0.1;
            l.reorder_delay = Duration::from_millis(80);
            h = Harness::new(NetSim::new(seed, l));
        }
        let epoch: Instant = h.now();
        let mut a = Node::new("alice", 5060, epoch, seed * 2 + 1);
        let mut b = Node::new("bob", 5062, epoch, seed * 2 + 2);
        b.on_event(|ua, now, ev| match ev {
            Event::IncomingCall(ic) => {
                ua.send_provisional(now, ic.call, StatusCode::RINGING, None, true)
                    .unwrap();
            }
            Event::OfferReceived { call, .. } => {
                ua.answer_offer(now, *call, sdp("bob-again")).unwrap();
            }
            _ => {}
        });
        let call = a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
        // Ring for a while (the INVITE itself may need a few copies).
        for _ in 0..10 {
            run_ms(&mut h, &mut a, &mut b, 3000);
            if b.has(|e| matches!(e, Event::IncomingCall(_))) {
                break;
            }
        }
        if b.has(|e| matches!(e, Event::IncomingCall(_))) {
            let bcall = b.incoming_call();
            let _ = b.ua.answer(h.now(), bcall, Some(sdp("bob")));
        }
        run_ms(&mut h, &mut a, &mut b, 20_000);
        let _ = a.ua.reinvite(h.now(), call, sdp("alice-again"));
        run_ms(&mut h, &mut a, &mut b, 20_000);
        let _ = a.ua.hang_up(h.now(), call);
        run_ms(&mut h, &mut a, &mut b, 40_000);
        for n in [&a, &b] {
            let st = assert_copies_counted(n);
            assert_eq!(
                st.retransmitted_2xx,
                copies(n, is_2xx_to_invite),
                "seed {seed} {}",
                n.name
            );
            let t = st.transactions;
            for (i, v) in [
                t.request_retransmissions,
                t.response_retransmissions,
                t.ack_retransmissions,
                st.retransmitted_2xx,
                st.retransmitted_acks,
                st.retransmitted_reliable_1xx,
            ]
            .into_iter()
            .enumerate()
            {
                totals[i] += v;
            }
        }
    }
    println!(
        "{seeds} calls at 30% loss (half with duplicates/reordering): request {} response {} ack(non-2xx) {} | 2xx {} ack(2xx) {} reliable 1xx {}",
        totals[0], totals[1], totals[2], totals[3], totals[4], totals[5]
    );
    assert!(
        totals[3] > 0 && totals[4] > 0 && totals[5] > 0,
        "loss must force every call-layer resend: {totals:?}"
    );
}

/// `stats()` carries the gauges too, and its Debug output names every
/// counter.
#[test]
fn stats_gauges_and_debug() {
    let mut h = harness(4, 0.0);
    let (mut a, mut b) = alice_and_bob(&h);
    b.answer_calls("bob");
    a.call(h.now(), "sip:bob@127.0.0.1:5062", Some("alice"));
    run_ms(&mut h, &mut a, &mut b, 100);
    let st = a.ua.stats();
    assert_eq!(st.calls, 1);
    assert_eq!(st.calls, a.ua.call_count());
    assert_eq!(
        (st.client_transactions, st.server_transactions),
        a.ua.transaction_counts()
    );
    let d = format!("{st:?}");
    for name in [
        "unmatched_responses",
        "request_retransmissions",
        "ack_retransmissions",
        "retransmitted_2xx",
        "retransmitted_acks",
        "retransmitted_reliable_1xx",
        "client_transactions",
        "calls",
    ] {
        assert!(d.contains(name), "{d}");
    }
    assert!(format!("{:?}", a.ua).contains("retransmitted_2xx"));
}
