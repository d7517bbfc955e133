//! The HTTP API under `/api`, `/healthz`, `/readyz`, and the web UI for every other path.

pub mod auth;
pub mod avatars;
pub mod conversations;
pub mod extract;
pub mod me;
pub mod users;
pub mod web;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};

use crate::error::AppError;
use crate::state::Ctx;

/// JSON bodies are small; only the avatar upload gets more.
const JSON_BODY_LIMIT: usize = 64 * 1024;

pub fn router(ctx: Ctx) -> Router {
    let api = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(me::get).patch(me::patch))
        .route("/me/password", post(me::change_password))
        .route(
            "/me/avatar",
            put(me::put_avatar)
                .delete(me::delete_avatar)
                .layer(DefaultBodyLimit::max(me::AVATAR_BODY_LIMIT)),
        )
        .route("/users", get(users::list))
        .route("/users/{id}", get(users::get))
        .route("/avatars/{id}", get(avatars::get))
        .route(
            "/conversations",
            get(conversations::list).post(conversations::open),
        )
        .route("/conversations/{id}", get(conversations::get))
        .route(
            "/conversations/{id}/messages",
            get(conversations::history).post(conversations::send),
        )
        .route("/conversations/{id}/read", post(conversations::read))
        .route("/chat", post(conversations::chat))
        .fallback(|| async { AppError::NotFound("route") })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));

    Router::new()
        .nest("/api", api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(web::serve)
        .with_state(ctx)
}

/// 200 while the database answers, 503 otherwise.
async fn healthz(State(ctx): State<Ctx>) -> impl IntoResponse {
    if ctx.store.ping().await {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ok" })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "database unavailable" })),
        )
    }
}

/// Readiness: 200 only while the database and (with `REDIS_URL`) Redis answer,
/// else 503 naming what is down. `/healthz` stays the liveness check: a node
/// without Redis still serves its own users and should not be restarted.
async fn readyz(State(ctx): State<Ctx>) -> impl IntoResponse {
    let database = ctx.store.ping().await;
    let redis = ctx.notifier.redis_ready();
    let ready = database && redis != Some(false);
    let word = |up: bool| if up { "ok" } else { "down" };
    let mut body = serde_json::json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": word(database),
    });
    if let Some(redis) = redis {
        body["redis"] = word(redis).into();
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}
