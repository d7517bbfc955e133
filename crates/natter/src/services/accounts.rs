//! Accounts and sessions: register, sign in, sign out, change password, and
//! resolving a token to its user.
//!
//! Passwords are hashed with Argon2id (the argon2 crate's defaults, OWASP's
//! m=19 MiB, t=2, p=1) on the bounded CPU pool, so a burst of sign-ins queues
//! instead of starving chat traffic. Sign-in
//! failures are throttled per (client address, username).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};

use super::validate;
use crate::error::{AppError, AppResult};
use crate::ids::{hash_token, new_id, new_token, now_ms};
use crate::state::Ctx;
use crate::store::users::{NewUser, UserRow};

/// The signed-in caller, resolved from a bearer token or the session cookie.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    /// Identifies the session, for sign-out.
    pub token_hash: String,
}

/// A fresh session: the token to hand to the client, and its user.
pub struct Session {
    pub token: String,
    pub user: UserRow,
}

/// Verified against when the username does not exist, so that answering
/// "no such user" takes as long as "wrong password".
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_now("not a real password"));

fn hash_now(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 default parameters are valid")
        .to_string()
}

async fn hash_password(ctx: &Ctx, password: String) -> AppResult<String> {
    ctx.cpu.run(move || hash_now(&password)).await
}

async fn verify_password(ctx: &Ctx, password: String, hash: Option<String>) -> AppResult<bool> {
    ctx.cpu
        .run(move || {
            let exists = hash.is_some();
            let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
            let matches = PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            exists && matches
        })
        .await
}

/// Sessions already resolved, so a request or socket connect costs no query.
/// Sessions end only through this module (sign-out, password change), which
/// drops them here too. Across several nodes a sign-out on one node could not
/// reach the others' caches, so a node with Redis configured runs without it.
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

const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(300);

/// Counts failed sign-ins per (address, username) in a fixed window.
#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(IpAddr, String), (u32, Instant)>>,
}

impl LoginThrottle {
    fn check(&self, key: &(IpAddr, String)) -> AppResult<()> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((count, since)) = failures.get(key) {
            let elapsed = since.elapsed();
            if *count >= MAX_FAILURES && elapsed < FAILURE_WINDOW {
                let retry_after_secs = (FAILURE_WINDOW - elapsed).as_secs().max(1);
                return Err(AppError::TooManyRequests { retry_after_secs });
            }
        }
        Ok(())
    }

    fn record_failure(&self, key: (IpAddr, String)) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 100_000 {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
        }
        let entry = failures.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn clear(&self, key: &(IpAddr, String)) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

pub async fn register(
    ctx: &Ctx,
    username: &str,
    password: String,
    display_name: Option<&str>,
) -> AppResult<Session> {
    let username = validate::username(username)?;
    validate::password(&password)?;
    let display_name = match display_name {
        Some(name) => validate::display_name(name)?,
        None => username.clone(),
    };
    let password_hash = hash_password(ctx, password).await?;
    let id = new_id();
    ctx.store
        .insert_user(NewUser {
            id: &id,
            username: &username,
            display_name: &display_name,
            password_hash: &password_hash,
            created_at: now_ms(),
        })
        .await?;
    let user = ctx
        .store
        .user_by_id(&id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    start_session(ctx, user).await
}

pub async fn login(
    ctx: &Ctx,
    client: IpAddr,
    username: &str,
    password: String,
) -> AppResult<Session> {
    let username = username.to_ascii_lowercase();
    let key = (client, username.clone());
    ctx.login_throttle.check(&key)?;
    let found = ctx.store.user_credentials(&username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    if !verify_password(ctx, password, hash).await? {
        ctx.login_throttle.record_failure(key);
        return Err(AppError::InvalidCredentials);
    }
    ctx.login_throttle.clear(&key);
    start_session(ctx, user.ok_or(AppError::InvalidCredentials)?).await
}

async fn start_session(ctx: &Ctx, user: UserRow) -> AppResult<Session> {
    let token = new_token();
    ctx.store
        .insert_session(&hash_token(&token), &user.id, now_ms())
        .await?;
    Ok(Session { token, user })
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

pub async fn logout(ctx: &Ctx, user: &AuthUser) -> AppResult<()> {
    every_node_reachable(ctx)?;
    ctx.store.delete_session(&user.token_hash).await?;
    ctx.sessions.forget(std::slice::from_ref(&user.token_hash));
    ctx.notifier
        .end_sessions(std::slice::from_ref(&user.token_hash))
        .await;
    Ok(())
}

/// Sign-out promises that the session's live sockets close on every node. While
/// Redis is down the other nodes cannot be told, so the request is refused (503)
/// rather than half done.
fn every_node_reachable(ctx: &Ctx) -> AppResult<()> {
    if ctx.notifier.reaches_every_node() {
        Ok(())
    } else {
        Err(AppError::Unavailable(anyhow::anyhow!(
            "Redis is down: sessions cannot be ended on the other nodes"
        )))
    }
}

/// Changes the password and ends every other session of the user.
pub async fn change_password(
    ctx: &Ctx,
    user: &AuthUser,
    current: String,
    new: String,
) -> AppResult<()> {
    validate::password(&new)?;
    every_node_reachable(ctx)?;
    let stored = ctx.store.password_hash(&user.id).await?;
    if !verify_password(ctx, current, stored).await? {
        return Err(AppError::Forbidden("current password is wrong"));
    }
    let hash = hash_password(ctx, new).await?;
    ctx.store.set_password_hash(&user.id, &hash).await?;
    let ended = ctx
        .store
        .delete_other_sessions(&user.id, &user.token_hash)
        .await?;
    ctx.sessions.forget(&ended);
    ctx.notifier.end_sessions(&ended).await;
    Ok(())
}
