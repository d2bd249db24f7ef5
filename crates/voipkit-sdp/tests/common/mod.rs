#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use voipkit_sdp::{AudioCodec, MediaConfig, NegotiatedAudio, SdpSession, SessionDescription};

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn raw(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(name)).unwrap()
}

/// A data file, parsed, with the RFC examples' host names mapped to
/// documentation addresses (the driver's job in real life).
pub fn sdp(name: &str) -> SessionDescription {
    let mut s = SessionDescription::parse(&raw(name)).unwrap();
    s.resolve_hostnames(resolve);
    s
}

pub fn parse(text: &str) -> SessionDescription {
    text.parse().unwrap()
}

pub fn resolve(host: &str) -> Option<IpAddr> {
    let ip = match host {
        "host.atlanta.example.com" => "192.0.2.1",
        "host.biloxi.example.com" => "192.0.2.2",
        "host.anywhere.com" => "192.0.2.3",
        "host.example.com" => "192.0.2.4",
        _ => return None,
    };
    Some(ip.parse().unwrap())
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn session(config: MediaConfig, local: &str, seed: u64) -> SdpSession {
    SdpSession::new(config, addr(local), &mut rng(seed))
}

/// Print and parse again, as if sent over the wire.
pub fn wire(s: &SessionDescription) -> SessionDescription {
    let text = s.to_string();
    assert!(text.ends_with("\r\n"));
    let back: SessionDescription = text.parse().unwrap();
    assert_eq!(&back, s, "print/parse changed the description:\n{text}");
    back
}

pub fn flags(m: &voipkit_sdp::MediaDescription) -> Vec<String> {
    m.attributes
        .iter()
        .filter(|a| a.value.is_none())
        .map(|a| a.name.clone())
        .collect()
}

/// The codecs the peer may send us, in order.
pub fn recv_codecs(audio: &NegotiatedAudio) -> Vec<AudioCodec> {
    audio.recv_codecs.iter().map(|c| c.codec).collect()
}
