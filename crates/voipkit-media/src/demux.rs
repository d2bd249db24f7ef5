//! Demultiplexing one media port by first byte (RFC 7983, RFC 5764 §5.1.2)
//! and RTP from RTCP by payload type (RFC 5761 §4).

/// What a datagram on the media port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketClass {
    /// STUN (first byte 0..=3).
    Stun,
    /// ZRTP (16..=19).
    Zrtp,
    /// DTLS (20..=63).
    Dtls,
    /// TURN ChannelData (64..=79).
    TurnChannel,
    /// RTP (128..=191, second byte not an RTCP packet type).
    Rtp,
    /// RTCP (128..=191, packet type 192..=223 in the second byte).
    Rtcp,
    /// Anything else, including the empty datagram.
    Unknown,
}

/// Classify a datagram received on an RTP (or rtcp-mux) port.
pub fn classify(datagram: &[u8]) -> PacketClass {
    let Some(&first) = datagram.first() else {
        return PacketClass::Unknown;
    };
    match first {
        0..=3 => PacketClass::Stun,
        16..=19 => PacketClass::Zrtp,
        20..=63 => PacketClass::Dtls,
        64..=79 => PacketClass::TurnChannel,
        128..=191 => match datagram.get(1) {
            // RFC 5761 §4: RTCP packet types 192..=223 (RTP payload types
            // 64..=95 with the marker bit) are RTCP.
            Some(192..=223) => PacketClass::Rtcp,
            _ => PacketClass::Rtp,
        },
        _ => PacketClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_ranges() {
        assert_eq!(classify(&[]), PacketClass::Unknown);
        assert_eq!(classify(&[0, 1]), PacketClass::Stun);
        assert_eq!(classify(&[3]), PacketClass::Stun);
        assert_eq!(classify(&[4]), PacketClass::Unknown);
        assert_eq!(classify(&[16]), PacketClass::Zrtp);
        assert_eq!(classify(&[22, 0xfe]), PacketClass::Dtls);
        assert_eq!(classify(&[64]), PacketClass::TurnChannel);
        assert_eq!(classify(&[0x80, 0x00]), PacketClass::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 8]), PacketClass::Rtp);
        assert_eq!(classify(&[0x80]), PacketClass::Rtp);
        assert_eq!(classify(&[0x81, 200]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x80, 201]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x80, 223]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x80, 224]), PacketClass::Rtp);
        assert_eq!(classify(&[0xc0, 0]), PacketClass::Unknown);
    }
}
