//! The message parser: limits first, then the start line, header lines
//! (folding, compact names), and the body framed by Content-Length.

use std::sync::LazyLock;

use bytes::{Buf, Bytes};

use super::header::{Headers, Known, NameSlot, Span};
use super::method::{Method, StatusCode};
use super::scan::Scanner;
use super::text::{SipStr, is_lws, is_token, is_token_char, sub, trim_lws};
use super::uri::Uri;
use super::{Message, ParseError, Request, Response};

/// Bounds checked before and while parsing, so that hostile input cannot
/// make the parser allocate or work without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest whole message in bytes.
    pub max_message_size: usize,
    /// Most header lines.
    pub max_headers: usize,
    /// Longest single header line (after unfolding) in bytes.
    pub max_header_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_size: 65_535,
            max_headers: 256,
            max_header_len: 16_384,
        }
    }
}

/// How the message arrived, which decides how its body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A whole datagram (UDP): without Content-Length the body is the rest
    /// of the datagram; bytes beyond Content-Length are ignored.
    Datagram,
    /// A stream (TCP/TLS): Content-Length is mandatory and exact (the
    /// stream framer already cut the message at its end).
    Stream,
}

/// Finds the end of the header section: the offset of the first byte of the
/// body. Accepts CRLFCRLF, and bare LFLF from sloppy senders.
pub(crate) fn find_head_end(buf: &[u8]) -> Option<usize> {
    find_head_end_bytes(buf)
}

/// Finds the end of the header section: one SIMD search for CRLFCRLF
/// (memmem finders built once), then a check that no bare-LF empty line
/// ends the head earlier. Sloppy LF-only heads take the slower line walk.
pub(crate) fn find_head_end_bytes(buf: &[u8]) -> Option<usize> {
    static CRLFCRLF: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));
    static LFLF: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\n\n"));
    static LFCRLF: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(b"\n\r\n"));
    if buf.first() == Some(&b'\n') {
        return Some(1);
    }
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    match CRLFCRLF.find(buf) {
        Some(i) => {
            let head = buf.get(..i + 2)?;
            if LFLF.find(head).is_none() && LFCRLF.find(head).is_none() {
                Some(i + 4)
            } else {
                walk_head_end(buf)
            }
        }
        None => walk_head_end(buf),
    }
}

/// The head end by walking lines: the first empty line (CRLF or LF).
pub(crate) fn walk_head_end(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let rest = buf.get(pos..)?;
        let nl = memchr::memchr(b'\n', rest)?;
        if nl == 0 || (nl == 1 && rest.first() == Some(&b'\r')) {
            return Some(pos + nl + 1);
        }
        pos += nl + 1;
    }
}

/// Parses one message from `buf`.
///
/// Limits are checked first (whole size), then while walking the head
/// (header count, header line length), so hostile input costs at most one
/// pass over `max_message_size` bytes. The head is validated as UTF-8 once
/// and shared by the message; each header is a small entry (known name as
/// one byte, value offset and length) pointing into it, so no value is
/// copied and no reference count is touched per header (folded values are
/// the only ones copied). The entry vector is the one allocation of a
/// typical message.
pub fn parse_message(
    mut buf: Bytes,
    framing: Framing,
    limits: &Limits,
) -> Result<Message, ParseError> {
    if buf.len() > limits.max_message_size {
        return Err(ParseError::TooLarge {
            limit: limits.max_message_size,
        });
    }
    // Leading CRLFs before a start line are tolerated (RFC 3261 §7.5).
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    buf.advance(skip);
    if buf.is_empty() {
        return Err(ParseError::Incomplete);
    }
    // One pass over the head: line ends, names, value spans,
    // Content-Length. A failure is reported as the head's first problem
    // in the order incomplete, not UTF-8, then the line's own error.
    let mut headers = Headers::with_capacity(16);
    let scan = match scan_head(&buf, &mut headers, limits) {
        Ok(scan) => scan,
        Err(e) => return Err(head_error(&buf, e)),
    };
    if u32::try_from(scan.head_end).is_err() {
        return Err(ParseError::TooLarge {
            limit: u32::MAX as usize,
        });
    }
    // `buf` keeps the rest: one reference-count bump at most (none when
    // there is no body).
    let head = buf.split_to(scan.head_end);
    let head = if scan.ascii {
        // SAFETY: the scan found no byte with the high bit set in the
        // head: ASCII, so valid UTF-8.
        unsafe { SipStr::from_utf8_unchecked(head) }
    } else {
        SipStr::try_from(head).map_err(|_| ParseError::NotUtf8)?
    };

    let rest = buf;
    let body = match (scan.content_length, framing) {
        (Some(n), _) if n > rest.len() => {
            return Err(ParseError::BodyTooShort {
                declared: n,
                actual: rest.len(),
            });
        }
        (Some(n), _) => {
            let mut rest = rest;
            rest.truncate(n);
            rest
        }
        (None, Framing::Datagram) => rest,
        (None, Framing::Stream) => return Err(ParseError::Missing("Content-Length")),
    };
    // The message is built in one expression, straight into the return
    // value: no intermediate start-line value to copy.
    let line = head.get(..scan.start_line_end).unwrap_or("");
    if let Some(after) = status_line_rest(line) {
        let (version, status, reason) = parse_status_line(&head, after)?;
        headers.set_received(head);
        return Ok(Message::Response(Response {
            version,
            status,
            reason,
            headers,
            body,
        }));
    }
    let (method, uri, version) = match split_request_line_fast(line) {
        Some(parts) => parts,
        None => split_request_line(line)?,
    };
    // Checked now (a malformed Request-URI fails the parse), built on
    // first use unless the check had to build it.
    let parsed = Uri::check_in(&head, uri).map_err(ParseError::BadRequestUri)?;
    let uri_span = Span {
        start: (uri.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize) as u32,
        len: uri.len() as u32,
    };
    let method = Method::parse(&head, method);
    let version = version_str(&head, version);
    headers.set_received(head);
    Ok(Message::Request(Request::received(
        method, uri_span, parsed, version, headers, body,
    )))
}

/// The error to report for a head the scan rejected with `e`, as if the
/// head end were found first and the head validated as UTF-8 next (so
/// the error does not depend on how far the scan went).
#[cold]
fn head_error(buf: &[u8], e: ParseError) -> ParseError {
    match find_head_end_bytes(buf) {
        None => ParseError::Incomplete,
        Some(end) if std::str::from_utf8(buf.get(..end).unwrap_or(&[])).is_err() => {
            ParseError::NotUtf8
        }
        Some(_) => e,
    }
}

/// Parses a block of header lines (no start line) ending with an empty
/// line: the head of a multipart body part.
pub(crate) fn parse_header_block(head: &SipStr, limits: &Limits) -> Result<Headers, ParseError> {
    if u32::try_from(head.len()).is_err() {
        return Err(ParseError::TooLarge {
            limit: u32::MAX as usize,
        });
    }
    let mut headers = Headers::with_capacity(4);
    scan_lines(head.as_bytes(), 0, &mut headers, limits)?;
    headers.set_received(head.clone());
    Ok(headers)
}

fn check_content_length(seen: &mut Option<usize>, v: &[u8]) -> Result<(), ParseError> {
    let n = parse_content_length(v)?;
    if seen.is_some_and(|c| c != n) {
        return Err(ParseError::Invalid("conflicting Content-Length values"));
    }
    *seen = Some(n);
    Ok(())
}

fn parse_content_length(v: &[u8]) -> Result<usize, ParseError> {
    let v = trim_lws_bytes(v);
    if v.is_empty() || v.len() > 9 {
        return Err(ParseError::Invalid("bad Content-Length"));
    }
    let mut n = 0usize;
    for b in v {
        if !b.is_ascii_digit() {
            return Err(ParseError::Invalid("bad Content-Length"));
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Ok(n)
}

fn trim_lws_bytes(b: &[u8]) -> &[u8] {
    let mut s = b;
    while let [first, rest @ ..] = s {
        if !is_lws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_lws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// One line of `b` starting at `pos`: (end of the line's text, start of
/// the next line). One memchr2 per line finds its end; a CR not followed
/// by LF is an error (it would let a value smuggle a line break into
/// whatever prints it). `None` if no line end follows.
#[inline]
fn line_end(b: &[u8], pos: usize) -> Result<Option<(usize, usize)>, ParseError> {
    let Some(rest) = b.get(pos..) else {
        return Ok(None);
    };
    let Some(i) = memchr::memchr2(b'\r', b'\n', rest) else {
        return Ok(None);
    };
    if rest.get(i) == Some(&b'\r') {
        if rest.get(i + 1) != Some(&b'\n') {
            return Err(ParseError::Invalid("bare CR in a line"));
        }
        Ok(Some((pos + i, pos + i + 2)))
    } else {
        Ok(Some((pos + i, pos + i + 1)))
    }
}

/// Where the scan of a head ended.
struct HeadScan {
    /// End of the start line's text.
    start_line_end: usize,
    /// Offset of the first body byte.
    head_end: usize,
    content_length: Option<usize>,
    /// Whether the head is all ASCII (so valid UTF-8).
    ascii: bool,
}

/// The line ending at the CR or LF at `end`: the start of the next line,
/// or the bare-CR error.
#[inline]
fn after_eol(b: &[u8], end: usize) -> Result<usize, ParseError> {
    if b.get(end) == Some(&b'\r') {
        if b.get(end + 1) != Some(&b'\n') {
            return Err(ParseError::Invalid("bare CR in a line"));
        }
        Ok(end + 2)
    } else {
        Ok(end + 1)
    }
}

/// Scans a message head: the start line, then every header line to the
/// empty line, with the masks of [`Scanner`] (line ends and colons for 64
/// bytes at a time) and a hash lookup of known names (no loop over the
/// name's bytes).
fn scan_head(b: &[u8], headers: &mut Headers, limits: &Limits) -> Result<HeadScan, ParseError> {
    let mut sc = Scanner::new(b);
    let start_line_end = sc.next_eol(0).ok_or(ParseError::Incomplete)?;
    let mut pos = after_eol(b, start_line_end)?;
    let mut content_length: Option<usize> = None;
    loop {
        let line_start = pos;
        let p = sc
            .next_colon_or_eol(line_start)
            .ok_or(ParseError::Incomplete)?;
        if b.get(p) != Some(&b':') {
            // No colon: the empty line that ends the head, or an error.
            pos = after_eol(b, p)?;
            if p == line_start {
                return Ok(HeadScan {
                    start_line_end,
                    head_end: pos,
                    content_length,
                    ascii: sc.ascii_up_to(pos),
                });
            }
            pos = general_line(b, pos, line_start, p, headers, limits, &mut content_length)?;
            continue;
        }
        let end = sc.next_eol(p + 1).ok_or(ParseError::Incomplete)?;
        pos = after_eol(b, end)?;
        // The plain line (almost every one): a known name directly before
        // the ':', within the limits, not folded. What `check_line` and
        // `value_and_push` do, in line.
        let c = p - line_start;
        if (1..=24).contains(&c)
            && headers.len() < limits.max_headers
            && end - line_start <= limits.max_header_len
            && !matches!(b.get(p - 1), Some(b' ' | b'\t'))
            && !matches!(b.get(pos), Some(b' ' | b'\t'))
            // A line starting with SP/HT never matches: no known name
            // has a byte that SP or HT with 0x20 set equals.
            && let Some(k) = Known::lookup_words(name_words_at(b, line_start, c), c)
        {
            let mut vstart = p + 1;
            while vstart < end && matches!(b.get(vstart), Some(b' ' | b'\t')) {
                vstart += 1;
            }
            let mut vend = end;
            while vend > vstart && matches!(b.get(vend - 1), Some(b' ' | b'\t')) {
                vend -= 1;
            }
            if k == Known::ContentLength {
                check_content_length(&mut content_length, b.get(vstart..vend).unwrap_or(&[]))?;
            }
            headers.push_span(
                NameSlot::Known(k),
                Span {
                    start: vstart as u32,
                    len: (vend - vstart) as u32,
                },
            );
            continue;
        }
        pos = general_line(
            b,
            pos,
            line_start,
            end,
            headers,
            limits,
            &mut content_length,
        )?;
    }
}

/// A header line `b[line_start..end]` the plain path of [`scan_head`]
/// does not take (other names, white space before the ':', folding,
/// limits, errors), read as [`scan_lines`] reads every line. `pos` is
/// where the next line starts; returns where the line after the value
/// (and its continuation lines) starts.
#[inline(never)]
fn general_line(
    b: &[u8],
    pos: usize,
    line_start: usize,
    end: usize,
    headers: &mut Headers,
    limits: &Limits,
    content_length: &mut Option<usize>,
) -> Result<usize, ParseError> {
    let line = b.get(line_start..end).unwrap_or(&[]);
    check_line(line, headers, limits)?;
    let (name, colon) = name_of_line(line, line_start)?;
    value_and_push(
        b,
        pos,
        line_start,
        line,
        colon,
        name,
        headers,
        limits,
        content_length,
    )
}

/// Scans header lines from `pos` to the empty line (one search per line:
/// for header blocks of multipart bodies), filling `headers` with spans
/// into `b`; returns the offset after the empty line and the
/// Content-Length if present (conflicting values are an error).
fn scan_lines(
    b: &[u8],
    mut pos: usize,
    headers: &mut Headers,
    limits: &Limits,
) -> Result<(usize, Option<usize>), ParseError> {
    let mut content_length: Option<usize> = None;
    loop {
        let (end, next) = line_end(b, pos)?.ok_or(ParseError::Incomplete)?;
        let line_start = pos;
        let line = b.get(pos..end).unwrap_or(&[]);
        pos = next;
        if line.is_empty() {
            return Ok((pos, content_length));
        }
        check_line(line, headers, limits)?;
        let (name, colon) = name_of_line(line, line_start)?;
        pos = value_and_push(
            b,
            pos,
            line_start,
            line,
            colon,
            name,
            headers,
            limits,
            &mut content_length,
        )?;
    }
}

/// The checks every header line passes first: not a continuation, within
/// the header count and line length limits.
#[inline]
fn check_line(line: &[u8], headers: &Headers, limits: &Limits) -> Result<(), ParseError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ParseError::Invalid("folded line before any header"));
    }
    if headers.len() >= limits.max_headers {
        return Err(ParseError::TooManyHeaders {
            limit: limits.max_headers,
        });
    }
    if line.len() > limits.max_header_len {
        return Err(ParseError::HeaderTooLong {
            limit: limits.max_header_len,
        });
    }
    Ok(())
}

/// The name of a header line (token characters, optional SP/HT, then
/// ':'), and where its ':' is.
fn name_of_line(line: &[u8], line_start: usize) -> Result<(NameSlot, usize), ParseError> {
    // Token characters, lower-cased as they are scanned for the lookup.
    let mut lower = [0u8; 24];
    let mut name_end = 0;
    while let Some(&c) = line.get(name_end) {
        if !is_token_char(c) {
            break;
        }
        if let Some(d) = lower.get_mut(name_end) {
            *d = c.to_ascii_lowercase();
        }
        name_end += 1;
    }
    let mut colon = name_end;
    while matches!(line.get(colon), Some(b' ' | b'\t')) {
        colon += 1;
    }
    if name_end == 0 || line.get(colon) != Some(&b':') {
        return Err(if memchr::memchr(b':', line).is_some() {
            ParseError::Invalid("bad header name")
        } else {
            ParseError::Invalid("header line without ':'")
        });
    }
    let name = match lower.get(..name_end).and_then(Known::from_lower) {
        Some(k) => NameSlot::Known(k),
        None => NameSlot::Span(Span {
            start: line_start as u32,
            len: name_end as u32,
        }),
    };
    Ok((name, colon))
}

/// The name of `len` (at most 24) bytes at `start` of `b` as the words
/// [`Known::lookup_words`] takes (0x20 set in each byte, zero padding).
#[inline]
fn name_words_at(b: &[u8], start: usize, len: usize) -> [u64; 3] {
    let Some(mask) = NAME_MASKS.get(len) else {
        return [0; 3];
    };
    let lower = 0x2020_2020_2020_2020;
    if let Some(raw) = b.get(start..).and_then(|t| t.first_chunk::<24>()) {
        let (w0, rest) = raw.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
        let (w1, w2) = rest.split_first_chunk::<8>().unwrap_or((&[0; 8], &[]));
        let w2 = w2.first_chunk::<8>().unwrap_or(&[0; 8]);
        return [
            (u64::from_le_bytes(*w0) | lower) & mask[0],
            (u64::from_le_bytes(*w1) | lower) & mask[1],
            (u64::from_le_bytes(*w2) | lower) & mask[2],
        ];
    }
    // Near the end of the buffer (the last lines of a head without a
    // body): whole-word loads that end inside it (no byte copies, which
    // would stall the word loads that follow).
    [
        (tail_word(b, start) | lower) & mask[0],
        (tail_word(b, start + 8) | lower) & mask[1],
        (tail_word(b, start + 16) | lower) & mask[2],
    ]
}

/// The up to 8 bytes of `b` at `at` as a little-endian word, zero past
/// the end.
#[inline]
fn tail_word(b: &[u8], at: usize) -> u64 {
    if let Some(c) = b.get(at..).and_then(|t| t.first_chunk::<8>()) {
        return u64::from_le_bytes(*c);
    }
    if at >= b.len() {
        return 0;
    }
    match b.last_chunk::<8>() {
        // The last 8 bytes, shifted so that byte `at` comes first.
        Some(c) => u64::from_le_bytes(*c) >> (8 * (at + 8 - b.len())),
        None => b
            .get(at..)
            .unwrap_or(&[])
            .iter()
            .rev()
            .fold(0, |w, c| w << 8 | u64::from(*c)),
    }
}

/// For each name length 0..=24: the masks keeping its bytes of the three
/// words of [`name_words_at`].
#[allow(clippy::indexing_slicing)] // bounded by the loops, at compile time
static NAME_MASKS: [[u64; 3]; 25] = {
    let mut t = [[0u64; 3]; 25];
    let mut len = 0;
    while len <= 24 {
        let mut i = 0;
        while i < len {
            t[len][i / 8] |= 0xff << (8 * (i % 8));
            i += 1;
        }
        len += 1;
    }
    t
};

/// The value of the header line `line` (starting at `line_start` in `b`,
/// its name's ':' at `colon`), pushed as `name`: a span, or an owned value
/// unfolded from the continuation lines at `pos`. Returns where the next
/// line starts.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn value_and_push(
    b: &[u8],
    pos: usize,
    line_start: usize,
    line: &[u8],
    colon: usize,
    name: NameSlot,
    headers: &mut Headers,
    limits: &Limits,
    content_length: &mut Option<usize>,
) -> Result<usize, ParseError> {
    // The value, without surrounding white space.
    let mut vstart = colon + 1;
    while line.get(vstart).is_some_and(|c| is_lws(*c)) {
        vstart += 1;
    }
    let mut vend = line.len();
    while vend > vstart && line.get(vend - 1).is_some_and(|c| is_lws(*c)) {
        vend -= 1;
    }
    let value = line.get(vstart..vend).unwrap_or(&[]);
    if matches!(b.get(pos), Some(b' ' | b'\t')) {
        return unfold(
            b,
            pos,
            line.len(),
            value,
            name,
            headers,
            limits,
            content_length,
        );
    }
    if matches!(name, NameSlot::Known(Known::ContentLength)) {
        check_content_length(content_length, value)?;
    }
    headers.push_span(
        name,
        Span {
            start: (line_start + vstart) as u32,
            len: value.len() as u32,
        },
    );
    Ok(pos)
}

/// A folded value: joins the continuation lines from `pos` with single
/// spaces into an owned value; returns the position after them.
#[cold]
#[allow(clippy::too_many_arguments)]
fn unfold(
    b: &[u8],
    mut pos: usize,
    first_len: usize,
    value: &[u8],
    name: NameSlot,
    headers: &mut Headers,
    limits: &Limits,
    content_length: &mut Option<usize>,
) -> Result<usize, ParseError> {
    fn text(v: &[u8]) -> Result<&str, ParseError> {
        std::str::from_utf8(v).map_err(|_| ParseError::NotUtf8)
    }
    let mut total = first_len;
    let mut owned = text(value)?.to_owned();
    while matches!(b.get(pos), Some(b' ' | b'\t')) {
        let Some((end, next)) = line_end(b, pos)? else {
            break;
        };
        let cont = b.get(pos..end).unwrap_or(&[]);
        pos = next;
        total += cont.len() + 2;
        if total > limits.max_header_len {
            return Err(ParseError::HeaderTooLong {
                limit: limits.max_header_len,
            });
        }
        let cont = trim_lws(text(cont)?);
        if !cont.is_empty() {
            if !owned.is_empty() {
                owned.push(' ');
            }
            owned.push_str(cont);
        }
    }
    if matches!(name, NameSlot::Known(Known::ContentLength)) {
        check_content_length(content_length, owned.as_bytes())?;
    }
    headers.push_owned_value(name, SipStr::from(owned));
    Ok(pos)
}

/// The version after `SIP/`: the static `2.0` (no copy) when it is that.
#[inline]
fn version_str(head: &SipStr, v: &str) -> SipStr {
    if v == "2.0" {
        SipStr::from_static("2.0")
    } else {
        sub(head, v)
    }
}

/// What follows `SIP/` (any case) if `line` is a status line.
fn status_line_rest(line: &str) -> Option<&str> {
    line.get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and_then(|_| line.get(4..))
}

/// Status-Line after `SIP/`: version SP code SP reason.
fn parse_status_line(
    head: &SipStr,
    after: &str,
) -> Result<(SipStr, StatusCode, SipStr), ParseError> {
    // The plain form `2.0 DDD[ reason]`, without searching.
    if let [b'2', b'.', b'0', b' ', d0, d1, d2, tail @ ..] = after.as_bytes()
        && d0.is_ascii_digit()
        && d1.is_ascii_digit()
        && d2.is_ascii_digit()
        && matches!(tail.first(), None | Some(b' '))
        && let Some(status) = StatusCode::new(
            u16::from(d0 - b'0') * 100 + u16::from(d1 - b'0') * 10 + u16::from(d2 - b'0'),
        )
    {
        let reason = after.get(8..).unwrap_or("");
        return Ok((SipStr::from_static("2.0"), status, sub(head, reason)));
    }
    let (version, rest) = after
        .split_once(' ')
        .ok_or(ParseError::BadStartLine("bad status line"))?;
    let (code, reason) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadStartLine("bad status code"));
    }
    let status = code
        .parse::<u16>()
        .ok()
        .and_then(StatusCode::new)
        .ok_or(ParseError::BadStartLine("status code out of range"))?;
    Ok((version_str(head, version), status, sub(head, reason)))
}

/// Request-Line: Method SP Request-URI SP SIP-Version, split (the method a
/// token, the version after `SIP/`). Runs of white space between the three
/// elements are tolerated (RFC 4475 §3.1.2.7 allows a liberal parser to),
/// white space inside the URI is not.
fn split_request_line(line: &str) -> Result<(&str, &str, &str), ParseError> {
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadStartLine(
            "request line must have three elements",
        ));
    };
    if !is_token(method) {
        return Err(ParseError::BadStartLine("bad method"));
    }
    let version = version
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and_then(|_| version.get(4..))
        .filter(|v| !v.is_empty())
        .ok_or(ParseError::BadStartLine("bad SIP version"))?;
    Ok((method, uri, version))
}

/// [`split_request_line`] in one pass for a plain line (single spaces);
/// `None`: use it.
#[inline]
fn split_request_line_fast(line: &str) -> Option<(&str, &str, &str)> {
    let b = line.as_bytes();
    let m_end = b.iter().position(|c| !is_token_char(*c))?;
    if m_end == 0 || b.get(m_end) != Some(&b' ') {
        return None;
    }
    let u_start = m_end + 1;
    let u_end = u_start + memchr::memchr(b' ', b.get(u_start..)?)?;
    let version = b.get(u_end + 1..)?;
    if u_end == u_start
        || version.len() <= 4
        || !version.get(..4)?.eq_ignore_ascii_case(b"SIP/")
        || version.iter().any(|c| c.is_ascii_whitespace())
        || b.get(u_start..u_end)?
            .iter()
            .any(|c| c.is_ascii_whitespace())
    {
        return None;
    }
    Some((
        line.get(..m_end)?,
        line.get(u_start..u_end)?,
        line.get(u_end + 5..)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HeaderName, SipMessage};

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn parse(s: &str) -> Result<Message, ParseError> {
        parse_message(
            Bytes::copy_from_slice(s.as_bytes()),
            Framing::Datagram,
            &Limits::default(),
        )
    }

    /// The head as the simple walk (one search per line, names by a
    /// byte loop) reads it: the reference for the mask scan.
    fn reference_scan(
        b: &[u8],
        limits: &Limits,
    ) -> Result<(Headers, usize, usize, Option<usize>), ParseError> {
        let (start_line_end, first) = line_end(b, 0)?.ok_or(ParseError::Incomplete)?;
        let mut h = Headers::with_capacity(4);
        let (head_end, cl) = scan_lines(b, first, &mut h, limits)?;
        Ok((h, start_line_end, head_end, cl))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1024, ..Default::default() })]
        /// The mask scan reads every head as the simple walk does: same
        /// fields, same end, same Content-Length, same error.
        #[test]
        fn mask_scan_agrees_with_the_simple_walk(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    "(Via|via|VIA|v|From|t|Call-ID|CSeq|Content-Length|l|X-Custom|P-Asserted-Identity|Authentication-Info|A-Very-Long-Extension-Header-Name|Vi-a|C\\x0dSeq)[ ]?:[ \\t]{0,2}[a-z0-9 ;=:@<>\"\\xe9]{0,70}",
                    "[ \\t][a-z ]{0,10}",
                    "[a-zA-Z:\\r ]{0,12}",
                    "Content-Length: [0-9]{1,3}",
                ],
                0..12,
            ),
            eol in proptest::prop_oneof!["\r\n", "\n"],
            body in "[a-z]{0,80}",
        ) {
            let mut text = String::from("OPTIONS sip:a@b SIP/2.0");
            text.push_str(&eol);
            for l in &lines {
                text.push_str(l);
                text.push_str(&eol);
            }
            text.push_str(&eol);
            text.push_str(&body);
            let b = text.as_bytes();
            let limits = Limits::default();
            let mut fast = Headers::with_capacity(4);
            let got = scan_head(b, &mut fast, &limits);
            let want = reference_scan(b, &limits);
            match (got, want) {
                (Ok(g), Ok((mut slow, sle, he, cl))) => {
                    proptest::prop_assert_eq!(g.start_line_end, sle);
                    proptest::prop_assert_eq!(g.head_end, he);
                    proptest::prop_assert_eq!(g.content_length, cl);
                    proptest::prop_assert_eq!(g.ascii, b[..he].is_ascii());
                    let head = SipStr::try_from(Bytes::copy_from_slice(&b[..he])).unwrap();
                    fast.set_received(head.clone());
                    slow.set_received(head);
                    let f: Vec<_> = fast.iter().map(|h| (h.name.to_string(), h.value.to_owned())).collect();
                    let s: Vec<_> = slow.iter().map(|h| (h.name.to_string(), h.value.to_owned())).collect();
                    proptest::prop_assert_eq!(f, s, "{:?}", text);
                }
                (Err(g), Err(w)) => proptest::prop_assert_eq!(g, w, "{:?}", text),
                (g, w) => proptest::prop_assert!(false, "{:?}: {:?} vs {:?}", text, g.map(|_| ()), w.map(|_| ())),
            }
        }
    }

    proptest::proptest! {
        /// The name words read with whole-word loads, near the end of the
        /// buffer too, are the bytes of the name.
        #[test]
        fn name_words_are_the_name(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), start in 0usize..40, len in 1usize..=24) {
            proptest::prop_assume!(start + len <= b.len());
            let mut want = [0u64; 3];
            for (i, c) in b[start..start + len].iter().enumerate() {
                want[i / 8] |= u64::from(c | 0x20) << (8 * (i % 8));
            }
            proptest::prop_assert_eq!(name_words_at(&b, start, len), want);
        }
    }

    #[test]
    fn parses_invite() {
        let m = parse(INVITE).unwrap();
        let Message::Request(r) = m else { panic!() };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.headers.len(), 9);
        assert_eq!(&r.body[..], b"v=0\n");
        assert_eq!(r.call_id().unwrap(), "a84b4c76e66710@pc33.atlanta.com");
        assert_eq!(r.cseq().unwrap().seq, 314159);
        assert_eq!(r.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bK776asdhds"));
    }

    #[test]
    fn folding_compact_and_extra_body() {
        let s = "OPTIONS sip:x@y SIP/2.0\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1\r\nSubject: one\r\n  two\r\n\ttwo-b\r\nl: 2\r\n\r\nabcdef";
        let Message::Request(r) = parse(s).unwrap() else {
            panic!()
        };
        assert_eq!(
            r.headers.get(&HeaderName::Subject).unwrap(),
            "one two two-b"
        );
        assert_eq!(&r.body[..], b"ab");
        assert!(r.top_via().is_ok());
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse("INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"),
            Err(ParseError::BodyTooShort { .. })
        ));
        assert!(parse("INVITE sip:a@b; lr SIP/2.0\r\n\r\n").is_err());
        assert!(parse("garbage").is_err());
        assert!(parse("SIP/2.0 99 Too Low\r\n\r\n").is_err());
        let big = "X".repeat(70_000);
        assert!(matches!(parse(&big), Err(ParseError::TooLarge { .. })));
        let mut many = String::from("OPTIONS sip:a@b SIP/2.0\r\n");
        for i in 0..300 {
            many.push_str(&format!("X-{i}: {i}\r\n"));
        }
        many.push_str("\r\n");
        assert!(matches!(
            parse(&many),
            Err(ParseError::TooManyHeaders { .. })
        ));
    }

    proptest::proptest! {
        /// The plain status line reads as the general split reads it.
        #[test]
        fn status_line_fast_agrees(line in "(2\\.0|2\\.1|20) [0-9]{2,4}( [A-Za-z ]{0,6})?") {
            let head = SipStr::from(line.as_str());
            let general = (|| {
                let (version, rest) = line.split_once(' ')?;
                let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                let ok = code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
                let status = code.parse::<u16>().ok().and_then(StatusCode::new).filter(|_| ok)?;
                Some((version.to_owned(), status, reason.to_owned()))
            })();
            let got = parse_status_line(&head, &head).ok().map(|(v, s, r)| (v.to_string(), s, r.to_string()));
            proptest::prop_assert_eq!(got, general, "{:?}", line);
        }
    }

    #[test]
    fn response_line() {
        let Message::Response(r) = parse("SIP/2.0 180 Ringing\r\nCall-ID: x\r\n\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.status, StatusCode::RINGING);
        assert_eq!(&*r.reason, "Ringing");
        let Message::Response(r) = parse("SIP/2.0 200\r\n\r\n").unwrap() else {
            panic!()
        };
        assert_eq!(&*r.reason, "");
    }
}
