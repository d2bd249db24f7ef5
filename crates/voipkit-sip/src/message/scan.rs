//! The head scan of the parser: bit masks of line ends and colons for 64
//! bytes at a time, so finding each line's end and its name's colon costs
//! a few bit operations rather than a search call per line, and the head
//! is known to be ASCII (no UTF-8 validation needed) as a by-product.
//!
//! On x86_64 the masks come from SSE2 (part of the baseline instruction
//! set, so always there); elsewhere from a portable loop. Both give the
//! same masks (tested).

/// Masks of one 64-byte block: bit `i` is set when byte `i` is CR or LF
/// (`eol`), `:` (`colon`), or has its high bit set (`high`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BlockMasks {
    pub(crate) eol: u64,
    pub(crate) colon: u64,
    pub(crate) high: u64,
}

/// The masks of `chunk`.
#[inline]
pub(crate) fn block_masks(chunk: &[u8; 64]) -> BlockMasks {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU
        // has it, so calling a function that enables it is sound.
        unsafe { block_masks_sse2(chunk) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        block_masks_portable(chunk)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn block_masks_sse2(chunk: &[u8; 64]) -> BlockMasks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let cr = _mm_set1_epi8(b'\r' as i8);
    let lf = _mm_set1_epi8(b'\n' as i8);
    let colon = _mm_set1_epi8(b':' as i8);
    let p = chunk.as_ptr().cast::<__m128i>();
    let mut m = BlockMasks::default();
    for k in 0..4 {
        // SAFETY: `chunk` is 64 readable bytes and `k < 4`, so the 16
        // bytes at `16 * k` are inside it; `loadu` has no alignment
        // requirement.
        let v = unsafe { _mm_loadu_si128(p.add(k)) };
        let eol = _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
        let shift = 16 * k as u32;
        m.eol |= u64::from(_mm_movemask_epi8(eol) as u16) << shift;
        m.colon |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, colon)) as u16) << shift;
        m.high |= u64::from(_mm_movemask_epi8(v) as u16) << shift;
    }
    m
}

/// The masks, one byte at a time (other architectures, and the reference
/// the tests compare the SSE2 version with).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(crate) fn block_masks_portable(chunk: &[u8; 64]) -> BlockMasks {
    let mut m = BlockMasks::default();
    for (i, &c) in chunk.iter().enumerate() {
        m.eol |= u64::from(c == b'\r' || c == b'\n') << i;
        m.colon |= u64::from(c == b':') << i;
        m.high |= u64::from(c >> 7) << i;
    }
    m
}

/// A forward-only scanner over `b` that keeps the masks of the current
/// 64-byte block. Asking for a position in an earlier block reloads it
/// (correct, only slower); [`Scanner::ascii_up_to`] then looks at the
/// bytes.
pub(crate) struct Scanner<'a> {
    b: &'a [u8],
    /// Offset of the current block (a multiple of 64); `usize::MAX` before
    /// the first.
    base: usize,
    masks: BlockMasks,
    /// High bits in some block before the current one.
    high_before: bool,
    /// Whether some block before the current one was skipped (never
    /// loaded), so `high_before` does not cover it.
    gap: bool,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            base: usize::MAX,
            masks: BlockMasks::default(),
            high_before: false,
            gap: false,
        }
    }

    #[inline]
    fn load(&mut self, base: usize) {
        if self.base == usize::MAX {
            self.gap |= base != 0;
        } else {
            self.high_before |= self.masks.high != 0;
            self.gap |= base != self.base + 64;
        }
        self.base = base;
        self.masks = match self.b.get(base..).and_then(|s| s.first_chunk::<64>()) {
            Some(chunk) => block_masks(chunk),
            None => {
                // The last, partial block: zero padding matches nothing.
                let mut chunk = [0u8; 64];
                for (d, s) in chunk.iter_mut().zip(self.b.get(base..).unwrap_or(&[])) {
                    *d = *s;
                }
                block_masks(&chunk)
            }
        };
    }

    /// The first byte at or after `from` whose bit is set in the masks
    /// `pick` selects. Positions must be asked in non-decreasing blocks.
    #[inline]
    fn next(&mut self, mut from: usize, pick: fn(&BlockMasks) -> u64) -> Option<usize> {
        loop {
            if from >= self.b.len() {
                return None;
            }
            let base = from & !63;
            if base != self.base {
                self.load(base);
            }
            let bits = pick(&self.masks) & (u64::MAX << (from - base));
            if bits != 0 {
                return Some(base + bits.trailing_zeros() as usize);
            }
            from = base + 64;
        }
    }

    /// The first CR or LF at or after `from`.
    #[inline]
    pub(crate) fn next_eol(&mut self, from: usize) -> Option<usize> {
        self.next(from, |m| m.eol)
    }

    /// The first CR, LF or `:` at or after `from`.
    #[inline]
    pub(crate) fn next_colon_or_eol(&mut self, from: usize) -> Option<usize> {
        self.next(from, |m| m.eol | m.colon)
    }

    /// Whether `b[..end]` is all ASCII, given that the scanner has reached
    /// the block holding `end - 1` (it has just found the head's end).
    pub(crate) fn ascii_up_to(&self, end: usize) -> bool {
        if end == 0 {
            return true;
        }
        let last = end - 1;
        if self.gap || self.base == usize::MAX || last < self.base || last >= self.base + 64 {
            // Not every block up to `end` was seen (or seen in order):
            // look at the bytes.
            return self.b.get(..end).is_some_and(|h| h.is_ascii());
        }
        let keep = u64::MAX >> (63 - (last - self.base));
        !self.high_before && self.masks.high & keep == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_over_skipped_blocks_is_checked() {
        let mut b = vec![b'a'; 300];
        b[100] = 0xc3;
        b[250] = b'\n';
        let mut s = Scanner::new(&b);
        assert_eq!(s.next_eol(0), Some(250));
        assert!(!s.ascii_up_to(251));
        // Jumping over the block with the high byte.
        let mut s = Scanner::new(&b);
        assert_eq!(s.next_eol(200), Some(250));
        assert!(!s.ascii_up_to(251));
        b[100] = b'a';
        let mut s = Scanner::new(&b);
        assert_eq!(s.next_eol(200), Some(250));
        assert!(s.ascii_up_to(251));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]
        #[test]
        fn simd_masks_equal_portable(bytes in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b'\r'),
                proptest::strategy::Just(b'\n'),
                proptest::strategy::Just(b':'),
                proptest::prelude::any::<u8>(),
            ],
            64,
        )) {
            let chunk: [u8; 64] = bytes.try_into().unwrap();
            proptest::prop_assert_eq!(block_masks(&chunk), block_masks_portable(&chunk));
        }

        #[test]
        fn scanner_finds_what_a_byte_loop_finds(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'\r'),
                    proptest::strategy::Just(b'\n'),
                    proptest::strategy::Just(b':'),
                    proptest::strategy::Just(b'a'),
                    proptest::strategy::Just(0xc3u8),
                ],
                0..300,
            ),
            steps in proptest::collection::vec(1usize..40, 1..20),
        ) {
            // As the parser uses it: always forward.
            let mut s = Scanner::new(&bytes);
            let mut from = 0;
            for step in steps {
                let want = bytes.iter().skip(from).position(|c| matches!(c, b'\r' | b'\n' | b':')).map(|i| from + i);
                proptest::prop_assert_eq!(s.next_colon_or_eol(from), want);
                let Some(w) = want else { break };
                let want = bytes.iter().skip(w).position(|c| *c == b'\r' || *c == b'\n').map(|i| w + i);
                proptest::prop_assert_eq!(s.next_eol(w), want);
                let Some(e) = want else { break };
                proptest::prop_assert_eq!(s.ascii_up_to(e + 1), bytes[..=e].is_ascii());
                from = e + step;
            }
        }
    }
}
