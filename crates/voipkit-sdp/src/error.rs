//! The crate's one error type, and why a stream was rejected.

use std::fmt;

/// Everything that can go wrong in this crate: malformed SDP, an offer with
/// nothing we can accept, an answer that does not fit our offer, or an
/// offer/answer call made in the wrong state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is larger than [`crate::MAX_SDP_LEN`].
    #[error("SDP body is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Size of the body.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not UTF-8 (RFC 8866 §5: SDP is UTF-8 unless `a=charset`
    /// says otherwise, which SIP phones never do).
    #[error("SDP body is not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// A line that does not follow the SDP grammar.
    #[error("SDP line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// More media sections, formats or attributes than we accept.
    #[error("SDP has more than {limit} {what}")]
    TooMany {
        /// What there is too much of.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// An attribute value that does not follow its grammar (from the typed
    /// views' `FromStr`, e.g. [`crate::RtpMap`]).
    #[error("malformed a={attribute} value: {reason}")]
    InvalidAttribute {
        /// The attribute name.
        attribute: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A mandatory line (`v=` or `o=`) is absent.
    #[error("SDP has no {0} line")]
    Missing(&'static str),
    /// The offer has active streams, but none we can accept. Reject the
    /// offer (SIP: 488 Not Acceptable Here); the session state is unchanged.
    #[error("no acceptable audio stream in the offer: {0}")]
    NoAcceptableMedia(RejectReason),
    /// An offer of ours still waits for its answer (SIP: a re-INVITE
    /// crossing ours is answered 491 Request Pending).
    #[error("an offer of ours is still waiting for its answer")]
    OfferPending,
    /// An answer arrived but we made no offer.
    #[error("no offer of ours is waiting for an answer")]
    NoOfferPending,
    /// The answer does not fit the offer it answers (RFC 3264 §6).
    #[error("invalid answer: {0}")]
    InvalidAnswer(String),
    /// A stream we would use gives its address as a host name. The driver
    /// resolves it (asynchronously) with
    /// [`crate::SessionDescription::resolve_hostnames`] and tries again.
    #[error("connection address {0:?} is a host name; resolve it first")]
    UnresolvedHost(String),
}

impl SdpError {
    /// The SIP status code a UAS answers a request with when its SDP body
    /// fails with this error (RFC 3261 §21, RFC 6337 §3.1.4, RFC 3264):
    /// - 400 Bad Request: the body is not SDP (not UTF-8, a line or an
    ///   attribute off the grammar, no `v=`/`o=`);
    /// - 413 Request Entity Too Large: the body exceeds
    ///   [`crate::MAX_SDP_LEN`];
    /// - 488 Not Acceptable Here: valid SDP we cannot accept (no common
    ///   codec, transport or keys; more streams, formats or attributes than
    ///   we handle; an answer that does not fit our offer);
    /// - 491 Request Pending: an offer arrived while ours waits for its
    ///   answer (glare; the peer retries after a random delay);
    /// - 500 Server Internal Error: anything else (an offer/answer call in
    ///   the wrong state, a host name the driver did not resolve first).
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::NotUtf8 { .. }
            | SdpError::Syntax { .. }
            | SdpError::InvalidAttribute { .. }
            | SdpError::Missing(_) => 400,
            SdpError::TooLarge { .. } => 413,
            SdpError::TooMany { .. }
            | SdpError::NoAcceptableMedia(_)
            | SdpError::InvalidAnswer(_) => 488,
            SdpError::OfferPending => 491,
            SdpError::NoOfferPending | SdpError::UnresolvedHost(_) => 500,
        }
    }
}

/// Why one media stream of an offer was not accepted (answered with port 0).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// Not an audio stream (video, image/T.38, application, ...).
    NotAudio(String),
    /// The offerer itself disabled the stream (port 0).
    DisabledByOfferer,
    /// A transport we do not speak (e.g. DTLS `UDP/TLS/RTP/SAVP`).
    UnsupportedTransport(String),
    /// No codec of the offer is one we have.
    NoCommonCodec,
    /// Our policy requires SRTP and the offer is plain RTP.
    SrtpRequired,
    /// The offer requires SRTP (`RTP/SAVP`) and our policy disables it.
    SrtpDisabled,
    /// SRTP offered, but no `a=crypto` line we can use (unknown suites, MKI,
    /// bad keys, unsupported session parameters).
    NoAcceptableCrypto,
    /// Neither the media section nor the session has a `c=` line.
    MissingConnection,
    /// We already accepted an earlier audio stream (we handle one).
    AdditionalAudioStream,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::NotAudio(m) => write!(f, "{m:?} stream is not audio"),
            RejectReason::DisabledByOfferer => f.write_str("stream disabled by the offerer"),
            RejectReason::UnsupportedTransport(p) => write!(f, "unsupported transport {p:?}"),
            RejectReason::NoCommonCodec => f.write_str("no codec in common"),
            RejectReason::SrtpRequired => f.write_str("SRTP required but offer is plain RTP"),
            RejectReason::SrtpDisabled => f.write_str("offer requires SRTP, which is disabled"),
            RejectReason::NoAcceptableCrypto => f.write_str("no usable a=crypto line"),
            RejectReason::MissingConnection => f.write_str("no c= connection address"),
            RejectReason::AdditionalAudioStream => {
                f.write_str("an earlier audio stream was already accepted")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_status_per_error() {
        let cases = [
            (SdpError::NotUtf8 { offset: 3 }, 400),
            (
                SdpError::Syntax {
                    line: 2,
                    reason: "x".into(),
                },
                400,
            ),
            (
                SdpError::InvalidAttribute {
                    attribute: "rtpmap",
                    reason: "x",
                },
                400,
            ),
            (SdpError::Missing("o="), 400),
            (SdpError::TooLarge { len: 9, limit: 8 }, 413),
            (
                SdpError::TooMany {
                    what: "media sections",
                    limit: 8,
                },
                488,
            ),
            (
                SdpError::NoAcceptableMedia(RejectReason::NoCommonCodec),
                488,
            ),
            (
                SdpError::NoAcceptableMedia(RejectReason::UnsupportedTransport(
                    "UDP/TLS/RTP/SAVP".into(),
                )),
                488,
            ),
            (SdpError::InvalidAnswer("x".into()), 488),
            (SdpError::OfferPending, 491),
            (SdpError::NoOfferPending, 500),
            (SdpError::UnresolvedHost("pbx.example".into()), 500),
        ];
        for (e, status) in cases {
            assert_eq!(e.sip_status(), status, "{e}");
        }
    }
}
