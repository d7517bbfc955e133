//! The wire contract as Rust types: the JSON objects, the Socket.IO events with
//! their acks, and the HTTP bodies. `../shared/api-contract.md` is the binding
//! text; these types are its one implementation. The OpenAPI document
//! (`http::openapi`) and the web client's TypeScript (`web/src/generated/`, see
//! [`typescript`]) are generated from them, so neither can drift from the server.

pub mod bodies;
pub mod events;
pub mod objects;
pub mod typescript;

pub use objects::{
    Attachment, Conversation, ConversationKind, Member, Message, MessageType, Reaction, ReplyTo,
    SystemAction, SystemInfo, User,
};
