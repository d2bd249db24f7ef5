//! Writes the seed corpora of the media fuzz targets (real packets from
//! the tests, libsrtp's reference vectors, STUN Binding messages).
//! Run: `cargo test -p voipkit-media --test fuzz_corpus -- --ignored`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use voipkit_media::dtmf::TelephoneEvent;
use voipkit_media::fuzzing::srtp_test_key;
use voipkit_media::rtcp::{ReportBlock, SenderInfo, build_compound};
use voipkit_media::rtp::{RtpHeaderFields, build_rtp};
use voipkit_media::srtp::SrtpSender;
use voipkit_media::{
    ChaCha20Rng, MediaSession, MediaSessionConfig, SeedableRng, TransmitKind, stun,
};

fn dir(target: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    std::fs::write(dir(target).join(name), bytes).unwrap();
}

/// Writes `packet` behind the selector byte the SRTP targets start with.
fn write_selected(target: &str, name: &str, selector: u8, packet: &[u8]) {
    write(target, name, &[&[selector][..], packet].concat());
}

fn rtp(pt: u8, marker: bool, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    build_rtp(
        RtpHeaderFields {
            payload_type: pt,
            marker,
            sequence_number: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0xcafe_babe,
        },
        payload,
        &mut out,
    )
    .unwrap();
    out
}

#[test]
#[ignore = "writes fuzz/corpus; run by hand"]
fn write_fuzz_corpus() {
    // rtp_parse
    write("rtp_parse", "g711", &rtp(0, true, 1, &[0xd5; 160]));
    write("rtp_parse", "pcma", &rtp(8, false, 2, &[0x55; 160]));
    let te = TelephoneEvent {
        event: 5,
        end: true,
        volume: 10,
        duration: 800,
    };
    write(
        "rtp_parse",
        "telephone_event",
        &rtp(101, true, 3, &te.to_bytes()),
    );
    let mut full = vec![0xb2, 0x80, 0, 4, 0, 0, 2, 128, 0xca, 0xfe, 0xba, 0xbe];
    full.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
    full.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
    full.extend_from_slice(&[1, 2, 3, 0, 0, 3]);
    write("rtp_parse", "csrc_ext_padding", &full);
    let mut two = vec![0x90, 0, 0, 5, 0, 0, 3, 32, 0xca, 0xfe, 0xba, 0xbe];
    two.extend_from_slice(&[0x10, 0x00, 0, 1, 5, 2, 9, 9, 7, 7]);
    write("rtp_parse", "two_byte_ext", &two);

    // rtcp_parse
    let blocks = [ReportBlock {
        ssrc: 0xcafe_babe,
        fraction_lost: 12,
        cumulative_lost: 40,
        extended_highest_sequence: 70_000,
        jitter: 100,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 40_000,
    }];
    let mut out = Vec::new();
    let sender = SenderInfo {
        ntp_timestamp: 0xe000_0000_8000_0000,
        rtp_timestamp: 160,
        packet_count: 10,
        octet_count: 1600,
    };
    build_compound(1, Some(sender), &blocks, "a@voipkit", None, &mut out).unwrap();
    write("rtcp_parse", "sr_sdes", &out);
    build_compound(2, None, &blocks, "b@voipkit", Some("bye"), &mut out).unwrap();
    write("rtcp_parse", "rr_sdes_bye", &out);
    write(
        "rtcp_parse",
        "app",
        &[0x80, 204, 0, 2, 0, 0, 0, 1, b'n', b'a', b'm', b'e'],
    );
    let mut padded = Vec::new();
    build_compound(3, None, &[], "c", None, &mut padded).unwrap();
    let n = padded.len();
    // Last packet padded by 4 bytes.
    let sdes_start = 8;
    padded[sdes_start] |= 0x20;
    let words = u16::from_be_bytes([padded[sdes_start + 2], padded[sdes_start + 3]]) + 1;
    padded[sdes_start + 2..sdes_start + 4].copy_from_slice(&words.to_be_bytes());
    padded.extend_from_slice(&[0, 0, 0, 4]);
    assert_eq!(padded.len(), n + 4);
    write("rtcp_parse", "padded", &padded);

    // srtp_unprotect: [selector, packet]; selector bits 2.. pick the mode.
    let srtp_80: [u8; 38] = [
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55, 0xdc,
        0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
        0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
    ];
    let srtp_gcm: [u8; 44] = [
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xc5, 0x00, 0x2e,
        0xde, 0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11, 0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97,
        0x68, 0x26, 0xf7, 0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92,
    ];
    write_selected("srtp_unprotect", "libsrtp_cm80", 0, &srtp_80);
    write_selected("srtp_unprotect", "libsrtp_cm32", 1, &srtp_80[..32]);
    write_selected("srtp_unprotect", "libsrtp_gcm128", 2, &srtp_gcm);
    for sel in 0..4u8 {
        let mut tx = SrtpSender::new(&srtp_test_key(sel).unwrap()).unwrap();
        let mut enc = Vec::new();
        tx.protect_rtp(&rtp(15, true, 100, &[0xd5; 160]), &mut enc)
            .unwrap();
        write_selected("srtp_unprotect", &format!("g711_{sel}"), sel, &enc);
        tx.protect_rtp(&full, &mut enc).unwrap();
        write_selected("srtp_unprotect", &format!("ext_{sel}"), sel, &enc);
        // Round-trip and bit-flip modes.
        write_selected(
            "srtp_unprotect",
            &format!("roundtrip_{sel}"),
            sel | 4,
            &rtp(15, false, 7, &[1; 20]),
        );
        write_selected(
            "srtp_unprotect",
            &format!("flip_{sel}"),
            sel | 8,
            &rtp(15, false, 9, &[2; 20]),
        );
    }

    // srtcp_unprotect
    let srtcp_80: [u8; 38] = [
        0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4, 0x87, 0xb9,
        0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e,
        0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98,
    ];
    let srtcp_gcm: [u8; 44] = [
        0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b, 0x5d, 0xf0, 0x39, 0x2a,
        0x55, 0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e, 0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3,
        0xb4, 0x46, 0xea, 0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01,
    ];
    write_selected("srtcp_unprotect", "libsrtp_cm80", 0, &srtcp_80);
    write_selected("srtcp_unprotect", "libsrtp_cm32", 1, &srtcp_80);
    write_selected("srtcp_unprotect", "libsrtp_gcm128", 2, &srtcp_gcm);
    let mut sr = Vec::new();
    build_compound(
        0xcafe_babe,
        Some(sender),
        &blocks,
        "x@voipkit",
        None,
        &mut sr,
    )
    .unwrap();
    for sel in 0..4u8 {
        let mut tx = SrtpSender::new(&srtp_test_key(sel).unwrap()).unwrap();
        let mut enc = Vec::new();
        tx.protect_rtcp(&sr, &mut enc).unwrap();
        write_selected("srtcp_unprotect", &format!("sr_{sel}"), sel, &enc);
        write_selected("srtcp_unprotect", &format!("roundtrip_{sel}"), sel | 4, &sr);
        write_selected("srtcp_unprotect", &format!("flip_{sel}"), sel | 8, &sr);
    }

    // stun_decode
    write(
        "stun_decode",
        "binding_request",
        &stun::binding_request([1; 12]),
    );
    write(
        "stun_decode",
        "binding_indication",
        &stun::binding_indication([2; 12]),
    );
    write(
        "stun_decode",
        "binding_success_v4",
        &stun::binding_success([3; 12], "192.0.2.1:32853".parse().unwrap()),
    );
    write(
        "stun_decode",
        "binding_success_v6",
        &stun::binding_success([4; 12], "[2001:db8::1]:40000".parse().unwrap()),
    );
    // RFC 5769 §2.2 sample IPv4 response (XOR-MAPPED-ADDRESS 192.0.2.1:32853,
    // SOFTWARE, MESSAGE-INTEGRITY, FINGERPRINT).
    let rfc5769: [u8; 80] = [
        0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76,
        0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1,
        0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
        0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00,
        0x04, 0xc0, 0x7d, 0x4c, 0x96,
    ];
    write("stun_decode", "rfc5769_response_v4", &rfc5769);

    // dtmf_event: records of [ssrc, ts hi, ts lo, time step, payload x4].
    let mut seq = Vec::new();
    for (ts, step, end, dur) in [
        (10u16, 0, false, 160u16),
        (10, 5, false, 320),
        (10, 5, true, 800),
        (10, 5, true, 800),
        (10, 5, true, 800),
        (30, 50, false, 160),
        (30, 5, false, 320),
        (50, 250, true, 480),
    ] {
        let te = TelephoneEvent {
            event: (ts / 10) as u8,
            end,
            volume: 10,
            duration: dur,
        };
        seq.push(0);
        seq.extend_from_slice(&ts.to_be_bytes());
        seq.push(step);
        seq.extend_from_slice(&te.to_bytes());
    }
    write("dtmf_event", "digits", &seq);

    // A real session's datagrams, too.
    let now = Instant::now();
    let mut cfg = MediaSessionConfig::new("127.0.0.1:4000".parse().unwrap(), 0, 8000);
    cfg.telephone_event_payload_type = Some(101);
    let mut s = MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(1), now).unwrap();
    s.send_audio(now, &[0xd5; 160], 160).unwrap();
    s.handle_timeout(now + Duration::from_secs(4));
    let mut i = 0;
    while let Some(t) = s.poll_transmit() {
        let target = match t.kind {
            TransmitKind::Rtp => "rtp_parse",
            TransmitKind::Rtcp => "rtcp_parse",
            _ => "stun_decode",
        };
        write(target, &format!("session_{i}"), &t.contents);
        i += 1;
    }
}
