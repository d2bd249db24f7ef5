//! Typed views of the attributes offer/answer needs: `rtpmap`, `fmtp`,
//! `crypto` (RFC 4568), the direction flags, `rtcp` (RFC 3605).
//!
//! The model keeps attributes as text; these types parse a value on demand
//! and print one back (`Display` prints the value, without `a=name:`).

use std::fmt;
use std::str::FromStr;

use crate::crypto::{CryptoSuite, SrtpKeyingMaterial};
use crate::error::SdpError;
use crate::model::{Attribute, Connection};

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// RTP payload type, 0..=127.
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively).
    pub encoding_name: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count, if given.
    pub channels: Option<u16>,
}

impl RtpMap {
    /// As an `a=rtpmap` attribute.
    pub fn to_attribute(&self) -> Attribute {
        Attribute::new("rtpmap", self.to_string())
    }
}

impl FromStr for RtpMap {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut it = s.split_whitespace();
        let (Some(pt), Some(enc), None) = (it.next(), it.next(), it.next()) else {
            return Err(SdpError::InvalidAttribute {
                attribute: "rtpmap",
                reason: "rtpmap needs <pt> <name>/<rate>[/<channels>]",
            });
        };
        let payload_type =
            pt.parse::<u8>()
                .ok()
                .filter(|pt| *pt <= 127)
                .ok_or(SdpError::InvalidAttribute {
                    attribute: "rtpmap",
                    reason: "rtpmap payload type is not 0..=127",
                })?;
        let mut parts = enc.split('/');
        let name = parts.next().unwrap_or_default();
        let clock_rate = parts
            .next()
            .and_then(|r| r.parse::<u32>().ok())
            .filter(|r| *r > 0)
            .ok_or(SdpError::InvalidAttribute {
                attribute: "rtpmap",
                reason: "rtpmap clock rate is not a number",
            })?;
        let channels = match parts.next() {
            Some(c) => Some(c.parse::<u16>().ok().filter(|c| *c > 0).ok_or(
                SdpError::InvalidAttribute {
                    attribute: "rtpmap",
                    reason: "rtpmap channels is not a number",
                },
            )?),
            None => None,
        };
        if name.is_empty() || parts.next().is_some() {
            return Err(SdpError::InvalidAttribute {
                attribute: "rtpmap",
                reason: "malformed rtpmap encoding",
            });
        }
        Ok(Self {
            payload_type,
            encoding_name: name.to_owned(),
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(c) = self.channels {
            write!(f, "/{c}")?;
        }
        Ok(())
    }
}

/// The parameters of an `a=fmtp` line: `key=value` pairs separated by `;`,
/// or bare items such as telephone-event's `0-16`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatParameters {
    /// `(key, value)` in order; `value` is `None` for a bare item.
    pub params: Vec<(String, Option<String>)>,
}

impl FormatParameters {
    /// Parse the part of an fmtp value after the format (whitespace around
    /// items and `=` tolerated: FreeSWITCH writes `a; b`).
    pub fn parse(s: &str) -> Self {
        let params = s
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_owned(), Some(v.trim().to_owned())),
                None => (p.to_owned(), None),
            })
            .collect();
        Self { params }
    }

    /// The value of `key` (case-insensitive); `Some("")` for a bare item.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_deref().unwrap_or_default())
    }

    /// Whether `key` is present with value `1` (Opus's boolean parameters).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key) == Some("1")
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

impl fmt::Display for FormatParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            f.write_str(k)?;
            if let Some(v) = v {
                write!(f, "={v}")?;
            }
        }
        Ok(())
    }
}

/// Stream direction (RFC 3264 §5.1, §6.1). Seen from whoever wrote the SDP:
/// `SendOnly` in a peer's SDP means the peer sends and we receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// From a flag attribute name; `None` if it is not a direction.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The attribute name.
    pub fn name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// From whether sending and receiving are allowed.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the SDP's author may send.
    pub fn can_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the SDP's author may receive.
    pub fn can_recv(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end (sendonly <-> recvonly).
    pub fn reversed(self) -> Self {
        Self::from_flags(self.can_recv(), self.can_send())
    }

    /// What both allow.
    pub fn intersect(self, other: Self) -> Self {
        Self::from_flags(
            self.can_send() && other.can_send(),
            self.can_recv() && other.can_recv(),
        )
    }

    /// As a flag attribute.
    pub fn to_attribute(self) -> Attribute {
        Attribute::flag(self.name())
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAttribute {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when it differs from the RTP one.
    pub connection: Option<Connection>,
}

impl FromStr for RtcpAttribute {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (port, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
        let port =
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(SdpError::InvalidAttribute {
                    attribute: "rtcp",
                    reason: "rtcp port is not 1..=65535",
                })?;
        let connection = if rest.trim().is_empty() {
            None
        } else {
            Some(
                rest.parse::<Connection>()
                    .map_err(|_| SdpError::InvalidAttribute {
                        attribute: "rtcp",
                        reason: "malformed rtcp address",
                    })?,
            )
        };
        Ok(Self { port, connection })
    }
}

impl fmt::Display for RtcpAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = &self.connection {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

/// `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]`
/// (RFC 4568). Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// Tag, 1..=999999999: the answer echoes the tag it accepts.
    pub tag: u32,
    /// Suite name as written (known ones: [`CryptoSuite`]).
    pub suite_name: String,
    /// Key parameters, verbatim (`inline:<base64>[|lifetime][|MKI:len]`,
    /// several joined by `;`).
    pub key_params: String,
    /// Session parameters (`KDR=`, `UNENCRYPTED_SRTCP`, `WSH=`, ...).
    pub session_params: Vec<String>,
}

impl CryptoAttribute {
    /// The line offering or answering `key` under `tag`.
    pub fn new(tag: u32, key: &SrtpKeyingMaterial) -> Self {
        Self {
            tag,
            suite_name: key.suite().name().to_owned(),
            key_params: format!("inline:{}", key.to_inline()),
            session_params: Vec::new(),
        }
    }

    /// The suite, if it is one we know.
    pub fn suite(&self) -> Option<CryptoSuite> {
        CryptoSuite::from_name(&self.suite_name)
    }

    /// The key material, if this line is one we can use: a known suite, one
    /// inline key of the right length, no MKI (webrtc-srtp has none), and
    /// no session parameter that changes SRTP processing (unencrypted or
    /// unauthenticated SRTP/SRTCP, a key derivation rate, FEC keys). A
    /// lifetime is accepted and not enforced.
    pub fn usable_key(&self) -> Option<SrtpKeyingMaterial> {
        let suite = self.suite()?;
        let params_ok = self.session_params.iter().all(|p| {
            p.starts_with('-') || p.starts_with("WSH=") || p == "KDR=0" || p == "FEC_ORDER=FEC_SRTP"
        });
        if !params_ok || self.key_params.contains(';') {
            return None;
        }
        let (method, info) = self.key_params.split_once(':')?;
        if !method.eq_ignore_ascii_case("inline") {
            return None;
        }
        let mut parts = info.split('|');
        let key = parts.next()?;
        for extra in parts {
            // A lifetime is `2^n` or a number; anything with ':' is an MKI.
            if extra.contains(':') {
                return None;
            }
        }
        SrtpKeyingMaterial::from_inline(suite, key)
    }

    /// As an `a=crypto` attribute.
    pub fn to_attribute(&self) -> Attribute {
        Attribute::new("crypto", self.to_string())
    }
}

impl FromStr for CryptoAttribute {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut it = s.split_whitespace();
        let (Some(tag), Some(suite), Some(key)) = (it.next(), it.next(), it.next()) else {
            return Err(SdpError::InvalidAttribute {
                attribute: "crypto",
                reason: "crypto needs <tag> <suite> <key-params>",
            });
        };
        let tag = tag
            .parse::<u32>()
            .ok()
            .filter(|t| tag.len() <= 9 && *t <= 999_999_999)
            .ok_or(SdpError::InvalidAttribute {
                attribute: "crypto",
                reason: "crypto tag is not 0..=999999999",
            })?;
        Ok(Self {
            tag,
            suite_name: suite.to_owned(),
            key_params: key.to_owned(),
            session_params: it.map(str::to_owned).collect(),
        })
    }
}

impl fmt::Display for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.tag, self.suite_name, self.key_params)?;
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoAttribute")
            .field("tag", &self.tag)
            .field("suite_name", &self.suite_name)
            .field("key_params", &"<redacted>")
            .field("session_params", &self.session_params)
            .finish()
    }
}
