//! SIP messages: the model, the parser, the printer and stream framing.
//!
//! A parsed message keeps the received bytes: the head is shared by the
//! message, each header an offset and length into it, and the body a slice
//! of the same buffer, so parsing copies nothing and touches one reference
//! count per message, not per header. Header values are read as `&str`;
//! typed views (Via, From/To, CSeq, ...) are parsed on demand from them
//! into [`SipStr`]s, which keep short text (tags, branches, hosts) inline
//! and share longer text with the received buffer. Messages built by the
//! stack own their header values, through the same types.
//!
//! How parsing stays fast (see `benches/sip.rs`): one pass over the head
//! with 64-byte masks of line ends and colons (SSE2 on x86_64, a portable
//! loop elsewhere), known header names by a compile-time perfect hash,
//! no UTF-8 pass for an ASCII head, one allocation (the entry vector).
//! Plain header lines (a known name right before the ':', not folded)
//! are read in line in the scan loop; anything else takes the general
//! line reader. Typed views, URIs and parameter lists take one-pass fast
//! paths for the plain forms almost every message carries and fall back
//! to the general parsers for everything else; property tests check that
//! each fast path accepts nothing the general parser rejects and builds
//! the same value. Parameter lists are kept as their (canonical) text and
//! scanned on lookup, so a view with parameters allocates nothing.
//!
//! The Request-URI is checked while parsing (same acceptance as its
//! parser, proptested) and built on the first [`Request::uri`] call;
//! [`validate_request`] checks From, To and Contact the same way, without
//! building them. The rare parts of a [`SipUri`] (password, `?headers`)
//! are boxed, which keeps URIs, name-addrs and messages small to move.
//!
//! `unsafe` is used in three places, each with its argument: reading the
//! inline bytes of a [`SipStr`] as `str`, sharing a head the scan found
//! all-ASCII as a UTF-8 string without a second pass, and the SSE2 mask
//! function (SSE2 is part of the x86_64 baseline; its four unaligned
//! 16-byte loads lie inside the 64-byte array it is given).

mod header;
mod method;
mod parse;
mod scan;
mod stream;
mod text;
mod typed;
mod uri;
mod validate;

use std::fmt;
use std::io::Write as _;
use std::sync::OnceLock;

use bytes::Bytes;
use thiserror::Error;

pub use header::{CSeq, Header, HeaderName, HeaderRef, Headers, NameAddr, Via};
pub use method::{Method, StatusCode};
pub use parse::{Framing, Limits, parse_message};
pub use stream::{StreamFramer, StreamItem};
pub use text::{Param, ParamIter, Params, SipStr, percent_decode};
pub use typed::{BodyPart, Event, MediaType, Reason, Replaces, SubscriptionState, split_multipart};
pub use uri::{Host, SipUri, Uri};
pub use validate::{
    Inspection, Rejection, ResponseDrop, UasCapabilities, Verdict, best_effort_rejection, inspect,
    validate_request, validate_response,
};

pub(crate) use text::{quote, trim_lws};

/// Why bytes are not a SIP message, or a header not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Larger than the configured limit.
    #[error("message larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header lines than the configured limit.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// A header line longer than the configured limit.
    #[error("header line longer than {limit} bytes")]
    HeaderTooLong {
        /// The limit.
        limit: usize,
    },
    /// The header section does not end (no empty line).
    #[error("incomplete message: no end of headers")]
    Incomplete,
    /// The header section is not UTF-8.
    #[error("header section is not valid UTF-8")]
    NotUtf8,
    /// The start line is malformed.
    #[error("malformed start line: {0}")]
    BadStartLine(&'static str),
    /// The Request-URI is malformed.
    #[error("malformed Request-URI: {0}")]
    BadRequestUri(&'static str),
    /// Content-Length says more than was received.
    #[error("Content-Length {declared} larger than the {actual} body bytes received")]
    BodyTooShort {
        /// Declared length.
        declared: usize,
        /// Bytes available.
        actual: usize,
    },
    /// A required header is missing.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header value is malformed.
    #[error("malformed {header} header: {reason}")]
    BadHeader {
        /// Header name.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// Something else is malformed.
    #[error("malformed message: {0}")]
    Invalid(&'static str),
}

/// A SIP request.
///
/// The Request-URI of a received request is checked when the request is
/// parsed (a malformed one fails the parse) and built into a [`Uri`] on
/// the first [`Request::uri`] call: parsing a request that nobody routes
/// by its URI (most of what a user agent receives) does not build it.
#[derive(Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI (see [`Request::uri`], [`Request::set_uri`]).
    uri: RequestUri,
    /// Version after `SIP/`, normally `2.0`.
    pub version: SipStr,
    /// Header fields.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// A SIP response.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Version after `SIP/`, normally `2.0`.
    pub version: SipStr,
    /// Status code.
    pub status: StatusCode,
    /// Reason phrase.
    pub reason: SipStr,
    /// Header fields.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// The Request-URI: built, or the checked text of a received one (an
/// offset and length into the received head) built on first use.
#[derive(Clone)]
struct RequestUri {
    /// Where the text is in `Headers`' received head (received only).
    span: Option<header::Span>,
    parsed: OnceLock<Box<Uri>>,
}

impl RequestUri {
    fn built(uri: Uri) -> Self {
        Self {
            span: None,
            parsed: OnceLock::from(Box::new(uri)),
        }
    }
}

impl PartialEq for Request {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method
            && self.version == other.version
            && self.uri() == other.uri()
            && self.headers == other.headers
            && self.body == other.body
    }
}

impl Eq for Request {}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", self.uri())
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Typed access to the headers every message has. Implemented by
/// [`Request`], [`Response`] and [`Message`].
pub trait SipMessage {
    /// The header fields.
    fn headers(&self) -> &Headers;
    /// The header fields, mutably.
    fn headers_mut(&mut self) -> &mut Headers;
    /// The body.
    fn body(&self) -> &Bytes;

    /// The Call-ID.
    fn call_id(&self) -> Result<&str, ParseError> {
        check_call_id(self.headers().get(&HeaderName::CallId))
    }

    /// The CSeq.
    fn cseq(&self) -> Result<CSeq, ParseError> {
        let (parent, v) = self
            .headers()
            .get_in(&HeaderName::CSeq)
            .ok_or(ParseError::Missing("CSeq"))?;
        CSeq::parse_value(parent, v).map_err(|reason| ParseError::BadHeader {
            header: "CSeq",
            reason,
        })
    }

    /// The From header.
    fn from(&self) -> Result<NameAddr, ParseError> {
        single_name_addr(self.headers(), &HeaderName::From, "From")
    }

    /// The To header.
    fn to(&self) -> Result<NameAddr, ParseError> {
        single_name_addr(self.headers(), &HeaderName::To, "To")
    }

    /// Every Via item, top first. An empty item (`a,,b`) is an error.
    fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::with_capacity(2);
        typed::for_each_item(self.headers(), &HeaderName::Via, Via::parse_item, |_, v| {
            out.push(v)
        })
        .map_err(|reason| ParseError::BadHeader {
            header: "Via",
            reason,
        })?;
        Ok(out)
    }

    /// What the transaction and dialog layers read from every message,
    /// in one call: the top Via, CSeq, Call-ID and the From and To tags.
    /// From and To are checked as [`SipMessage::from`] and
    /// [`SipMessage::to`] check them, without building them. The error is
    /// that of the first of [`SipMessage::top_via`],
    /// [`SipMessage::cseq`], [`SipMessage::call_id`],
    /// [`SipMessage::from`], [`SipMessage::to`] that fails.
    fn keys(&self) -> Result<MessageKeys<'_>, ParseError> {
        let top_via = self.top_via()?;
        let cseq = self.cseq()?;
        let call_id = self.call_id()?;
        let from_tag = single_tag(self.headers(), &HeaderName::From, "From")?;
        let to_tag = single_tag(self.headers(), &HeaderName::To, "To")?;
        Ok(MessageKeys {
            top_via,
            cseq,
            call_id,
            from_tag,
            to_tag,
        })
    }

    /// The topmost Via.
    fn top_via(&self) -> Result<Via, ParseError> {
        if let Some((parent, v)) = self.headers().get_in(&HeaderName::Via)
            && let Some(via) = Via::parse_first_fast(parent, v)
        {
            return Ok(via);
        }
        let (parent, item) = self
            .headers()
            .items(&HeaderName::Via)
            .next()
            .ok_or(ParseError::Missing("Via"))?;
        Via::parse_item(parent, item).map_err(|reason| ParseError::BadHeader {
            header: "Via",
            reason,
        })
    }

    /// Every item of a name-addr list header (Contact, Route,
    /// Record-Route, Path, ...). A Contact of `*` yields an error here; see
    /// [`SipMessage::is_contact_star`].
    fn name_addrs(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        let mut out = Vec::new();
        typed::for_each_item(self.headers(), name, NameAddr::parse_item, |_, v| {
            out.push(v)
        })
        .map_err(|reason| ParseError::BadHeader {
            header: header_label(name),
            reason,
        })?;
        Ok(out)
    }

    /// The Contact items.
    fn contacts(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs(&HeaderName::Contact)
    }

    /// Whether the Contact is the wildcard `*` (un-REGISTER all).
    fn is_contact_star(&self) -> bool {
        self.headers()
            .get(&HeaderName::Contact)
            .is_some_and(|v| trim_lws(v) == "*")
    }

    /// A numeric header (Max-Forwards, Expires, Min-Expires, RSeq, ...).
    fn u32_header(&self, name: &HeaderName) -> Result<Option<u32>, ParseError> {
        let Some(v) = self.headers().get(name) else {
            return Ok(None);
        };
        let v = trim_lws(v);
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadHeader {
                header: header_label(name),
                reason: "not a number",
            });
        }
        // Values beyond u32 saturate (RFC 3261 §20.19 for Expires).
        // Values beyond u32 (any number of digits) saturate.
        Ok(Some(v.parse::<u32>().unwrap_or(u32::MAX)))
    }

    /// Every token of a token-list header (Require, Supported, Allow, ...).
    fn tokens<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.headers().items(name).map(|(_, item)| item)
    }

    /// Whether a token-list header holds `token` (case-insensitive).
    fn has_token(&self, name: &HeaderName, token: &str) -> bool {
        self.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// The Content-Type, without parameters, lower-cased.
    fn content_type(&self) -> Option<String> {
        self.headers().get(&HeaderName::ContentType).map(|v| {
            let t = v.split(';').next().unwrap_or("");
            trim_lws(t).to_ascii_lowercase()
        })
    }

    /// The Content-Type with its parameters (`boundary`, `charset`).
    fn media_type(&self) -> Result<Option<MediaType>, ParseError> {
        let Some((parent, v)) = self.headers().get_in(&HeaderName::ContentType) else {
            return Ok(None);
        };
        MediaType::parse_value(parent, v)
            .map(Some)
            .map_err(|reason| ParseError::BadHeader {
                header: "Content-Type",
                reason,
            })
    }

    /// The body parts of a `multipart/*` body (SDP + something else);
    /// `None` if the body is not multipart.
    fn body_parts(&self) -> Result<Option<Vec<BodyPart>>, ParseError> {
        let Some(mt) = self.media_type()? else {
            return Ok(None);
        };
        if !mt.kind.eq_ignore_ascii_case("multipart") {
            return Ok(None);
        }
        let boundary = mt.params.get("boundary").ok_or(ParseError::BadHeader {
            header: "Content-Type",
            reason: "multipart without boundary",
        })?;
        split_multipart(boundary, self.body()).map(Some)
    }

    /// Max-Forwards (RFC 3261 §20.22; absent in RFC 2543 requests).
    fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        self.u32_header(&HeaderName::MaxForwards)
    }

    /// Expires (delta-seconds, saturating at `u32::MAX`).
    fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.u32_header(&HeaderName::Expires)
    }

    /// Min-Expires (in a 423).
    fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.u32_header(&HeaderName::MinExpires)
    }

    /// RSeq (RFC 3262).
    fn rseq(&self) -> Result<Option<u32>, ParseError> {
        self.u32_header(&HeaderName::RSeq)
    }

    /// The Route items, in order.
    fn routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs(&HeaderName::Route)
    }

    /// The Record-Route items, in order.
    fn record_routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addrs(&HeaderName::RecordRoute)
    }

    /// Option tags in Require.
    fn require(&self) -> Vec<&str> {
        self.tokens(&HeaderName::Require).collect()
    }

    /// Option tags in Supported.
    fn supported(&self) -> Vec<&str> {
        self.tokens(&HeaderName::Supported).collect()
    }

    /// Option tags in Unsupported.
    fn unsupported(&self) -> Vec<&str> {
        self.tokens(&HeaderName::Unsupported).collect()
    }

    /// Methods in Allow.
    fn allow(&self) -> Vec<Method> {
        self.headers()
            .items(&HeaderName::Allow)
            .map(|(parent, m)| Method::parse(parent, m))
            .collect()
    }

    /// The Event header (RFC 6665).
    fn event(&self) -> Result<Option<Event>, ParseError> {
        single_typed(
            self.headers(),
            &HeaderName::Event,
            "Event",
            Event::parse_value,
        )
    }

    /// The Subscription-State header (RFC 6665).
    fn subscription_state(&self) -> Result<Option<SubscriptionState>, ParseError> {
        single_typed(
            self.headers(),
            &HeaderName::SubscriptionState,
            "Subscription-State",
            SubscriptionState::parse_value,
        )
    }

    /// The Refer-To header (RFC 3515).
    fn refer_to(&self) -> Result<Option<NameAddr>, ParseError> {
        single_typed(
            self.headers(),
            &HeaderName::ReferTo,
            "Refer-To",
            NameAddr::parse_item,
        )
    }

    /// The Replaces header (RFC 3891).
    fn replaces(&self) -> Result<Option<Replaces>, ParseError> {
        single_typed(
            self.headers(),
            &HeaderName::Replaces,
            "Replaces",
            Replaces::parse_value,
        )
    }

    /// Every Reason item (RFC 3326).
    fn reasons(&self) -> Result<Vec<Reason>, ParseError> {
        self.headers()
            .items(&HeaderName::Reason)
            .map(|(parent, item)| {
                Reason::parse_item(parent, item).map_err(|reason| ParseError::BadHeader {
                    header: "Reason",
                    reason,
                })
            })
            .collect()
    }
}

fn single_typed<T>(
    headers: &Headers,
    name: &HeaderName,
    label: &'static str,
    parse: fn(&SipStr, &str) -> Result<T, &'static str>,
) -> Result<Option<T>, ParseError> {
    let Some((parent, v)) = headers.get_in(name) else {
        return Ok(None);
    };
    parse(parent, v)
        .map(Some)
        .map_err(|reason| ParseError::BadHeader {
            header: label,
            reason,
        })
}

fn header_label(name: &HeaderName) -> &'static str {
    match name {
        HeaderName::Contact => "Contact",
        HeaderName::Route => "Route",
        HeaderName::RecordRoute => "Record-Route",
        HeaderName::From => "From",
        HeaderName::To => "To",
        HeaderName::MaxForwards => "Max-Forwards",
        HeaderName::Expires => "Expires",
        HeaderName::MinExpires => "Min-Expires",
        HeaderName::RSeq => "RSeq",
        HeaderName::ReferTo => "Refer-To",
        HeaderName::Path => "Path",
        HeaderName::ServiceRoute => "Service-Route",
        HeaderName::SessionExpires => "Session-Expires",
        HeaderName::MinSe => "Min-SE",
        _ => "header",
    }
}

/// What [`SipMessage::keys`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageKeys<'a> {
    /// The topmost Via (branch, sent-by, rport, received).
    pub top_via: Via,
    /// The CSeq.
    pub cseq: CSeq,
    /// The Call-ID.
    pub call_id: &'a str,
    /// The From tag.
    pub from_tag: Option<SipStr>,
    /// The To tag (none in a dialog-creating request).
    pub to_tag: Option<SipStr>,
}

/// The tag of the only `name` header, checked as [`single_name_addr`]
/// checks it.
fn single_tag(
    headers: &Headers,
    name: &HeaderName,
    label: &'static str,
) -> Result<Option<SipStr>, ParseError> {
    let (parent, v) = headers
        .get_single_in(name)
        .map_err(|()| ParseError::BadHeader {
            header: label,
            reason: "more than one",
        })?
        .ok_or(ParseError::Missing(label))?;
    NameAddr::checked_tag(parent, v).map_err(|reason| ParseError::BadHeader {
        header: label,
        reason,
    })
}

/// A Call-ID value (the first Call-ID field's), checked.
fn check_call_id(v: Option<&str>) -> Result<&str, ParseError> {
    let v = v.ok_or(ParseError::Missing("Call-ID"))?;
    if v.is_empty() || v.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::BadHeader {
            header: "Call-ID",
            reason: "empty or contains white space",
        });
    }
    Ok(v)
}

fn single_name_addr(
    headers: &Headers,
    name: &HeaderName,
    label: &'static str,
) -> Result<NameAddr, ParseError> {
    let (parent, v) = headers
        .get_single_in(name)
        .map_err(|()| ParseError::BadHeader {
            header: label,
            reason: "more than one",
        })?
        .ok_or(ParseError::Missing(label))?;
    NameAddr::parse_item(parent, v).map_err(|reason| ParseError::BadHeader {
        header: label,
        reason,
    })
}

/// `SipMessage` for a type with `headers` and `body` fields.
macro_rules! impl_sip_message {
    ($($t:ty),*) => {$(
        impl SipMessage for $t {
            fn headers(&self) -> &Headers {
                &self.headers
            }
            fn headers_mut(&mut self) -> &mut Headers {
                &mut self.headers
            }
            fn body(&self) -> &Bytes {
                &self.body
            }
        }
    )*};
}

impl_sip_message!(Request, Response);

impl SipMessage for Message {
    fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
    fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }
    fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: impl Into<Uri>) -> Self {
        Self {
            method,
            uri: RequestUri::built(uri.into()),
            version: SipStr::from_static("2.0"),
            headers: Headers::with_capacity(12),
            body: Bytes::new(),
        }
    }

    /// A received request (the parser's constructor): the Request-URI
    /// at `uri` in the head `headers` holds, already checked (`parsed`
    /// when the check had to build it anyway).
    pub(crate) fn received(
        method: Method,
        uri: header::Span,
        parsed: Option<Uri>,
        version: SipStr,
        headers: Headers,
        body: Bytes,
    ) -> Self {
        Self {
            method,
            uri: RequestUri {
                span: Some(uri),
                parsed: match parsed {
                    Some(u) => OnceLock::from(Box::new(u)),
                    None => OnceLock::new(),
                },
            },
            version,
            headers,
            body,
        }
    }

    /// The Request-URI (built on the first call for a received request).
    pub fn uri(&self) -> &Uri {
        self.uri.parsed.get_or_init(|| {
            let text = self.uri.span.map_or("", |s| self.headers.received_text(s));
            // The parser checked the text with the same parser: it builds.
            // (Should it not, the text is kept as an opaque URI.)
            Box::new(
                Uri::parse_in(self.headers.received(), text).unwrap_or_else(|_| Uri::Other {
                    scheme: SipStr::new(),
                    rest: SipStr::from(text),
                }),
            )
        })
    }

    /// Replaces the Request-URI.
    pub fn set_uri(&mut self, uri: impl Into<Uri>) {
        self.uri = RequestUri::built(uri.into());
    }

    /// Parses a request from a datagram.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Self, ParseError> {
        match Message::parse(buf)? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => Err(ParseError::Invalid("expected a request")),
        }
    }

    /// Serialises the request, appending to `out`. Content-Length always
    /// states the body's real length.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        match self.uri.span {
            // A received Request-URI is printed as received (it was
            // checked; nothing edits it in place).
            Some(span) => out.extend_from_slice(self.headers.received_text(span).as_bytes()),
            None => {
                let _ = write!(out, "{}", self.uri());
            }
        }
        out.extend_from_slice(b" SIP/");
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }

    /// Serialises the request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

impl Response {
    /// A response with the default reason phrase, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            version: SipStr::from_static("2.0"),
            status,
            reason: SipStr::from_static(status.default_reason()),
            headers: Headers::with_capacity(12),
            body: Bytes::new(),
        }
    }

    /// A response to `req` per RFC 3261 §8.2.6: Via (all), From, To,
    /// Call-ID and CSeq copied. The caller adds a To tag where needed.
    pub fn for_request(req: &Request, status: StatusCode) -> Self {
        let mut r = Self::new(status);
        r.headers.extend_from(&req.headers, |name| {
            matches!(
                name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            )
        });
        if status == StatusCode::TRYING {
            r.headers
                .extend_from(&req.headers, |name| *name == HeaderName::Timestamp);
        }
        r
    }

    /// Sets the reason phrase.
    pub fn with_reason(mut self, reason: impl Into<SipStr>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Parses a response from a datagram.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Self, ParseError> {
        match Message::parse(buf)? {
            Message::Response(r) => Ok(r),
            Message::Request(_) => Err(ParseError::Invalid("expected a response")),
        }
    }

    /// Serialises the response, appending to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = self.status.as_u16();
        out.extend_from_slice(b"SIP/");
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(&[
            b' ',
            b'0' + (code / 100 % 10) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
            b' ',
        ]);
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }

    /// Serialises the response.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

fn write_headers_and_body(headers: &Headers, body: &[u8], out: &mut Vec<u8>) {
    let mut wrote_length = false;
    // Room for the head as received plus the body, in one reservation.
    out.reserve(headers.text_len_hint() + body.len() + 24);
    headers.for_each_text(|is_length, name, value| {
        if is_length {
            if !wrote_length {
                wrote_length = true;
                write_content_length(out, body.len());
            }
            return;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    });
    if !wrote_length {
        write_content_length(out, body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// `Content-Length: n` and CRLF, without the formatting machinery.
fn write_content_length(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(b"Content-Length: ");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or(&[]));
    out.extend_from_slice(b"\r\n");
}

impl Message {
    /// Parses a message received as one datagram, with default limits.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Self, ParseError> {
        parse_message(buf.into(), Framing::Datagram, &Limits::default())
    }

    /// Serialises the message.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// The request, if it is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if it is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_print_parse_round_trip() {
        let uri: Uri = "sip:bob@biloxi.com".parse().unwrap();
        let mut req = Request::new(Method::Invite, uri);
        req.headers.push(
            HeaderName::Via,
            "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport",
        );
        req.headers
            .push(HeaderName::From, "<sip:alice@atlanta.com>;tag=1");
        req.headers.push(HeaderName::To, "<sip:bob@biloxi.com>");
        req.headers.push(HeaderName::CallId, "abc@127.0.0.1");
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        req.headers.push(HeaderName::ContentLength, "999");
        req.body = Bytes::from_static(b"v=0\r\n");
        let bytes = req.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("Content-Length: 5\r\n"));
        let back = Request::parse(bytes).unwrap();
        assert_eq!(back.method, Method::Invite);
        assert_eq!(&back.body[..], b"v=0\r\n");

        let resp = Response::for_request(&back, StatusCode::RINGING);
        let back = Response::parse(resp.to_bytes()).unwrap();
        assert_eq!(back.status, StatusCode::RINGING);
        assert_eq!(back.cseq().unwrap().method, Method::Invite);
        assert_eq!(back.top_via().unwrap().branch(), Some("z9hG4bKabc"));
    }
}
#[cfg(test)]
mod keys_tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]
        /// `keys` agrees with the typed views it stands for.
        #[test]
        fn keys_agree_with_the_views(
            from in proptest::prop_oneof![
                "(\"[a-z <>]{0,5}\" |[a-z]{0,5} )?<sip:[a-z@.:;=]{0,12}>(;(tag|x)=[a-z0-9\"]{0,6}){0,2}",
                "sip:[a-z@.]{0,8}(;tag=[a-z]{0,3})?",
                "[a-z\" <>:@;=.]{0,20}",
            ],
            to in "<sip:b@c>(;tag=[a-z]{1,4})?|[a-z<>:;=@]{0,10}",
            two_from in proptest::prelude::any::<bool>(),
        ) {
            let mut text = format!(
                "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"
            );
            if two_from {
                text.push_str("f: <sip:x@y>;tag=2\r\n");
            }
            text.push_str("\r\n");
            let Ok(m) = Message::parse(text.clone().into_bytes()) else {
                return Ok(());
            };
            let want = (|| -> Result<_, ParseError> {
                let via = m.top_via()?;
                let cseq = m.cseq()?;
                let call_id = m.call_id()?;
                let from = m.from()?;
                let to = m.to()?;
                Ok((via, cseq, call_id, from.tag().map(str::to_owned), to.tag().map(str::to_owned)))
            })();
            match (m.keys(), want) {
                (Ok(k), Ok((via, cseq, call_id, ft, tt))) => {
                    proptest::prop_assert_eq!(k.top_via, via);
                    proptest::prop_assert_eq!(k.cseq, cseq);
                    proptest::prop_assert_eq!(k.call_id, call_id);
                    proptest::prop_assert_eq!(k.from_tag.as_deref(), ft.as_deref(), "{:?}", text);
                    proptest::prop_assert_eq!(k.to_tag.as_deref(), tt.as_deref(), "{:?}", text);
                }
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a, b, "{:?}", text),
                (a, b) => proptest::prop_assert!(false, "{:?}: {:?} vs {:?}", text, a, b.map(|_| ())),
            }
        }
    }
}

#[cfg(test)]
mod size_probe {
    /// Moving a message or a view is a copy: keep them from growing
    /// unnoticed.
    #[test]
    fn sizes() {
        use super::*;
        assert_eq!(size_of::<SipStr>(), 40);
        assert_eq!(size_of::<Option<SipStr>>(), 40);
        assert!(size_of::<Headers>() <= 88);
        assert!(size_of::<SipUri>() <= 136, "{}", size_of::<SipUri>());
        assert!(size_of::<Uri>() <= 136, "{}", size_of::<Uri>());
        assert!(size_of::<Message>() <= 232, "{}", size_of::<Message>());
        assert!(size_of::<NameAddr>() <= 224, "{}", size_of::<NameAddr>());
        assert!(size_of::<Via>() <= 168, "{}", size_of::<Via>());
    }
}
