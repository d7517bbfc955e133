//! Sending, changing and reading messages. `send` is the one path for
//! `POST /api/conversations/{id}/messages`, `POST /api/chat` and the socket
//! event `message:send`; `change` the one for edits, deletes and reactions over
//! HTTP and Socket.IO: authorise, store durably through the writer (which also
//! hands the change to the notifier, in commit order), answer. Every send, edit
//! and reaction first takes a token from the sender's bucket
//! ([`super::rate_limits`]). A direct chat between a blocked pair takes no
//! sends (checked by the writer) and no edits or reactions ([`super::blocks`]).

use super::attachments;
use super::blocks;
use super::conversations::membership;
use super::rate_limits::Action;
use super::sessions::AuthUser;
use crate::contract::Message;
use crate::contract::bodies::HistoryPageJson;
use crate::domain::{AttachmentId, ClientId, ConversationId, MessageText, PageLimit, Seq};
use crate::error::{AppError, AppResult};
use crate::state::Ctx;
use crate::store::changes::Edit;
use crate::store::conversations::Members;
use crate::store::messages::PageQuery;
use crate::store::writer::{Applied, Change, SendRequest, Sent};

/// A new message: its text, the client's idempotency key, and optionally the
/// seq of the message it replies to.
pub struct Outgoing {
    pub msg: MessageText,
    pub client_id: ClientId,
    pub reply_to: Option<i64>,
    pub attachments: Vec<AttachmentId>,
}

/// Most files on one message.
pub const MAX_ATTACHMENTS: usize = 10;

impl Outgoing {
    /// A send from the wire (HTTP or Socket.IO). With attachments the text may
    /// be empty; without, it may not.
    pub fn parse(
        msg: String,
        client_id: String,
        reply_to: Option<i64>,
        attachments: Option<Vec<String>>,
    ) -> AppResult<Self> {
        let attachments = attachments.unwrap_or_default();
        if attachments.len() > MAX_ATTACHMENTS {
            return Err(AppError::invalid(
                "too_many_attachments",
                format!("a message carries at most {MAX_ATTACHMENTS} attachments"),
            ));
        }
        let mut ids = Vec::with_capacity(attachments.len());
        for raw in &attachments {
            let id = AttachmentId::parse(raw).map_err(|_| invalid_attachment())?;
            if ids.contains(&id) {
                return Err(invalid_attachment());
            }
            ids.push(id);
        }
        let msg = if !ids.is_empty() && msg.trim().is_empty() {
            MessageText::empty()
        } else {
            MessageText::parse(msg)?
        };
        Ok(Self {
            msg,
            client_id: ClientId::parse(client_id)?,
            reply_to,
            attachments: ids,
        })
    }
}

fn invalid_attachment() -> AppError {
    AppError::from(crate::store::writer::Refusal::InvalidAttachment)
}

pub async fn send(
    ctx: &Ctx,
    sender: &AuthUser,
    conversation_id: &ConversationId,
    outgoing: Outgoing,
) -> AppResult<Sent> {
    ctx.limits.check(Action::Send, &sender.id)?;
    // A block between a direct chat's pair is checked by the writer, in the
    // send's own statement.
    let members = membership(ctx, &sender.id, conversation_id).await?;
    if let Some(seq) = outgoing.reply_to {
        // Seqs never go away (a deleted message keeps its place), so a seq
        // that exists now still does when the send commits.
        let last = ctx.store.last_seq(conversation_id).await?;
        if !(1..=last).contains(&seq) {
            return Err(AppError::invalid(
                "invalid_reply",
                "replyTo must be the seq of a message in this conversation",
            ));
        }
    }
    Ok(ctx
        .writer
        .send(SendRequest {
            conversation_id: conversation_id.clone(),
            members,
            sender_id: sender.id.clone(),
            sender_name: sender.username.clone(),
            msg: outgoing.msg,
            client_id: outgoing.client_id,
            reply_to: outgoing.reply_to,
            attachments: outgoing.attachments,
        })
        .await??)
}

/// Edits, deletes or reacts to message `seq`; answers the message as it is now.
pub async fn change(
    ctx: &Ctx,
    user: &AuthUser,
    conversation_id: &ConversationId,
    seq: Seq,
    edit: Edit,
) -> AppResult<Message> {
    if !matches!(edit, Edit::Delete) {
        ctx.limits.check(Action::Send, &user.id)?;
    }
    let members = membership(ctx, &user.id, conversation_id).await?;
    // Taking a message back is always allowed; editing or reacting writes
    // into the chat like a send does.
    if let (Members::Pair(a, b), false) = (&members, matches!(edit, Edit::Delete)) {
        blocks::ensure_not_blocked(ctx, a, b).await?;
    }
    // Attachments never change after the send, so these are the ones the
    // delete removes; their bytes go once it has committed.
    let attached = match edit {
        Edit::Delete => attachments::of_message(ctx, conversation_id, seq.get()).await?,
        _ => Vec::new(),
    };
    let applied = ctx
        .writer
        .apply(Change::Edit {
            conversation_id: conversation_id.clone(),
            members,
            seq: seq.get(),
            user_id: user.id.clone(),
            edit,
        })
        .await??;
    match applied {
        Applied::Updated { message, .. } => {
            if message.deleted_at.is_some() {
                attachments::remove_bytes(ctx, &attached).await;
            }
            Ok(message)
        }
        Applied::Unchanged(message) => Ok(message),
        other => Err(AppError::Internal(anyhow::anyhow!(
            "an edit answered {other:?}"
        ))),
    }
}

pub async fn history(
    ctx: &Ctx,
    reader: &AuthUser,
    conversation_id: &ConversationId,
    page: PageQuery,
) -> AppResult<HistoryPageJson> {
    membership(ctx, &reader.id, conversation_id).await?;
    Ok(ctx.store.messages_page(conversation_id, page).await?)
}

/// A history query from the wire's optional cursors and limit. `sinceRev`
/// reads changes and goes with no seq cursor.
pub fn page_query(
    before: Option<i64>,
    after: Option<i64>,
    since_rev: Option<i64>,
    limit: Option<i64>,
) -> AppResult<PageQuery> {
    if since_rev.is_some() && (before.is_some() || after.is_some()) {
        return Err(AppError::invalid(
            "invalid_cursor",
            "sinceRev cannot be combined with before or after",
        ));
    }
    Ok(PageQuery {
        before: before.map(|s| Seq::parse(s, "before")).transpose()?,
        after: after.map(|s| Seq::parse(s, "after")).transpose()?,
        since_rev: since_rev
            .map(|r| Seq::parse(r, "sinceRev").map(Seq::get))
            .transpose()?,
        limit: PageLimit::parse(limit)?,
    })
}
