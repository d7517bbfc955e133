//! Client → server events. Each [`ClientRequest`] type is a variant of
//! [`Incoming`], answered by the socket's one handler ([`register`]): its payload
//! is parsed (a payload that does not parse gets an error ack; the connection
//! stays up), the handler calls the same service function as the HTTP route,
//! and the answer is the request's typed ack or the contract's error body: one
//! error path for every event.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;
use socketioxide_core::parser::ParserError;

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
use crate::services::socket_cap::SocketSlot;
use crate::services::{conversations, messages};
use crate::state::Ctx;
use crate::store::changes::Edit;
use crate::store::writer::Sent;

/// Requests of one socket being answered at once; one more gets `busy` at once.
/// Each answer is a packet in the socket's outgoing queue (engine.io's
/// `max_buffer_size`): bounding them keeps a fast sender from filling its own
/// queue with acks, so every request that asked for an ack gets one.
pub const MAX_IN_FLIGHT: usize = 64;

/// What natter keeps per socket, in the socket's extensions: one allocation,
/// since idle sockets are the bulk of memory.
pub struct SocketState {
    pub user: Arc<AuthUser>,
    /// Requests being answered, at most [`MAX_IN_FLIGHT`].
    in_flight: AtomicUsize,
    /// Whether the socket's presence count was released (see `connect::connected`).
    pub released: AtomicBool,
    /// The socket's place under the user's socket cap, given back with the socket.
    _slot: SocketSlot,
}

impl SocketState {
    pub fn new(user: Arc<AuthUser>, slot: SocketSlot) -> Arc<Self> {
        Arc::new(Self {
            user,
            in_flight: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            _slot: slot,
        })
    }

    /// One of the socket's [`MAX_IN_FLIGHT`] requests, or none left.
    fn try_acquire(self: &Arc<Self>) -> Option<InFlight> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_IN_FLIGHT).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(self.clone()))
    }
}

/// A request being answered; its place is given back when it is dropped.
struct InFlight(Arc<SocketState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Declares [`Incoming`]: every client request type, each parsed exactly like its
/// own `TryData<R>` handler would.
macro_rules! requests {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A client event: a request of one of the types natter answers, its
        /// payload parsed (or why it does not parse), or an event it ignores.
        enum Incoming {
            $($variant(Result<$ty, ParserError>),)*
            Unknown,
        }

        impl<A: Adapter> FromMessageParts<A> for Incoming {
            type Error = Infallible;
            fn from_message_parts(
                s: &Arc<Socket<A>>,
                v: &mut Value,
                ack: &Option<i64>,
            ) -> Result<Self, Infallible> {
                let Ok(Event(event)) = Event::from_message_parts(s, v, ack) else {
                    return Ok(Self::Unknown);
                };
                $(if event == <$ty as ClientRequest>::EVENT {
                    let Ok(TryData(payload)) = TryData::<$ty>::from_message_parts(s, v, ack);
                    return Ok(Self::$variant(payload));
                })*
                Ok(Self::Unknown)
            }
        }
    };
}

requests! {
    Send(SendMessage),
    Edit(EditMessage),
    Delete(DeleteMessage),
    React(ReactionRequest),
    Unreact(RemoveReaction),
    Typing(StartTyping),
    Read(MarkRead),
    Subscribe(PresenceSubscribe),
    Unsubscribe(PresenceUnsubscribe),
}

/// Answers the socket's requests. One handler for every event (socketioxide's
/// fallback) rather than one per event: a socket then holds no table of
/// handlers, and the handler holds only the application context.
pub fn register<A: Adapter>(ctx: &Ctx, socket: &SocketRef<A>) {
    let ctx = ctx.clone();
    socket.on_fallback(
        move |socket: SocketRef<A>, request: Incoming, ack: AckSender<A>| {
            // Taken when the event arrives, not when its task first runs.
            let permit = socket
                .extensions
                .get::<Arc<SocketState>>()
                .map(|state| (state.try_acquire(), state.user.clone()));
            let ctx = ctx.clone();
            async move {
                let Some((permit, user)) = permit else {
                    return;
                };
                let r = Request {
                    ctx,
                    user,
                    socket,
                    ack,
                    permit,
                };
                match request {
                    Incoming::Send(p) => {
                        r.answer(p, |ctx, user, _, p| async move {
                            let outgoing =
                                Outgoing::parse(p.msg, p.client_id, p.reply_to, p.attachments)?;
                            let conversation_id = ConversationId::parse(&p.conversation_id)?;
                            let sent =
                                messages::send(&ctx, &user, &conversation_id, outgoing).await?;
                            let (Sent::New(message) | Sent::Existing(message)) = sent;
                            Ok(SendAck { ok: true, message })
                        })
                        .await
                    }
                    Incoming::Edit(p) => {
                        r.answer(p, |ctx, user, _, p| async move {
                            let text = MessageText::parse(p.msg)?;
                            change(&ctx, &user, &p.conversation_id, p.seq, Edit::Text(text)).await
                        })
                        .await
                    }
                    Incoming::Delete(p) => {
                        r.answer(p, |ctx, user, _, p| async move {
                            change(&ctx, &user, &p.conversation_id, p.seq, Edit::Delete).await
                        })
                        .await
                    }
                    Incoming::React(p) => {
                        r.answer(p, |ctx, user, _, p| async move {
                            let emoji = Emoji::parse(&p.emoji)?;
                            let edit = Edit::React { emoji, add: true };
                            change(&ctx, &user, &p.conversation_id, p.seq, edit).await
                        })
                        .await
                    }
                    Incoming::Unreact(p) => {
                        r.answer(p, |ctx, user, _, RemoveReaction(p)| async move {
                            let emoji = Emoji::parse(&p.emoji)?;
                            let edit = Edit::React { emoji, add: false };
                            change(&ctx, &user, &p.conversation_id, p.seq, edit).await
                        })
                        .await
                    }
                    Incoming::Typing(p) => {
                        r.answer(p, |ctx, user, _, p| async move {
                            let conversation_id = ConversationId::parse(&p.conversation_id)?;
                            conversations::typing(&ctx, &user, &conversation_id).await?;
                            Ok(OkAck { ok: true })
                        })
                        .await
                    }
                    Incoming::Read(p) => {
                        r.answer(p, |ctx, user, _, p| async move {
                            let seq = Seq::parse(p.seq, "seq")?;
                            let conversation_id = ConversationId::parse(&p.conversation_id)?;
                            let seq = conversations::mark_read(&ctx, &user, &conversation_id, seq)
                                .await?;
                            Ok(ReadAck { ok: true, seq })
                        })
                        .await
                    }
                    Incoming::Subscribe(p) => {
                        r.answer(p, |_, _, socket, p| async move {
                            watch::subscribe(&socket, &p.user_ids)?;
                            Ok(OkAck { ok: true })
                        })
                        .await
                    }
                    Incoming::Unsubscribe(p) => {
                        r.answer(p, |_, _, socket, p| async move {
                            watch::unsubscribe(&socket, &p.user_ids)?;
                            Ok(OkAck { ok: true })
                        })
                        .await
                    }
                    // Not an event natter answers: ignored, as socketioxide ignores
                    // an event without a handler.
                    Incoming::Unknown => {}
                }
            }
        },
    );
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

/// One request of a socket being answered: the app, the caller, the socket, the
/// ack to answer with and the request's place among the socket's requests in
/// flight (none: the socket is busy).
struct Request<A: Adapter> {
    ctx: Ctx,
    user: Arc<AuthUser>,
    socket: SocketRef<A>,
    ack: AckSender<A>,
    permit: Option<InFlight>,
}

impl<A: Adapter> Request<A> {
    /// Runs `handler` on the parsed payload and answers with its ack or the
    /// contract's error body: one error path for every event.
    async fn answer<R, F, Fut>(self, payload: Result<R, ParserError>, handler: F)
    where
        R: ClientRequest,
        F: FnOnce(Ctx, Arc<AuthUser>, SocketRef<A>, R) -> Fut,
        Fut: Future<Output = AppResult<R::Ack>>,
    {
        let Self {
            ctx,
            user,
            socket,
            ack,
            permit,
        } = self;
        sessions::mark_used(&ctx, &user);
        let result = match (permit, payload) {
            (None, _) => Err(AppError::Busy),
            (Some(_permit), Ok(payload)) => handler(ctx, user, socket, payload).await,
            (Some(_), Err(e)) => Err(AppError::bad_request(
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
}
