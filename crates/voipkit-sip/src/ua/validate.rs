//! Minimal request checks of our own, until the message module's
//! `validate_request` lands (then this defers to it): the RFC's answer for
//! requests we can't handle, never silence.

use crate::message::Request;
use crate::message::{HeaderName, Method, Response, SipMessage, StatusCode};

use super::UaConfig;

/// Why a request is refused, with the response to send.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
    pub(crate) headers: Vec<(HeaderName, String)>,
}

fn rej(status: StatusCode, reason: &'static str) -> Option<Rejection> {
    Some(Rejection {
        status,
        reason,
        headers: Vec::new(),
    })
}

/// Option tags we understand in Require.
fn understood(tag: &str, cfg: &UaConfig) -> bool {
    (tag.eq_ignore_ascii_case("100rel") && cfg.enable_100rel)
        || (tag.eq_ignore_ascii_case("timer") && cfg.session_timer.is_some())
        || tag.eq_ignore_ascii_case("norefersub")
}

/// Checks a new request; `None` when it may go on.
pub(crate) fn check(req: &Request, cfg: &UaConfig) -> Option<Rejection> {
    if req.version.as_ref() as &str != "2.0" {
        return rej(StatusCode::VERSION_NOT_SUPPORTED, "Version Not Supported");
    }
    if req.call_id().is_err() {
        return rej(StatusCode::BAD_REQUEST, "Bad Request (Call-ID)");
    }
    if req.from().is_err() {
        return rej(StatusCode::BAD_REQUEST, "Bad Request (From)");
    }
    if req.to().is_err() {
        return rej(StatusCode::BAD_REQUEST, "Bad Request (To)");
    }
    match req.cseq() {
        Ok(c) if c.method == req.method => {}
        Ok(_) => {
            return rej(
                StatusCode::BAD_REQUEST,
                "Bad Request (CSeq method mismatch)",
            );
        }
        Err(_) => return rej(StatusCode::BAD_REQUEST, "Bad Request (CSeq)"),
    }
    if !matches!(req.uri.scheme(), "sip" | "sips" | "tel") {
        return rej(StatusCode::UNSUPPORTED_URI_SCHEME, "Unsupported URI Scheme");
    }
    match req.u32_header(&HeaderName::MaxForwards) {
        Err(_) => return rej(StatusCode::BAD_REQUEST, "Bad Request (Max-Forwards)"),
        Ok(Some(0)) if req.method != Method::Ack && req.method != Method::Options => {
            return rej(StatusCode::TOO_MANY_HOPS, "Too Many Hops");
        }
        _ => {}
    }
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let unsupported: Vec<&str> = req
            .tokens(&HeaderName::Require)
            .filter(|t| !understood(t, cfg))
            .collect();
        if !unsupported.is_empty() {
            return Some(Rejection {
                status: StatusCode::BAD_EXTENSION,
                reason: "Bad Extension",
                headers: vec![(HeaderName::Unsupported, unsupported.join(", "))],
            });
        }
    }
    if matches!(
        req.method,
        Method::Invite | Method::Update | Method::Prack | Method::Ack
    ) && !req.body.is_empty()
    {
        let ct = req.content_type();
        let ok = match ct.as_deref() {
            Some("application/sdp") => true,
            Some(_) => false,
            None => false,
        };
        if !ok && req.method != Method::Ack {
            return Some(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                reason: "Unsupported Media Type",
                headers: vec![(HeaderName::Accept, "application/sdp".into())],
            });
        }
    }
    if req
        .headers
        .get(&HeaderName::ContentEncoding)
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"))
        && !req.body.is_empty()
    {
        return Some(Rejection {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            reason: "Unsupported Media Type (encoding)",
            headers: vec![(HeaderName::AcceptEncoding, "identity".into())],
        });
    }
    None
}

/// A 400 for a request that did not parse: copies the Via, From, To,
/// Call-ID and CSeq lines found by a plain text scan. `None` if the bytes
/// do not look like a request or have no Via line.
pub(crate) fn best_effort_400(bytes: &[u8]) -> Option<Response> {
    let text = std::str::from_utf8(bytes.get(..bytes.len().min(16 * 1024))?).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let start = lines.next()?;
    if start.starts_with("SIP/") || !start.contains(" SIP/") {
        return None;
    }
    let mut resp =
        Response::new(StatusCode::BAD_REQUEST).with_reason("Bad Request (malformed message)");
    let mut have_via = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let hn = match name.as_str() {
            "via" | "v" => {
                have_via = true;
                HeaderName::Via
            }
            "from" | "f" => HeaderName::From,
            "to" | "t" => HeaderName::To,
            "call-id" | "i" => HeaderName::CallId,
            "cseq" => HeaderName::CSeq,
            _ => continue,
        };
        let value = value.trim();
        if value.len() > 1024 || value.chars().any(|c| c.is_control()) {
            continue;
        }
        resp.headers.push(hn, value.to_string());
    }
    have_via.then_some(resp)
}
