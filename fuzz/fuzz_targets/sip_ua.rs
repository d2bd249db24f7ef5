#![no_main]
//! Fuzz target: arbitrary datagrams and timeouts into a `UserAgent` that has
//! an outgoing call and a registration in flight, so fuzzed responses can
//! match real transactions and fuzzed requests hit the UAS paths. Nothing
//! may panic and the UA must stay bounded.
//!
//! Input: chunks separated by the byte 0xFF; a chunk's first byte picks the
//! action (datagram on UDP or TCP, or a jump of time), the rest is the
//! message. Chunks that start with `SIP/2.0 ` are given the branch and
//! Call-ID of the UA's pending transactions where they say `$B`/`$C`.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_sip::ua::{RegistrationConfig, UaConfig};
use voipkit_sip::{Credentials, Message, SipMessage, Transport, UserAgent};

fuzz_target!(|data: &[u8]| {
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let peer: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let mut cfg = UaConfig::new(
        "alice",
        vec![(Transport::Udp, local), (Transport::Tcp, local)],
    );
    cfg.credentials.push(Credentials::new("alice", "secret"));
    let mut ua = UserAgent::new(cfg, ChaCha20Rng::seed_from_u64(1));
    let mut now = Instant::now();
    let _ = ua.start_call(
        now,
        "sip:bob@127.0.0.1:5070".parse().unwrap(),
        Some(b"v=0\r\n"[..].into()),
    );
    let _ = ua.register(
        now,
        RegistrationConfig::new(
            "sip:127.0.0.1:5070".parse().unwrap(),
            "sip:alice@127.0.0.1".parse().unwrap(),
        ),
    );
    // Remember what the UA sent so responses can refer to it.
    let mut branch = String::new();
    let mut call_id = String::new();
    let drain = |ua: &mut UserAgent, branch: &mut String, call_id: &mut String| {
        while let Some(t) = ua.poll_transmit() {
            if let Ok(m) = Message::parse(t.contents) {
                if let (Ok(v), Ok(c)) = (m.top_via(), m.call_id()) {
                    if let Some(b) = v.branch() {
                        *branch = b.to_string();
                    }
                    *call_id = c.to_string();
                }
            }
        }
        while ua.poll_event().is_some() {}
    };
    drain(&mut ua, &mut branch, &mut call_id);

    for chunk in data.split(|b| *b == 0xFF).take(64) {
        let Some((&op, body)) = chunk.split_first() else {
            continue;
        };
        match op % 4 {
            0 | 1 => {
                let text = String::from_utf8_lossy(body)
                    .replace("$B", &branch)
                    .replace("$C", &call_id);
                let transport = if op % 4 == 0 {
                    Transport::Udp
                } else {
                    Transport::Tcp
                };
                ua.handle_input(now, transport, peer, text.as_bytes());
            }
            2 => {
                ua.handle_input(now, Transport::Udp, peer, body);
            }
            _ => {
                let ms = body.first().copied().unwrap_or(0) as u64 * 250;
                now += Duration::from_millis(ms);
                if ua.poll_timeout().is_some_and(|t| t <= now) {
                    ua.handle_timeout(now);
                }
            }
        }
        drain(&mut ua, &mut branch, &mut call_id);
        let (client, server) = ua.transaction_counts();
        assert!(client + server < 10_000);
    }
});
