//! Interop with a real peer: our MediaSession exchanges SDES-SRTP
//! (AES_CM_128_HMAC_SHA1_80) with baresip on loopback, both ways.
//!
//! Skipped (with a message) when `baresip` is not installed. The SIP
//! signalling is hand-written text over UDP (INVITE with our SDP offer,
//! 200 OK with baresip's answer, ACK, BYE); media runs for a few seconds on
//! a real socket and the real clock (this is an interop test, not a flow
//! test). baresip runs from a temporary config directory with `ausine` as
//! its microphone and no speaker, is auto-answering with `srtp-mand`, and
//! is stopped by its PID at the end.
//!
//! Proof both ways: we authenticate and parse baresip's SRTP (packet count,
//! no authentication failures, payload type and size), and baresip's SRTCP
//! receiver reports about OUR SSRC show it received our stream up to our
//! last sequence number with (almost) no loss; baresip only reports on
//! packets that passed its SRTP unprotect.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use voipkit_media::{
    ChaCha20Rng, CryptoSuite, DropReason, DtmfDigit, MediaSession, MediaSessionConfig, MediaSocket,
    SeedableRng, SrtpKeyingMaterial, SrtpParameters,
};
use voipkit_testpeers::{Baresip, find_binary, free_udp_port, free_udp_port_pair};

/// An RTP socket on an even port whose odd neighbour is free too (for
/// RTCP when the answer has no rtcp-mux).
fn rtp_rtcp_sockets() -> (UdpSocket, UdpSocket) {
    for _ in 0..200 {
        let p = free_udp_port() & !1;
        if let (Ok(a), Ok(b)) = (
            UdpSocket::bind(("127.0.0.1", p)),
            UdpSocket::bind(("127.0.0.1", p + 1)),
        ) {
            return (a, b);
        }
    }
    panic!("no free RTP/RTCP port pair");
}

/// G.711 µ-law of a 16-bit sample.
fn ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = (s + BIAS).min(0x7fff);
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

struct Response {
    code: u16,
    to: String,
    contact: Option<String>,
    cseq: String,
    body: String,
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn parse_response(raw: &str) -> Option<Response> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some(Response {
        code,
        to: header(head, "To")?.to_string(),
        contact: header(head, "Contact").map(|c| {
            c.trim_start_matches('<')
                .split(['>', ';'])
                .next()
                .unwrap_or(c)
                .to_string()
        }),
        cseq: header(head, "CSeq")?.to_string(),
        body: body.to_string(),
    })
}

struct Answer {
    rtp: SocketAddr,
    rtcp: Option<SocketAddr>,
    mux: bool,
    key: SrtpKeyingMaterial,
}

fn parse_answer(sdp: &str) -> Answer {
    let mut ip = None;
    let mut port = None;
    let mut rtcp_port = None;
    let mut mux = false;
    let mut key = None;
    for l in sdp.lines() {
        if let Some(c) = l.strip_prefix("c=IN IP4 ") {
            ip = Some(c.trim().to_string());
        } else if let Some(m) = l.strip_prefix("m=audio ") {
            port = m.split(' ').next().and_then(|p| p.parse::<u16>().ok());
        } else if l.trim() == "a=rtcp-mux" {
            mux = true;
        } else if let Some(r) = l.strip_prefix("a=rtcp:") {
            rtcp_port = r
                .split(' ')
                .next()
                .and_then(|p| p.trim().parse::<u16>().ok());
        } else if let Some(c) = l.strip_prefix("a=crypto:") {
            let mut parts = c.split_whitespace();
            let _tag = parts.next();
            let suite = CryptoSuite::from_name(parts.next().unwrap()).unwrap();
            let inline = parts.next().unwrap().trim_start_matches("inline:");
            let inline = inline.split('|').next().unwrap();
            key = Some(SrtpKeyingMaterial::from_inline(suite, inline).unwrap());
        }
    }
    let ip: std::net::IpAddr = ip.expect("no c= line").parse().unwrap();
    let port = port.expect("no m=audio");
    Answer {
        rtp: SocketAddr::new(ip, port),
        rtcp: rtcp_port.map(|p| SocketAddr::new(ip, p)),
        mux,
        key: key.expect("no a=crypto in the answer"),
    }
}

fn recv_response(sip: &UdpSocket, cseq_method: &str, deadline: Instant) -> Response {
    let mut buf = [0u8; 8192];
    loop {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for a {cseq_method} response"
        );
        let Ok((n, _)) = sip.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if !text.starts_with("SIP/2.0 ") {
            continue;
        }
        if let Some(r) = parse_response(&text)
            && r.cseq.ends_with(cseq_method)
            && r.code >= 200
        {
            return r;
        }
    }
}

#[test]
fn srtp_call_with_baresip() {
    let Some(baresip_bin) = find_binary("baresip") else {
        eprintln!(
            "SKIPPED srtp_call_with_baresip: `baresip` is not installed \
             (apt-get install baresip-core to run this interop test)"
        );
        return;
    };
    let test_start = Instant::now();
    let mut rng = ChaCha20Rng::from_os_rng();
    let run_id: u32 = rand::Rng::random(&mut rng);

    // Sockets: our SIP, our RTP (+ RTCP neighbour).
    let sip = UdpSocket::bind("127.0.0.1:0").unwrap();
    sip.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let our_sip = sip.local_addr().unwrap();
    let (rtp_sock, rtcp_sock) = rtp_rtcp_sockets();
    let our_rtp = rtp_sock.local_addr().unwrap();
    // baresip with a temporary config; its SIP port + 1 must be free too
    // (it binds TCP/TLS there).
    let mut bare = Baresip::builder(&baresip_bin)
        .dir_prefix(&format!("voipkit-baresip-{run_id:08x}"))
        .sip_port(free_udp_port_pair())
        .ausine(440)
        .modules(["g711.so", "ausine.so", "srtp.so"])
        .app_modules(["account.so", "menu.so"])
        .account("<sip:test@127.0.0.1>;regint=0;answermode=auto;mediaenc=srtp-mand;audio_codecs=PCMU/8000/1")
        .verbose()
        .timeout_secs(30) // never outlive the test by much
        .start();
    bare.wait_ready(Duration::from_secs(10));
    let bare_sip = bare.sip_addr();

    // INVITE with our offer.
    let our_key = SrtpKeyingMaterial::generate(CryptoSuite::AesCm128HmacSha1_80, &mut rng);
    let sdp = format!(
        "v=0\r\no=voipkit {run_id} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\na=ptime:20\r\na=rtcp-mux\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\na=sendrecv\r\n",
        our_rtp.port(),
        our_key.to_inline()
    );
    let call_id = format!("{run_id:08x}@127.0.0.1");
    let from_tag = format!("{:08x}", run_id.rotate_left(7));
    let request_uri = format!("sip:test@{bare_sip}");
    let invite = format!(
        "INVITE {request_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {our_sip};branch=z9hG4bK{run_id:08x}a;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:voipkit@{our_sip}>;tag={from_tag}\r\nTo: <{request_uri}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:voipkit@{our_sip}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    sip.send_to(invite.as_bytes(), bare_sip).unwrap();
    let ok = recv_response(&sip, "INVITE", Instant::now() + Duration::from_secs(10));
    assert_eq!(ok.code, 200, "INVITE failed:\n{}", bare.log());
    let answer = parse_answer(&ok.body);
    assert_eq!(answer.key.suite(), CryptoSuite::AesCm128HmacSha1_80);
    let remote_uri = ok.contact.clone().unwrap_or(request_uri.clone());
    let ack = format!(
        "ACK {remote_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {our_sip};branch=z9hG4bK{run_id:08x}b;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:voipkit@{our_sip}>;tag={from_tag}\r\nTo: {}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        ok.to
    );
    sip.send_to(ack.as_bytes(), bare_sip).unwrap();

    // Media.
    let now = Instant::now();
    let mut cfg = MediaSessionConfig::new(answer.rtp, 0, 8000);
    cfg.rtcp_mux = answer.mux;
    cfg.remote_rtcp = answer.rtcp;
    cfg.telephone_event_payload_type = Some(101);
    cfg.srtp = Some(SrtpParameters {
        local: our_key,
        remote: answer.key,
    });
    let mut session =
        MediaSession::new(cfg, ChaCha20Rng::seed_from_u64(u64::from(run_id)), now).unwrap();
    let socks = [&rtp_sock, &rtcp_sock];
    for s in socks {
        s.set_nonblocking(true).unwrap();
    }
    let sine: Vec<u8> = (0..8000)
        .map(|i| {
            ulaw((f64::sin(i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0) * 8000.0) as i16)
        })
        .collect();
    let media_time = Duration::from_secs(6);
    let mut next_frame = now;
    let mut frame = 0usize;
    let mut received = 0u64;
    let mut buf = [0u8; 2048];
    let mut sent_dtmf = false;
    let mut events = Vec::new();
    let mut last_sent_seq = 0u16;
    // Past `media_time`, carry on (up to `rtt_time`) until baresip has
    // reported on one of our SRs: its first RR can precede our first SR
    // (both intervals are randomised), and then it carries no LSR.
    let rtt_time = Duration::from_secs(14);
    while Instant::now() < now + media_time
        || (Instant::now() < now + rtt_time && session.stats().rtt.samples == 0)
    {
        let t = Instant::now();
        if t >= next_frame {
            let off = (frame * 160) % 8000;
            session.send_audio(t, &sine[off..off + 160], 160).unwrap();
            frame += 1;
            next_frame += Duration::from_millis(20);
        }
        if !sent_dtmf && t >= now + Duration::from_secs(2) {
            session
                .send_dtmf(
                    t,
                    DtmfDigit::from_char('5').unwrap(),
                    Duration::from_millis(120),
                    10,
                )
                .unwrap();
            sent_dtmf = true;
        }
        if session.poll_timeout().is_some_and(|d| d <= t) {
            session.handle_timeout(t);
        }
        while let Some(tx) = session.poll_transmit() {
            if tx.kind == voipkit_media::TransmitKind::Rtp {
                last_sent_seq = u16::from_be_bytes([tx.contents[2], tx.contents[3]]);
            }
            let sock = if tx.socket == MediaSocket::Rtp {
                &rtp_sock
            } else {
                &rtcp_sock
            };
            sock.send_to(&tx.contents, tx.destination).unwrap();
            session.recycle(tx.contents);
        }
        let mut got = false;
        for (i, s) in socks.iter().enumerate() {
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                got = true;
                if i == 0 {
                    session.handle_input(Instant::now(), from, &buf[..n]);
                } else {
                    session.handle_rtcp_input(Instant::now(), from, &buf[..n]);
                }
            }
        }
        while let Some(p) = session.poll_rtp() {
            assert_eq!(p.payload_type, 0);
            assert_eq!(p.payload.len(), 160);
            received += 1;
            session.recycle(p.payload);
        }
        while let Some(e) = session.poll_event() {
            events.push(e);
        }
        if !got {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Hang up.
    let bye = format!(
        "BYE {remote_uri} SIP/2.0\r\nVia: SIP/2.0/UDP {our_sip};branch=z9hG4bK{run_id:08x}c;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:voipkit@{our_sip}>;tag={from_tag}\r\nTo: {}\r\n\
         Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        ok.to
    );
    session.close(Instant::now());
    while let Some(tx) = session.poll_transmit() {
        let sock = if tx.socket == MediaSocket::Rtp {
            &rtp_sock
        } else {
            &rtcp_sock
        };
        sock.send_to(&tx.contents, tx.destination).unwrap();
    }
    sip.send_to(bye.as_bytes(), bare_sip).unwrap();
    let bye_ok = recv_response(&sip, "BYE", Instant::now() + Duration::from_secs(5));
    assert_eq!(bye_ok.code, 200);
    std::thread::sleep(Duration::from_millis(300));
    bare.stop();
    let log = bare.log();

    let st = session.stats();
    println!("stats: {st:#?}");
    println!("events: {events:?}");
    println!("frames sent {frame}, received {received}, last seq sent {last_sent_seq}");
    let srtp_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("srtp"))
        .collect();
    println!("baresip srtp log lines: {srtp_lines:#?}");
    println!("test took {:?}", test_start.elapsed());

    // We decoded baresip's SRTP: ~50 packets/s for 4 s, all authenticated.
    assert!(
        received >= 150,
        "only {received} packets from baresip\n{log}"
    );
    assert_eq!(st.inbound.packets, received);
    assert!(st.inbound.cumulative_lost <= 2, "{st:?}");
    assert!(st.remote_ssrc.is_some());
    // Any authentication failure would be counted here (RTP or RTCP); a
    // plaintext RTCP packet would show as UnencryptedSrtcp/Truncated.
    assert_eq!(
        st.drops.get(DropReason::AuthenticationFailed),
        0,
        "{:?}",
        st.drops
    );
    assert_eq!(st.drops.get(DropReason::Replayed), 0);
    // baresip decoded ours: its SRTCP reports about our SSRC (which it only
    // builds from packets that passed its SRTP unprotect).
    let rr = st
        .remote_report
        .expect("no SRTCP receiver report from baresip about our stream");
    assert!(st.inbound.rtcp_packets >= 1);
    assert!(rr.cumulative_lost <= 2, "{rr:?}");
    let reported = rr.extended_highest_sequence as u16;
    let behind = last_sent_seq.wrapping_sub(reported);
    // Its last report was sent up to ~5 s before the end of the call.
    assert!(
        behind < 300,
        "baresip reported seq {reported}, we sent up to {last_sent_seq}"
    );
    assert!(st.rtt.samples >= 1, "no RTT from baresip's RR");
    assert!(
        !srtp_lines.iter().any(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("fail") || l.contains("error") || l.contains("auth")
        }),
        "baresip logged SRTP errors: {srtp_lines:?}"
    );
    // And it authenticated and decoded our telephone-event packets.
    assert!(
        log.contains("received event: '5' (end=1)"),
        "baresip did not log our DTMF digit:\n{log}"
    );
    let _ = std::io::stdout().flush();
}
