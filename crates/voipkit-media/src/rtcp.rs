//! RTCP (RFC 3550 §6): a validating zero-copy reader for compound packets,
//! compound packet building (SR/RR, SDES CNAME, BYE) with the `rtcp`
//! crate's marshalling, and the transmission interval of RFC 3550 §6.2,
//! §6.3 and Appendix A.7.
//!
//! Why our own reader: `rtcp::unmarshal` boxes every sub-packet and every
//! report list, and throws the whole compound away on one quirk. Ours
//! borrows the datagram, validates the compound as RFC 3550 A.2 asks
//! (version, lengths that add up exactly, padding only in the last
//! packet, report counts that fit) and allocates nothing. The writer side
//! uses the `rtcp` crate, which marshals correctly; tests cross-check the
//! two.

use std::time::Duration;

use rtcp::goodbye::Goodbye;
use rtcp::receiver_report::ReceiverReport as RtcpReceiverReport;
use rtcp::reception_report::ReceptionReport;
use rtcp::sender_report::SenderReport as RtcpSenderReport;
use rtcp::source_description::{
    SdesType, SourceDescription as RtcpSdes, SourceDescriptionChunk, SourceDescriptionItem,
};
use webrtc_util::marshal::{Marshal, MarshalSize};

use crate::error::{DropReason, MediaError};
use crate::wire;

/// RTCP packet type: sender report.
pub const PT_SR: u8 = 200;
/// RTCP packet type: receiver report.
pub const PT_RR: u8 = 201;
/// RTCP packet type: source description.
pub const PT_SDES: u8 = 202;
/// RTCP packet type: goodbye.
pub const PT_BYE: u8 = 203;
/// RTCP packet type: application-defined.
pub const PT_APP: u8 = 204;

const REPORT_BLOCK_LEN: usize = 24;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed: duplicates make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_sequence: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> Option<Self> {
        let lost_word = wire::u32_at(b, 4)?;
        let cum = (lost_word & 0x00ff_ffff) as i32;
        let cumulative_lost = if cum & 0x0080_0000 != 0 {
            cum - 0x0100_0000
        } else {
            cum
        };
        Some(Self {
            ssrc: wire::u32_at(b, 0)?,
            fraction_lost: (lost_word >> 24) as u8,
            cumulative_lost,
            extended_highest_sequence: wire::u32_at(b, 8)?,
            jitter: wire::u32_at(b, 12)?,
            last_sr: wire::u32_at(b, 16)?,
            delay_since_last_sr: wire::u32_at(b, 20)?,
        })
    }

    fn to_reception_report(self) -> ReceptionReport {
        ReceptionReport {
            ssrc: self.ssrc,
            fraction_lost: self.fraction_lost,
            total_lost: (self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff,
            last_sequence_number: self.extended_highest_sequence,
            jitter: self.jitter,
            last_sender_report: self.last_sr,
            delay: self.delay_since_last_sr,
        }
    }
}

/// Report blocks of an SR or RR.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    rest: &'a [u8],
    remaining: u8,
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        if self.remaining == 0 {
            return None;
        }
        let block = ReportBlock::read(self.rest)?;
        self.rest = self.rest.get(REPORT_BLOCK_LEN..).unwrap_or_default();
        self.remaining -= 1;
        Some(block)
    }
}

/// A sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// Sender's SSRC.
    pub ssrc: u32,
    /// NTP timestamp (64-bit fixed point, seconds since 1900).
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to the NTP timestamp.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
    blocks: &'a [u8],
    count: u8,
}

impl<'a> SenderReport<'a> {
    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks {
            rest: self.blocks,
            remaining: self.count,
        }
    }
}

/// A receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// Reporter's SSRC.
    pub ssrc: u32,
    blocks: &'a [u8],
    count: u8,
}

impl<'a> ReceiverReport<'a> {
    /// The reception report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks {
            rest: self.blocks,
            remaining: self.count,
        }
    }
}

/// A source description packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    body: &'a [u8],
    count: u8,
}

impl<'a> SourceDescription<'a> {
    /// The CNAME given for `ssrc`, if any (stops at the first malformed chunk).
    pub fn cname(&self, ssrc: u32) -> Option<&'a [u8]> {
        self.items()
            .find(|(s, t, _)| *s == ssrc && *t == 1)
            .map(|(_, _, v)| v)
    }

    /// Every (ssrc, item type, value) in the packet.
    pub fn items(&self) -> impl Iterator<Item = (u32, u8, &'a [u8])> + 'a {
        SdesItems {
            rest: self.body,
            chunks_left: self.count,
            current: None,
        }
    }
}

struct SdesItems<'a> {
    rest: &'a [u8],
    chunks_left: u8,
    current: Option<(u32, usize)>, // ssrc, offset of the chunk start
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = (u32, u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (ssrc, chunk_start) = match self.current {
                Some(c) => c,
                None => {
                    if self.chunks_left == 0 {
                        return None;
                    }
                    self.chunks_left -= 1;
                    let ssrc = wire::u32_at(self.rest, 0)?;
                    self.rest = self.rest.get(4..)?;
                    self.current = Some((ssrc, 4));
                    (ssrc, 4)
                }
            };
            let item_type = *self.rest.first()?;
            if item_type == 0 {
                // End of chunk: skip the null and pad to a 32-bit boundary.
                let consumed = chunk_start + 1;
                let pad = (4 - consumed % 4) % 4;
                self.rest = self.rest.get(1 + pad..)?;
                self.current = None;
                continue;
            }
            let len = usize::from(*self.rest.get(1)?);
            let value = self.rest.get(2..2 + len)?;
            self.rest = self.rest.get(2 + len..)?;
            self.current = Some((ssrc, chunk_start + 2 + len));
            return Some((ssrc, item_type, value));
        }
    }
}

/// A goodbye packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    sources: &'a [u8],
    count: u8,
    /// The reason text, if given.
    pub reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The SSRCs leaving.
    pub fn sources(&self) -> impl Iterator<Item = u32> + 'a {
        let s = self.sources;
        (0..usize::from(self.count)).filter_map(move |i| wire::u32_at(s, 4 * i))
    }
}

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// SR.
    SenderReport(SenderReport<'a>),
    /// RR.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES.
    SourceDescription(SourceDescription<'a>),
    /// BYE.
    Bye(Bye<'a>),
    /// Any other type (APP, feedback, XR, ...): type, count field, body
    /// after the 4-byte header (padding removed).
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count/format field.
        count: u8,
        /// Body after the common header.
        body: &'a [u8],
    },
}

/// A validated compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpCompound<'a> {
    bytes: &'a [u8],
}

impl<'a> RtcpCompound<'a> {
    /// Validate a compound packet (RFC 3550 A.2, without insisting on SR/RR
    /// first so that reduced-size RTCP, RFC 5506, also passes).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MediaError> {
        if bytes.len() < 4 {
            return Err(DropReason::Truncated.into());
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let (_, len, padded) = header(rest)?;
            if padded && len != rest.len() {
                // Padding only in the last packet.
                return Err(DropReason::MalformedRtcp.into());
            }
            let pkt = rest.get(..len).ok_or(DropReason::MalformedRtcp)?;
            parse_one(pkt)?;
            rest = rest.get(len..).unwrap_or_default();
        }
        Ok(Self { bytes })
    }

    /// The packets, in order.
    pub fn packets(&self) -> impl Iterator<Item = RtcpPacket<'a>> + 'a {
        let mut rest = self.bytes;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (_, len, _) = header(rest).ok()?;
            let pkt = rest.get(..len)?;
            rest = rest.get(len..).unwrap_or_default();
            parse_one(pkt).ok()
        })
    }
}

/// (first byte, packet length in bytes, padding bit) of the packet at the
/// start of `b`, checked against `b`'s length.
fn header(b: &[u8]) -> Result<(u8, usize, bool), MediaError> {
    let b0 = wire::u8_at(b, 0).ok_or(DropReason::Truncated)?;
    if b0 >> 6 != 2 {
        return Err(DropReason::BadVersion.into());
    }
    let words = usize::from(wire::u16_at(b, 2).ok_or(DropReason::Truncated)?);
    let len = 4 * (words + 1);
    if len > b.len() {
        return Err(DropReason::MalformedRtcp.into());
    }
    Ok((b0, len, b0 & 0x20 != 0))
}

fn parse_one(pkt: &[u8]) -> Result<RtcpPacket<'_>, MediaError> {
    let bad = || MediaError::Dropped(DropReason::MalformedRtcp);
    let b0 = wire::u8_at(pkt, 0).ok_or_else(bad)?;
    let packet_type = wire::u8_at(pkt, 1).ok_or_else(bad)?;
    let count = b0 & 0x1f;
    let mut end = pkt.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(*pkt.last().ok_or_else(bad)?);
        if pad == 0 || pad + 4 > end {
            return Err(bad());
        }
        end -= pad;
    }
    let body = pkt.get(4..end).ok_or_else(bad)?;
    let blocks_len = usize::from(count) * REPORT_BLOCK_LEN;
    Ok(match packet_type {
        PT_SR => {
            if body.len() < 24 + blocks_len {
                return Err(bad());
            }
            RtcpPacket::SenderReport(SenderReport {
                ssrc: wire::u32_at(body, 0).ok_or_else(bad)?,
                ntp_timestamp: wire::u64_at(body, 4).ok_or_else(bad)?,
                rtp_timestamp: wire::u32_at(body, 12).ok_or_else(bad)?,
                packet_count: wire::u32_at(body, 16).ok_or_else(bad)?,
                octet_count: wire::u32_at(body, 20).ok_or_else(bad)?,
                blocks: body.get(24..24 + blocks_len).ok_or_else(bad)?,
                count,
            })
        }
        PT_RR => {
            if body.len() < 4 + blocks_len {
                return Err(bad());
            }
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: wire::u32_at(body, 0).ok_or_else(bad)?,
                blocks: body.get(4..4 + blocks_len).ok_or_else(bad)?,
                count,
            })
        }
        PT_SDES => RtcpPacket::SourceDescription(SourceDescription { body, count }),
        PT_BYE => {
            let n = 4 * usize::from(count);
            let sources = body.get(..n).ok_or_else(bad)?;
            let reason = match body.get(n) {
                Some(&l) => Some(body.get(n + 1..n + 1 + usize::from(l)).ok_or_else(bad)?),
                None => None,
            };
            RtcpPacket::Bye(Bye {
                sources,
                count,
                reason,
            })
        }
        _ => RtcpPacket::Other {
            packet_type,
            count,
            body,
        },
    })
}

/// Sender information for an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// NTP timestamp of the report.
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to it.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
}

/// Build a compound packet: SR (with `sender`) or RR, then SDES CNAME, then
/// BYE if `bye` is given; written into `out` (replacing its contents).
/// At most 31 report blocks are used.
pub fn build_compound(
    ssrc: u32,
    sender: Option<SenderInfo>,
    blocks: &[ReportBlock],
    cname: &str,
    bye: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let reports: Vec<ReceptionReport> = blocks
        .iter()
        .take(31)
        .map(|b| b.to_reception_report())
        .collect();
    out.clear();
    let err = |_| MediaError::Build("RTCP marshal failed");
    match sender {
        Some(s) => append(
            &RtcpSenderReport {
                ssrc,
                ntp_time: s.ntp_timestamp,
                rtp_time: s.rtp_timestamp,
                packet_count: s.packet_count,
                octet_count: s.octet_count,
                reports,
                profile_extensions: bytes::Bytes::new(),
            },
            out,
        )
        .map_err(err)?,
        None => append(
            &RtcpReceiverReport {
                ssrc,
                reports,
                profile_extensions: bytes::Bytes::new(),
            },
            out,
        )
        .map_err(err)?,
    }
    let cname = cname.get(..cname.len().min(255)).unwrap_or_default();
    append(
        &RtcpSdes {
            chunks: vec![SourceDescriptionChunk {
                source: ssrc,
                items: vec![SourceDescriptionItem {
                    sdes_type: SdesType::SdesCname,
                    text: bytes::Bytes::copy_from_slice(cname.as_bytes()),
                }],
            }],
        },
        out,
    )
    .map_err(err)?;
    if let Some(reason) = bye {
        let reason = reason.get(..reason.len().min(255)).unwrap_or_default();
        append(
            &Goodbye {
                sources: vec![ssrc],
                reason: bytes::Bytes::copy_from_slice(reason.as_bytes()),
            },
            out,
        )
        .map_err(err)?;
    }
    Ok(())
}

fn append<P: Marshal + MarshalSize>(p: &P, out: &mut Vec<u8>) -> Result<(), webrtc_util::Error> {
    let start = out.len();
    out.resize(start + p.marshal_size(), 0);
    let slot = out.get_mut(start..).unwrap_or_default();
    let n = p.marshal_to(slot)?;
    out.truncate(start + n);
    Ok(())
}

/// Inputs of the RTCP transmission interval (RFC 3550 §6.3.1, A.7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalInputs {
    /// Session members (including us).
    pub members: u32,
    /// Members that sent RTP recently (including us if `we_sent`).
    pub senders: u32,
    /// RTCP bandwidth in octets per second (5% of the session bandwidth).
    pub rtcp_bandwidth: f64,
    /// Whether we sent RTP since the second-to-last report.
    pub we_sent: bool,
    /// Average compound RTCP packet size in octets, with UDP/IP headers.
    pub avg_rtcp_size: f64,
    /// No RTCP sent yet.
    pub initial: bool,
    /// Minimum interval (5 s, or RFC 3550 §6.2's reduced minimum
    /// 360 / session kbit/s).
    pub minimum: Duration,
}

/// The randomised RTCP interval of RFC 3550 A.7, with `uniform` a sample of
/// U(0, 1) (drawn by the caller from its seeded RNG).
pub fn rtcp_interval(i: IntervalInputs, uniform: f64) -> Duration {
    // e - 3/2: compensates for timer reconsideration converging low.
    const COMPENSATION: f64 = std::f64::consts::E - 1.5;
    let mut t_min = i.minimum.as_secs_f64();
    if i.initial {
        t_min /= 2.0;
    }
    let mut n = f64::from(i.members.max(1));
    let mut bw = i.rtcp_bandwidth.max(1.0);
    let senders = f64::from(i.senders);
    if senders <= n * 0.25 {
        if i.we_sent {
            bw *= 0.25;
            n = senders.max(1.0);
        } else {
            bw *= 0.75;
            n = (n - senders).max(1.0);
        }
    }
    let t = (i.avg_rtcp_size * n / bw).max(t_min);
    let t = t * (uniform.clamp(0.0, 1.0) + 0.5) / COMPENSATION;
    Duration::from_secs_f64(t)
}

/// RFC 3550 §6.2 reduced minimum interval for `session_bandwidth` bits/s.
pub fn reduced_minimum(session_bandwidth: u32) -> Duration {
    let kbps = f64::from(session_bandwidth.max(1)) / 1000.0;
    Duration::from_secs_f64(360.0 / kbps)
}

/// The middle 32 bits of an NTP timestamp (as carried in LSR).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration as 1/65536 s units (as in DLSR), saturating.
pub fn to_dlsr_units(d: Duration) -> u32 {
    let v = d.as_secs_f64() * 65536.0;
    if v >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        v as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webrtc_util::marshal::Unmarshal;

    fn sample_blocks() -> Vec<ReportBlock> {
        vec![
            ReportBlock {
                ssrc: 0xabcd,
                fraction_lost: 13,
                cumulative_lost: -3,
                extended_highest_sequence: 70_000,
                jitter: 107,
                last_sr: 0x1234_5678,
                delay_since_last_sr: 65536,
            },
            ReportBlock {
                ssrc: 2,
                cumulative_lost: 0x7f_ffff,
                ..Default::default()
            },
        ]
    }

    #[test]
    fn build_sr_sdes_bye_and_read_back() {
        let mut out = Vec::new();
        let sender = SenderInfo {
            ntp_timestamp: 0xdead_beef_0000_1111,
            rtp_timestamp: 160,
            packet_count: 3,
            octet_count: 480,
        };
        build_compound(
            77,
            Some(sender),
            &sample_blocks(),
            "user@example",
            Some("bye now"),
            &mut out,
        )
        .unwrap();
        let c = RtcpCompound::parse(&out).unwrap();
        let p: Vec<_> = c.packets().collect();
        assert_eq!(p.len(), 3);
        let RtcpPacket::SenderReport(sr) = p[0] else {
            panic!()
        };
        assert_eq!(sr.ssrc, 77);
        assert_eq!(sr.ntp_timestamp, sender.ntp_timestamp);
        assert_eq!(sr.report_blocks().collect::<Vec<_>>(), sample_blocks());
        let RtcpPacket::SourceDescription(sdes) = p[1] else {
            panic!()
        };
        assert_eq!(sdes.cname(77), Some(&b"user@example"[..]));
        let RtcpPacket::Bye(bye) = p[2] else { panic!() };
        assert_eq!(bye.sources().collect::<Vec<_>>(), vec![77]);
        assert_eq!(bye.reason, Some(&b"bye now"[..]));

        // Cross-check with the rtcp crate's reader.
        let mut buf = bytes::Bytes::copy_from_slice(&out);
        let theirs = rtcp::packet::unmarshal(&mut buf).unwrap();
        assert_eq!(theirs.len(), 3);
        let sr2 = theirs[0]
            .as_any()
            .downcast_ref::<rtcp::sender_report::SenderReport>()
            .unwrap();
        assert_eq!(sr2.reports[0].total_lost, 0xff_fffd);
        assert_eq!(sr2.reports[0].jitter, 107);
    }

    #[test]
    fn rr_round_trip_against_rtcp_crate() {
        let rr = RtcpReceiverReport {
            ssrc: 9,
            reports: sample_blocks()
                .into_iter()
                .map(|b| b.to_reception_report())
                .collect(),
            profile_extensions: bytes::Bytes::new(),
        };
        let bytes = rr.marshal().unwrap();
        let c = RtcpCompound::parse(&bytes).unwrap();
        let Some(RtcpPacket::ReceiverReport(r)) = c.packets().next() else {
            panic!()
        };
        assert_eq!(r.ssrc, 9);
        assert_eq!(r.report_blocks().collect::<Vec<_>>(), sample_blocks());
        let mut b = bytes.clone();
        let _ = RtcpReceiverReport::unmarshal(&mut b).unwrap();
    }

    #[test]
    fn invalid_compounds_are_rejected() {
        let mut out = Vec::new();
        build_compound(1, None, &[], "x", None, &mut out).unwrap();
        assert!(RtcpCompound::parse(&out).is_ok());
        // Length one word too long / short overall.
        for cut in 1..out.len() {
            // 8 is the end of the RR: a valid compound on its own.
            assert_eq!(
                RtcpCompound::parse(&out[..cut]).is_ok(),
                cut == 8,
                "cut {cut}"
            );
        }
        let mut bad = out.clone();
        bad[0] = (bad[0] & 0x3f) | 0x40;
        assert!(RtcpCompound::parse(&bad).is_err());
        // Padding in a packet that is not last.
        let mut bad = out.clone();
        bad[0] |= 0x20;
        assert!(RtcpCompound::parse(&bad).is_err());
        // RR claiming more blocks than it has.
        let mut bad = out.clone();
        bad[0] |= 0x03;
        assert!(RtcpCompound::parse(&bad).is_err());
        // Trailing garbage.
        let mut bad = out.clone();
        bad.push(0);
        assert!(RtcpCompound::parse(&bad).is_err());
    }

    #[test]
    fn interval_matches_rfc_3550() {
        let base = IntervalInputs {
            members: 2,
            senders: 2,
            rtcp_bandwidth: 400.0,
            we_sent: true,
            avg_rtcp_size: 100.0,
            initial: false,
            minimum: Duration::from_secs(5),
        };
        // Tmin dominates; randomised over [0.5, 1.5] * 5 s / 1.21828.
        let lo = rtcp_interval(base, 0.0).as_secs_f64();
        let hi = rtcp_interval(base, 1.0).as_secs_f64();
        assert!((lo - 2.052).abs() < 0.01, "{lo}");
        assert!((hi - 6.157).abs() < 0.01, "{hi}");
        let first = rtcp_interval(
            IntervalInputs {
                initial: true,
                ..base
            },
            0.5,
        );
        assert!((first.as_secs_f64() - 2.052).abs() < 0.01);
        // Many members: bandwidth term dominates.
        let big = rtcp_interval(
            IntervalInputs {
                members: 1000,
                senders: 1,
                we_sent: false,
                ..base
            },
            0.5,
        );
        // 100 * 999 / 300 = 333 s, / 1.21828
        assert!((big.as_secs_f64() - 273.3).abs() < 1.0, "{big:?}");
        assert!((reduced_minimum(360_000).as_secs_f64() - 1.0).abs() < 1e-9);
    }
}
