//! Digest test vectors: RFC 7616 §3.9.1 (MD5 and SHA-256) and RFC 2617
//! §3.5, plus -sess and auth-int computed from their definitions.

use voipkit_sip::auth::{DigestAlgorithm, DigestInput, Qop, Secret, digest_response};

fn rfc7616(alg: DigestAlgorithm) -> String {
    let secret = Secret::Password("Circle of Life".into());
    digest_response(&DigestInput {
        algorithm: alg,
        username: "Mufasa",
        secret: &secret,
        realm: "http-auth@example.org",
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        nc: 1,
        qop: Some(Qop::Auth),
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    })
}

#[test]
fn rfc7616_md5() {
    assert_eq!(
        rfc7616(DigestAlgorithm::Md5),
        "8ca523f5e9506fed4657c9700eebdbec"
    );
}

#[test]
fn rfc7616_sha256() {
    assert_eq!(
        rfc7616(DigestAlgorithm::Sha256),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

#[test]
fn rfc2617_md5() {
    let secret = Secret::Password("Circle Of Life".into());
    let r = digest_response(&DigestInput {
        algorithm: DigestAlgorithm::Md5,
        username: "Mufasa",
        secret: &secret,
        realm: "testrealm@host.com",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        cnonce: "0a4f113b",
        nc: 1,
        qop: Some(Qop::Auth),
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    });
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}

/// -sess, auth-int and the RFC 2069 form, checked against the formulas
/// spelled out with the hash function directly.
#[test]
fn sess_auth_int_and_no_qop_follow_the_formulas() {
    let h = |s: &str| DigestAlgorithm::Sha256.hash_hex(s.as_bytes());
    let secret = Secret::Password("pw".into());
    let base = DigestInput {
        algorithm: DigestAlgorithm::Sha256Sess,
        username: "u",
        secret: &secret,
        realm: "r",
        nonce: "n",
        cnonce: "c",
        nc: 0x1f,
        qop: Some(Qop::AuthInt),
        method: "INVITE",
        uri: "sip:b@h",
        body: b"v=0\r\n",
    };
    let ha1 = h(&format!("{}:n:c", h("u:r:pw")));
    let ha2 = h(&format!("INVITE:sip:b@h:{}", h("v=0\r\n")));
    assert_eq!(
        digest_response(&base),
        h(&format!("{ha1}:n:0000001f:c:auth-int:{ha2}"))
    );

    let plain = DigestInput {
        algorithm: DigestAlgorithm::Md5,
        qop: None,
        ..base
    };
    let m = |s: &str| DigestAlgorithm::Md5.hash_hex(s.as_bytes());
    assert_eq!(
        digest_response(&plain),
        m(&format!("{}:n:{}", m("u:r:pw"), m("INVITE:sip:b@h")))
    );

    // A precomputed HA1 gives the same answer as the password.
    let ha1_md5 = m("u:r:pw");
    let with_ha1 = Secret::Ha1 {
        algorithm: DigestAlgorithm::Md5,
        ha1: ha1_md5,
    };
    assert_eq!(
        digest_response(&DigestInput {
            secret: &with_ha1,
            ..plain
        }),
        digest_response(&plain)
    );
    assert!(!format!("{with_ha1:?}").contains(&m("u:r:pw")));
}
