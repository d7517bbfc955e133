//! The cross-site rule, one place for HTTP and Socket.IO: which `Origin` may act
//! with the session a browser sends along by itself (the cookie).
//!
//! An origin is allowed when it is the server's own (its host and port are the
//! request's `Host`) or listed in `NATTER_ALLOWED_ORIGINS`. A request without an
//! `Origin` header does not come from a page's script (browsers send it on every
//! cross-site request, on WebSocket handshakes, and on same-origin writes); what
//! such a request may do is up to the caller.

use axum::http::{HeaderMap, header};

/// What the request's `Origin` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin` header: not a browser page's script (or a same-origin GET).
    Absent,
    /// The server's own origin, or one of the allowed origins.
    Allowed,
    /// Another site, `null`, or not a readable origin.
    Refused,
}

/// Checks the request's `Origin` against its `Host` and the allowed origins.
pub fn check(headers: &HeaderMap, allowed_origins: &[String]) -> OriginCheck {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return OriginCheck::Absent;
    };
    let Some(origin) = origin.to_str().ok().and_then(Origin::parse) else {
        return OriginCheck::Refused;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let own =
        host.is_some_and(|host| origin.authority == normalize_authority(&origin.scheme, host));
    let listed = allowed_origins
        .iter()
        .filter_map(|allowed| Origin::parse(allowed.trim()))
        .any(|allowed| allowed == origin);
    if own || listed {
        OriginCheck::Allowed
    } else {
        OriginCheck::Refused
    }
}

/// `scheme://host[:port]`, lower-cased, the scheme's default port dropped.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    authority: String,
}

impl Origin {
    fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https") {
            return None;
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let authority = normalize_authority(&scheme, authority);
        Some(Self { scheme, authority })
    }
}

fn normalize_authority(scheme: &str, authority: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    match authority.strip_suffix(default_port) {
        Some(host) => host.to_owned(),
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn the_own_origin_is_allowed() {
        let none: &[String] = &[];
        let check = |origin, host| super::check(&headers(Some(origin), host), none);
        assert_eq!(
            check("http://127.0.0.1:3000", "127.0.0.1:3000"),
            OriginCheck::Allowed
        );
        assert_eq!(
            check("https://Chat.Example", "chat.example"),
            OriginCheck::Allowed
        );
        assert_eq!(
            check("https://chat.example", "chat.example:443"),
            OriginCheck::Allowed
        );
        assert_eq!(
            check("http://127.0.0.1:3001", "127.0.0.1:3000"),
            OriginCheck::Refused
        );
        assert_eq!(
            check("http://evil.example", "chat.example"),
            OriginCheck::Refused
        );
        assert_eq!(check("null", "chat.example"), OriginCheck::Refused);
        assert_eq!(
            check("http://chat.example.evil", "chat.example"),
            OriginCheck::Refused
        );
    }

    #[test]
    fn listed_origins_are_allowed_and_no_origin_is_absent() {
        let allowed = vec![" https://app.example/ ".to_owned(), String::new()];
        let check = |origin| super::check(&headers(origin, "api.example"), &allowed);
        assert_eq!(check(Some("https://app.example")), OriginCheck::Allowed);
        assert_eq!(check(Some("https://app.example:443")), OriginCheck::Allowed);
        assert_eq!(check(Some("http://app.example")), OriginCheck::Refused);
        assert_eq!(check(Some("https://other.example")), OriginCheck::Refused);
        assert_eq!(check(None), OriginCheck::Absent);
    }
}
