//! The crate's one error type, and the reasons a datagram is dropped.

/// Everything that can go wrong in voipkit-media.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// An input datagram was dropped; the reason says why (it is also
    /// counted in [`crate::MediaStats::drops`]).
    #[error("datagram dropped: {0}")]
    Dropped(DropReason),
    /// The configuration is not usable.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// SRTP keys could not be installed (wrong length for the suite).
    #[error("SRTP setup failed: {0}")]
    SrtpSetup(&'static str),
    /// A packet could not be protected (e.g. the SRTP packet limit of the
    /// key was reached and the session must be re-keyed).
    #[error("SRTP protect failed")]
    SrtpProtect,
    /// An outgoing packet could not be built (payload too large, ...).
    #[error("cannot build packet: {0}")]
    Build(&'static str),
    /// The session is closed (BYE sent); nothing more is sent.
    #[error("media session closed")]
    Closed,
    /// Too many DTMF digits queued.
    #[error("DTMF queue full")]
    DtmfQueueFull,
    /// The session has no telephone-event payload type configured.
    #[error("telephone-event not negotiated")]
    NoTelephoneEvent,
    /// The direction does not let us send (`recvonly` or `inactive`,
    /// RFC 3264 §5.1), so no DTMF can go out.
    #[error("the stream's direction does not allow sending")]
    NotSending,
}

impl From<DropReason> for MediaError {
    fn from(r: DropReason) -> Self {
        MediaError::Dropped(r)
    }
}

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $name:ident = $label:literal ),* $(,)?) => {
        /// Why an incoming datagram (or a received packet) was dropped.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DropReason {
            $( $(#[$doc])* $name, )*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name),*];
            /// Number of reasons.
            pub const COUNT: usize = [$(DropReason::$name),*].len();

            /// A short stable label (for logs and metrics).
            pub fn label(self) -> &'static str {
                match self { $(DropReason::$name => $label,)* }
            }
        }
    };
}

drop_reasons! {
    /// Empty datagram or shorter than the smallest valid packet.
    Truncated = "truncated",
    /// RTP/RTCP version field is not 2.
    BadVersion = "bad_version",
    /// First byte matches no protocol we demultiplex (RFC 7983).
    UnknownProtocol = "unknown_protocol",
    /// RTP header, CSRC list, extension or padding inconsistent.
    MalformedRtp = "malformed_rtp",
    /// RTP payload type not negotiated.
    UnknownPayloadType = "unknown_payload_type",
    /// SRTP/SRTCP authentication tag did not verify.
    AuthenticationFailed = "auth_failed",
    /// SRTP/SRTCP packet index already seen or older than the replay window.
    Replayed = "replayed",
    /// SRTCP packet with the E flag clear (we never negotiate unencrypted SRTCP).
    UnencryptedSrtcp = "unencrypted_srtcp",
    /// RTCP compound packet with bad lengths, padding or version.
    MalformedRtcp = "malformed_rtcp",
    /// STUN message that does not decode.
    MalformedStun = "malformed_stun",
    /// STUN message we have no use for (unknown transaction, indication, ...).
    UnexpectedStun = "unexpected_stun",
    /// DTLS record (we key SRTP with SDES only).
    Dtls = "dtls",
    /// ZRTP packet.
    Zrtp = "zrtp",
    /// TURN ChannelData message.
    TurnChannel = "turn_channel",
    /// telephone-event payload shorter than 4 bytes or otherwise invalid.
    MalformedDtmf = "malformed_dtmf",
    /// Plain RTP packet from an address other than the latched one while
    /// that one is still active (symmetric RTP hijack protection).
    WrongSource = "wrong_source",
    /// The received-packet queue was full (the caller did not drain `poll_rtp`).
    QueueOverflow = "queue_overflow",
    /// The session was closed.
    Closed = "closed",
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Datagrams dropped, counted by [`DropReason`]. `Debug` lists the
/// non-zero counters by label (`DropCounters { auth_failed: 2 }`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DropCounters {
    counts: [u64; DropReason::COUNT],
}

impl Default for DropCounters {
    fn default() -> Self {
        Self {
            counts: [0; DropReason::COUNT],
        }
    }
}

impl std::fmt::Debug for DropCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("DropCounters");
        for (reason, n) in self.iter() {
            d.field(reason.label(), &n);
        }
        d.finish()
    }
}

impl DropCounters {
    /// How many were dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts.get(reason as usize).copied().unwrap_or(0)
    }

    /// Total dropped for any reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Count one drop.
    pub fn record(&mut self, reason: DropReason) {
        if let Some(c) = self.counts.get_mut(reason as usize) {
            *c = c.saturating_add(1);
        }
    }

    /// The non-zero counters.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_counters_debug_lists_the_non_zero_counters_by_label() {
        let mut c = DropCounters::default();
        assert_eq!(format!("{c:?}"), "DropCounters");
        c.record(DropReason::AuthenticationFailed);
        c.record(DropReason::AuthenticationFailed);
        c.record(DropReason::Truncated);
        assert_eq!(
            format!("{c:?}"),
            "DropCounters { truncated: 1, auth_failed: 2 }"
        );
    }
}
