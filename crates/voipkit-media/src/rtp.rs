//! RTP packets (RFC 3550 §5): parsing with `rtp-rs` and building into a
//! caller's buffer.
//!
//! Parsing tolerates everything RFC 3550 allows on the wire: CSRC lists,
//! one header extension block (RFC 3550 §5.3.1; RFC 8285 elements are left
//! to whoever wants them), and padding. The parsed view borrows the
//! datagram; nothing is allocated.

use rtp_rs::{RtpPacketBuilder, RtpReader, RtpReaderError, Seq};

use crate::error::{DropReason, MediaError};
use crate::wire;

/// The smallest RTP header.
pub const RTP_HEADER_LEN: usize = 12;

/// A parsed RTP packet, borrowing the datagram it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Synchronization source.
    pub ssrc: u32,
    /// Sequence number.
    pub sequence_number: u16,
    /// Media timestamp (units of the payload's clock rate).
    pub timestamp: u32,
    /// Marker bit (start of a talk spurt for audio, RFC 3551 §4.1).
    pub marker: bool,
    /// Payload type (0..=127).
    pub payload_type: u8,
    /// Number of CSRCs in the header.
    pub csrc_count: u8,
    /// Header extension block: profile-defined id and data, if present.
    pub extension: Option<(u16, &'a [u8])>,
    /// Number of padding octets removed from the end (0 if none).
    pub padding: u8,
    /// The payload (padding removed).
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parse an RTP packet. Errors say which [`DropReason`] applies.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MediaError> {
        let reader = RtpReader::new(bytes).map_err(|e| match e {
            RtpReaderError::BufferTooShort(_) => MediaError::Dropped(DropReason::Truncated),
            RtpReaderError::UnsupportedVersion(_) => MediaError::Dropped(DropReason::BadVersion),
            _ => MediaError::Dropped(DropReason::MalformedRtp),
        })?;
        Ok(Self {
            ssrc: reader.ssrc(),
            sequence_number: u16::from(reader.sequence_number()),
            timestamp: reader.timestamp(),
            marker: reader.mark(),
            payload_type: reader.payload_type(),
            csrc_count: reader.csrc_count(),
            extension: reader.extension(),
            padding: reader.padding().unwrap_or(0),
            payload: reader.payload(),
        })
    }

    /// The CSRC list.
    pub fn csrcs(&self, bytes: &'a [u8]) -> impl Iterator<Item = u32> + 'a {
        let n = usize::from(self.csrc_count);
        (0..n).filter_map(move |i| wire::u32_at(bytes, RTP_HEADER_LEN + 4 * i))
    }
}

/// The fixed fields every RTP packet carries in the clear (also under SRTP),
/// read without validating the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClearHeader {
    pub payload_type: u8,
    pub sequence_number: u16,
    pub ssrc: u32,
}

impl ClearHeader {
    pub(crate) fn read(bytes: &[u8]) -> Result<Self, DropReason> {
        if bytes.len() < RTP_HEADER_LEN {
            return Err(DropReason::Truncated);
        }
        let b0 = wire::u8_at(bytes, 0).ok_or(DropReason::Truncated)?;
        if b0 >> 6 != 2 {
            return Err(DropReason::BadVersion);
        }
        let b1 = wire::u8_at(bytes, 1).ok_or(DropReason::Truncated)?;
        Ok(Self {
            payload_type: b1 & 0x7f,
            sequence_number: wire::u16_at(bytes, 2).ok_or(DropReason::Truncated)?,
            ssrc: wire::u32_at(bytes, 8).ok_or(DropReason::Truncated)?,
        })
    }
}

/// What to put in the header of a packet we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeaderFields {
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence_number: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
}

/// Write an RTP packet (no CSRC, no extension, no padding) into `out`,
/// replacing its contents; reuses `out`'s capacity.
pub fn build_rtp(
    fields: RtpHeaderFields,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), MediaError> {
    let builder = RtpPacketBuilder::new()
        .payload_type(fields.payload_type)
        .marked(fields.marker)
        .sequence(Seq::from(fields.sequence_number))
        .timestamp(fields.timestamp)
        .ssrc(fields.ssrc)
        .payload(payload);
    out.clear();
    out.resize(builder.target_length(), 0);
    let n = builder
        .build_into(out)
        .map_err(|_| MediaError::Build("invalid RTP header field"))?;
    out.truncate(n);
    Ok(())
}

/// The sending side of one RTP stream: SSRC, sequence number and timestamp
/// (random initial values, RFC 3550 §5.1), and the talk-spurt marker.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    next_sequence: u16,
    next_timestamp: u32,
    marker_pending: bool,
    packets_sent: u64,
    payload_bytes_sent: u64,
}

impl RtpSender {
    /// A sender with the given SSRC and initial sequence number and
    /// timestamp (draw them from the session's RNG).
    pub fn new(ssrc: u32, initial_sequence: u16, initial_timestamp: u32) -> Self {
        Self {
            ssrc,
            next_sequence: initial_sequence,
            next_timestamp: initial_timestamp,
            marker_pending: true,
            packets_sent: 0,
            payload_bytes_sent: 0,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The timestamp the next media frame will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.next_timestamp
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.next_sequence
    }

    /// RTP packets sent (media and telephone-event).
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent
    }

    /// Payload octets sent (RFC 3550 SR sender's octet count).
    pub fn payload_bytes_sent(&self) -> u64 {
        self.payload_bytes_sent
    }

    /// Header fields for the next media frame of `samples` samples, and
    /// advance. The marker is set on the first frame of a talk spurt.
    pub fn next_media(
        &mut self,
        payload_type: u8,
        payload_len: usize,
        samples: u32,
    ) -> RtpHeaderFields {
        let f = RtpHeaderFields {
            payload_type,
            marker: std::mem::take(&mut self.marker_pending),
            sequence_number: self.next_sequence,
            timestamp: self.next_timestamp,
            ssrc: self.ssrc,
        };
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.next_timestamp = self.next_timestamp.wrapping_add(samples);
        self.count(payload_len);
        f
    }

    /// Header fields for a packet with an explicit timestamp (telephone
    /// events keep the event's start timestamp); advances the sequence only.
    pub fn next_with_timestamp(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload_len: usize,
    ) -> RtpHeaderFields {
        let f = RtpHeaderFields {
            payload_type,
            marker,
            sequence_number: self.next_sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.count(payload_len);
        f
    }

    /// Media time passes without a packet (silence, DTX, a DTMF tone): the
    /// timestamp advances and the next frame starts a talk spurt.
    pub fn skip(&mut self, samples: u32) {
        self.next_timestamp = self.next_timestamp.wrapping_add(samples);
        self.marker_pending = true;
    }

    /// Mark the next media frame as the start of a talk spurt.
    pub fn mark_next(&mut self) {
        self.marker_pending = true;
    }

    fn count(&mut self, payload_len: usize) {
        self.packets_sent += 1;
        self.payload_bytes_sent += payload_len as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse() {
        let mut s = RtpSender::new(0x1234_5678, 65535, u32::MAX - 100);
        let mut buf = Vec::new();
        let f = s.next_media(0, 160, 160);
        build_rtp(f, &[0xd5; 160], &mut buf).unwrap();
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.marker);
        assert_eq!(p.sequence_number, 65535);
        assert_eq!(p.ssrc, 0x1234_5678);
        assert_eq!(p.payload.len(), 160);
        let f = s.next_media(0, 160, 160);
        assert!(!f.marker);
        assert_eq!(f.sequence_number, 0);
        assert_eq!(f.timestamp, 59);
        assert_eq!(s.packets_sent(), 2);
    }

    #[test]
    fn csrc_extension_padding() {
        // V=2 P=1 X=1 CC=2, M=1 PT=8
        let mut p = vec![0xb2, 0x88, 0x00, 0x01, 0, 0, 0, 10, 0xde, 0xad, 0xbe, 0xef];
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // CSRCs
        p.extend_from_slice(&[0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0, 0]); // extension
        p.extend_from_slice(&[1, 2, 3]); // payload
        p.extend_from_slice(&[0, 0, 3]); // padding (3)
        let r = RtpPacket::parse(&p).unwrap();
        assert_eq!(r.payload, &[1, 2, 3]);
        assert_eq!(r.padding, 3);
        assert_eq!(r.csrcs(&p).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(r.extension.unwrap().0, 0xbede);
        assert_eq!(r.payload_type, 8);
        assert!(r.marker);
        // Padding longer than the packet.
        let n = p.len();
        p[n - 1] = 200;
        assert_eq!(
            RtpPacket::parse(&p),
            Err(MediaError::Dropped(DropReason::MalformedRtp))
        );
        // Truncated extension.
        assert!(RtpPacket::parse(&p[..22]).is_err());
        assert_eq!(
            RtpPacket::parse(&[0x80; 5]),
            Err(MediaError::Dropped(DropReason::Truncated))
        );
        assert_eq!(
            RtpPacket::parse(&[0x40; 12]),
            Err(MediaError::Dropped(DropReason::BadVersion))
        );
    }
}
