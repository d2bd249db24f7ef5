//! Shared by the SRTP fuzz targets (`fuzz/fuzz_targets/srtp_unprotect.rs`,
//! `srtcp_unprotect.rs`) and the test that writes their seed corpora
//! (`tests/fuzz_corpus.rs`), so that both pick the same keys for the same
//! selector byte. Not part of the API.

use crate::{CryptoSuite, SrtpKeyingMaterial};

/// libsrtp's `test_key` (AES-CM: master key 16 + salt 14), extended to 32
/// bytes of key for AES-256-GCM.
const TEST_KEY: [u8; 46] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6, 0x01, 0x02,
    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
];
/// libsrtp's `test_key_gcm` (master key 16 + salt 12).
const TEST_KEY_GCM: [u8; 28] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
];

/// The keys the SRTP fuzz targets use, by the low two bits of their
/// selector byte: AES_CM_128_HMAC_SHA1_80, \_32, AEAD_AES_128_GCM and
/// AEAD_AES_256_GCM, all with libsrtp's test keys, so that its reference
/// vectors are valid inputs.
pub fn srtp_test_key(selector: u8) -> Option<SrtpKeyingMaterial> {
    let (suite, key, salt) = match selector % 4 {
        0 => (
            CryptoSuite::AesCm128HmacSha1_80,
            TEST_KEY.get(..16)?,
            TEST_KEY.get(16..30)?,
        ),
        1 => (
            CryptoSuite::AesCm128HmacSha1_32,
            TEST_KEY.get(..16)?,
            TEST_KEY.get(16..30)?,
        ),
        2 => (
            CryptoSuite::AeadAes128Gcm,
            TEST_KEY_GCM.get(..16)?,
            TEST_KEY_GCM.get(16..)?,
        ),
        _ => (
            CryptoSuite::AeadAes256Gcm,
            TEST_KEY.get(..32)?,
            TEST_KEY_GCM.get(16..)?,
        ),
    };
    SrtpKeyingMaterial::from_parts(suite, key, salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_selector_gives_a_key_of_its_suite() {
        let suites = [
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AesCm128HmacSha1_32,
            CryptoSuite::AeadAes128Gcm,
            CryptoSuite::AeadAes256Gcm,
        ];
        for selector in 0..=255u8 {
            let suite = srtp_test_key(selector).map(|k| k.suite());
            assert_eq!(suite, Some(suites[usize::from(selector % 4)]));
        }
    }
}
