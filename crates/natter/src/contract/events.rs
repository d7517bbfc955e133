//! The Socket.IO contract: what the server emits ([`ServerEvent`]) and what a
//! client may ask ([`ClientRequest`], one type per event with its typed ack).
//!
//! Event names live here and nowhere else: the notifier emits only
//! `ServerEvent`s, and the socket handlers are registered from the
//! `ClientRequest` impls. The TypeScript side is generated from the same enums
//! (`ServerEvent` and `ClientEvent` become discriminated unions that
//! `web/src/types.ts` maps to socket.io-client's typed event maps).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use super::objects::{Conversation, Message, User};
use crate::domain::{ConversationId, Millis, UserId};

/// Everything a client can receive, one variant per event.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "event", content = "data")]
pub enum ServerEvent {
    /// A message was stored in one of the user's conversations.
    #[serde(rename = "message")]
    Message(Message),
    /// A message was edited, deleted or reacted to (or the original it quotes was).
    #[serde(rename = "message:update")]
    MessageUpdate(Message),
    /// A conversation appeared in (or changed for) the user's list.
    #[serde(rename = "conversation")]
    Conversation(Box<Conversation>),
    #[serde(rename = "typing")]
    Typing(TypingEvent),
    #[serde(rename = "read")]
    Read(ReadEvent),
    #[serde(rename = "presence")]
    Presence(PresenceEvent),
    /// A profile changed.
    #[serde(rename = "user")]
    User(User),
}

impl ServerEvent {
    /// The Socket.IO event name; the same string as the serde tag above
    /// (a unit test holds them together).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::MessageUpdate(_) => "message:update",
            Self::Conversation(_) => "conversation",
            Self::Typing(_) => "typing",
            Self::Read(_) => "read",
            Self::Presence(_) => "presence",
            Self::User(_) => "user",
        }
    }

    /// The payload alone, as it goes on the wire after the name.
    pub fn data(&self) -> EventData<'_> {
        EventData(self)
    }
}

/// Serialises a [`ServerEvent`]'s payload without the tag.
pub struct EventData<'a>(&'a ServerEvent);

impl Serialize for EventData<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ServerEvent::Message(m) | ServerEvent::MessageUpdate(m) => m.serialize(s),
            ServerEvent::Conversation(c) => c.serialize(s),
            ServerEvent::Typing(t) => t.serialize(s),
            ServerEvent::Read(r) => r.serialize(s),
            ServerEvent::Presence(p) => p.serialize(s),
            ServerEvent::User(u) => u.serialize(s),
        }
    }
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TypingEvent {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReadEvent {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub seq: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEvent {
    pub user_id: UserId,
    pub online: bool,
    pub last_seen_at: Option<Millis>,
}

/// A client → server event: its name, its payload (this type) and its ack.
/// Ids arrive as strings and are parsed by the handler, so that a malformed id
/// answers `not_found` exactly like an unknown one.
pub trait ClientRequest: DeserializeOwned + Send + Sync + 'static {
    const EVENT: &'static str;
    type Ack: Serialize + Send;
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    #[ts(as = "ConversationId")]
    pub conversation_id: String,
    pub msg: String,
    pub client_id: String,
    /// The seq of the message this one replies to, in the same conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reply_to: Option<i64>,
    /// 1–10 ids of the sender's own unused uploads; `msg` may then be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub attachments: Option<Vec<String>>,
}

/// `message:edit`: only the sender, not on a deleted or system message.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EditMessage {
    #[ts(as = "ConversationId")]
    pub conversation_id: String,
    pub seq: i64,
    pub msg: String,
}

/// `message:delete`: only the sender; leaves a tombstone with the same seq.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DeleteMessage {
    #[ts(as = "ConversationId")]
    pub conversation_id: String,
    pub seq: i64,
}

/// `reaction:add` and `reaction:remove`: idempotent.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReactionRequest {
    #[ts(as = "ConversationId")]
    pub conversation_id: String,
    pub seq: i64,
    pub emoji: String,
}

/// The same payload as [`ReactionRequest`], for `reaction:remove`.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(transparent)]
pub struct RemoveReaction(pub ReactionRequest);

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StartTyping {
    #[ts(as = "ConversationId")]
    pub conversation_id: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MarkRead {
    #[ts(as = "ConversationId")]
    pub conversation_id: String,
    pub seq: i64,
}

/// Asks for `presence` and `user` events about these users (beyond the
/// contacts every socket hears of anyway), for as long as the socket lives.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PresenceSubscribe {
    #[ts(as = "Vec<UserId>")]
    pub user_ids: Vec<String>,
}

/// Ends [`PresenceSubscribe`] for these users.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PresenceUnsubscribe {
    #[ts(as = "Vec<UserId>")]
    pub user_ids: Vec<String>,
}

/// `{ok: true, message}`: the stored message (also for a retried clientId).
#[derive(Debug, Clone, Serialize, TS)]
pub struct SendAck {
    #[ts(type = "true")]
    pub ok: bool,
    pub message: Message,
}

/// `{ok: true, message}`: the message as it is after the change.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MessageAck {
    #[ts(type = "true")]
    pub ok: bool,
    pub message: Message,
}

/// `{ok: true, seq}`: the read mark now stored (never lower than before).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReadAck {
    #[ts(type = "true")]
    pub ok: bool,
    pub seq: i64,
}

/// `{ok: true}`.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OkAck {
    #[ts(type = "true")]
    pub ok: bool,
}

impl ClientRequest for SendMessage {
    const EVENT: &'static str = "message:send";
    type Ack = SendAck;
}

impl ClientRequest for EditMessage {
    const EVENT: &'static str = "message:edit";
    type Ack = MessageAck;
}

impl ClientRequest for DeleteMessage {
    const EVENT: &'static str = "message:delete";
    type Ack = MessageAck;
}

impl ClientRequest for ReactionRequest {
    const EVENT: &'static str = "reaction:add";
    type Ack = MessageAck;
}

impl ClientRequest for RemoveReaction {
    const EVENT: &'static str = "reaction:remove";
    type Ack = MessageAck;
}

impl ClientRequest for StartTyping {
    const EVENT: &'static str = "typing";
    type Ack = OkAck;
}

impl ClientRequest for MarkRead {
    const EVENT: &'static str = "read";
    type Ack = ReadAck;
}

impl ClientRequest for PresenceSubscribe {
    const EVENT: &'static str = "presence:subscribe";
    type Ack = OkAck;
}

impl ClientRequest for PresenceUnsubscribe {
    const EVENT: &'static str = "presence:unsubscribe";
    type Ack = OkAck;
}

/// Every client event with its payload, for the generated TypeScript.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "event", content = "data")]
pub enum ClientEvent {
    #[serde(rename = "message:send")]
    SendMessage(SendMessage),
    #[serde(rename = "message:edit")]
    EditMessage(EditMessage),
    #[serde(rename = "message:delete")]
    DeleteMessage(DeleteMessage),
    #[serde(rename = "reaction:add")]
    AddReaction(ReactionRequest),
    #[serde(rename = "reaction:remove")]
    RemoveReaction(ReactionRequest),
    #[serde(rename = "typing")]
    StartTyping(StartTyping),
    #[serde(rename = "read")]
    MarkRead(MarkRead),
    #[serde(rename = "presence:subscribe")]
    PresenceSubscribe(PresenceSubscribe),
    #[serde(rename = "presence:unsubscribe")]
    PresenceUnsubscribe(PresenceUnsubscribe),
}

/// Every client event with its success ack, for the generated TypeScript;
/// any of them may instead be answered with an [`ErrorBody`].
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "event", content = "ack")]
pub enum ClientAck {
    #[serde(rename = "message:send")]
    SendMessage(SendAck),
    #[serde(rename = "message:edit")]
    EditMessage(MessageAck),
    #[serde(rename = "message:delete")]
    DeleteMessage(MessageAck),
    #[serde(rename = "reaction:add")]
    AddReaction(MessageAck),
    #[serde(rename = "reaction:remove")]
    RemoveReaction(MessageAck),
    #[serde(rename = "typing")]
    StartTyping(OkAck),
    #[serde(rename = "read")]
    MarkRead(ReadAck),
    #[serde(rename = "presence:subscribe")]
    PresenceSubscribe(OkAck),
    #[serde(rename = "presence:unsubscribe")]
    PresenceUnsubscribe(OkAck),
}

/// The contract's error shape, for HTTP answers and socket acks alike.
#[derive(Debug, Clone, Serialize, TS, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, TS, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable, snake_case: what a client branches on.
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// With `rate_limited`: milliseconds until the next attempt can pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retry_after_ms: Option<u64>,
    /// With `payload_too_large` on an upload, a picture or a JSON body: the
    /// limit that was passed, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub limit_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn tag<T: Serialize>(value: &T) -> String {
        serde_json::to_value(value).unwrap()["event"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn server_event_names_match_their_tags() {
        let presence = ServerEvent::Presence(PresenceEvent {
            user_id: UserId::generate(),
            online: true,
            last_seen_at: None,
        });
        let typing = ServerEvent::Typing(TypingEvent {
            conversation_id: ConversationId::lobby(),
            user_id: UserId::generate(),
        });
        for event in [presence, typing] {
            assert_eq!(tag(&event), event.name());
            let data = serde_json::to_value(event.data()).unwrap();
            assert!(
                data.get("userId").is_some(),
                "payload without its tag: {data}"
            );
        }
    }

    #[test]
    fn client_event_names_match_their_tags() {
        let send = SendMessage {
            conversation_id: "c".into(),
            msg: "m".into(),
            client_id: "k".into(),
            reply_to: None,
            attachments: None,
        };
        let typing = StartTyping {
            conversation_id: "c".into(),
        };
        let read = MarkRead {
            conversation_id: "c".into(),
            seq: 1,
        };
        assert_eq!(tag(&ClientEvent::SendMessage(send)), SendMessage::EVENT);
        assert_eq!(tag(&ClientEvent::StartTyping(typing)), StartTyping::EVENT);
        assert_eq!(tag(&ClientEvent::MarkRead(read)), MarkRead::EVENT);
        let ids = vec!["u".to_owned()];
        let subscribe = PresenceSubscribe {
            user_ids: ids.clone(),
        };
        let unsubscribe = PresenceUnsubscribe { user_ids: ids };
        assert_eq!(
            tag(&ClientEvent::PresenceSubscribe(subscribe)),
            PresenceSubscribe::EVENT
        );
        assert_eq!(
            tag(&ClientEvent::PresenceUnsubscribe(unsubscribe)),
            PresenceUnsubscribe::EVENT
        );
        let reaction = ReactionRequest {
            conversation_id: "c".into(),
            seq: 1,
            emoji: "👍".into(),
        };
        assert_eq!(
            tag(&ClientEvent::AddReaction(reaction.clone())),
            ReactionRequest::EVENT
        );
        assert_eq!(
            tag(&ClientEvent::RemoveReaction(reaction)),
            RemoveReaction::EVENT
        );
        let edit = EditMessage {
            conversation_id: "c".into(),
            seq: 1,
            msg: "m".into(),
        };
        assert_eq!(tag(&ClientEvent::EditMessage(edit)), EditMessage::EVENT);
        let delete = DeleteMessage {
            conversation_id: "c".into(),
            seq: 1,
        };
        assert_eq!(
            tag(&ClientEvent::DeleteMessage(delete)),
            DeleteMessage::EVENT
        );
        let ok = ClientAck::StartTyping(OkAck { ok: true });
        assert_eq!(tag(&ok), StartTyping::EVENT);
    }
}
