//! Differential test against rsip: for generated requests and responses
//! that both parsers accept, they agree on method/status, Call-ID, CSeq and
//! the number of header fields.
use proptest::prelude::*;
use rsip::headers::UntypedHeader as _;
use rsip::message::{HasHeaders as _, HeadersExt as _};
use voipkit_sip::message::{Message, SipMessage};

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9-]{0,8}){0,2}",
        (1u8..255, 0u8..255, 0u8..255, 1u8..255)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
    ]
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "REGISTER",
        "INFO",
        "UPDATE",
        "PRACK",
        "SUBSCRIBE",
        "NOTIFY",
        "REFER",
        "MESSAGE",
    ])
}

#[derive(Debug, Clone)]
struct Gen {
    request: bool,
    method: &'static str,
    status: u16,
    user: String,
    host: String,
    port: Option<u16>,
    branch: String,
    tag: String,
    call_id: String,
    seq: u32,
    extra: Vec<(String, String)>,
    body: String,
}

fn message_gen() -> impl Strategy<Value = Gen> {
    (
        any::<bool>(),
        method(),
        100u16..700,
        "[a-z][a-z0-9._-]{0,10}",
        host(),
        prop::option::of(1024u16..65000),
        "[a-zA-Z0-9]{1,16}",
        "[a-zA-Z0-9]{1,12}",
        "[a-zA-Z0-9]{1,20}(@[a-z0-9.]{1,12})?",
        0u32..(1 << 31),
        prop::collection::vec(("X-[A-Za-z]{1,10}", "[a-zA-Z0-9 ;=]{1,20}"), 0..5),
        "[a-z=0-9 \r\n]{0,60}",
    )
        .prop_map(
            |(
                request,
                method,
                status,
                user,
                host,
                port,
                branch,
                tag,
                call_id,
                seq,
                extra,
                body,
            )| Gen {
                request,
                method,
                status,
                user,
                host,
                port,
                branch,
                tag,
                call_id,
                seq,
                extra: extra
                    .into_iter()
                    .map(|(n, v)| (n, v.trim().to_string()))
                    .filter(|(_, v)| !v.is_empty())
                    .collect(),
                body,
            },
        )
}

fn render(g: &Gen) -> String {
    let hostport = match g.port {
        Some(p) => format!("{}:{p}", g.host),
        None => g.host.clone(),
    };
    let start = if g.request {
        format!("{} sip:{}@{} SIP/2.0\r\n", g.method, g.user, hostport)
    } else {
        format!("SIP/2.0 {} Whatever\r\n", g.status)
    };
    let mut s = start;
    s += &format!("Via: SIP/2.0/UDP {hostport};branch=z9hG4bK{}\r\n", g.branch);
    s += "Max-Forwards: 70\r\n";
    s += &format!("From: <sip:{}@{}>;tag={}\r\n", g.user, g.host, g.tag);
    s += &format!("To: <sip:{}@{}>\r\n", g.user, g.host);
    s += &format!("Call-ID: {}\r\n", g.call_id);
    s += &format!("CSeq: {} {}\r\n", g.seq, g.method);
    for (n, v) in &g.extra {
        s += &format!("{n}: {v}\r\n");
    }
    s += &format!("Content-Length: {}\r\n\r\n{}", g.body.len(), g.body);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_rsip(g in message_gen()) {
        let text = render(&g);
        let ours = Message::parse(text.clone().into_bytes());
        let theirs = rsip::SipMessage::try_from(text.as_bytes());
        // We accept everything we generate (all of it is valid SIP).
        let ours = ours.map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        let Ok(theirs) = theirs else {
            return Ok(());
        };
        match (&ours, &theirs) {
            (Message::Request(a), rsip::SipMessage::Request(b)) => {
                prop_assert_eq!(a.method.as_str(), b.method().to_string());
            }
            (Message::Response(a), rsip::SipMessage::Response(b)) => {
                prop_assert_eq!(a.status.as_u16(), b.status_code().code());
            }
            _ => prop_assert!(false, "request/response disagreement"),
        }
        let call_id = theirs.call_id_header().map(|c| c.value().to_string()).ok();
        prop_assert_eq!(ours.call_id().ok().map(|c| c.to_string()), call_id);
        let cseq = theirs.cseq_header().ok().and_then(|c| c.seq().ok());
        prop_assert_eq!(ours.cseq().ok().map(|c| c.seq), cseq);
        prop_assert_eq!(ours.headers().len(), rsip_headers(&theirs));
        prop_assert_eq!(&ours.body()[..], theirs.body());
    }
}

fn rsip_headers(m: &rsip::SipMessage) -> usize {
    match m {
        rsip::SipMessage::Request(r) => r.headers().iter().count(),
        rsip::SipMessage::Response(r) => r.headers().iter().count(),
    }
}
