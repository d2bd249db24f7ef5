//! RFC 3264 offer/answer for one call's audio stream: [`SdpSession`] makes
//! offers, takes answers, answers offers and re-offers, and tracks the `o=`
//! version; every completed exchange yields one [`NegotiatedAudio`] that
//! the media layer consumes as is.
//!
//! # Telephone-event (RFC 4733) clock rates
//!
//! RFC 4733 §2.1 wants the event stream on the audio stream's clock, and
//! our offers follow it: one `telephone-event` per offered codec clock
//! rate (`/48000` for Opus, `/8000` for G.711). Real peers often do not:
//! Asterisk offers and answers `opus/48000/2` with only
//! `telephone-event/8000` (sipwise/rtpengine#1553), Polycom and Yealink
//! phones only ever write `/8000`, older PJSIP and baresip put
//! `telephone-event/8000` next to Opus. Refusing those would leave the
//! user with no RTP DTMF at all, so when answering an offer or taking an
//! answer we pick one of the peer's telephone-events:
//! 1. the one at the chosen codec's clock rate;
//! 2. else the one at 8000 Hz;
//! 3. else the first listed.
//!
//! Our answer mirrors the picked payload type and its rtpmap rate. In an
//! answer to our offer, events at rates we offered come first (received on
//! our number for that rate); an event at a rate we did not offer is taken
//! only when there is no such one, and only on a number our offer does not
//! use for anything else (the peer then uses that number both ways). The
//! result, [`TelephoneEvent`], carries both rates: `clock_rate` (the
//! event's declared SDP rate: the unit of the event duration field) and
//! `audio_clock_rate` (the audio stream's: the unit of the event packets'
//! RTP timestamps, which stay on the audio clock as RFC 4733 §2.1 asks).

use std::net::{IpAddr, SocketAddr};

use rand::RngCore;

use crate::attributes::{CryptoAttribute, Direction, FormatParameters, RtpMap};
use crate::crypto::{CryptoSuite, SrtpKeyingMaterial};
use crate::error::{RejectReason, SdpError};
use crate::model::{
    Address, Attribute, Connection, MediaDescription, Origin, SessionDescription, TimeDescription,
};

/// An audio codec voipkit can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AudioCodec {
    /// Opus (RFC 7587): `opus/48000/2`.
    Opus,
    /// G.711 µ-law: `PCMU/8000`, static payload type 0.
    Pcmu,
    /// G.711 A-law: `PCMA/8000`, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// Every codec, in voipkit's default order of preference.
    pub const ALL: [AudioCodec; 3] = [AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma];

    /// The encoding name in `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Opus => "opus",
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz (Opus: always 48000, RFC 7587).
    pub fn clock_rate(self) -> u32 {
        match self {
            AudioCodec::Opus => 48_000,
            AudioCodec::Pcmu | AudioCodec::Pcma => 8_000,
        }
    }

    /// Channel count as written in SDP (Opus: always 2, RFC 7587; whether
    /// the peer wants stereo is its `stereo` fmtp parameter).
    pub fn channels(self) -> u16 {
        match self {
            AudioCodec::Opus => 2,
            AudioCodec::Pcmu | AudioCodec::Pcma => 1,
        }
    }

    /// The static payload type (RFC 3551), if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            AudioCodec::Opus => None,
            AudioCodec::Pcmu => Some(0),
            AudioCodec::Pcma => Some(8),
        }
    }

    /// The payload type voipkit offers when the session has none yet.
    pub fn default_payload_type(self) -> u8 {
        self.static_payload_type().unwrap_or(OPUS_PT)
    }

    fn rtpmap(self, payload_type: u8) -> RtpMap {
        RtpMap {
            payload_type,
            encoding_name: self.encoding_name().to_owned(),
            clock_rate: self.clock_rate(),
            channels: (self == AudioCodec::Opus).then_some(2),
        }
    }

    fn matches(self, map: &RtpMap) -> bool {
        map.encoding_name.eq_ignore_ascii_case(self.encoding_name())
            && map.clock_rate == self.clock_rate()
            && match self {
                // RFC 7587 says /2; tolerate a missing channel count.
                AudioCodec::Opus => matches!(map.channels, None | Some(2)),
                AudioCodec::Pcmu | AudioCodec::Pcma => matches!(map.channels, None | Some(1)),
            }
    }
}

const OPUS_PT: u8 = 111;
const TELEPHONE_EVENT_8000_PT: u8 = 101;
const TELEPHONE_EVENT_48000_PT: u8 = 110;
/// Events we can receive (RFC 4733 DTMF 0-9 * # A-D, flash).
const TELEPHONE_EVENTS: &str = "0-16";

/// What a payload type of an m-line stands for, as far as we care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormatKind {
    Codec(AudioCodec),
    TelephoneEvent(u32),
}

fn identify(m: &MediaDescription, pt: u8) -> Option<FormatKind> {
    match m.rtpmap(pt) {
        Some(map) if map.encoding_name.eq_ignore_ascii_case("telephone-event") => {
            Some(FormatKind::TelephoneEvent(map.clock_rate))
        }
        Some(map) => AudioCodec::ALL
            .into_iter()
            .find(|c| c.matches(&map))
            .map(FormatKind::Codec),
        None => AudioCodec::ALL
            .into_iter()
            .find(|c| c.static_payload_type() == Some(pt))
            .map(FormatKind::Codec),
    }
}

/// How SRTP (SDES, RFC 4568) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SrtpPolicy {
    /// Plain RTP only: offers `RTP/AVP` without `a=crypto`; `RTP/SAVP`
    /// offers are rejected.
    Disabled,
    /// Best effort: offers `RTP/AVP` with `a=crypto` (what baresip's
    /// `mediaenc=srtp` and many phones do); uses SRTP whenever the peer
    /// keys it, plain RTP otherwise.
    #[default]
    Optional,
    /// SRTP required: offers `RTP/SAVP`; plain offers/answers are refused.
    Mandatory,
}

/// Local capabilities and preferences for the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Codecs in order of preference (offers list them in this order;
    /// answers take the offerer's order among these).
    pub codecs: Vec<AudioCodec>,
    /// Offer RFC 4733 telephone-event at each codec's clock rate, and
    /// accept one (at the codec's rate, else 8000 Hz, else the peer's
    /// first; see the module doc).
    pub telephone_event: bool,
    /// Packetization time we ask for (`a=ptime`), in ms (10..=120, steps
    /// of 10).
    pub ptime: u32,
    /// Offer/accept RTCP multiplexing (RFC 5761).
    pub rtcp_mux: bool,
    /// SRTP policy.
    pub srtp: SrtpPolicy,
    /// Crypto suites in order of preference, offered with tags 1, 2, ...
    /// `AES_CM_128_HMAC_SHA1_32` always goes last, wherever it is listed:
    /// libre (baresip) computes its SRTCP tag wrongly.
    pub crypto_suites: Vec<CryptoSuite>,
    /// Ask the peer for Opus in-band FEC (`useinbandfec=1`).
    pub opus_inband_fec: bool,
    /// `o=` user name.
    pub origin_username: String,
    /// `s=` session name.
    pub session_name: String,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            codecs: AudioCodec::ALL.to_vec(),
            telephone_event: true,
            ptime: 20,
            rtcp_mux: true,
            srtp: SrtpPolicy::Optional,
            crypto_suites: vec![
                CryptoSuite::AesCm128HmacSha1_80,
                CryptoSuite::AeadAes128Gcm,
                CryptoSuite::AesCm128HmacSha1_32,
            ],
            opus_inband_fec: true,
            origin_username: "-".to_owned(),
            session_name: "-".to_owned(),
        }
    }
}

/// The codec of a negotiated stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedCodec {
    /// Which codec.
    pub codec: AudioCodec,
    /// Payload type to put in the RTP packets we send (the number in the
    /// peer's SDP).
    pub send_payload_type: u8,
    /// Payload type the peer puts in what it sends us (the number in ours).
    pub recv_payload_type: u8,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count as in SDP (see [`AudioCodec::channels`]).
    pub channels: u16,
    /// The peer's `a=fmtp` parameters for this codec: what it wants to
    /// receive, hence how we encode (e.g. Opus `useinbandfec`, `stereo`,
    /// `maxplaybackrate`).
    pub remote_fmtp: FormatParameters,
}

impl NegotiatedCodec {
    /// The encoding name (`opus`, `PCMU`, `PCMA`).
    pub fn name(&self) -> &'static str {
        self.codec.encoding_name()
    }

    /// Whether the peer asked for Opus in-band FEC (`useinbandfec=1`), so we
    /// should encode with it.
    pub fn use_inband_fec(&self) -> bool {
        self.codec == AudioCodec::Opus && self.remote_fmtp.flag("useinbandfec")
    }
}

/// Negotiated RFC 4733 telephone-event (see the module doc for how it is
/// chosen when the peer's rate differs from the codec's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Payload type for events we send.
    pub send_payload_type: u8,
    /// Payload type of events the peer sends.
    pub recv_payload_type: u8,
    /// The event's clock rate as declared in SDP
    /// (`a=rtpmap:<pt> telephone-event/<clock_rate>`): the unit of the
    /// RFC 4733 duration field, both ways.
    pub clock_rate: u32,
    /// The audio stream's clock rate (the negotiated codec's): the unit of
    /// the event packets' RTP timestamps (RFC 4733 §2.1).
    pub audio_clock_rate: u32,
}

impl TelephoneEvent {
    /// Whether the event's declared rate differs from the audio clock
    /// (e.g. Opus with `telephone-event/8000`).
    pub fn is_rate_mismatched(&self) -> bool {
        self.clock_rate != self.audio_clock_rate
    }
}

/// Pick one telephone-event among the candidates (`rate` gives each one's
/// declared clock rate) for audio at `audio_clock_rate`: the same rate,
/// else 8000 Hz, else the first (module doc). Rate 0 is never picked.
fn pick_telephone_event<T>(
    candidates: impl IntoIterator<Item = T>,
    rate: impl Fn(&T) -> u32,
    audio_clock_rate: u32,
) -> Option<T> {
    candidates
        .into_iter()
        .filter(|c| rate(c) > 0)
        .min_by_key(|c| match rate(c) {
            r if r == audio_clock_rate => 0,
            8_000 => 1,
            _ => 2,
        })
}

/// SDES-SRTP keys of a call, both directions: ours (we protect with it, it
/// went out in our `a=crypto`) and the peer's (we unprotect with it). The
/// one type for a call's SRTP keys: voipkit-media's session takes it as is.
/// `Debug` shows the suites only (the keys are redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpParameters {
    /// Our key: protects what we send.
    pub local: SrtpKeyingMaterial,
    /// The peer's key: unprotects what we receive.
    pub remote: SrtpKeyingMaterial,
}

impl SrtpParameters {
    /// The suite (our key's; offer/answer gives both keys the same suite).
    pub fn suite(&self) -> CryptoSuite {
        self.local.suite()
    }

    /// The same keys seen from the peer's side (`local` and `remote`
    /// swapped): what the other end of a test call is configured with.
    pub fn reversed(&self) -> Self {
        Self {
            local: self.remote.clone(),
            remote: self.local.clone(),
        }
    }
}

/// The outcome of a completed offer/answer for the audio stream: all the
/// media layer needs to send and receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    /// Index of the audio m-line in the session description.
    pub mline_index: usize,
    /// The RTP address we advertised.
    pub local_rtp: SocketAddr,
    /// Where we receive RTCP (equal to `local_rtp` with `rtcp_mux`).
    pub local_rtcp: SocketAddr,
    /// Where to send RTP.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP (equal to `remote_rtp` with `rtcp_mux`; else
    /// `a=rtcp` (RFC 3605) or the RTP port + 1).
    pub remote_rtcp: SocketAddr,
    /// RTP and RTCP share one port (RFC 5761).
    pub rtcp_mux: bool,
    /// The codec we send with, and the first the peer may send.
    pub codec: NegotiatedCodec,
    /// Every codec the peer may send us (first is `codec`). An answer of
    /// ours lists one codec; an answer to our offer may list several.
    pub recv_codecs: Vec<NegotiatedCodec>,
    /// RFC 4733 events: at `codec`'s clock rate when the peer has them,
    /// else at another rate the peer declared (see [`TelephoneEvent`]).
    pub telephone_event: Option<TelephoneEvent>,
    /// Packetization to send with, in ms: the peer's `a=ptime` (clamped to
    /// 10..=120 in steps of 10), else ours.
    pub ptime: u32,
    /// Direction from our side: `SendOnly` means we send and do not receive.
    pub direction: Direction,
    /// SRTP keys, or `None` for plain RTP.
    pub srtp: Option<SrtpParameters>,
}

/// One offered stream we answered with port 0, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedStream {
    /// m-line index.
    pub index: usize,
    /// Why.
    pub reason: RejectReason,
}

/// Our answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The answer to send.
    pub sdp: SessionDescription,
    /// The negotiated audio stream; `None` when the offer had no active
    /// audio (no media at all, or every stream disabled by the offerer).
    pub audio: Option<NegotiatedAudio>,
    /// The offered streams answered with port 0.
    pub rejected: Vec<RejectedStream>,
}

/// An offer of ours, with what is needed to check its answer.
#[derive(Debug, Clone)]
struct OurOffer {
    sdp: SessionDescription,
    audio_index: usize,
    direction: Direction,
    formats: Vec<(u8, FormatKind)>,
    crypto: Vec<(u32, SrtpKeyingMaterial)>,
    srtp_required: bool,
    rtcp_mux: bool,
}

/// What we accept of one offered audio stream.
struct AcceptedStream {
    codec: AudioCodec,
    payload_type: u8,
    /// Payload type and declared clock rate.
    telephone_event: Option<(u8, u32)>,
    crypto: Option<(CryptoAttribute, SrtpKeyingMaterial)>,
    ip: IpAddr,
}

/// The SDP state of one call: makes offers, takes answers, answers offers
/// and re-offers, and tracks the `o=` version (RFC 3264 §8). Keep one per
/// call (clone it per early dialog when an INVITE forks).
///
/// Flows:
/// - we call: [`create_offer`](Self::create_offer) -> INVITE;
///   answer in 18x/200 -> [`accept_answer`](Self::accept_answer).
/// - we are called: INVITE offer -> [`answer_offer`](Self::answer_offer)
///   -> 200 OK; or INVITE without SDP -> `create_offer` in the 200 OK and
///   `accept_answer` on the ACK.
/// - hold/resume: [`set_held`](Self::set_held) then `create_offer`
///   (re-INVITE); codec change: [`set_config`](Self::set_config); new
///   address: [`set_local_rtp`](Self::set_local_rtp); re-keying:
///   [`rekey`](Self::rekey).
/// - a failed re-offer (488, 491, timeout): [`rollback_offer`](Self::rollback_offer).
#[derive(Debug, Clone)]
pub struct SdpSession {
    config: MediaConfig,
    local_rtp: SocketAddr,
    local_rtcp: Option<SocketAddr>,
    session_id: u64,
    version: u64,
    last_emitted: Option<SessionDescription>,
    held: bool,
    rekey_requested: bool,
    keys: Vec<SrtpKeyingMaterial>,
    local: Option<SessionDescription>,
    remote: Option<SessionDescription>,
    pending: Option<OurOffer>,
    answered_offer: Option<OurOffer>,
    negotiated: Option<NegotiatedAudio>,
}

fn effective_connection<'a>(
    sdp: &'a SessionDescription,
    m: &'a MediaDescription,
) -> Option<&'a Connection> {
    m.connection.as_ref().or(sdp.connection.as_ref())
}

fn effective_direction(sdp: &SessionDescription, m: &MediaDescription) -> Direction {
    m.direction().or(sdp.direction()).unwrap_or_default()
}

fn normalize_ptime(ptime: u32) -> u32 {
    (ptime.clamp(10, 120) / 10) * 10
}

fn remote_ptime(sdp: &SessionDescription, m: &MediaDescription, ours: u32) -> u32 {
    m.ptime()
        .or_else(|| {
            sdp.attribute("ptime")
                .and_then(|a| crate::model::parse_ptime(a.value.as_deref()?))
        })
        .filter(|p| *p > 0)
        .map_or(ours, normalize_ptime)
}

fn remote_rtcp(m: &MediaDescription, rtp: SocketAddr, mux: bool) -> SocketAddr {
    if mux {
        return rtp;
    }
    match m.rtcp() {
        Some(r) => SocketAddr::new(
            r.connection
                .and_then(|c| c.address.ip())
                .unwrap_or(rtp.ip()),
            r.port,
        ),
        None => SocketAddr::new(rtp.ip(), rtp.port().checked_add(1).unwrap_or(rtp.port())),
    }
}

fn rejected_copy(m: &MediaDescription) -> MediaDescription {
    MediaDescription::new(&m.media, 0, &m.protocol, m.formats.clone())
}

/// `(secure, with feedback)` for the RTP profiles we speak.
fn rtp_profile(protocol: &str) -> Option<(bool, bool)> {
    match protocol.to_ascii_uppercase().as_str() {
        "RTP/AVP" => Some((false, false)),
        "RTP/AVPF" => Some((false, true)),
        "RTP/SAVP" => Some((true, false)),
        "RTP/SAVPF" => Some((true, true)),
        _ => None,
    }
}

fn profile_name(secure: bool, feedback: bool) -> &'static str {
    match (secure, feedback) {
        (false, false) => "RTP/AVP",
        (false, true) => "RTP/AVPF",
        (true, false) => "RTP/SAVP",
        (true, true) => "RTP/SAVPF",
    }
}

/// Payload type numbers for a new offer: keep the numbers the session
/// already uses (RFC 3264 §8.3.2), never reuse a number for another format.
struct PayloadTypes {
    known: Vec<(u8, FormatKind)>,
    taken: Vec<u8>,
}

impl PayloadTypes {
    fn new(sections: &[&MediaDescription]) -> Self {
        let mut known = Vec::new();
        let mut taken = Vec::new();
        for m in sections {
            for pt in m.payload_types() {
                match identify(m, pt) {
                    Some(kind) => known.push((pt, kind)),
                    None => taken.push(pt),
                }
            }
        }
        Self { known, taken }
    }

    fn is_free(&self, pt: u8, kind: FormatKind) -> bool {
        !self.taken.contains(&pt) && self.known.iter().all(|(p, k)| *p != pt || *k == kind)
    }

    fn pick(&mut self, kind: FormatKind, default: u8) -> u8 {
        let pt = self
            .known
            .iter()
            .find(|(p, k)| *k == kind && !self.taken.contains(p))
            .map(|(p, _)| *p)
            .or_else(|| self.is_free(default, kind).then_some(default))
            .or_else(|| (96..=127).find(|p| self.is_free(*p, kind)))
            .unwrap_or(default);
        self.taken.push(pt);
        pt
    }
}

impl SdpSession {
    /// A session for one call, advertising `local_rtp`. The `o=` session id
    /// comes from `rng` (the caller seeds it).
    pub fn new(config: MediaConfig, local_rtp: SocketAddr, rng: &mut impl RngCore) -> Self {
        let session_id = u64::from(rng.next_u32()) + 1;
        Self {
            config,
            local_rtp,
            local_rtcp: None,
            session_id,
            version: session_id,
            last_emitted: None,
            held: false,
            rekey_requested: false,
            keys: Vec::new(),
            local: None,
            remote: None,
            pending: None,
            answered_offer: None,
            negotiated: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// Change codecs, SRTP policy, ... for the next offer or answer (e.g. a
    /// codec change by re-offer).
    pub fn set_config(&mut self, config: MediaConfig) {
        self.config = config;
    }

    /// Advertise a new RTP address from the next offer or answer on.
    pub fn set_local_rtp(&mut self, addr: SocketAddr) {
        self.local_rtp = addr;
    }

    /// Advertise an RTCP address (RFC 3605 `a=rtcp`), or `None` for the
    /// default RTP port + 1.
    pub fn set_local_rtcp(&mut self, addr: Option<SocketAddr>) {
        self.local_rtcp = addr;
    }

    /// Put the call on hold (or resume it) from the next offer or answer on:
    /// offers say `sendonly` (`inactive` if we were only receiving,
    /// RFC 3264 §8.4); answers never say more than `sendonly`.
    pub fn set_held(&mut self, held: bool) {
        self.held = held;
    }

    /// Whether we hold the call.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Use fresh SRTP keys in the next offer or answer (RFC 4568 §7.1.4
    /// re-keying). Otherwise our keys stay the same across re-offers.
    pub fn rekey(&mut self) {
        self.rekey_requested = true;
    }

    /// The `o=` session id.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The `o=` version of the last SDP we produced.
    pub fn session_version(&self) -> u64 {
        self.version
    }

    /// The result of the last completed exchange, if it has audio.
    pub fn negotiated(&self) -> Option<&NegotiatedAudio> {
        self.negotiated.as_ref()
    }

    /// Our SDP of the last completed exchange.
    pub fn local_description(&self) -> Option<&SessionDescription> {
        self.local.as_ref()
    }

    /// The peer's SDP of the last completed exchange.
    pub fn remote_description(&self) -> Option<&SessionDescription> {
        self.remote.as_ref()
    }

    /// Our offer waiting for an answer.
    pub fn pending_offer(&self) -> Option<&SessionDescription> {
        self.pending.as_ref().map(|o| &o.sdp)
    }

    /// Forget our pending offer (it was rejected, timed out, or lost a
    /// glare): the session stays as the last completed exchange left it
    /// (RFC 3264 §4). The version is not reused. Returns whether there was
    /// one.
    pub fn rollback_offer(&mut self) -> bool {
        self.pending.take().is_some()
    }

    /// The configured suites, each once, `AES_CM_128_HMAC_SHA1_32` last
    /// whatever the configuration says (libre's SRTCP tag for it is wrong).
    fn crypto_preference(&self) -> Vec<CryptoSuite> {
        let mut suites: Vec<CryptoSuite> = Vec::new();
        for s in &self.config.crypto_suites {
            if !suites.contains(s) {
                suites.push(*s);
            }
        }
        suites.sort_by_key(|s| *s == CryptoSuite::AesCm128HmacSha1_32);
        suites
    }

    fn origin(&self) -> Origin {
        let ip = self.local_rtp.ip();
        Origin {
            username: self.config.origin_username.clone(),
            session_id: self.session_id.to_string(),
            session_version: self.version,
            network_type: "IN".to_owned(),
            address_type: crate::model::AddressType::of(ip),
            address: Address::Ip(ip),
        }
    }

    fn skeleton(&self, media: Vec<MediaDescription>) -> SessionDescription {
        SessionDescription {
            origin: self.origin(),
            session_name: self.config.session_name.clone(),
            connection: Some(Connection::ip(self.local_rtp.ip())),
            times: vec![TimeDescription {
                timing: "0 0".to_owned(),
                repeats: Vec::new(),
            }],
            attributes: Vec::new(),
            other_lines: Vec::new(),
            media,
        }
    }

    /// Set the version of a new SDP of ours: +1 on every SDP after the
    /// first, except an answer identical to the last SDP we produced.
    fn stamp(&mut self, sdp: &mut SessionDescription, is_offer: bool) {
        if let Some(prev) = &self.last_emitted {
            sdp.origin.session_version = prev.origin.session_version;
            if is_offer || *prev != *sdp {
                self.version = self.version.wrapping_add(1);
            }
        }
        sdp.origin.session_version = self.version;
        self.last_emitted = Some(sdp.clone());
    }

    fn local_rtcp_addr(&self, mux: bool) -> SocketAddr {
        if mux {
            return self.local_rtp;
        }
        self.local_rtcp.unwrap_or_else(|| {
            let p = self.local_rtp.port();
            SocketAddr::new(self.local_rtp.ip(), p.checked_add(1).unwrap_or(p))
        })
    }

    fn key_for(
        keys: &mut Vec<SrtpKeyingMaterial>,
        suite: CryptoSuite,
        rng: &mut impl RngCore,
    ) -> SrtpKeyingMaterial {
        if let Some(k) = keys.iter().find(|k| k.suite() == suite) {
            return k.clone();
        }
        let k = SrtpKeyingMaterial::generate(suite, rng);
        keys.push(k.clone());
        k
    }

    /// Common attributes of our audio m-line after the formats.
    fn push_transport_attributes(&self, attrs: &mut Vec<Attribute>, mux: bool) {
        attrs.push(Attribute::new(
            "ptime",
            normalize_ptime(self.config.ptime).to_string(),
        ));
        if let Some(rtcp) = self.local_rtcp {
            let conn = (rtcp.ip() != self.local_rtp.ip()).then(|| Connection::ip(rtcp.ip()));
            let a = crate::attributes::RtcpAttribute {
                port: rtcp.port(),
                connection: conn,
            };
            attrs.push(Attribute::new("rtcp", a.to_string()));
        }
        if mux {
            attrs.push(Attribute::flag("rtcp-mux"));
        }
    }

    fn push_format(&self, attrs: &mut Vec<Attribute>, pt: u8, kind: FormatKind) {
        match kind {
            FormatKind::Codec(c) => {
                attrs.push(c.rtpmap(pt).to_attribute());
                if c == AudioCodec::Opus && self.config.opus_inband_fec {
                    attrs.push(Attribute::new("fmtp", format!("{pt} useinbandfec=1")));
                }
            }
            FormatKind::TelephoneEvent(rate) => {
                let map = RtpMap {
                    payload_type: pt,
                    encoding_name: "telephone-event".to_owned(),
                    clock_rate: rate,
                    channels: None,
                };
                attrs.push(map.to_attribute());
                attrs.push(Attribute::new("fmtp", format!("{pt} {TELEPHONE_EVENTS}")));
            }
        }
    }

    /// Make an offer (initial or re-offer) from the configuration and the
    /// hold state. A re-offer keeps every m-line of our last SDP in place
    /// (others with port 0), the payload type numbers in use and our SRTP
    /// keys (unless [`rekey`](Self::rekey)); its `o=` version is one more.
    pub fn create_offer(&mut self, rng: &mut impl RngCore) -> Result<SessionDescription, SdpError> {
        if self.pending.is_some() {
            return Err(SdpError::OfferPending);
        }
        let mut media: Vec<MediaDescription> = self
            .local
            .as_ref()
            .map(|l| l.media.iter().map(rejected_copy).collect())
            .unwrap_or_default();
        let audio_index = self
            .negotiated
            .as_ref()
            .map(|n| n.mline_index)
            .filter(|i| *i < media.len())
            .or_else(|| {
                media
                    .iter()
                    .position(|m| m.media.eq_ignore_ascii_case("audio"))
            })
            .unwrap_or(media.len());

        let prev_local_audio = self.local.as_ref().and_then(|l| l.media.get(audio_index));
        let prev_remote_audio = self.remote.as_ref().and_then(|r| r.media.get(audio_index));
        let prev_profile = prev_local_audio.and_then(|m| rtp_profile(&m.protocol));
        let feedback = prev_profile.is_some_and(|(_, fb)| fb);
        let secure = self.config.srtp == SrtpPolicy::Mandatory
            || (self.config.srtp != SrtpPolicy::Disabled && prev_profile.is_some_and(|(s, _)| s));
        let protocol = profile_name(secure, feedback);

        let sections: Vec<&MediaDescription> = prev_local_audio
            .into_iter()
            .chain(prev_remote_audio)
            .collect();
        let mut pts = PayloadTypes::new(&sections);
        let mut formats: Vec<(u8, FormatKind)> = Vec::new();
        for c in &self.config.codecs {
            let kind = FormatKind::Codec(*c);
            if formats.iter().all(|(_, k)| *k != kind) {
                formats.push((pts.pick(kind, c.default_payload_type()), kind));
            }
        }
        if self.config.telephone_event {
            for c in &self.config.codecs {
                let kind = FormatKind::TelephoneEvent(c.clock_rate());
                if formats.iter().all(|(_, k)| *k != kind) {
                    let default = if c.clock_rate() == 48_000 {
                        TELEPHONE_EVENT_48000_PT
                    } else {
                        TELEPHONE_EVENT_8000_PT
                    };
                    formats.push((pts.pick(kind, default), kind));
                }
            }
        }

        if self.rekey_requested {
            self.keys.clear();
            self.rekey_requested = false;
        }
        let mut crypto = Vec::new();
        if self.config.srtp != SrtpPolicy::Disabled {
            for (tag, suite) in (1u32..).zip(self.crypto_preference()) {
                crypto.push((tag, Self::key_for(&mut self.keys, suite, rng)));
            }
        }

        let direction = if !self.held {
            Direction::SendRecv
        } else if self
            .negotiated
            .as_ref()
            .is_some_and(|n| !n.direction.can_send())
        {
            Direction::Inactive
        } else {
            Direction::SendOnly
        };

        let mut m = MediaDescription::new(
            "audio",
            self.local_rtp.port(),
            protocol,
            formats.iter().map(|(pt, _)| pt.to_string()).collect(),
        );
        for (pt, kind) in &formats {
            self.push_format(&mut m.attributes, *pt, *kind);
        }
        self.push_transport_attributes(&mut m.attributes, self.config.rtcp_mux);
        for (tag, key) in &crypto {
            m.attributes
                .push(CryptoAttribute::new(*tag, key).to_attribute());
        }
        m.attributes.push(direction.to_attribute());
        if audio_index < media.len() {
            if let Some(slot) = media.get_mut(audio_index) {
                *slot = m;
            }
        } else {
            media.push(m);
        }

        let mut sdp = self.skeleton(media);
        self.stamp(&mut sdp, true);
        self.pending = Some(OurOffer {
            sdp: sdp.clone(),
            audio_index,
            direction,
            formats,
            crypto,
            srtp_required: secure,
            rtcp_mux: self.config.rtcp_mux,
        });
        Ok(sdp)
    }

    /// Take the answer to our offer. Checks it (RFC 3264 §6): same number
    /// and kinds of m-lines, a codec we offered, an `a=crypto` tag and suite
    /// we offered, SRTP when our offer required it. An answer may also
    /// update the previous answer to the same offer (a 183 then a 200 OK
    /// with different SDP). On error nothing changes and the offer stays
    /// pending. Returns the audio stream, or `None` if the peer rejected it.
    pub fn accept_answer(
        &mut self,
        answer: &SessionDescription,
    ) -> Result<Option<NegotiatedAudio>, SdpError> {
        let offer = match (&self.pending, &self.answered_offer) {
            (Some(o), _) | (None, Some(o)) => o.clone(),
            (None, None) => return Err(SdpError::NoOfferPending),
        };
        if answer.media.len() != offer.sdp.media.len() {
            return Err(SdpError::InvalidAnswer(format!(
                "answer has {} media sections, our offer {}",
                answer.media.len(),
                offer.sdp.media.len()
            )));
        }
        for (i, (o, a)) in offer.sdp.media.iter().zip(&answer.media).enumerate() {
            if !o.media.eq_ignore_ascii_case(&a.media) {
                return Err(SdpError::InvalidAnswer(format!(
                    "media section {i} is {:?} in the answer but {:?} in our offer",
                    a.media, o.media
                )));
            }
        }
        let negotiated = match answer.media.get(offer.audio_index) {
            Some(am) if am.port != 0 => Some(self.check_answer(&offer, answer, am)?),
            _ => None,
        };
        self.local = Some(offer.sdp.clone());
        self.remote = Some(answer.clone());
        self.pending = None;
        self.answered_offer = Some(offer);
        self.negotiated = negotiated.clone();
        Ok(negotiated)
    }

    fn check_answer(
        &self,
        offer: &OurOffer,
        answer: &SessionDescription,
        am: &MediaDescription,
    ) -> Result<NegotiatedAudio, SdpError> {
        let invalid = |s: String| SdpError::InvalidAnswer(s);
        let mut recv_codecs: Vec<NegotiatedCodec> = Vec::new();
        let mut events: Vec<(u8, u32)> = Vec::new();
        for pt in am.payload_types() {
            match identify(am, pt) {
                Some(FormatKind::Codec(c)) => {
                    let ours = offer
                        .formats
                        .iter()
                        .find(|(_, k)| *k == FormatKind::Codec(c));
                    if let Some((our_pt, _)) = ours
                        && recv_codecs.iter().all(|n| n.codec != c)
                    {
                        recv_codecs.push(NegotiatedCodec {
                            codec: c,
                            send_payload_type: pt,
                            recv_payload_type: *our_pt,
                            clock_rate: c.clock_rate(),
                            channels: c.channels(),
                            remote_fmtp: am.fmtp(pt).unwrap_or_default(),
                        });
                    }
                }
                Some(FormatKind::TelephoneEvent(rate)) => events.push((pt, rate)),
                None => {}
            }
        }
        let Some(codec) = recv_codecs.first().cloned() else {
            return Err(invalid(format!(
                "none of the answer's formats {:?} is a codec of our offer",
                am.formats
            )));
        };
        // Events at a rate we offered are received on our number for that
        // rate. Only if there are none, an event at a rate we did not offer
        // (an answerer that only knows /8000) is taken on its own number,
        // provided that number means nothing else in our offer.
        let offered_event_pt = |rate: u32| {
            offer
                .formats
                .iter()
                .find(|(_, k)| *k == FormatKind::TelephoneEvent(rate))
                .map(|(our_pt, _)| *our_pt)
        };
        let offered = events
            .iter()
            .filter_map(|&(pt, rate)| Some((pt, rate, offered_event_pt(rate)?)));
        let unoffered = events.iter().filter_map(|&(pt, rate)| {
            (offered_event_pt(rate).is_none() && offer.formats.iter().all(|(p, _)| *p != pt))
                .then_some((pt, rate, pt))
        });
        let telephone_event = pick_telephone_event(offered, |c| c.1, codec.clock_rate)
            .or_else(|| pick_telephone_event(unoffered, |c| c.1, codec.clock_rate))
            .map(|(pt, rate, ours)| TelephoneEvent {
                send_payload_type: pt,
                recv_payload_type: ours,
                clock_rate: rate,
                audio_clock_rate: codec.clock_rate,
            });

        let conn = effective_connection(answer, am)
            .ok_or_else(|| invalid("the answer's audio stream has no c= address".to_owned()))?;
        let ip = match &conn.address {
            Address::Ip(ip) => *ip,
            Address::Host(h) => return Err(SdpError::UnresolvedHost(h.clone())),
        };

        let mut direction = offer
            .direction
            .intersect(effective_direction(answer, am).reversed());
        if ip.is_unspecified() {
            direction = direction.intersect(Direction::RecvOnly);
        }

        let srtp = if offer.crypto.is_empty() {
            None
        } else {
            let lines = am.crypto();
            if lines.is_empty() {
                if offer.srtp_required {
                    return Err(invalid(
                        "our offer requires SRTP but the answer has no a=crypto".to_owned(),
                    ));
                }
                None
            } else {
                let (line, local) = lines
                    .iter()
                    .find_map(|l| {
                        offer
                            .crypto
                            .iter()
                            .find(|(tag, _)| *tag == l.tag)
                            .map(|(_, k)| (l, k))
                    })
                    .ok_or_else(|| {
                        invalid(format!(
                            "the answer's a=crypto tag {} is not one we offered",
                            lines.first().map_or(0, |l| l.tag)
                        ))
                    })?;
                if line.suite() != Some(local.suite()) {
                    return Err(invalid(format!(
                        "the answer's a=crypto tag {} names {:?}, our offer {}",
                        line.tag,
                        line.suite_name,
                        local.suite()
                    )));
                }
                let remote = line.usable_key().ok_or_else(|| {
                    invalid(format!(
                        "the answer's a=crypto tag {} has no usable key",
                        line.tag
                    ))
                })?;
                Some(SrtpParameters {
                    local: local.clone(),
                    remote,
                })
            }
        };

        let rtcp_mux = offer.rtcp_mux && am.has_flag("rtcp-mux");
        let remote_rtp = SocketAddr::new(ip, am.port);
        Ok(NegotiatedAudio {
            mline_index: offer.audio_index,
            local_rtp: self.local_rtp,
            local_rtcp: self.local_rtcp_addr(rtcp_mux),
            remote_rtp,
            remote_rtcp: remote_rtcp(am, remote_rtp, rtcp_mux),
            rtcp_mux,
            codec,
            recv_codecs,
            telephone_event,
            ptime: remote_ptime(answer, am, self.config.ptime),
            direction,
            srtp,
        })
    }

    /// Decide whether (and how) we take one offered stream.
    fn evaluate(
        &self,
        offer: &SessionDescription,
        m: &MediaDescription,
    ) -> Result<AcceptedStream, RejectReason> {
        if m.port == 0 {
            return Err(RejectReason::DisabledByOfferer);
        }
        if !m.media.eq_ignore_ascii_case("audio") {
            return Err(RejectReason::NotAudio(m.media.clone()));
        }
        let Some((secure, _)) = rtp_profile(&m.protocol) else {
            return Err(RejectReason::UnsupportedTransport(m.protocol.clone()));
        };
        let ip = match effective_connection(offer, m).map(|c| &c.address) {
            Some(Address::Ip(ip)) => *ip,
            // Host names were refused before; treat as missing here.
            _ => return Err(RejectReason::MissingConnection),
        };
        let (payload_type, codec) = m
            .payload_types()
            .find_map(|pt| match identify(m, pt) {
                Some(FormatKind::Codec(c)) if self.config.codecs.contains(&c) => Some((pt, c)),
                _ => None,
            })
            .ok_or(RejectReason::NoCommonCodec)?;
        let telephone_event = if self.config.telephone_event {
            pick_telephone_event(
                m.payload_types().filter_map(|pt| match identify(m, pt) {
                    Some(FormatKind::TelephoneEvent(rate)) => Some((pt, rate)),
                    _ => None,
                }),
                |c| c.1,
                codec.clock_rate(),
            )
        } else {
            None
        };
        let crypto = match self.config.srtp {
            SrtpPolicy::Disabled if secure => return Err(RejectReason::SrtpDisabled),
            SrtpPolicy::Disabled => None,
            policy => {
                let lines = m.crypto();
                // Our preference among the offered suites (not the offer's
                // order): keeps _32 last, see MediaConfig::crypto_suites.
                let chosen = self.crypto_preference().into_iter().find_map(|suite| {
                    lines.iter().find_map(|l| {
                        if l.suite() != Some(suite) {
                            return None;
                        }
                        l.usable_key().map(|k| (l.clone(), k))
                    })
                });
                match chosen {
                    Some(c) => Some(c),
                    None if secure => return Err(RejectReason::NoAcceptableCrypto),
                    None if policy == SrtpPolicy::Mandatory => {
                        return Err(if lines.is_empty() {
                            RejectReason::SrtpRequired
                        } else {
                            RejectReason::NoAcceptableCrypto
                        });
                    }
                    None => None,
                }
            }
        };
        Ok(AcceptedStream {
            codec,
            payload_type,
            telephone_event,
            crypto,
            ip,
        })
    }

    /// Answer an offer (initial or re-offer). Takes the first acceptable
    /// audio stream: the first codec of ours in the offerer's order, its
    /// payload type numbers, one telephone-event (at that codec's clock
    /// rate, else at 8000 Hz, else the first offered; its number and rate
    /// mirrored, see the module doc), direction per RFC 3264 §6.1 (and our hold), rtcp-mux if
    /// offered, one `a=crypto` (our preferred suite among those offered,
    /// the offer's tag, our key). Every other stream gets port 0, keeping
    /// the m-line count and order.
    ///
    /// Errors leave the session unchanged: [`SdpError::OfferPending`] (glare:
    /// answer 491), [`SdpError::UnresolvedHost`] (resolve and retry),
    /// [`SdpError::NoAcceptableMedia`] (the offer has active streams but
    /// none we take: answer 488).
    pub fn answer_offer(
        &mut self,
        offer: &SessionDescription,
        rng: &mut impl RngCore,
    ) -> Result<Answer, SdpError> {
        if self.pending.is_some() {
            return Err(SdpError::OfferPending);
        }
        for m in &offer.media {
            if m.media.eq_ignore_ascii_case("audio")
                && m.port != 0
                && let Some(Address::Host(h)) = effective_connection(offer, m).map(|c| &c.address)
            {
                return Err(SdpError::UnresolvedHost(h.clone()));
            }
        }

        let mut keys = if self.rekey_requested {
            Vec::new()
        } else {
            self.keys.clone()
        };
        let mut media = Vec::with_capacity(offer.media.len());
        let mut rejected = Vec::new();
        let mut audio: Option<NegotiatedAudio> = None;
        let mut first_reason: Option<RejectReason> = None;
        for (index, m) in offer.media.iter().enumerate() {
            let verdict = if audio.is_some() && m.port != 0 && m.media.eq_ignore_ascii_case("audio")
            {
                Err(RejectReason::AdditionalAudioStream)
            } else {
                self.evaluate(offer, m)
            };
            match verdict {
                Ok(acc) => {
                    let (section, negotiated) =
                        self.answer_stream(offer, m, index, acc, &mut keys, rng);
                    media.push(section);
                    audio = Some(negotiated);
                }
                Err(reason) => {
                    if m.port != 0 {
                        let better = m.media.eq_ignore_ascii_case("audio")
                            && first_reason
                                .as_ref()
                                .is_none_or(|r| matches!(r, RejectReason::NotAudio(_)));
                        if first_reason.is_none() || better {
                            first_reason = Some(reason.clone());
                        }
                    }
                    media.push(rejected_copy(m));
                    rejected.push(RejectedStream { index, reason });
                }
            }
        }
        if audio.is_none()
            && let Some(reason) = first_reason
        {
            return Err(SdpError::NoAcceptableMedia(reason));
        }

        let mut sdp = self.skeleton(media);
        self.stamp(&mut sdp, false);
        self.keys = keys;
        self.rekey_requested = false;
        self.local = Some(sdp.clone());
        self.remote = Some(offer.clone());
        self.answered_offer = None;
        self.negotiated = audio.clone();
        Ok(Answer {
            sdp,
            audio,
            rejected,
        })
    }

    fn answer_stream(
        &self,
        offer: &SessionDescription,
        m: &MediaDescription,
        index: usize,
        acc: AcceptedStream,
        keys: &mut Vec<SrtpKeyingMaterial>,
        rng: &mut impl RngCore,
    ) -> (MediaDescription, NegotiatedAudio) {
        let mut formats = vec![(acc.payload_type, FormatKind::Codec(acc.codec))];
        if let Some((pt, rate)) = acc.telephone_event {
            formats.push((pt, FormatKind::TelephoneEvent(rate)));
        }
        let mux = self.config.rtcp_mux && m.has_flag("rtcp-mux");
        let mut offered = effective_direction(offer, m);
        if acc.ip.is_unspecified() {
            // RFC 2543-style hold (c=0.0.0.0): the offerer will not receive.
            offered = offered.intersect(Direction::SendOnly);
        }
        let ours = if self.held {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        let direction = offered.reversed().intersect(ours);

        let mut section = MediaDescription::new(
            &m.media,
            self.local_rtp.port(),
            &m.protocol,
            formats.iter().map(|(pt, _)| pt.to_string()).collect(),
        );
        for (pt, kind) in &formats {
            self.push_format(&mut section.attributes, *pt, *kind);
        }
        self.push_transport_attributes(&mut section.attributes, mux);
        let srtp = acc.crypto.map(|(line, remote)| {
            let local = Self::key_for(keys, remote.suite(), rng);
            section
                .attributes
                .push(CryptoAttribute::new(line.tag, &local).to_attribute());
            SrtpParameters { local, remote }
        });
        section.attributes.push(direction.to_attribute());

        let codec = NegotiatedCodec {
            codec: acc.codec,
            send_payload_type: acc.payload_type,
            recv_payload_type: acc.payload_type,
            clock_rate: acc.codec.clock_rate(),
            channels: acc.codec.channels(),
            remote_fmtp: m.fmtp(acc.payload_type).unwrap_or_default(),
        };
        let remote_rtp = SocketAddr::new(acc.ip, m.port);
        let negotiated = NegotiatedAudio {
            mline_index: index,
            local_rtp: self.local_rtp,
            local_rtcp: self.local_rtcp_addr(mux),
            remote_rtp,
            remote_rtcp: remote_rtcp(m, remote_rtp, mux),
            rtcp_mux: mux,
            codec: codec.clone(),
            recv_codecs: vec![codec],
            telephone_event: acc.telephone_event.map(|(pt, rate)| TelephoneEvent {
                send_payload_type: pt,
                recv_payload_type: pt,
                clock_rate: rate,
                audio_clock_rate: acc.codec.clock_rate(),
            }),
            ptime: remote_ptime(offer, m, self.config.ptime),
            direction,
            srtp,
        };
        (section, negotiated)
    }
}
