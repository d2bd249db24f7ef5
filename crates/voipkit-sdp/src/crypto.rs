//! SDES keying (RFC 4568 `a=crypto`): the SRTP crypto suites voipkit speaks
//! and their master key material.
//!
//! These two types are shared with `voipkit-media`, which keys its SRTP
//! contexts from them: one concept, one name across crates.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use rand::RngCore;

/// An SRTP crypto suite as named in RFC 4568 / RFC 7714 `a=crypto` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptoSuite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568): AES-128 counter mode, 80-bit tag.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568): AES-128 counter mode, 32-bit RTP tag.
    AesCm128HmacSha1_32,
    /// `AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
}

impl CryptoSuite {
    /// Every suite, in voipkit's order of preference.
    pub const ALL: [CryptoSuite; 4] = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AeadAes128Gcm,
        CryptoSuite::AeadAes256Gcm,
        CryptoSuite::AesCm128HmacSha1_32,
    ];

    /// The suite's name in an `a=crypto` line.
    pub fn name(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            CryptoSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            CryptoSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The suite named `name` (case-sensitive, as RFC 4568 defines them).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            CryptoSuite::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes (14 for AES-CM, 12 for AEAD-GCM).
    pub fn salt_len(self) -> usize {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 | CryptoSuite::AesCm128HmacSha1_32 => 14,
            CryptoSuite::AeadAes128Gcm | CryptoSuite::AeadAes256Gcm => 12,
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An SRTP master key and salt for one suite: the `inline:` key-params of an
/// `a=crypto` line. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyingMaterial {
    suite: CryptoSuite,
    /// master key followed by master salt
    key_and_salt: Vec<u8>,
}

impl SrtpKeyingMaterial {
    /// Fresh random key material for `suite`, drawn from `rng` (the caller
    /// seeds it; the driver from the OS).
    pub fn generate(suite: CryptoSuite, rng: &mut impl RngCore) -> Self {
        let mut key_and_salt = vec![0u8; suite.key_len() + suite.salt_len()];
        rng.fill_bytes(&mut key_and_salt);
        Self {
            suite,
            key_and_salt,
        }
    }

    /// Key material from raw master key and salt; `None` if the lengths do
    /// not fit `suite`.
    pub fn from_parts(suite: CryptoSuite, master_key: &[u8], master_salt: &[u8]) -> Option<Self> {
        if master_key.len() != suite.key_len() || master_salt.len() != suite.salt_len() {
            return None;
        }
        let mut key_and_salt = master_key.to_vec();
        key_and_salt.extend_from_slice(master_salt);
        Some(Self {
            suite,
            key_and_salt,
        })
    }

    /// Decode the base64 `inline:` value (key||salt, without `|lifetime|MKI`);
    /// `None` if it is not valid base64 of the suite's length. Padding may
    /// be left out (some phones drop the `=` of 28-byte GCM keys).
    pub fn from_inline(suite: CryptoSuite, inline_b64: &str) -> Option<Self> {
        let b64 = inline_b64.trim();
        let raw = STANDARD
            .decode(b64)
            .or_else(|_| STANDARD_NO_PAD.decode(b64))
            .ok()?;
        if raw.len() != suite.key_len() + suite.salt_len() {
            return None;
        }
        Some(Self {
            suite,
            key_and_salt: raw,
        })
    }

    /// The base64 `inline:` value (key||salt).
    pub fn to_inline(&self) -> String {
        STANDARD.encode(&self.key_and_salt)
    }

    /// The suite this material is for.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// The master key.
    pub fn master_key(&self) -> &[u8] {
        self.key_and_salt
            .get(..self.suite.key_len())
            .unwrap_or_default()
    }

    /// The master salt.
    pub fn master_salt(&self) -> &[u8] {
        self.key_and_salt
            .get(self.suite.key_len()..)
            .unwrap_or_default()
    }
}

impl fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpKeyingMaterial")
            .field("suite", &self.suite)
            .field("key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn inline_round_trip_and_redacted_debug() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for suite in CryptoSuite::ALL {
            let k = SrtpKeyingMaterial::generate(suite, &mut rng);
            let inline = k.to_inline();
            let back = SrtpKeyingMaterial::from_inline(suite, &inline).unwrap();
            assert_eq!(k, back);
            assert_eq!(k.master_key().len(), suite.key_len());
            assert_eq!(k.master_salt().len(), suite.salt_len());
            let dbg = format!("{k:?}");
            assert!(!dbg.contains(&inline));
            assert!(dbg.contains("redacted"));
            assert_eq!(CryptoSuite::from_name(suite.name()), Some(suite));
        }
        // RFC 4568 example key (AES_CM_128_HMAC_SHA1_80, 30 bytes).
        assert!(
            SrtpKeyingMaterial::from_inline(
                CryptoSuite::AesCm128HmacSha1_80,
                "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
            )
            .is_some()
        );
        assert!(SrtpKeyingMaterial::from_inline(CryptoSuite::AeadAes128Gcm, "short").is_none());
    }
}
