//! What a UAS does with a received message before any application
//! decision: accept it, reject it with the RFC's response, or drop it.
//!
//! The UAS core calls [`validate_request`] on every request that parsed
//! (RFC 3261 §8.2.1-§8.2.3, in that order), [`validate_response`] on every
//! response (§8.1.3.3: a malformed response is discarded), and
//! [`best_effort_rejection`] on bytes that did not parse at all (a 400 if
//! Via, From, To, Call-ID and CSeq can still be found, else silence).
//! [`inspect`] does all three for one datagram; `siplint` prints its
//! [`Verdict`].
//!
//! The checks, in order (the first failure decides):
//!
//! | check | outcome |
//! | --- | --- |
//! | SIP version is 2.0 | 505 |
//! | Via present, every item well-formed, no empty item | 400 (no Via: drop) |
//! | top Via branch is not the bare magic cookie `z9hG4bK` | 400 |
//! | exactly one well-formed From, To, Call-ID, CSeq (sequence < 2^31) | 400 |
//! | Request-URI scheme supported | 416 |
//! | Request-URI carries no `?headers` | 400 |
//! | method implemented | 501 (unknown method) / 405 (known, not allowed), with Allow |
//! | CSeq method equals the request method | 400 |
//! | Max-Forwards, Expires numeric; Contact well-formed (`*` only in REGISTER) | 400 |
//! | REGISTER's To is a SIP or SIPS URI | 400 |
//! | every Require option tag supported (not for ACK/CANCEL) | 420 with Unsupported |
//! | body: Content-Type present and well-formed | 400 |
//! | body: Content-Encoding identity, Content-Type supported (unless `handling=optional`) | 415 with Accept-Encoding / Accept |
//! | INVITE: Accept (if any) admits application/sdp | 406 with Warning 399 |
//!
//! An ACK is never answered: a failed ACK is dropped.
//!
//! Cost: the checks read the typed views of the headers they need (a few
//! hundred nanoseconds for a typical INVITE), allocate only to build a
//! Rejection, and never panic.

use std::fmt;

use bytes::Bytes;

use super::header::{Header, HeaderName, Headers, NameAddr, Via};
use super::method::{Method, StatusCode};
use super::text::SipStr;
use super::typed::MediaType;
use super::{Message, ParseError, Request, Response, SipMessage};

/// What a UAS supports: decides 405/501, 420, 415 and 416.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UasCapabilities {
    /// Methods implemented (listed in Allow of 405/501).
    pub methods: Vec<Method>,
    /// Option tags supported (Require is checked against them).
    pub extensions: Vec<String>,
    /// Body types understood, `type/subtype` lower-case (listed in Accept
    /// of 415).
    pub content_types: Vec<String>,
    /// URI schemes accepted in the Request-URI, lower-case.
    pub uri_schemes: Vec<String>,
}

impl Default for UasCapabilities {
    /// Every method voipkit parses and routes, REGISTER included (what an
    /// element that also processes REGISTER accepts; RFC 4475 assumes
    /// one). A softphone that is no registrar uses
    /// [`UasCapabilities::user_agent`].
    fn default() -> Self {
        Self {
            methods: vec![
                Method::Invite,
                Method::Ack,
                Method::Bye,
                Method::Cancel,
                Method::Options,
                Method::Register,
                Method::Info,
                Method::Update,
                Method::Prack,
                Method::Subscribe,
                Method::Notify,
                Method::Refer,
                Method::Message,
            ],
            extensions: [
                "100rel",
                "replaces",
                "timer",
                "norefersub",
                "outbound",
                "path",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            content_types: [
                "application/sdp",
                "multipart/mixed",
                "text/plain",
                "message/sipfrag",
                "application/dtmf-relay",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            uri_schemes: ["sip", "sips", "tel"]
                .into_iter()
                .map(String::from)
                .collect(),
        }
    }
}

impl UasCapabilities {
    /// A softphone's UAS: the default without REGISTER.
    pub fn user_agent() -> Self {
        let mut c = Self::default();
        c.methods.retain(|m| *m != Method::Register);
        c
    }

    /// Whether `method` is implemented.
    pub fn supports_method(&self, method: &Method) -> bool {
        self.methods.contains(method)
    }

    /// Whether option tag `tag` is supported (case-insensitive).
    pub fn supports_extension(&self, tag: &str) -> bool {
        self.extensions.iter().any(|e| e.eq_ignore_ascii_case(tag))
    }

    /// Whether body type `essence` (`type/subtype`) is understood.
    pub fn supports_content_type(&self, essence: &str) -> bool {
        self.content_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(essence))
    }

    /// Whether Request-URI scheme `scheme` is accepted.
    pub fn supports_scheme(&self, scheme: &str) -> bool {
        self.uri_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// The Allow header value.
    pub fn allow_value(&self) -> String {
        join(self.methods.iter().map(Method::as_str))
    }

    /// The Accept header value.
    pub fn accept_value(&self) -> String {
        join(self.content_types.iter().map(String::as_str))
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for (i, it) in items.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(it);
    }
    s
}

/// Why a request is rejected: the status, a reason phrase saying what is
/// wrong, and the headers the response must carry (Unsupported for 420,
/// Accept for 415, Allow for 405/501, Warning for 406).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The response status.
    pub status: StatusCode,
    /// The reason phrase (says what is wrong; never contains CR or LF).
    pub reason: String,
    /// Extra header fields for the response.
    pub headers: Vec<Header>,
}

impl Rejection {
    /// A rejection with no extra headers. CR/LF in `reason` become spaces.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        let reason: String = reason
            .into()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Self {
            status,
            reason,
            headers: Vec::new(),
        }
    }

    fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// Adds a header to the response.
    pub fn with_header(mut self, name: HeaderName, value: impl Into<SipStr>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }

    /// The response to send (RFC 3261 §8.2.6): Via, From, To, Call-ID and
    /// CSeq copied, `to_tag` added to To if it has none, the extra headers.
    pub fn to_response(&self, req: &Request, to_tag: &str) -> Response {
        let mut r = Response::for_request(req, self.status).with_reason(self.reason.clone());
        add_to_tag(&mut r.headers, to_tag);
        for h in &self.headers {
            r.headers.push_header(h.clone());
        }
        r
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.reason)
    }
}

/// Adds `;tag=` to the To header if it has none (RFC 3261 §8.2.6.2).
fn add_to_tag(headers: &mut Headers, to_tag: &str) {
    let Some(to) = headers.get_shared(&HeaderName::To) else {
        return;
    };
    let has_tag = NameAddr::parse_item(&to, &to).map_or_else(
        |_| to.to_ascii_lowercase().contains(";tag="),
        |na| na.tag().is_some(),
    );
    if !has_tag && !to_tag.is_empty() {
        headers.set(HeaderName::To, format!("{to};tag={to_tag}"));
    }
}

/// Why a received response is discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseDrop {
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ResponseDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn malformed(e: &ParseError) -> Rejection {
    let s = e.to_string();
    let mut c = s.chars();
    let reason = match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    };
    Rejection::bad_request(reason)
}

fn single(req: &impl SipMessage, name: &HeaderName, label: &str) -> Result<(), String> {
    match req.headers().count(name) {
        0 => Err(format!("Missing {label} header")),
        1 => Ok(()),
        _ => Err(format!("More than one {label} header")),
    }
}

/// Checks a parsed request as a UAS does before any application decision
/// (see the module doc for the order). `Ok(())` means: hand it to the
/// transaction/dialog layer.
pub fn validate_request(req: &Request, caps: &UasCapabilities) -> Result<(), Rejection> {
    if !req.version.eq_ignore_ascii_case("2.0") {
        return Err(Rejection::new(
            StatusCode::VERSION_NOT_SUPPORTED,
            format!("Version Not Supported (SIP/{})", req.version),
        ));
    }

    // Mandatory header fields (RFC 3261 §8.1.1); Max-Forwards is not
    // required so that RFC 2543 requests still work (RFC 4475 §3.4.1).
    // Every Via well-formed (checked without collecting them).
    let mut count = 0;
    let mut bare_cookie = false;
    super::typed::for_each_item(
        &req.headers,
        &HeaderName::Via,
        Via::check_item,
        |i, bare| {
            count += 1;
            if i == 0 {
                bare_cookie = bare;
            }
        },
    )
    .map_err(|reason| {
        malformed(&ParseError::BadHeader {
            header: "Via",
            reason,
        })
    })?;
    if count == 0 {
        return Err(Rejection::bad_request("Missing Via header"));
    }
    if bare_cookie {
        return Err(Rejection::bad_request(
            "Via branch has the magic cookie but no transaction identifier",
        ));
    }
    // Exactly one of each (counted in one pass), then each well-formed:
    // From and To checked without building them (To is built for a
    // REGISTER, whose To must be a SIP URI).
    let counts = req.headers.count_known([
        &HeaderName::From,
        &HeaderName::To,
        &HeaderName::CallId,
        &HeaderName::CSeq,
    ]);
    for (n, label) in counts.into_iter().zip(["From", "To", "Call-ID", "CSeq"]) {
        match n {
            0 => return Err(Rejection::bad_request(format!("Missing {label} header"))),
            1 => {}
            _ => {
                return Err(Rejection::bad_request(format!(
                    "More than one {label} header"
                )));
            }
        }
    }
    for (name, label) in [(HeaderName::From, "From"), (HeaderName::To, "To")] {
        if let Some((parent, v)) = req.headers.get_in(&name) {
            NameAddr::check_item(parent, v).map_err(|reason| {
                malformed(&ParseError::BadHeader {
                    header: label,
                    reason,
                })
            })?;
        }
    }
    req.call_id().map_err(|e| malformed(&e))?;
    let cseq = req.cseq().map_err(|e| malformed(&e))?;

    // Request-URI (§8.2.2.1).
    let scheme = req.uri().scheme();
    if !caps.supports_scheme(scheme) {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_URI_SCHEME,
            format!("Unsupported URI Scheme ({})", scheme.to_ascii_lowercase()),
        ));
    }
    if req.uri().as_sip().is_some_and(|u| u.headers().is_some()) {
        return Err(Rejection::bad_request(
            "Request-URI must not contain headers",
        ));
    }

    // Method (§8.2.1).
    if !caps.supports_method(&req.method) {
        let known = !matches!(req.method, Method::Other(_));
        let (status, reason) = if known {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                format!("Method Not Allowed ({})", req.method),
            )
        } else {
            (
                StatusCode::NOT_IMPLEMENTED,
                format!("Not Implemented ({})", req.method),
            )
        };
        return Err(
            Rejection::new(status, reason).with_header(HeaderName::Allow, caps.allow_value())
        );
    }
    if cseq.method != req.method {
        return Err(Rejection::bad_request(format!(
            "CSeq method {} does not match request method {}",
            cseq.method, req.method
        )));
    }

    // Other header fields whose values matter to the UAS (absent ones
    // are not looked for).
    let present = req.headers.known_mask();
    let has = |name: &HeaderName| Headers::may_have(present, name);
    if has(&HeaderName::MaxForwards) {
        req.max_forwards().map_err(|e| malformed(&e))?;
    }
    if has(&HeaderName::Expires) {
        req.expires().map_err(|e| malformed(&e))?;
    }
    if req.is_contact_star() {
        if req.method != Method::Register {
            return Err(Rejection::bad_request("Contact * outside REGISTER"));
        }
    } else {
        super::typed::for_each_item(
            &req.headers,
            &HeaderName::Contact,
            NameAddr::check_item,
            |_, ()| {},
        )
        .map_err(|reason| {
            malformed(&ParseError::BadHeader {
                header: "Contact",
                reason,
            })
        })?;
    }
    if req.method == Method::Register && req.to().is_ok_and(|to| to.uri.as_sip().is_none()) {
        return Err(Rejection::bad_request(
            "To of a REGISTER must be a SIP or SIPS URI",
        ));
    }

    // Extensions (§8.2.2.3).
    if !matches!(req.method, Method::Ack | Method::Cancel) && has(&HeaderName::Require) {
        let unsupported: Vec<&str> = req
            .tokens(&HeaderName::Require)
            .filter(|t| !caps.supports_extension(t))
            .collect();
        if !unsupported.is_empty() {
            return Err(Rejection::new(
                StatusCode::BAD_EXTENSION,
                format!("Bad Extension ({})", join(unsupported.iter().copied())),
            )
            .with_header(HeaderName::Unsupported, join(unsupported.into_iter())));
        }
    }

    // Content processing (§8.2.3).
    check_body(req, caps, present)?;

    // An INVITE's answer carries SDP: the UAC must accept it.
    if req.method == Method::Invite && has(&HeaderName::Accept) {
        check_accept(req)?;
    }
    Ok(())
}

fn check_body(req: &Request, caps: &UasCapabilities, present: u64) -> Result<(), Rejection> {
    let has = |name: &HeaderName| Headers::may_have(present, name);
    let media = if has(&HeaderName::ContentType) {
        req.media_type().map_err(|e| malformed(&e))?
    } else {
        None
    };
    if req.body.is_empty() {
        return Ok(());
    }
    let Some(media) = media else {
        return Err(Rejection::bad_request("Body without Content-Type"));
    };
    if let Some(enc) = has(&HeaderName::ContentEncoding)
        .then(|| req.headers.get(&HeaderName::ContentEncoding))
        .flatten()
    {
        let unsupported =
            super::typed::token_list(enc).any(|e| !e.eq_ignore_ascii_case("identity"));
        if unsupported {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported Content-Encoding ({enc})"),
            )
            .with_header(HeaderName::AcceptEncoding, "identity"));
        }
    }
    let optional = has(&HeaderName::ContentDisposition)
        && req
            .headers
            .get(&HeaderName::ContentDisposition)
            .is_some_and(|d| {
                d.to_ascii_lowercase()
                    .replace([' ', '\t'], "")
                    .contains("handling=optional")
            });
    let supported = caps
        .content_types
        .iter()
        .any(|t| t.split_once('/').is_some_and(|(k, s)| media.is(k, s)));
    if !optional && !supported {
        let essence = media.essence();
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Media Type ({essence})"),
        )
        .with_header(HeaderName::Accept, caps.accept_value()));
    }
    Ok(())
}

fn check_accept(req: &Request) -> Result<(), Rejection> {
    let mut any = false;
    let mut sdp = false;
    for (parent, item) in req.headers.items(&HeaderName::Accept) {
        any = true;
        if MediaType::parse_value(parent, item).is_ok_and(|m| m.covers("application/sdp")) {
            sdp = true;
        }
    }
    if any && !sdp {
        return Err(Rejection::new(
            StatusCode::new(406).unwrap_or(StatusCode::BAD_REQUEST),
            "Not Acceptable (Accept excludes application/sdp)",
        )
        .with_header(
            HeaderName::Warning,
            "399 voipkit \"an answer can only be application/sdp, which Accept excludes\"",
        ));
    }
    Ok(())
}

/// Checks a received response as a UAC does (RFC 3261 §8.1.3.3): version
/// 2.0, exactly one Via, one well-formed From, To, Call-ID and CSeq. A
/// failure means: discard it silently.
pub fn validate_response(resp: &Response) -> Result<(), ResponseDrop> {
    let drop = |reason: String| ResponseDrop { reason };
    if !resp.version.eq_ignore_ascii_case("2.0") {
        return Err(drop(format!("unsupported version SIP/{}", resp.version)));
    }
    let vias = resp.vias().map_err(|e| drop(e.to_string()))?;
    match vias.len() {
        0 => return Err(drop("missing Via".into())),
        1 => {}
        n => return Err(drop(format!("{n} Via values in a response"))),
    }
    for (name, label) in [
        (HeaderName::From, "From"),
        (HeaderName::To, "To"),
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::CSeq, "CSeq"),
    ] {
        single(resp, &name, label).map_err(drop)?;
    }
    resp.from().map_err(|e| drop(e.to_string()))?;
    resp.to().map_err(|e| drop(e.to_string()))?;
    resp.call_id().map_err(|e| drop(e.to_string()))?;
    resp.cseq().map_err(|e| drop(e.to_string()))?;
    Ok(())
}

/// For bytes that do not parse as a message: the 400 (513 if too large) a
/// UAS still sends when the start line looks like a request and Via,
/// From, To, Call-ID and CSeq can be found; the reason phrase says what is
/// wrong. `None`: drop (a response, or nothing to address a response to).
pub fn best_effort_rejection(bytes: &[u8], error: &ParseError, to_tag: &str) -> Option<Response> {
    let bytes = bytes.get(
        bytes
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count()..,
    )?;
    if bytes.len() >= 4 && bytes.get(..4)?.eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    // Only the head: up to the first empty line, or all of it.
    let head_end = super::parse::find_head_end_bytes(bytes).unwrap_or(bytes.len());
    let head = bytes.get(..head_end)?;
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.next()?; // start line
    let mut copied = Headers::with_capacity(8);
    let mut found = [false; 5];
    for line in lines {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            continue; // folded: not needed for these five
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = HeaderName::from(name.trim_end_matches([' ', '\t']));
        let slot = match name {
            HeaderName::Via => 0,
            HeaderName::From => 1,
            HeaderName::To => 2,
            HeaderName::CallId => 3,
            HeaderName::CSeq => 4,
            _ => continue,
        };
        let value = value.trim_matches([' ', '\t']);
        if value.is_empty() {
            continue;
        }
        if let Some(f) = found.get_mut(slot) {
            *f = true;
        }
        copied.push(name, value.to_owned());
    }
    if !found.iter().all(|f| *f) {
        return None;
    }
    let status = match error {
        ParseError::TooLarge { .. } => StatusCode::MESSAGE_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    let reason = malformed(error).reason;
    let mut r = Response::new(status).with_reason(reason);
    r.headers = copied;
    add_to_tag(&mut r.headers, to_tag);
    Some(r)
}

/// What a voipkit UAS does with a received message before any
/// application decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the transaction layer.
    Accept,
    /// Answer with this response.
    Reject(Rejection),
    /// Discard it silently; the string says why.
    Drop(String),
}

impl fmt::Display for Verdict {
    /// `accept`, `reject STATUS REASON` or `drop`: siplint's output line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Reject(r) => write!(f, "reject {r}"),
            Verdict::Drop(_) => f.write_str("drop"),
        }
    }
}

/// The result of [`inspect`].
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The decision.
    pub verdict: Verdict,
    /// The parsed message, if it parsed.
    pub message: Option<Message>,
    /// The parse error, if it did not.
    pub error: Option<ParseError>,
    raw: Bytes,
}

impl Inspection {
    /// The response to send for a `Reject` verdict (with `to_tag` added to
    /// To when it has none), `None` otherwise.
    pub fn response(&self, to_tag: &str) -> Option<Response> {
        let Verdict::Reject(rej) = &self.verdict else {
            return None;
        };
        match (&self.message, &self.error) {
            (Some(Message::Request(req)), _) => Some(rej.to_response(req, to_tag)),
            (_, Some(e)) => best_effort_rejection(&self.raw, e, to_tag),
            _ => None,
        }
    }
}

/// Parses one datagram and decides what a UAS does with it: the library
/// function behind `siplint` and the conformance tests.
pub fn inspect(bytes: impl Into<Bytes>, caps: &UasCapabilities) -> Inspection {
    let raw: Bytes = bytes.into();
    match Message::parse(raw.clone()) {
        Ok(Message::Request(req)) => {
            let verdict = match validate_request(&req, caps) {
                Ok(()) => Verdict::Accept,
                Err(_) if req.method == Method::Ack => {
                    Verdict::Drop("malformed ACK (an ACK is never answered)".into())
                }
                Err(_) if !req.headers.contains(&HeaderName::Via) => {
                    Verdict::Drop("no Via to send a response to".into())
                }
                Err(r) => Verdict::Reject(r),
            };
            Inspection {
                verdict,
                message: Some(Message::Request(req)),
                error: None,
                raw,
            }
        }
        Ok(Message::Response(resp)) => {
            let verdict = match validate_response(&resp) {
                Ok(()) => Verdict::Accept,
                Err(d) => Verdict::Drop(d.reason),
            };
            Inspection {
                verdict,
                message: Some(Message::Response(resp)),
                error: None,
                raw,
            }
        }
        Err(e) => {
            let verdict = match best_effort_rejection(&raw, &e, "") {
                Some(r) => Verdict::Reject(Rejection {
                    status: r.status,
                    reason: r.reason.to_string(),
                    headers: Vec::new(),
                }),
                None => Verdict::Drop(e.to_string()),
            };
            Inspection {
                verdict,
                message: None,
                error: Some(e),
                raw,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: c1\r\n\
CSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    fn verdict(s: &str) -> Verdict {
        inspect(s.as_bytes().to_vec(), &UasCapabilities::default()).verdict
    }

    #[test]
    fn accepts_and_rejects() {
        assert_eq!(verdict(OPTIONS), Verdict::Accept);
        let v = verdict(&OPTIONS.replace("Max-Forwards: 70", "Require: foo, 100rel"));
        let Verdict::Reject(r) = v else {
            panic!("{v:?}")
        };
        assert_eq!(r.status, StatusCode::BAD_EXTENSION);
        assert_eq!(r.headers[0].value, "foo");
        let v = verdict(&OPTIONS.replace("Call-ID: c1\r\n", ""));
        assert_eq!(v.to_string(), "reject 400 Missing Call-ID header");
    }

    #[test]
    fn rejection_response_copies_and_tags() {
        let insp = inspect(
            OPTIONS
                .replace("OPTIONS sip", "FOO sip")
                .replace("1 OPTIONS", "1 FOO")
                .into_bytes(),
            &UasCapabilities::default(),
        );
        let resp = insp.response("xyz").unwrap();
        assert_eq!(resp.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(resp.to().unwrap().tag(), Some("xyz"));
        assert!(resp.headers.get(&HeaderName::Allow).is_some());
        assert_eq!(resp.top_via().unwrap().branch(), Some("z9hG4bKabc"));
    }

    #[test]
    fn unparsable_gets_best_effort_400() {
        let bad = OPTIONS.replace("sip:bob@example.com SIP", "<sip:bob@example.com> SIP");
        let insp = inspect(bad.into_bytes(), &UasCapabilities::default());
        assert!(
            matches!(insp.verdict, Verdict::Reject(ref r) if r.status == StatusCode::BAD_REQUEST)
        );
        let r = insp.response("t").unwrap();
        assert!(r.reason.contains("Request-URI"));
        assert_eq!(r.cseq().unwrap().seq, 1);
        assert_eq!(
            verdict("garbage\r\n\r\n"),
            Verdict::Drop("malformed start line: request line must have three elements".into())
        );
    }
}
