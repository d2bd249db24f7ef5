//! The media session of one call's audio stream: the sans-IO core that
//! joins RTP, RTCP, SRTP, DTMF, STUN, symmetric latching and statistics.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::{Rng, RngCore};
use rand_chacha::ChaCha20Rng;
use voipkit_sdp::{AudioCodec, Direction, NegotiatedAudio, SrtpParameters};

use crate::demux::{PacketClass, classify};
use crate::dtmf::{DtmfDigit, DtmfReceiver, DtmfReport, DtmfSender, DtmfUpdate};
use crate::emodel::{CodecImpairment, EModel};
use crate::error::{DropCounters, DropReason, MediaError};
use crate::rtcp::{
    self, IntervalInputs, ReportBlock, RtcpCompound, RtcpPacket, SenderInfo, ntp_middle,
};
use crate::rtp::{ClearHeader, RtpHeaderFields, RtpPacket, RtpSender, build_rtp};
use crate::srtp::{SrtpReceiver, SrtpSender};
use crate::stats::{InboundStats, MediaStats, OutboundStats, RemoteReport, RttStats, SourceStats};
use crate::stun::{self, BindingTransaction, StunClass, StunTiming, TransactionStep};

/// Which of the call's local sockets a datagram uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaSocket {
    /// The RTP socket (also RTCP with rtcp-mux, and STUN).
    Rtp,
    /// The separate RTCP socket (RTP port + 1) when rtcp-mux is off.
    Rtcp,
}

/// What a [`Transmit`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransmitKind {
    /// (S)RTP media or telephone-event.
    Rtp,
    /// (S)RTCP compound packet.
    Rtcp,
    /// STUN Binding request or response.
    Stun,
    /// RFC 6263 keep-alive.
    KeepAlive,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes. Hand the buffer back with [`MediaSession::recycle`] after
    /// sending to keep the send path allocation-free.
    pub contents: Vec<u8>,
    /// From which local socket.
    pub socket: MediaSocket,
    /// What it is.
    pub kind: TransmitKind,
}

/// A received, authenticated and parsed RTP packet for the jitter buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRtp {
    /// Synchronization source.
    pub ssrc: u32,
    /// Sequence number.
    pub sequence_number: u16,
    /// Sequence number extended with the wrap count (RFC 3550 A.1).
    pub extended_sequence_number: u64,
    /// Media timestamp.
    pub timestamp: u32,
    /// Marker bit (talk-spurt start).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// When it arrived.
    pub arrival: Instant,
    /// The payload (padding removed). Hand it back with
    /// [`MediaSession::recycle`] to keep the receive path allocation-free.
    pub payload: Vec<u8>,
}

/// A received RTP packet of the peer's stream that carried no audio: an
/// RFC 4733 telephone-event (DTMF) packet. [`MediaSession`] consumes its
/// payload itself (it becomes [`MediaEvent::DtmfStarted`] /
/// [`MediaEvent::DtmfReceived`]); this is what the jitter buffer needs to
/// know about it. A sender takes the sequence numbers of its audio stream
/// (same SSRC) for its events and sends no audio meanwhile, so hand each
/// one to the jitter buffer (`voipkit_codec::JitterBuffer::insert_non_audio`)
/// or that gap in the audio's sequence numbers counts as lost packets.
/// Comes from [`MediaSession::poll_non_audio`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonAudioRtp {
    /// Synchronization source.
    pub ssrc: u32,
    /// Sequence number.
    pub sequence_number: u16,
    /// Sequence number extended with the wrap count (RFC 3550 A.1).
    pub extended_sequence_number: u64,
    /// Media timestamp (a telephone-event's is its event's start).
    pub timestamp: u32,
    /// Marker bit (an event's start).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// When it arrived.
    pub arrival: Instant,
}

/// Something the call layer should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A DTMF digit started (RFC 4733): the first packet of its event
    /// arrived (the start packet, or a later one when that was lost);
    /// reported once per event, always before its [`MediaEvent::DtmfReceived`].
    /// Play the tone or mute the audio from here.
    DtmfStarted {
        /// The digit.
        digit: DtmfDigit,
        /// Its volume (-dBm0).
        volume: u8,
    },
    /// A DTMF digit ended (RFC 4733), reported once, with its duration.
    DtmfReceived(DtmfReport),
    /// A queued DTMF digit was sent completely.
    DtmfSent {
        /// The digit.
        digit: DtmfDigit,
    },
    /// Symmetric RTP latched onto a new remote address.
    RemoteAddressChanged {
        /// Which stream (RTP, or RTCP on its own port).
        socket: MediaSocket,
        /// The new destination.
        address: SocketAddr,
    },
    /// The remote side started sending with a new SSRC.
    RemoteSsrcChanged {
        /// The new SSRC.
        ssrc: u32,
    },
    /// STUN told us the RTP socket's public address.
    PublicAddressDiscovered {
        /// The address (XOR-MAPPED-ADDRESS).
        address: SocketAddr,
    },
    /// The STUN Binding transaction failed (timeout or error response).
    StunBindingFailed {
        /// The server asked.
        server: SocketAddr,
    },
    /// The remote sent an RTCP BYE for one of its sources.
    RemoteBye {
        /// The source that left.
        ssrc: u32,
    },
}

/// RFC 6263 keep-alive kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveKind {
    /// STUN Binding indication (RFC 6263 §4.2, first choice).
    StunIndication,
    /// An RTP packet with an empty payload and an unused payload type
    /// (RFC 6263 §4.6).
    EmptyRtp {
        /// The (not negotiated) payload type to use.
        payload_type: u8,
    },
}

/// Keep-alives on the media port when no RTP was sent for `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Idle time before a keep-alive (RFC 6263 suggests <= 15 s).
    pub interval: Duration,
    /// What to send.
    pub kind: KeepAliveKind,
}

/// The media session's configuration; the call layer fills it from the SDP
/// negotiation.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSessionConfig {
    /// Remote RTP address (from the SDP `c=`/`m=` lines).
    pub remote_rtp: SocketAddr,
    /// Remote RTCP address when rtcp-mux is off (`a=rtcp`, default port+1).
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP share the RTP port (RFC 5761 `a=rtcp-mux`).
    pub rtcp_mux: bool,
    /// Payload type we send audio with.
    pub payload_type: u8,
    /// Other payload types we accept (e.g. comfort noise 13); `payload_type`
    /// and the telephone-event type are always accepted.
    pub accepted_payload_types: Vec<u8>,
    /// RTP clock rate of the audio payload type (8000 for G.711, 48000 Opus).
    pub clock_rate: u32,
    /// Packetisation time (also the DTMF update interval).
    pub ptime: Duration,
    /// RFC 4733 telephone-event payload type we send with (and receive
    /// with, unless `telephone_event_recv_payload_type` says otherwise).
    pub telephone_event_payload_type: Option<u8>,
    /// The payload type the peer's telephone-events arrive with, when it
    /// differs from `telephone_event_payload_type` (an answer may renumber,
    /// RFC 3264 §6.1); `None` means the same.
    pub telephone_event_recv_payload_type: Option<u8>,
    /// The telephone-event clock rate declared in SDP
    /// (`a=rtpmap:<pt> telephone-event/<rate>`, `TelephoneEvent::clock_rate`
    /// in voipkit-sdp): the unit of the event duration field, sent and
    /// received. `None` means `clock_rate`. Event timestamps are on the
    /// audio clock whatever this says (see [`crate::dtmf`]).
    pub telephone_event_clock_rate: Option<u32>,
    /// SDES-SRTP keys; `None` for plain RTP.
    pub srtp: Option<SrtpParameters>,
    /// The negotiated direction from our side (`NegotiatedAudio::direction`;
    /// change it with [`MediaSession::set_direction`]). The session
    /// enforces it (RFC 3264 §5.1, §6.1): when we may not send
    /// (`RecvOnly`, `Inactive`), [`MediaSession::send_audio`] puts no RTP
    /// on the wire but advances the RTP clock, so a resume continues the
    /// timestamps seamlessly (with the marker bit), and DTMF is refused
    /// ([`MediaError::NotSending`]); when we may not receive (`SendOnly`,
    /// `Inactive`), received RTP still counts in the statistics and
    /// latching (it is the peer's stream, reported in our RTCP) but is not
    /// queued for [`MediaSession::poll_rtp`], and its telephone-events are
    /// not reported. RTCP, STUN and keep-alives go on in every direction
    /// (RFC 3264 §5.1: RTCP is still sent and received).
    pub direction: Direction,
    /// RTCP CNAME; a random one is made when `None`.
    pub cname: Option<String>,
    /// Session bandwidth in bit/s (`b=AS`, or the codec rate with headers),
    /// for the RTCP interval.
    pub session_bandwidth: u32,
    /// Use RFC 3550 §6.2's reduced minimum RTCP interval (360/kbit/s s)
    /// instead of 5 s after the first report.
    pub rtcp_reduced_minimum: bool,
    /// Latch onto the source address of authenticated packets (RFC 4961).
    pub symmetric_rtp: bool,
    /// Keep-alives when not sending.
    pub keep_alive: Option<KeepAlive>,
    /// Wall-clock time at the session's start (for SR NTP timestamps);
    /// elapsed time from an arbitrary origin is used when `None`, which
    /// RFC 3550 §6.4.1 allows and RTT does not need more than.
    pub wallclock: Option<SystemTime>,
    /// STUN retransmission timing.
    pub stun_timing: StunTiming,
    /// The codec's E-model values, for the MOS estimate.
    pub codec: CodecImpairment,
    /// Our playout (jitter buffer) delay, for the inbound MOS estimate;
    /// update with [`MediaSession::set_playout_delay`], fed the jitter
    /// buffer's target delay.
    pub playout_delay: Duration,
}

impl MediaSessionConfig {
    /// A configuration with defaults: 20 ms ptime, rtcp-mux, symmetric RTP,
    /// no SRTP, STUN-indication keep-alives every 15 s, G.711-with-PLC
    /// E-model values, 64 kbit/s + headers of session bandwidth.
    pub fn new(remote_rtp: SocketAddr, payload_type: u8, clock_rate: u32) -> Self {
        Self {
            remote_rtp,
            remote_rtcp: None,
            rtcp_mux: true,
            payload_type,
            accepted_payload_types: Vec::new(),
            clock_rate,
            ptime: Duration::from_millis(20),
            telephone_event_payload_type: None,
            telephone_event_recv_payload_type: None,
            telephone_event_clock_rate: None,
            srtp: None,
            direction: Direction::SendRecv,
            cname: None,
            session_bandwidth: 80_000,
            rtcp_reduced_minimum: false,
            symmetric_rtp: true,
            keep_alive: Some(KeepAlive {
                interval: Duration::from_secs(15),
                kind: KeepAliveKind::StunIndication,
            }),
            wallclock: None,
            stun_timing: StunTiming::default(),
            codec: CodecImpairment::G711_PLC,
            playout_delay: Duration::from_millis(40),
        }
    }

    /// The configuration for a stream voipkit-sdp negotiated: addresses
    /// and rtcp-mux; the codec's payload type to send with, every payload
    /// type the peer may send us accepted; clock rate; ptime; direction; the
    /// telephone-event's numbers and its declared clock rate (which may
    /// differ from the audio's, see [`crate::dtmf`]); SRTP keys; the codec's
    /// E-model values. The rest as in [`MediaSessionConfig::new`].
    pub fn from_negotiated(n: &NegotiatedAudio) -> Self {
        let mut c = Self::new(n.remote_rtp, n.codec.send_payload_type, n.codec.clock_rate);
        c.rtcp_mux = n.rtcp_mux;
        c.remote_rtcp = (!n.rtcp_mux).then_some(n.remote_rtcp);
        for r in &n.recv_codecs {
            if r.recv_payload_type != c.payload_type
                && !c.accepted_payload_types.contains(&r.recv_payload_type)
            {
                c.accepted_payload_types.push(r.recv_payload_type);
            }
        }
        c.ptime = Duration::from_millis(u64::from(n.ptime.max(1)));
        c.direction = n.direction;
        if let Some(te) = n.telephone_event {
            c.telephone_event_payload_type = Some(te.send_payload_type);
            c.telephone_event_recv_payload_type =
                (te.recv_payload_type != te.send_payload_type).then_some(te.recv_payload_type);
            c.telephone_event_clock_rate = Some(te.clock_rate);
        }
        c.srtp = n.srtp.clone();
        c.codec = match n.codec.codec {
            AudioCodec::Opus => CodecImpairment::OPUS,
            _ => CodecImpairment::G711_PLC,
        };
        c
    }

    fn validate(&self) -> Result<(), MediaError> {
        if self.clock_rate == 0 || self.telephone_event_clock_rate == Some(0) {
            return Err(MediaError::InvalidConfig("clock rate is zero"));
        }
        if [
            Some(self.payload_type),
            self.telephone_event_payload_type,
            self.telephone_event_recv_payload_type,
        ]
        .into_iter()
        .flatten()
        .any(|p| p > 127)
        {
            return Err(MediaError::InvalidConfig("payload type above 127"));
        }
        if self.ptime.is_zero() {
            return Err(MediaError::InvalidConfig("ptime is zero"));
        }
        Ok(())
    }

    /// The telephone-event's clock rate (the audio's when not declared).
    fn event_clock_rate(&self) -> u32 {
        self.telephone_event_clock_rate.unwrap_or(self.clock_rate)
    }

    /// The payload type the peer's telephone-events arrive with.
    fn telephone_event_recv_payload_type(&self) -> Option<u8> {
        self.telephone_event_recv_payload_type
            .or(self.telephone_event_payload_type)
    }
}

/// [`SrtpReceiver::unprotect_rtp`] or [`SrtpReceiver::unprotect_rtcp`].
type UnprotectFn = fn(&mut SrtpReceiver, &[u8], &mut Vec<u8>) -> Result<(), DropReason>;

const MAX_SOURCES: usize = 4;
const MAX_QUEUED_RTP: usize = 256;
const MAX_QUEUED_EVENTS: usize = 256;
const MAX_POOLED: usize = 64;
const REKEY_GRACE: Duration = Duration::from_secs(2);
/// The far end's jitter-buffer delay assumed by the outbound MOS estimate
/// (its real one is not reported to us).
pub const NOMINAL_REMOTE_PLAYOUT_DELAY: Duration = Duration::from_millis(40);
const RTCP_MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Packets of a new source address in sequence before plain RTP re-latches.
const LATCH_PROBATION: u8 = 3;
/// NTP seconds from 1900 to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

#[derive(Debug, Default)]
struct Latch {
    /// Last accepted packet from the current remote RTP address.
    last_from_remote: Option<Instant>,
    /// Ever latched or heard from the remote address.
    settled: bool,
    candidate: Option<(SocketAddr, u16, u8)>,
}

/// The sans-IO media session of one call stream.
///
/// Drive it as every voipkit core: feed datagrams with
/// [`MediaSession::handle_input`] (and [`MediaSession::handle_rtcp_input`]
/// for a separate RTCP socket), call [`MediaSession::handle_timeout`] at
/// [`MediaSession::poll_timeout`], and after any call drain
/// [`MediaSession::poll_transmit`], [`MediaSession::poll_rtp`],
/// [`MediaSession::poll_non_audio`] and [`MediaSession::poll_event`].
/// Audio goes in with [`MediaSession::send_audio`].
///
/// Received packets come out in two queues: [`MediaSession::poll_rtp`]
/// gives audio packets only (the negotiated payload type and the other
/// accepted ones: always something to decode), and
/// [`MediaSession::poll_non_audio`] gives the telephone-event (DTMF)
/// packets of the peer's stream, with no payload (the session turns that
/// into [`MediaEvent`]s). They share the audio's SSRC and sequence
/// numbers, so a receiver feeding a jitter buffer drains both before its
/// next playout tick: audio with `JitterBuffer::insert`, non-audio with
/// `JitterBuffer::insert_non_audio` (otherwise every digit plays as about
/// six lost frames). Neither queue fills while the direction does not let
/// us receive. Each holds at most 256 packets (the oldest is dropped).
pub struct MediaSession {
    config: MediaSessionConfig,
    cname: String,
    rng: ChaCha20Rng,
    epoch: Instant,
    ntp_origin: u64,
    sender: RtpSender,
    last_media: Option<(u32, Instant)>,
    last_rtp_sent: Option<Instant>,
    last_keepalive: Option<Instant>,
    srtp_tx: Option<SrtpSender>,
    srtp_rx: Option<SrtpReceiver>,
    srtp_rx_previous: Option<(SrtpReceiver, Instant)>,
    remote_rtp: SocketAddr,
    remote_rtcp: SocketAddr,
    latch: Latch,
    rtcp_latched: bool,
    sources: Vec<SourceStats>,
    current_source: Option<u32>,
    rtcp_next: Instant,
    rtcp_last: Instant,
    rtcp_initial: bool,
    avg_rtcp_size: f64,
    sent_since_report: bool,
    sent_previous_interval: bool,
    remote_report: Option<RemoteReport>,
    rtt: RttStats,
    outbound: OutboundStats,
    /// RTP packets and payload octets sent under earlier SSRCs (a clock
    /// rate change starts a new one).
    retired_sent: (u64, u64),
    rtcp_received: u64,
    dtmf_tx: DtmfSender,
    dtmf_rx: DtmfReceiver,
    stun_tx: Option<BindingTransaction>,
    public_address: Option<SocketAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    received: VecDeque<ReceivedRtp>,
    non_audio: VecDeque<NonAudioRtp>,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    drops: DropCounters,
    closed: bool,
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("local_ssrc", &self.sender.ssrc())
            .field("remote_rtp", &self.remote_rtp)
            .field("remote_rtcp", &self.remote_rtcp)
            .field("srtp", &self.srtp_tx.as_ref().map(|s| s.suite()))
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

fn ntp_from(d: Duration) -> u64 {
    (d.as_secs() << 32) + ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}

fn srtp_pair(c: &SrtpParameters) -> Result<(SrtpSender, SrtpReceiver), MediaError> {
    Ok((SrtpSender::new(&c.local)?, SrtpReceiver::new(&c.remote)?))
}

impl MediaSession {
    /// A session starting at `now`, drawing SSRC, initial sequence number
    /// and timestamp, CNAME, STUN transaction IDs and RTCP timing from `rng`.
    pub fn new(
        config: MediaSessionConfig,
        mut rng: ChaCha20Rng,
        now: Instant,
    ) -> Result<Self, MediaError> {
        config.validate()?;
        let (srtp_tx, srtp_rx) = match &config.srtp {
            Some(c) => {
                let (t, r) = srtp_pair(c)?;
                (Some(t), Some(r))
            }
            None => (None, None),
        };
        let ssrc = rng.next_u32();
        // Random initial sequence number below 2^15 (as libwebrtc does): a
        // receiver that starts its SRTP ROC estimate at 0 then never meets
        // a wrap in the first half of the sequence space.
        let seq = rng.random::<u16>() & 0x7fff;
        let ts = rng.next_u32();
        let event_clock_rate = config.event_clock_rate();
        let cname = match &config.cname {
            Some(c) => c.clone(),
            None => format!("{:016x}@voipkit", rng.next_u64()),
        };
        let ntp_origin = match config.wallclock {
            Some(w) => ntp_from(
                w.duration_since(UNIX_EPOCH).unwrap_or_default()
                    + Duration::from_secs(NTP_UNIX_OFFSET),
            ),
            None => ntp_from(Duration::from_secs(NTP_UNIX_OFFSET)),
        };
        let remote_rtp = config.remote_rtp;
        let remote_rtcp = if config.rtcp_mux {
            remote_rtp
        } else {
            config.remote_rtcp.unwrap_or_else(|| {
                SocketAddr::new(remote_rtp.ip(), remote_rtp.port().wrapping_add(1))
            })
        };
        let mut s = Self {
            dtmf_tx: DtmfSender::new(config.clock_rate, event_clock_rate, config.ptime),
            dtmf_rx: DtmfReceiver::new(event_clock_rate),
            cname,
            rng,
            epoch: now,
            ntp_origin,
            sender: RtpSender::new(ssrc, seq, ts),
            last_media: None,
            last_rtp_sent: None,
            last_keepalive: None,
            srtp_tx,
            srtp_rx,
            srtp_rx_previous: None,
            remote_rtp,
            remote_rtcp,
            latch: Latch::default(),
            rtcp_latched: false,
            sources: Vec::with_capacity(MAX_SOURCES),
            current_source: None,
            rtcp_next: now,
            rtcp_last: now,
            rtcp_initial: true,
            avg_rtcp_size: 100.0,
            sent_since_report: false,
            sent_previous_interval: false,
            remote_report: None,
            rtt: RttStats::default(),
            outbound: OutboundStats::default(),
            retired_sent: (0, 0),
            rtcp_received: 0,
            stun_tx: None,
            public_address: None,
            transmits: VecDeque::with_capacity(8),
            events: VecDeque::with_capacity(8),
            received: VecDeque::with_capacity(8),
            non_audio: VecDeque::with_capacity(16),
            pool: Vec::with_capacity(MAX_POOLED),
            scratch: Vec::with_capacity(1500),
            drops: DropCounters::default(),
            closed: false,
            config,
        };
        s.rtcp_next = now + s.rtcp_interval();
        Ok(s)
    }

    // ----- accessors -------------------------------------------------------

    /// Our SSRC.
    pub fn local_ssrc(&self) -> u32 {
        self.sender.ssrc()
    }

    /// Our RTCP CNAME.
    pub fn cname(&self) -> &str {
        &self.cname
    }

    /// Where RTP goes now (after any latching).
    pub fn remote_rtp_address(&self) -> SocketAddr {
        self.remote_rtp
    }

    /// Where RTCP goes now.
    pub fn remote_rtcp_address(&self) -> SocketAddr {
        self.remote_rtcp
    }

    /// The RTP socket's public address learned by STUN.
    pub fn public_address(&self) -> Option<SocketAddr> {
        self.public_address
    }

    /// Whether [`MediaSession::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The configuration in force.
    pub fn config(&self) -> &MediaSessionConfig {
        &self.config
    }

    /// The direction in force (see [`MediaSessionConfig::direction`]).
    pub fn direction(&self) -> Direction {
        self.config.direction
    }

    // ----- the sans-IO interface ------------------------------------------

    /// A datagram arrived on the RTP socket (which also carries RTCP with
    /// rtcp-mux, and STUN). Anything that is not usable is dropped and
    /// counted; this never panics.
    pub fn handle_input(&mut self, now: Instant, from: SocketAddr, contents: &[u8]) {
        self.input(now, from, contents, MediaSocket::Rtp);
    }

    /// A datagram arrived on the separate RTCP socket (rtcp-mux off).
    pub fn handle_rtcp_input(&mut self, now: Instant, from: SocketAddr, contents: &[u8]) {
        self.input(now, from, contents, MediaSocket::Rtcp);
    }

    fn input(&mut self, now: Instant, from: SocketAddr, contents: &[u8], socket: MediaSocket) {
        if self.closed {
            self.drops.record(DropReason::Closed);
            return;
        }
        let result = match classify(contents) {
            PacketClass::Rtp if socket == MediaSocket::Rtp => self.handle_rtp(now, from, contents),
            PacketClass::Rtp => Err(DropReason::UnknownPayloadType),
            PacketClass::Rtcp => self.handle_rtcp(now, from, contents, socket),
            PacketClass::Stun => self.handle_stun(now, from, contents, socket),
            PacketClass::Dtls => Err(DropReason::Dtls),
            PacketClass::Zrtp => Err(DropReason::Zrtp),
            PacketClass::TurnChannel => Err(DropReason::TurnChannel),
            PacketClass::Unknown if contents.is_empty() => Err(DropReason::Truncated),
            PacketClass::Unknown => Err(DropReason::UnknownProtocol),
        };
        if let Err(reason) = result {
            self.drops.record(reason);
        }
    }

    /// Let timers due at `now` fire: RTCP reports, DTMF packets, STUN
    /// retransmissions, keep-alives.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if now >= self.rtcp_next {
            self.rtcp_timer(now);
        }
        self.pump_dtmf(now);
        self.dtmf_rx.handle_timeout(now);
        self.drain_dtmf_reports();
        self.pump_stun(now);
        if let Some(deadline) = self.keepalive_deadline()
            && now >= deadline
        {
            self.send_keepalive(now);
        }
        if self
            .srtp_rx_previous
            .as_ref()
            .is_some_and(|(_, until)| now >= *until)
        {
            self.srtp_rx_previous = None;
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next received audio RTP packet for the jitter buffer (never a
    /// telephone-event: see [`MediaSession::poll_non_audio`]).
    pub fn poll_rtp(&mut self) -> Option<ReceivedRtp> {
        self.received.pop_front()
    }

    /// The next received telephone-event (DTMF) packet's header, for the
    /// jitter buffer's `insert_non_audio` (see [`NonAudioRtp`]). Drain it
    /// together with [`MediaSession::poll_rtp`] after every input; a
    /// caller without a jitter buffer may ignore it (the queue keeps the
    /// newest 256).
    pub fn poll_non_audio(&mut self) -> Option<NonAudioRtp> {
        self.non_audio.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When [`MediaSession::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            Some(self.rtcp_next),
            self.dtmf_tx.poll_timeout(),
            self.dtmf_rx.poll_timeout(),
            self.stun_tx.as_ref().map(|t| t.deadline()),
            self.keepalive_deadline(),
            self.srtp_rx_previous.as_ref().map(|(_, t)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Give back a buffer from a [`Transmit`] or [`ReceivedRtp`] for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < MAX_POOLED && buf.capacity() >= 64 && buf.capacity() <= 4096 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    // ----- sending ---------------------------------------------------------

    /// Send one encoded audio frame covering `samples` samples at the
    /// payload's clock rate. While a DTMF digit is being sent, or while the
    /// direction does not let us send (`RecvOnly`, `Inactive`), the frame
    /// is not sent (the timestamp still advances).
    pub fn send_audio(
        &mut self,
        now: Instant,
        payload: &[u8],
        samples: u32,
    ) -> Result<(), MediaError> {
        if self.closed {
            return Err(MediaError::Closed);
        }
        if self.dtmf_tx.is_active() || !self.config.direction.can_send() {
            self.sender.skip(samples);
            return Ok(());
        }
        let fields = self
            .sender
            .next_media(self.config.payload_type, payload.len(), samples);
        self.last_media = Some((fields.timestamp, now));
        self.send_rtp(now, fields, payload, TransmitKind::Rtp)
    }

    /// Media time passes without a frame (silence suppression / DTX): the
    /// timestamp advances and the next frame carries the marker bit.
    pub fn skip_audio(&mut self, samples: u32) {
        self.sender.skip(samples);
    }

    /// Queue a DTMF digit (RFC 4733) of `duration` at `volume` (-dBm0,
    /// 0..=63; 10 is usual). Audio frames are held back while it plays.
    /// Refused with [`MediaError::NotSending`] while the direction does not
    /// let us send.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        digit: DtmfDigit,
        duration: Duration,
        volume: u8,
    ) -> Result<(), MediaError> {
        if self.closed {
            return Err(MediaError::Closed);
        }
        if self.config.telephone_event_payload_type.is_none() {
            return Err(MediaError::NoTelephoneEvent);
        }
        if !self.config.direction.can_send() {
            return Err(MediaError::NotSending);
        }
        if !self.dtmf_tx.enqueue(now, digit, duration, volume) {
            return Err(MediaError::DtmfQueueFull);
        }
        self.pump_dtmf(now);
        Ok(())
    }

    /// Ask `server` for the RTP socket's public address (RFC 8489 Binding,
    /// retransmitted on `now` until answered or timed out).
    pub fn start_stun_binding(&mut self, now: Instant, server: SocketAddr) {
        let mut id = [0u8; 12];
        self.rng.fill_bytes(&mut id);
        self.stun_tx = Some(BindingTransaction::new(
            server,
            id,
            now,
            self.config.stun_timing,
        ));
        self.pump_stun(now);
    }

    /// New remote addresses (after a re-offer).
    pub fn set_remote(&mut self, rtp: SocketAddr, rtcp: Option<SocketAddr>) {
        self.remote_rtp = rtp;
        self.config.remote_rtp = rtp;
        self.config.remote_rtcp = rtcp;
        self.remote_rtcp = if self.config.rtcp_mux {
            rtp
        } else {
            rtcp.unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)))
        };
        self.latch = Latch::default();
        self.rtcp_latched = false;
    }

    /// Install new SRTP keys (a re-offer changed `a=crypto`), or turn SRTP
    /// off with `None`. New contexts are made; the previous receive keys
    /// stay usable for packets still in flight for 2 s. On error nothing
    /// changes.
    pub fn rekey(&mut self, now: Instant, srtp: Option<SrtpParameters>) -> Result<(), MediaError> {
        let contexts = srtp.as_ref().map(srtp_pair).transpose()?;
        self.install_srtp(now, srtp, contexts);
        Ok(())
    }

    fn install_srtp(
        &mut self,
        now: Instant,
        srtp: Option<SrtpParameters>,
        contexts: Option<(SrtpSender, SrtpReceiver)>,
    ) {
        let (tx, rx) = contexts.unzip();
        if let Some(old) = self.srtp_rx.take() {
            self.srtp_rx_previous = Some((old, now + REKEY_GRACE));
        }
        self.srtp_tx = tx;
        self.srtp_rx = rx;
        self.config.srtp = srtp;
    }

    /// Apply the result of a new offer/answer (re-INVITE, UPDATE) in one
    /// call, changing only what changed:
    /// - remote addresses and rtcp-mux ([`MediaSession::set_remote`]; a
    ///   latched address is kept while the SDP's address is the same);
    /// - direction ([`MediaSession::set_direction`]);
    /// - SRTP keys ([`MediaSession::rekey`]: the previous receive keys stay
    ///   usable for 2 s);
    /// - the payload types: the codec's, the accepted ones, the
    ///   telephone-event's numbers and declared rate, and ptime;
    /// - a codec change: at the same clock rate the stream keeps its SSRC,
    ///   sequence and timestamps (RFC 3550 §5.1 lets the payload type
    ///   change mid-stream); at another clock rate (Opus 48 kHz to PCMU
    ///   8 kHz) the old SSRC leaves with an RTCP BYE (under the old keys,
    ///   to the old address) and a new random SSRC starts, with new random
    ///   sequence and timestamp (RFC 7160 §4.1: one SSRC, one clock). Sent
    ///   counts in [`MediaSession::stats`] go on across SSRCs;
    /// - when the clock rates or ptime change, DTMF digits not yet sent
    ///   are dropped (a digit being sent is cut short);
    /// - the codec's E-model values.
    ///
    /// The rest of the configuration (CNAME, keep-alives, latching, RTCP
    /// bandwidth, ...) is kept. On error nothing changes.
    pub fn apply_negotiated(
        &mut self,
        now: Instant,
        negotiated: &NegotiatedAudio,
    ) -> Result<(), MediaError> {
        if self.closed {
            return Err(MediaError::Closed);
        }
        let n = MediaSessionConfig::from_negotiated(negotiated);
        n.validate()?;
        let new_keys = match &n.srtp {
            _ if n.srtp == self.config.srtp => None,
            Some(k) => Some(Some(srtp_pair(k)?)),
            None => Some(None),
        };
        // The old SSRC's BYE goes where its stream went, under its keys.
        if n.clock_rate != self.config.clock_rate {
            self.new_ssrc(now);
        }
        if let Some(contexts) = new_keys {
            self.install_srtp(now, n.srtp.clone(), contexts);
        }
        if (n.remote_rtp, n.remote_rtcp, n.rtcp_mux)
            != (
                self.config.remote_rtp,
                self.config.remote_rtcp,
                self.config.rtcp_mux,
            )
        {
            self.config.rtcp_mux = n.rtcp_mux;
            self.set_remote(n.remote_rtp, n.remote_rtcp);
        }
        let timing = |c: &MediaSessionConfig| (c.clock_rate, c.event_clock_rate(), c.ptime);
        if timing(&n) != timing(&self.config) {
            self.dtmf_tx = DtmfSender::new(n.clock_rate, n.event_clock_rate(), n.ptime);
        }
        if n.event_clock_rate() != self.config.event_clock_rate() {
            self.dtmf_rx = DtmfReceiver::new(n.event_clock_rate());
        }
        let c = &mut self.config;
        c.payload_type = n.payload_type;
        c.accepted_payload_types = n.accepted_payload_types;
        c.clock_rate = n.clock_rate;
        c.ptime = n.ptime;
        c.telephone_event_payload_type = n.telephone_event_payload_type;
        c.telephone_event_recv_payload_type = n.telephone_event_recv_payload_type;
        c.telephone_event_clock_rate = n.telephone_event_clock_rate;
        c.codec = n.codec;
        self.set_direction(n.direction);
        Ok(())
    }

    /// Our stream changes clock rate: an RTCP BYE for the current SSRC,
    /// then a new random SSRC, sequence number and timestamp.
    fn new_ssrc(&mut self, now: Instant) {
        self.send_rtcp(now, Some("clock rate change"));
        self.retired_sent.0 += self.sender.packets_sent();
        self.retired_sent.1 += self.sender.payload_bytes_sent();
        let ssrc = loop {
            let ssrc = self.rng.next_u32();
            if ssrc != self.sender.ssrc() {
                break ssrc;
            }
        };
        let seq = self.rng.random::<u16>() & 0x7fff;
        let ts = self.rng.next_u32();
        self.sender = RtpSender::new(ssrc, seq, ts);
        self.last_media = None;
        self.sent_since_report = false;
        self.sent_previous_interval = false;
        self.dtmf_tx.clear();
    }

    /// Change the direction (a re-offer put the call on hold or resumed
    /// it); enforced as [`MediaSessionConfig::direction`] says. Stopping
    /// sending drops the DTMF digits not yet sent (a digit being sent is
    /// cut short: the peer closes it after its timeout).
    pub fn set_direction(&mut self, direction: Direction) {
        if !direction.can_send() {
            self.dtmf_tx.clear();
        }
        self.config.direction = direction;
    }

    /// Tell the session our jitter buffer's playout delay, for the inbound
    /// MOS estimate ([`MediaStats::inbound_mos`]). Feed it voipkit-codec's
    /// `JitterBuffer::target_delay()` (say every frame), not
    /// `current_delay()`: the current delay also counts stalls (hold, a
    /// DTMF tone, the far end gone before its BYE) as if they were
    /// buffering, and would take the estimate down to 1.0 while nothing is
    /// being played.
    pub fn set_playout_delay(&mut self, delay: Duration) {
        self.config.playout_delay = delay;
    }

    /// End the stream: send an RTCP BYE now; afterwards nothing is sent and
    /// input is dropped.
    pub fn close(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.send_rtcp(now, Some("call ended"));
        self.closed = true;
    }

    fn take_buf(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(1500))
    }

    fn push_transmit(&mut self, t: Transmit) {
        self.transmits.push_back(t);
    }

    fn push_event(&mut self, e: MediaEvent) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    fn send_rtp(
        &mut self,
        now: Instant,
        fields: RtpHeaderFields,
        payload: &[u8],
        kind: TransmitKind,
    ) -> Result<(), MediaError> {
        let mut plain = self.take_buf();
        build_rtp(fields, payload, &mut plain)?;
        let contents = match self.srtp_tx.as_mut() {
            Some(tx) => {
                let mut out = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(1500));
                let r = tx.protect_rtp(&plain, &mut out);
                self.recycle(plain);
                r?;
                out
            }
            None => plain,
        };
        if kind == TransmitKind::Rtp {
            // Media and telephone-events; a keep-alive neither holds off the
            // next keep-alive nor makes us an RTCP sender.
            self.last_rtp_sent = Some(now);
            self.sent_since_report = true;
        }
        self.push_transmit(Transmit {
            destination: self.remote_rtp,
            contents,
            socket: MediaSocket::Rtp,
            kind,
        });
        Ok(())
    }

    fn pump_dtmf(&mut self, now: Instant) {
        let Some(pt) = self.config.telephone_event_payload_type else {
            return;
        };
        while let Some((pkt, finished)) = self.dtmf_tx.poll(now, self.sender.next_timestamp()) {
            let fields = self.sender.next_with_timestamp(
                pt,
                pkt.marker,
                pkt.timestamp,
                crate::dtmf::TelephoneEvent::LEN,
            );
            let _ = self.send_rtp(now, fields, &pkt.event.to_bytes(), TransmitKind::Rtp);
            if let Some((digit, end_ts)) = finished {
                let ahead = end_ts.wrapping_sub(self.sender.next_timestamp()) as i32;
                if ahead > 0 {
                    self.sender.skip(ahead as u32);
                }
                self.sender.mark_next();
                self.outbound.dtmf_digits += 1;
                self.push_event(MediaEvent::DtmfSent { digit });
            }
        }
    }

    fn pump_stun(&mut self, now: Instant) {
        let Some(tx) = self.stun_tx.as_mut() else {
            return;
        };
        loop {
            match tx.poll(now) {
                TransactionStep::Send => {
                    let (server, id) = (tx.server, tx.transaction_id);
                    self.transmits.push_back(Transmit {
                        destination: server,
                        contents: stun::binding_request(id),
                        socket: MediaSocket::Rtp,
                        kind: TransmitKind::Stun,
                    });
                }
                TransactionStep::Wait => return,
                TransactionStep::TimedOut => {
                    let server = tx.server;
                    self.stun_tx = None;
                    self.push_event(MediaEvent::StunBindingFailed { server });
                    return;
                }
            }
        }
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        let ka = self.config.keep_alive?;
        let last = [self.last_rtp_sent, self.last_keepalive]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(self.epoch);
        Some(last + ka.interval)
    }

    fn send_keepalive(&mut self, now: Instant) {
        let Some(ka) = self.config.keep_alive else {
            return;
        };
        self.last_keepalive = Some(now);
        self.outbound.keepalives += 1;
        match ka.kind {
            KeepAliveKind::StunIndication => {
                let mut id = [0u8; 12];
                self.rng.fill_bytes(&mut id);
                self.push_transmit(Transmit {
                    destination: self.remote_rtp,
                    contents: stun::binding_indication(id),
                    socket: MediaSocket::Rtp,
                    kind: TransmitKind::KeepAlive,
                });
            }
            KeepAliveKind::EmptyRtp { payload_type } => {
                let ts = self.sender.next_timestamp();
                let fields = self
                    .sender
                    .next_with_timestamp(payload_type & 0x7f, false, ts, 0);
                let _ = self.send_rtp(now, fields, &[], TransmitKind::KeepAlive);
            }
        }
    }

    // ----- RTP receive -----------------------------------------------------

    fn payload_type_accepted(&self, pt: u8) -> bool {
        pt == self.config.payload_type
            || Some(pt) == self.config.telephone_event_recv_payload_type()
            || self.config.accepted_payload_types.contains(&pt)
    }

    fn handle_rtp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        contents: &[u8],
    ) -> Result<(), DropReason> {
        let hdr = ClearHeader::read(contents)?;
        if !self.payload_type_accepted(hdr.payload_type) {
            return Err(DropReason::UnknownPayloadType);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let r = self.handle_rtp_inner(now, from, contents, &mut scratch);
        self.scratch = scratch;
        r
    }

    /// Unprotect `contents` into `scratch` with `op` (SRTP or SRTCP) and
    /// the current keys, or, when those fail authentication, the previous
    /// keys during their [`REKEY_GRACE`]. `Ok(false)`: no SRTP, `contents`
    /// is the plain packet.
    fn unprotect(
        &mut self,
        now: Instant,
        contents: &[u8],
        scratch: &mut Vec<u8>,
        op: UnprotectFn,
    ) -> Result<bool, DropReason> {
        let Some(rx) = self.srtp_rx.as_mut() else {
            return Ok(false);
        };
        match op(rx, contents, scratch) {
            Err(DropReason::AuthenticationFailed) => match self.srtp_rx_previous.as_mut() {
                Some((old, until)) if now < *until => op(old, contents, scratch)?,
                _ => return Err(DropReason::AuthenticationFailed),
            },
            r => r?,
        }
        Ok(true)
    }

    fn handle_rtp_inner(
        &mut self,
        now: Instant,
        from: SocketAddr,
        contents: &[u8],
        scratch: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let authenticated = self.unprotect(now, contents, scratch, SrtpReceiver::unprotect_rtp)?;
        let plain: &[u8] = if authenticated { scratch } else { contents };
        let pkt = RtpPacket::parse(plain).map_err(|e| match e {
            MediaError::Dropped(r) => r,
            _ => DropReason::MalformedRtp,
        })?;
        let is_newest = self
            .sources
            .iter()
            .find(|s| s.ssrc == pkt.ssrc)
            .is_none_or(|s| (pkt.sequence_number.wrapping_sub(s.extended_max() as u16) as i16) > 0);
        if !self.check_source(now, from, pkt.sequence_number, authenticated, is_newest) {
            return Err(DropReason::WrongSource);
        }
        let is_dtmf = Some(pkt.payload_type) == self.config.telephone_event_recv_payload_type();
        let arrival_units = self.arrival_units(now);
        let idx = self.source_index(now, pkt.ssrc, pkt.sequence_number);
        let Some(src) = self.sources.get_mut(idx) else {
            return Err(DropReason::MalformedRtp);
        };
        src.update_seq(pkt.sequence_number);
        if !is_dtmf {
            src.update_jitter(arrival_units, pkt.timestamp);
        }
        src.payload_bytes += pkt.payload.len() as u64;
        src.last_packet = now;
        src.received_since_report = true;
        let extended = src.extend(pkt.sequence_number);
        if !self.config.direction.can_recv() {
            // Counted above (it is the peer's stream, in our reports) but
            // not played out: we are sendonly or inactive.
            return Ok(());
        }
        if is_dtmf {
            // Its sequence number carried no audio, whatever the event
            // payload turns out to be.
            if self.non_audio.len() >= MAX_QUEUED_RTP {
                self.non_audio.pop_front();
            }
            self.non_audio.push_back(NonAudioRtp {
                ssrc: pkt.ssrc,
                sequence_number: pkt.sequence_number,
                extended_sequence_number: extended,
                timestamp: pkt.timestamp,
                marker: pkt.marker,
                payload_type: pkt.payload_type,
                arrival: now,
            });
            let r = self
                .dtmf_rx
                .handle_packet(now, pkt.ssrc, pkt.timestamp, pkt.payload);
            self.drain_dtmf_reports();
            return r;
        }
        let mut payload = self.take_buf();
        payload.extend_from_slice(pkt.payload);
        if self.received.len() >= MAX_QUEUED_RTP {
            if let Some(old) = self.received.pop_front() {
                self.recycle(old.payload);
            }
            self.drops.record(DropReason::QueueOverflow);
        }
        self.received.push_back(ReceivedRtp {
            ssrc: pkt.ssrc,
            sequence_number: pkt.sequence_number,
            extended_sequence_number: extended,
            timestamp: pkt.timestamp,
            marker: pkt.marker,
            payload_type: pkt.payload_type,
            arrival: now,
            payload,
        });
        Ok(())
    }

    fn drain_dtmf_reports(&mut self) {
        while let Some(u) = self.dtmf_rx.poll_update() {
            self.push_event(match u {
                DtmfUpdate::Started { digit, volume } => MediaEvent::DtmfStarted { digit, volume },
                DtmfUpdate::Ended(r) => MediaEvent::DtmfReceived(r),
            });
        }
    }

    /// Arrival time in RTP timestamp units (wrapping), for RFC 3550 A.8.
    fn arrival_units(&self, now: Instant) -> u32 {
        let ns = now.saturating_duration_since(self.epoch).as_nanos();
        (ns * u128::from(self.config.clock_rate) / 1_000_000_000) as u32
    }

    fn source_index(&mut self, now: Instant, ssrc: u32, seq: u16) -> usize {
        if let Some(p) = self.sources.iter().position(|s| s.ssrc == ssrc) {
            return p;
        }
        if self.sources.len() >= MAX_SOURCES
            && let Some(lru) = self
                .sources
                .iter()
                .enumerate()
                .filter(|(_, s)| Some(s.ssrc) != self.current_source)
                .min_by_key(|(_, s)| s.last_packet)
                .map(|(i, _)| i)
        {
            self.sources.swap_remove(lru);
        }
        self.sources.push(SourceStats::new(ssrc, seq, now));
        if self.current_source != Some(ssrc) {
            self.current_source = Some(ssrc);
            self.push_event(MediaEvent::RemoteSsrcChanged { ssrc });
        }
        self.sources.len() - 1
    }

    /// Symmetric RTP (RFC 4961): whether to accept a packet from `from`,
    /// latching onto it when appropriate.
    fn check_source(
        &mut self,
        now: Instant,
        from: SocketAddr,
        seq: u16,
        authenticated: bool,
        is_newest: bool,
    ) -> bool {
        if from == self.remote_rtp {
            self.latch.last_from_remote = Some(now);
            self.latch.settled = true;
            self.latch.candidate = None;
            return true;
        }
        if !self.config.symmetric_rtp {
            return true;
        }
        if authenticated {
            // SRTP: the packet authenticated, so it is the peer's.
            if is_newest {
                self.relatch(now, from);
            }
            return true;
        }
        let quiet_for = (self.config.ptime * 3).max(Duration::from_millis(100));
        let remote_active = self
            .latch
            .last_from_remote
            .is_some_and(|t| now.saturating_duration_since(t) < quiet_for);
        if !self.latch.settled {
            self.relatch(now, from);
            return true;
        }
        if remote_active {
            return false;
        }
        let count = match self.latch.candidate {
            Some((addr, next, n)) if addr == from && next == seq => n.saturating_add(1),
            _ => 1,
        };
        self.latch.candidate = Some((from, seq.wrapping_add(1), count));
        if count >= LATCH_PROBATION {
            self.relatch(now, from);
        }
        true
    }

    fn relatch(&mut self, now: Instant, from: SocketAddr) {
        self.latch.last_from_remote = Some(now);
        self.latch.settled = true;
        self.latch.candidate = None;
        if self.remote_rtp == from {
            return;
        }
        self.remote_rtp = from;
        if self.config.rtcp_mux {
            self.remote_rtcp = from;
        }
        self.push_event(MediaEvent::RemoteAddressChanged {
            socket: MediaSocket::Rtp,
            address: from,
        });
    }

    // ----- STUN ------------------------------------------------------------

    fn handle_stun(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        contents: &[u8],
        socket: MediaSocket,
    ) -> Result<(), DropReason> {
        let msg = stun::decode(contents)?;
        if !msg.is_binding {
            return Err(DropReason::UnexpectedStun);
        }
        match msg.class {
            StunClass::Success | StunClass::Error => {
                let Some(tx) = self.stun_tx.as_ref() else {
                    return Err(DropReason::UnexpectedStun);
                };
                if tx.transaction_id != msg.transaction_id || socket != MediaSocket::Rtp {
                    return Err(DropReason::UnexpectedStun);
                }
                let server = tx.server;
                self.stun_tx = None;
                match (msg.class, msg.mapped_address) {
                    (StunClass::Success, Some(address)) => {
                        self.public_address = Some(address);
                        self.push_event(MediaEvent::PublicAddressDiscovered { address });
                    }
                    _ => self.push_event(MediaEvent::StunBindingFailed { server }),
                }
                Ok(())
            }
            StunClass::Request => {
                // Answer connectivity checks / keep-alive requests from the
                // peer only (no open reflector for anyone else).
                let peer = match socket {
                    MediaSocket::Rtp => self.remote_rtp,
                    MediaSocket::Rtcp => self.remote_rtcp,
                };
                if from != peer {
                    return Err(DropReason::UnexpectedStun);
                }
                self.push_transmit(Transmit {
                    destination: from,
                    contents: stun::binding_success(msg.transaction_id, from),
                    socket,
                    kind: TransmitKind::Stun,
                });
                Ok(())
            }
            // A peer's keep-alive: nothing to do.
            StunClass::Indication => Ok(()),
        }
    }

    // ----- RTCP ------------------------------------------------------------

    fn ntp_now(&self, now: Instant) -> u64 {
        self.ntp_origin
            .wrapping_add(ntp_from(now.saturating_duration_since(self.epoch)))
    }

    fn we_sent(&self) -> bool {
        self.sent_since_report || self.sent_previous_interval
    }

    fn rtcp_interval(&mut self) -> Duration {
        let remote_senders = self
            .sources
            .iter()
            .filter(|s| s.received_since_report)
            .count()
            .min(1) as u32;
        let minimum = if self.config.rtcp_reduced_minimum && !self.rtcp_initial {
            rtcp::reduced_minimum(self.config.session_bandwidth).min(RTCP_MIN_INTERVAL)
        } else {
            RTCP_MIN_INTERVAL
        };
        let inputs = IntervalInputs {
            members: 1 + (self.sources.len().max(1) as u32),
            senders: u32::from(self.we_sent()) + remote_senders,
            rtcp_bandwidth: f64::from(self.config.session_bandwidth) * 0.05 / 8.0,
            we_sent: self.we_sent(),
            avg_rtcp_size: self.avg_rtcp_size,
            initial: self.rtcp_initial,
            minimum,
        };
        let u: f64 = self.rng.random();
        rtcp::rtcp_interval(inputs, u)
    }

    fn update_avg_rtcp_size(&mut self, len: usize, peer: SocketAddr) {
        let overhead = if peer.is_ipv4() { 28 } else { 48 };
        self.avg_rtcp_size += ((len + overhead) as f64 - self.avg_rtcp_size) / 16.0;
    }

    /// RFC 3550 §6.3.6: on expiry, recompute the interval from the last
    /// transmission; send if it has passed, else reschedule.
    fn rtcp_timer(&mut self, now: Instant) {
        let t = self.rtcp_interval();
        if self.rtcp_last + t <= now || self.rtcp_initial {
            self.send_rtcp(now, None);
            self.rtcp_last = now;
            self.rtcp_initial = false;
            let next = self.rtcp_interval();
            self.rtcp_next = now + next;
        } else {
            self.rtcp_next = self.rtcp_last + t;
        }
    }

    fn send_rtcp(&mut self, now: Instant, bye: Option<&str>) {
        let sender_info = if self.we_sent() {
            let rtp_timestamp = match self.last_media {
                Some((ts, at)) => {
                    let el = now.saturating_duration_since(at).as_secs_f64();
                    ts.wrapping_add((el * f64::from(self.config.clock_rate)) as u32)
                }
                None => self.sender.next_timestamp(),
            };
            Some(SenderInfo {
                ntp_timestamp: self.ntp_now(now),
                rtp_timestamp,
                packet_count: self.sender.packets_sent() as u32,
                octet_count: self.sender.payload_bytes_sent() as u32,
            })
        } else {
            None
        };
        let mut blocks: [ReportBlock; MAX_SOURCES] = [ReportBlock::default(); MAX_SOURCES];
        let mut n = 0;
        for (slot, s) in blocks.iter_mut().zip(
            self.sources
                .iter_mut()
                .filter(|s| s.received_since_report || s.received > 0),
        ) {
            *slot = s.report_block(now);
            n += 1;
        }
        let mut plain = self.take_buf();
        let built = rtcp::build_compound(
            self.sender.ssrc(),
            sender_info,
            blocks.get(..n).unwrap_or_default(),
            &self.cname,
            bye,
            &mut plain,
        );
        self.sent_previous_interval = self.sent_since_report;
        self.sent_since_report = false;
        if built.is_err() {
            self.recycle(plain);
            return;
        }
        let contents = match self.srtp_tx.as_mut() {
            Some(tx) => {
                let mut out = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(1500));
                let r = tx.protect_rtcp(&plain, &mut out);
                self.recycle(plain);
                if r.is_err() {
                    return;
                }
                out
            }
            None => plain,
        };
        self.update_avg_rtcp_size(contents.len(), self.remote_rtcp);
        self.outbound.rtcp_packets += 1;
        let socket = if self.config.rtcp_mux {
            MediaSocket::Rtp
        } else {
            MediaSocket::Rtcp
        };
        self.push_transmit(Transmit {
            destination: self.remote_rtcp,
            contents,
            socket,
            kind: TransmitKind::Rtcp,
        });
    }

    fn handle_rtcp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        contents: &[u8],
        socket: MediaSocket,
    ) -> Result<(), DropReason> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let r = self.handle_rtcp_inner(now, from, contents, socket, &mut scratch);
        self.scratch = scratch;
        r
    }

    fn handle_rtcp_inner(
        &mut self,
        now: Instant,
        from: SocketAddr,
        contents: &[u8],
        socket: MediaSocket,
        scratch: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let secure = self.unprotect(now, contents, scratch, SrtpReceiver::unprotect_rtcp)?;
        let plain: &[u8] = if secure { scratch } else { contents };
        let compound = RtcpCompound::parse(plain).map_err(|e| match e {
            MediaError::Dropped(r) => r,
            _ => DropReason::MalformedRtcp,
        })?;
        self.rtcp_received += 1;
        self.update_avg_rtcp_size(contents.len(), from);
        let local = self.sender.ssrc();
        let ntp_now = self.ntp_now(now);
        for p in compound.packets() {
            let (blocks, sr) = match p {
                RtcpPacket::SenderReport(sr) => (Some(sr.report_blocks()), Some(sr)),
                RtcpPacket::ReceiverReport(rr) => (Some(rr.report_blocks()), None),
                RtcpPacket::Bye(bye) => {
                    for ssrc in bye.sources() {
                        if self.sources.iter().any(|s| s.ssrc == ssrc) {
                            self.push_event(MediaEvent::RemoteBye { ssrc });
                        }
                    }
                    (None, None)
                }
                _ => (None, None),
            };
            if let Some(sr) = sr
                && let Some(src) = self.sources.iter_mut().find(|s| s.ssrc == sr.ssrc)
            {
                src.last_sr = Some((ntp_middle(sr.ntp_timestamp), now));
            }
            for b in blocks.into_iter().flatten().filter(|b| b.ssrc == local) {
                self.remote_report = Some(RemoteReport {
                    fraction_lost: f64::from(b.fraction_lost) / 256.0,
                    cumulative_lost: b.cumulative_lost,
                    extended_highest_sequence: b.extended_highest_sequence,
                    jitter: Duration::from_secs_f64(
                        f64::from(b.jitter) / f64::from(self.config.clock_rate),
                    ),
                    received_at: now,
                });
                if b.last_sr != 0 {
                    let a = ntp_middle(ntp_now);
                    let rtt = a
                        .wrapping_sub(b.last_sr)
                        .wrapping_sub(b.delay_since_last_sr) as i32;
                    if rtt >= 0 {
                        self.rtt
                            .add(Duration::from_secs_f64(f64::from(rtt) / 65536.0));
                    }
                }
            }
        }
        // Latch RTCP on its own port (with rtcp-mux the RTP latch covers it).
        if socket == MediaSocket::Rtcp
            && self.config.symmetric_rtp
            && from != self.remote_rtcp
            && (self.srtp_rx.is_some() || !self.rtcp_latched)
        {
            self.remote_rtcp = from;
            self.push_event(MediaEvent::RemoteAddressChanged {
                socket: MediaSocket::Rtcp,
                address: from,
            });
        }
        if socket == MediaSocket::Rtcp {
            self.rtcp_latched = true;
        }
        Ok(())
    }

    // ----- statistics ------------------------------------------------------

    /// Statistics of the call so far, both ways.
    pub fn stats(&self) -> MediaStats {
        let current = self
            .current_source
            .and_then(|c| self.sources.iter().find(|s| s.ssrc == c));
        let inbound = match current {
            Some(s) => {
                let expected = s.expected();
                let lost = s.cumulative_lost();
                InboundStats {
                    packets: s.received,
                    payload_bytes: s.payload_bytes,
                    expected,
                    cumulative_lost: lost,
                    loss_fraction: if expected == 0 {
                        0.0
                    } else {
                        (lost as f64 / expected as f64).clamp(0.0, 1.0)
                    },
                    interval_fraction_lost: f64::from(s.last_fraction_lost) / 256.0,
                    jitter: Duration::from_secs_f64(
                        f64::from(s.jitter_units()) / f64::from(self.config.clock_rate),
                    ),
                    jitter_units: s.jitter_units(),
                    duplicates_or_late: s.duplicates_or_late,
                    rtcp_packets: self.rtcp_received,
                }
            }
            None => InboundStats {
                rtcp_packets: self.rtcp_received,
                ..InboundStats::default()
            },
        };
        let outbound = OutboundStats {
            packets: self.retired_sent.0 + self.sender.packets_sent(),
            payload_bytes: self.retired_sent.1 + self.sender.payload_bytes_sent(),
            ..self.outbound
        };
        let rtt_half = self.rtt.mean.unwrap_or_default() / 2;
        let inbound_mos = current.map(|_| {
            EModel {
                one_way_delay: rtt_half + self.config.playout_delay + self.config.ptime,
                packet_loss: inbound.loss_fraction,
                burst_ratio: 1.0,
                codec: self.config.codec,
            }
            .mos()
        });
        // The far end's own view: the loss it reported in its last RR (the
        // fraction of the interval before it), and a delay of RTT/2 plus
        // a nominal jitter buffer, since its playout delay is not known to
        // us; the codec is ours, the one it decodes.
        let outbound_mos = self.remote_report.map(|r| {
            EModel {
                one_way_delay: rtt_half + NOMINAL_REMOTE_PLAYOUT_DELAY + self.config.ptime,
                packet_loss: r.fraction_lost.clamp(0.0, 1.0),
                burst_ratio: 1.0,
                codec: self.config.codec,
            }
            .mos()
        });
        MediaStats {
            local_ssrc: self.sender.ssrc(),
            remote_ssrc: self.current_source,
            outbound,
            inbound,
            remote_report: self.remote_report,
            rtt: self.rtt,
            inbound_mos,
            outbound_mos,
            drops: self.drops,
        }
    }
}
