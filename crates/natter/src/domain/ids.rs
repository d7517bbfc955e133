//! Typed identifiers.
//!
//! Ids are random 128-bit values in hex: opaque to clients, unguessable, and free
//! of any coordination between nodes. Each kind has its own type, so a user id
//! cannot be passed where a conversation id is expected. An id from the wire is
//! parsed for shape only: a malformed one answers 404 like an unknown one, and
//! never reaches SQL (no NUL, no megabyte-long keys).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

const MAX_ID_CHARS: usize = 64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        // Deserialize is for what the store itself wrote (a system message's
        // JSON); input from the wire arrives as strings and goes through `parse`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, TS, ToSchema)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{:032x}", rand::random::<u128>()))
            }

            /// An id from the wire: 404 when it cannot be one.
            pub fn parse(raw: &str) -> AppResult<Self> {
                let well_formed = !raw.is_empty()
                    && raw.len() <= MAX_ID_CHARS
                    && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if well_formed {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(AppError::NotFound($what))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A user account.
    UserId,
    "user"
);
id_type!(
    /// A conversation: a direct chat, or the lobby.
    ConversationId,
    "conversation"
);
id_type!(
    /// One stored message.
    MessageId,
    "message"
);

id_type!(
    /// One uploaded profile picture; a new upload gets a new id (and URL).
    AvatarId,
    "picture"
);
id_type!(
    /// An uploaded file; also the unguessable part of its URLs.
    AttachmentId,
    "attachment"
);

impl ConversationId {
    /// The one conversation every user belongs to.
    pub fn lobby() -> Self {
        Self(LOBBY_ID.to_owned())
    }

    pub fn is_lobby(&self) -> bool {
        self.0 == LOBBY_ID
    }
}

pub const LOBBY_ID: &str = "lobby";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_parse_back() {
        let id = UserId::generate();
        assert_ne!(id, UserId::generate());
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(UserId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_not_found() {
        for raw in ["", "a\0b", "../etc", "a b", &"x".repeat(65)] {
            let error = ConversationId::parse(raw).unwrap_err();
            assert_eq!(error.code(), "not_found", "{raw:?}");
        }
        assert!(ConversationId::parse("lobby").unwrap().is_lobby());
    }
}
