//! The HTTP API under `/api`, `/healthz`, `/readyz`, and the web UI for every other path.
//!
//! Routes are registered through `utoipa_axum`'s `OpenApiRouter`, which records
//! each handler's `#[utoipa::path]` as it adds the route: the OpenAPI document
//! served at `/api/openapi.json` is built from the very same list.

pub mod attachments;
pub mod auth;
pub mod avatars;
pub mod blocks;
pub mod conversations;
pub mod drain;
pub mod extract;
pub mod groups;
pub mod lifecycle;
pub mod me;
pub mod openapi;
pub mod search;
pub mod timeout;
pub mod users;
pub mod web;

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::contract::bodies::{Health, Readiness};
use crate::error::AppError;
use crate::state::Ctx;

/// JSON bodies are small; only the avatar upload gets more.
pub(crate) const JSON_BODY_LIMIT: usize = 64 * 1024;

/// Every route of the API with its documentation, before state is attached.
fn api_routes() -> OpenApiRouter<Ctx> {
    OpenApiRouter::with_openapi(openapi::base())
        .nest(
            "/api",
            OpenApiRouter::new()
                .routes(routes!(auth::register))
                .routes(routes!(auth::login))
                .routes(routes!(auth::logout))
                .routes(routes!(auth::logout_all))
                .routes(routes!(me::get, me::patch))
                .routes(routes!(me::change_password))
                .merge(
                    OpenApiRouter::new()
                        .routes(routes!(me::put_avatar, me::delete_avatar))
                        .layer(DefaultBodyLimit::max(me::AVATAR_BODY_LIMIT)),
                )
                .routes(routes!(blocks::list))
                .routes(routes!(blocks::block, blocks::unblock))
                .routes(routes!(search::messages))
                .merge(
                    OpenApiRouter::new()
                        .routes(routes!(attachments::upload))
                        // The handler bounds the body itself, by NATTER_MAX_UPLOAD.
                        .layer(DefaultBodyLimit::disable()),
                )
                .routes(routes!(attachments::file))
                .routes(routes!(attachments::thumb))
                .routes(routes!(users::list))
                .routes(routes!(users::get))
                .routes(routes!(avatars::get))
                .routes(routes!(conversations::list, conversations::open))
                .routes(routes!(conversations::get, groups::rename))
                .routes(routes!(groups::members, groups::add))
                .routes(routes!(groups::remove))
                .routes(routes!(conversations::history, conversations::send))
                .routes(routes!(lifecycle::edit, lifecycle::delete))
                .routes(routes!(lifecycle::react, lifecycle::unreact))
                .routes(routes!(conversations::read))
                .routes(routes!(conversations::mute))
                .routes(routes!(conversations::chat))
                .routes(routes!(openapi_json)),
        )
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The OpenAPI document of this server's HTTP API.
pub fn openapi_document() -> OpenApi {
    let mut doc = api_routes().into_openapi();
    openapi::finish(&mut doc);
    doc
}

static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(openapi_document);

pub fn router(ctx: Ctx) -> Router {
    let (routes, _) = api_routes().split_for_parts();
    let api_fallbacks = Router::new()
        .route("/api", get(|| async { AppError::NotFound("route") }))
        .route(
            "/api/{*rest}",
            axum::routing::any(|| async { AppError::NotFound("route") }),
        );
    let request_timeout = Duration::from_secs(ctx.config.request_timeout_secs);
    routes
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .merge(api_fallbacks)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        // Outside the timeout: a body left unread by a timed-out request is
        // discarded too, so its 408 reaches the client.
        .layer(middleware::from_fn_with_state(
            request_timeout,
            timeout::limit,
        ))
        .layer(middleware::from_fn(drain::drain_unread_body))
        .fallback(web::serve)
        .with_state(ctx)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document of the HTTP API",
               content_type = "application/json")))]
async fn openapi_json() -> axum::Json<&'static OpenApi> {
    axum::Json(&DOCUMENT)
}

/// Liveness: 200 while the database answers, 503 otherwise.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "`{status: \"ok\"}`", body = Health),
        (status = 503, description = "the database does not answer", body = Health),
    ))]
async fn healthz(State(ctx): State<Ctx>) -> (StatusCode, axum::Json<Health>) {
    if ctx.store.ping().await {
        (
            StatusCode::OK,
            axum::Json(Health {
                status: "ok".into(),
            }),
        )
    } else {
        let status = "database unavailable".into();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(Health { status }),
        )
    }
}

/// Readiness: 200 only while the database and (with `REDIS_URL`) Redis answer,
/// else 503 naming what is down. `/healthz` stays the liveness check: a node
/// without Redis still serves its own users and should not be restarted.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready to take traffic", body = Readiness),
        (status = 503, description = "the database or Redis is down", body = Readiness),
    ))]
async fn readyz(State(ctx): State<Ctx>) -> (StatusCode, axum::Json<Readiness>) {
    let database = ctx.store.ping().await;
    let redis = ctx.notifier.redis_ready();
    let ready = database && redis != Some(false);
    let word = |up: bool| if up { "ok" } else { "down" }.to_owned();
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" }.to_owned(),
        database: word(database),
        redis: redis.map(word),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

/// Prometheus metrics (text format 0.0.4); 404 when `NATTER_METRICS=false`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "the metrics of docs/operations.md", content_type = "text/plain"),
        (status = 404, description = "metrics are turned off", body = crate::contract::events::ErrorBody),
    ))]
async fn metrics(State(ctx): State<Ctx>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !ctx.config.metrics {
        return AppError::NotFound("route").into_response();
    }
    let text = crate::telemetry::handle().render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
