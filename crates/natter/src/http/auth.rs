//! `/api/auth/*`: register, sign in, sign out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Auth, Json, clear_cookie_header, session_cookie_header};
use crate::error::AppResult;
use crate::services::{accounts, public_user};
use crate::state::Ctx;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    username: String,
    password: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

pub async fn register(
    State(ctx): State<Ctx>,
    Json(body): Json<RegisterBody>,
) -> AppResult<Response> {
    let session = accounts::register(
        &ctx,
        &body.username,
        body.password,
        body.display_name.as_deref(),
    )
    .await?;
    Ok(session_response(&ctx, StatusCode::CREATED, session))
}

pub async fn login(
    State(ctx): State<Ctx>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Json(body): Json<LoginBody>,
) -> AppResult<Response> {
    let session = accounts::login(&ctx, client.ip(), &body.username, body.password).await?;
    Ok(session_response(&ctx, StatusCode::OK, session))
}

pub async fn logout(State(ctx): State<Ctx>, Auth(user): Auth) -> AppResult<Response> {
    accounts::logout(&ctx, &user).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        clear_cookie_header().parse().expect("static cookie"),
    );
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

fn session_response(ctx: &Ctx, status: StatusCode, session: accounts::Session) -> Response {
    let cookie = session_cookie_header(&session.token, ctx.config.secure_cookie);
    let body = json!({ "user": public_user(ctx, session.user), "token": session.token });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
