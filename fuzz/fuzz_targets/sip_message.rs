#![no_main]
//! Fuzz target sip_message: parse any bytes as a datagram; when they parse,
//! print, re-parse and compare, call every typed accessor and the
//! validators. Nothing may panic; print/parse must round-trip.
use libfuzzer_sys::fuzz_target;
use voipkit_sip::message::{
    HeaderName, Message, SipMessage, UasCapabilities, best_effort_rejection, inspect,
    percent_decode, validate_request, validate_response,
};

fn touch(m: &Message) {
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = m.from().map(|f| (f.tag().map(str::len), f.to_string()));
    let _ = m.to().map(|t| t.to_string());
    if let Ok(vias) = m.vias() {
        for v in &vias {
            let _ = (v.branch(), v.received(), v.rport(), v.to_string());
        }
    }
    // The top Via (one-pass fast path on the first value) is the first of
    // all Vias (each item parsed on its own).
    if let (Ok(top), Ok(vias)) = (m.top_via(), m.vias()) {
        assert_eq!(
            Some(&top),
            vias.first(),
            "top Via differs from the first Via"
        );
    }
    if let Ok(cs) = m.contacts() {
        for c in &cs {
            let _ = (c.expires(), c.q(), c.to_string());
            if let Some(u) = c.uri.as_sip() {
                let _ = (u.user_unescaped(), u.transport_param(), u.matches(u));
            }
        }
    }
    let _ = m.is_contact_star();
    let _ = m.routes();
    let _ = m.record_routes();
    let _ = m.name_addrs(&HeaderName::Path);
    let _ = m.max_forwards();
    let _ = m.expires();
    let _ = m.min_expires();
    let _ = m.rseq();
    let _ = m.require();
    let _ = m.supported();
    let _ = m.unsupported();
    let _ = m.allow();
    let _ = m.has_token(&HeaderName::Supported, "100rel");
    let _ = m.content_type();
    let _ = m.media_type();
    let _ = m.body_parts();
    let _ = m.event();
    let _ = m.subscription_state();
    let _ = m.refer_to();
    let _ = m.replaces();
    let _ = m.reasons();
    for h in m.headers().iter() {
        let _ = percent_decode(&h.value);
    }
}

fuzz_target!(|data: &[u8]| {
    let caps = UasCapabilities::default();
    match Message::parse(data.to_vec()) {
        Ok(m) => {
            touch(&m);
            match &m {
                Message::Request(r) => {
                    if let Err(rej) = validate_request(r, &caps) {
                        let resp = rej.to_response(r, "fuzz");
                        let bytes = resp.to_bytes();
                        assert!(Message::parse(bytes).is_ok(), "rejection does not parse");
                    }
                    // The Request-URI checked at parse time builds (the
                    // opaque fallback has an empty scheme).
                    assert!(
                        !r.uri().scheme().is_empty(),
                        "checked Request-URI does not build"
                    );
                    let _ = r.uri().to_string();
                }
                Message::Response(r) => {
                    let _ = validate_response(r);
                }
            }
            // Print, re-parse, compare what a UA relies on.
            let printed = m.to_bytes();
            let back = Message::parse(printed.clone()).expect("printed message re-parses");
            // The printer writes one Content-Length (the body's real one).
            let count = |m: &Message| {
                m.headers()
                    .iter()
                    .filter(|h| h.name != HeaderName::ContentLength)
                    .count()
            };
            assert_eq!(count(&back), count(&m));
            assert_eq!(back.body(), m.body());
            assert_eq!(back.call_id().ok(), m.call_id().ok());
            assert_eq!(back.cseq().ok(), m.cseq().ok());
            match (&m, &back) {
                (Message::Request(a), Message::Request(b)) => {
                    assert_eq!(a.method, b.method);
                    assert_eq!(a.uri().to_string(), b.uri().to_string());
                }
                (Message::Response(a), Message::Response(b)) => assert_eq!(a.status, b.status),
                _ => panic!("kind changed on re-parse"),
            }
            // Printing is a fixed point after one round.
            assert_eq!(back.to_bytes(), printed);
        }
        Err(e) => {
            if let Some(resp) = best_effort_rejection(data, &e, "fuzz") {
                let _ = resp.to_bytes();
            }
        }
    }
    let i = inspect(data.to_vec(), &caps);
    let _ = i.response("fuzz").map(|r| r.to_bytes());
    let _ = i.verdict.to_string();
});
