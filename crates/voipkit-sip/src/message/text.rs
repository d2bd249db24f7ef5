//! Text helpers shared by the header and URI parsers: zero-copy sub-strings,
//! linear white space, top-level splitting and generic parameters.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// Longest string kept inline (copied rather than shared).
const INLINE: usize = 31;

/// An immutable UTF-8 string as the typed views hold it: short strings
/// (up to 31 bytes: tags, branches, hosts, transports, most parameter
/// lists) are kept inline and copied; longer ones share the received
/// buffer (a reference-counted slice, no copy) or own their text. So
/// reading a typed view of a received header neither allocates nor
/// touches a reference count in the common case. Cloning is a copy of at
/// most 40 bytes, or a reference-count bump for long shared text.
#[derive(Clone)]
pub struct SipStr(Repr);

/// Whole words only (a word-sized tag, inline text as words): a value
/// built with byte-sized stores and then moved with word-sized loads
/// waits for a store-forwarding stall at every move.
#[derive(Clone)]
#[repr(u64)]
enum Repr {
    /// Inline text: bytes 0..31 of the words in memory order hold the
    /// text, byte 31 its length. Copied whole from a `&str`.
    Inline([u64; 4]),
    Static(&'static str),
    Shared(ByteString),
}

impl SipStr {
    /// The empty string.
    pub const fn new() -> Self {
        SipStr(Repr::Static(""))
    }

    /// A string with static lifetime (no copy).
    pub const fn from_static(s: &'static str) -> Self {
        SipStr(Repr::Static(s))
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline(words) => {
                let n = ((u64::from_le(words[3]) >> 56) as usize).min(INLINE);
                // SAFETY: `words` is 32 contiguous, initialised bytes and
                // `n <= 31`; `inline` stored there, in memory order, the
                // `n` bytes of a `&str` (valid UTF-8, so is the prefix).
                unsafe {
                    let bytes = std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), n);
                    std::str::from_utf8_unchecked(bytes)
                }
            }
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    #[inline]
    fn inline(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let n = b.len();
        if n > INLINE {
            return None;
        }
        let mut words = pack(b);
        words[3] |= ((n as u64) << 56).to_le();
        Some(SipStr(Repr::Inline(words)))
    }

    /// Shares `b` without checking it.
    ///
    /// # Safety
    ///
    /// `b` must be valid UTF-8.
    pub(crate) unsafe fn from_utf8_unchecked(b: Bytes) -> Self {
        // SAFETY: the caller guarantees `b` is UTF-8.
        SipStr(Repr::Shared(unsafe { ByteString::from_bytes_unchecked(b) }))
    }

    /// The shared buffer this string lives in, if it shares one.
    fn shared(&self) -> Option<&ByteString> {
        match &self.0 {
            Repr::Shared(b) => Some(b),
            _ => None,
        }
    }

    /// The text as `Bytes` (shared, no copy, when the text is shared).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Shared(b) => b.as_bytes().clone(),
            Repr::Static(s) => Bytes::from_static(s.as_bytes()),
            Repr::Inline { .. } => Bytes::copy_from_slice(self.as_str().as_bytes()),
        }
    }
}

impl Default for SipStr {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for SipStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SipStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for SipStr {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for SipStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SipStr {
    fn from(s: &str) -> Self {
        Self::inline(s).unwrap_or_else(|| SipStr(Repr::Shared(ByteString::from(s))))
    }
}

impl From<String> for SipStr {
    fn from(s: String) -> Self {
        Self::inline(&s).unwrap_or_else(|| SipStr(Repr::Shared(ByteString::from(s))))
    }
}

impl From<&String> for SipStr {
    fn from(s: &String) -> Self {
        Self::from(s.as_str())
    }
}

impl From<Cow<'_, str>> for SipStr {
    fn from(s: Cow<'_, str>) -> Self {
        match s {
            Cow::Borrowed(s) => Self::from(s),
            Cow::Owned(s) => Self::from(s),
        }
    }
}

impl From<ByteString> for SipStr {
    fn from(s: ByteString) -> Self {
        SipStr(Repr::Shared(s))
    }
}

impl From<&SipStr> for SipStr {
    fn from(s: &SipStr) -> Self {
        s.clone()
    }
}

impl TryFrom<Bytes> for SipStr {
    type Error = std::str::Utf8Error;
    /// Shares `b` (no copy) if it is UTF-8.
    fn try_from(b: Bytes) -> Result<Self, Self::Error> {
        ByteString::try_from(b).map(|s| SipStr(Repr::Shared(s)))
    }
}

impl PartialEq for SipStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SipStr {}

impl PartialOrd for SipStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SipStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for SipStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for SipStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SipStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SipStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SipStr> for str {
    fn eq(&self, other: &SipStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SipStr> for &str {
    fn eq(&self, other: &SipStr) -> bool {
        *self == other.as_str()
    }
}

impl fmt::Display for SipStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SipStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Up to 31 bytes as four words whose memory representation starts with
/// the bytes, the rest zero. Only whole loads from `b` and whole-word
/// results.
#[inline]
fn pack(b: &[u8]) -> [u64; 4] {
    #[inline]
    fn word(c: &[u8; 8]) -> u64 {
        u64::from_le_bytes(*c)
    }
    let n = b.len();
    let mut w = [0u64; 4];
    if n >= 8 {
        let full = n / 8;
        for (i, slot) in w.iter_mut().enumerate().take(full) {
            if let Some(c) = b.get(i * 8..).and_then(|t| t.first_chunk::<8>()) {
                *slot = word(c);
            }
        }
        let r = n % 8;
        if let (true, Some(c), Some(slot)) = (r > 0, b.last_chunk::<8>(), w.get_mut(full)) {
            *slot = word(c) >> (8 * (8 - r));
        }
    } else if n >= 4 {
        if let (Some(h), Some(t)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            w[0] = u64::from(u32::from_le_bytes(*h))
                | u64::from(u32::from_le_bytes(*t)) << (8 * (n - 4));
        }
    } else {
        let mut x = 0u64;
        for (i, c) in b.iter().enumerate() {
            x |= u64::from(*c) << (8 * i);
        }
        w[0] = x;
    }
    // Memory order: the little-endian bytes of each word.
    w.map(u64::to_le)
}

/// `s` as a [`SipStr`]: copied inline when short, else sharing `parent`'s
/// buffer when `s` lies inside it, else copied. Never panics.
#[inline]
pub(crate) fn sub(parent: &SipStr, s: &str) -> SipStr {
    if let Some(inline) = SipStr::inline(s) {
        return inline;
    }
    if let Some(buf) = parent.shared() {
        let p = buf.as_bytes().as_ptr() as usize;
        let q = s.as_ptr() as usize;
        if q >= p && q + s.len() <= p + buf.len() {
            return SipStr(Repr::Shared(buf.slice_ref(s)));
        }
    }
    SipStr::from(s)
}

/// Whether `b` is linear white space (SP, HTAB, CR, LF: CR/LF only occur
/// inside folded header values).
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `s` without leading and trailing linear white space.
pub(crate) fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && b.get(start).is_some_and(|c| is_lws(*c)) {
        start += 1;
    }
    while end > start && b.get(end - 1).is_some_and(|c| is_lws(*c)) {
        end -= 1;
    }
    // Only ASCII bytes were skipped, so both ends are char boundaries.
    s.get(start..end).unwrap_or("")
}

/// Whether `b` is an RFC 3261 `token` character.
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN_TABLE.get(usize::from(b)).copied().unwrap_or(false)
}

/// RFC 3261 `token` characters, as a lookup table.
#[allow(clippy::indexing_slicing)] // i < 256 on a 256-entry array, at compile time
static TOKEN_TABLE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `s` is a non-empty RFC 3261 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Splits `s` at every top-level `sep`: separators inside double quotes
/// (with backslash escapes) or inside `<...>` do not count. Pieces are
/// trimmed of linear white space; empty pieces are skipped.
pub(crate) fn split_top_level(s: &str, sep: u8) -> SplitTopLevel<'_> {
    SplitTopLevel { rest: s, sep }
}

/// Iterator returned by [`split_top_level`].
pub(crate) struct SplitTopLevel<'a> {
    rest: &'a str,
    sep: u8,
}

impl<'a> Iterator for SplitTopLevel<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = find_top_level(self.rest, self.sep).unwrap_or(self.rest.len());
            let (piece, rest) = self.rest.split_at_checked(end)?;
            self.rest = rest.get(1..).unwrap_or("");
            let piece = trim_lws(piece);
            if !piece.is_empty() {
                return Some(piece);
            }
        }
    }
}

/// Byte offset of the first top-level `sep` in `s`.
#[inline]
pub(crate) fn find_top_level(s: &str, sep: u8) -> Option<usize> {
    // Common case: nothing that opens a quote or an angle bracket before
    // the first `sep`.
    // A '>' outside angle brackets changes nothing, so the first of
    // `sep`, '"' and '<' decides.
    let b = s.as_bytes();
    let i = memchr::memchr3(sep, b'"', b'<', b)?;
    if b.get(i) == Some(&sep) {
        return Some(i);
    }
    find_top_level_slow(s, sep)
}

fn find_top_level_slow(s: &str, sep: u8) -> Option<usize> {
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, b) in s.bytes().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quotes = false;
            }
            continue;
        }
        match b {
            b'"' => in_quotes = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            _ if b == sep && !in_angle => return Some(i),
            _ => {}
        }
    }
    None
}

/// One `;name[=value]` parameter (of a header, or of a URI), borrowed
/// from its [`Params`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name as received (compare case-insensitively).
    pub name: &'a str,
    /// Value, if any, as received (quotes kept).
    pub value: Option<&'a str>,
}

impl fmt::Debug for Param<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Some(v) => write!(f, "{}={}", self.name, v),
            None => write!(f, "{}", self.name),
        }
    }
}

/// An ordered list of `;name[=value]` parameters.
///
/// Kept as its text in canonical form (`;a=b;c`, no white space around
/// `;` and `=`): a received list is validated once and then shares (or,
/// when short, copies) the received text; lookups scan it, which for the
/// few parameters SIP headers carry is cheaper than building a list.
/// Editing ([`Params::set`], [`Params::remove`]) rewrites the text.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Params {
    /// Canonical text: empty, or `;name[=value]` repeated.
    text: SipStr,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Params {
    /// No parameters.
    pub const fn new() -> Self {
        Self {
            text: SipStr::new(),
        }
    }

    /// Parses `;a=b;c;d="x;y"`-style text (a leading `;` is optional) taking
    /// sub-strings of `parent` where possible. Fails on an empty or
    /// non-token name, or an empty value.
    pub fn parse_in(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        if let Some(p) = Self::parse_fast(parent, s) {
            return Ok(p);
        }
        Self::parse_general(parent, s)
    }

    /// The general parser: white space, quotes, every error.
    fn parse_general(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let s = trim_lws(s);
        let (body, had_semi) = match s.strip_prefix(';') {
            Some(b) => (b, true),
            None => (s, false),
        };
        if trim_lws(body).is_empty() {
            return Ok(Self::new());
        }
        // Validate; note whether the text is already canonical.
        let mut canonical = had_semi;
        let mut rest = body;
        loop {
            let end = find_top_level(rest, b';').unwrap_or(rest.len());
            let (raw, tail) = rest.split_at_checked(end).ok_or("bad parameter")?;
            let piece = trim_lws(raw);
            if piece.is_empty() {
                // `;;` or a trailing `;`: RFC 3261 has no empty parameters.
                return Err("empty parameter");
            }
            canonical &= piece.len() == raw.len();
            let (name, value) = split_param(piece, &mut canonical);
            if !is_token(name) {
                return Err("bad parameter name");
            }
            if value.is_some_and(str::is_empty) {
                return Err("empty parameter value");
            }
            match tail.strip_prefix(';') {
                Some(t) => rest = t,
                None => break,
            }
        }
        if canonical {
            return Ok(Self {
                text: sub(parent, s),
            });
        }
        // Rewrite without the white space.
        let mut out = String::with_capacity(s.len() + 1);
        let mut rest = body;
        loop {
            let end = find_top_level(rest, b';').unwrap_or(rest.len());
            let (raw, tail) = rest.split_at_checked(end).ok_or("bad parameter")?;
            let mut ignored = true;
            let (name, value) = split_param(trim_lws(raw), &mut ignored);
            push_param(&mut out, name, value);
            match tail.strip_prefix(';') {
                Some(t) => rest = t,
                None => break,
            }
        }
        Ok(Self {
            text: SipStr::from(out),
        })
    }

    /// Whether [`Params::parse_in`] accepts `s` (without building).
    pub(crate) fn is_valid(s: &str) -> bool {
        Self::is_plain(s) || Self::parse_general(&SipStr::new(), s).is_ok()
    }

    /// One pass over a list already in canonical form without quotes or
    /// angle brackets (what almost every message carries). `None` means:
    /// use the general parser (which reports every error).
    #[inline]
    pub(crate) fn parse_fast(parent: &SipStr, s: &str) -> Option<Self> {
        Self::is_plain(s).then(|| Self {
            text: sub(parent, s),
        })
    }

    /// A list from `s` (empty, or text [`Params::is_plain`] accepted).
    pub(crate) fn from_plain(parent: &SipStr, s: &str) -> Self {
        if s.is_empty() {
            return Self::new();
        }
        Self {
            text: sub(parent, s),
        }
    }

    /// Whether `s` is what [`Params::parse_fast`] takes.
    #[inline]
    pub(crate) fn is_plain(s: &str) -> bool {
        Self::plain_end(s).is_some()
    }

    #[inline]
    fn plain_end(s: &str) -> Option<()> {
        let b = s.as_bytes();
        if b.first() != Some(&b';') {
            return None;
        }
        let mut i = 1;
        loop {
            let start = i;
            while b.get(i).is_some_and(|c| is_token_char(*c)) {
                i += 1;
            }
            if i == start {
                return None;
            }
            match b.get(i) {
                None => break,
                Some(b';') => i += 1,
                Some(b'=') => {
                    i += 1;
                    let vstart = i;
                    while let Some(&c) = b.get(i) {
                        if c == b';' {
                            break;
                        }
                        if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'<' | b'>') {
                            return None;
                        }
                        i += 1;
                    }
                    if i == vstart {
                        return None;
                    }
                    if i == b.len() {
                        break;
                    }
                    i += 1;
                }
                Some(_) => return None,
            }
        }
        Some(())
    }

    /// Parses a standalone parameter list (`;a=b;c`).
    pub fn parse(s: &str) -> Result<Self, super::ParseError> {
        Self::parse_in(&SipStr::new(), s).map_err(super::ParseError::Invalid)
    }

    /// The parameters in order.
    pub fn iter(&self) -> ParamIter<'_> {
        ParamIter {
            rest: self.text.get(1..).unwrap_or(""),
        }
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The parameter named `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<Param<'_>> {
        find_param(&self.text, name)
    }

    /// Whether a parameter named `name` is present (with or without value).
    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The value of `name`, unquoted if it was a quoted string. `None` if
    /// absent or valueless.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).and_then(|p| p.value).map(unquote)
    }

    /// Sets `name` to `value` (`None`: a flag), replacing an existing one
    /// (the first, if several).
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let mut out = String::with_capacity(self.text.len() + name.len() + 2);
        let mut done = false;
        for p in self.iter() {
            if !done && p.name.eq_ignore_ascii_case(name) {
                push_param(&mut out, p.name, value);
                done = true;
            } else {
                push_param(&mut out, p.name, p.value);
            }
        }
        if !done {
            push_param(&mut out, name, value);
        }
        self.text = SipStr::from(out);
    }

    /// Sets `name` to `value` and returns the list (for building).
    pub fn with(mut self, name: &str, value: Option<&str>) -> Self {
        self.set(name, value);
        self
    }

    /// Removes `name`; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        if !self.contains(name) {
            return false;
        }
        let mut out = String::with_capacity(self.text.len());
        for p in self.iter().filter(|p| !p.name.eq_ignore_ascii_case(name)) {
            push_param(&mut out, p.name, p.value);
        }
        self.text = SipStr::from(out);
        true
    }

    /// The list as written: empty, or `;name[=value]...`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The parameter named `name` (case-insensitive) in the canonical text
/// `t` of a [`Params`] (empty, or `;name[=value]...`).
pub(crate) fn find_param<'a>(t: &'a str, name: &str) -> Option<Param<'a>> {
    // One pass while there are no quotes or angle brackets: every ';'
    // separates, the first '=' of a piece ends its name. A quote or an
    // angle bracket before the answer is known: the general iteration.
    let b = t.as_bytes();
    let n = name.as_bytes();
    let mut start = 1;
    while start <= b.len() {
        let mut i = start;
        let mut eq = usize::MAX;
        while let Some(&c) = b.get(i) {
            // One table read per byte; a branch only at the few bytes
            // that matter.
            let k = PARAM_CLASS.get(usize::from(c)).copied().unwrap_or(0);
            if k != 0 {
                if k == SEMI {
                    break;
                }
                if k == OPEN {
                    return find_param_general(t, name);
                }
                eq = eq.min(i);
            }
            i += 1;
        }
        let name_end = eq.min(i);
        if b.get(start..name_end)
            .is_some_and(|p| p.eq_ignore_ascii_case(n))
        {
            return Some(Param {
                name: t.get(start..name_end)?,
                value: if eq < i {
                    Some(t.get(eq + 1..i)?)
                } else {
                    None
                },
            });
        }
        start = i + 1;
    }
    None
}

const SEMI: u8 = 1;
const OPEN: u8 = 2;
const EQUALS: u8 = 3;

/// `;`, a quote or `<`, `=`: the bytes [`find_param`] stops at.
#[allow(clippy::indexing_slicing)] // constant indices, at compile time
static PARAM_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b';' as usize] = SEMI;
    t[b'"' as usize] = OPEN;
    t[b'<' as usize] = OPEN;
    t[b'=' as usize] = EQUALS;
    t
};

/// [`find_param`] by the general iteration (quotes, angle brackets).
#[cold]
fn find_param_general<'a>(t: &'a str, name: &str) -> Option<Param<'a>> {
    ParamIter {
        rest: t.get(1..).unwrap_or(""),
    }
    .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Splits a trimmed parameter piece at its first `=` (a name is a token,
/// so the first `=` is the top-level one); clears `canonical` if white
/// space surrounds the `=`.
fn split_param<'a>(piece: &'a str, canonical: &mut bool) -> (&'a str, Option<&'a str>) {
    match memchr::memchr(b'=', piece.as_bytes()) {
        Some(eq) => {
            let n = piece.get(..eq).unwrap_or("");
            let v = piece.get(eq + 1..).unwrap_or("");
            let (tn, tv) = (trim_lws(n), trim_lws(v));
            *canonical &= tn.len() == n.len() && tv.len() == v.len();
            (tn, Some(tv))
        }
        None => (piece, None),
    }
}

fn push_param(out: &mut String, name: &str, value: Option<&str>) {
    out.push(';');
    out.push_str(name);
    if let Some(v) = value {
        out.push('=');
        out.push_str(v);
    }
}

/// Iterator over the parameters of a [`Params`].
#[derive(Clone)]
pub struct ParamIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let end = find_top_level(self.rest, b';').unwrap_or(self.rest.len());
        let piece = self.rest.get(..end).unwrap_or("");
        self.rest = self.rest.get(end + 1..).unwrap_or("");
        Some(match memchr::memchr(b'=', piece.as_bytes()) {
            Some(eq) => Param {
                name: piece.get(..eq).unwrap_or(""),
                value: piece.get(eq + 1..),
            },
            None => Param {
                name: piece,
                value: None,
            },
        })
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `s` without surrounding double quotes (escapes are left as they are).
pub(crate) fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// `s` as a quoted-string, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is
/// not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16))?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let v: Vec<_> =
            split_top_level(r#""a,b" <sip:x@y;p=1,2>, <sip:z>;q=0.5 ,"#, b',').collect();
        assert_eq!(v, vec![r#""a,b" <sip:x@y;p=1,2>"#, "<sip:z>;q=0.5"]);
        let v: Vec<_> = split_top_level(r#""a\",b", c"#, b',').collect();
        assert_eq!(v, vec![r#""a\",b""#, "c"]);
    }

    #[test]
    fn params_parse_get_set() {
        let s = SipStr::from(";branch=z9hG4bK1;rport;received=\"1.2.3.4\"");
        let mut p = Params::parse_in(&s, &s).unwrap();
        assert_eq!(p.get("BRANCH"), Some("z9hG4bK1"));
        assert!(p.contains("rport"));
        assert_eq!(p.get("rport"), None);
        assert_eq!(p.get("received"), Some("1.2.3.4"));
        p.set("rport", Some("5060"));
        assert_eq!(
            p.to_string(),
            ";branch=z9hG4bK1;rport=5060;received=\"1.2.3.4\""
        );
        assert!(Params::parse(";=x").is_err());
        assert!(Params::parse(";a=").is_err());
        let spaced = Params::parse(" ; a = 1 ;b; c=\"x; y\" ").unwrap();
        assert_eq!(spaced.to_string(), ";a=1;b;c=\"x; y\"");
        assert_eq!(spaced.get("c"), Some("x; y"));
        assert_eq!(spaced, Params::parse(";a=1;b;c=\"x; y\"").unwrap());
        let mut q = Params::parse("a=1").unwrap();
        assert_eq!(q.to_string(), ";a=1");
        assert!(q.remove("A"));
        assert!(q.is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        /// The fast path accepts nothing the general parser rejects and
        /// builds the same list.
        #[test]
        fn params_fast_path_agrees(s in "[;=a-c \"<>,.\t]{0,16}") {
            let parent = SipStr::from(s.as_str());
            if let Some(fast) = Params::parse_fast(&parent, &parent) {
                let slow = Params::parse_general(&parent, &parent);
                proptest::prop_assert_eq!(slow, Ok(fast), "{:?}", s);
            }
        }
    }

    proptest::proptest! {
        /// `find` (one pass when there are no quotes) agrees with a
        /// search over `iter`.
        #[test]
        fn find_agrees_with_iter(s in "(;[a-cA-C]{1,3}(=[a-c\"<>;=]{1,4})?){0,5}", name in "[a-cA-C]{1,3}") {
            if let Ok(p) = Params::parse(&s) {
                let want = p.iter().find(|x| x.name.eq_ignore_ascii_case(&name));
                proptest::prop_assert_eq!(p.find(&name), want, "{:?}", s);
            }
        }
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
    }
}

#[cfg(test)]
mod sipstr_tests {
    use super::*;

    #[test]
    fn inline_copies_every_length() {
        let long: String = (0..40u8).map(|i| char::from(b'a' + i % 26)).collect();
        for n in 0..=long.len() {
            let s = &long[..n];
            let v = SipStr::from(s);
            assert_eq!(v.as_str(), s, "length {n}");
            assert_eq!(SipStr::from(s.to_owned()), v);
        }
        let parent = SipStr::try_from(Bytes::from(long.clone().into_bytes())).unwrap();
        assert_eq!(sub(&parent, &parent[3..35]).as_str(), &long[3..35]);
        assert_eq!(sub(&parent, &parent[3..9]).as_str(), &long[3..9]);
    }
}
