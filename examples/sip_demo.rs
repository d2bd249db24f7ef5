//! Two voipkit-sip user agents complete a call over real UDP sockets on
//! 127.0.0.1: INVITE / 100 / 180 / 200 / ACK, then BYE / 200.
//!
//! A tiny std driver loop owns the sockets and the clock; the SIP cores
//! are sans-IO (they only see bytes, instants and addresses). Every message
//! is printed as it goes: time, direction, start line.
//!
//!     cargo run --example sip_demo
//!
//! Exits 0 when the call was set up and torn down, 1 otherwise.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_sip::{CallHandle, Event, Transport, UaConfig, UserAgent};

struct Agent {
    name: &'static str,
    ua: UserAgent,
    socket: UdpSocket,
    addr: SocketAddr,
}

impl Agent {
    fn new(name: &'static str) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        let addr = socket.local_addr()?;
        let cfg = UaConfig::new(name, vec![(Transport::Udp, addr)]);
        let ua = UserAgent::new(cfg, ChaCha20Rng::from_os_rng());
        Ok(Self {
            name,
            ua,
            socket,
            addr,
        })
    }
}

fn sdp(name: &str, port: u16) -> Bytes {
    Bytes::from(format!(
        "v=0\r\no={name} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    ))
}

fn start_line(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|&c| c == b'\r').next().unwrap_or(&[])).into_owned()
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sip_demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> std::io::Result<bool> {
    let mut agents = [Agent::new("alice")?, Agent::new("bob")?];
    let names: Vec<(SocketAddr, &str)> = agents.iter().map(|a| (a.addr, a.name)).collect();
    let name_of = |a: SocketAddr| {
        names
            .iter()
            .find(|(x, _)| *x == a)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    };
    println!("alice on {}, bob on {}", agents[0].addr, agents[1].addr);
    let start = Instant::now();
    let t = |now: Instant| (now - start).as_secs_f64();

    let target = format!("sip:bob@{}", agents[1].addr)
        .parse()
        .map_err(|e| std::io::Error::other(format!("{e}")))?;
    let mut alice_call: Option<CallHandle> =
        match agents[0]
            .ua
            .start_call(Instant::now(), target, Some(sdp("alice", 40000)))
        {
            Ok(c) => Some(c),
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        };
    // What the "apps" do, on a schedule of their own.
    let mut bob_answer_at: Option<(Instant, CallHandle)> = None;
    let mut alice_hangup_at: Option<Instant> = None;
    let mut ended = [false, false];
    let deadline = start + Duration::from_secs(15);
    let mut buf = vec![0u8; 65_535];

    loop {
        let now = Instant::now();
        if now > deadline {
            println!("{:7.3}s  timed out", t(now));
            return Ok(false);
        }
        for i in 0..agents.len() {
            let agent = &mut agents[i];
            // Receive.
            loop {
                match agent.socket.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let data = buf.get(..n).unwrap_or(&[]);
                        agent.ua.handle_input(now, Transport::Udp, from, data);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            // Timers.
            if agent.ua.poll_timeout().is_some_and(|d| d <= now) {
                agent.ua.handle_timeout(now);
            }
            // App scheduling.
            if i == 1 {
                if let Some((at, call)) = bob_answer_at
                    && now >= at
                {
                    bob_answer_at = None;
                    let _ = agent.ua.answer(now, call, Some(sdp("bob", 40002)));
                }
            } else if alice_hangup_at.is_some_and(|at| now >= at) {
                alice_hangup_at = None;
                if let Some(c) = alice_call.take() {
                    let _ = agent.ua.hang_up(now, c);
                }
            }
            // Events.
            while let Some(ev) = agent.ua.poll_event() {
                match &ev {
                    Event::IncomingCall(ic) => {
                        println!(
                            "{:7.3}s  {:5}  incoming call from {}",
                            t(now),
                            agent.name,
                            ic.from
                        );
                        let _ = agent.ua.ringing(now, ic.call);
                        bob_answer_at = Some((now + Duration::from_millis(800), ic.call));
                    }
                    Event::Provisional { status, reason, .. } => {
                        println!(
                            "{:7.3}s  {:5}  ringing ({} {reason})",
                            t(now),
                            agent.name,
                            status.as_u16()
                        );
                    }
                    Event::Answered { .. } => {
                        println!("{:7.3}s  {:5}  answered", t(now), agent.name);
                        alice_hangup_at = Some(now + Duration::from_millis(1000));
                    }
                    Event::Confirmed { .. } => {
                        println!(
                            "{:7.3}s  {:5}  call confirmed (ACK received)",
                            t(now),
                            agent.name
                        );
                    }
                    Event::Ended { reason, .. } => {
                        println!("{:7.3}s  {:5}  call ended: {reason:?}", t(now), agent.name);
                        ended[i] = true;
                    }
                    other => println!("{:7.3}s  {:5}  {other:?}", t(now), agent.name),
                }
            }
            // Send.
            while let Some(tx) = agent.ua.poll_transmit() {
                println!(
                    "{:7.3}s  {:5} -> {:5}  {}",
                    t(now),
                    agent.name,
                    name_of(tx.destination),
                    start_line(&tx.contents)
                );
                agent.socket.send_to(&tx.contents, tx.destination)?;
            }
        }
        if ended.iter().all(|e| *e) {
            // Let the final 200 to BYE go out and be read.
            std::thread::sleep(Duration::from_millis(50));
            for agent in agents.iter_mut() {
                while let Ok((n, from)) = agent.socket.recv_from(&mut buf) {
                    let now = Instant::now();
                    agent
                        .ua
                        .handle_input(now, Transport::Udp, from, buf.get(..n).unwrap_or(&[]));
                }
            }
            println!("{:7.3}s  call complete", t(Instant::now()));
            return Ok(true);
        }
        // Sleep until the next deadline, but look at the sockets often.
        let next = agents
            .iter()
            .filter_map(|a| a.ua.poll_timeout())
            .min()
            .unwrap_or(now + Duration::from_millis(5));
        let wait = next
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(5));
        std::thread::sleep(wait);
    }
}
