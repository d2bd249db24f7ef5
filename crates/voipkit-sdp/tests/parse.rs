//! Parsing and printing: tolerance of what phones send, clear errors,
//! bounds, round trips, redaction.

mod common;

use common::*;
use voipkit_sdp::*;

#[test]
fn every_sample_parses_and_round_trips() {
    let mut n = 0;
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let parsed =
            SessionDescription::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        wire(&parsed);
        n += 1;
    }
    assert!(n >= 35, "only {n} samples");
}

#[test]
fn rfc_examples_print_byte_identical() {
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        // §9 of RFC 3264 prints t= before c=; we print RFC 8866 order.
        if !name.starts_with("rfc") || name == "rfc3264-9-capabilities.sdp" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let parsed = SessionDescription::parse(&bytes).unwrap();
        assert_eq!(parsed.to_string().as_bytes(), &bytes[..], "{name}");
    }
}

#[test]
fn rfc3264_capabilities_with_c_after_t() {
    let s = sdp("rfc3264-9-capabilities.sdp");
    assert_eq!(s.origin.session_id, "28908764872");
    assert_eq!(s.origin.session_version, 28908764872);
    assert_eq!(
        s.connection.as_ref().unwrap().address,
        Address::Ip("192.0.2.4".parse().unwrap())
    );
    assert_eq!(s.media.len(), 2);
    assert!(s.media.iter().all(|m| m.port == 0));
    let m = &s.media[0];
    assert_eq!(m.payload_types().collect::<Vec<_>>(), vec![0, 1, 3]);
    assert_eq!(m.rtpmap(3).unwrap().encoding_name, "GSM");
}

#[test]
fn session_name_empty_space_or_missing() {
    let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n{S}c=IN IP4 192.0.2.1\r\nt=0 0\r\n";
    let empty = parse(&base.replace("{S}", "s=\r\n"));
    assert_eq!(empty.session_name, "");
    let space = parse(&base.replace("{S}", "s= \r\n"));
    assert_eq!(space.session_name, " ");
    assert!(space.to_string().contains("\r\ns= \r\n"));
    let missing = parse(&base.replace("{S}", ""));
    assert_eq!(missing.session_name, "-");
    for s in [empty, space, missing] {
        wire(&s);
    }
}

#[test]
fn lf_only_missing_t_and_unknown_attributes() {
    let bytes = raw("deskphone-lf-no-t.sdp");
    assert!(!bytes.contains(&b'\r'));
    let s = SessionDescription::parse(&bytes).unwrap();
    assert_eq!(s.times.len(), 1);
    assert_eq!(s.times[0].timing, "0 0");
    let m = &s.media[0];
    assert_eq!(
        m.attribute("X-vendor-stats").unwrap().value.as_deref(),
        Some("on")
    );
    let printed = s.to_string();
    assert!(printed.contains("a=X-vendor-stats:on\r\n"));
    assert!(printed.contains("t=0 0\r\n"));
    assert_eq!(m.fmtp(18).unwrap().get("annexb"), Some("no"));
}

#[test]
fn blank_lines_and_trailing_garbage_whitespace_tolerated() {
    let s = parse(
        "\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly \r\n\r\n",
    );
    assert_eq!(s.media[0].direction(), Some(Direction::SendOnly));
}

#[test]
fn unknown_line_types_and_verbatim_lines_kept_in_order() {
    let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=x\r\ni=info\r\nu=http://example.com/\r\ne=a@example.com\r\np=+1 555\r\nc=IN IP4 192.0.2.1\r\nb=AS:64\r\nt=0 0\r\nr=7d 1h 0 25h\r\nz=2882844526 -1h\r\nk=prompt\r\ny=0123456789\r\na=tool:x\r\nm=audio 4000/2 RTP/AVP 0\r\ni=media info\r\nc=IN IP4 192.0.2.2/127\r\nb=TIAS:64000\r\nk=clear:secret\r\nx=unknown\r\na=rtpmap:0 PCMU/8000\r\n";
    let s = parse(text);
    assert_eq!(s.to_string(), text);
    assert_eq!(s.times[0].repeats, vec!["7d 1h 0 25h"]);
    assert_eq!(s.media[0].port_count, Some(2));
    assert_eq!(
        s.media[0]
            .connection
            .as_ref()
            .unwrap()
            .multicast_suffix
            .as_deref(),
        Some("127")
    );
    // Lines given out of order come out in RFC 8866 order and stay there.
    let shuffled = parse("v=0\r\nb=AS:1\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\ni=x\r\ns=y\r\n");
    wire(&shuffled);
    assert_eq!(
        shuffled.to_string(),
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=y\r\ni=x\r\nb=AS:1\r\nt=0 0\r\n"
    );
}

#[test]
fn ipv6_and_hostnames() {
    let s = sdp("baresip-ipv6.sdp");
    let c = s.connection.as_ref().unwrap();
    assert_eq!(c.address_type, AddressType::Ip6);
    assert_eq!(c.address, Address::Ip("2001:db8::30".parse().unwrap()));
    assert_eq!(s.origin.address_type, AddressType::Ip6);

    let mut h = SessionDescription::parse(&raw("rfc4317-2.1-offer.sdp")).unwrap();
    assert_eq!(h.hostnames(), vec!["host.atlanta.example.com".to_owned()]);
    h.resolve_hostnames(|_| None);
    assert_eq!(h.hostnames().len(), 1);
    h.resolve_hostnames(resolve);
    assert!(h.hostnames().is_empty());
    assert_eq!(
        h.connection.as_ref().unwrap().address.ip(),
        Some("192.0.2.1".parse().unwrap())
    );
    // A bracketed IPv6 literal (seen from broken stacks) is accepted.
    let b = parse("v=0\r\no=- 1 1 IN IP6 [2001:db8::1]\r\ns=-\r\nc=IN IP6 [2001:db8::1]\r\n");
    assert_eq!(
        b.connection.unwrap().address,
        Address::Ip("2001:db8::1".parse().unwrap())
    );
}

fn err(text: &str) -> SdpError {
    SessionDescription::parse(text.as_bytes()).unwrap_err()
}

fn syntax_line(e: &SdpError) -> usize {
    match e {
        SdpError::Syntax { line, .. } => *line,
        other => panic!("not a syntax error: {other:?}"),
    }
}

#[test]
fn malformed_input_gets_clear_errors() {
    assert_eq!(err(""), SdpError::Missing("v="));
    assert_eq!(err("v=0\r\ns=-\r\n"), SdpError::Missing("o="));
    assert_eq!(syntax_line(&err("hello")), 1);
    assert_eq!(syntax_line(&err("o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n")), 1);
    assert_eq!(syntax_line(&err("v=1\r\n")), 1);
    let bad_o = err("v=0\r\no=- 1 IN IP4 192.0.2.1\r\n");
    assert_eq!(syntax_line(&bad_o), 2);
    assert!(bad_o.to_string().contains("line 2"), "{bad_o}");
    assert!(bad_o.to_string().contains("6 fields"), "{bad_o}");
    assert_eq!(syntax_line(&err("v=0\r\no=- 1 x IN IP4 192.0.2.1\r\n")), 2);
    assert_eq!(
        syntax_line(&err(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
        )),
        3
    );
    let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
    for (bad, line) in [
        ("m=audio 70000 RTP/AVP 0", 5),
        ("m=audio", 5),
        ("m=audio x RTP/AVP 0", 5),
        ("c=IN IP4", 5),
        ("c=IN IP4 bad!address", 5),
        ("m=audio 4000 RTP/AVP 0\r\nt=0 0", 6),
        (
            "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1",
            7,
        ),
        ("r=1d 1h 0", 5),
        ("a=x\0y", 5),
        ("a=x\ry", 5),
        ("A=x", 5),
        ("a x", 5),
    ] {
        let text = format!("{base}{bad}\r\n");
        let text = if bad.starts_with("r=") {
            text.replace("t=0 0\r\n", "")
        } else {
            text
        };
        let e = err(&text);
        let expected = if bad.starts_with("r=") {
            line - 1
        } else {
            line
        };
        assert_eq!(syntax_line(&e), expected, "{bad:?}: {e}");
    }
    let not_utf8 = SessionDescription::parse(b"v=0\r\ns=\xff\r\n").unwrap_err();
    assert_eq!(not_utf8, SdpError::NotUtf8 { offset: 7 });
}

#[test]
fn sizes_are_bounded() {
    let big = vec![b'a'; MAX_SDP_LEN + 1];
    assert!(matches!(
        SessionDescription::parse(&big),
        Err(SdpError::TooLarge { .. })
    ));
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
    let many_media = format!("{head}{}", "m=audio 1 RTP/AVP 0\r\n".repeat(MAX_MEDIA + 1));
    assert_eq!(
        err(&many_media),
        SdpError::TooMany {
            what: "media sections",
            limit: MAX_MEDIA
        }
    );
    let many_formats = format!(
        "{head}m=audio 1 RTP/AVP{}\r\n",
        " 0".repeat(MAX_FORMATS + 1)
    );
    assert_eq!(syntax_line(&err(&many_formats)), 5);
    let many_attrs = format!(
        "{head}m=audio 1 RTP/AVP 0\r\n{}",
        "a=x\r\n".repeat(MAX_ATTRIBUTES + 1)
    );
    assert!(matches!(err(&many_attrs), SdpError::TooMany { .. }));
    let many_session_attrs = format!("{head}{}", "a=x\r\n".repeat(MAX_ATTRIBUTES + 1));
    assert!(matches!(err(&many_session_attrs), SdpError::TooMany { .. }));
    // At the limits it still parses.
    let ok = format!(
        "{head}{}",
        "m=audio 1 RTP/AVP 0\r\na=sendrecv\r\n".repeat(MAX_MEDIA)
    );
    assert_eq!(parse(&ok).media.len(), MAX_MEDIA);
}

#[test]
fn debug_never_shows_keys() {
    let s = sdp("asterisk-srtp-opus.sdp");
    let dbg = format!("{s:?}");
    assert!(
        !dbg.contains("RCCCPP3m8cJrMPkOx90B5Ih1NKIPCw0Ew27YDnHg"),
        "{dbg}"
    );
    assert!(dbg.contains("redacted"));
    let crypto = &s.media[0].crypto()[0];
    assert!(!format!("{crypto:?}").contains("RCCCPP3m"));
    // k= lines too.
    let k = parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nk=clear:hunter2\r\n");
    assert!(!format!("{k:?}").contains("hunter2"));
    // Printing (the wire format) does carry them.
    assert!(
        s.to_string()
            .contains("inline:RCCCPP3m8cJrMPkOx90B5Ih1NKIPCw0Ew27YDnHg")
    );
}

#[test]
fn typed_attributes() {
    let s = sdp("freeswitch-opus-sdes.sdp");
    let m = &s.media[0];
    let opus = m.rtpmap(102).unwrap();
    assert_eq!(
        opus,
        RtpMap {
            payload_type: 102,
            encoding_name: "opus".into(),
            clock_rate: 48000,
            channels: Some(2)
        }
    );
    assert_eq!(opus.to_string(), "102 opus/48000/2");
    let fmtp = m.fmtp(102).unwrap();
    assert!(fmtp.flag("useinbandfec"));
    assert_eq!(fmtp.get("MaxPlaybackRate"), Some("16000"));
    assert_eq!(
        fmtp.to_string(),
        "useinbandfec=1;maxplaybackrate=16000;sprop-maxcapturerate=16000;maxaveragebitrate=20000"
    );
    assert_eq!(m.fmtp(101).unwrap().get("0-16"), Some(""));
    assert_eq!(m.ptime(), Some(20));
    let rtcp = m.rtcp().unwrap();
    assert_eq!(rtcp.port, 24561);
    assert_eq!(rtcp.to_string(), "24561 IN IP4 192.0.2.20");
    let crypto = m.crypto();
    assert_eq!(crypto.len(), 3);
    assert_eq!(crypto[0].suite(), None, "AES_CM_256 is not ours");
    assert!(crypto[0].usable_key().is_none());
    assert_eq!(crypto[1].suite(), Some(CryptoSuite::AesCm128HmacSha1_80));
    assert!(crypto[1].usable_key().is_some());

    // Lifetimes are fine; MKIs, several keys and SRTP-changing session
    // parameters make a line unusable.
    let line = |s: &str| s.parse::<CryptoAttribute>().unwrap();
    let key = "RCCCPP3m8cJrMPkOx90B5Ih1NKIPCw0Ew27YDnHg";
    for (rest, usable) in [
        (format!("inline:{key}|2^20"), true),
        (format!("inline:{key} WSH=64"), true),
        (format!("inline:{key}|2^20|1:4"), false),
        (format!("inline:{key}|1:4"), false),
        (format!("inline:{key};inline:{key}"), false),
        (format!("inline:{key} UNENCRYPTED_SRTCP"), false),
        (format!("inline:{key} KDR=1"), false),
        // A key of the wrong length.
        ("inline:c2hvcnQ=".to_owned(), false),
    ] {
        assert_eq!(
            line(&format!("1 AES_CM_128_HMAC_SHA1_80 {rest}"))
                .usable_key()
                .is_some(),
            usable,
            "{rest}"
        );
    }
    assert!(
        "x AES_CM_128_HMAC_SHA1_80 inline:x"
            .parse::<CryptoAttribute>()
            .is_err()
    );
    assert!(
        "1 AES_CM_128_HMAC_SHA1_80"
            .parse::<CryptoAttribute>()
            .is_err()
    );
    // GCM key without its base64 padding.
    let gcm = line("1 AEAD_AES_128_GCM inline:0/i21LEAqeoOdVpcLoIQJCoI5wePf4k4XrCUIw");
    assert_eq!(
        gcm.usable_key().unwrap().suite(),
        CryptoSuite::AeadAes128Gcm
    );

    for bad in [
        "",
        "96",
        "x opus/48000",
        "200 opus/48000",
        "96 opus",
        "96 opus/x",
        "96 opus/48000/0",
        "96 /8000",
        "96 a/1/2/3",
    ] {
        assert!(bad.parse::<RtpMap>().is_err(), "{bad:?}");
    }
    assert_eq!("0 PCMU/8000".parse::<RtpMap>().unwrap().channels, None);
    assert!("0".parse::<RtcpAttribute>().is_err());
    assert!("5000 IN IP4".parse::<RtcpAttribute>().is_err());
    assert_eq!("5000".parse::<RtcpAttribute>().unwrap().connection, None);
}

#[test]
fn direction_algebra() {
    use Direction::*;
    for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
        assert_eq!(Direction::from_name(d.name()), Some(d));
        assert_eq!(d.reversed().reversed(), d);
        assert_eq!(d.intersect(SendRecv), d);
        assert_eq!(d.intersect(Inactive), Inactive);
    }
    assert_eq!(SendOnly.reversed(), RecvOnly);
    assert_eq!(SendOnly.intersect(RecvOnly), Inactive);
    assert_eq!(Direction::from_name("SENDONLY"), Some(SendOnly));
    assert_eq!(Direction::from_name("rtcp-mux"), None);
}
