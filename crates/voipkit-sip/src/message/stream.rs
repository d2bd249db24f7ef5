//! Framing SIP messages on a byte stream (TCP, TLS): RFC 3261 §18.3
//! (Content-Length delimits the body) and RFC 5626 §4.4.1 keep-alives
//! (a CRLFCRLF ping, a CRLF pong).

use bytes::{Buf, BytesMut};

use super::header::Known;
use super::parse::{Framing, Limits, find_head_end, parse_message, walk_head_end};
use super::{Message, ParseError};

/// What the stream yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A whole message.
    Message(Box<Message>),
    /// A keep-alive ping (CRLFCRLF): answer with a pong (CRLF).
    Ping,
    /// A keep-alive pong (CRLF).
    Pong,
}

/// Cuts a byte stream into SIP messages. Memory is bounded by the limits:
/// a message larger than `max_message_size` is an error, after which the
/// connection should be closed (the framer stays failed).
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
    failed: Option<ParseError>,
    /// A line start in `buf` before which no head end can be: scanning
    /// resumes there, so bytes arriving one at a time cost O(n), not O(n²).
    scan_from: usize,
}

impl StreamFramer {
    /// A framer with `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            buf: BytesMut::new(),
            limits,
            failed: None,
            scan_from: 0,
        }
    }

    /// Appends received bytes. Fails (for good) when the buffered,
    /// unconsumed bytes would exceed the message size limit.
    pub fn push(&mut self, data: &[u8]) -> Result<(), ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.buf.len() + data.len() > self.limits.max_message_size + 4 {
            // There may still be complete messages in the buffer: only fail
            // if what is buffered cannot hold a complete message.
            if self.buf.len() > self.limits.max_message_size {
                return Err(self.fail(ParseError::TooLarge {
                    limit: self.limits.max_message_size,
                }));
            }
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, e: ParseError) -> ParseError {
        self.failed = Some(e.clone());
        self.buf.clear();
        e
    }

    /// The next complete item, `None` if more bytes are needed.
    pub fn next_item(&mut self) -> Option<Result<StreamItem, ParseError>> {
        if let Some(e) = &self.failed {
            return Some(Err(e.clone()));
        }
        // Keep-alives between messages.
        if self.buf.starts_with(b"\r\n\r\n") {
            self.buf.advance(4);
            self.scan_from = 0;
            return Some(Ok(StreamItem::Ping));
        }
        if self.buf.starts_with(b"\r\n") {
            match self.buf.get(2) {
                Some(b'\r') => return None, // wait: could be a ping
                _ => {
                    self.buf.advance(2);
                    self.scan_from = 0;
                    return Some(Ok(StreamItem::Pong));
                }
            }
        }
        if self.buf.is_empty() {
            return None;
        }
        let from = self.scan_from.min(self.buf.len());
        let found = if from == 0 {
            find_head_end(&self.buf)
        } else {
            self.buf
                .get(from..)
                .and_then(walk_head_end)
                .map(|e| e + from)
        };
        let Some(head_end) = found else {
            if let Some(nl) = self.buf.get(from..).and_then(|b| memchr::memrchr(b'\n', b)) {
                self.scan_from = from + nl + 1;
            }
            if self.buf.len() > self.limits.max_message_size {
                return Some(Err(self.fail(ParseError::TooLarge {
                    limit: self.limits.max_message_size,
                })));
            }
            return None;
        };
        let head = self.buf.get(..head_end)?;
        let length = match content_length(head) {
            Ok(Some(n)) => n,
            Ok(None) => {
                return Some(Err(
                    self.fail(ParseError::Missing("Content-Length (required on streams)"))
                ));
            }
            Err(e) => return Some(Err(self.fail(e))),
        };
        let total = head_end.saturating_add(length);
        if total > self.limits.max_message_size {
            return Some(Err(self.fail(ParseError::TooLarge {
                limit: self.limits.max_message_size,
            })));
        }
        if self.buf.len() < total {
            return None;
        }
        let bytes = self.buf.split_to(total).freeze();
        self.scan_from = 0;
        Some(
            parse_message(bytes, Framing::Stream, &self.limits)
                .map(|m| StreamItem::Message(Box::new(m))),
        )
    }
}

/// Finds Content-Length (or `l`) in a raw head without a full parse: one
/// search per line for its end and its ':', names looked up as the parser
/// does (no name built).
fn content_length(head: &[u8]) -> Result<Option<usize>, ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::NotUtf8)?;
    let b = text.as_bytes();
    let mut found = None;
    // Skip the start line.
    let mut pos = match memchr::memchr(b'\n', b) {
        Some(i) => i + 1,
        None => return Ok(None),
    };
    while pos < b.len() {
        let end = memchr::memchr(b'\n', b.get(pos..).unwrap_or(&[])).map_or(b.len(), |i| pos + i);
        let line = text.get(pos..end).unwrap_or("");
        pos = end + 1;
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if Known::lookup(name.trim_end().as_bytes()) == Some(Known::ContentLength) {
            let v = value.trim();
            if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::Invalid("bad Content-Length"));
            }
            let n: usize = v
                .parse()
                .map_err(|_| ParseError::Invalid("bad Content-Length"))?;
            if found.is_some_and(|f| f != n) {
                return Err(ParseError::Invalid("conflicting Content-Length values"));
            }
            found = Some(n);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nl: 3\r\n\r\nabc";

    #[test]
    fn frames_byte_by_byte_with_keepalives() {
        let mut f = StreamFramer::new(Limits::default());
        // Keep-alives arrive as one segment each; messages byte by byte.
        let segments: Vec<&[u8]> = vec![b"\r\n\r\n", MSG, b"\r\n", MSG];
        let mut items = Vec::new();
        for seg in segments {
            let chunks: Vec<&[u8]> = if seg.len() > 4 {
                seg.chunks(1).collect()
            } else {
                vec![seg]
            };
            for c in chunks {
                f.push(c).unwrap();
                while let Some(item) = f.next_item() {
                    items.push(item.unwrap());
                }
            }
        }
        assert_eq!(items.len(), 4);
        assert_eq!(items[0], StreamItem::Ping);
        assert!(matches!(items[1], StreamItem::Message(_)));
        assert_eq!(items[2], StreamItem::Pong);
        assert!(matches!(items[3], StreamItem::Message(_)));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn missing_length_and_oversize_fail() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n")
            .unwrap();
        assert!(matches!(f.next_item(), Some(Err(_))));
        assert!(f.push(b"x").is_err());

        let mut f = StreamFramer::new(Limits {
            max_message_size: 100,
            ..Limits::default()
        });
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1000\r\n\r\n")
            .unwrap();
        assert!(matches!(
            f.next_item(),
            Some(Err(ParseError::TooLarge { .. }))
        ));

        let mut f = StreamFramer::new(Limits {
            max_message_size: 100,
            ..Limits::default()
        });
        let junk = vec![b'x'; 300];
        let r = f.push(&junk).and_then(|_| f.push(&junk));
        assert!(r.is_err() || matches!(f.next_item(), Some(Err(_))));
    }
}
