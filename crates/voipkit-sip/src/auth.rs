//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616,
//! RFC 8760): MD5, SHA-256 and their `-sess` variants, `qop=auth` and
//! `qop=auth-int`, 401 (WWW-Authenticate) and 407 (Proxy-Authenticate).
//!
//! Credentials are cached per realm with the last nonce and its nonce
//! count, so later requests (re-REGISTER, BYE, re-INVITE) can carry an
//! answer pre-emptively. Passwords and HA1 values never appear in `Debug`.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;

use md5::Md5;
use rand::RngCore;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

use crate::message::{HeaderName, Request, Response, quote};

/// A digest algorithm (RFC 7616 §3.2, RFC 8760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `MD5` (the default when a challenge names none).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// Parses the `algorithm` token (case-insensitive); `None` for
    /// algorithms we don't implement (e.g. SHA-512-256).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "MD5" => Self::Md5,
            "MD5-SESS" => Self::Md5Sess,
            "SHA-256" => Self::Sha256,
            "SHA-256-SESS" => Self::Sha256Sess,
            _ => return None,
        })
    }

    /// The token as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    fn strength(self) -> u8 {
        match self {
            Self::Md5 | Self::Md5Sess => 1,
            Self::Sha256 | Self::Sha256Sess => 2,
        }
    }

    /// Lower-case hex digest of `data`.
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex(&Md5::digest(data)),
            Self::Sha256 | Self::Sha256Sess => hex(&Sha256::digest(data)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`: authenticates method and URI.
    Auth,
    /// `auth-int`: also the body.
    AuthInt,
}

impl Qop {
    /// The token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// A parsed `Digest` challenge from WWW-Authenticate or
/// Proxy-Authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The realm.
    pub realm: String,
    /// The server nonce.
    pub nonce: String,
    /// Opaque value to echo.
    pub opaque: Option<String>,
    /// The algorithm.
    pub algorithm: DigestAlgorithm,
    /// The qop values offered (empty: RFC 2069 compatibility).
    pub qop: Vec<Qop>,
    /// `stale=true`: the nonce expired, the credentials were right.
    pub stale: bool,
    /// From a 407 (Proxy-Authenticate) rather than a 401.
    pub proxy: bool,
}

/// Why a challenge can't be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not a `Digest` challenge.
    NotDigest,
    /// realm or nonce missing, or the syntax is broken.
    Malformed,
    /// An algorithm we don't implement.
    UnsupportedAlgorithm,
}

/// Splits `k=v, k="v", ...` honouring quotes (with backslash escapes).
fn auth_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || name.is_empty() {
            return None;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name.to_ascii_lowercase(), value));
        if out.len() > 64 {
            return None;
        }
    }
}

impl Challenge {
    /// Parses one challenge header value (`Digest realm="..", ...`).
    pub fn parse(value: &str, proxy: bool) -> Result<Self, ChallengeError> {
        let value = value.trim();
        let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(ChallengeError::NotDigest);
        }
        let params = auth_params(rest).ok_or(ChallengeError::Malformed)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let realm = get("realm").ok_or(ChallengeError::Malformed)?;
        let nonce = get("nonce").ok_or(ChallengeError::Malformed)?;
        let algorithm = match get("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(a) => DigestAlgorithm::parse(&a).ok_or(ChallengeError::UnsupportedAlgorithm)?,
        };
        let qop = get("qop")
            .map(|q| {
                q.split(',')
                    .filter_map(|t| match t.trim().to_ascii_lowercase().as_str() {
                        "auth" => Some(Qop::Auth),
                        "auth-int" => Some(Qop::AuthInt),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            realm,
            nonce,
            opaque: get("opaque"),
            algorithm,
            qop,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            proxy,
        })
    }

    /// Every usable challenge of a 401/407, strongest algorithm first.
    pub fn from_response(resp: &Response) -> Vec<Challenge> {
        let mut out: Vec<Challenge> = Vec::new();
        for (name, proxy) in [
            (HeaderName::WwwAuthenticate, false),
            (HeaderName::ProxyAuthenticate, true),
        ] {
            for v in resp.headers.get_all(&name) {
                if let Ok(c) = Challenge::parse(v, proxy) {
                    out.push(c);
                }
            }
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.algorithm.strength()));
        out
    }
}

/// A secret: a password, or HA1 precomputed for one algorithm and realm.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The plain password.
    Password(String),
    /// `H(username:realm:password)` in lower-case hex, for one algorithm.
    Ha1 {
        /// The algorithm it was computed with.
        algorithm: DigestAlgorithm,
        /// The hex value.
        ha1: String,
    },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Password(<redacted>)"),
            Secret::Ha1 { algorithm, .. } => write!(f, "Ha1({}, <redacted>)", algorithm.as_str()),
        }
    }
}

/// A user name and secret, for one realm or any.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The digest user name.
    pub username: String,
    /// The secret.
    pub secret: Secret,
    /// Only answer challenges of this realm (`None`: any realm).
    pub realm: Option<String>,
}

impl Credentials {
    /// A user name and password for any realm.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            secret: Secret::Password(password.into()),
            realm: None,
        }
    }

    fn fits(&self, realm: &str) -> bool {
        self.realm.as_deref().is_none_or(|r| r == realm)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &self.secret)
            .field("realm", &self.realm)
            .finish()
    }
}

/// Everything one digest `response` value is computed from.
#[derive(Clone, Copy)]
pub struct DigestInput<'a> {
    /// Algorithm.
    pub algorithm: DigestAlgorithm,
    /// User name.
    pub username: &'a str,
    /// Secret.
    pub secret: &'a Secret,
    /// Realm.
    pub realm: &'a str,
    /// Server nonce.
    pub nonce: &'a str,
    /// Client nonce (used with qop and with -sess).
    pub cnonce: &'a str,
    /// Nonce count, printed as 8 lower-case hex digits.
    pub nc: u32,
    /// qop chosen (`None`: RFC 2069 form).
    pub qop: Option<Qop>,
    /// Request method.
    pub method: &'a str,
    /// The `uri` (digest-uri) value.
    pub uri: &'a str,
    /// The body (for auth-int).
    pub body: &'a [u8],
}

impl fmt::Debug for DigestInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestInput")
            .field("algorithm", &self.algorithm)
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("method", &self.method)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// The `response` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1).
pub fn digest_response(i: &DigestInput<'_>) -> String {
    let h = |s: &str| i.algorithm.hash_hex(s.as_bytes());
    let mut ha1 = match i.secret {
        Secret::Password(p) => h(&format!("{}:{}:{}", i.username, i.realm, p)),
        Secret::Ha1 { ha1, .. } => ha1.clone(),
    };
    if i.algorithm.is_sess() {
        ha1 = h(&format!("{ha1}:{}:{}", i.nonce, i.cnonce));
    }
    let ha2 = match i.qop {
        Some(Qop::AuthInt) => h(&format!(
            "{}:{}:{}",
            i.method,
            i.uri,
            i.algorithm.hash_hex(i.body)
        )),
        _ => h(&format!("{}:{}", i.method, i.uri)),
    };
    match i.qop {
        Some(q) => h(&format!(
            "{ha1}:{}:{:08x}:{}:{}:{ha2}",
            i.nonce,
            i.nc,
            i.cnonce,
            q.as_str()
        )),
        None => h(&format!("{ha1}:{}:{ha2}", i.nonce)),
    }
}

#[derive(Clone)]
struct Cached {
    challenge: Challenge,
    nc: u32,
    cnonce: String,
}

/// What to do after a 401/407.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeOutcome {
    /// Send the request again (with credentials now cached).
    Retry {
        /// Only the nonce went stale: not a failure.
        stale: bool,
    },
    /// The same credentials were refused: wrong user name or password.
    Rejected,
    /// No credentials for the realm, or no usable challenge.
    NoCredentials,
}

/// Digest state of a user agent: credentials and, per realm, the last
/// challenge with its nonce count.
#[derive(Clone, Default)]
pub(crate) struct DigestClient {
    credentials: Vec<Credentials>,
    cache: HashMap<String, Cached>,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("credentials", &self.credentials)
            .field("realms", &self.cache.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DigestClient {
    pub(crate) fn add(&mut self, c: Credentials) {
        self.credentials.push(c);
    }

    /// Takes the challenges of `resp` (a 401/407 to `sent`).
    pub(crate) fn on_challenge(
        &mut self,
        sent: &Request,
        resp: &Response,
        rng: &mut ChaCha20Rng,
    ) -> ChallengeOutcome {
        let mut outcome = ChallengeOutcome::NoCredentials;
        let mut seen_realms: Vec<String> = Vec::new();
        for ch in Challenge::from_response(resp) {
            if seen_realms.contains(&ch.realm) {
                continue; // a weaker algorithm for a realm already handled
            }
            if !self.credentials.iter().any(|c| c.fits(&ch.realm)) {
                continue;
            }
            seen_realms.push(ch.realm.clone());
            let answered = sent_answer_nonce(sent, &ch.realm, ch.proxy);
            if answered.is_some() && !ch.stale {
                // We answered this realm and the server still says no.
                outcome = ChallengeOutcome::Rejected;
                self.cache.remove(&ch.realm);
                continue;
            }
            let stale = answered.is_some() && ch.stale;
            self.cache.insert(
                ch.realm.clone(),
                Cached {
                    challenge: ch,
                    nc: 0,
                    cnonce: random_hex(rng, 16),
                },
            );
            if outcome != ChallengeOutcome::Rejected {
                outcome = ChallengeOutcome::Retry { stale };
            }
        }
        outcome
    }

    /// Adds Authorization / Proxy-Authorization for every cached realm
    /// (replacing any already there). The nonce count goes up by one.
    pub(crate) fn authorize(&mut self, req: &mut Request) {
        req.headers.remove(&HeaderName::Authorization);
        req.headers.remove(&HeaderName::ProxyAuthorization);
        let uri = req.uri().to_string();
        let method = req.method.to_string();
        let mut realms: Vec<&String> = self.cache.keys().collect();
        realms.sort();
        let realms: Vec<String> = realms.into_iter().cloned().collect();
        for realm in realms {
            let Some(cred) = self.credentials.iter().find(|c| c.fits(&realm)).cloned() else {
                continue;
            };
            let Some(cached) = self.cache.get_mut(&realm) else {
                continue;
            };
            cached.nc = cached.nc.wrapping_add(1).max(1);
            let ch = &cached.challenge;
            let qop = if ch.qop.contains(&Qop::Auth) {
                Some(Qop::Auth)
            } else if ch.qop.contains(&Qop::AuthInt) {
                Some(Qop::AuthInt)
            } else {
                None
            };
            let secret = match &cred.secret {
                Secret::Ha1 { algorithm, .. } if !same_hash(*algorithm, ch.algorithm) => continue,
                s => s,
            };
            let input = DigestInput {
                algorithm: ch.algorithm,
                username: &cred.username,
                secret,
                realm: &ch.realm,
                nonce: &ch.nonce,
                cnonce: &cached.cnonce,
                nc: cached.nc,
                qop,
                method: &method,
                uri: &uri,
                body: &req.body,
            };
            let response = digest_response(&input);
            let mut v = format!(
                "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
                quote(&cred.username),
                quote(&ch.realm),
                quote(&ch.nonce),
                quote(&uri),
                quote(&response),
                ch.algorithm.as_str()
            );
            if let Some(q) = qop {
                let _ = write!(
                    v,
                    ", qop={}, nc={:08x}, cnonce={}",
                    q.as_str(),
                    cached.nc,
                    quote(&cached.cnonce)
                );
            } else if ch.algorithm.is_sess() {
                let _ = write!(v, ", cnonce={}", quote(&cached.cnonce));
            }
            if let Some(o) = &ch.opaque {
                let _ = write!(v, ", opaque={}", quote(o));
            }
            let name = if ch.proxy {
                HeaderName::ProxyAuthorization
            } else {
                HeaderName::Authorization
            };
            req.headers.push(name, v);
        }
    }
}

fn same_hash(a: DigestAlgorithm, b: DigestAlgorithm) -> bool {
    a.strength() == b.strength()
}

/// The nonce `sent` answered for `realm`, if it carried an answer.
fn sent_answer_nonce(sent: &Request, realm: &str, proxy: bool) -> Option<String> {
    let name = if proxy {
        HeaderName::ProxyAuthorization
    } else {
        HeaderName::Authorization
    };
    sent.headers.get_all(&name).find_map(|v| {
        let (_, rest) = v.trim().split_once(char::is_whitespace)?;
        let params = auth_params(rest)?;
        let r = params.iter().find(|(n, _)| n == "realm")?;
        if r.1 != realm {
            return None;
        }
        params
            .iter()
            .find(|(n, _)| n == "nonce")
            .map(|(_, v)| v.clone())
    })
}

/// `n` random bytes as lower-case hex.
pub(crate) fn random_hex(rng: &mut ChaCha20Rng, n: usize) -> String {
    let mut buf = vec![0u8; n];
    rng.fill_bytes(&mut buf);
    hex(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_challenges() {
        let c = Challenge::parse(
            r#"Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=SHA-256"#,
            false,
        )
        .unwrap();
        assert_eq!(c.realm, "atlanta.com");
        assert_eq!(c.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(c.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert!(!c.stale);
        assert_eq!(
            Challenge::parse("Basic realm=\"x\"", false),
            Err(ChallengeError::NotDigest)
        );
        assert_eq!(
            Challenge::parse("Digest realm=\"x", false),
            Err(ChallengeError::Malformed)
        );
        assert_eq!(
            Challenge::parse("Digest realm=x, nonce=y, algorithm=SHA-512-256", false),
            Err(ChallengeError::UnsupportedAlgorithm)
        );
        assert!(
            Challenge::parse("Digest realm=x, nonce=y, stale=true", true)
                .unwrap()
                .stale
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Credentials::new("alice", "hunter2-secret");
        assert!(!format!("{c:?}").contains("hunter2"));
        let h = Secret::Ha1 {
            algorithm: DigestAlgorithm::Md5,
            ha1: "0123456789abcdef".into(),
        };
        assert!(!format!("{h:?}").contains("0123456789abcdef"));
        let mut dc = DigestClient::default();
        dc.add(c);
        assert!(!format!("{dc:?}").contains("hunter2"));
    }
}
