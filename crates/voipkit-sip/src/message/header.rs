//! Header names (with RFC 3261 compact forms) and the typed values a user
//! agent reads: Via, name-addr (From/To/Contact/Route/...), CSeq.

use std::fmt;

use super::method::Method;
use super::text::{
    Params, SipStr, find_param, find_top_level, is_token_char, split_top_level, sub, trim_lws,
    unquote,
};
use super::uri::{Host, Uri, parse_hostport};

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident = $canon:literal, $($lower:literal)|+ ;)*) => {
        /// A header field name. Known names (and their compact forms) map to
        /// a variant; anything else is kept as written.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any other header, name as received.
            Other(SipStr),
        }

        /// The known names, as one byte (how a parsed message stores
        /// them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Known {
            $( $variant, )*
        }

        impl Known {
            /// Every known name, in declaration order (`k as usize` is an
            /// index).
            const ALL: &'static [Known] = &[ $( Known::$variant, )* ];

            /// Every lower-case form (long and compact) with its name.
            const LOWER: &'static [(&'static [u8], Known)] =
                &[ $( $( ($lower, Known::$variant), )+ )* ];

            /// The canonical (long-form) name.
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $( Known::$variant => $canon, )*
                }
            }

            /// The public name.
            pub(crate) fn name(self) -> HeaderName {
                match self {
                    $( Known::$variant => HeaderName::$variant, )*
                }
            }

            /// Looks up a name given lower-cased.
            #[inline]
            pub(crate) fn from_lower(lower: &[u8]) -> Option<Known> {
                // `match` on byte strings compiles to a switch on length and
                // then compares: far cheaper than scanning a table.
                Some(match lower {
                    $( $($lower)|+ => Known::$variant, )*
                    _ => return None,
                })
            }
        }

        impl HeaderName {
            /// The canonical (long-form) name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The one-byte form of a known name.
            pub(crate) fn known(&self) -> Option<Known> {
                match self {
                    $( HeaderName::$variant => Some(Known::$variant), )*
                    HeaderName::Other(_) => None,
                }
            }
        }
    };
}

header_names! {
    /// `Via` (`v`)
    Via = "Via", b"via" | b"v";
    /// `From` (`f`)
    From = "From", b"from" | b"f";
    /// `To` (`t`)
    To = "To", b"to" | b"t";
    /// `Call-ID` (`i`)
    CallId = "Call-ID", b"call-id" | b"i";
    /// `CSeq`
    CSeq = "CSeq", b"cseq";
    /// `Contact` (`m`)
    Contact = "Contact", b"contact" | b"m";
    /// `Max-Forwards`
    MaxForwards = "Max-Forwards", b"max-forwards";
    /// `Route`
    Route = "Route", b"route";
    /// `Record-Route`
    RecordRoute = "Record-Route", b"record-route";
    /// `Content-Type` (`c`)
    ContentType = "Content-Type", b"content-type" | b"c";
    /// `Content-Length` (`l`)
    ContentLength = "Content-Length", b"content-length" | b"l";
    /// `Content-Encoding` (`e`)
    ContentEncoding = "Content-Encoding", b"content-encoding" | b"e";
    /// `Content-Disposition`
    ContentDisposition = "Content-Disposition", b"content-disposition";
    /// `Expires`
    Expires = "Expires", b"expires";
    /// `Min-Expires`
    MinExpires = "Min-Expires", b"min-expires";
    /// `WWW-Authenticate`
    WwwAuthenticate = "WWW-Authenticate", b"www-authenticate";
    /// `Proxy-Authenticate`
    ProxyAuthenticate = "Proxy-Authenticate", b"proxy-authenticate";
    /// `Authorization`
    Authorization = "Authorization", b"authorization";
    /// `Proxy-Authorization`
    ProxyAuthorization = "Proxy-Authorization", b"proxy-authorization";
    /// `Require`
    Require = "Require", b"require";
    /// `Proxy-Require`
    ProxyRequire = "Proxy-Require", b"proxy-require";
    /// `Supported` (`k`)
    Supported = "Supported", b"supported" | b"k";
    /// `Unsupported`
    Unsupported = "Unsupported", b"unsupported";
    /// `Allow`
    Allow = "Allow", b"allow";
    /// `Accept`
    Accept = "Accept", b"accept";
    /// `Accept-Encoding`
    AcceptEncoding = "Accept-Encoding", b"accept-encoding";
    /// `Accept-Language`
    AcceptLanguage = "Accept-Language", b"accept-language";
    /// `RSeq` (RFC 3262)
    RSeq = "RSeq", b"rseq";
    /// `RAck` (RFC 3262)
    RAck = "RAck", b"rack";
    /// `Event` (`o`, RFC 6665)
    Event = "Event", b"event" | b"o";
    /// `Allow-Events` (`u`)
    AllowEvents = "Allow-Events", b"allow-events" | b"u";
    /// `Subscription-State`
    SubscriptionState = "Subscription-State", b"subscription-state";
    /// `Refer-To` (`r`, RFC 3515)
    ReferTo = "Refer-To", b"refer-to" | b"r";
    /// `Referred-By` (`b`, RFC 3892)
    ReferredBy = "Referred-By", b"referred-by" | b"b";
    /// `Replaces` (RFC 3891)
    Replaces = "Replaces", b"replaces";
    /// `Reason` (RFC 3326)
    Reason = "Reason", b"reason";
    /// `Session-Expires` (`x`, RFC 4028)
    SessionExpires = "Session-Expires", b"session-expires" | b"x";
    /// `Min-SE` (RFC 4028)
    MinSe = "Min-SE", b"min-se";
    /// `User-Agent`
    UserAgent = "User-Agent", b"user-agent";
    /// `Server`
    Server = "Server", b"server";
    /// `Subject` (`s`)
    Subject = "Subject", b"subject" | b"s";
    /// `Date`
    Date = "Date", b"date";
    /// `Timestamp`
    Timestamp = "Timestamp", b"timestamp";
    /// `Warning`
    Warning = "Warning", b"warning";
    /// `Retry-After`
    RetryAfter = "Retry-After", b"retry-after";
    /// `Organization`
    Organization = "Organization", b"organization";
    /// `Priority`
    Priority = "Priority", b"priority";
    /// `MIME-Version`
    MimeVersion = "MIME-Version", b"mime-version";
    /// `P-Asserted-Identity` (RFC 3325)
    PAssertedIdentity = "P-Asserted-Identity", b"p-asserted-identity";
    /// `Path` (RFC 3327)
    Path = "Path", b"path";
    /// `Service-Route` (RFC 3608)
    ServiceRoute = "Service-Route", b"service-route";
    /// `In-Reply-To`
    InReplyTo = "In-Reply-To", b"in-reply-to";
    /// `Reply-To`
    ReplyTo = "Reply-To", b"reply-to";
    /// `Alert-Info`
    AlertInfo = "Alert-Info", b"alert-info";
    /// `Call-Info`
    CallInfo = "Call-Info", b"call-info";
    /// `Error-Info`
    ErrorInfo = "Error-Info", b"error-info";
    /// `Authentication-Info`
    AuthenticationInfo = "Authentication-Info", b"authentication-info";
}

impl HeaderName {
    /// Resolves a received name (any case, compact forms too).
    pub fn parse(name: &SipStr, s: &str) -> HeaderName {
        match Known::lookup(s.as_bytes()) {
            Some(k) => k.name(),
            None => HeaderName::Other(sub(name, s)),
        }
    }

    /// Whether two names are the same header (case-insensitive for others).
    pub fn is(&self, other: &HeaderName) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

/// Multiplier of the name hash: chosen (by search) so that no two known
/// lower-case names collide; the table build below fails to compile if
/// they do.
const NAME_HASH_MAGIC: u64 = 0x106e_e2ab_101e_75eb;
const NAME_HASH_BITS: u32 = 9;

/// A name of up to 24 bytes as three little-endian words, zero-padded.
#[allow(clippy::indexing_slicing)] // bounded by the loop, at compile time
const fn name_words(b: &[u8]) -> [u64; 3] {
    let mut w = [0u64; 3];
    let mut i = 0;
    while i < b.len() && i < 24 {
        w[i / 8] |= (b[i] as u64) << (8 * (i % 8));
        i += 1;
    }
    w
}

#[inline]
const fn name_hash(w0: u64, len: usize) -> usize {
    ((w0 ^ len as u64).wrapping_mul(NAME_HASH_MAGIC) >> (64 - NAME_HASH_BITS)) as usize
}

/// Hash slot to index in `Known::LOWER` (`0xff`: none).
#[allow(clippy::indexing_slicing, clippy::panic)] // at compile time
static NAME_INDEX: [u8; 1 << NAME_HASH_BITS] = {
    let mut t = [0xffu8; 1 << NAME_HASH_BITS];
    let mut i = 0;
    while i < Known::LOWER.len() {
        let b = Known::LOWER[i].0;
        let h = name_hash(name_words(b)[0], b.len());
        if t[h] != 0xff {
            panic!("header name hash collision: pick another NAME_HASH_MAGIC");
        }
        t[h] = i as u8;
        i += 1;
    }
    t
};

/// The words of each `Known::LOWER` name.
#[allow(clippy::indexing_slicing)] // at compile time
static NAME_WORDS: [[u64; 3]; Known::LOWER.len()] = {
    let mut t = [[0u64; 3]; Known::LOWER.len()];
    let mut i = 0;
    while i < Known::LOWER.len() {
        t[i] = name_words(Known::LOWER[i].0);
        i += 1;
    }
    t
};

impl Known {
    /// Resolves a name of `len` (1 to 24) bytes given as three words of
    /// its bytes with 0x20 set in each and zero padding: one hash, one
    /// table read and one comparison, no loop over the bytes. Setting
    /// 0x20 lower-cases letters; the only other byte it could confuse
    /// with a known name's (letters and `-`) is CR, which never occurs in
    /// a line.
    #[inline]
    pub(crate) fn lookup_words(w: [u64; 3], len: usize) -> Option<Known> {
        let idx = usize::from(*NAME_INDEX.get(name_hash(w[0], len))?);
        let (lit, k) = Known::LOWER.get(idx)?;
        (lit.len() == len && NAME_WORDS.get(idx) == Some(&w)).then_some(*k)
    }

    /// Resolves a received name (any case, compact forms too).
    #[inline]
    pub(crate) fn lookup(bytes: &[u8]) -> Option<Known> {
        let mut buf = [0u8; 24];
        let dst = buf.get_mut(..bytes.len())?;
        for (d, b) in dst.iter_mut().zip(bytes) {
            *d = b.to_ascii_lowercase();
        }
        Known::from_lower(dst)
    }
}

impl From<&str> for HeaderName {
    fn from(s: &str) -> Self {
        match Known::lookup(s.as_bytes()) {
            Some(k) => k.name(),
            None => HeaderName::Other(SipStr::from(s)),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header field, owned: a name and its value. What the stack builds
/// and adds with [`Headers::push_header`]; received headers are read
/// through [`Headers`] as [`HeaderRef`]s.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The name.
    pub name: HeaderName,
    /// The value, without leading/trailing white space.
    pub value: SipStr,
}

impl Header {
    /// A header from a name and a value.
    pub fn new(name: impl Into<HeaderName>, value: impl Into<SipStr>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Header names whose values are secret in part (credentials): never shown
/// by Debug.
fn is_secret(name: &HeaderName) -> bool {
    matches!(
        name,
        HeaderName::Authorization | HeaderName::ProxyAuthorization
    )
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_secret(&self.name) {
            write!(f, "{}: <redacted>", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.value)
        }
    }
}

/// One header field of a [`Headers`], borrowed: what [`Headers::iter`]
/// yields.
#[derive(Clone)]
pub struct HeaderRef<'a> {
    /// The name.
    pub name: HeaderName,
    /// The value (folded lines unfolded), without leading/trailing white
    /// space.
    pub value: &'a str,
    /// The text `value` lies in (zero-copy sub-strings are taken from it).
    parent: &'a SipStr,
}

impl HeaderRef<'_> {
    /// An owned copy (sharing the received buffer for long values).
    pub fn to_header(&self) -> Header {
        Header {
            name: self.name.clone(),
            value: sub(self.parent, self.value),
        }
    }
}

impl fmt::Debug for HeaderRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_secret(&self.name) {
            write!(f, "{}: <redacted>", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.value)
        }
    }
}

/// Offset and length of a piece of the received head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// Where a header's name is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameSlot {
    /// A known name.
    Known(Known),
    /// Another name, in the received head.
    Span(Span),
    /// Another name, in `Headers::owned`.
    Owned(u32),
}

/// Where a header's value is.
#[derive(Debug, Clone, Copy)]
enum ValueSlot {
    /// In the received head.
    Span(Span),
    /// In `Headers::owned`.
    Owned(u32),
}

/// One field: plain integers (an enum-of-enums layout here costs a
/// store-forwarding stall per pushed field).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// A known name's index, or `NAME_SPAN`/`NAME_OWNED`; plus
    /// `VALUE_OWNED`.
    tag: u32,
    /// Other names: span start or owned index.
    name_a: u32,
    /// Other names: span length.
    name_b: u32,
    /// Value span start or owned index.
    value_a: u32,
    /// Value span length.
    value_b: u32,
}

const NAME_SPAN: u32 = 0xfe;
const NAME_OWNED: u32 = 0xff;
const VALUE_OWNED: u32 = 0x100;

impl Entry {
    #[inline]
    fn new(name: NameSlot, value: ValueSlot) -> Self {
        let (tag, name_a, name_b) = match name {
            NameSlot::Known(k) => (k as u32, 0, 0),
            NameSlot::Span(s) => (NAME_SPAN, s.start, s.len),
            NameSlot::Owned(i) => (NAME_OWNED, i, 0),
        };
        let mut e = Entry {
            tag,
            name_a,
            name_b,
            value_a: 0,
            value_b: 0,
        };
        e.set_value(value);
        e
    }

    #[inline]
    fn name(&self) -> NameSlot {
        match self.tag & 0xff {
            NAME_SPAN => NameSlot::Span(Span {
                start: self.name_a,
                len: self.name_b,
            }),
            NAME_OWNED => NameSlot::Owned(self.name_a),
            k => match Known::ALL.get(k as usize) {
                Some(k) => NameSlot::Known(*k),
                None => NameSlot::Owned(u32::MAX),
            },
        }
    }

    /// Whether the name is the known `k` (no decoding).
    #[inline]
    fn is_known(&self, k: Known) -> bool {
        self.tag & 0xff == k as u32
    }

    #[inline]
    fn value(&self) -> ValueSlot {
        if self.tag & VALUE_OWNED != 0 {
            ValueSlot::Owned(self.value_a)
        } else {
            ValueSlot::Span(Span {
                start: self.value_a,
                len: self.value_b,
            })
        }
    }

    #[inline]
    fn set_value(&mut self, v: ValueSlot) {
        match v {
            ValueSlot::Span(s) => {
                self.tag &= !VALUE_OWNED;
                self.value_a = s.start;
                self.value_b = s.len;
            }
            ValueSlot::Owned(i) => {
                self.tag |= VALUE_OWNED;
                self.value_a = i;
                self.value_b = 0;
            }
        }
    }
}

/// A name to look for: known names compare as one byte.
enum Key<'a> {
    Known(Known),
    Other(&'a str),
}

impl<'a> Key<'a> {
    #[inline]
    fn of(name: &'a HeaderName) -> Self {
        match name {
            HeaderName::Other(s) => Key::Other(s),
            n => n.known().map_or(Key::Other(n.as_str()), Key::Known),
        }
    }
}

/// The header fields of a message, in order.
///
/// A received message's fields are small entries (a one-byte name for
/// known headers, offset and length of the value) into the one received
/// head, shared by the message: parsing copies no value and bumps no
/// reference count per header. Fields the stack adds or edits own their
/// text. Values are read as `&str` ([`Headers::get`], [`Headers::iter`]);
/// typed views ([`Via`], [`NameAddr`], [`CSeq`], ...) are parsed from
/// them on demand through [`crate::message::SipMessage`].
#[derive(Clone, Default)]
pub struct Headers {
    /// The received head the spans point into (empty when built).
    buf: SipStr,
    list: Vec<Entry>,
    /// Names and values the stack added or edited.
    owned: Vec<SipStr>,
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.name.is(&b.name) && a.value == b.value)
    }
}

impl Eq for Headers {}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// With room for `n` headers.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: SipStr::new(),
            list: Vec::with_capacity(n),
            owned: Vec::new(),
        }
    }

    /// Sets the received head the parser's spans point into.
    pub(crate) fn set_received(&mut self, buf: SipStr) {
        self.buf = buf;
    }

    /// The received head (empty when built).
    pub(crate) fn received(&self) -> &SipStr {
        &self.buf
    }

    /// The text at `s` in the received head.
    pub(crate) fn received_text(&self, s: Span) -> &str {
        self.span(s)
    }

    /// Appends a field whose value lies in the received head.
    #[inline]
    pub(crate) fn push_span(&mut self, name: NameSlot, value: Span) {
        self.list.push(Entry::new(name, ValueSlot::Span(value)));
    }

    /// Appends a field with a received name and an owned value (unfolded).
    pub(crate) fn push_owned_value(&mut self, name: NameSlot, value: SipStr) {
        let value = ValueSlot::Owned(self.own(value));
        self.list.push(Entry::new(name, value));
    }

    fn own(&mut self, s: SipStr) -> u32 {
        self.owned.push(s);
        (self.owned.len() - 1) as u32
    }

    #[inline]
    fn span(&self, s: Span) -> &str {
        let start = s.start as usize;
        self.buf.get(start..start + s.len as usize).unwrap_or("")
    }

    #[inline]
    fn owned(&self, i: u32) -> &SipStr {
        static EMPTY: SipStr = SipStr::new();
        self.owned.get(i as usize).unwrap_or(&EMPTY)
    }

    #[inline]
    fn value_of(&self, e: &Entry) -> &str {
        match e.value() {
            ValueSlot::Span(s) => self.span(s),
            ValueSlot::Owned(i) => self.owned(i),
        }
    }

    #[inline]
    fn parent_of(&self, e: &Entry) -> &SipStr {
        match e.value() {
            ValueSlot::Span(_) => &self.buf,
            ValueSlot::Owned(i) => self.owned(i),
        }
    }

    fn name_of(&self, e: &Entry) -> HeaderName {
        match e.name() {
            NameSlot::Known(k) => k.name(),
            NameSlot::Span(s) => HeaderName::Other(sub(&self.buf, self.span(s))),
            NameSlot::Owned(i) => HeaderName::Other(self.owned(i).clone()),
        }
    }

    /// The first entry named `key`, from index `from`.
    #[inline]
    fn find_from(&self, from: usize, key: &Key<'_>) -> Option<(usize, &Entry)> {
        let list = self.list.get(from..)?;
        let i = match key {
            Key::Known(k) => {
                let k = *k as u32;
                list.iter().position(|e| e.tag & 0xff == k)?
            }
            Key::Other(_) => list.iter().position(|e| self.is(e, key))?,
        };
        list.get(i).map(|e| (from + i, e))
    }

    /// The only `name` field (with the text it lies in), `Err(())` if
    /// there are several, `Ok(None)` if none.
    #[allow(clippy::result_unit_err)]
    pub(crate) fn get_single_in(&self, name: &HeaderName) -> Result<Option<(&SipStr, &str)>, ()> {
        let key = Key::of(name);
        let Some((i, e)) = self.find_from(0, &key) else {
            return Ok(None);
        };
        if self.find_from(i + 1, &key).is_some() {
            return Err(());
        }
        Ok(Some((self.parent_of(e), self.value_of(e))))
    }

    #[inline(always)]
    fn is(&self, e: &Entry, key: &Key<'_>) -> bool {
        if let Key::Known(k) = key {
            return e.is_known(*k);
        }
        match (e.name(), key) {
            (NameSlot::Span(s), Key::Other(o)) => self.span(s).eq_ignore_ascii_case(o),
            (NameSlot::Owned(i), Key::Other(o)) => self.owned(i).eq_ignore_ascii_case(o),
            _ => false,
        }
    }

    fn slot_for(&mut self, name: HeaderName) -> NameSlot {
        match name.known() {
            Some(k) => NameSlot::Known(k),
            None => match name {
                HeaderName::Other(s) => NameSlot::Owned(self.own(s)),
                n => NameSlot::Owned(self.own(SipStr::from(n.as_str()))),
            },
        }
    }

    fn entry(&mut self, name: HeaderName, value: SipStr) -> Entry {
        let name = self.slot_for(name);
        let value = ValueSlot::Owned(self.own(value));
        Entry::new(name, value)
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = HeaderRef<'_>> {
        self.list.iter().map(|e| HeaderRef {
            name: self.name_of(e),
            value: self.value_of(e),
            parent: self.parent_of(e),
        })
    }

    /// Calls `f(is_content_length, name, value)` for every field in order,
    /// with the canonical name for known headers (no `HeaderName` built:
    /// what printing needs).
    pub(crate) fn for_each_text(&self, mut f: impl FnMut(bool, &str, &str)) {
        for e in &self.list {
            let value = self.value_of(e);
            match e.name() {
                NameSlot::Known(k) => f(k == Known::ContentLength, k.as_str(), value),
                NameSlot::Span(s) => f(false, self.span(s), value),
                NameSlot::Owned(i) => f(false, self.owned(i), value),
            }
        }
    }

    /// About how many bytes the fields take printed (the received head's
    /// length, or a guess for built ones).
    pub(crate) fn text_len_hint(&self) -> usize {
        self.buf.len().max(self.list.len() * 40)
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        let key = Key::of(name);
        self.find_from(0, &key).map(|(_, e)| self.value_of(e))
    }

    /// The first value of `name` as a [`SipStr`] (sharing the received
    /// buffer for long values), to keep beyond the message.
    pub fn get_shared(&self, name: &HeaderName) -> Option<SipStr> {
        let key = Key::of(name);
        self.list
            .iter()
            .find(|e| self.is(e, &key))
            .map(|e| sub(self.parent_of(e), self.value_of(e)))
    }

    /// Every value of `name`, in order (each may hold comma-joined items).
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        let key = Key::of(name);
        self.list
            .iter()
            .filter(move |e| self.is(e, &key))
            .map(|e| self.value_of(e))
    }

    /// Every value of `name` with the text it lies in (for zero-copy
    /// typed views: `Via::parse_item(parent, value)`).
    pub(crate) fn get_all_in<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = (&'a SipStr, &'a str)> + 'a {
        let key = Key::of(name);
        self.list
            .iter()
            .filter(move |e| self.is(e, &key))
            .map(|e| (self.parent_of(e), self.value_of(e)))
    }

    /// The first value of `name` with the text it lies in.
    pub(crate) fn get_in(&self, name: &HeaderName) -> Option<(&SipStr, &str)> {
        let key = Key::of(name);
        self.find_from(0, &key)
            .map(|(_, e)| (self.parent_of(e), self.value_of(e)))
    }

    /// Which known names are present, in one pass: bit `min(k, 63)` for
    /// known name `k` (so bit 63 stands for every name from the 63rd on).
    /// Ask it with [`Headers::may_have`].
    pub(crate) fn known_mask(&self) -> u64 {
        self.list
            .iter()
            .filter(|e| e.tag & 0xff < NAME_SPAN)
            .fold(0, |m, e| m | 1 << (e.tag & 0xff).min(63))
    }

    /// Whether `name` may be present according to a [`Headers::known_mask`]
    /// (always for other names).
    pub(crate) fn may_have(mask: u64, name: &HeaderName) -> bool {
        name.known()
            .is_none_or(|k| mask & 1 << (k as u32).min(63) != 0)
    }

    /// How many header lines have each of the known `names`, in one pass.
    pub(crate) fn count_known<const N: usize>(&self, names: [&HeaderName; N]) -> [usize; N] {
        let tags = names.map(|n| n.known().map_or(u32::MAX, |k| k as u32));
        let mut counts = [0; N];
        for e in &self.list {
            let t = e.tag & 0xff;
            for (c, k) in counts.iter_mut().zip(&tags) {
                *c += usize::from(t == *k);
            }
        }
        counts
    }

    /// How many header lines are named `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        let key = Key::of(name);
        self.list.iter().filter(|e| self.is(e, &key)).count()
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.get(name).is_some()
    }

    /// Every comma-separated item of every `name` header, in order, with
    /// the text it lies in (pass both to a typed view's `parse_item` for a
    /// zero-copy parse).
    pub fn items<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = (&'a SipStr, &'a str)> + 'a {
        self.get_all_in(name)
            .flat_map(|(p, v)| split_top_level(v, b',').map(move |item| (p, item)))
    }

    /// Appends a header.
    pub fn push(&mut self, name: impl Into<HeaderName>, value: impl Into<SipStr>) {
        let e = self.entry(name.into(), value.into());
        self.list.push(e);
    }

    /// Appends a header.
    pub fn push_header(&mut self, h: Header) {
        self.push(h.name, h.value);
    }

    /// Inserts a header before all others.
    pub fn push_front(&mut self, name: impl Into<HeaderName>, value: impl Into<SipStr>) {
        let e = self.entry(name.into(), value.into());
        self.list.insert(0, e);
    }

    /// Appends the fields of `src` that `keep` selects, sharing `src`'s
    /// received buffer when `self` has none of its own.
    pub(crate) fn extend_from(&mut self, src: &Headers, keep: impl Fn(&HeaderName) -> bool) {
        if self.buf.is_empty() && !src.buf.is_empty() {
            self.buf = src.buf.clone();
        }
        let same_buf = self.buf.as_ptr() == src.buf.as_ptr() && self.buf.len() == src.buf.len();
        for e in &src.list {
            let name = src.name_of(e);
            if !keep(&name) {
                continue;
            }
            match (e.name(), e.value()) {
                (NameSlot::Known(_), ValueSlot::Span(_)) if same_buf => {
                    self.list.push(*e);
                }
                _ => {
                    let value = sub(src.parent_of(e), src.value_of(e));
                    self.push(name, value);
                }
            }
        }
    }

    /// Appends every `name` field of `src`, in order (sharing `src`'s
    /// received text: no copy).
    pub fn copy_from(&mut self, src: &Headers, name: &HeaderName) {
        self.extend_from(src, |n| n.is(name));
    }

    /// Replaces all `name` headers by one with `value` (at the first one's
    /// position, or at the end).
    pub fn set(&mut self, name: impl Into<HeaderName>, value: impl Into<SipStr>) {
        let name = name.into();
        let value = value.into();
        let key = Key::of(&name);
        match self.list.iter().position(|e| self.is(e, &key)) {
            Some(i) => {
                let slot = match self.list.get(i).map(Entry::value) {
                    Some(ValueSlot::Owned(o)) => {
                        if let Some(v) = self.owned.get_mut(o as usize) {
                            *v = value;
                        }
                        ValueSlot::Owned(o)
                    }
                    _ => ValueSlot::Owned(self.own(value)),
                };
                if let Some(e) = self.list.get_mut(i) {
                    e.set_value(slot);
                }
                let list = std::mem::take(&mut self.list);
                let mut kept = Vec::with_capacity(list.len());
                for (idx, e) in list.into_iter().enumerate() {
                    if idx <= i || !self.is(&e, &key) {
                        kept.push(e);
                    }
                }
                self.list = kept;
            }
            None => {
                let e = self.entry(name, value);
                self.list.push(e);
            }
        }
    }

    /// Removes every `name` header; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let key = Key::of(name);
        let before = self.list.len();
        let list = std::mem::take(&mut self.list);
        self.list = list.into_iter().filter(|e| !self.is(e, &key)).collect();
        before - self.list.len()
    }

    /// Removes the first item of the first `name` header (the top Via, the
    /// first Route): the whole line if it held one item.
    pub fn remove_first_item(&mut self, name: &HeaderName) -> bool {
        let key = Key::of(name);
        let Some(i) = self.list.iter().position(|e| self.is(e, &key)) else {
            return false;
        };
        let Some(e) = self.list.get(i).copied() else {
            return false;
        };
        let value = self.value_of(&e);
        match find_top_level(value, b',') {
            Some(comma) => {
                let rest = trim_lws(value.get(comma + 1..).unwrap_or(""));
                // `rest` is a suffix of the value: shrink the slot.
                let skip = (value.len() - rest.len()) as u32;
                match e.value() {
                    ValueSlot::Span(s) => {
                        if let Some(e) = self.list.get_mut(i) {
                            e.set_value(ValueSlot::Span(Span {
                                start: s.start + skip,
                                len: s.len - skip,
                            }));
                        }
                    }
                    ValueSlot::Owned(o) => {
                        let v = sub(self.owned(o), rest);
                        if let Some(slot) = self.owned.get_mut(o as usize) {
                            *slot = v;
                        }
                    }
                }
            }
            None => {
                self.list.remove(i);
            }
        }
        true
    }
}

/// A `Via` header value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol version, normally `2.0`.
    pub version: SipStr,
    /// Transport (`UDP`, `TCP`, `TLS`, `WS`, ...), as written.
    pub transport: SipStr,
    /// Sent-by host.
    pub host: Host,
    /// Sent-by port.
    pub port: Option<u16>,
    /// Parameters (branch, received, rport, maddr, ttl, ...).
    pub params: Params,
}

impl Via {
    /// A Via for `transport` from `host:port` with a branch.
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(branch));
        Self {
            version: SipStr::from_static("2.0"),
            transport: SipStr::from(transport),
            host,
            port,
            params,
        }
    }

    /// The first item of a Via value in one pass, when it is plain
    /// (`SIP/2.0/UDP host[:port][;params]`, single space, no quotes): what
    /// almost every message carries. `None`: use [`Via::parse_item`] on
    /// the first item, which handles (and reports) everything else. Never
    /// accepts what that rejects; builds the same value.
    #[inline]
    pub(crate) fn parse_first_fast(parent: &SipStr, v: &str) -> Option<Self> {
        Self::first_fast::<true>(parent, v).and_then(|(_, via)| via)
    }

    /// The fast path: `None` when it does not take `v`, else the first
    /// item's parameter text and, when `BUILD`, the value.
    #[inline(always)]
    fn first_fast<'a, const BUILD: bool>(
        parent: &SipStr,
        v: &'a str,
    ) -> Option<(&'a str, Option<Self>)> {
        let b = v.as_bytes();
        if !b.get(..4)?.eq_ignore_ascii_case(b"SIP/") {
            return None;
        }
        let token_end = |mut i: usize| {
            while b.get(i).is_some_and(|c| is_token_char(*c)) {
                i += 1;
            }
            i
        };
        let vend = token_end(4);
        if vend == 4 || b.get(vend) != Some(&b'/') {
            return None;
        }
        let tend = token_end(vend + 1);
        if tend == vend + 1 || b.get(tend) != Some(&b' ') {
            return None;
        }
        let hs = tend + 1;
        let mut i = hs;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        {
            i += 1;
        }
        let hend = i;
        let port = if b.get(i) == Some(&b':') {
            let ps = i + 1;
            i = ps;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            Some(super::uri::fast_port(b.get(ps..i)?)?)
        } else {
            None
        };
        let params = match b.get(i) {
            None | Some(b',') => "",
            Some(b';') => {
                let end = memchr::memchr(b',', b.get(i..)?).map_or(b.len(), |c| i + c);
                let p = v.get(i..end)?;
                if !Params::is_plain(p) {
                    return None;
                }
                p
            }
            Some(_) => return None,
        };
        if !BUILD {
            return super::uri::fast_host_ok(v.get(hs..hend)?).then_some((params, None));
        }
        let host = super::uri::fast_host(parent, v.get(hs..hend)?)?;
        Some((
            params,
            Some(Self {
                version: sub(parent, v.get(4..vend)?),
                transport: sub(parent, v.get(vend + 1..tend)?),
                host,
                port,
                params: Params::from_plain(parent, params),
            }),
        ))
    }

    /// Checks one item as [`Via::parse_item`] parses it, building nothing
    /// in the common case; returns whether its branch is the bare magic
    /// cookie `z9hG4bK` (what validation asks of the top Via).
    pub(crate) fn check_item(parent: &SipStr, s: &str) -> Result<bool, &'static str> {
        let bare =
            |b: Option<&str>| b.is_some_and(|b| b.len() == 7 && b.eq_ignore_ascii_case("z9hG4bK"));
        if memchr::memchr(b',', s.as_bytes()).is_none()
            && let Some((params, _)) = Self::first_fast::<false>(parent, s)
        {
            return Ok(bare(
                find_param(params, "branch")
                    .and_then(|p| p.value)
                    .map(unquote),
            ));
        }
        Self::parse_item(parent, s).map(|via| bare(via.branch()))
    }

    /// Parses one Via item (not comma-joined).
    pub fn parse_item(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        if memchr::memchr(b',', s.as_bytes()).is_none()
            && let Some(via) = Self::parse_first_fast(parent, s)
        {
            return Ok(via);
        }
        // sent-protocol: "SIP" LWS? "/" LWS? version LWS? "/" LWS? transport
        let mut parts = s.splitn(3, '/');
        let proto = trim_lws(parts.next().ok_or("bad Via")?);
        let version = trim_lws(parts.next().ok_or("bad Via protocol")?);
        let rest = trim_lws(parts.next().ok_or("bad Via protocol")?);
        if !proto.eq_ignore_ascii_case("SIP") || version.is_empty() {
            return Err("bad Via protocol");
        }
        let split = rest
            .find(|c: char| c.is_ascii_whitespace())
            .ok_or("Via without sent-by")?;
        let (transport, sent_by) = rest.split_at_checked(split).ok_or("bad Via")?;
        let sent_by = trim_lws(sent_by);
        let (hostport, params) = match find_top_level(sent_by, b';') {
            Some(i) => {
                let (h, p) = sent_by.split_at_checked(i).ok_or("bad Via")?;
                (trim_lws(h), Params::parse_in(parent, p)?)
            }
            None => (sent_by, Params::new()),
        };
        // white space is allowed around the ':' of sent-by
        let hostport_compact: String;
        let hostport = if hostport.bytes().any(|b| b.is_ascii_whitespace()) {
            hostport_compact = hostport.split_ascii_whitespace().collect();
            hostport_compact.as_str()
        } else {
            hostport
        };
        let (host, port) = parse_hostport(parent, hostport)?;
        if !super::text::is_token(transport) {
            return Err("bad Via transport");
        }
        Ok(Self {
            version: sub(parent, version),
            transport: sub(parent, transport),
            host,
            port,
            params,
        })
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch")
    }

    /// The `received` parameter as an address.
    pub fn received(&self) -> Option<std::net::IpAddr> {
        self.params
            .get("received")
            .and_then(|r| r.trim_matches(|c| c == '[' || c == ']').parse().ok())
    }

    /// The `rport` parameter: `None` absent, `Some(None)` requested
    /// (valueless), `Some(Some(p))` filled in by the server.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.find("rport")?;
        Some(p.value.and_then(|v| v.parse().ok()))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}/{} {}", self.version, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// A name-addr or addr-spec with header parameters: the value of From, To,
/// Contact, Route, Record-Route, Refer-To, P-Asserted-Identity, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name (unquoted), if any.
    pub display_name: Option<SipStr>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (tag, expires, q, +sip.instance, ...).
    pub params: Params,
    /// Whether it was written in angle brackets (printing keeps them when
    /// needed anyway).
    pub angle: bool,
}

impl NameAddr {
    /// `<uri>` without display name or parameters.
    pub fn new(uri: impl Into<Uri>) -> Self {
        Self {
            display_name: None,
            uri: uri.into(),
            params: Params::new(),
            angle: true,
        }
    }

    /// One pass over a plain `[display] <uri>[;params]` item (display a
    /// run of tokens or a quoted string without escapes, nothing between
    /// `>` and the parameters). `None`: use the general parser. Never
    /// accepts what that rejects; builds the same value.
    #[inline]
    fn parse_fast(parent: &SipStr, s: &str) -> Option<Self> {
        Self::fast::<true>(parent, s).and_then(|(_, na)| na)
    }

    /// The fast path: `None` when it does not take `s`, else where the
    /// header parameters start (after the `>`) and the value when `BUILD`
    /// (`None` when only checking: nothing is built, the URI is only
    /// checked).
    #[inline(always)]
    fn fast<const BUILD: bool>(parent: &SipStr, s: &str) -> Option<(usize, Option<Self>)> {
        let b = s.as_bytes();
        let (display_name, lt) = if b.first() == Some(&b'"') {
            let close = 1 + memchr::memchr2(b'"', b'\\', b.get(1..)?)?;
            if b.get(close) != Some(&b'"') {
                return None;
            }
            let mut i = close + 1;
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            if b.get(i) != Some(&b'<') {
                return None;
            }
            (Some(s.get(1..close)?), i)
        } else {
            let mut i = 0;
            let mut last = 0;
            while let Some(&c) = b.get(i) {
                if c == b'<' {
                    break;
                }
                if is_token_char(c) {
                    last = i + 1;
                } else if c != b' ' && c != b'\t' {
                    return None;
                }
                i += 1;
            }
            if b.get(i) != Some(&b'<') || matches!(b.first(), Some(b' ' | b'\t')) {
                return None;
            }
            let display = (last > 0).then(|| s.get(..last)).flatten();
            (display, i)
        };
        let gt = lt + 1 + memchr::memchr(b'>', b.get(lt + 1..)?)?;
        let uri = s.get(lt + 1..gt)?;
        if !BUILD {
            Uri::check_in(parent, uri).ok()?;
            return match b.get(gt + 1) {
                None => Some((gt + 1, None)),
                Some(b';') => Params::is_plain(s.get(gt + 1..)?).then_some((gt + 1, None)),
                Some(_) => None,
            };
        }
        let uri = Uri::parse_in(parent, uri).ok()?;
        let params = match b.get(gt + 1) {
            None => Params::new(),
            Some(b';') => Params::parse_fast(parent, s.get(gt + 1..)?)?,
            Some(_) => return None,
        };
        Some((
            gt + 1,
            Some(Self {
                display_name: display_name.map(|d| sub(parent, d)),
                uri,
                params,
                angle: true,
            }),
        ))
    }

    /// Checks one item as [`NameAddr::parse_item`] parses it and returns
    /// its tag, building nothing else in the common case.
    pub(crate) fn checked_tag(parent: &SipStr, s: &str) -> Result<Option<SipStr>, &'static str> {
        let s = trim_lws(s);
        if let Some((params, _)) = Self::fast::<false>(parent, s) {
            let tag = find_param(s.get(params..).unwrap_or(""), "tag").and_then(|p| p.value);
            return Ok(tag.map(|t| sub(parent, unquote(t))));
        }
        Self::parse_general(parent, s).map(|na| na.tag().map(SipStr::from))
    }

    /// Checks one item as [`NameAddr::parse_item`] parses it, building
    /// nothing in the common case (what validation needs).
    pub(crate) fn check_item(parent: &SipStr, s: &str) -> Result<(), &'static str> {
        let s = trim_lws(s);
        if Self::fast::<false>(parent, s).is_some() {
            return Ok(());
        }
        Self::parse_general(parent, s).map(|_| ())
    }

    /// Parses one item (not comma-joined).
    pub fn parse_item(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let s = trim_lws(s);
        if let Some(na) = Self::parse_fast(parent, s) {
            return Ok(na);
        }
        Self::parse_general(parent, s)
    }

    fn parse_general(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        if let Some(lt) = find_unquoted(s, b'<') {
            let (display, rest) = s.split_at_checked(lt).ok_or("bad name-addr")?;
            let display = trim_lws(display);
            let display_name = if display.is_empty() {
                None
            } else if display.starts_with('"') {
                if display.len() < 2 || !display.ends_with('"') {
                    return Err("unterminated display name");
                }
                Some(sub(parent, unquote(display)))
            } else {
                // token *(LWS token)
                if !display.split_ascii_whitespace().all(super::text::is_token) {
                    return Err("bad display name");
                }
                Some(sub(parent, display))
            };
            let rest = rest.get(1..).unwrap_or("");
            let gt = rest.find('>').ok_or("missing '>'")?;
            let (uri, after) = rest.split_at_checked(gt).ok_or("bad name-addr")?;
            // No white space inside the brackets (RFC 4475 §3.1.2.14).
            let uri = Uri::parse_in(parent, uri)?;
            let after = trim_lws(after.get(1..).unwrap_or(""));
            if !after.is_empty() && !after.starts_with(';') {
                return Err("junk after '>'");
            }
            let params = Params::parse_in(parent, after)?;
            Ok(Self {
                display_name,
                uri,
                params,
                angle: true,
            })
        } else {
            if s.starts_with('"') {
                return Err("display name without <uri>");
            }
            // addr-spec: parameters after the URI are header parameters.
            let (uri, params) = match s.find(';') {
                Some(i) => {
                    let (u, p) = s.split_at_checked(i).ok_or("bad addr-spec")?;
                    (trim_lws(u), Params::parse_in(parent, p)?)
                }
                None => (s, Params::new()),
            };
            if uri.contains(['?', ',']) {
                return Err("addr-spec with '?' or ',' must use <>");
            }
            Ok(Self {
                display_name: None,
                uri: Uri::parse_in(parent, uri)?,
                params,
                angle: false,
            })
        }
    }

    /// Parses a standalone value.
    pub fn parse(s: &str) -> Result<Self, super::ParseError> {
        let owned = SipStr::from(s);
        Self::parse_item(&owned, &owned).map_err(super::ParseError::Invalid)
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag")
    }

    /// Sets the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag));
    }

    /// The `expires` parameter of a Contact (saturating at `u32::MAX`);
    /// `None` if absent or not a number.
    pub fn expires(&self) -> Option<u32> {
        let v = self.params.get("expires")?;
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(v.parse::<u32>().unwrap_or(u32::MAX))
    }

    /// The `q` parameter of a Contact, in thousandths (`q=0.5` is 500).
    pub fn q(&self) -> Option<u16> {
        let v = self.params.get("q")?;
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole = match int {
            "0" => 0u16,
            "1" => 1000,
            _ => return None,
        };
        let mut f: u16 = 0;
        for (i, d) in frac.bytes().enumerate() {
            f += u16::from(d - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
        }
        let q = whole + f;
        (q <= 1000).then_some(q)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            if super::text::is_token(d) {
                write!(f, "{d} ")?;
            } else {
                write!(f, "{} ", super::text::quote(d))?;
            }
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// Byte offset of the first `b` outside double quotes.
fn find_unquoted(s: &str, b: u8) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.bytes().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_quotes = false;
            }
        } else if c == b'"' {
            in_quotes = true;
        } else if c == b {
            return Some(i);
        }
    }
    None
}

/// A `CSeq` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (31 bits per RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1 INVITE`.
    pub fn parse_value(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        // One pass over the plain form `digits SP method`.
        let b = s.as_bytes();
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        if (1..=10).contains(&digits)
            && b.get(digits) == Some(&b' ')
            && b.len() > digits + 1
            && b.get(digits + 1..)
                .is_some_and(|m| m.iter().all(|c| is_token_char(*c)))
        {
            let seq = b
                .get(..digits)
                .unwrap_or(&[])
                .iter()
                .fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
            if seq <= u64::from(u32::MAX >> 1) {
                return Ok(Self {
                    seq: seq as u32,
                    method: Method::parse(parent, s.get(digits + 1..).unwrap_or("")),
                });
            }
        }
        let s = trim_lws(s);
        let (n, m) = s
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or("bad CSeq")?;
        if n.is_empty() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err("bad CSeq number");
        }
        let seq: u64 = n.parse().map_err(|_| "bad CSeq number")?;
        if seq > u64::from(u32::MAX >> 1) {
            return Err("CSeq number out of range");
        }
        let m = trim_lws(m);
        if !super::text::is_token(m) {
            return Err("bad CSeq method");
        }
        Ok(Self {
            seq: seq as u32,
            method: Method::parse(parent, m),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> SipStr {
        SipStr::from(x)
    }

    #[test]
    fn header_names() {
        let n = s("v");
        assert_eq!(HeaderName::parse(&n, &n), HeaderName::Via);
        let n = s("cAlL-iD");
        assert_eq!(HeaderName::parse(&n, &n), HeaderName::CallId);
        let n = s("X-Custom");
        assert!(HeaderName::parse(&n, &n).is(&HeaderName::from("x-custom")));
        let n = s("a-very-long-header-name-beyond-the-buffer");
        assert!(matches!(HeaderName::parse(&n, &n), HeaderName::Other(_)));
    }

    #[test]
    fn hashed_name_lookup() {
        let words = |n: &[u8]| {
            let mut w = name_words(n);
            for (i, x) in w.iter_mut().enumerate() {
                let len = n.len().saturating_sub(i * 8).min(8) as u32;
                *x = (*x | 0x2020_2020_2020_2020) & u64::MAX.checked_shr(64 - 8 * len).unwrap_or(0);
            }
            w
        };
        for (lower, k) in Known::LOWER {
            let upper = lower.to_ascii_uppercase();
            assert_eq!(Known::lookup_words(words(lower), lower.len()), Some(*k));
            assert_eq!(Known::lookup_words(words(&upper), upper.len()), Some(*k));
            assert_eq!(Known::lookup(&upper), Some(*k));
            let mut longer = lower.to_vec();
            longer.push(b'x');
            if longer.len() <= 24 {
                assert_eq!(
                    Known::lookup_words(words(&longer), longer.len()),
                    Known::lookup(&longer)
                );
            }
        }
        assert_eq!(Known::lookup_words(words(b"x-foo"), 5), None);
    }

    #[test]
    fn via_forms() {
        let v = s("SIP  /   2.0  /  UDP  192.0.2.1 : 5060 ; branch = z9hG4bK1 ;rport");
        let via = Via::parse_item(&v, &v).unwrap();
        assert_eq!(via.transport.as_ref() as &str, "UDP");
        assert_eq!(via.port, Some(5060));
        assert_eq!(via.branch(), Some("z9hG4bK1"));
        assert_eq!(via.rport(), Some(None));
        let v = s("SIP/2.0/TCP [2001:db8::9:1];branch=z9hG4bKas3;received=[2001:db8::9:255]");
        let via = Via::parse_item(&v, &v).unwrap();
        assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
        assert!(Via::parse_item(&v, "SIP/2.0/UDP").is_err());
    }

    #[test]
    fn name_addr_forms() {
        let v = s(r#""Bob \"B\"" <sip:bob@biloxi.com>;tag=a6c85cf"#);
        let na = NameAddr::parse_item(&v, &v).unwrap();
        assert_eq!(na.tag(), Some("a6c85cf"));
        assert_eq!(na.display_name.as_deref(), Some(r#"Bob \"B\""#));
        let v = s("sip:alice@atlanta.com;tag=1928301774");
        let na = NameAddr::parse_item(&v, &v).unwrap();
        assert_eq!(na.tag(), Some("1928301774"));
        assert!(na.uri.as_sip().unwrap().params.is_empty());
        let v = s("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8");
        assert!(NameAddr::parse_item(&v, &v).is_ok());
        assert!(NameAddr::parse_item(&v, "<sip:a@b").is_err());
        assert!(NameAddr::parse_item(&v, "\"x <sip:a@b>").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        /// The Via fast path accepts nothing the general parser rejects
        /// and builds the same value as it does for the first item.
        #[test]
        fn via_fast_path_agrees(
            v in proptest::prop_oneof![
                "(SIP|sip|SIP )/[0-9.]{0,3}/(UDP|tcp|T-1|U D)[ ]{0,2}[a-z0-9.:_-]{0,12}(;[a-z=0-9\" ]{0,8}|;branch=z9hG4bK|;BRANCH=\"z9hg4bk\"){0,3}(,[ ]?SIP/2.0/UDP b)?",
                "[SIP/2.0UDa-c;=,: \"]{0,30}",
            ],
        ) {
            let parent = s(&v);
            // The check decides as the parser does, and sees the same
            // branch.
            let first = split_top_level(&parent, b',').next().unwrap_or("");
            proptest::prop_assert_eq!(
                Via::check_item(&parent, first),
                Via::parse_item(&parent, first).map(|via| via
                    .branch()
                    .is_some_and(|b| b.len() == 7 && b.eq_ignore_ascii_case("z9hG4bK"))),
                "{}", v
            );
            if let Some(fast) = Via::parse_first_fast(&parent, &parent) {
                let first = split_top_level(&parent, b',').next().unwrap();
                proptest::prop_assert_eq!(Via::parse_item(&parent, first), Ok(fast), "{}", v);
            }
        }

        /// The name-addr fast path accepts nothing the general parser
        /// rejects and builds the same value.
        #[test]
        fn name_addr_fast_path_agrees(
            v in proptest::prop_oneof![
                "(\"[a-z <>\\\\]{0,6}\"|[a-z ]{0,8})[ ]{0,2}<(sip|tel):[a-z@.:;=]{0,14}>[ ]?(;[a-z=\"]{0,6}){0,2}",
                "[a-z\" <>:@;=.\\\\]{0,30}",
            ],
        ) {
            let parent = s(&v);
            let t = trim_lws(&parent);
            // The check decides as the parser does.
            proptest::prop_assert_eq!(
                NameAddr::check_item(&parent, &parent),
                NameAddr::parse_item(&parent, &parent).map(|_| ()),
                "{}", v
            );
            if let Some(fast) = NameAddr::parse_fast(&parent, t) {
                proptest::prop_assert_eq!(NameAddr::parse_general(&parent, t), Ok(fast), "{}", v);
            }
        }
    }

    #[test]
    fn typical_values_take_the_fast_paths() {
        let v = s("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport");
        let via = Via::parse_first_fast(&v, &v).unwrap();
        assert_eq!(via.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(Ok(via), Via::parse_item(&v, &v));
        for text in [
            "Alice <sip:alice@atlanta.example.com>;tag=1928301774",
            "\"Bob B\" <sip:bob@biloxi.example.com>",
            "<sip:alice@192.0.2.10:5060;transport=udp>;expires=3600",
        ] {
            let v = s(text);
            let na = NameAddr::parse_fast(&v, &v).unwrap();
            assert_eq!(Ok(na), NameAddr::parse_general(&v, &v), "{text}");
        }
    }

    #[test]
    fn headers_ops() {
        let mut h = Headers::new();
        h.push(
            HeaderName::Via,
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        h.push(HeaderName::Via, "SIP/2.0/UDP c;branch=z9hG4bK3");
        assert_eq!(h.items(&HeaderName::Via).count(), 3);
        assert!(h.remove_first_item(&HeaderName::Via));
        assert_eq!(h.items(&HeaderName::Via).count(), 2);
        assert!(h.remove_first_item(&HeaderName::Via));
        assert!(h.remove_first_item(&HeaderName::Via));
        assert!(!h.contains(&HeaderName::Via));
        h.push("X-A", "1");
        h.push("x-a", "2");
        h.set("X-A", "3");
        assert_eq!(h.count(&"X-A".into()), 1);
        h.push(HeaderName::Authorization, "Digest response=\"secret\"");
        assert!(!format!("{h:?}").contains("secret"));
    }

    #[test]
    fn cseq() {
        let v = s("4711 INVITE");
        let c = CSeq::parse_value(&v, &v).unwrap();
        assert_eq!(c.seq, 4711);
        assert_eq!(c.method, Method::Invite);
        assert!(CSeq::parse_value(&v, "99999999999 INVITE").is_err());
        assert!(CSeq::parse_value(&v, "1").is_err());
    }
}
