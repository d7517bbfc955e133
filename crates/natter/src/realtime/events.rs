//! Client → server events. Each [`ClientRequest`] type is registered once by
//! [`on`]: its payload is parsed (a payload that does not parse gets an error
//! ack; the connection stays up), the handler calls the same service function
//! as the HTTP route, and the answer is the request's typed ack or the
//! contract's error body: one error path for every event.

use std::future::Future;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};

use crate::contract::events::{
    ClientRequest, MarkRead, OkAck, ReadAck, SendAck, SendMessage, StartTyping,
};
use crate::domain::{ClientId, ConversationId, MessageText, Seq};
use crate::error::{AppError, AppResult};
use crate::services::sessions::{self, AuthUser};
use crate::services::{conversations, messages};
use crate::state::Ctx;
use crate::store::writer::Sent;

pub fn register<A: Adapter>(ctx: &Ctx, socket: &SocketRef<A>, user: &Arc<AuthUser>) {
    on(socket, ctx, user, |ctx, user, p: SendMessage| async move {
        let msg = MessageText::parse(p.msg)?;
        let client_id = ClientId::parse(p.client_id)?;
        let conversation_id = ConversationId::parse(&p.conversation_id)?;
        let sent = messages::send(&ctx, &user, &conversation_id, msg, client_id).await?;
        let (Sent::New(message) | Sent::Existing(message)) = sent;
        Ok(SendAck { ok: true, message })
    });

    on(socket, ctx, user, |ctx, user, p: StartTyping| async move {
        let conversation_id = ConversationId::parse(&p.conversation_id)?;
        conversations::typing(&ctx, &user, &conversation_id).await?;
        Ok(OkAck { ok: true })
    });

    on(socket, ctx, user, |ctx, user, p: MarkRead| async move {
        let seq = Seq::parse(p.seq, "seq")?;
        let conversation_id = ConversationId::parse(&p.conversation_id)?;
        let seq = conversations::mark_read(&ctx, &user, &conversation_id, seq).await?;
        Ok(ReadAck { ok: true, seq })
    });
}

/// Registers `handler` for `R`'s event on this socket.
fn on<A, R, F, Fut>(socket: &SocketRef<A>, ctx: &Ctx, user: &Arc<AuthUser>, handler: F)
where
    A: Adapter,
    R: ClientRequest,
    F: Fn(Ctx, Arc<AuthUser>, R) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AppResult<R::Ack>> + Send + 'static,
{
    let (ctx, user) = (ctx.clone(), user.clone());
    socket.on(
        R::EVENT,
        move |TryData(payload): TryData<R>, ack: AckSender<A>| {
            let (ctx, user, handler) = (ctx.clone(), user.clone(), handler.clone());
            async move {
                sessions::mark_used(&ctx, &user);
                let result = match payload {
                    Ok(payload) => handler(ctx, user, payload).await,
                    Err(e) => Err(AppError::bad_request(
                        "invalid_payload",
                        format!("invalid payload: {e}"),
                    )),
                };
                let sent = match &result {
                    Ok(answer) => ack.send(answer),
                    Err(e) => ack.send(&e.body()),
                };
                if let Err(e) = sent {
                    tracing::warn!(event = R::EVENT, "ack not delivered: {e}");
                }
            }
        },
    );
}
