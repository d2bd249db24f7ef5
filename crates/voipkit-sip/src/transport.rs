//! Transports as the core sees them: which one a message used, whether it
//! is reliable, and the datagram/segment the driver must send.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Transport {
    /// UDP (unreliable: the transaction layer retransmits).
    Udp,
    /// TCP (reliable, stream: the driver frames with
    /// [`StreamFramer`](crate::StreamFramer)).
    Tcp,
    /// TLS over TCP (reliable, stream).
    Tls,
}

impl Transport {
    /// Whether the transport itself retransmits (no timer A/E/G
    /// retransmissions, timers D/I/J/K are zero).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The Via token: `UDP`, `TCP`, `TLS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// From a Via transport token or a `transport=` URI parameter.
    pub fn from_token(s: &str) -> Option<Transport> {
        if s.eq_ignore_ascii_case("udp") {
            Some(Transport::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Some(Transport::Tcp)
        } else if s.eq_ignore_ascii_case("tls") {
            Some(Transport::Tls)
        } else {
            None
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes the driver must send: one datagram (UDP) or one whole message on
/// the connection to `destination` (TCP/TLS; the driver opens or reuses it).
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Which transport to send on.
    pub transport: Transport,
    /// Where to.
    pub destination: SocketAddr,
    /// One whole SIP message.
    pub contents: Vec<u8>,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The start line only: bodies and credentials stay out of logs.
        let first = self
            .contents
            .split(|&b| b == b'\r' || b == b'\n')
            .next()
            .unwrap_or(&[]);
        f.debug_struct("Transmit")
            .field("transport", &self.transport)
            .field("destination", &self.destination)
            .field("start_line", &String::from_utf8_lossy(first))
            .field("len", &self.contents.len())
            .finish()
    }
}
