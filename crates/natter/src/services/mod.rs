//! The rules of natter, one place each. HTTP handlers and socket handlers only
//! translate between the wire and these functions.

pub mod accounts;
pub mod attachments;
pub mod blocks;
pub mod client_address;
pub mod conversations;
pub mod directory;
pub mod groups;
pub mod images;
pub mod login_throttle;
pub mod messages;
pub mod origin;
pub mod presence;
pub mod profiles;
pub mod rate_limits;
pub mod search;
pub mod sessions;
pub mod socket_cap;

use crate::contract::User;
use crate::state::Ctx;
use crate::store::users::UserRow;

/// The public profile of a stored user, with live presence.
pub fn public_user(ctx: &Ctx, row: UserRow) -> User {
    let online = ctx.presence.is_online(&row.id);
    User {
        avatar_url: row.avatar_id.map(|id| format!("/api/avatars/{id}")),
        online,
        last_seen_at: if online { None } else { row.last_seen_at },
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        status_message: row.status_message,
    }
}
