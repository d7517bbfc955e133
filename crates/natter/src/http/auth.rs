//! `/api/auth/*`: register, sign in, sign out.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{Auth, ClientAddr, Json, clear_cookie_header, session_cookie_header};
use crate::contract::bodies::{LoginRequest, RegisterRequest, SessionAnswer};
use crate::contract::events::ErrorBody;
use crate::domain::{DisplayName, Password, Username};
use crate::error::AppResult;
use crate::services::{accounts, public_user};
use crate::state::Ctx;

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/auth/register", tag = "accounts",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "signed up; the token is also set as the session cookie", body = SessionAnswer),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 422, description = "`invalid_username`, `invalid_password`, `invalid_display_name`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ups from this address, with `Retry-After`", body = ErrorBody),
    ))]
pub async fn register(
    State(ctx): State<Ctx>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<RegisterRequest>,
) -> AppResult<Response> {
    let username = Username::parse(&body.username)?;
    let password = Password::parse(body.password)?;
    let display_name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let session = accounts::register(&ctx, client, username, password, display_name).await?;
    Ok(session_response(&ctx, StatusCode::CREATED, session))
}

/// Signs in; too many attempts from one address, or too many failures for one
/// account or from one address, get 429.
#[utoipa::path(post, path = "/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "signed in; the token is also set as the session cookie", body = SessionAnswer),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (attempts from this address) or `too_many_requests` (failures of this account or address), with `Retry-After`", body = ErrorBody),
    ))]
pub async fn login(
    State(ctx): State<Ctx>,
    ClientAddr(client): ClientAddr,
    Json(body): Json<LoginRequest>,
) -> AppResult<Response> {
    let password = Password::presented(body.password)?;
    let session = accounts::login(&ctx, client, &body.username, password).await?;
    Ok(session_response(&ctx, StatusCode::OK, session))
}

/// Ends this session everywhere, live sockets included.
#[utoipa::path(post, path = "/auth/logout", tag = "accounts",
    responses(
        (status = 204, description = "signed out; the cookie is cleared"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    ))]
pub async fn logout(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Response> {
    accounts::logout(&ctx, &user).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        clear_cookie_header().parse().expect("static cookie"),
    );
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// Ends every session of the caller (this one included) everywhere, live
/// sockets included: "sign out everywhere".
#[utoipa::path(post, path = "/auth/logout-all", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "every session of the user ended; the cookie is cleared"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`service_unavailable`: Redis is down in a multi-node deployment, nothing was ended", body = ErrorBody),
        (status = "default", description = "any other error, in the contract's shape", body = ErrorBody),
    ))]
pub async fn logout_all(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Response> {
    accounts::logout_all(&ctx, &user).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        clear_cookie_header().parse().expect("static cookie"),
    );
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

fn session_response(ctx: &Ctx, status: StatusCode, session: accounts::Session) -> Response {
    let cookie = session_cookie_header(
        &session.token,
        ctx.config.secure_cookie,
        ctx.config.session_max(),
    );
    let body = SessionAnswer {
        user: public_user(ctx, session.user),
        token: session.token,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
