//! Who hears of whose presence: at connect a socket joins the contact room of
//! everyone its user shares a conversation with, and `presence:subscribe` adds
//! the watch rooms of the users a client shows (the People list), up to
//! [`MAX_WATCHED`] per socket. Emitting is the notifier's job; this only
//! joins and leaves rooms, on the socket's own node.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::events::SocketState;
use super::notifier::{CONTACT_PREFIX, contact_room, user_room, watch_room};
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::state::Ctx;

/// Most users one socket may subscribe to: a screenful of people many times
/// over, and a bound on the rooms a single client can make the server keep.
pub const MAX_WATCHED: usize = 500;

/// Held while a socket's watch rooms are counted and joined, so that two
/// requests of one socket answered at once cannot together pass the bound.
/// Nothing awaits under it, and subscribing is rare next to messaging.
static SUBSCRIBING: Mutex<()> = Mutex::new(());

/// Joins the contact rooms of `user_id`'s contacts. A failed lookup leaves the
/// socket connected: it only misses presence until it reconnects.
///
/// Called after the socket joined its user room. When the user already has a
/// socket here that finished connecting, its contact rooms are the answer
/// without a query: they came from the store at its connect, and every
/// contact made since joined the whole user room ([`super::notifier::Notifier::become_contacts`];
/// contacts are never taken back), which this socket is in from now on too.
/// That is one query less for a user's second tab or device: the query was
/// ~12% of natter's CPU per connect in a profile of the benchmark, whose users
/// hold many sockets.
pub async fn join_contacts<A: Adapter>(ctx: &Ctx, socket: &SocketRef<A>, user_id: &UserId) {
    if let Some(rooms) = sibling_contact_rooms(socket, user_id) {
        if !rooms.is_empty() {
            socket.join(rooms);
        }
        return;
    }
    match ctx.store.contacts_of(user_id).await {
        Ok(contacts) if contacts.is_empty() => {}
        Ok(contacts) => socket.join(contacts.iter().map(contact_room).collect::<Vec<_>>()),
        Err(e) => tracing::warn!(user = %user_id, "could not look up contacts: {e}"),
    }
}

/// The contact rooms of another socket of `user_id` on this node that has
/// finished connecting (it carries its [`SocketState`]), if there is one.
fn sibling_contact_rooms<A: Adapter>(
    socket: &SocketRef<A>,
    user_id: &UserId,
) -> Option<Vec<String>> {
    let sibling = socket
        .within(user_room(user_id))
        .local()
        .sockets()
        .into_iter()
        .find(|other| {
            other.id != socket.id && other.extensions.get::<Arc<SocketState>>().is_some()
        })?;
    Some(
        sibling
            .rooms()
            .into_iter()
            .filter(|room| room.starts_with(CONTACT_PREFIX))
            .map(|room| room.into_owned())
            .collect(),
    )
}

/// `presence:subscribe`: the socket hears of these users from now on.
pub fn subscribe<A: Adapter>(socket: &SocketRef<A>, user_ids: &[String]) -> AppResult<()> {
    let rooms = watch_rooms(user_ids)?;
    let _guard = SUBSCRIBING.lock().unwrap_or_else(|e| e.into_inner());
    let mut watched: HashSet<String> = socket
        .rooms()
        .into_iter()
        .filter(|room| room.starts_with(WATCH_PREFIX))
        .map(|room| room.into_owned())
        .collect();
    watched.extend(rooms.iter().cloned());
    if watched.len() > MAX_WATCHED {
        return Err(too_many());
    }
    socket.join(rooms);
    Ok(())
}

/// `presence:unsubscribe`: ends [`subscribe`] for these users. What a shared
/// conversation gives (the contact rooms) stays.
pub fn unsubscribe<A: Adapter>(socket: &SocketRef<A>, user_ids: &[String]) -> AppResult<()> {
    socket.leave(watch_rooms(user_ids)?);
    Ok(())
}

const WATCH_PREFIX: &str = "watch:";

/// The watch rooms of well-formed ids (a malformed one answers `not_found`,
/// like everywhere else); a list longer than any socket may hold is refused
/// before it is parsed.
fn watch_rooms(user_ids: &[String]) -> AppResult<Vec<String>> {
    if user_ids.len() > MAX_WATCHED {
        return Err(too_many());
    }
    user_ids
        .iter()
        .map(|id| UserId::parse(id).map(|id| watch_room(&id)))
        .collect()
}

fn too_many() -> AppError {
    AppError::invalid(
        "too_many_subscriptions",
        format!("a connection may subscribe to the presence of at most {MAX_WATCHED} users"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_rooms_carry_the_prefix_counted_by_subscribe() {
        let id = UserId::generate();
        let rooms = watch_rooms(&[id.to_string()]).unwrap();
        assert!(rooms[0].starts_with(WATCH_PREFIX), "{rooms:?}");
    }
}
