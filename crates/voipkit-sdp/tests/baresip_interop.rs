//! Our SDP against a real baresip 1.0 on loopback, with SIPp carrying the
//! SIP: baresip answers our offers (best-effort SDES on RTP/AVP, and
//! RTP/SAVP), and accepts our answer to its offer, and we accept its
//! answers. Needs `baresip` and `sipp` (.ci/deps installs both); without
//! them the test says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use voipkit_sdp::*;
use voipkit_testpeers::{Baresip, Sipp, find_binary, free_udp_port};

/// Starts baresip from a temporary config directory (stopped and removed
/// on drop): `ausine` microphone, ALSA's `null` speaker, PCMU/PCMA, Opus,
/// SDES-SRTP, auto-answering as `opt` (best-effort SRTP) and `mand`
/// (mandatory SRTP), with `extra` arguments.
fn start_baresip(bin: &Path, extra: &[&str]) -> Baresip {
    Baresip::builder(bin)
        .dir_prefix("voipkit-sdp-baresip")
        .config_line("audio_player alsa,null")
        .ausine(440)
        .modules([
            "g711.so",
            "opus.so",
            "ausine.so",
            "alsa.so",
            "srtp.so",
            "account.so",
            "menu.so",
        ])
        .account("<sip:opt@127.0.0.1>;regint=0;answermode=auto;mediaenc=srtp")
        .account("<sip:mand@127.0.0.1>;regint=0;answermode=auto;mediaenc=srtp-mand")
        .timeout_secs(8)
        .args(extra.iter().copied())
        .start()
}

/// SIPp's arguments for one call of `scenario` from 127.0.0.1:`port`,
/// logging the messages to `log`.
fn sipp_args(scenario: &Path, port: u16, log: &Path) -> Vec<String> {
    let (scenario, log) = (scenario.to_str().unwrap(), log.to_str().unwrap());
    let mut args = vec!["-sf".to_owned(), scenario.to_owned()];
    args.extend(Sipp::one_call_args(port));
    args.extend(["-timeout", "10s", "-trace_msg", "-message_file", log].map(str::to_owned));
    args
}

fn run_sipp(args: &[String], within: Duration) {
    match Sipp::start(args).wait_within(within) {
        Some(status) => assert!(status.success(), "sipp {args:?} failed: {status}"),
        None => panic!("sipp {args:?} did not finish"),
    }
}

/// The SDP body of the first message in a SIPp message log whose text
/// contains `marker`.
fn body_of(log: &Path, marker: &str) -> SessionDescription {
    let text = std::fs::read_to_string(log).unwrap().replace('\r', "");
    for msg in text.split("----------------------------------------------- ") {
        if msg.contains(marker)
            && let Some(at) = msg.find("v=0")
        {
            let body = msg[at..].trim_end();
            return body.parse().unwrap();
        }
    }
    panic!("no {marker:?} with SDP in {}:\n{text}", log.display());
}

fn sdp_text(s: &SessionDescription) -> String {
    // SIPp sends scenario text with LF line ends; our parser takes both.
    s.to_string().replace("\r\n", "\n")
}

fn uac_scenario(user: &str, port: u16, offer: &SessionDescription) -> String {
    let hdr = |method: &str, cseq: u32| {
        format!(
            "{method} sip:{user}@127.0.0.1:{port} SIP/2.0\n\
             Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n\
             From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n\
             To: <sip:{user}@127.0.0.1:{port}>{}\n\
             Call-ID: [call_id]\nCSeq: {cseq} {method}\n\
             Contact: <sip:caller@[local_ip]:[local_port]>\nMax-Forwards: 70\n",
            if method == "INVITE" {
                ""
            } else {
                "[peer_tag_param]"
            }
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"offer\">\n\
         <send retrans=\"500\"><![CDATA[\n{}Content-Type: application/sdp\nContent-Length: [len]\n\n{}]]></send>\n\
         <recv response=\"100\" optional=\"true\"/>\n<recv response=\"180\" optional=\"true\"/>\n\
         <recv response=\"200\"/>\n\
         <send><![CDATA[\n{}Content-Length: 0\n\n]]></send>\n\
         <pause milliseconds=\"100\"/>\n\
         <send retrans=\"500\"><![CDATA[\n{}Content-Length: 0\n\n]]></send>\n\
         <recv response=\"200\"/>\n</scenario>\n",
        hdr("INVITE", 1),
        sdp_text(offer),
        hdr("ACK", 1),
        hdr("BYE", 2)
    )
}

fn uas_scenario(answer: &SessionDescription) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"answer\">\n\
         <recv request=\"INVITE\" crlf=\"true\"/>\n\
         <send><![CDATA[\nSIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n\
         [last_Call-ID:]\n[last_CSeq:]\nContact: <sip:[local_ip]:[local_port];transport=[transport]>\n\
         Content-Type: application/sdp\nContent-Length: [len]\n\n{}]]></send>\n\
         <recv request=\"ACK\" crlf=\"true\"/>\n</scenario>\n",
        sdp_text(answer)
    )
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voipkit-sdp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn baresip_answers_our_offers_and_accepts_our_answer() {
    let (Some(baresip), Some(_)) = (find_binary("baresip"), find_binary("sipp")) else {
        eprintln!("SKIPPED: baresip and sipp are not installed (see .ci/deps)");
        return;
    };
    let dir = workdir("baresip");

    // 1. We offer, baresip answers: best effort (RTP/AVP + a=crypto) to the
    //    srtp account, RTP/SAVP to the srtp-mand account.
    let mut bs = start_baresip(&baresip, &[]);
    let bs_port = bs.sip_addr().port();
    assert!(
        bs.wait_for("baresip is ready", Duration::from_secs(5)),
        "{}",
        bs.log()
    );
    for (user, policy, proto) in [
        ("opt", SrtpPolicy::Optional, "RTP/AVP"),
        ("mand", SrtpPolicy::Mandatory, "RTP/SAVP"),
    ] {
        let config = MediaConfig {
            srtp: policy,
            ..MediaConfig::default()
        };
        let mut ours = session(config, "127.0.0.1:4000", 11);
        let offer = ours.create_offer(&mut rng(11)).unwrap();
        let scenario = dir.join(format!("uac-{user}.xml"));
        std::fs::write(&scenario, uac_scenario(user, bs_port, &offer)).unwrap();
        let log = dir.join(format!("uac-{user}.log"));
        let mut args = sipp_args(&scenario, free_udp_port(), &log);
        args.push(format!("127.0.0.1:{bs_port}"));
        run_sipp(&args, Duration::from_secs(12));
        let answer = body_of(&log, "CSeq: 1 INVITE\nServer: baresip");
        assert_eq!(answer.media[0].protocol, proto);
        let audio = ours.accept_answer(&answer).unwrap().unwrap();
        assert_eq!(audio.codec.codec, AudioCodec::Opus, "{user}");
        // baresip 1.0 pairs Opus with telephone-event/8000 only: taken.
        let te = audio.telephone_event.unwrap();
        assert_eq!((te.clock_rate, te.audio_clock_rate), (8000, 48_000));
        assert_eq!(
            audio.srtp.unwrap().suite(),
            CryptoSuite::AesCm128HmacSha1_80
        );
        assert!(
            !audio.rtcp_mux,
            "baresip 1.0 does not do rtcp-mux by default"
        );
        assert!(bs.wait_for("Call established", Duration::from_secs(5)));
        assert!(bs.wait_for(
            "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)",
            Duration::from_secs(5)
        ));
        bs.skip_log();
    }
    drop(bs);

    // 2. baresip offers, we answer (prepared from the offer baresip 1.0
    //    sends, checked below against the one it really sent).
    let sample = sdp("baresip-1.0.0-offer.sdp");
    let answer = session(MediaConfig::default(), "127.0.0.1:4000", 12)
        .answer_offer(&sample, &mut rng(12))
        .unwrap()
        .sdp;
    let uas_port = free_udp_port();
    let scenario = dir.join("uas.xml");
    std::fs::write(&scenario, uas_scenario(&answer)).unwrap();
    let log = dir.join("uas.log");
    let args = sipp_args(&scenario, uas_port, &log);
    let uas = std::thread::spawn(move || run_sipp(&args, Duration::from_secs(12)));
    std::thread::sleep(Duration::from_millis(300));
    let dial = format!("/dial sip:bob@127.0.0.1:{uas_port}");
    let bs = start_baresip(&baresip, &["-e", &dial]);
    assert!(
        bs.wait_for("Call established", Duration::from_secs(6)),
        "{}",
        bs.log()
    );
    assert!(bs.wait_for(
        "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)",
        Duration::from_secs(3)
    ));
    assert!(bs.wait_for("Set audio encoder: PCMU", Duration::from_secs(3)));
    // SIPp's scenario ends at the ACK; baresip is stopped with the call up.
    uas.join().unwrap();
    drop(bs);
    let mut real_offer = body_of(&log, "INVITE sip:bob@");
    real_offer.resolve_hostnames(resolve);
    let ours = session(MediaConfig::default(), "127.0.0.1:4000", 12)
        .answer_offer(&real_offer, &mut rng(12))
        .unwrap()
        .sdp;
    assert_eq!(ours, answer, "baresip's real offer gets the answer we sent");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn captured_baresip_sdp() {
    // Captured from the exchange above (baresip 1.0.0, Debian 12).
    let offer = sdp("baresip-1.0.0-offer.sdp");
    let answer = bob_answer(&offer);
    assert_eq!(answer.sdp.media[0].formats, vec!["0", "101"]);
    let audio = answer.audio.unwrap();
    assert_eq!(
        audio.codec.codec,
        AudioCodec::Pcmu,
        "baresip lists PCMU first"
    );
    assert_eq!(audio.telephone_event.unwrap().clock_rate, 8000);
    assert_eq!(
        audio.srtp.unwrap().suite(),
        CryptoSuite::AesCm128HmacSha1_80
    );

    for (name, policy) in [
        ("baresip-1.0.0-answer-avp.sdp", SrtpPolicy::Optional),
        ("baresip-1.0.0-answer-savp.sdp", SrtpPolicy::Mandatory),
    ] {
        let mut ours = session(
            MediaConfig {
                srtp: policy,
                ..MediaConfig::default()
            },
            "127.0.0.1:4000",
            11,
        );
        ours.create_offer(&mut rng(11)).unwrap();
        let audio = ours.accept_answer(&sdp(name)).unwrap().unwrap();
        assert_eq!(audio.codec.codec, AudioCodec::Opus);
        assert_eq!(
            recv_codecs(&audio),
            vec![AudioCodec::Opus, AudioCodec::Pcmu, AudioCodec::Pcma]
        );
        // baresip 1.0 answers Opus with telephone-event/8000 only: we
        // take it (we offered /8000 too), durations in 8 kHz units.
        assert_eq!(
            audio.telephone_event,
            Some(TelephoneEvent {
                send_payload_type: 101,
                recv_payload_type: 101,
                clock_rate: 8000,
                audio_clock_rate: 48000,
            })
        );
        assert_eq!(audio.codec.remote_fmtp.get("stereo"), Some("1"));
    }
}

fn bob_answer(offer: &SessionDescription) -> Answer {
    session(MediaConfig::default(), "127.0.0.1:5000", 2)
        .answer_offer(offer, &mut rng(1))
        .unwrap()
}
