//! Client → server events. Each handler parses its payload (a payload that does
//! not parse gets an error ack; the connection stays up), calls the same service
//! function as the HTTP route, and acknowledges `{ok: true, ...}` or
//! `{error: {code, message}}`.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};

use crate::error::{AppError, AppResult};
use crate::services::accounts::AuthUser;
use crate::services::{conversations, messages};
use crate::state::Ctx;
use crate::store::writer::Sent;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendPayload {
    conversation_id: String,
    msg: String,
    client_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingPayload {
    conversation_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadPayload {
    conversation_id: String,
    seq: i64,
}

pub fn register<A: Adapter>(ctx: &Ctx, socket: &SocketRef<A>, user: &Arc<AuthUser>) {
    let (c, u) = (ctx.clone(), user.clone());
    socket.on(
        "message:send",
        move |TryData(payload): TryData<SendPayload>, ack: AckSender<A>| async move {
            let result = async {
                let p = parsed(payload)?;
                let sent = messages::send(&c, &u, &p.conversation_id, p.msg, p.client_id).await?;
                let message = match sent {
                    Sent::New(m) | Sent::Existing(m) => m,
                };
                Ok(json!({ "ok": true, "message": message }))
            };
            reply(ack, result.await);
        },
    );

    let (c, u) = (ctx.clone(), user.clone());
    socket.on(
        "typing",
        move |TryData(payload): TryData<TypingPayload>, ack: AckSender<A>| async move {
            let result = async {
                let p = parsed(payload)?;
                conversations::typing(&c, &u, &p.conversation_id).await?;
                Ok(json!({ "ok": true }))
            };
            reply(ack, result.await);
        },
    );

    let (c, u) = (ctx.clone(), user.clone());
    socket.on(
        "read",
        move |TryData(payload): TryData<ReadPayload>, ack: AckSender<A>| async move {
            let result = async {
                let p = parsed(payload)?;
                let seq = conversations::mark_read(&c, &u, &p.conversation_id, p.seq).await?;
                Ok(json!({ "ok": true, "seq": seq }))
            };
            reply(ack, result.await);
        },
    );
}

fn parsed<T, E: std::fmt::Display>(payload: Result<T, E>) -> AppResult<T> {
    payload.map_err(|e| AppError::bad_request("invalid_payload", format!("invalid payload: {e}")))
}

fn reply<A: Adapter>(ack: AckSender<A>, result: AppResult<Value>) {
    let body = result.unwrap_or_else(|e| e.body());
    if let Err(e) = ack.send(&body) {
        tracing::debug!("ack not delivered: {e}");
    }
}
