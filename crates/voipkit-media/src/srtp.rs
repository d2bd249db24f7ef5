//! SRTP and SRTCP (RFC 3711, RFC 7714) behind a wrapper around
//! `webrtc-srtp`, keyed by SDES material ([`SrtpKeyingMaterial`]).
//!
//! Why a wrapper: `webrtc-srtp` 0.17 does the cryptography right (libsrtp's
//! reference vectors pass byte-exact) but around it:
//! - it panics on short SRTCP input and (through `rtp`'s header parser) on
//!   an RFC 8285 extension element that runs past the packet: we check every
//!   length before handing a packet over;
//! - with AES-CM it returns an SRTCP packet whose E flag is 0 without
//!   checking its tag: we drop E=0 packets (we never negotiate unencrypted
//!   SRTCP);
//! - its replay window is updated by a packet that then FAILS
//!   authentication (a forged first packet blocks the real stream): we keep
//!   its replay protection off and run our own RFC 3711 §3.3.2 window
//!   ([`ReplayWindow`], 128 packets), updated only after a packet
//!   authenticated, for SRTP per SSRC (48-bit index, RFC 3711 Appendix A
//!   ROC estimation) and for SRTCP per SSRC (31-bit index);
//! - it creates per-SSRC state for every SSRC it is shown, before
//!   authenticating: unknown SSRCs are tried in a disposable "probe"
//!   context that is thrown away after a bounded number of SSRCs, so
//!   forged packets with random SSRCs cannot grow memory;
//! - it allocates its output; we copy into the caller's reusable buffer.

use std::fmt;

use voipkit_sdp::{CryptoSuite, SrtpKeyingMaterial};
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

use crate::error::{DropReason, MediaError};
use crate::rtp::{ClearHeader, RTP_HEADER_LEN};
use crate::wire;

/// Replay window size in packets (RFC 3711 asks for at least 64).
pub const REPLAY_WINDOW: u64 = 128;
/// Remote SSRCs with their own SRTP receive state (LRU beyond that).
const MAX_RTP_STREAMS: usize = 4;
/// Unknown SSRCs tried in one probe context before it is replaced.
const MAX_PROBE_SSRCS: usize = 32;
/// SSRCs shown to the SRTCP receive context before it is replaced.
const MAX_RTCP_CONTEXT_SSRCS: usize = 16;
/// SRTCP replay windows kept (one per sending SSRC).
const MAX_RTCP_WINDOWS: usize = 4;
/// SRTCP index field (E flag + 31-bit index).
const SRTCP_INDEX_LEN: usize = 4;
/// RTCP header and sender SSRC, always in the clear.
const RTCP_CLEAR_LEN: usize = 8;

fn profile(suite: CryptoSuite) -> Result<ProtectionProfile, MediaError> {
    match suite {
        CryptoSuite::AesCm128HmacSha1_80 => Ok(ProtectionProfile::Aes128CmHmacSha1_80),
        CryptoSuite::AesCm128HmacSha1_32 => Ok(ProtectionProfile::Aes128CmHmacSha1_32),
        CryptoSuite::AeadAes128Gcm => Ok(ProtectionProfile::AeadAes128Gcm),
        CryptoSuite::AeadAes256Gcm => Ok(ProtectionProfile::AeadAes256Gcm),
        _ => Err(MediaError::SrtpSetup("unsupported crypto suite")),
    }
}

fn is_aead(suite: CryptoSuite) -> bool {
    matches!(
        suite,
        CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm
    )
}

/// Bytes SRTP adds to an RTP packet for `suite` (the authentication tag).
pub fn srtp_overhead(suite: CryptoSuite) -> usize {
    match suite {
        CryptoSuite::AesCm128HmacSha1_32 => 4,
        CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => 16,
        _ => 10,
    }
}

/// Bytes SRTCP adds to an RTCP packet for `suite` (index and tag).
pub fn srtcp_overhead(suite: CryptoSuite) -> usize {
    SRTCP_INDEX_LEN + if is_aead(suite) { 16 } else { 10 }
}

fn new_context(key: &SrtpKeyingMaterial) -> Result<Context, MediaError> {
    Context::new(
        key.master_key(),
        key.master_salt(),
        profile(key.suite())?,
        None,
        None,
    )
    .map_err(|_| MediaError::SrtpSetup("key or salt length does not fit the suite"))
}

/// The RTP header length implied by the clear header fields, checked the
/// way `rtp`'s parser will walk it (RFC 8285 elements must stay inside the
/// extension block). `None` if the header is inconsistent.
fn checked_rtp_header_len(pkt: &[u8]) -> Option<usize> {
    let b0 = wire::u8_at(pkt, 0)?;
    let cc = usize::from(b0 & 0x0f);
    let mut len = RTP_HEADER_LEN + 4 * cc;
    if len > pkt.len() {
        return None;
    }
    if b0 & 0x10 != 0 {
        let profile = wire::u16_at(pkt, len)?;
        let words = usize::from(wire::u16_at(pkt, len + 2)?);
        let start = len + 4;
        let end = start + 4 * words;
        if end > pkt.len() {
            return None;
        }
        let block = pkt.get(start..end)?;
        let mut off = 0usize;
        match profile {
            0xBEDE => {
                while off < block.len() {
                    let b = *block.get(off)?;
                    if b == 0 {
                        off += 1;
                        continue;
                    }
                    if b >> 4 == 15 {
                        return None;
                    }
                    off += 1 + usize::from(b & 0x0f) + 1;
                    if off > block.len() {
                        return None;
                    }
                }
            }
            0x1000 => {
                while off < block.len() {
                    let b = *block.get(off)?;
                    if b == 0 {
                        off += 1;
                        continue;
                    }
                    let l = usize::from(*block.get(off + 1)?);
                    off += 2 + l;
                    if off > block.len() {
                        return None;
                    }
                }
            }
            _ => {}
        }
        len = end;
    }
    Some(len)
}

/// An RFC 3711 §3.3.2 sliding replay window over packet indices.
///
/// [`ReplayWindow::check`] before authenticating, [`ReplayWindow::update`]
/// only after the packet authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    highest: Option<u64>,
    /// bit i set: index `highest - i` was received.
    bitmap: u128,
}

impl ReplayWindow {
    /// Whether `index` may be accepted: `Err(DropReason::Replayed)` if it
    /// was already received or is older than the window.
    pub fn check(&self, index: u64) -> Result<(), DropReason> {
        let Some(h) = self.highest else {
            return Ok(());
        };
        if index > h {
            return Ok(());
        }
        let delta = h - index;
        if delta >= REPLAY_WINDOW {
            return Err(DropReason::Replayed);
        }
        if self.bitmap & (1u128 << delta) != 0 {
            return Err(DropReason::Replayed);
        }
        Ok(())
    }

    /// Record `index` as received (after it authenticated).
    pub fn update(&mut self, index: u64) {
        match self.highest {
            None => {
                self.highest = Some(index);
                self.bitmap = 1;
            }
            Some(h) if index > h => {
                let shift = index - h;
                self.bitmap = if shift >= REPLAY_WINDOW {
                    0
                } else {
                    self.bitmap << shift
                };
                self.bitmap |= 1;
                self.highest = Some(index);
            }
            Some(h) => {
                let delta = h - index;
                if delta < REPLAY_WINDOW {
                    self.bitmap |= 1u128 << delta;
                }
            }
        }
    }

    /// The highest index received.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

/// Protects our outgoing RTP and RTCP with our master key.
pub struct SrtpSender {
    ctx: Context,
    suite: CryptoSuite,
}

impl fmt::Debug for SrtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpSender")
            .field("suite", &self.suite)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SrtpSender {
    /// A sender keyed with our `a=crypto` material.
    pub fn new(key: &SrtpKeyingMaterial) -> Result<Self, MediaError> {
        Ok(Self {
            ctx: new_context(key)?,
            suite: key.suite(),
        })
    }

    /// The crypto suite.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// Protect an RTP packet into `out` (replacing its contents).
    pub fn protect_rtp(&mut self, rtp: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        if checked_rtp_header_len(rtp).is_none() {
            return Err(MediaError::Build("not an RTP packet"));
        }
        let protected = self
            .ctx
            .encrypt_rtp(rtp)
            .map_err(|_| MediaError::SrtpProtect)?;
        out.clear();
        out.extend_from_slice(&protected);
        Ok(())
    }

    /// Protect an RTCP (compound) packet into `out`.
    pub fn protect_rtcp(&mut self, rtcp: &[u8], out: &mut Vec<u8>) -> Result<(), MediaError> {
        if rtcp.len() < RTCP_CLEAR_LEN || wire::u8_at(rtcp, 0).is_none_or(|b| b >> 6 != 2) {
            return Err(MediaError::Build("not an RTCP packet"));
        }
        let protected = self
            .ctx
            .encrypt_rtcp(rtcp)
            .map_err(|_| MediaError::SrtpProtect)?;
        out.clear();
        out.extend_from_slice(&protected);
        Ok(())
    }
}

struct RtpStream {
    ssrc: u32,
    ctx: Context,
    window: ReplayWindow,
    /// RFC 3711 Appendix A: ROC and highest sequence number s_l.
    roc: u32,
    s_l: u16,
    last_used: u64,
}

impl RtpStream {
    /// RFC 3711 Appendix A index estimate for `seq`.
    fn estimate_index(&self, seq: u16) -> u64 {
        let v = if self.s_l < 0x8000 {
            if i32::from(seq) - i32::from(self.s_l) > 0x8000 {
                self.roc.saturating_sub(1)
            } else {
                self.roc
            }
        } else if i32::from(self.s_l) - 0x8000 > i32::from(seq) {
            self.roc.wrapping_add(1)
        } else {
            self.roc
        };
        (u64::from(v) << 16) | u64::from(seq)
    }

    fn accept(&mut self, index: u64) {
        self.window.update(index);
        let highest = (u64::from(self.roc) << 16) | u64::from(self.s_l);
        if index > highest {
            self.roc = (index >> 16) as u32;
            self.s_l = index as u16;
        }
    }
}

struct Probe {
    ctx: Context,
    ssrcs: Vec<u32>,
}

/// Authenticates and decrypts the peer's SRTP and SRTCP with the peer's
/// master key, with our own replay protection.
pub struct SrtpReceiver {
    key: SrtpKeyingMaterial,
    streams: Vec<RtpStream>,
    probe: Option<Probe>,
    rtcp_ctx: Context,
    rtcp_ctx_ssrcs: Vec<u32>,
    rtcp_windows: Vec<(u32, ReplayWindow, u64)>,
    tick: u64,
}

impl fmt::Debug for SrtpReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpReceiver")
            .field("suite", &self.key.suite())
            .field("key", &"<redacted>")
            .field("streams", &self.streams.len())
            .finish()
    }
}

impl SrtpReceiver {
    /// A receiver keyed with the peer's `a=crypto` material.
    pub fn new(key: &SrtpKeyingMaterial) -> Result<Self, MediaError> {
        Ok(Self {
            key: key.clone(),
            streams: Vec::with_capacity(MAX_RTP_STREAMS),
            probe: None,
            rtcp_ctx: new_context(key)?,
            rtcp_ctx_ssrcs: Vec::with_capacity(MAX_RTCP_CONTEXT_SSRCS),
            rtcp_windows: Vec::with_capacity(MAX_RTCP_WINDOWS),
            tick: 0,
        })
    }

    /// The crypto suite.
    pub fn suite(&self) -> CryptoSuite {
        self.key.suite()
    }

    /// Authenticate, replay-check and decrypt an SRTP packet into `out`
    /// (the plain RTP packet, replacing `out`'s contents). On error nothing
    /// changes except counters the caller keeps.
    pub fn unprotect_rtp(&mut self, srtp: &[u8], out: &mut Vec<u8>) -> Result<(), DropReason> {
        let hdr = ClearHeader::read(srtp)?;
        let header_len = checked_rtp_header_len(srtp).ok_or(DropReason::MalformedRtp)?;
        let tag = srtp_overhead(self.key.suite());
        if srtp.len() < header_len + tag {
            return Err(DropReason::Truncated);
        }
        self.tick += 1;
        let tick = self.tick;
        if let Some(stream) = self.streams.iter_mut().find(|s| s.ssrc == hdr.ssrc) {
            let index = stream.estimate_index(hdr.sequence_number);
            stream.window.check(index)?;
            let plain = stream
                .ctx
                .decrypt_rtp(srtp)
                .map_err(|_| DropReason::AuthenticationFailed)?;
            stream.accept(index);
            stream.last_used = tick;
            out.clear();
            out.extend_from_slice(&plain);
            return Ok(());
        }
        // Unknown SSRC: try it in the probe context.
        let probe = match self.probe.take() {
            Some(p) if p.ssrcs.len() < MAX_PROBE_SSRCS || p.ssrcs.contains(&hdr.ssrc) => p,
            _ => Probe {
                ctx: new_context(&self.key).map_err(|_| DropReason::AuthenticationFailed)?,
                ssrcs: Vec::with_capacity(MAX_PROBE_SSRCS),
            },
        };
        let mut probe = probe;
        if !probe.ssrcs.contains(&hdr.ssrc) {
            probe.ssrcs.push(hdr.ssrc);
        }
        match probe.ctx.decrypt_rtp(srtp) {
            Err(_) => {
                self.probe = Some(probe);
                Err(DropReason::AuthenticationFailed)
            }
            Ok(plain) => {
                let index = u64::from(hdr.sequence_number);
                let mut stream = RtpStream {
                    ssrc: hdr.ssrc,
                    ctx: probe.ctx,
                    window: ReplayWindow::default(),
                    roc: 0,
                    s_l: hdr.sequence_number,
                    last_used: tick,
                };
                stream.window.update(index);
                if self.streams.len() >= MAX_RTP_STREAMS
                    && let Some(lru) = self
                        .streams
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_used)
                        .map(|(i, _)| i)
                {
                    self.streams.swap_remove(lru);
                }
                self.streams.push(stream);
                out.clear();
                out.extend_from_slice(&plain);
                Ok(())
            }
        }
    }

    /// Check the E flag and index, replay-check, authenticate and decrypt an
    /// SRTCP packet into `out` (the plain RTCP compound packet).
    pub fn unprotect_rtcp(&mut self, srtcp: &[u8], out: &mut Vec<u8>) -> Result<(), DropReason> {
        let suite = self.key.suite();
        let min = RTCP_CLEAR_LEN + srtcp_overhead(suite);
        if srtcp.len() < min {
            return Err(DropReason::Truncated);
        }
        if wire::u8_at(srtcp, 0).is_none_or(|b| b >> 6 != 2) {
            return Err(DropReason::BadVersion);
        }
        let index_at = if is_aead(suite) {
            srtcp.len() - SRTCP_INDEX_LEN
        } else {
            srtcp.len() - SRTCP_INDEX_LEN - 10
        };
        let e_index = wire::u32_at(srtcp, index_at).ok_or(DropReason::Truncated)?;
        if e_index & 0x8000_0000 == 0 {
            return Err(DropReason::UnencryptedSrtcp);
        }
        let index = u64::from(e_index & 0x7fff_ffff);
        let ssrc = wire::u32_at(srtcp, 4).ok_or(DropReason::Truncated)?;
        if let Some((_, w, _)) = self.rtcp_windows.iter().find(|(s, _, _)| *s == ssrc) {
            w.check(index)?;
        }
        if !self.rtcp_ctx_ssrcs.contains(&ssrc) {
            if self.rtcp_ctx_ssrcs.len() >= MAX_RTCP_CONTEXT_SSRCS {
                // The context's per-SSRC state is unused for decryption
                // (the index is in the packet): replacing it loses nothing.
                self.rtcp_ctx =
                    new_context(&self.key).map_err(|_| DropReason::AuthenticationFailed)?;
                self.rtcp_ctx_ssrcs.clear();
            }
            self.rtcp_ctx_ssrcs.push(ssrc);
        }
        let plain = self
            .rtcp_ctx
            .decrypt_rtcp(srtcp)
            .map_err(|_| DropReason::AuthenticationFailed)?;
        self.tick += 1;
        let tick = self.tick;
        match self.rtcp_windows.iter_mut().find(|(s, _, _)| *s == ssrc) {
            Some((_, w, used)) => {
                w.update(index);
                *used = tick;
            }
            None => {
                if self.rtcp_windows.len() >= MAX_RTCP_WINDOWS
                    && let Some(lru) = self
                        .rtcp_windows
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, (_, _, used))| *used)
                        .map(|(i, _)| i)
                {
                    self.rtcp_windows.swap_remove(lru);
                }
                let mut w = ReplayWindow::default();
                w.update(index);
                self.rtcp_windows.push((ssrc, w, tick));
            }
        }
        out.clear();
        out.extend_from_slice(&plain);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window_basics() {
        let mut w = ReplayWindow::default();
        assert!(w.check(1000).is_ok());
        w.update(1000);
        assert_eq!(w.check(1000), Err(DropReason::Replayed));
        assert!(w.check(999).is_ok());
        w.update(999);
        assert_eq!(w.check(999), Err(DropReason::Replayed));
        w.update(1200);
        assert_eq!(w.check(1000), Err(DropReason::Replayed)); // too old now
        assert!(w.check(1199).is_ok());
        assert!(w.check(1073).is_ok());
        assert_eq!(w.check(1072), Err(DropReason::Replayed));
        w.update(1199);
        assert_eq!(w.check(1199), Err(DropReason::Replayed));
        w.update(100_000);
        assert!(w.check(99_999).is_ok());
        assert_eq!(w.check(1200), Err(DropReason::Replayed));
    }

    #[test]
    fn header_len_checks_rfc8285_elements() {
        let mut p = vec![0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x12, 1, 2, 3]);
        assert_eq!(checked_rtp_header_len(&p), Some(20));
        // Element longer than the block (len 0xf+1 = 16).
        p[16] = 0x1f;
        assert_eq!(checked_rtp_header_len(&p), None);
        p[16] = 0xf0; // reserved id 15
        assert_eq!(checked_rtp_header_len(&p), None);
        // Two-byte profile.
        let mut q = vec![0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(&[0x10, 0x00, 0, 1, 5, 2, 9, 9]);
        assert_eq!(checked_rtp_header_len(&q), Some(20));
        q[17] = 3;
        assert_eq!(checked_rtp_header_len(&q), None);
        // Extension block past the end.
        let r = [0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9];
        assert_eq!(checked_rtp_header_len(&r), None);
    }
}
