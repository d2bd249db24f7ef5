#![no_main]
//! Fuzz target sip_stream: feed arbitrary bytes to a StreamFramer in chunks
//! whose sizes come from the input; nothing may panic, buffered bytes stay
//! bounded by the limit, and a message cut into any chunks frames the same
//! as in one piece.
use libfuzzer_sys::fuzz_target;
use voipkit_sip::message::{Limits, StreamFramer, StreamItem};

fn run(chunks: &[&[u8]], limits: Limits) -> Vec<Result<StreamItem, String>> {
    let mut f = StreamFramer::new(limits);
    let mut out = Vec::new();
    for c in chunks {
        if let Err(e) = f.push(c) {
            out.push(Err(e.to_string()));
            break;
        }
        assert!(f.buffered() <= limits.max_message_size + c.len() + 4);
        while let Some(item) = f.next_item() {
            let failed = item.is_err();
            out.push(item.map_err(|e| e.to_string()));
            if failed {
                return out;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_message_size: 4096,
        max_headers: 64,
        max_header_len: 1024,
    };
    // Chunk sizes 1..=16 taken from the first byte.
    let step = usize::from(split % 16) + 1;
    let chunks: Vec<&[u8]> = rest.chunks(step).collect();
    let chunked = run(&chunks, limits);
    let whole = run(&[rest], limits);
    // Same messages whichever way the bytes arrived (up to the first error).
    // Keep-alives are compared out: a CRLFCRLF ping split after its first
    // CRLF is indistinguishable from a pong (RFC 5626 leaves that to roles).
    let ok = |v: &[Result<StreamItem, String>]| -> Vec<StreamItem> {
        v.iter()
            .map_while(|r| r.as_ref().ok().cloned())
            .filter(|i| matches!(i, StreamItem::Message(_)))
            .collect()
    };
    let (a, b) = (ok(&chunked), ok(&whole));
    let n = a.len().min(b.len());
    assert_eq!(a[..n], b[..n]);
});
