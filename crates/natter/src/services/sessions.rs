//! Sessions: tokens, resolving a token to its signed-in user (for HTTP and
//! Socket.IO alike), the cache that makes that cost no query, and their end.
//!
//! Session tokens are 256-bit random strings of which only a SHA-256 digest is
//! stored, so a leaked database grants no sessions. A client presents its token
//! as `Authorization: Bearer` or in the HttpOnly session cookie.
//!
//! A session ends when it has not been used for `NATTER_SESSION_IDLE_DAYS`, and
//! `NATTER_SESSION_MAX_DAYS` after sign-in whatever its use. "Used" is an
//! authenticated request, a socket connect or a socket event; it is written to
//! `last_used_at` at most once a minute per session ([`mark_used`]), not on every
//! request. An expired session answers 401 at once (the cached entry carries the
//! session's times, so the cache never serves one), and [`prune_periodically`]
//! deletes the expired rows and closes their sockets.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, header};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::{Millis, UserId, now_ms};
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
    /// When the session started and was last marked used, shared by every
    /// copy (the cache's, each socket's).
    pub session: Arc<SessionTimes>,
}

/// A session's start and its last use as stored (ms since the epoch).
#[derive(Debug)]
pub struct SessionTimes {
    pub created_at: Millis,
    last_used_at: AtomicI64,
}

impl SessionTimes {
    pub fn new(created_at: Millis, last_used_at: Millis) -> Self {
        Self {
            created_at,
            last_used_at: AtomicI64::new(last_used_at),
        }
    }

    pub fn last_used_at(&self) -> Millis {
        self.last_used_at.load(Ordering::Relaxed)
    }

    fn expired(&self, now: Millis, lifetimes: Lifetimes) -> bool {
        now.saturating_sub(self.last_used_at()) >= lifetimes.idle
            || now.saturating_sub(self.created_at) >= lifetimes.max
    }
}

/// The configured session lifetimes, in ms.
#[derive(Debug, Clone, Copy)]
struct Lifetimes {
    idle: Millis,
    max: Millis,
}

impl Lifetimes {
    fn of(ctx: &Ctx) -> Self {
        Self {
            idle: millis(ctx.config.session_idle()),
            max: millis(ctx.config.session_max()),
        }
    }

    /// How often a session in use is written as used: once a minute, or more
    /// often when the idle lifetime is short (so use always keeps it alive).
    fn touch_every(self) -> Millis {
        (self.idle / 2).min(60_000)
    }

    /// How often expired sessions are deleted: every 5 minutes, or more often
    /// when the lifetimes are short.
    fn prune_every(self) -> Duration {
        let half = (self.idle.min(self.max) / 2).clamp(1_000, 300_000);
        Duration::from_millis(half.unsigned_abs())
    }
}

fn millis(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
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

/// The user a live session token belongs to, or 401 (an expired session is
/// ended on the spot). Marks the session used.
pub async fn authenticate(ctx: &Ctx, token: &str) -> AppResult<AuthUser> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::Unauthorized);
    }
    let token_hash = hash_token(token);
    let lifetimes = Lifetimes::of(ctx);
    let now = now_ms();
    let user = match ctx.sessions.get(&token_hash) {
        Some(user) => user,
        None => {
            let row = ctx
                .store
                .session_user(&token_hash)
                .await?
                .ok_or(AppError::Unauthorized)?;
            let user = AuthUser {
                id: row.user.id,
                username: row.user.username,
                token_hash,
                session: Arc::new(SessionTimes::new(
                    row.session_created_at,
                    row.session_last_used_at,
                )),
            };
            if !user.session.expired(now, lifetimes) {
                ctx.sessions.insert(&user);
            }
            user
        }
    };
    if user.session.expired(now, lifetimes) {
        if let Err(e) = ctx.store.delete_session(&user.token_hash).await {
            tracing::warn!("deleting an expired session: {e}");
        }
        end(ctx, std::slice::from_ref(&user.token_hash)).await;
        return Err(AppError::Unauthorized);
    }
    touch(ctx, &user, now, lifetimes);
    Ok(user)
}

/// Marks the session used (a socket event): written at most once a minute.
pub fn mark_used(ctx: &Ctx, user: &AuthUser) {
    touch(ctx, user, now_ms(), Lifetimes::of(ctx));
}

fn touch(ctx: &Ctx, user: &AuthUser, now: Millis, lifetimes: Lifetimes) {
    let last = user.session.last_used_at();
    if now.saturating_sub(last) < lifetimes.touch_every() {
        return;
    }
    // One writer per interval, however many requests race here.
    if user
        .session
        .last_used_at
        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let (store, token_hash) = (ctx.store.clone(), user.token_hash.clone());
    tokio::spawn(async move {
        if let Err(e) = store.touch_session(&token_hash, now).await {
            tracing::warn!("marking a session used: {e}");
        }
    });
}

/// Deletes the expired sessions and closes their sockets, now.
pub async fn prune(ctx: &Ctx) {
    let lifetimes = Lifetimes::of(ctx);
    let now = now_ms();
    let expired = ctx
        .store
        .delete_expired_sessions(
            now.saturating_sub(lifetimes.idle),
            now.saturating_sub(lifetimes.max),
        )
        .await;
    match expired {
        Ok(ended) if !ended.is_empty() => {
            tracing::info!(count = ended.len(), "expired sessions ended");
            end(ctx, &ended).await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("pruning expired sessions: {e}"),
    }
}

/// Runs [`prune`] every few minutes (more often with short lifetimes or upload
/// TTL), sweeps unused uploads, and lets the rate limits drop the buckets of
/// users who stopped acting.
pub async fn prune_periodically(ctx: Ctx) {
    let upload_ttl =
        Duration::from_secs(ctx.config.upload_ttl_secs / 2).max(Duration::from_secs(1));
    let every = Lifetimes::of(&ctx).prune_every().min(upload_ttl);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        prune(&ctx).await;
        super::attachments::sweep(&ctx).await;
        ctx.limits.forget_idle();
        ctx.login_throttle.forget_expired();
    }
}

/// Ends sessions everywhere: the cache here, and the live sockets on every node.
pub async fn end(ctx: &Ctx, token_hashes: &[String]) {
    ctx.sessions.forget(token_hashes);
    ctx.notifier.end_sessions(token_hashes).await;
}

/// Sessions already resolved, so a request or socket connect costs no query.
/// An entry carries its session's times, which [`authenticate`] checks on every
/// hit. Sessions end only through [`end`], which drops them here too. Across several
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
    fn sessions_expire_when_idle_or_old() {
        let lifetimes = Lifetimes {
            idle: 1_000,
            max: 10_000,
        };
        let times = SessionTimes::new(0, 0);
        assert!(!times.expired(999, lifetimes));
        assert!(times.expired(1_000, lifetimes));
        let times = SessionTimes::new(0, 9_500);
        assert!(!times.expired(9_999, lifetimes));
        assert!(times.expired(10_000, lifetimes), "used, but too old");
        assert_eq!(lifetimes.touch_every(), 500);
        assert_eq!(lifetimes.prune_every(), Duration::from_secs(1));
        let days = Lifetimes {
            idle: 30 * 86_400_000,
            max: 365 * 86_400_000,
        };
        assert_eq!(days.touch_every(), 60_000);
        assert_eq!(days.prune_every(), Duration::from_secs(300));
    }

    #[test]
    fn an_ended_session_is_never_cached_again() {
        let cache = SessionCache::new(true);
        let user = AuthUser {
            id: UserId::generate(),
            username: "ann".into(),
            token_hash: "h".into(),
            session: Arc::new(SessionTimes::new(0, 0)),
        };
        cache.insert(&user);
        assert!(cache.get("h").is_some());
        cache.forget(&["h".into()]);
        cache.insert(&user);
        assert!(cache.get("h").is_none());
    }
}
