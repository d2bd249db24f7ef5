//! The RFC 4317 and RFC 3264 §10 examples: our parser takes them, and our
//! answerer reaches the RFC's outcome where our capabilities allow (we have
//! PCMU/PCMA/Opus audio, one audio stream, no video, no iLBC/G.723/G.729).

mod common;

use common::*;
use voipkit_sdp::*;

fn bob() -> SdpSession {
    session(MediaConfig::default(), "127.0.0.1:49174", 4317)
}

fn m_lines(s: &SessionDescription) -> Vec<(String, u16)> {
    s.media.iter().map(|m| (m.media.clone(), m.port)).collect()
}

#[test]
fn rfc4317_2_1_audio_and_video_pcmu_accepted_video_rejected() {
    let offer = sdp("rfc4317-2.1-offer.sdp");
    let mut bob = bob();
    let answer = bob.answer_offer(&offer, &mut rng(1)).unwrap();
    wire(&answer.sdp);
    // RFC: Bob answers PCMU and MPV. We have no video: port 0, same order.
    assert_eq!(
        m_lines(&answer.sdp),
        vec![("audio".into(), 49174), ("video".into(), 0)]
    );
    assert_eq!(answer.sdp.media[0].formats, vec!["0"]);
    assert_eq!(answer.sdp.media[1].formats, vec!["31", "32"]);
    assert_eq!(
        answer.rejected,
        vec![RejectedStream {
            index: 1,
            reason: RejectReason::NotAudio("video".into())
        }]
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(audio.codec.send_payload_type, 0);
    assert_eq!(audio.remote_rtp, addr("192.0.2.1:49170"));
    assert_eq!(audio.remote_rtcp, addr("192.0.2.1:49171"));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.direction, Direction::SendRecv);
    assert_eq!(audio.telephone_event, None);
    assert_eq!(audio.srtp, None);
    // No a=crypto on a plain offer: the answer is plain RTP/AVP.
    assert_eq!(answer.sdp.media[0].protocol, "RTP/AVP");
    assert!(answer.sdp.media[0].crypto().is_empty());
}

#[test]
fn rfc4317_2_2_reoffer_changes_remote_port() {
    let mut bob = bob();
    let first = bob
        .answer_offer(&sdp("rfc4317-2.1-offer.sdp"), &mut rng(1))
        .unwrap();
    let v1 = first.sdp.origin.session_version;
    // Alice's second offer: audio moves to port 51372, video disabled.
    let second = bob
        .answer_offer(&sdp("rfc4317-2.2-offer-2.sdp"), &mut rng(2))
        .unwrap();
    assert_eq!(
        m_lines(&second.sdp),
        vec![("audio".into(), 49174), ("video".into(), 0)]
    );
    assert_eq!(second.rejected[0].reason, RejectReason::DisabledByOfferer);
    let audio = second.audio.unwrap();
    assert_eq!(audio.remote_rtp, addr("192.0.2.1:51372"));
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
    // Our audio section is unchanged; the rejected video line mirrors the
    // new offer's formats, so the SDP changed and its version moves on.
    assert_eq!(second.sdp.media[0], first.sdp.media[0]);
    assert_eq!(second.sdp.media[1].formats, vec!["31"]);
    assert_eq!(second.sdp.origin.session_version, v1 + 1);
    // The same offer again (a session refresh): identical answer, same version.
    let third = bob
        .answer_offer(&sdp("rfc4317-2.2-offer-2.sdp"), &mut rng(3))
        .unwrap();
    assert_eq!(third.sdp, second.sdp);
}

#[test]
fn rfc4317_2_2_answer_to_our_offer_validated() {
    // We are Alice with a PCMU/PCMA offer; Bob's RFC answer lists 0 8.
    let config = MediaConfig {
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
        srtp: SrtpPolicy::Disabled,
        telephone_event: false,
        ..MediaConfig::default()
    };
    let mut alice = session(config, "127.0.0.1:49170", 1);
    let offer = alice.create_offer(&mut rng(1)).unwrap();
    assert_eq!(offer.media[0].formats, vec!["0", "8"]);
    // The RFC answer has a video line too: wrong m-line count for our offer.
    let e = alice
        .accept_answer(&sdp("rfc4317-2.2-answer.sdp"))
        .unwrap_err();
    assert!(
        matches!(e, SdpError::InvalidAnswer(ref s) if s.contains("2 media sections")),
        "{e}"
    );
    // The same answer without the video line is fine: both codecs receivable.
    let mut answer = sdp("rfc4317-2.2-answer.sdp");
    answer.media.truncate(1);
    let audio = alice.accept_answer(&answer).unwrap().unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(
        recv_codecs(&audio),
        vec![AudioCodec::Pcmu, AudioCodec::Pcma]
    );
    assert_eq!(audio.remote_rtp, addr("192.0.2.2:49172"));
}

#[test]
fn rfc4317_2_4_two_audio_streams_first_taken() {
    let answer = bob()
        .answer_offer(&sdp("rfc4317-2.4-offer.sdp"), &mut rng(1))
        .unwrap();
    // RFC: Bob takes iLBC and the telephone-event stream. We take PCMU on
    // the first; we run one audio stream, so the second gets port 0.
    assert_eq!(
        m_lines(&answer.sdp),
        vec![("audio".into(), 49174), ("audio".into(), 0)]
    );
    assert_eq!(
        answer.rejected[0].reason,
        RejectReason::AdditionalAudioStream
    );
    assert_eq!(answer.audio.unwrap().codec.codec, AudioCodec::Pcmu);
}

#[test]
fn rfc4317_2_6_audio_only() {
    let answer = bob()
        .answer_offer(&sdp("rfc4317-2.6-offer.sdp"), &mut rng(1))
        .unwrap();
    // RFC: Bob (no PCMU) rejects the first and takes iLBC. We have PCMU.
    assert_eq!(
        m_lines(&answer.sdp),
        vec![("audio".into(), 49174), ("audio".into(), 0)]
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.mline_index, 0);
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
}

fn pcmu(name: &str) -> SessionDescription {
    // §3.1 uses iLBC, which we lack; the same flow with PCMU.
    let text = String::from_utf8(raw(name))
        .unwrap()
        .replace("RTP/AVP 97", "RTP/AVP 0")
        .replace("a=rtpmap:97 iLBC/8000", "a=rtpmap:0 PCMU/8000");
    let mut s = parse(&text);
    s.resolve_hostnames(resolve);
    s
}

#[test]
fn rfc4317_3_1_hold_and_unhold_as_answerer() {
    let mut bob = bob();
    let mut initial = pcmu("rfc4317-3.1-offer-3.sdp");
    initial.origin.session_version = 2890844526;
    let a1 = bob.answer_offer(&initial, &mut rng(1)).unwrap();
    assert_eq!(a1.audio.as_ref().unwrap().direction, Direction::SendRecv);

    // Alice holds: sendonly -> we answer recvonly.
    let a2 = bob
        .answer_offer(&pcmu("rfc4317-3.1-offer-2.sdp"), &mut rng(2))
        .unwrap();
    assert_eq!(a2.sdp.media[0].direction(), Some(Direction::RecvOnly));
    let audio = a2.audio.unwrap();
    assert_eq!(audio.direction, Direction::RecvOnly);
    assert!(!audio.direction.can_send() && audio.direction.can_recv());
    assert_eq!(
        a2.sdp.origin.session_version,
        a1.sdp.origin.session_version + 1
    );

    // Alice resumes: sendrecv again, version + 1 again (as in the RFC).
    let a3 = bob
        .answer_offer(&pcmu("rfc4317-3.1-offer-3.sdp"), &mut rng(3))
        .unwrap();
    assert_eq!(a3.sdp.media[0].direction(), Some(Direction::SendRecv));
    assert_eq!(a3.audio.unwrap().direction, Direction::SendRecv);
    assert_eq!(
        a3.sdp.origin.session_version,
        a1.sdp.origin.session_version + 2
    );
    assert_eq!(a3.sdp.origin.session_id, a1.sdp.origin.session_id);
}

#[test]
fn rfc4317_3_1_answer_with_codec_we_never_offered_is_refused() {
    let mut alice = session(MediaConfig::default(), "127.0.0.1:49170", 2);
    alice.create_offer(&mut rng(1)).unwrap();
    // Bob's RFC answer picks iLBC (97), which our offer does not have.
    let e = alice
        .accept_answer(&sdp("rfc4317-3.1-answer.sdp"))
        .unwrap_err();
    assert!(matches!(e, SdpError::InvalidAnswer(_)), "{e}");
    assert!(alice.pending_offer().is_some(), "offer stays pending");
    assert!(alice.rollback_offer());
    assert!(alice.pending_offer().is_none());
}

#[test]
fn rfc4317_4_1_offer_with_nothing_for_us_is_not_acceptable() {
    let mut bob = bob();
    bob.answer_offer(&sdp("rfc4317-4.3-offer.sdp"), &mut rng(1))
        .unwrap();
    let before = bob.negotiated().cloned();
    let version = bob.session_version();
    // iLBC plus a telephone-event-only stream: no codec of ours.
    let e = bob
        .answer_offer(&sdp("rfc4317-4.1-offer-2.sdp"), &mut rng(2))
        .unwrap_err();
    assert_eq!(e, SdpError::NoAcceptableMedia(RejectReason::NoCommonCodec));
    // Rejecting the offer (488) leaves the session as it was.
    assert_eq!(bob.negotiated().cloned(), before);
    assert_eq!(bob.session_version(), version);
}

#[test]
fn rfc4317_4_3_video_deleted() {
    let mut bob = bob();
    let a1 = bob
        .answer_offer(&sdp("rfc4317-4.3-offer.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(
        m_lines(&a1.sdp),
        vec![("audio".into(), 49174), ("video".into(), 0)]
    );
    let a2 = bob
        .answer_offer(&sdp("rfc4317-4.3-offer-2.sdp"), &mut rng(2))
        .unwrap();
    assert_eq!(m_lines(&a2.sdp), m_lines(&a1.sdp));
    assert_eq!(a2.audio.unwrap().remote_rtp, addr("192.0.2.1:49170"));
    assert_eq!(a2.sdp.origin.session_version, a1.sdp.origin.session_version);
}

#[test]
fn rfc3264_10_1_basic_exchange() {
    let mut bob = session(MediaConfig::default(), "127.0.0.1:49920", 3264);
    let answer = bob
        .answer_offer(&sdp("rfc3264-10.1-offer.sdp"), &mut rng(1))
        .unwrap();
    wire(&answer.sdp);
    // RFC: audio PCMU accepted, first video rejected, second accepted. We
    // have no video: both rejected, m-line count and order kept.
    assert_eq!(
        m_lines(&answer.sdp),
        vec![
            ("audio".into(), 49920),
            ("video".into(), 0),
            ("video".into(), 0)
        ]
    );
    let audio = answer.audio.unwrap();
    assert_eq!(audio.codec.codec, AudioCodec::Pcmu);
    assert_eq!(audio.remote_rtp, addr("192.0.2.3:49170"));
    // The RFC's answer parses and resolves too.
    assert_eq!(sdp("rfc3264-10.1-answer.sdp").media[1].port, 0);
}

#[test]
fn rfc3264_10_1_second_offer_new_port_and_extra_stream() {
    // Bob's re-offer: audio moved to 65422, a recvonly telephone-events
    // stream added as a fourth m-line.
    let mut alice = session(MediaConfig::default(), "127.0.0.1:49170", 3265);
    let answer = alice
        .answer_offer(&sdp("rfc3264-10.1-offer-2.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(answer.sdp.media.len(), 4);
    let ports: Vec<u16> = answer.sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![49170, 0, 0, 0]);
    assert_eq!(
        answer
            .rejected
            .iter()
            .map(|r| r.reason.clone())
            .collect::<Vec<_>>(),
        vec![
            RejectReason::DisabledByOfferer,
            RejectReason::NotAudio("video".into()),
            RejectReason::AdditionalAudioStream
        ]
    );
    assert_eq!(answer.audio.unwrap().remote_rtp, addr("192.0.2.4:65422"));
}

#[test]
fn rfc3264_10_2_one_of_n_codec_selection() {
    let mut bob = session(MediaConfig::default(), "127.0.0.1:54344", 3266);
    let answer = bob
        .answer_offer(&sdp("rfc3264-10.2-offer.sdp"), &mut rng(1))
        .unwrap();
    // RFC: Bob answers 0 4 inactive; we have PCMU only of the three.
    let m = &answer.sdp.media[0];
    assert_eq!(m.formats, vec!["0"]);
    assert_eq!(m.direction(), Some(Direction::Inactive));
    let audio = answer.audio.unwrap();
    assert_eq!(audio.direction, Direction::Inactive);
    assert_eq!(audio.remote_rtp, addr("192.0.2.3:62986"));
    // Alice's second offer has G.723 only: we cannot, and say so (488);
    // the session keeps PCMU.
    let e = bob
        .answer_offer(&sdp("rfc3264-10.2-offer-2.sdp"), &mut rng(2))
        .unwrap_err();
    assert_eq!(e, SdpError::NoAcceptableMedia(RejectReason::NoCommonCodec));
    assert_eq!(bob.negotiated().unwrap().codec.codec, AudioCodec::Pcmu);
}

#[test]
fn rfc3264_9_all_streams_disabled_by_offerer() {
    let answer = bob()
        .answer_offer(&sdp("rfc3264-9-capabilities.sdp"), &mut rng(1))
        .unwrap();
    assert_eq!(answer.audio, None);
    assert_eq!(
        m_lines(&answer.sdp),
        vec![("audio".into(), 0), ("video".into(), 0)]
    );
    assert_eq!(answer.rejected[0].reason, RejectReason::DisabledByOfferer);
}

#[test]
fn unresolved_host_names_are_reported_not_guessed() {
    let raw_offer = SessionDescription::parse(&raw("rfc4317-2.1-offer.sdp")).unwrap();
    let mut bob = bob();
    let e = bob.answer_offer(&raw_offer, &mut rng(1)).unwrap_err();
    assert_eq!(
        e,
        SdpError::UnresolvedHost("host.atlanta.example.com".into())
    );
    assert!(bob.local_description().is_none());
    let mut resolved = raw_offer.clone();
    resolved.resolve_hostnames(resolve);
    assert!(bob.answer_offer(&resolved, &mut rng(1)).is_ok());
}
