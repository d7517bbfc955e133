//! Sessions: tokens, resolving a token to its signed-in user (for HTTP and
//! Socket.IO alike), and the cache that makes that cost no query.
//!
//! Session tokens are 256-bit random strings of which only a SHA-256 digest is
//! stored, so a leaked database grants no sessions. A client presents its token
//! as `Authorization: Bearer` or in the HttpOnly session cookie.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::state::Ctx;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "natter_session";

/// The signed-in caller, resolved from a bearer token or the session cookie.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub username: String,
    /// Identifies the session, for sign-out.
    pub token_hash: String,
}

/// A fresh session token, URL-safe base64 of 32 random bytes.
pub fn new_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session token from the request's `Cookie` header, if one is present.
pub fn token_from_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// The user a token belongs to, or 401.
pub async fn authenticate(ctx: &Ctx, token: &str) -> AppResult<AuthUser> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::Unauthorized);
    }
    let token_hash = hash_token(token);
    if let Some(user) = ctx.sessions.get(&token_hash) {
        return Ok(user);
    }
    let user = ctx
        .store
        .session_user(&token_hash)
        .await?
        .ok_or(AppError::Unauthorized)?;
    let user = AuthUser {
        id: user.id,
        username: user.username,
        token_hash,
    };
    ctx.sessions.insert(&user);
    Ok(user)
}

/// Ends sessions everywhere: the cache here, and the live sockets on every node.
pub async fn end(ctx: &Ctx, token_hashes: &[String]) {
    ctx.sessions.forget(token_hashes);
    ctx.notifier.end_sessions(token_hashes).await;
}

/// Sessions already resolved, so a request or socket connect costs no query.
/// Sessions end only through [`end`], which drops them here too. Across several
/// nodes a sign-out on one node could not reach the others' caches, so a node
/// with Redis configured runs without it.
pub struct SessionCache {
    enabled: bool,
    entries: Mutex<SessionEntries>,
}

#[derive(Default)]
struct SessionEntries {
    live: HashMap<String, AuthUser>,
    /// Ended sessions. A lookup that read the session row just before it was
    /// deleted must not put it back into `live`; tokens are never reused.
    ended: HashSet<String>,
}

impl SessionCache {
    const CAPACITY: usize = 100_000;

    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            entries: Mutex::default(),
        }
    }

    fn get(&self, token_hash: &str) -> Option<AuthUser> {
        if !self.enabled {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.live.get(token_hash).cloned()
    }

    fn insert(&self, user: &AuthUser) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.ended.contains(&user.token_hash) {
            return;
        }
        if entries.live.len() >= Self::CAPACITY {
            entries.live.clear();
        }
        entries.live.insert(user.token_hash.clone(), user.clone());
    }

    fn forget(&self, token_hashes: &[String]) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.ended.len() >= Self::CAPACITY {
            entries.ended.clear();
        }
        for hash in token_hashes {
            entries.live.remove(hash);
            entries.ended.insert(hash.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_only_their_hash_repeats() {
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, new_token());
        assert_eq!(hash_token(&token), hash_token(&token));
        assert_ne!(hash_token(&token), hash_token(&new_token()));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; natter_session=tok".parse().unwrap());
        assert_eq!(token_from_cookie(&headers).as_deref(), Some("tok"));
        assert_eq!(token_from_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn an_ended_session_is_never_cached_again() {
        let cache = SessionCache::new(true);
        let user = AuthUser {
            id: UserId::generate(),
            username: "ann".into(),
            token_hash: "h".into(),
        };
        cache.insert(&user);
        assert!(cache.get("h").is_some());
        cache.forget(&["h".into()]);
        cache.insert(&user);
        assert!(cache.get("h").is_none());
    }
}
