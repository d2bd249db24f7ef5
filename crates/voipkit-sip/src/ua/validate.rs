//! Request checks: the message module's [`validate_request`] (RFC 3261
//! §8.2.1-§8.2.3: 505, 400, 416, 405/501, 420, 415) with our
//! capabilities, plus what a user agent core adds on top: 483 for
//! `Max-Forwards: 0` and 415 for a non-SDP body in INVITE, UPDATE, PRACK.

use crate::message::{
    HeaderName, Method, Rejection, Request, SipMessage, StatusCode, UasCapabilities,
    validate_request,
};

use super::UaConfig;

/// What our UAS implements.
pub(crate) fn capabilities(cfg: &UaConfig) -> UasCapabilities {
    let mut c = UasCapabilities::user_agent();
    c.methods.retain(|m| {
        matches!(
            m,
            Method::Invite
                | Method::Ack
                | Method::Bye
                | Method::Cancel
                | Method::Options
                | Method::Info
                | Method::Update
                | Method::Prack
                | Method::Refer
                | Method::Notify
        )
    });
    c.extensions = vec!["norefersub".to_string()];
    if cfg.enable_100rel {
        c.extensions.push("100rel".into());
    }
    if cfg.session_timer.is_some() {
        c.extensions.push("timer".into());
    }
    c.content_types.retain(|t| t != "multipart/mixed");
    c
}

/// Checks a new request; `None` when it may go on.
pub(crate) fn check(req: &Request, caps: &UasCapabilities) -> Option<Rejection> {
    if let Err(r) = validate_request(req, caps) {
        return Some(r);
    }
    if req.method != Method::Ack && req.u32_header(&HeaderName::MaxForwards) == Ok(Some(0)) {
        return Some(Rejection::new(StatusCode::TOO_MANY_HOPS, "Too Many Hops"));
    }
    if matches!(req.method, Method::Invite | Method::Update | Method::Prack)
        && !req.body.is_empty()
        && req.content_type().as_deref() != Some("application/sdp")
    {
        return Some(
            Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type (only application/sdp here)",
            )
            .with_header(HeaderName::Accept, "application/sdp"),
        );
    }
    None
}
