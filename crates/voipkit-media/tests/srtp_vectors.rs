//! SRTP/SRTCP against libsrtp's reference vectors (test/srtp_driver.c,
//! srtp_validate and srtp_validate_gcm), and the wrapper's defences:
//! forged, replayed, truncated and E=0 packets, a forged first packet,
//! sequence wraps and rekeying.

use voipkit_media::DropReason;
use voipkit_media::srtp::{ReplayWindow, SrtpReceiver, SrtpSender};
use voipkit_sdp::{CryptoSuite, SrtpKeyingMaterial};

/// libsrtp `test_key` (master key 16 + master salt 14).
const TEST_KEY: [u8; 30] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];
const RTP_PLAINTEXT: [u8; 28] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
];
const SRTP_CIPHERTEXT_80: [u8; 38] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c,
    0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d, 0x6a, 0xcc,
    0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
];
const RTCP_PLAINTEXT: [u8; 24] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
];
const SRTCP_CIPHERTEXT_80: [u8; 38] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4, 0x87, 0xb9, 0xbd,
    0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd,
    0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98,
];
/// libsrtp `test_key_gcm` (master key 16 + master salt 12).
const TEST_KEY_GCM: [u8; 28] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
];
const SRTP_CIPHERTEXT_GCM: [u8; 44] = [
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xc5, 0x00, 0x2e, 0xde,
    0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11, 0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97, 0x68, 0x26,
    0xf7, 0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92,
];
const SRTCP_CIPHERTEXT_GCM: [u8; 44] = [
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b, 0x5d, 0xf0, 0x39, 0x2a, 0x55,
    0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e, 0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3, 0xb4, 0x46,
    0xea, 0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01,
];

fn key(suite: CryptoSuite, raw: &[u8]) -> SrtpKeyingMaterial {
    let (k, s) = raw.split_at(suite.key_len());
    SrtpKeyingMaterial::from_parts(suite, k, s).unwrap()
}

/// Protecting libsrtp's RTP and RTCP plaintexts with `raw` gives exactly
/// `srtp` and `srtcp`, and a fresh receiver turns those back into the
/// plaintexts. Returns that receiver.
fn check_vectors(suite: CryptoSuite, raw: &[u8], srtp: &[u8], srtcp: &[u8]) -> SrtpReceiver {
    let k = key(suite, raw);
    let mut tx = SrtpSender::new(&k).unwrap();
    let mut out = Vec::new();
    tx.protect_rtp(&RTP_PLAINTEXT, &mut out).unwrap();
    assert_eq!(out, srtp, "{suite:?} SRTP");
    tx.protect_rtcp(&RTCP_PLAINTEXT, &mut out).unwrap();
    assert_eq!(out, srtcp, "{suite:?} SRTCP");
    let mut rx = SrtpReceiver::new(&k).unwrap();
    rx.unprotect_rtp(srtp, &mut out).unwrap();
    assert_eq!(out, RTP_PLAINTEXT);
    rx.unprotect_rtcp(srtcp, &mut out).unwrap();
    assert_eq!(out, RTCP_PLAINTEXT);
    rx
}

#[test]
fn libsrtp_aes_cm_128_hmac_sha1_80_vectors() {
    let mut rx = check_vectors(
        CryptoSuite::AesCm128HmacSha1_80,
        &TEST_KEY,
        &SRTP_CIPHERTEXT_80,
        &SRTCP_CIPHERTEXT_80,
    );
    // Both are replays now.
    let mut out = Vec::new();
    assert_eq!(
        rx.unprotect_rtp(&SRTP_CIPHERTEXT_80, &mut out),
        Err(DropReason::Replayed)
    );
    assert_eq!(
        rx.unprotect_rtcp(&SRTCP_CIPHERTEXT_80, &mut out),
        Err(DropReason::Replayed)
    );
}

#[test]
fn libsrtp_aes_cm_128_hmac_sha1_32_vector() {
    // Same keystream; the RTP tag is the first 4 bytes of the 80-bit one.
    // SRTCP keeps the 80-bit tag (RFC 4568 §6.2.1), as libsrtp does.
    check_vectors(
        CryptoSuite::AesCm128HmacSha1_32,
        &TEST_KEY,
        &SRTP_CIPHERTEXT_80[..32],
        &SRTCP_CIPHERTEXT_80,
    );
}

#[test]
fn libsrtp_aead_aes_128_gcm_vectors() {
    check_vectors(
        CryptoSuite::AeadAes128Gcm,
        &TEST_KEY_GCM,
        &SRTP_CIPHERTEXT_GCM,
        &SRTCP_CIPHERTEXT_GCM,
    );
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn all_suites() -> Vec<SrtpKeyingMaterial> {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    CryptoSuite::ALL
        .iter()
        .map(|s| SrtpKeyingMaterial::generate(*s, &mut rng))
        .collect()
}

#[test]
fn round_trip_every_suite_across_a_sequence_wrap() {
    for k in all_suites() {
        let mut tx = SrtpSender::new(&k).unwrap();
        let mut rx = SrtpReceiver::new(&k).unwrap();
        let (mut enc, mut dec) = (Vec::new(), Vec::new());
        let mut seq: u16 = 65_500;
        for i in 0..100u32 {
            let p = rtp(seq, 0x1111, &i.to_be_bytes().repeat(40));
            tx.protect_rtp(&p, &mut enc).unwrap();
            rx.unprotect_rtp(&enc, &mut dec)
                .unwrap_or_else(|e| panic!("{:?} seq {seq}: {e}", k.suite()));
            assert_eq!(dec, p);
            seq = seq.wrapping_add(1);
        }
        // RTCP too, with the E flag set by us.
        let rr = [0x80, 201, 0, 1, 0, 0, 0x11, 0x11];
        for _ in 0..3 {
            tx.protect_rtcp(&rr, &mut enc).unwrap();
            rx.unprotect_rtcp(&enc, &mut dec).unwrap();
            assert_eq!(dec, rr);
        }
    }
}

#[test]
fn reordered_across_the_wrap_and_replays_dropped() {
    let k = &all_suites()[0];
    let mut tx = SrtpSender::new(k).unwrap();
    let mut rx = SrtpReceiver::new(k).unwrap();
    let mut packets = Vec::new();
    let mut enc = Vec::new();
    for seq in (65_530u16..=65_535).chain(0..6) {
        tx.protect_rtp(&rtp(seq, 7, &[1; 20]), &mut enc).unwrap();
        packets.push(enc.clone());
    }
    let mut dec = Vec::new();
    // Deliver: 0..4, then 6 (seq 0 after the wrap) before 5 (seq 65535).
    for p in &packets[..5] {
        rx.unprotect_rtp(p, &mut dec).unwrap();
    }
    rx.unprotect_rtp(&packets[6], &mut dec).unwrap();
    rx.unprotect_rtp(&packets[5], &mut dec).unwrap();
    for p in &packets[7..] {
        rx.unprotect_rtp(p, &mut dec).unwrap();
    }
    for p in &packets {
        assert_eq!(rx.unprotect_rtp(p, &mut dec), Err(DropReason::Replayed));
    }
}

#[test]
fn forged_truncated_and_unencrypted_are_dropped() {
    for k in all_suites() {
        let mut tx = SrtpSender::new(&k).unwrap();
        let mut rx = SrtpReceiver::new(&k).unwrap();
        let (mut enc, mut dec) = (Vec::new(), Vec::new());
        tx.protect_rtp(&rtp(10, 5, &[9; 160]), &mut enc).unwrap();
        // Any flipped bit fails authentication.
        for i in [1, 2, 12, 40, enc.len() - 1] {
            let mut f = enc.clone();
            f[i] ^= 0x01;
            let r = rx.unprotect_rtp(&f, &mut dec);
            assert!(
                matches!(
                    r,
                    Err(DropReason::AuthenticationFailed) | Err(DropReason::Replayed)
                ),
                "{:?} byte {i}: {r:?}",
                k.suite()
            );
        }
        // Every truncation is dropped, never panics.
        for n in 0..enc.len() {
            assert!(rx.unprotect_rtp(&enc[..n], &mut dec).is_err());
        }
        rx.unprotect_rtp(&enc, &mut dec).unwrap();

        tx.protect_rtcp(&[0x80, 201, 0, 1, 0, 0, 0, 5], &mut enc)
            .unwrap();
        for n in 0..enc.len() {
            assert!(rx.unprotect_rtcp(&enc[..n], &mut dec).is_err(), "len {n}");
        }
        let mut f = enc.clone();
        let last = f.len() - 1;
        f[last] ^= 0x80;
        assert_eq!(
            rx.unprotect_rtcp(&f, &mut dec),
            Err(DropReason::AuthenticationFailed)
        );
        rx.unprotect_rtcp(&enc, &mut dec).unwrap();
    }
}

#[test]
fn srtcp_with_e_flag_clear_is_dropped_unchecked_tag_or_not() {
    // webrtc-srtp would return this packet as valid without checking the tag.
    let k = key(CryptoSuite::AesCm128HmacSha1_80, &TEST_KEY);
    let mut rx = SrtpReceiver::new(&k).unwrap();
    let mut forged = RTCP_PLAINTEXT.to_vec();
    forged.extend_from_slice(&[0x00, 0x00, 0x00, 0x07]); // E=0, index 7
    forged.extend_from_slice(&[0u8; 10]); // garbage tag
    let mut out = Vec::new();
    assert_eq!(
        rx.unprotect_rtcp(&forged, &mut out),
        Err(DropReason::UnencryptedSrtcp)
    );
    // Short SRTCP that makes webrtc-srtp panic: 4..=21 bytes.
    for n in 0..40 {
        let _ = rx.unprotect_rtcp(&SRTCP_CIPHERTEXT_80[..n.min(38)], &mut out);
    }
}

#[test]
fn forged_first_packet_does_not_block_the_real_stream() {
    let k = &all_suites()[0];
    let mut tx = SrtpSender::new(k).unwrap();
    let mut rx = SrtpReceiver::new(k).unwrap();
    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    tx.protect_rtp(&rtp(1000, 42, &[3; 160]), &mut enc).unwrap();
    // A forgery with the same SSRC and sequence number arrives first.
    let mut forged = enc.clone();
    forged[20] ^= 0xff;
    assert_eq!(
        rx.unprotect_rtp(&forged, &mut dec),
        Err(DropReason::AuthenticationFailed)
    );
    // And a forged SRTCP packet for the same SSRC.
    let mut rtcp_enc = Vec::new();
    tx.protect_rtcp(&[0x80, 200 + 1, 0, 1, 0, 0, 0, 42], &mut rtcp_enc)
        .unwrap();
    let mut forged_rtcp = rtcp_enc.clone();
    forged_rtcp[9] ^= 1;
    assert!(rx.unprotect_rtcp(&forged_rtcp, &mut dec).is_err());
    // The real ones are accepted.
    rx.unprotect_rtp(&enc, &mut dec).unwrap();
    rx.unprotect_rtcp(&rtcp_enc, &mut dec).unwrap();
    for seq in 1001..1010 {
        tx.protect_rtp(&rtp(seq, 42, &[3; 160]), &mut enc).unwrap();
        rx.unprotect_rtp(&enc, &mut dec).unwrap();
    }
}

#[test]
fn many_forged_ssrcs_stay_bounded_and_real_streams_survive() {
    let k = &all_suites()[0];
    let mut tx = SrtpSender::new(k).unwrap();
    let mut rx = SrtpReceiver::new(k).unwrap();
    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    tx.protect_rtp(&rtp(1, 77, &[3; 160]), &mut enc).unwrap();
    rx.unprotect_rtp(&enc, &mut dec).unwrap();
    for ssrc in 0..5000u32 {
        let mut forged = enc.clone();
        forged[8..12].copy_from_slice(&ssrc.wrapping_mul(2_654_435_761).to_be_bytes());
        let _ = rx.unprotect_rtp(&forged, &mut dec);
        let mut forged_rtcp = vec![0x80, 201, 0, 1];
        forged_rtcp.extend_from_slice(&ssrc.to_be_bytes());
        forged_rtcp.extend_from_slice(&[0x80, 0, 0, 1]);
        forged_rtcp.extend_from_slice(&[0; 10]);
        let _ = rx.unprotect_rtcp(&forged_rtcp, &mut dec);
    }
    tx.protect_rtp(&rtp(2, 77, &[3; 160]), &mut enc).unwrap();
    rx.unprotect_rtp(&enc, &mut dec).unwrap();
    assert!(format!("{rx:?}").contains("streams: 1"));
}

#[test]
fn debug_output_redacts_keys() {
    let k = key(CryptoSuite::AesCm128HmacSha1_80, &TEST_KEY);
    let tx = SrtpSender::new(&k).unwrap();
    let rx = SrtpReceiver::new(&k).unwrap();
    for s in [format!("{tx:?}"), format!("{rx:?}")] {
        assert!(s.contains("redacted"));
        assert!(!s.contains(&k.to_inline()));
    }
    let _ = ReplayWindow::default();
}

#[test]
fn wrong_key_fails_authentication() {
    let ks = all_suites();
    let mut tx = SrtpSender::new(&ks[0]).unwrap();
    let other =
        SrtpKeyingMaterial::from_parts(ks[0].suite(), &[7; 16], ks[0].master_salt()).unwrap();
    let mut rx = SrtpReceiver::new(&other).unwrap();
    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    tx.protect_rtp(&rtp(1, 1, &[0; 160]), &mut enc).unwrap();
    assert_eq!(
        rx.unprotect_rtp(&enc, &mut dec),
        Err(DropReason::AuthenticationFailed)
    );
}
