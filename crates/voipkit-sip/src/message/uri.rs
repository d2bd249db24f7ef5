//! URIs: SIP/SIPS URIs (RFC 3261 §19.1) with IPv6 references (RFC 5118),
//! and any other absolute URI (`tel:`, `http:`, ...) kept opaque.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::text::{Params, SipStr, percent_decode, sub};

/// The host part of a SIP URI or Via.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A domain name, as written.
    Domain(SipStr),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host: `[v6]`, dotted IPv4, or a domain name.
    pub(crate) fn parse(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        if s.is_empty() {
            return Err("empty host");
        }
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or("unterminated IPv6 reference")?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| "bad IPv6 address");
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        {
            if let Ok(v4) = s.parse::<Ipv4Addr>() {
                return Ok(Host::Ipv4(v4));
            }
            // Digits and dots that are not an IPv4 address: only a valid
            // hostname if its last label starts with a letter, which it
            // does not here.
            return Err("bad IPv4 address");
        }
        if s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Ok(Host::Domain(sub(parent, s)));
        }
        Err("bad host")
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
            Host::Domain(_) => None,
        }
    }

    /// Case-insensitive comparison for domains, address comparison for IPs.
    pub fn matches(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]` (the host may be a bracketed IPv6 reference).
pub(crate) fn parse_hostport(
    parent: &SipStr,
    s: &str,
) -> Result<(Host, Option<u16>), &'static str> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or("unterminated IPv6 reference")?;
        let (h, rest) = s.split_at_checked(close + 1).ok_or("bad host")?;
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err("junk after IPv6 reference"),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Ok((Host::parse(parent, host)?, port))
}

fn parse_port(p: &str) -> Result<u16, &'static str> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad port");
    }
    p.parse::<u16>().map_err(|_| "port out of range")
}

/// A `sip:` or `sips:` URI.
#[derive(Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// User part, as written (may contain `%` escapes).
    pub user: Option<SipStr>,
    /// Host.
    pub host: Host,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params,
    /// The password and the `?headers` part: rare, so kept out of line
    /// (every URI, name-addr and message is smaller for it).
    rare: Option<Box<UriRare>>,
}

/// The rarely present parts of a [`SipUri`].
#[derive(Clone, PartialEq, Eq, Default)]
struct UriRare {
    password: Option<SipStr>,
    headers: Option<SipStr>,
}

impl fmt::Debug for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SipUri");
        d.field("secure", &self.secure)
            .field("user", &self.user)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("params", &self.params);
        if self.password().is_some() {
            d.field("password", &"<redacted>");
        }
        if let Some(h) = self.headers() {
            d.field("headers", &h);
        }
        d.finish()
    }
}

/// The rare parts as stored: `None` when both are absent.
fn rare(password: Option<SipStr>, headers: Option<SipStr>) -> Option<Box<UriRare>> {
    if password.is_none() && headers.is_none() {
        None
    } else {
        Some(Box::new(UriRare { password, headers }))
    }
}

impl SipUri {
    /// A `sip:` URI with the given user and host.
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>) -> Self {
        Self {
            secure: false,
            user: user.map(SipStr::from),
            host,
            port,
            params: Params::new(),
            rare: None,
        }
    }

    /// The password (deprecated by RFC 3261; never shown by Debug).
    pub fn password(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.password.as_deref())
    }

    /// Sets or clears the password.
    pub fn set_password(&mut self, password: Option<&str>) {
        let headers = self.rare.take().and_then(|r| r.headers);
        self.rare = rare(password.map(SipStr::from), headers);
    }

    /// The header part after `?`, as written.
    pub fn headers(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.headers.as_deref())
    }

    /// Sets or clears the header part (`?` not included).
    pub fn set_headers(&mut self, headers: Option<&str>) {
        let password = self.rare.take().and_then(|r| r.password);
        self.rare = rare(password, headers.map(SipStr::from));
    }

    /// A `sip:` URI for a socket address.
    pub fn from_addr(user: Option<&str>, addr: SocketAddr) -> Self {
        Self::new(user, addr.ip().into(), Some(addr.port()))
    }

    fn parse_after_scheme(parent: &SipStr, s: &str, secure: bool) -> Result<Self, &'static str> {
        // userinfo ends at the first '@' (an '@' elsewhere must be escaped).
        let (userinfo, rest) = match s.find('@') {
            Some(at) => {
                let (u, r) = s.split_at_checked(at).ok_or("bad URI")?;
                (Some(u), r.get(1..).unwrap_or(""))
            }
            None => (None, s),
        };
        let (user, password) = match userinfo {
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err("empty user part");
                }
                if !u.bytes().all(is_user_char) {
                    return Err("bad character in user part");
                }
                if u.contains('%') && percent_decode(u).is_none() {
                    return Err("bad escape in user part");
                }
                (Some(sub(parent, u)), p.map(|p| sub(parent, p)))
            }
            None => (None, None),
        };
        let (rest, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, Some(sub(parent, h))),
            None => (rest, None),
        };
        let (hostport, params) = match rest.find(';') {
            Some(i) => {
                let (h, p) = rest.split_at_checked(i).ok_or("bad URI")?;
                (h, Params::parse_in(parent, p)?)
            }
            None => (rest, Params::new()),
        };
        let (host, port) = parse_hostport(parent, hostport)?;
        Ok(Self {
            secure,
            user,
            host,
            port,
            params,
            rare: rare(password, headers),
        })
    }

    /// One pass over a plain `sip:`/`sips:` URI (no escapes, no IPv6, no
    /// unusual characters: what almost every message carries). `None`
    /// means: use the general parser, which also reports every error; so
    /// this never accepts what the general parser rejects, and builds the
    /// same value.
    #[inline]
    fn parse_fast(parent: &SipStr, s: &str) -> Option<Self> {
        Self::fast::<true>(parent, s).flatten()
    }

    /// Whether [`SipUri::parse_fast`] accepts `s`, without building the
    /// URI (the parser's check of a Request-URI it builds on first use).
    fn check_fast(s: &str) -> bool {
        Self::fast::<false>(&SipStr::new(), s).is_some()
    }

    /// The fast path: `None` when it does not take `s`, else the URI when
    /// `BUILD` (`Some(None)` when only checking).
    #[inline(always)]
    fn fast<const BUILD: bool>(parent: &SipStr, s: &str) -> Option<Option<Self>> {
        let b = s.as_bytes();
        let (secure, off) = match b {
            [s0, i, p, c, b':', ..] if eq3(*s0, *i, *p) && c.eq_ignore_ascii_case(&b's') => {
                (true, 5)
            }
            [s0, i, p, b':', ..] if eq3(*s0, *i, *p) => (false, 4),
            _ => return None,
        };
        let rest = b.get(off..)?;
        let class = |c: u8| URI_CLASS.get(usize::from(c)).copied().unwrap_or(0);
        // One pass to the first ';' or '?' (or the end): every byte plain,
        // where the first '@' and the last ':' are. Bytes other than
        // '@', ':', ';' and '?' cost a table read and a test.
        let mut plain = PLAIN;
        let mut at = usize::MAX;
        let mut colon = usize::MAX;
        let mut stop = rest.len();
        for (i, &c) in rest.iter().enumerate() {
            let k = class(c);
            plain &= k;
            if k & DELIM != 0 {
                match c {
                    b'@' if at == usize::MAX => {
                        at = i;
                        colon = usize::MAX;
                    }
                    b':' => colon = i,
                    b';' | b'?' => {
                        stop = i;
                        break;
                    }
                    _ => {}
                }
            }
        }
        // The rest (parameters, headers): plain too, and an '@' there
        // would end the userinfo when none came before (the general
        // parser's rule): leave that to it.
        let mut tail_at = false;
        for &c in rest.get(stop..)? {
            plain &= class(c);
            tail_at |= c == b'@';
        }
        if plain == 0 || (tail_at && at == usize::MAX) {
            return None;
        }
        let host_from = if at == usize::MAX { 0 } else { at + 1 };
        let end = stop - host_from;
        let hostpart = rest.get(host_from..)?;
        let (host_len, port) = if colon == usize::MAX {
            (end, None)
        } else {
            let c = colon - host_from;
            (c, Some(fast_port(hostpart.get(c + 1..end)?)?))
        };
        let host_class = hostpart
            .get(..host_len)?
            .iter()
            .fold(HOST | DIGIT_DOT, |acc, c| acc & class(*c));
        let text = |from: usize, to: usize| s.get(off + from..off + to);
        let ipv4 = match hostpart.first() {
            _ if host_len == 0 => return None,
            Some(f) if f.is_ascii_digit() && host_class & DIGIT_DOT != 0 => {
                Some(parse_ipv4(hostpart.get(..host_len)?)?)
            }
            Some(_) if host_class & HOST != 0 => None,
            _ => return None,
        };
        // The user part ends at the first ':' of the userinfo.
        let user_end = if at == usize::MAX {
            None
        } else {
            let ui = rest.get(..at)?;
            let mut u = at;
            let mut user_class = USER;
            for (i, &c) in ui.iter().enumerate() {
                if c == b':' {
                    u = i;
                    break;
                }
                user_class &= class(c);
            }
            if u == 0 || user_class == 0 {
                return None;
            }
            Some(u)
        };
        // Parameters up to the first '?', headers after it.
        let (params_to, headers_from) = match hostpart.get(end) {
            None => (None, None),
            Some(b';') => {
                let q = hostpart
                    .get(end..)?
                    .iter()
                    .position(|c| *c == b'?')
                    .map(|x| end + x);
                (Some(q.unwrap_or(hostpart.len())), q.map(|q| q + 1))
            }
            Some(_) => (None, Some(end + 1)),
        };
        let params_text = match params_to {
            Some(to) => Some(text(host_from + end, host_from + to)?),
            None => None,
        };
        if !BUILD {
            return match params_text {
                Some(p) if !Params::is_valid(p) => None,
                _ => Some(None),
            };
        }
        let host = match ipv4 {
            Some(a) => Host::Ipv4(a),
            None => Host::Domain(sub(parent, text(host_from, host_from + host_len)?)),
        };
        let (user, password) = match user_end {
            None => (None, None),
            Some(u) => (
                Some(sub(parent, text(0, u)?)),
                if u < at {
                    Some(sub(parent, text(u + 1, at)?))
                } else {
                    None
                },
            ),
        };
        let params = match params_text {
            Some(p) => Params::parse_in(parent, p).ok()?,
            None => Params::new(),
        };
        let headers = match headers_from {
            Some(h) => Some(sub(parent, text(host_from + h, rest.len())?)),
            None => None,
        };
        Some(Some(Self {
            secure,
            user,
            host,
            port,
            params,
            rare: if password.is_none() && headers.is_none() {
                None
            } else {
                rare(password, headers)
            },
        }))
    }

    /// The user part with `%` escapes decoded.
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().and_then(percent_decode)
    }

    /// The `transport` parameter, lower-cased.
    pub fn transport_param(&self) -> Option<String> {
        self.params.get("transport").map(|t| t.to_ascii_lowercase())
    }

    /// Equivalence per RFC 3261 §19.1.4.
    pub fn matches(&self, other: &SipUri) -> bool {
        if self.secure != other.secure || self.port != other.port || !self.host.matches(&other.host)
        {
            return false;
        }
        let unesc =
            |u: &Option<SipStr>| u.as_deref().map(|u| percent_decode(u).unwrap_or_default());
        if unesc(&self.user) != unesc(&other.user) || self.password() != other.password() {
            return false;
        }
        for name in ["user", "ttl", "method", "maddr", "transport"] {
            let a = self.params.get(name).map(str::to_ascii_lowercase);
            let b = other.params.get(name).map(str::to_ascii_lowercase);
            if a != b {
                return false;
            }
        }
        for p in self.params.iter() {
            if let Some(q) = other.params.find(p.name) {
                let a = p.value.map(str::to_ascii_lowercase);
                let b = q.value.map(str::to_ascii_lowercase);
                if a != b {
                    return false;
                }
            }
        }
        self.headers() == other.headers()
    }
}

/// `sip` in any case.
#[inline]
fn eq3(a: u8, b: u8, c: u8) -> bool {
    a.eq_ignore_ascii_case(&b's') && b.eq_ignore_ascii_case(&b'i') && c.eq_ignore_ascii_case(&b'p')
}

/// A port the general parser accepts: 1-5 digits, at most 65535.
#[inline]
pub(crate) fn fast_port(p: &[u8]) -> Option<u16> {
    if p.is_empty() || p.len() > 5 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in p {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    u16::try_from(n).ok()
}

/// A host the general parser accepts without IPv6 brackets: a dotted IPv4
/// address or a domain name.
#[inline]
pub(crate) fn fast_host(parent: &SipStr, h: &str) -> Option<Host> {
    let b = h.as_bytes();
    let first = *b.first()?;
    if first.is_ascii_digit() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return parse_ipv4(b).map(Host::Ipv4);
    }
    if b.iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        return Some(Host::Domain(sub(parent, h)));
    }
    None
}

/// Whether [`fast_host`] takes `h` (without building).
#[inline]
pub(crate) fn fast_host_ok(h: &str) -> bool {
    let b = h.as_bytes();
    let Some(first) = b.first() else {
        return false;
    };
    if first.is_ascii_digit() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return parse_ipv4(b).is_some();
    }
    b.iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
}

/// Dotted-quad IPv4, exactly as `Ipv4Addr::from_str` accepts it (four
/// decimal octets of one to three digits, no leading zeros, at most 255),
/// without its general machinery.
#[inline]
pub(crate) fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut k = 0;
    let mut i = 0;
    loop {
        let start = i;
        let mut v: u32 = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            v = v * 10 + u32::from(c - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        let len = i - start;
        if len == 0 || v > 255 || (len > 1 && b.get(start) == Some(&b'0')) {
            return None;
        }
        *octets.get_mut(k)? = v as u8;
        k += 1;
        match b.get(i) {
            None if k == 4 => return Some(Ipv4Addr::from(octets)),
            Some(b'.') if k < 4 => i += 1,
            _ => return None,
        }
    }
}

/// Class bits of the fast URI path: a byte it handles at all (`PLAIN`:
/// not white space, controls, `<>"`, `%` escapes, IPv6 brackets or
/// non-ASCII, which it leaves to the general parser), a user-part
/// character, a host-name character, a digit or dot.
const PLAIN: u8 = 1;
const USER: u8 = 2;
const HOST: u8 = 4;
const DIGIT_DOT: u8 = 8;
/// `@`, `:`, `;` or `?`: where the parts of a SIP URI end.
const DELIM: u8 = 16;

#[allow(clippy::indexing_slicing)] // i < 256 on a 256-entry array, at compile time
static URI_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        // Plain: the user characters but '%' (escapes take the slow
        // path), plus the delimiters '@' and ':'.
        let plain = (is_user_char(b) && b != b'%') || b == b'@' || b == b':';
        let mut k = 0;
        if plain {
            k |= PLAIN;
            if is_user_char(b) {
                k |= USER;
            }
        }
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_' {
            k |= HOST;
        }
        if b.is_ascii_digit() || b == b'.' {
            k |= DIGIT_DOT;
        }
        if matches!(b, b'@' | b':' | b';' | b'?') {
            k |= DELIM;
        }
        t[i] = k;
        i += 1;
    }
    t
};

const fn is_user_char(b: u8) -> bool {
    // unreserved / escaped / user-unreserved, plus ':' handled by the caller
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b';'
                | b'?'
                | b'/'
        )
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = self.password() {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = self.headers() {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

/// Any URI a SIP message may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// Any other absolute URI (`tel:`, `http:`, `urn:`, ...), kept opaque.
    Other {
        /// The scheme, as written.
        scheme: SipStr,
        /// Everything after the `:`.
        rest: SipStr,
    },
}

impl Uri {
    /// Checks an absolute URI as [`Uri::parse_in`] would parse it:
    /// `Ok(None)` when the fast path takes it (build it later with
    /// `parse_in`), `Ok(Some(uri))` when the general parser had to build
    /// it, the parser's error otherwise.
    pub(crate) fn check_in(parent: &SipStr, s: &str) -> Result<Option<Self>, &'static str> {
        if SipUri::check_fast(s) {
            return Ok(None);
        }
        Self::parse_general(parent, s).map(Some)
    }

    /// Parses an absolute URI; sip/sips are parsed fully.
    pub(crate) fn parse_in(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        if let Some(u) = SipUri::parse_fast(parent, s) {
            return Ok(Uri::Sip(u));
        }
        Self::parse_general(parent, s)
    }

    /// The general parser (any scheme, escapes, IPv6, every error).
    fn parse_general(parent: &SipStr, s: &str) -> Result<Self, &'static str> {
        let (scheme, rest) = s.split_once(':').ok_or("URI without scheme")?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic())
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err("bad URI scheme");
        }
        if rest
            .bytes()
            .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == b'"')
        {
            return Err("bad character in URI");
        }
        if scheme.eq_ignore_ascii_case("sip") {
            Ok(Uri::Sip(SipUri::parse_after_scheme(parent, rest, false)?))
        } else if scheme.eq_ignore_ascii_case("sips") {
            Ok(Uri::Sip(SipUri::parse_after_scheme(parent, rest, true)?))
        } else {
            if rest.is_empty() {
                return Err("empty URI");
            }
            Ok(Uri::Other {
                scheme: sub(parent, scheme),
                rest: sub(parent, rest),
            })
        }
    }

    /// Parses a URI from a string.
    pub fn parse(s: &str) -> Result<Self, super::ParseError> {
        let owned = SipStr::from(s);
        Self::parse_in(&owned, &owned).map_err(super::ParseError::Invalid)
    }

    /// The SIP URI, if it is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    /// The SIP URI mutably, if it is one.
    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    /// The scheme, lower-cased for sip/sips.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// RFC 3261 §19.1.4 equivalence for SIP URIs; case-insensitive scheme
    /// and exact text for others.
    pub fn matches(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.matches(b),
            (
                Uri::Other {
                    scheme: s1,
                    rest: r1,
                },
                Uri::Other {
                    scheme: s2,
                    rest: r2,
                },
            ) => s1.eq_ignore_ascii_case(s2) && r1 == r2,
            _ => false,
        }
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Uri::Sip(u)
    }
}

impl std::str::FromStr for Uri {
    type Err = super::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => write!(f, "{u}"),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn sip_uris() {
        let u = p("sip:alice:secret@atlanta.com:5061;transport=TCP;lr?subject=x");
        let s = u.as_sip().unwrap();
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.port, Some(5061));
        assert_eq!(s.transport_param().as_deref(), Some("tcp"));
        assert!(s.params.contains("lr"));
        assert_eq!(s.headers(), Some("subject=x"));
        assert_eq!(s.password(), Some("secret"));
        assert!(!format!("{s:?}").contains("secret"));
        assert_eq!(
            u.to_string(),
            "sip:alice:secret@atlanta.com:5061;transport=TCP;lr?subject=x"
        );

        let v6 = p("sip:[2001:db8::10]:5070;maddr=x");
        assert_eq!(
            v6.as_sip().unwrap().host,
            Host::Ipv6("2001:db8::10".parse().unwrap())
        );
        assert_eq!(v6.as_sip().unwrap().port, Some(5070));
        assert!(Uri::parse("sip:[2001:db8::10").is_err());
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:user@host:99999").is_err());

        let user_semi = p("sip:user;par=u%40example.net@example.com");
        assert_eq!(
            user_semi.as_sip().unwrap().user.as_deref(),
            Some("user;par=u%40example.net")
        );
        let tel = p("tel:+1-212-555-1212");
        assert_eq!(tel.scheme(), "tel");
        assert!(tel.as_sip().is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        /// The fast path accepts nothing the general parser rejects and
        /// builds the same URI.
        #[test]
        fn fast_path_agrees(
            scheme in "(sip|SIPS|sips|SiP|tel)",
            rest in proptest::prop_oneof![
                "[a-zA-Z0-9@:;?=%._\\[\\]<> \"&,+/-]{0,40}",
                "([a-z;?=]{0,4}(:[a-z]{0,3})?@)?[a-z0-9._-]{0,10}(:[0-9]{0,6})?(;[a-z=]{0,5}){0,3}(\\?[a-z=;@]{0,6})?",
            ],
        ) {
            let text = format!("{scheme}:{rest}");
            let parent = SipStr::from(text.as_str());
            // The check alone accepts what the fast path builds, and
            // `check_in` decides as `parse_in` does.
            proptest::prop_assert_eq!(
                SipUri::check_fast(&parent),
                SipUri::parse_fast(&parent, &parent).is_some(),
                "{}", text
            );
            match (Uri::check_in(&parent, &parent), Uri::parse_in(&parent, &parent)) {
                (Ok(None), Ok(_)) => {}
                (Ok(Some(a)), Ok(b)) => proptest::prop_assert_eq!(a, b, "{}", text),
                (Err(a), Err(b)) => proptest::prop_assert_eq!(a, b, "{}", text),
                (a, b) => proptest::prop_assert!(false, "{}: {:?} vs {:?}", text, a, b),
            }
            if let Some(fast) = SipUri::parse_fast(&parent, &parent) {
                proptest::prop_assert_eq!(
                    Uri::parse_general(&parent, &parent),
                    Ok(Uri::Sip(fast)),
                    "{}", text
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        #[test]
        fn ipv4_agrees_with_std(s in "[0-9.]{0,17}") {
            proptest::prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok(), "{}", s);
        }
    }

    #[test]
    fn fast_path_cases() {
        for s in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.1.1.1",
            "1.2.3",
            "1.2.3.4.",
            "1..2.3",
            "1234.1.1.1",
        ] {
            assert_eq!(parse_ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok(), "{s}");
        }
        for text in [
            "sip:bob@biloxi.example.com",
            "sips:alice:pw@192.0.2.1:5061;transport=tls;lr?subject=x;y=z",
            "sip:user;par=x@example.com",
            "sip:192.0.2.1",
            "sip:example.com;maddr=a;ttl=1?h=1@2",
            "sip:a@b@c",
            "sip:@b",
            "sip:a@",
            "sip:a@b:99999",
            "sip:a@1.2.3",
            "sip:a@b;",
            "sip:a@b;=x",
        ] {
            let parent = SipStr::from(text);
            let general = Uri::parse_general(&parent, &parent);
            match SipUri::parse_fast(&parent, &parent) {
                Some(fast) => assert_eq!(general, Ok(Uri::Sip(fast)), "{text}"),
                // Left to the general parser: escapes, and a user part
                // with ';' or '?' (telephone-subscriber parameters).
                None => assert!(
                    general.is_err()
                        || text.contains('%')
                        || text
                            .split('@')
                            .next()
                            .is_some_and(|u| u.contains([';', '?'])),
                    "{text}: {general:?}"
                ),
            }
        }
    }

    #[test]
    fn equivalence_rfc3261_examples() {
        let eq = |a: &str, b: &str| p(a).matches(&p(b));
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(!eq(
            "SIP:ALICE@AtLanTa.CoM;Transport=udp",
            "sip:alice@AtLanTa.CoM;Transport=UDP"
        ));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
    }
}
