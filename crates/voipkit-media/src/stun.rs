//! STUN (RFC 8489) on the media port, with `stun_codec`: Binding requests
//! to learn the RTP socket's public address (a client transaction with
//! retransmissions driven by `now`), Binding responses to a peer's checks,
//! and Binding indications as keep-alives (RFC 6263 §4.2 / RFC 8489 §6.1).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytecodec::{DecodeExt, EncodeExt};
use stun_codec::rfc5389::attributes::{MappedAddress, XorMappedAddress};
use stun_codec::rfc5389::{Attribute, methods::BINDING};
use stun_codec::{Message, MessageClass, MessageDecoder, MessageEncoder, TransactionId};

use crate::error::DropReason;

/// STUN message classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunClass {
    /// Request.
    Request,
    /// Indication.
    Indication,
    /// Success response.
    Success,
    /// Error response.
    Error,
}

/// What we need of a decoded STUN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunMessage {
    /// Class.
    pub class: StunClass,
    /// Whether the method is Binding.
    pub is_binding: bool,
    /// Transaction ID.
    pub transaction_id: [u8; 12],
    /// XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) if present.
    pub mapped_address: Option<SocketAddr>,
}

/// Decode a STUN message.
pub fn decode(bytes: &[u8]) -> Result<StunMessage, DropReason> {
    if bytes.len() < 20 || bytes.len() > 1500 {
        return Err(DropReason::MalformedStun);
    }
    let mut decoder = MessageDecoder::<Attribute>::new();
    let msg = decoder
        .decode_from_bytes(bytes)
        .map_err(|_| DropReason::MalformedStun)?
        .map_err(|_| DropReason::MalformedStun)?;
    let class = match msg.class() {
        MessageClass::Request => StunClass::Request,
        MessageClass::Indication => StunClass::Indication,
        MessageClass::SuccessResponse => StunClass::Success,
        MessageClass::ErrorResponse => StunClass::Error,
    };
    let mapped_address = msg
        .get_attribute::<XorMappedAddress>()
        .map(|a| a.address())
        .or_else(|| msg.get_attribute::<MappedAddress>().map(|a| a.address()));
    Ok(StunMessage {
        class,
        is_binding: msg.method() == BINDING,
        transaction_id: *msg.transaction_id().as_bytes(),
        mapped_address,
    })
}

fn encode(msg: Message<Attribute>) -> Vec<u8> {
    MessageEncoder::<Attribute>::new()
        .encode_into_bytes(msg)
        .unwrap_or_default()
}

/// A Binding request.
pub fn binding_request(transaction_id: [u8; 12]) -> Vec<u8> {
    encode(Message::new(
        MessageClass::Request,
        BINDING,
        TransactionId::new(transaction_id),
    ))
}

/// A Binding indication (keep-alive; no response expected).
pub fn binding_indication(transaction_id: [u8; 12]) -> Vec<u8> {
    encode(Message::new(
        MessageClass::Indication,
        BINDING,
        TransactionId::new(transaction_id),
    ))
}

/// A Binding success response telling the requester its address.
pub fn binding_success(transaction_id: [u8; 12], mapped: SocketAddr) -> Vec<u8> {
    let mut m = Message::new(
        MessageClass::SuccessResponse,
        BINDING,
        TransactionId::new(transaction_id),
    );
    m.add_attribute(XorMappedAddress::new(mapped));
    encode(m)
}

/// Retransmission parameters (RFC 8489 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunTiming {
    /// Initial retransmission timeout (RTO).
    pub rto: Duration,
    /// Requests sent in total (Rc).
    pub max_requests: u32,
    /// Wait after the last request, in RTOs (Rm).
    pub final_wait_rtos: u32,
}

impl Default for StunTiming {
    fn default() -> Self {
        Self {
            rto: Duration::from_millis(500),
            max_requests: 7,
            final_wait_rtos: 16,
        }
    }
}

/// A Binding client transaction.
#[derive(Debug, Clone)]
pub(crate) struct BindingTransaction {
    pub server: SocketAddr,
    pub transaction_id: [u8; 12],
    sent: u32,
    next: Instant,
    timing: StunTiming,
}

pub(crate) enum TransactionStep {
    /// Send (or resend) the request now.
    Send,
    /// Nothing due.
    Wait,
    /// No response: the transaction failed.
    TimedOut,
}

impl BindingTransaction {
    pub fn new(
        server: SocketAddr,
        transaction_id: [u8; 12],
        now: Instant,
        timing: StunTiming,
    ) -> Self {
        Self {
            server,
            transaction_id,
            sent: 0,
            next: now,
            timing,
        }
    }

    pub fn deadline(&self) -> Instant {
        self.next
    }

    pub fn poll(&mut self, now: Instant) -> TransactionStep {
        if now < self.next {
            return TransactionStep::Wait;
        }
        if self.sent >= self.timing.max_requests.max(1) {
            return TransactionStep::TimedOut;
        }
        self.sent += 1;
        self.next = if self.sent >= self.timing.max_requests.max(1) {
            now + self.timing.rto * self.timing.final_wait_rtos
        } else {
            // RTO doubles after each transmission: 0, 500, 1500, 3500 ms...
            now + self.timing.rto * 2u32.saturating_pow(self.sent - 1)
        };
        TransactionStep::Send
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = [7u8; 12];
        let req = binding_request(id);
        assert_eq!(req.len(), 20);
        let m = decode(&req).unwrap();
        assert_eq!(m.class, StunClass::Request);
        assert!(m.is_binding);
        assert_eq!(m.transaction_id, id);
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let resp = binding_success(id, addr);
        let m = decode(&resp).unwrap();
        assert_eq!(m.class, StunClass::Success);
        assert_eq!(m.mapped_address, Some(addr));
        let v6: SocketAddr = "[::1]:5".parse().unwrap();
        assert_eq!(
            decode(&binding_success(id, v6)).unwrap().mapped_address,
            Some(v6)
        );
        assert_eq!(
            decode(&binding_indication(id)).unwrap().class,
            StunClass::Indication
        );
        for n in 0..resp.len() {
            assert!(decode(&resp[..n]).is_err());
        }
        let mut bad = resp.clone();
        bad[4] ^= 1; // magic cookie
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn retransmission_schedule() {
        let t0 = Instant::now();
        let mut t = BindingTransaction::new(
            "127.0.0.1:3478".parse().unwrap(),
            [0; 12],
            t0,
            StunTiming::default(),
        );
        let mut sends = Vec::new();
        let mut now = t0;
        loop {
            match t.poll(now) {
                TransactionStep::Send => sends.push((now - t0).as_millis()),
                TransactionStep::Wait => now = t.deadline(),
                TransactionStep::TimedOut => break,
            }
        }
        assert_eq!(sends, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!((now - t0).as_millis(), 39_500);
    }
}
