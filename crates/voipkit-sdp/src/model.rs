//! The SDP model (RFC 8866): parse and print.
//!
//! The model is typed where offer/answer needs types (origin, connection,
//! media line, attributes) and keeps every other line verbatim, so that
//! `parse(print(sdp)) == sdp` for everything we accept.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::attributes::{CryptoAttribute, Direction, FormatParameters, RtcpAttribute, RtpMap};
use crate::error::SdpError;

/// Largest SDP body accepted, in bytes. A SIP INVITE over UDP carries well
/// under 1500; 32 KiB leaves room for TCP/TLS and many attributes.
pub const MAX_SDP_LEN: usize = 32 * 1024;
/// Most media sections (`m=` lines) accepted in one description.
pub const MAX_MEDIA: usize = 32;
/// Most formats on one `m=` line (RTP has 128 payload types).
pub const MAX_FORMATS: usize = 128;
/// Most attribute (or other) lines accepted in one section.
pub const MAX_ATTRIBUTES: usize = 256;

/// An SDP session description (RFC 8866 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`: originator, session id and version.
    pub origin: Origin,
    /// `s=`: session name, verbatim (may be empty or `" "`).
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// `t=` lines with their `r=` lines. Parsing supplies `t=0 0` when the
    /// sender left it out (some phones do).
    pub times: Vec<TimeDescription>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// `i= u= e= p= b= z= k=` and lines of unknown type, verbatim, in
    /// RFC 8866 order.
    pub other_lines: Vec<OtherLine>,
    /// Media sections, in order.
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name (`-` when none).
    pub username: String,
    /// Session id, kept as text (it only has to stay the same).
    pub session_id: String,
    /// Session version: RFC 3264 §8 increments it on every change.
    pub session_version: u64,
    /// Network type, `IN`.
    pub network_type: String,
    /// Address type.
    pub address_type: AddressType,
    /// The originator's address.
    pub address: Address,
}

/// `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Network type, `IN`.
    pub network_type: String,
    /// Address type.
    pub address_type: AddressType,
    /// The address.
    pub address: Address,
    /// Multicast `/ttl[/count]` suffix, verbatim without its first `/`.
    pub multicast_suffix: Option<String>,
}

/// The address type of `o=` and `c=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
    /// Anything else, verbatim.
    Other(String),
}

/// A unicast or multicast address: an IP literal or a host name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A fully qualified domain name (RFC 4317's examples use them); see
    /// [`SessionDescription::resolve_hostnames`].
    Host(String),
}

/// One `t=` line and the `r=` lines after it, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeDescription {
    /// The `t=` value, e.g. `0 0`.
    pub timing: String,
    /// The `r=` values.
    pub repeats: Vec<String>,
}

/// A line kept verbatim: its type letter and value.
#[derive(Clone, PartialEq, Eq)]
pub struct OtherLine {
    /// The type letter (`i`, `b`, `k`, ...).
    pub kind: char,
    /// Everything after `=`.
    pub value: String,
}

/// An `a=` line: `a=<name>` or `a=<name>:<value>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name (trimmed).
    pub name: String,
    /// Value after the first `:`, verbatim; `None` for a flag attribute.
    pub value: Option<String>,
}

/// A media section: the `m=` line and its `i= c= b= k= a=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `image`, ...
    pub media: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// `<port>/<count>` count, if given.
    pub port_count: Option<u16>,
    /// Transport protocol: `RTP/AVP`, `RTP/SAVP`, ...
    pub protocol: String,
    /// Media formats (RTP payload type numbers for RTP transports).
    pub formats: Vec<String>,
    /// Media-level `c=`.
    pub connection: Option<Connection>,
    /// Media-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// `i= b= k=` and unknown lines, verbatim, in RFC 8866 order.
    pub other_lines: Vec<OtherLine>,
}

// ---------------------------------------------------------------------------
// Small constructors and accessors

impl Attribute {
    /// A flag attribute (`a=name`).
    pub fn flag(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: None,
        }
    }

    /// A value attribute (`a=name:value`).
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    fn is_secret(&self) -> bool {
        self.name.eq_ignore_ascii_case("crypto") || self.name.eq_ignore_ascii_case("key-mgmt")
    }
}

impl fmt::Debug for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: Option<&str> = match &self.value {
            Some(_) if self.is_secret() => Some("<redacted>"),
            v => v.as_deref(),
        };
        f.debug_struct("Attribute")
            .field("name", &self.name)
            .field("value", &value)
            .finish()
    }
}

impl fmt::Debug for OtherLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.kind == 'k' {
            "<redacted>"
        } else {
            &self.value
        };
        f.debug_struct("OtherLine")
            .field("kind", &self.kind)
            .field("value", &value)
            .finish()
    }
}

impl Address {
    /// The IP, if this is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Address::Ip(ip) => Some(*ip),
            Address::Host(_) => None,
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        let bare = s
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Address::Ip(ip));
        }
        let host_ok = !s.is_empty()
            && s.len() <= 255
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if host_ok {
            Ok(Address::Host(s.to_owned()))
        } else {
            Err(format!("invalid address {s:?}"))
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(ip) => write!(f, "{ip}"),
            Address::Host(h) => f.write_str(h),
        }
    }
}

impl AddressType {
    /// `IP4` or `IP6` for an IP address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => AddressType::Ip4,
            IpAddr::V6(_) => AddressType::Ip6,
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "IP4" => AddressType::Ip4,
            "IP6" => AddressType::Ip6,
            other => AddressType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for AddressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressType::Ip4 => f.write_str("IP4"),
            AddressType::Ip6 => f.write_str("IP6"),
            AddressType::Other(s) => f.write_str(s),
        }
    }
}

impl Connection {
    /// `c=IN IP4|IP6 <ip>`.
    pub fn ip(ip: IpAddr) -> Self {
        Self {
            network_type: "IN".to_owned(),
            address_type: AddressType::of(ip),
            address: Address::Ip(ip),
            multicast_suffix: None,
        }
    }

    fn parse(value: &str) -> Result<Self, String> {
        let mut it = value.split_whitespace();
        let (Some(net), Some(atype), Some(addr), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err("c= needs <nettype> <addrtype> <address>".to_owned());
        };
        let (addr, suffix) = match addr.split_once('/') {
            Some((a, s)) => (a, Some(s.to_owned())),
            None => (addr, None),
        };
        Ok(Self {
            network_type: net.to_owned(),
            address_type: AddressType::parse(atype),
            address: Address::parse(addr)?,
            multicast_suffix: suffix,
        })
    }
}

impl FromStr for Connection {
    type Err = SdpError;
    /// Parse a `c=` value (`IN IP4 192.0.2.1`).
    fn from_str(s: &str) -> Result<Self, SdpError> {
        Self::parse(s).map_err(|reason| SdpError::Syntax { line: 1, reason })
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.network_type, self.address_type, self.address
        )?;
        if let Some(s) = &self.multicast_suffix {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

impl Origin {
    fn parse(value: &str) -> Result<Self, String> {
        let f: Vec<&str> = value.split_whitespace().collect();
        let [user, id, version, net, atype, addr] = f.as_slice() else {
            return Err(format!(
                "o= needs 6 fields (<username> <sess-id> <sess-version> <nettype> <addrtype> <address>), found {}",
                f.len()
            ));
        };
        let session_version = version
            .parse::<u64>()
            .map_err(|_| format!("o= session version {version:?} is not a number"))?;
        Ok(Self {
            username: (*user).to_owned(),
            session_id: (*id).to_owned(),
            session_version,
            network_type: (*net).to_owned(),
            address_type: AddressType::parse(atype),
            address: Address::parse(addr)?,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.network_type,
            self.address_type,
            self.address
        )
    }
}

/// Print order of verbatim lines in a section (RFC 8866 §5 field order).
fn other_rank(kind: char) -> u8 {
    match kind {
        'i' | 'u' | 'e' | 'p' => 0,
        'b' => 1,
        'z' | 'k' => 2,
        _ => 3,
    }
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs
        .iter()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::from_name(&a.name))
}

impl SessionDescription {
    /// Parse an SDP body. Accepts CRLF or LF line ends, blank lines, `s=`
    /// empty or absent, `t=` absent, lines in any order within a section,
    /// unknown attributes and unknown line types (kept verbatim). Rejects
    /// bodies over [`MAX_SDP_LEN`], non-UTF-8, lines without `<letter>=`,
    /// NUL or stray CR bytes, and a missing `v=`/`o=`.
    pub fn parse(input: &[u8]) -> Result<Self, SdpError> {
        if input.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge {
                len: input.len(),
                limit: MAX_SDP_LEN,
            });
        }
        let text = std::str::from_utf8(input).map_err(|e| SdpError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        Parser::default().run(text)
    }

    /// Host names used as addresses (`o=` excluded: it only names the
    /// originator). The driver resolves them and calls
    /// [`SessionDescription::resolve_hostnames`].
    pub fn hostnames(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let conns = self
            .connection
            .iter()
            .chain(self.media.iter().filter_map(|m| m.connection.as_ref()));
        for c in conns {
            if let Address::Host(h) = &c.address
                && !out.contains(h)
            {
                out.push(h.clone());
            }
        }
        out
    }

    /// Replace host-name addresses in `c=` lines by the IP `resolve` gives
    /// (those it returns `None` for stay host names). Sans-IO: the caller
    /// did the DNS lookup.
    pub fn resolve_hostnames(&mut self, mut resolve: impl FnMut(&str) -> Option<IpAddr>) {
        let conns = self
            .connection
            .iter_mut()
            .chain(self.media.iter_mut().filter_map(|m| m.connection.as_mut()));
        for c in conns {
            if let Address::Host(h) = &c.address
                && let Some(ip) = resolve(h)
            {
                c.address = Address::Ip(ip);
                c.address_type = AddressType::of(ip);
            }
        }
    }

    /// The first session-level attribute named `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find_attr(&self.attributes, name)
    }

    /// Session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }

    /// The SDP as bytes (CRLF line ends).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, SdpError> {
        Self::parse(s.as_bytes())
    }
}

impl MediaDescription {
    /// A media section with no connection and no attributes.
    pub fn new(media: &str, port: u16, protocol: &str, formats: Vec<String>) -> Self {
        Self {
            media: media.to_owned(),
            port,
            port_count: None,
            protocol: protocol.to_owned(),
            formats,
            connection: None,
            attributes: Vec::new(),
            other_lines: Vec::new(),
        }
    }

    /// The first attribute named `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find_attr(&self.attributes, name)
    }

    /// Values of every attribute named `name` (case-insensitive).
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.attributes
            .iter()
            .filter(move |a| a.name.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value.as_deref())
    }

    /// Whether a flag attribute (e.g. `rtcp-mux`) is present.
    pub fn has_flag(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }

    /// The formats that are RTP payload type numbers (0..=127), in order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok().filter(|pt| *pt <= 127))
    }

    /// The `a=rtpmap` for payload type `pt`, if present and well-formed.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.attribute_values("rtpmap")
            .filter_map(|v| v.parse::<RtpMap>().ok())
            .find(|m| m.payload_type == pt)
    }

    /// The `a=fmtp` parameters for format `pt`, if present.
    pub fn fmtp(&self, pt: u8) -> Option<FormatParameters> {
        self.attribute_values("fmtp").find_map(|v| {
            let v = v.trim_start();
            let (fmt, params) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            (fmt.parse::<u8>().ok() == Some(pt)).then(|| FormatParameters::parse(params))
        })
    }

    /// Well-formed `a=crypto` lines, in order (malformed ones skipped).
    pub fn crypto(&self) -> Vec<CryptoAttribute> {
        self.attribute_values("crypto")
            .filter_map(|v| v.parse().ok())
            .collect()
    }

    /// The media-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }

    /// `a=ptime` in milliseconds, if present and a number (`20` or `20.0`).
    pub fn ptime(&self) -> Option<u32> {
        parse_ptime(self.attribute("ptime")?.value.as_deref()?)
    }

    /// `a=rtcp` (RFC 3605), if present and well-formed.
    pub fn rtcp(&self) -> Option<RtcpAttribute> {
        self.attribute_values("rtcp").find_map(|v| v.parse().ok())
    }
}

pub(crate) fn parse_ptime(v: &str) -> Option<u32> {
    let v = v.trim();
    let int = v.split_once('.').map_or(v, |(i, _)| i);
    int.parse().ok()
}

// ---------------------------------------------------------------------------
// Printing

fn write_others(f: &mut fmt::Formatter<'_>, lines: &[OtherLine], rank: u8) -> fmt::Result {
    for l in lines.iter().filter(|l| other_rank(l.kind) == rank) {
        write!(f, "{}={}\r\n", l.kind, l.value)?;
    }
    Ok(())
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "a={}:{}", self.name, v),
            None => write!(f, "a={}", self.name),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.protocol)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        f.write_str("\r\n")?;
        write_others(f, &self.other_lines, 0)?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for rank in 1..=3 {
            write_others(f, &self.other_lines, rank)?;
        }
        for a in &self.attributes {
            write!(f, "{a}\r\n")?;
        }
        Ok(())
    }
}

impl fmt::Display for SessionDescription {
    /// RFC 8866 order, CRLF line ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\n", self.origin)?;
        write!(f, "s={}\r\n", self.session_name)?;
        write_others(f, &self.other_lines, 0)?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        write_others(f, &self.other_lines, 1)?;
        if self.times.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for t in &self.times {
            write!(f, "t={}\r\n", t.timing)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        write_others(f, &self.other_lines, 2)?;
        write_others(f, &self.other_lines, 3)?;
        for a in &self.attributes {
            write!(f, "{a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Parsing

#[derive(Default)]
struct Parser {
    seen_v: bool,
    origin: Option<Origin>,
    session_name: Option<String>,
    connection: Option<Connection>,
    times: Vec<TimeDescription>,
    attributes: Vec<Attribute>,
    other_lines: Vec<OtherLine>,
    media: Vec<MediaDescription>,
}

fn syntax(line: usize, reason: impl Into<String>) -> SdpError {
    SdpError::Syntax {
        line,
        reason: reason.into(),
    }
}

fn parse_attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, v)) => Attribute {
            name: name.trim().to_owned(),
            value: Some(v.to_owned()),
        },
        None => Attribute {
            name: value.trim().to_owned(),
            value: None,
        },
    }
}

fn parse_media_line(value: &str) -> Result<MediaDescription, String> {
    let mut it = value.split_whitespace();
    let (Some(media), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
        return Err("m= needs <media> <port> <proto> <fmt> ...".to_owned());
    };
    let (port, count) = match port.split_once('/') {
        Some((p, c)) => (
            p,
            Some(
                c.parse::<u16>()
                    .map_err(|_| format!("bad port count {c:?}"))?,
            ),
        ),
        None => (port, None),
    };
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("bad port {port:?}"))?;
    let mut formats = Vec::new();
    for f in it {
        if formats.len() == MAX_FORMATS {
            return Err(format!("more than {MAX_FORMATS} formats"));
        }
        formats.push(f.to_owned());
    }
    let mut m = MediaDescription::new(media, port, proto, formats);
    m.port_count = count;
    Ok(m)
}

fn push_bounded<T>(v: &mut Vec<T>, item: T, what: &'static str) -> Result<(), SdpError> {
    if v.len() >= MAX_ATTRIBUTES {
        return Err(SdpError::TooMany {
            what,
            limit: MAX_ATTRIBUTES,
        });
    }
    v.push(item);
    Ok(())
}

impl Parser {
    fn run(mut self, text: &str) -> Result<SessionDescription, SdpError> {
        for (idx, raw) in text.split('\n').enumerate() {
            let n = idx + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let b = line.as_bytes();
            let kind = match b {
                [k, b'=', ..] if k.is_ascii_lowercase() => char::from(*k),
                _ => return Err(syntax(n, format!("expected <type>=<value>, got {line:?}"))),
            };
            let value = line.get(2..).unwrap_or_default();
            if value.contains(['\0', '\r']) {
                return Err(syntax(n, "NUL or CR inside a line"));
            }
            if !self.seen_v {
                if kind != 'v' {
                    return Err(syntax(n, "an SDP body starts with v="));
                }
                if value.trim() != "0" {
                    return Err(syntax(n, format!("unsupported SDP version {value:?}")));
                }
                self.seen_v = true;
                continue;
            }
            if self.media.is_empty() {
                self.session_line(n, kind, value)?;
            } else {
                self.media_line(n, kind, value)?;
            }
        }
        if !self.seen_v {
            return Err(SdpError::Missing("v="));
        }
        let origin = self.origin.ok_or(SdpError::Missing("o="))?;
        if self.times.is_empty() {
            self.times.push(TimeDescription {
                timing: "0 0".to_owned(),
                repeats: Vec::new(),
            });
        }
        self.other_lines.sort_by_key(|l| other_rank(l.kind));
        for m in &mut self.media {
            m.other_lines.sort_by_key(|l| other_rank(l.kind));
        }
        Ok(SessionDescription {
            origin,
            session_name: self.session_name.unwrap_or_else(|| "-".to_owned()),
            connection: self.connection,
            times: self.times,
            attributes: self.attributes,
            other_lines: self.other_lines,
            media: self.media,
        })
    }

    fn session_line(&mut self, n: usize, kind: char, value: &str) -> Result<(), SdpError> {
        match kind {
            'v' => return Err(syntax(n, "second v= line")),
            'o' => {
                if self.origin.is_some() {
                    return Err(syntax(n, "second o= line"));
                }
                self.origin = Some(Origin::parse(value).map_err(|e| syntax(n, e))?);
            }
            's' => {
                if self.session_name.is_some() {
                    return Err(syntax(n, "second s= line"));
                }
                self.session_name = Some(value.to_owned());
            }
            'c' => {
                if self.connection.is_some() {
                    return Err(syntax(n, "second session-level c= line"));
                }
                self.connection = Some(Connection::parse(value).map_err(|e| syntax(n, e))?);
            }
            't' => push_bounded(
                &mut self.times,
                TimeDescription {
                    timing: value.to_owned(),
                    repeats: Vec::new(),
                },
                "t= lines",
            )?,
            'r' => {
                let Some(t) = self.times.last_mut() else {
                    return Err(syntax(n, "r= before any t="));
                };
                push_bounded(&mut t.repeats, value.to_owned(), "r= lines")?;
            }
            'a' => push_bounded(
                &mut self.attributes,
                parse_attribute(value),
                "session attributes",
            )?,
            'm' => {
                self.media
                    .push(parse_media_line(value).map_err(|e| syntax(n, e))?);
            }
            _ => push_bounded(
                &mut self.other_lines,
                OtherLine {
                    kind,
                    value: value.to_owned(),
                },
                "session lines",
            )?,
        }
        Ok(())
    }

    fn media_line(&mut self, n: usize, kind: char, value: &str) -> Result<(), SdpError> {
        if kind == 'm' {
            if self.media.len() >= MAX_MEDIA {
                return Err(SdpError::TooMany {
                    what: "media sections",
                    limit: MAX_MEDIA,
                });
            }
            self.media
                .push(parse_media_line(value).map_err(|e| syntax(n, e))?);
            return Ok(());
        }
        let Some(m) = self.media.last_mut() else {
            return Err(syntax(n, "media line outside a media section"));
        };
        match kind {
            'a' => push_bounded(
                &mut m.attributes,
                parse_attribute(value),
                "media attributes",
            ),
            'c' => {
                if m.connection.is_some() {
                    return Err(syntax(n, "second c= line in a media section"));
                }
                m.connection = Some(Connection::parse(value).map_err(|e| syntax(n, e))?);
                Ok(())
            }
            'v' | 'o' | 's' | 't' | 'r' | 'z' | 'u' | 'e' | 'p' => Err(syntax(
                n,
                format!("{kind}= belongs to the session, not a media section"),
            )),
            _ => push_bounded(
                &mut m.other_lines,
                OtherLine {
                    kind,
                    value: value.to_owned(),
                },
                "media lines",
            ),
        }
    }
}
