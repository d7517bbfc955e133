//! Client → server events. Each [`ClientRequest`] type is registered once by
//! [`on`]: its payload is parsed (a payload that does not parse gets an error
//! ack; the connection stays up), the handler calls the same service function
//! as the HTTP route, and the answer is the request's typed ack or the
//! contract's error body: one error path for every event.

use std::future::Future;
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use tokio::sync::Semaphore;

use super::watch;
use crate::contract::events::{
    ClientRequest, DeleteMessage, EditMessage, MarkRead, MessageAck, OkAck, PresenceSubscribe,
    PresenceUnsubscribe, ReactionRequest, ReadAck, RemoveReaction, SendAck, SendMessage,
    StartTyping,
};
use crate::domain::{ConversationId, Emoji, MessageText, Seq};
use crate::error::{AppError, AppResult};
use crate::services::messages::Outgoing;
use crate::services::sessions::{self, AuthUser};
use crate::services::{conversations, messages};
use crate::state::Ctx;
use crate::store::changes::Edit;
use crate::store::writer::Sent;

/// Requests of one socket being answered at once; one more gets `busy` at once.
/// Each answer is a packet in the socket's outgoing queue (engine.io's
/// `max_buffer_size`): bounding them keeps a fast sender from filling its own
/// queue with acks, so every request that asked for an ack gets one.
pub const MAX_IN_FLIGHT: usize = 64;

pub fn register<A: Adapter>(ctx: &Ctx, socket: &SocketRef<A>, user: &Arc<AuthUser>) {
    let scope = Scope {
        ctx: ctx.clone(),
        user: user.clone(),
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
    };

    scope.on(socket, |ctx, user, p: SendMessage| async move {
        let outgoing = Outgoing::parse(p.msg, p.client_id, p.reply_to, p.attachments)?;
        let conversation_id = ConversationId::parse(&p.conversation_id)?;
        let sent = messages::send(&ctx, &user, &conversation_id, outgoing).await?;
        let (Sent::New(message) | Sent::Existing(message)) = sent;
        Ok(SendAck { ok: true, message })
    });

    scope.on(socket, |ctx, user, p: EditMessage| async move {
        let text = MessageText::parse(p.msg)?;
        change(&ctx, &user, &p.conversation_id, p.seq, Edit::Text(text)).await
    });

    scope.on(socket, |ctx, user, p: DeleteMessage| async move {
        change(&ctx, &user, &p.conversation_id, p.seq, Edit::Delete).await
    });

    scope.on(socket, |ctx, user, p: ReactionRequest| async move {
        let emoji = Emoji::parse(&p.emoji)?;
        let edit = Edit::React { emoji, add: true };
        change(&ctx, &user, &p.conversation_id, p.seq, edit).await
    });

    scope.on(socket, |ctx, user, RemoveReaction(p)| async move {
        let emoji = Emoji::parse(&p.emoji)?;
        let edit = Edit::React { emoji, add: false };
        change(&ctx, &user, &p.conversation_id, p.seq, edit).await
    });

    scope.on(socket, |ctx, user, p: StartTyping| async move {
        let conversation_id = ConversationId::parse(&p.conversation_id)?;
        conversations::typing(&ctx, &user, &conversation_id).await?;
        Ok(OkAck { ok: true })
    });

    scope.on(socket, |ctx, user, p: MarkRead| async move {
        let seq = Seq::parse(p.seq, "seq")?;
        let conversation_id = ConversationId::parse(&p.conversation_id)?;
        let seq = conversations::mark_read(&ctx, &user, &conversation_id, seq).await?;
        Ok(ReadAck { ok: true, seq })
    });

    scope.on_socket(socket, |_, _, socket, p: PresenceSubscribe| async move {
        watch::subscribe(&socket, &p.user_ids)?;
        Ok(OkAck { ok: true })
    });

    scope.on_socket(socket, |_, _, socket, p: PresenceUnsubscribe| async move {
        watch::unsubscribe(&socket, &p.user_ids)?;
        Ok(OkAck { ok: true })
    });
}

/// An edit, delete or reaction from a socket: the same service as over HTTP.
async fn change(
    ctx: &Ctx,
    user: &AuthUser,
    conversation_id: &str,
    seq: i64,
    edit: Edit,
) -> AppResult<MessageAck> {
    let conversation_id = ConversationId::parse(conversation_id)?;
    let seq = Seq::parse(seq, "seq")?;
    let message = messages::change(ctx, user, &conversation_id, seq, edit).await?;
    Ok(MessageAck { ok: true, message })
}

/// What every handler of one socket shares: the app, the caller, and the
/// socket's budget of requests in flight.
struct Scope {
    ctx: Ctx,
    user: Arc<AuthUser>,
    in_flight: Arc<Semaphore>,
}

impl Scope {
    /// Registers `handler` for `R`'s event on this socket.
    fn on<A, R, F, Fut>(&self, socket: &SocketRef<A>, handler: F)
    where
        A: Adapter,
        R: ClientRequest,
        F: Fn(Ctx, Arc<AuthUser>, R) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = AppResult<R::Ack>> + Send + 'static,
    {
        self.on_socket(socket, move |ctx, user, _, payload| {
            handler(ctx, user, payload)
        });
    }

    /// [`Self::on`] for a handler that also needs the socket (its rooms). The
    /// socket is handed in per event, never captured: a handler the socket owns
    /// that held the socket would keep it alive forever.
    fn on_socket<A, R, F, Fut>(&self, socket: &SocketRef<A>, handler: F)
    where
        A: Adapter,
        R: ClientRequest,
        F: Fn(Ctx, Arc<AuthUser>, SocketRef<A>, R) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = AppResult<R::Ack>> + Send + 'static,
    {
        let (ctx, user, in_flight) = (self.ctx.clone(), self.user.clone(), self.in_flight.clone());
        socket.on(
            R::EVENT,
            move |socket: SocketRef<A>, TryData(payload): TryData<R>, ack: AckSender<A>| {
                let (ctx, user, handler) = (ctx.clone(), user.clone(), handler.clone());
                let permit = in_flight.clone().try_acquire_owned();
                async move {
                    sessions::mark_used(&ctx, &user);
                    let result = match (permit, payload) {
                        (Err(_), _) => Err(AppError::Busy),
                        (Ok(_permit), Ok(payload)) => handler(ctx, user, socket, payload).await,
                        (Ok(_), Err(e)) => Err(AppError::bad_request(
                            "invalid_payload",
                            format!("invalid payload: {e}"),
                        )),
                    };
                    let sent = match &result {
                        Ok(answer) => ack.send(answer),
                        Err(e) => ack.send(&e.body()),
                    };
                    if let Err(e) = sent {
                        metrics::counter!(crate::telemetry::ACKS_UNDELIVERED).increment(1);
                        tracing::warn!(event = R::EVENT, "ack not delivered: {e}");
                    }
                }
            },
        );
    }
}
