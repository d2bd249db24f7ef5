//! Offer/answer flows between two `SdpSession`s and against offers as
//! Asterisk, FreeSWITCH, baresip and desk phones write them.

mod common;

use common::*;
use voipkit_sdp::*;

fn alice() -> SdpSession {
    session(MediaConfig::default(), "127.0.0.1:4000", 1)
}

fn bob() -> SdpSession {
    session(MediaConfig::default(), "127.0.0.1:5000", 2)
}

/// Offer from `a`, answer from `b`, both through the wire; returns what
/// each side negotiated.
fn exchange(
    a: &mut SdpSession,
    b: &mut SdpSession,
    seed: u64,
) -> (Option<NegotiatedAudio>, Option<NegotiatedAudio>) {
    let mut r = rng(seed);
    let offer = wire(&a.create_offer(&mut r).unwrap());
    let answer = b.answer_offer(&offer, &mut r).unwrap();
    let answer_sdp = wire(&answer.sdp);
    let a_audio = a.accept_answer(&answer_sdp).unwrap();
    (a_audio, answer.audio)
}

fn attr_values(m: &MediaDescription, name: &str) -> Vec<String> {
    m.attribute_values(name).map(str::to_owned).collect()
}

#[test]
fn default_offer_contents() {
    let mut a = alice();
    let offer = a.create_offer(&mut rng(1)).unwrap();
    let text = offer.to_string();
    assert!(text.starts_with("v=0\r\no=- "), "{text}");
    assert!(
        text.contains("\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"),
        "{text}"
    );
    assert_eq!(offer.origin.session_id, a.session_id().to_string());
    assert_eq!(offer.origin.session_version, a.session_version());
    assert_eq!(offer.media.len(), 1);
    let m = &offer.media[0];
    assert_eq!((m.media.as_str(), m.port), ("audio", 4000));
    assert_eq!(m.protocol, "RTP/AVP", "best-effort SDES rides on RTP/AVP");
    assert_eq!(m.formats, vec!["111", "0", "8", "110", "101"]);
    assert_eq!(
        attr_values(m, "rtpmap"),
        vec![
            "111 opus/48000/2",
            "0 PCMU/8000",
            "8 PCMA/8000",
            "110 telephone-event/48000",
            "101 telephone-event/8000"
        ]
    );
    assert_eq!(
        attr_values(m, "fmtp"),
        vec!["111 useinbandfec=1", "110 0-16", "101 0-16"]
    );
    assert_eq!(m.ptime(), Some(20));
    assert!(m.has_flag("rtcp-mux"));
    assert_eq!(m.direction(), Some(Direction::SendRecv));
    let crypto = m.crypto();
    let suites: Vec<_> = crypto.iter().map(|c| c.suite().unwrap()).collect();
    assert_eq!(
        suites,
        vec![
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AeadAes128Gcm,
            CryptoSuite::AesCm128HmacSha1_32
        ]
    );
    assert_eq!(
        crypto.iter().map(|c| c.tag).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(crypto.iter().all(|c| c.usable_key().is_some()));
    assert_ne!(crypto[0].key_params, crypto[2].key_params);
}

#[test]
fn srtp_policies_shape_the_offer() {
    for (srtp, protocol, crypto_lines) in [
        (SrtpPolicy::Mandatory, "RTP/SAVP", 3),
        (SrtpPolicy::Disabled, "RTP/AVP", 0),
    ] {
        let config = MediaConfig {
            srtp,
            ..MediaConfig::default()
        };
        let offer = session(config, "127.0.0.1:4000", 1)
            .create_offer(&mut rng(1))
            .unwrap();
        assert_eq!(offer.media[0].protocol, protocol, "{srtp:?}");
        assert_eq!(offer.media[0].crypto().len(), crypto_lines, "{srtp:?}");
    }
}

#[test]
fn basic_call_between_two_sessions() {
    let (mut a, mut b) = (alice(), bob());
    let (a_audio, b_audio) = exchange(&mut a, &mut b, 10);
    let (a_audio, b_audio) = (a_audio.unwrap(), b_audio.unwrap());
    assert_eq!(a_audio.codec.codec, AudioCodec::Opus);
    assert_eq!(a_audio.codec.send_payload_type, 111);
    assert_eq!(a_audio.codec.recv_payload_type, 111);
    assert_eq!(
        (a_audio.codec.clock_rate, a_audio.codec.channels),
        (48000, 2)
    );
    assert!(a_audio.codec.use_inband_fec());
    assert!(b_audio.codec.use_inband_fec());
    assert_eq!(
        a_audio.telephone_event,
        Some(TelephoneEvent {
            send_payload_type: 110,
            recv_payload_type: 110,
            clock_rate: 48000,
            audio_clock_rate: 48000
        })
    );
    assert_eq!(b_audio.telephone_event, a_audio.telephone_event);
    assert_eq!(a_audio.remote_rtp, addr("127.0.0.1:5000"));
    assert_eq!(b_audio.remote_rtp, addr("127.0.0.1:4000"));
    assert_eq!(a_audio.local_rtp, addr("127.0.0.1:4000"));
    assert!(a_audio.rtcp_mux && b_audio.rtcp_mux);
    assert_eq!(a_audio.remote_rtcp, a_audio.remote_rtp);
    assert_eq!(a_audio.local_rtcp, a_audio.local_rtp);
    assert_eq!(a_audio.ptime, 20);
    assert_eq!(a_audio.direction, Direction::SendRecv);
    assert_eq!(b_audio.direction, Direction::SendRecv);
    // SDES: one suite, each side's key is the other's remote key.
    let (sa, sb) = (a_audio.srtp.unwrap(), b_audio.srtp.unwrap());
    assert_eq!(sa.suite(), CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(sa.suite(), sb.suite());
    assert_eq!(sa.local, sb.remote);
    assert_eq!(sa.remote, sb.local);
    assert_ne!(sa.local, sa.remote);
    // The answer carries one a=crypto, with the tag it accepted.
    let answer = b.local_description().unwrap();
    let crypto = answer.media[0].crypto();
    assert_eq!(crypto.len(), 1);
    assert_eq!(crypto[0].tag, 1);
    // Both sides remember the exchange.
    assert_eq!(a.remote_description(), b.local_description());
    assert!(a.pending_offer().is_none());
}

#[test]
fn answer_takes_the_offerers_codec_order_and_payload_types() {
    // Offer lists PCMA before PCMU, with unusual dynamic numbers.
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 7000 RTP/AVP 8 0 97\r\na=rtpmap:97 telephone-event/8000\r\n",
    );
    let config = MediaConfig {
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
        ..MediaConfig::default()
    };
    let answer = session(config, "127.0.0.1:5000", 3)
        .answer_offer(&offer, &mut rng(1))
        .unwrap();
    let m = &answer.sdp.media[0];
    assert_eq!(m.formats, vec!["8", "97"]);
    assert_eq!(
        attr_values(m, "rtpmap"),
        vec!["8 PCMA/8000", "97 telephone-event/8000"]
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Pcma);
    assert_eq!(audio.telephone_event.unwrap().send_payload_type, 97);
    // Opus at a dynamic number the offerer chose.
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 7000 RTP/AVP 96 0 98\r\na=rtpmap:96 OPUS/48000/2\r\na=rtpmap:98 telephone-event/48000\r\n",
    );
    let answer = bob().answer_offer(&offer, &mut rng(1)).unwrap();
    assert_eq!(answer.sdp.media[0].formats, vec!["96", "98"]);
    assert_eq!(
        attr_values(&answer.sdp.media[0], "fmtp"),
        vec!["96 useinbandfec=1", "98 0-16"]
    );
}

#[test]
fn pcmu_only_peer_gets_telephone_event_at_8000() {
    let mut a = alice();
    let mut b = session(
        MediaConfig {
            codecs: vec![AudioCodec::Pcmu],
            ..MediaConfig::default()
        },
        "127.0.0.1:5000",
        2,
    );
    let (a_audio, b_audio) = exchange(&mut a, &mut b, 11);
    let (a_audio, b_audio) = (a_audio.unwrap(), b_audio.unwrap());
    assert_eq!(b_audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(a_audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(a_audio.codec.send_payload_type, 0);
    let te = a_audio.telephone_event.unwrap();
    assert_eq!((te.send_payload_type, te.clock_rate), (101, 8000));
}

/// The RFC 3264 §6.1 direction table, and how our hold narrows it.
#[test]
fn answer_direction_table() {
    use Direction::*;
    let cases = [
        (SendRecv, false, SendRecv),
        (SendOnly, false, RecvOnly),
        (RecvOnly, false, SendOnly),
        (Inactive, false, Inactive),
        (SendRecv, true, SendOnly),
        (SendOnly, true, Inactive),
        (RecvOnly, true, SendOnly),
        (Inactive, true, Inactive),
    ];
    for (offered, held, expected) in cases {
        let offer = parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
             m=audio 7000 RTP/AVP 0\r\na={offered}\r\n"
        ));
        let mut b = bob();
        b.set_held(held);
        let answer = b.answer_offer(&offer, &mut rng(1)).unwrap();
        assert_eq!(
            answer.sdp.media[0].direction(),
            Some(expected),
            "{offered} held={held}"
        );
        assert_eq!(answer.audio.unwrap().direction, expected);
    }
    // Session-level direction applies when the media section has none.
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\na=sendonly\r\n\
         m=audio 7000 RTP/AVP 0\r\n",
    );
    let answer = bob().answer_offer(&offer, &mut rng(1)).unwrap();
    assert_eq!(answer.audio.unwrap().direction, RecvOnly);
}

#[test]
fn hold_and_resume_by_reoffer() {
    let (mut a, mut b) = (alice(), bob());
    exchange(&mut a, &mut b, 20);
    let v0 = a.session_version();
    let id = a.session_id();

    a.set_held(true);
    let (a_audio, b_audio) = exchange(&mut a, &mut b, 21);
    assert_eq!(a.session_version(), v0 + 1);
    assert_eq!(a.session_id(), id);
    let offer = a.local_description().unwrap();
    assert_eq!(offer.media[0].direction(), Some(Direction::SendOnly));
    assert_eq!(offer.origin.session_version, v0 + 1);
    assert_eq!(a_audio.unwrap().direction, Direction::SendOnly);
    assert_eq!(b_audio.unwrap().direction, Direction::RecvOnly);

    a.set_held(false);
    let (a_audio, b_audio) = exchange(&mut a, &mut b, 22);
    assert_eq!(a.session_version(), v0 + 2);
    assert_eq!(a_audio.unwrap().direction, Direction::SendRecv);
    assert_eq!(b_audio.unwrap().direction, Direction::SendRecv);
}

#[test]
fn hold_while_held_is_inactive() {
    // RFC 3264 §8.4: a stream that was recvonly is held with inactive.
    let (mut a, mut b) = (alice(), bob());
    exchange(&mut a, &mut b, 30);
    b.set_held(true);
    let (b_audio, a_audio) = exchange(&mut b, &mut a, 31);
    assert_eq!(a_audio.unwrap().direction, Direction::RecvOnly);
    assert_eq!(b_audio.unwrap().direction, Direction::SendOnly);
    a.set_held(true);
    let (a_audio, b_audio) = exchange(&mut a, &mut b, 32);
    let offer = a.local_description().unwrap();
    assert_eq!(offer.media[0].direction(), Some(Direction::Inactive));
    assert_eq!(a_audio.unwrap().direction, Direction::Inactive);
    assert_eq!(b_audio.unwrap().direction, Direction::Inactive);
    // B resumes: A still holds, so A answers sendonly.
    b.set_held(false);
    let (b_audio, a_audio) = exchange(&mut b, &mut a, 33);
    assert_eq!(a_audio.unwrap().direction, Direction::SendOnly);
    assert_eq!(b_audio.unwrap().direction, Direction::RecvOnly);
}

#[test]
fn reoffers_keep_keys_and_rekey_replaces_them() {
    let (mut a, mut b) = (alice(), bob());
    let (first, _) = exchange(&mut a, &mut b, 40);
    let first = first.unwrap().srtp.unwrap();
    let (second, b_second) = exchange(&mut a, &mut b, 41);
    let second = second.unwrap().srtp.unwrap();
    assert_eq!(first, second, "a plain re-offer keeps both keys");
    let _ = b_second;

    a.rekey();
    let (third, b_third) = exchange(&mut a, &mut b, 42);
    let third = third.unwrap().srtp.unwrap();
    let b_third = b_third.unwrap().srtp.unwrap();
    assert_ne!(third.local, second.local, "our key is new");
    assert_eq!(third.remote, second.remote, "the answerer kept its key");
    assert_eq!(b_third.remote, third.local, "the peer sees our new key");

    // The answerer can re-key too.
    b.rekey();
    let (fourth, _) = exchange(&mut a, &mut b, 43);
    let fourth = fourth.unwrap().srtp.unwrap();
    assert_ne!(fourth.remote, third.remote);
    assert_eq!(fourth.local, third.local);
}

#[test]
fn codec_change_by_reoffer() {
    let (mut a, mut b) = (alice(), bob());
    let (a1, _) = exchange(&mut a, &mut b, 50);
    assert_eq!(a1.unwrap().codec.codec, AudioCodec::Opus);
    a.set_config(MediaConfig {
        codecs: vec![AudioCodec::Pcma],
        ..MediaConfig::default()
    });
    let (a2, b2) = exchange(&mut a, &mut b, 51);
    let (a2, b2) = (a2.unwrap(), b2.unwrap());
    assert_eq!(a2.codec.codec, AudioCodec::Pcma);
    assert_eq!(b2.codec.codec, AudioCodec::Pcma);
    assert_eq!(a2.codec.send_payload_type, 8);
    assert_eq!(a2.telephone_event.unwrap().clock_rate, 8000);
    // Payload type numbers already in use keep their meaning.
    let offer = a.local_description().unwrap();
    assert_eq!(offer.media[0].formats, vec!["8", "101"]);
}

#[test]
fn reoffer_keeps_payload_types_the_peer_chose() {
    // We answered baresip's offer (opus 96, telephone-event/48000 101);
    // our re-offer keeps 96 and 101 for them and finds a free number for
    // telephone-event/8000.
    let mut b = bob();
    b.answer_offer(&sdp("baresip-srtp.sdp"), &mut rng(1))
        .unwrap();
    let offer = b.create_offer(&mut rng(2)).unwrap();
    let m = &offer.media[0];
    assert_eq!(m.rtpmap(96).unwrap().encoding_name, "opus");
    assert_eq!(m.rtpmap(101).unwrap().clock_rate, 48000);
    let te8000 = m
        .payload_types()
        .find(|pt| {
            m.rtpmap(*pt)
                .is_some_and(|r| r.encoding_name == "telephone-event" && r.clock_rate == 8000)
        })
        .unwrap();
    assert!(![96, 101, 9, 0, 8].contains(&te8000), "{te8000}");
    assert_eq!(m.formats.len(), 5);
    // And the peer's answer to it validates.
    let answer = parse(
        "v=0\r\no=- 1043285120 3372613831 IN IP4 192.0.2.30\r\ns=-\r\nc=IN IP4 192.0.2.30\r\nt=0 0\r\n\
         m=audio 10010 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n\
         a=rtcp-mux\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:N1PJvfoP8BadyVdWdAZmds+wtOuJAsRCadoc9rpm\r\n",
    );
    let audio = b.accept_answer(&answer).unwrap().unwrap();
    assert_eq!(audio.codec.send_payload_type, 96);
    assert_eq!(audio.telephone_event.unwrap().send_payload_type, 101);
}

#[test]
fn new_address_and_port_by_reoffer() {
    let (mut a, mut b) = (alice(), bob());
    exchange(&mut a, &mut b, 60);
    b.set_local_rtp(addr("127.0.0.1:6000"));
    b.set_local_rtcp(Some(addr("127.0.0.1:6003")));
    let (b_audio, a_audio) = exchange(&mut b, &mut a, 61);
    let a_audio = a_audio.unwrap();
    assert_eq!(a_audio.remote_rtp, addr("127.0.0.1:6000"));
    assert_eq!(b_audio.unwrap().local_rtp, addr("127.0.0.1:6000"));
    let offer = b.local_description().unwrap();
    assert_eq!(
        offer.media[0].rtcp().unwrap(),
        RtcpAttribute {
            port: 6003,
            connection: None
        }
    );
    // Without rtcp-mux the peer sends RTCP to a=rtcp.
    let config = MediaConfig {
        rtcp_mux: false,
        ..MediaConfig::default()
    };
    b.set_config(config.clone());
    a.set_config(config);
    let (b_audio, a_audio) = exchange(&mut b, &mut a, 62);
    let (a_audio, b_audio) = (a_audio.unwrap(), b_audio.unwrap());
    assert!(!a_audio.rtcp_mux);
    assert_eq!(a_audio.remote_rtcp, addr("127.0.0.1:6003"));
    assert_eq!(b_audio.local_rtcp, addr("127.0.0.1:6003"));
    assert_eq!(b_audio.remote_rtcp, addr("127.0.0.1:4001"));
}

#[test]
fn ipv6_call() {
    let mut a = session(MediaConfig::default(), "[::1]:4000", 1);
    let mut b = session(MediaConfig::default(), "[::1]:5000", 2);
    let offer = a.create_offer(&mut rng(1)).unwrap();
    let text = offer.to_string();
    assert!(text.contains("c=IN IP6 ::1\r\n"), "{text}");
    assert!(text.contains(" IN IP6 ::1\r\n"), "{text}");
    let answer = b.answer_offer(&wire(&offer), &mut rng(2)).unwrap();
    assert_eq!(answer.audio.unwrap().remote_rtp, addr("[::1]:4000"));
    let audio = a.accept_answer(&wire(&answer.sdp)).unwrap().unwrap();
    assert_eq!(audio.remote_rtp, addr("[::1]:5000"));

    let answer = bob()
        .answer_offer(&sdp("baresip-ipv6.sdp"), &mut rng(3))
        .unwrap();
    let audio = answer.audio.unwrap();
    assert_eq!(audio.remote_rtp, addr("[2001:db8::30]:10012"));
    assert!(audio.rtcp_mux);
    assert_eq!(audio.srtp, None);
}

#[test]
fn media_level_connection_and_rtcp_attribute() {
    let answer = bob()
        .answer_offer(&sdp("media-level-c-rtcp.sdp"), &mut rng(1))
        .unwrap();
    let audio = answer.audio.unwrap();
    assert_eq!(audio.remote_rtp, addr("192.0.2.61:30000"));
    assert_eq!(audio.remote_rtcp, addr("192.0.2.62:30011"));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.codec.codec, AudioCodec::Pcma);
    assert_eq!(audio.local_rtcp, addr("127.0.0.1:5001"));
    assert!(!answer.sdp.media[0].has_flag("rtcp-mux"));
}

#[test]
fn streams_we_cannot_take_get_port_zero_in_place() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=video 7002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
         m=audio 7004 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
         m=audio 7006 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n\
         m=audio 7008 RTP/AVP 0\r\n\
         m=image 7010 udptl t38\r\n",
    );
    let answer = bob().answer_offer(&offer, &mut rng(1)).unwrap();
    let lines: Vec<(String, u16, String)> = answer
        .sdp
        .media
        .iter()
        .map(|m| (m.media.clone(), m.port, m.protocol.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("video".into(), 0, "RTP/AVP".into()),
            ("audio".into(), 0, "UDP/TLS/RTP/SAVPF".into()),
            ("audio".into(), 0, "RTP/AVP".into()),
            ("audio".into(), 5000, "RTP/AVP".into()),
            ("image".into(), 0, "udptl".into()),
        ]
    );
    assert_eq!(answer.sdp.media[4].formats, vec!["t38"]);
    let reasons: Vec<RejectReason> = answer.rejected.iter().map(|r| r.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            RejectReason::NotAudio("video".into()),
            RejectReason::UnsupportedTransport("UDP/TLS/RTP/SAVPF".into()),
            RejectReason::NoCommonCodec,
            RejectReason::NotAudio("image".into()),
        ]
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.mline_index, 3);
    assert_eq!(audio.remote_rtp, addr("192.0.2.9:7008"));

    // A re-offer of ours keeps all five m-lines, the audio one in place.
    let mut b = bob();
    b.answer_offer(&offer, &mut rng(1)).unwrap();
    let reoffer = b.create_offer(&mut rng(2)).unwrap();
    let ports: Vec<u16> = reoffer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![0, 0, 0, 5000, 0]);
    assert_eq!(reoffer.media[3].media, "audio");
}

#[test]
fn offers_with_nothing_acceptable_are_refused_whole() {
    for (name, reason) in [
        (
            "webrtc-dtls.sdp",
            RejectReason::UnsupportedTransport("UDP/TLS/RTP/SAVPF".into()),
        ),
        ("t38-image.sdp", RejectReason::NotAudio("image".into())),
    ] {
        let mut b = bob();
        let e = b.answer_offer(&sdp(name), &mut rng(1)).unwrap_err();
        assert_eq!(e, SdpError::NoAcceptableMedia(reason), "{name}");
        assert_eq!(e.sip_status(), 488, "{name}");
        assert!(b.local_description().is_none());
        assert!(e.to_string().contains("no acceptable audio"));
    }
    // A T.38 re-offer on an established call: 488, the audio call goes on.
    let mut b = bob();
    b.answer_offer(&sdp("asterisk-g711.sdp"), &mut rng(1))
        .unwrap();
    let v = b.session_version();
    assert!(b.answer_offer(&sdp("t38-image.sdp"), &mut rng(2)).is_err());
    assert_eq!(b.session_version(), v);
    assert_eq!(b.negotiated().unwrap().codec.codec, AudioCodec::Pcmu);
}

#[test]
fn offer_with_no_media() {
    // RFC 4317 §5.1 style (third party call control): no m-lines at all.
    let offer =
        parse("v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n");
    let mut b = bob();
    let answer = b.answer_offer(&offer, &mut rng(1)).unwrap();
    assert!(answer.sdp.media.is_empty());
    assert_eq!(answer.audio, None);
    wire(&answer.sdp);
    // Then audio is added by a re-offer of ours.
    let reoffer = b.create_offer(&mut rng(2)).unwrap();
    assert_eq!(reoffer.media.len(), 1);
    assert_eq!(
        reoffer.origin.session_version,
        answer.sdp.origin.session_version + 1
    );
}

#[test]
fn srtp_policy_on_the_answering_side() {
    let plain = sdp("asterisk-g711.sdp");
    let savp = sdp("asterisk-srtp-opus.sdp");
    let avp_crypto = sdp("deskphone-lf-no-t.sdp");
    let with = |srtp| {
        session(
            MediaConfig {
                srtp,
                ..MediaConfig::default()
            },
            "127.0.0.1:5000",
            9,
        )
    };
    // Mandatory: plain refused, SAVP and AVP+crypto keyed.
    assert_eq!(
        with(SrtpPolicy::Mandatory).answer_offer(&plain, &mut rng(1)),
        Err(SdpError::NoAcceptableMedia(RejectReason::SrtpRequired))
    );
    assert!(
        with(SrtpPolicy::Mandatory)
            .answer_offer(&savp, &mut rng(1))
            .unwrap()
            .audio
            .unwrap()
            .srtp
            .is_some()
    );
    assert!(
        with(SrtpPolicy::Mandatory)
            .answer_offer(&avp_crypto, &mut rng(1))
            .unwrap()
            .audio
            .unwrap()
            .srtp
            .is_some()
    );
    // Disabled: SAVP refused, crypto on AVP ignored.
    assert_eq!(
        with(SrtpPolicy::Disabled).answer_offer(&savp, &mut rng(1)),
        Err(SdpError::NoAcceptableMedia(RejectReason::SrtpDisabled))
    );
    let answer = with(SrtpPolicy::Disabled)
        .answer_offer(&avp_crypto, &mut rng(1))
        .unwrap();
    assert!(answer.sdp.media[0].crypto().is_empty());
    assert_eq!(answer.audio.unwrap().srtp, None);
    // SAVP whose only crypto lines are unusable (MKI) is refused.
    let mki = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 7000 RTP/SAVP 0\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:RCCCPP3m8cJrMPkOx90B5Ih1NKIPCw0Ew27YDnHg|2^20|1:4\r\n",
    );
    assert_eq!(
        bob().answer_offer(&mki, &mut rng(1)),
        Err(SdpError::NoAcceptableMedia(
            RejectReason::NoAcceptableCrypto
        ))
    );
}

#[test]
fn asterisk_g711_offer() {
    let answer = bob()
        .answer_offer(&sdp("asterisk-g711.sdp"), &mut rng(1))
        .unwrap();
    wire(&answer.sdp);
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(
        audio.telephone_event,
        Some(TelephoneEvent {
            send_payload_type: 101,
            recv_payload_type: 101,
            clock_rate: 8000,
            audio_clock_rate: 8000
        })
    );
    assert_eq!(audio.remote_rtp, addr("192.0.2.10:17958"));
    assert_eq!(audio.remote_rtcp, addr("192.0.2.10:17959"));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.ptime, 20);
    assert_eq!(audio.srtp, None);
    assert_eq!(answer.sdp.media[0].formats, vec!["0", "101"]);
}

#[test]
fn asterisk_savp_opus_offer() {
    let answer = bob()
        .answer_offer(&sdp("asterisk-srtp-opus.sdp"), &mut rng(1))
        .unwrap();
    let m = &answer.sdp.media[0];
    assert_eq!(m.protocol, "RTP/SAVP");
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Opus);
    assert_eq!(audio.codec.send_payload_type, 107);
    assert!(audio.codec.use_inband_fec());
    // Asterisk offers telephone-event/8000 only (with Opus, PCMU, PCMA):
    // Opus stays the codec and the /8000 event is taken on the offer's
    // number, its rate mirrored in the answer.
    assert_eq!(
        audio.telephone_event,
        Some(TelephoneEvent {
            send_payload_type: 101,
            recv_payload_type: 101,
            clock_rate: 8000,
            audio_clock_rate: 48000
        })
    );
    assert!(audio.telephone_event.unwrap().is_rate_mismatched());
    assert_eq!(m.formats, vec!["107", "101"]);
    assert_eq!(
        attr_values(m, "rtpmap"),
        vec!["107 opus/48000/2", "101 telephone-event/8000"]
    );
    let srtp = audio.srtp.unwrap();
    assert_eq!(srtp.suite(), CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(
        srtp.remote.to_inline(),
        "RCCCPP3m8cJrMPkOx90B5Ih1NKIPCw0Ew27YDnHg"
    );
    assert_eq!(m.crypto()[0].tag, 1);
}

#[test]
fn freeswitch_offer() {
    let answer = bob()
        .answer_offer(&sdp("freeswitch-opus-sdes.sdp"), &mut rng(1))
        .unwrap();
    let m = &answer.sdp.media[0];
    assert_eq!(m.formats, vec!["102", "100"]);
    let audio = answer.audio.unwrap();
    assert_eq!(
        audio.codec.remote_fmtp.get("maxplaybackrate"),
        Some("16000")
    );
    assert!(audio.codec.use_inband_fec());
    assert_eq!(audio.telephone_event.unwrap().clock_rate, 48000);
    assert_eq!(audio.telephone_event.unwrap().send_payload_type, 100);
    assert_eq!(audio.remote_rtcp, addr("192.0.2.20:24561"));
    // AES_CM_256 (tag 1) is not ours: tag 2, CM-128-80.
    assert_eq!(m.crypto()[0].tag, 2);
    assert_eq!(
        audio.srtp.unwrap().suite(),
        CryptoSuite::AesCm128HmacSha1_80
    );
    assert_eq!(m.protocol, "RTP/AVP");
}

#[test]
fn baresip_offer_prefers_80_over_32() {
    let answer = bob()
        .answer_offer(&sdp("baresip-srtp.sdp"), &mut rng(1))
        .unwrap();
    let m = &answer.sdp.media[0];
    // baresip lists _32 first; we take _80 (tag 2): libre's _32 SRTCP is broken.
    assert_eq!(m.crypto()[0].tag, 2);
    assert_eq!(
        m.crypto()[0].suite(),
        Some(CryptoSuite::AesCm128HmacSha1_80)
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.send_payload_type, 96);
    assert!(!audio.codec.use_inband_fec());
    assert_eq!(audio.codec.remote_fmtp.get("stereo"), Some("1"));
    assert!(audio.rtcp_mux);
    assert_eq!(audio.telephone_event.unwrap().send_payload_type, 101);
    // A GCM-only configuration takes baresip's GCM line.
    let gcm = session(
        MediaConfig {
            crypto_suites: vec![CryptoSuite::AeadAes128Gcm],
            ..MediaConfig::default()
        },
        "127.0.0.1:5000",
        5,
    )
    .answer_offer(&sdp("baresip-srtp.sdp"), &mut rng(1))
    .unwrap();
    let srtp = gcm.audio.unwrap().srtp.unwrap();
    assert_eq!(srtp.suite(), CryptoSuite::AeadAes128Gcm);
    assert_eq!(srtp.local.master_salt().len(), 12);
}

#[test]
fn deskphone_offer_lf_no_t_with_key_lifetime() {
    let answer = bob()
        .answer_offer(&sdp("deskphone-lf-no-t.sdp"), &mut rng(1))
        .unwrap();
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu, "G.722 is not ours");
    assert_eq!(
        audio.srtp.unwrap().suite(),
        CryptoSuite::AesCm128HmacSha1_80
    );
    assert_eq!(answer.sdp.media[0].protocol, "RTP/AVP");
}

#[test]
fn old_style_hold_with_zero_address() {
    let answer = bob()
        .answer_offer(&sdp("gateway-hold-0000.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(answer.sdp.media[0].direction(), Some(Direction::RecvOnly));
    let audio = answer.audio.unwrap();
    assert_eq!(audio.direction, Direction::RecvOnly);
    assert!(!audio.direction.can_send());
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
}

#[test]
fn answers_to_our_offer_are_validated() {
    let key = "N1PJvfoP8BadyVdWdAZmds+wtOuJAsRCadoc9rpm";
    let gcm_key = "0/i21LEAqeoOdVpcLoIQJCoI5wePf4k4XrCUIw==";
    let head = "v=0\r\no=- 9 9 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n";
    let cases: Vec<(String, &str)> = vec![
        (
            "m=audio 7000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n".into(),
            "codec of our offer",
        ),
        (
            format!(
                "m=audio 7000 RTP/AVP 0\r\na=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
            ),
            "tag 7 is not one we offered",
        ),
        (
            format!("m=audio 7000 RTP/AVP 0\r\na=crypto:1 AEAD_AES_128_GCM inline:{gcm_key}\r\n"),
            "names",
        ),
        (
            "m=audio 7000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=\r\n"
                .into(),
            "no usable key",
        ),
        (
            "m=video 7000 RTP/AVP 0\r\n".into(),
            "\"video\" in the answer",
        ),
        (
            "m=audio 7000 RTP/AVP 0\r\nm=audio 0 RTP/AVP 0\r\n".into(),
            "media sections",
        ),
    ];
    for (media, expect) in cases {
        let mut a = alice();
        a.create_offer(&mut rng(1)).unwrap();
        let e = a
            .accept_answer(&parse(&format!("{head}{media}")))
            .unwrap_err();
        assert!(
            matches!(&e, SdpError::InvalidAnswer(s) if s.contains(expect)),
            "{media:?}: {e}"
        );
        assert!(a.pending_offer().is_some());
        assert!(a.negotiated().is_none());
    }
    // No c= anywhere.
    let mut a = alice();
    a.create_offer(&mut rng(1)).unwrap();
    let e = a
        .accept_answer(&parse(
            "v=0\r\no=- 9 9 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n",
        ))
        .unwrap_err();
    assert!(matches!(e, SdpError::InvalidAnswer(_)), "{e}");

    // Mandatory SRTP answered in the clear.
    let mut m = session(
        MediaConfig {
            srtp: SrtpPolicy::Mandatory,
            ..MediaConfig::default()
        },
        "127.0.0.1:4000",
        1,
    );
    m.create_offer(&mut rng(1)).unwrap();
    let e = m
        .accept_answer(&parse(&format!("{head}m=audio 7000 RTP/SAVP 0\r\n")))
        .unwrap_err();
    assert!(
        matches!(e, SdpError::InvalidAnswer(ref s) if s.contains("requires SRTP")),
        "{e}"
    );

    // Best effort answered in the clear: plain RTP.
    let mut a = alice();
    a.create_offer(&mut rng(1)).unwrap();
    let audio = a
        .accept_answer(&parse(&format!(
            "{head}m=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        )))
        .unwrap()
        .unwrap();
    assert_eq!(audio.srtp, None);
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(audio.telephone_event.unwrap().recv_payload_type, 101);

    // The peer rejects our audio stream: no audio, exchange complete.
    let mut a = alice();
    a.create_offer(&mut rng(1)).unwrap();
    assert_eq!(
        a.accept_answer(&parse(&format!("{head}m=audio 0 RTP/AVP 0\r\n"))),
        Ok(None)
    );
    assert!(a.pending_offer().is_none());
}

#[test]
fn answer_may_renumber_payload_types() {
    // RFC 3264 §6.1 allows the answer other numbers: we send with theirs
    // and receive with ours.
    let mut a = alice();
    a.create_offer(&mut rng(1)).unwrap();
    let answer = parse(
        "v=0\r\no=- 9 9 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 7000 RTP/AVP 120 121 0\r\na=rtpmap:120 opus/48000/2\r\n\
         a=rtpmap:121 telephone-event/48000\r\na=ptime:40\r\na=sendonly\r\n",
    );
    let audio = a.accept_answer(&answer).unwrap().unwrap();
    assert_eq!(audio.codec.send_payload_type, 120);
    assert_eq!(audio.codec.recv_payload_type, 111);
    let te = audio.telephone_event.unwrap();
    assert_eq!((te.send_payload_type, te.recv_payload_type), (121, 110));
    assert_eq!(audio.recv_codecs.len(), 2);
    assert_eq!(audio.recv_codecs[1].codec, AudioCodec::Pcmu);
    assert_eq!(audio.ptime, 40);
    assert_eq!(audio.direction, Direction::RecvOnly);
}

#[test]
fn offer_answer_state_errors() {
    let mut a = alice();
    assert_eq!(
        a.accept_answer(&sdp("asterisk-g711.sdp")),
        Err(SdpError::NoOfferPending)
    );
    a.create_offer(&mut rng(1)).unwrap();
    assert_eq!(a.create_offer(&mut rng(1)), Err(SdpError::OfferPending));
    // Glare: their offer crosses ours (SIP: 491).
    let glare = a
        .answer_offer(&sdp("asterisk-g711.sdp"), &mut rng(1))
        .map(|_| ());
    assert_eq!(glare, Err(SdpError::OfferPending));
    assert_eq!(glare.unwrap_err().sip_status(), 491);
    let v = a.session_version();
    assert!(a.rollback_offer());
    assert!(!a.rollback_offer());
    // After the rollback the next SDP still gets a fresh version.
    let answer = a
        .answer_offer(&sdp("asterisk-g711.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(answer.sdp.origin.session_version, v + 1);
}

#[test]
fn updated_answer_to_the_same_offer() {
    // 183 Session Progress with one SDP, then 200 OK with another.
    let (mut a, mut b) = (alice(), bob());
    let offer = a.create_offer(&mut rng(1)).unwrap();
    let early = b.answer_offer(&offer, &mut rng(2)).unwrap();
    a.accept_answer(&early.sdp).unwrap();
    let mut fin = early.sdp.clone();
    fin.media[0].port = 5010;
    fin.origin.session_version += 1;
    let audio = a.accept_answer(&fin).unwrap().unwrap();
    assert_eq!(audio.remote_rtp, addr("127.0.0.1:5010"));
    // The same answer again is harmless.
    assert_eq!(a.accept_answer(&fin).unwrap().unwrap(), audio);
}

#[test]
fn late_offer_flow() {
    // INVITE without SDP: we offer in the 200 OK, the answer comes in the ACK.
    let mut callee = bob();
    let offer = callee.create_offer(&mut rng(1)).unwrap();
    let mut caller = alice();
    let answer = caller.answer_offer(&wire(&offer), &mut rng(2)).unwrap();
    let audio = callee.accept_answer(&wire(&answer.sdp)).unwrap().unwrap();
    assert_eq!(audio.remote_rtp, addr("127.0.0.1:4000"));
}

#[test]
fn every_reoffer_increments_the_version_once() {
    let (mut a, mut b) = (alice(), bob());
    let mut versions = Vec::new();
    for i in 0..5 {
        exchange(&mut a, &mut b, 70 + i);
        versions.push(a.local_description().unwrap().origin.session_version);
    }
    for w in versions.windows(2) {
        assert_eq!(w[1], w[0] + 1);
    }
    // The answerer's SDP never changed: one version throughout.
    assert_eq!(
        b.local_description().unwrap().origin.session_version,
        b.session_version()
    );
    assert_eq!(b.session_version(), b.session_id());
}

#[test]
fn aes_cm_32_is_never_preferred() {
    let config = MediaConfig {
        crypto_suites: vec![
            CryptoSuite::AesCm128HmacSha1_32,
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AesCm128HmacSha1_32,
        ],
        ptime: 25,
        ..MediaConfig::default()
    };
    let mut a = session(config.clone(), "127.0.0.1:4000", 1);
    let offer = a.create_offer(&mut rng(1)).unwrap();
    let lines = offer.media[0].crypto();
    let order: Vec<_> = lines.iter().map(|c| (c.tag, c.suite().unwrap())).collect();
    assert_eq!(
        order,
        vec![
            (1, CryptoSuite::AesCm128HmacSha1_80),
            (2, CryptoSuite::AesCm128HmacSha1_32)
        ]
    );
    assert_eq!(offer.media[0].ptime(), Some(20));
    let answer = session(config, "127.0.0.1:5000", 2)
        .answer_offer(&sdp("baresip-srtp.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(
        answer.audio.unwrap().srtp.unwrap().suite(),
        CryptoSuite::AesCm128HmacSha1_80
    );
    // _32 alone is still usable.
    let only32 = MediaConfig {
        crypto_suites: vec![CryptoSuite::AesCm128HmacSha1_32],
        ..MediaConfig::default()
    };
    let answer = session(only32, "127.0.0.1:5000", 2)
        .answer_offer(&sdp("baresip-srtp.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(
        answer.audio.unwrap().srtp.unwrap().suite(),
        CryptoSuite::AesCm128HmacSha1_32
    );
}

#[test]
fn debug_output_never_carries_keys() {
    let (mut a, mut b) = (alice(), bob());
    let (a_audio, _) = exchange(&mut a, &mut b, 90);
    let srtp = a_audio.clone().unwrap().srtp.unwrap();
    let secrets = [srtp.local.to_inline(), srtp.remote.to_inline()];
    let dumps = [
        format!("{a:?}"),
        format!("{b:?}"),
        format!("{a_audio:?}"),
        format!("{:?}", a.local_description()),
    ];
    for d in &dumps {
        for k in &secrets {
            assert!(!d.contains(k.as_str()), "key in Debug output: {d}");
        }
    }
}

/// An offer in Asterisk's shape (opus/48000/2, PCMU, PCMA and only
/// telephone-event/8000, here with the number Asterisk used in
/// sipwise/rtpengine#1553): Opus is chosen and the /8000 event accepted.
#[test]
fn asterisk_style_offer_opus_with_telephone_event_8000_only() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=Asterisk\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio 27734 RTP/AVP 111 0 8 126\r\na=rtpmap:111 opus/48000/2\r\n\
         a=fmtp:111 useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:126 telephone-event/8000\r\na=fmtp:126 0-16\r\na=sendrecv\r\n",
    );
    let answer = bob().answer_offer(&offer, &mut rng(1)).unwrap();
    let m = &wire(&answer.sdp).media[0];
    assert_eq!(m.formats, vec!["111", "126"]);
    assert_eq!(
        attr_values(m, "rtpmap"),
        vec!["111 opus/48000/2", "126 telephone-event/8000"]
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Opus);
    assert_eq!(
        audio.telephone_event,
        Some(TelephoneEvent {
            send_payload_type: 126,
            recv_payload_type: 126,
            clock_rate: 8000,
            audio_clock_rate: 48000
        })
    );
}

/// Both rates offered: each codec gets the event at its own rate.
#[test]
fn answer_prefers_the_event_at_the_codecs_rate() {
    let offer = |formats: &str| {
        parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
             m=audio 7000 RTP/AVP {formats}\r\na=rtpmap:96 opus/48000/2\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=rtpmap:110 telephone-event/48000\r\n"
        ))
    };
    // te/8000 listed first, Opus chosen: te/48000.
    let answer = bob()
        .answer_offer(&offer("96 0 101 110"), &mut rng(1))
        .unwrap();
    assert_eq!(answer.sdp.media[0].formats, vec!["96", "110"]);
    let te = answer.audio.unwrap().telephone_event.unwrap();
    assert_eq!((te.send_payload_type, te.clock_rate), (110, 48000));
    assert_eq!(te.audio_clock_rate, 48000);
    assert!(!te.is_rate_mismatched());
    // PCMU chosen (listed first): te/8000, wherever it is listed.
    let answer = bob()
        .answer_offer(&offer("0 96 110 101"), &mut rng(1))
        .unwrap();
    assert_eq!(answer.sdp.media[0].formats, vec!["0", "101"]);
    let te = answer.audio.unwrap().telephone_event.unwrap();
    assert_eq!((te.send_payload_type, te.clock_rate), (101, 8000));
    assert_eq!(te.audio_clock_rate, 8000);
    // Opus chosen, only an event at neither rate: taken, rate mirrored.
    let odd = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 7000 RTP/AVP 96 100\r\na=rtpmap:96 opus/48000/2\r\n\
         a=rtpmap:100 telephone-event/16000\r\n",
    );
    let answer = bob().answer_offer(&odd, &mut rng(1)).unwrap();
    assert_eq!(
        attr_values(&answer.sdp.media[0], "rtpmap"),
        vec!["96 opus/48000/2", "100 telephone-event/16000"]
    );
    assert_eq!(
        answer.audio.unwrap().telephone_event.unwrap().clock_rate,
        16000
    );
    // telephone_event off in our config: none, whatever is offered.
    let answer = session(
        MediaConfig {
            telephone_event: false,
            ..MediaConfig::default()
        },
        "127.0.0.1:5000",
        2,
    )
    .answer_offer(&offer("96 101 110"), &mut rng(1))
    .unwrap();
    assert_eq!(answer.sdp.media[0].formats, vec!["96"]);
    assert_eq!(answer.audio.unwrap().telephone_event, None);
}

/// Our offer (Opus, PCMU, PCMA, te/48000 and te/8000) answered with Opus
/// and te/8000 only, as Asterisk does: the /8000 event on the answer's
/// number for sending, ours for receiving.
#[test]
fn answer_to_our_offer_with_opus_and_telephone_event_8000_only() {
    let mut a = alice();
    let offer = a.create_offer(&mut rng(1)).unwrap();
    assert_eq!(offer.media[0].formats, vec!["111", "0", "8", "110", "101"]);
    let head = "v=0\r\no=- 9 9 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";
    let audio = a
        .accept_answer(&parse(&format!(
            "{head}m=audio 7000 RTP/AVP 111 126\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:126 telephone-event/8000\r\na=fmtp:126 0-16\r\n"
        )))
        .unwrap()
        .unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Opus);
    assert_eq!(
        audio.telephone_event,
        Some(TelephoneEvent {
            send_payload_type: 126,
            recv_payload_type: 101,
            clock_rate: 8000,
            audio_clock_rate: 48000
        })
    );
    // Both rates in the answer: the one at Opus's rate.
    let mut a = alice();
    a.create_offer(&mut rng(1)).unwrap();
    let audio = a
        .accept_answer(&parse(&format!(
            "{head}m=audio 7000 RTP/AVP 111 101 110\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=rtpmap:110 telephone-event/48000\r\n"
        )))
        .unwrap()
        .unwrap();
    let te = audio.telephone_event.unwrap();
    assert_eq!((te.send_payload_type, te.clock_rate), (110, 48000));
    // We offered Opus only (so te/48000 only) and the answer has te/8000
    // at a number free in our offer: taken on that number both ways.
    let mut opus_only = session(
        MediaConfig {
            codecs: vec![AudioCodec::Opus],
            ..MediaConfig::default()
        },
        "127.0.0.1:4000",
        1,
    );
    let offer = opus_only.create_offer(&mut rng(1)).unwrap();
    assert_eq!(offer.media[0].formats, vec!["111", "110"]);
    let audio = opus_only
        .accept_answer(&parse(&format!(
            "{head}m=audio 7000 RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n\
             a=rtpmap:101 telephone-event/8000\r\n"
        )))
        .unwrap()
        .unwrap();
    let te = audio.telephone_event.unwrap();
    assert_eq!(
        (te.send_payload_type, te.recv_payload_type, te.clock_rate),
        (101, 101, 8000)
    );
    // ... but not on a number our offer uses for something else.
    let mut opus_only = session(
        MediaConfig {
            codecs: vec![AudioCodec::Opus],
            ..MediaConfig::default()
        },
        "127.0.0.1:4000",
        1,
    );
    opus_only.create_offer(&mut rng(1)).unwrap();
    let audio = opus_only
        .accept_answer(&parse(&format!(
            "{head}m=audio 7000 RTP/AVP 96 111\r\na=rtpmap:96 opus/48000/2\r\n\
             a=rtpmap:111 telephone-event/8000\r\n"
        )))
        .unwrap()
        .unwrap();
    assert_eq!(audio.telephone_event, None);
}

/// After answering Asterisk's Opus + te/8000 offer, our re-offer keeps
/// the event's number.
#[test]
fn re_offer_after_asterisk_answer_keeps_the_event_numbers() {
    let offer = sdp("asterisk-srtp-opus.sdp");
    let mut b = bob();
    b.answer_offer(&offer, &mut rng(1)).unwrap();
    // Our re-offer keeps 101 for te/8000 (RFC 3264 §8.3.2) and adds
    // te/48000 on a free number.
    let reoffer = b.create_offer(&mut rng(2)).unwrap();
    let m = &reoffer.media[0];
    assert!(attr_values(m, "rtpmap").contains(&"101 telephone-event/8000".to_owned()));
    assert!(
        attr_values(m, "rtpmap")
            .iter()
            .any(|v| v.ends_with(" telephone-event/48000") && !v.starts_with("101 "))
    );
}

/// What a UAS answers an INVITE whose body fails: 400 for a body that is
/// not SDP, 488 for SDP with nothing acceptable (the table per error is a
/// unit test in error.rs).
#[test]
fn sip_status_of_a_failed_offer() {
    let garbage = SessionDescription::parse(b"v=0\r\nthis is not sdp\r\n").unwrap_err();
    assert_eq!(garbage.sip_status(), 400, "{garbage}");
    let mut b = session(
        MediaConfig {
            codecs: vec![AudioCodec::Opus],
            ..MediaConfig::default()
        },
        "127.0.0.1:5000",
        2,
    );
    let e = b
        .answer_offer(&sdp("asterisk-g711.sdp"), &mut rng(1))
        .unwrap_err();
    assert_eq!(e, SdpError::NoAcceptableMedia(RejectReason::NoCommonCodec));
    assert_eq!(e.sip_status(), 488);
}
