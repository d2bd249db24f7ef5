//! Typed views of the simpler headers a user agent reads (Event,
//! Subscription-State, Replaces, Reason, Content-Type) and the
//! multipart/mixed body split.

use std::fmt;

use bytes::Bytes;

use super::ParseError;
use super::header::{HeaderName, Headers};
use super::parse::{Limits, find_head_end_bytes, parse_header_block};
use super::text::{Params, SipStr, find_top_level, is_token, split_top_level, sub, trim_lws};

/// A `Content-Type` value: `type/subtype;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Type, as written (compare case-insensitively).
    pub kind: SipStr,
    /// Subtype, as written.
    pub subtype: SipStr,
    /// Parameters (boundary, charset, ...).
    pub params: Params,
}

impl MediaType {
    /// Parses `type/subtype;params`.
    pub fn parse_value(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let s = trim_lws(s);
        let (mt, params) = match find_top_level(s, b';') {
            Some(i) => {
                let (m, p) = s.split_at_checked(i).ok_or("bad media type")?;
                (trim_lws(m), Params::parse_in(parent, p)?)
            }
            None => (s, Params::new()),
        };
        let (kind, subtype) = mt.split_once('/').ok_or("media type without '/'")?;
        let (kind, subtype) = (trim_lws(kind), trim_lws(subtype));
        if !is_token(kind) || !is_token(subtype) {
            return Err("bad media type");
        }
        Ok(Self {
            kind: sub(parent, kind),
            subtype: sub(parent, subtype),
            params,
        })
    }

    /// Whether this is `kind/subtype` (case-insensitive).
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// `type/subtype` lower-cased, without parameters.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype).to_ascii_lowercase()
    }

    /// Whether this media range (`*/*`, `type/*`, `type/subtype`, as in
    /// Accept) covers `essence` (`type/subtype`).
    pub fn covers(&self, essence: &str) -> bool {
        let (k, s) = essence.split_once('/').unwrap_or((essence, ""));
        (&*self.kind == "*" || self.kind.eq_ignore_ascii_case(k))
            && (&*self.subtype == "*" || self.subtype.eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.kind, self.subtype, self.params)
    }
}

/// An `Event` value (RFC 6665): package, optional `id`, other parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Event package (`refer`, `presence`, `dialog`, ...), with template.
    pub package: SipStr,
    /// Parameters (`id`, ...).
    pub params: Params,
}

impl Event {
    /// Parses `refer;id=93809824`.
    pub fn parse_value(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let (package, params) = token_and_params(parent, s)?;
        Ok(Self { package, params })
    }

    /// The `id` parameter.
    pub fn id(&self) -> Option<&str> {
        self.params.get("id")
    }
}

/// A `Subscription-State` value (RFC 6665).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// `active`, `pending`, `terminated` or an extension, as written.
    pub state: SipStr,
    /// Parameters (`expires`, `reason`, `retry-after`, ...).
    pub params: Params,
}

impl SubscriptionState {
    /// Parses `active;expires=60`.
    pub fn parse_value(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let (state, params) = token_and_params(parent, s)?;
        Ok(Self { state, params })
    }

    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        self.params.get("expires").and_then(|v| v.parse().ok())
    }

    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&str> {
        self.params.get("reason")
    }

    /// Whether the state is `terminated`.
    pub fn is_terminated(&self) -> bool {
        self.state.eq_ignore_ascii_case("terminated")
    }
}

/// A `Replaces` value (RFC 3891).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    /// Call-ID of the dialog to replace.
    pub call_id: SipStr,
    /// Its `to-tag`.
    pub to_tag: SipStr,
    /// Its `from-tag`.
    pub from_tag: SipStr,
    /// `early-only` present.
    pub early_only: bool,
}

impl Replaces {
    /// Parses `callid;to-tag=a;from-tag=b[;early-only]`.
    pub fn parse_value(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let s = trim_lws(s);
        let (call_id, rest) = match s.find(';') {
            Some(i) => s.split_at_checked(i).ok_or("bad Replaces")?,
            None => (s, ""),
        };
        let call_id = trim_lws(call_id);
        if call_id.is_empty() || call_id.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err("bad Replaces Call-ID");
        }
        let params = Params::parse_in(parent, rest)?;
        let to_tag = params.get("to-tag").ok_or("Replaces without to-tag")?;
        let from_tag = params.get("from-tag").ok_or("Replaces without from-tag")?;
        Ok(Self {
            call_id: sub(parent, call_id),
            to_tag: sub(parent, to_tag),
            from_tag: sub(parent, from_tag),
            early_only: params.contains("early-only"),
        })
    }
}

/// One `Reason` value (RFC 3326): `SIP;cause=200;text="Call completed"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// Protocol (`SIP`, `Q.850`, ...).
    pub protocol: SipStr,
    /// The `cause` parameter.
    pub cause: Option<u16>,
    /// The `text` parameter, unquoted.
    pub text: Option<SipStr>,
    /// All parameters.
    pub params: Params,
}

impl Reason {
    /// Parses one Reason item.
    pub fn parse_item(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let (protocol, params) = token_and_params(parent, s)?;
        let cause = match params.get("cause") {
            Some(c) => Some(c.parse().map_err(|_| "bad Reason cause")?),
            None => None,
        };
        let text = params.get("text").map(|t| sub(parent, t));
        Ok(Self {
            protocol,
            cause,
            text,
            params,
        })
    }
}

fn token_and_params(parent: &SipStr, s: &str) -> Result<(SipStr, Params), &'static str> {
    let s = trim_lws(s);
    let (tok, rest) = match s.find(';') {
        Some(i) => s.split_at_checked(i).ok_or("bad value")?,
        None => (s, ""),
    };
    let tok = trim_lws(tok);
    if !is_token(tok) {
        return Err("bad token");
    }
    Ok((sub(parent, tok), Params::parse_in(parent, rest)?))
}

/// One part of a multipart body: its MIME headers and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPart {
    /// The part's header fields (Content-Type, Content-Disposition, ...).
    pub headers: Headers,
    /// The part's content (a slice of the message body).
    pub body: Bytes,
}

impl BodyPart {
    /// The part's Content-Type, if present and well-formed.
    pub fn content_type(&self) -> Option<MediaType> {
        let (parent, v) = self.headers.get_in(&HeaderName::ContentType)?;
        MediaType::parse_value(parent, v).ok()
    }
}

/// Splits a `multipart/*` body (RFC 2046 §5.1) at `boundary`. Parts are
/// slices of `body` (no copy). Fails on a missing boundary, a missing
/// close delimiter or malformed part headers.
pub fn split_multipart(boundary: &str, body: &Bytes) -> Result<Vec<BodyPart>, ParseError> {
    const BAD: ParseError = ParseError::Invalid("malformed multipart body");
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(BAD);
    }
    let mut delim = Vec::with_capacity(boundary.len() + 2);
    delim.extend_from_slice(b"--");
    delim.extend_from_slice(boundary.as_bytes());
    let finder = memchr::memmem::Finder::new(&delim);
    // Every delimiter starts a line: at the very beginning or after LF.
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(i) = body.get(from..).and_then(|b| finder.find(b)) {
        let at = from + i;
        if at == 0 || body.get(at - 1) == Some(&b'\n') {
            starts.push(at);
        }
        from = at + delim.len();
    }
    let mut parts = Vec::new();
    let mut closed = false;
    for (n, &at) in starts.iter().enumerate() {
        let after = at + delim.len();
        if body.get(after..after + 2) == Some(b"--") {
            closed = true;
            break;
        }
        // Skip transport padding up to the end of the delimiter line.
        let line_end = body
            .get(after..)
            .and_then(|b| memchr::memchr(b'\n', b))
            .map(|i| after + i + 1)
            .ok_or(BAD)?;
        let next = *starts.get(n + 1).ok_or(BAD)?;
        // The CRLF before the next delimiter belongs to the delimiter.
        let mut end = next;
        if end > line_end && body.get(end - 1) == Some(&b'\n') {
            end -= 1;
            if end > line_end && body.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
        }
        if end < line_end {
            return Err(BAD);
        }
        let part = body.slice(line_end..end);
        parts.push(parse_part(part)?);
    }
    if !closed {
        return Err(BAD);
    }
    Ok(parts)
}

fn parse_part(part: Bytes) -> Result<BodyPart, ParseError> {
    // A part with no headers starts with its empty line.
    if part.starts_with(b"\r\n") || part.starts_with(b"\n") {
        let skip = if part.starts_with(b"\r\n") { 2 } else { 1 };
        return Ok(BodyPart {
            headers: Headers::new(),
            body: part.slice(skip..),
        });
    }
    let head_end = find_head_end_bytes(&part)
        .ok_or(ParseError::Invalid("multipart part without header end"))?;
    let head = SipStr::try_from(part.slice(..head_end)).map_err(|_| ParseError::NotUtf8)?;
    let headers = parse_header_block(&head, &Limits::default())?;
    Ok(BodyPart {
        headers,
        body: part.slice(head_end..),
    })
}

/// Checks that no `name` header has an empty item (`a,,b` or a trailing
/// comma), which RFC 3261 lists never contain; then
/// [`Headers::items`] yields every item.
pub(crate) fn check_no_empty_item(
    headers: &Headers,
    name: &HeaderName,
) -> Result<(), &'static str> {
    for v in headers.get_all(name) {
        let mut rest: &str = v;
        loop {
            let end = find_top_level(rest, b',').unwrap_or(rest.len());
            let (piece, tail) = rest.split_at_checked(end).ok_or("bad list")?;
            if trim_lws(piece).is_empty() {
                return Err("empty list item");
            }
            match tail.strip_prefix(',') {
                Some(t) => rest = t,
                None => break,
            }
        }
    }
    Ok(())
}

/// Parses every item of every `name` header with `parse`, after checking
/// that none is empty, handing each to `each` (with its index); the first
/// failure is the error. Allocates nothing.
pub(crate) fn for_each_item<T>(
    headers: &Headers,
    name: &HeaderName,
    parse: fn(&SipStr, &str) -> Result<T, &'static str>,
    mut each: impl FnMut(usize, T),
) -> Result<(), &'static str> {
    // Common case: no value holds a comma, so each value is one item
    // (an empty one is the empty-item error, reported before any parse
    // error as below).
    let mut single = true;
    for v in headers.get_all(name) {
        if trim_lws(v).is_empty() {
            return Err("empty list item");
        }
        single &= memchr::memchr(b',', v.as_bytes()).is_none();
    }
    if single {
        for (i, (parent, v)) in headers.get_all_in(name).enumerate() {
            each(i, parse(parent, trim_lws(v))?);
        }
        return Ok(());
    }
    check_no_empty_item(headers, name)?;
    for (i, (parent, item)) in headers.items(name).enumerate() {
        each(i, parse(parent, item)?);
    }
    Ok(())
}

/// Splits a token list (Require, Supported, Allow, ...) into tokens.
pub(crate) fn token_list(v: &str) -> impl Iterator<Item = &str> {
    split_top_level(v, b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let s = SipStr::from("multipart/mixed;boundary=\"abc\"");
        let m = MediaType::parse_value(&s, &s).unwrap();
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.params.get("boundary"), Some("abc"));
        let star = SipStr::from("application/*");
        let r = MediaType::parse_value(&star, &star).unwrap();
        assert!(r.covers("application/sdp"));
        assert!(!r.covers("text/plain"));
    }

    #[test]
    fn simple_typed_headers() {
        let s = SipStr::from("refer;id=93809824");
        let e = Event::parse_value(&s, &s).unwrap();
        assert_eq!(&*e.package, "refer");
        assert_eq!(e.id(), Some("93809824"));
        let s = SipStr::from("terminated;reason=noresource");
        let st = SubscriptionState::parse_value(&s, &s).unwrap();
        assert!(st.is_terminated());
        assert_eq!(st.reason(), Some("noresource"));
        let s = SipStr::from("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only");
        let r = Replaces::parse_value(&s, &s).unwrap();
        assert_eq!(&*r.call_id, "98732@sip.example.com");
        assert_eq!(&*r.to_tag, "ff87ff");
        assert!(r.early_only);
        let s = SipStr::from("Q.850;cause=16;text=\"Terminated\"");
        let r = Reason::parse_item(&s, &s).unwrap();
        assert_eq!(r.cause, Some(16));
        assert_eq!(r.text.as_deref(), Some("Terminated"));
    }

    #[test]
    fn multipart_split() {
        let body = Bytes::from_static(
            b"--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--b1\r\nContent-Type: application/pidf+xml\r\n\r\n<x/>\r\n--b1--\r\n",
        );
        let parts = split_multipart("b1", &body).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].content_type().unwrap().is("application", "sdp"));
        assert_eq!(&parts[0].body[..], b"v=0\r\n");
        assert_eq!(&parts[1].body[..], b"<x/>");
        assert!(split_multipart("b1", &Bytes::from_static(b"--b1\r\n\r\nx")).is_err());
        assert!(split_multipart("zz", &body).is_err());
    }
}
