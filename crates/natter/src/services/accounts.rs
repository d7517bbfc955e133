//! Accounts: register, sign in, sign out, change password.
//!
//! Passwords are hashed with Argon2id (the argon2 crate's defaults, OWASP's
//! m=19 MiB, t=2, p=1) on the bounded CPU pool, so a burst of sign-ins queues
//! instead of starving chat traffic. Sign-ups and sign-ins take a token from
//! the client address's bucket ([`super::rate_limits`]), failed sign-ins and
//! wrong current passwords are counted per account and per address
//! ([`super::login_throttle`]); sessions live in [`super::sessions`].

use std::net::IpAddr;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};

use super::rate_limits::{Action, Gate};
use super::sessions::{self, AuthUser, hash_token, new_token};
use crate::domain::{DisplayName, Password, UserId, Username, now_ms};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::StoreError;
use crate::store::users::{NewUser, UserRow};

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

async fn hash_password(ctx: &Ctx, password: Password) -> AppResult<String> {
    ctx.cpu.run(move || hash_now(password.as_str())).await
}

async fn verify_password(ctx: &Ctx, password: Password, hash: Option<String>) -> AppResult<bool> {
    ctx.cpu
        .run(move || {
            let exists = hash.is_some();
            let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
            let matches = PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_str().as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            exists && matches
        })
        .await
}

pub async fn register(
    ctx: &Ctx,
    client: IpAddr,
    username: Username,
    password: Password,
    display_name: Option<DisplayName>,
) -> AppResult<Session> {
    ctx.limits.check_address(Gate::SignUp, client)?;
    let display_name = display_name.unwrap_or_else(|| DisplayName::from_username(&username));
    let password_hash = hash_password(ctx, password).await?;
    let id = UserId::generate();
    let inserted = ctx
        .store
        .insert_user(NewUser {
            id: &id,
            username: &username,
            display_name: &display_name,
            password_hash: &password_hash,
            created_at: now_ms(),
        })
        .await;
    match inserted {
        Err(StoreError::Duplicate(_)) => {
            return Err(AppError::Conflict {
                code: "username_taken",
                message: "this username is taken".into(),
            });
        }
        other => other?,
    }
    let user = ctx
        .store
        .user_by_id(&id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    start_session(ctx, user, &password_hash).await
}

/// Signs in. A username that cannot exist is refused like a wrong password,
/// before any lookup.
pub async fn login(
    ctx: &Ctx,
    client: IpAddr,
    username: &str,
    password: Password,
) -> AppResult<Session> {
    ctx.limits.check_address(Gate::SignIn, client)?;
    let Ok(username) = Username::parse(username) else {
        ctx.login_throttle.check(client, None)?;
        ctx.login_throttle.record_failure(client, None);
        return Err(AppError::InvalidCredentials);
    };
    ctx.login_throttle.check(client, Some(username.as_str()))?;
    let found = ctx.store.user_credentials(&username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    if !verify_password(ctx, password, hash.clone()).await? {
        ctx.login_throttle
            .record_failure(client, Some(username.as_str()));
        return Err(AppError::InvalidCredentials);
    }
    ctx.login_throttle.succeeded(username.as_str());
    let (Some(user), Some(hash)) = (user, hash) else {
        return Err(AppError::InvalidCredentials);
    };
    start_session(ctx, user, &hash).await
}

/// Starts a session for the user whose password hash was just verified, unless
/// a password change replaced that hash meanwhile (then it is a wrong password).
async fn start_session(ctx: &Ctx, user: UserRow, password_hash: &str) -> AppResult<Session> {
    let token = new_token();
    let started = ctx
        .store
        .insert_session_if_password(&hash_token(&token), &user.id, password_hash, now_ms())
        .await?;
    if !started {
        return Err(AppError::InvalidCredentials);
    }
    Ok(Session { token, user })
}

pub async fn logout(ctx: &Ctx, user: &AuthUser) -> AppResult<()> {
    every_node_reachable(ctx)?;
    ctx.store.delete_session(&user.token_hash).await?;
    sessions::end(ctx, std::slice::from_ref(&user.token_hash)).await;
    Ok(())
}

/// Ends every session of the user, this one included, on every node.
pub async fn logout_all(ctx: &Ctx, user: &AuthUser) -> AppResult<()> {
    every_node_reachable(ctx)?;
    let mut ended = ctx.store.delete_user_sessions(&user.id).await?;
    if !ended.contains(&user.token_hash) {
        ended.push(user.token_hash.clone());
    }
    sessions::end(ctx, &ended).await;
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

/// Changes the password and ends every other session of the user. Throttled
/// like sign-in: a wrong current password counts as a failed sign-in of the
/// account and of the client address.
pub async fn change_password(
    ctx: &Ctx,
    client: IpAddr,
    user: &AuthUser,
    current: Password,
    new: Password,
) -> AppResult<()> {
    every_node_reachable(ctx)?;
    ctx.limits.check(Action::Profile, &user.id)?;
    ctx.login_throttle.check(client, Some(&user.username))?;
    let stored = ctx
        .store
        .password_hash(&user.id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !verify_password(ctx, current, Some(stored.clone())).await? {
        ctx.login_throttle
            .record_failure(client, Some(&user.username));
        return Err(wrong_current_password());
    }
    let hash = hash_password(ctx, new).await?;
    let ended = ctx
        .store
        .change_password(&user.id, &stored, &hash, &user.token_hash)
        .await?
        // Another change won the race: this one verified a password that is gone.
        .ok_or_else(wrong_current_password)?;
    sessions::end(ctx, &ended).await;
    Ok(())
}

fn wrong_current_password() -> AppError {
    AppError::Forbidden("current password is wrong")
}
