//! Criterion benches of SIP message parse and print, with rsip parsing the
//! same bytes in the same run for comparison (the ratio is the robust
//! figure on a shared machine).
//!
//! Run: `cargo bench --bench sip -- --warm-up-time 1 --measurement-time 3`
//!
//! The messages are parsed from a heap `Bytes` cloned per iteration, as a
//! socket receive path hands them over (a static buffer would hide the
//! reference counting of slices of it).
//!
//! - `sip_parse/invite/voipkit`, `.../rsip`: parse only.
//! - `sip_parse/invite/voipkit+key_headers`: parse, then what the
//!   transaction and dialog layers read from every message (top Via
//!   branch, CSeq, Call-ID, From and To tags) through `SipMessage::keys`,
//!   as they do.
//! - `sip_parse/invite/voipkit+validate`: parse, then the UAS checks
//!   (`validate_request`).
//! - `sip_parse/invite/voipkit_tcp_stream_framer`: frame the INVITE from a
//!   TCP byte stream and parse it.
//! - `sip_read/*`: the key headers (`keys`, and the same through the
//!   separate typed views) and `validate_request` alone, on an already
//!   parsed INVITE.
//! - `sip_print/*`: serialise.
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voipkit_sip::message::{MessageKeys, UasCapabilities, validate_request};
use voipkit_sip::{Message, SipMessage, StreamFramer, StreamItem};

/// The head of a typical INVITE with SDP, as a softphone sends it, up to
/// its Content-Length header (computed from [`SDP`] by [`invite`]).
pub const INVITE_HEAD: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, REFER, NOTIFY, INFO\r\n\
Supported: replaces, 100rel, timer\r\n\
User-Agent: voipkit/0.1\r\n\
Content-Type: application/sdp\r\n";

/// The INVITE's SDP body.
pub const SDP: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/SAVP 111 0 8 101\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 useinbandfec=1\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// The whole INVITE: [`INVITE_HEAD`], a Content-Length that is the body's
/// real length, and [`SDP`].
pub fn invite() -> String {
    format!("{INVITE_HEAD}Content-Length: {}\r\n\r\n{SDP}", SDP.len())
}

/// A 200 OK to a REGISTER.
pub const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7;received=192.0.2.10;rport=5060\r\n\
To: Alice <sip:alice@atlanta.example.com>;tag=2493k59kd\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:alice@192.0.2.10:5060>;expires=3600\r\n\
Date: Sat, 28 Nov 2026 08:00:00 GMT\r\n\
Content-Length: 0\r\n\
\r\n";

fn bench(c: &mut Criterion) {
    let invite_text = invite();
    // A heap buffer, as a socket receive path produces (a static one would
    // hide the reference counting of slices of it).
    let invite = Bytes::from(invite_text.clone().into_bytes());
    let ok = Bytes::from(OK.as_bytes().to_vec());
    assert!(Message::parse(invite.clone()).is_ok());
    assert!(Message::parse(ok.clone()).is_ok());

    let mut g = c.benchmark_group("sip_parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("invite/voipkit", |b| {
        b.iter(|| black_box(Message::parse(black_box(invite.clone()))))
    });
    // What the transaction and dialog layers read from every message.
    g.bench_function("invite/voipkit+key_headers", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(invite.clone())).unwrap();
            let k = m.keys().unwrap();
            read_keys(&k);
        })
    });
    let caps = UasCapabilities::default();
    g.bench_function("invite/voipkit+validate", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(invite.clone())).unwrap();
            let r = m.as_request().unwrap();
            black_box(validate_request(r, &caps).is_ok())
        })
    });
    // On a stream Content-Length must be exact: frame the printed INVITE.
    let stream_invite = Message::parse(invite.clone()).unwrap().to_bytes();
    g.bench_function("invite/voipkit_tcp_stream_framer", |b| {
        let mut framer = StreamFramer::new(voipkit_sip::Limits::default());
        b.iter(|| {
            framer.push(black_box(&stream_invite)).unwrap();
            match framer.next_item() {
                Some(Ok(StreamItem::Message(m))) => black_box(m),
                _ => unreachable!(),
            }
        })
    });
    g.bench_function("invite/rsip", |b| {
        b.iter(|| {
            black_box(rsip::SipMessage::try_from(black_box(
                invite_text.as_bytes(),
            )))
        })
    });
    g.bench_function("200ok/voipkit", |b| {
        b.iter(|| black_box(Message::parse(black_box(ok.clone()))))
    });
    g.bench_function("200ok/rsip", |b| {
        b.iter(|| black_box(rsip::SipMessage::try_from(black_box(OK.as_bytes()))))
    });
    g.finish();

    let parsed_invite = Message::parse(invite.clone()).unwrap();
    let parsed_ok = Message::parse(ok.clone()).unwrap();

    // The typed views and the UAS checks alone, on an already parsed
    // message.
    let mut g = c.benchmark_group("sip_read");
    g.throughput(Throughput::Elements(1));
    g.bench_function("invite/key_headers", |b| {
        b.iter(|| {
            let k = black_box(&parsed_invite).keys().unwrap();
            read_keys(&k);
        })
    });
    // The same through the separate typed views (each builds its value).
    g.bench_function("invite/key_headers_views", |b| {
        b.iter(|| {
            let m = black_box(&parsed_invite);
            let via = m.top_via().unwrap();
            let from = m.from().unwrap();
            let to = m.to().unwrap();
            black_box((
                via.branch().map(str::len),
                m.cseq().unwrap().seq,
                m.call_id().unwrap().len(),
                from.tag().map(str::len),
                to.tag().map(str::len),
            ));
        })
    });
    g.bench_function("invite/validate_request", |b| {
        let r = parsed_invite.as_request().unwrap();
        b.iter(|| black_box(validate_request(black_box(r), &caps).is_ok()))
    });
    g.finish();

    let rsip_invite = rsip::SipMessage::try_from(invite_text.as_bytes()).unwrap();
    let mut g = c.benchmark_group("sip_print");
    g.throughput(Throughput::Elements(1));
    g.bench_function("invite/voipkit", |b| {
        b.iter(|| black_box(parsed_invite.to_bytes()))
    });
    g.bench_function("invite/rsip", |b| {
        b.iter(|| black_box(rsip_invite.to_string()))
    });
    g.bench_function("200ok/voipkit", |b| {
        b.iter(|| black_box(parsed_ok.to_bytes()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// Reads what the transaction and dialog layers use from the keys.
#[inline(always)]
fn read_keys(k: &MessageKeys<'_>) {
    black_box((
        k.top_via.branch().map(str::len),
        k.cseq.seq,
        k.call_id.len(),
        k.from_tag.as_deref().map(str::len),
        k.to_tag.as_deref().map(str::len),
    ));
}
