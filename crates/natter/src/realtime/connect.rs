//! Connection life cycle: refuse sockets without a valid session, join the user's
//! room, announce presence on the first socket and the last disconnect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::socket::{DisconnectReason, Sid};

use super::events;
use super::notifier::{session_room, user_room};
use crate::http::extract::session_cookie;
use crate::ids::now_ms;
use crate::services::accounts::{self, AuthUser};
use crate::state::Ctx;

#[derive(Debug, Deserialize)]
pub struct ConnectAuth {
    token: Option<String>,
}

/// The `connect_error` message clients see.
#[derive(Debug)]
pub struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

/// Connect middleware: the handshake's `auth.token`, or else the session cookie.
///
/// It also joins the user's room and registers the event handlers: socketioxide
/// sends the CONNECT packet after the middleware but before it runs the connect
/// handler, so a client that emits right after connecting (as socket.io-client
/// does with its buffered events) would otherwise race the registration.
pub async fn authenticate<A: Adapter>(
    ctx: Ctx,
    socket: SocketRef<A>,
    TryData(auth): TryData<ConnectAuth>,
) -> Result<(), Unauthorized> {
    let token = auth
        .ok()
        .and_then(|a| a.token)
        .or_else(|| session_cookie(&socket.req_parts().headers))
        .ok_or(Unauthorized)?;
    let user = accounts::authenticate(&ctx, &token)
        .await
        .map_err(|_| Unauthorized)?;
    socket.join([user_room(&user.id), session_room(&user.token_hash)]);
    // One copy per socket, shared by its handlers: idle sockets are the bulk of memory.
    let user = Arc::new(user);
    events::register(&ctx, &socket, &user);
    socket.extensions.insert(user);
    Ok(())
}

pub async fn connected<A: Adapter>(ctx: Ctx, socket: SocketRef<A>) {
    let Some(user) = socket.extensions.get::<Arc<AuthUser>>() else {
        let _ = socket.disconnect();
        return;
    };
    let first = ctx.presence.connected(&user.id);
    // The socket may close before this handler runs (socketioxide starts it after
    // sending CONNECT), and then `on_disconnect` never fires: whichever of the two
    // paths sees the end first releases the presence count, exactly once.
    let released = Arc::new(AtomicBool::new(false));
    {
        let (ctx, user, released, sid) = (ctx.clone(), user.clone(), released.clone(), socket.id);
        socket.on_disconnect(move |reason: DisconnectReason| async move {
            super::overflow::count(reason);
            if !released.swap(true, Ordering::SeqCst) {
                went_away(&ctx, &user, sid).await;
            }
        });
    }
    if !socket.connected() {
        if !released.swap(true, Ordering::SeqCst) {
            went_away(&ctx, &user, socket.id).await;
        }
        return;
    }
    // With several nodes, the user may already be online through another one.
    if first && ctx.notifier.other_sockets_of(&user.id, socket.id).await == 0 {
        ctx.notifier.presence(&user.id, true, None).await;
    }
}

async fn went_away(ctx: &Ctx, user: &AuthUser, sid: Sid) {
    if ctx.presence.disconnected(&user.id)
        && ctx.notifier.other_sockets_of(&user.id, sid).await == 0
    {
        let now = now_ms();
        if let Err(e) = ctx.store.set_last_seen(&user.id, Some(now)).await {
            tracing::warn!(user = %user.id, "could not store last seen: {e}");
        }
        ctx.notifier.presence(&user.id, false, Some(now)).await;
    }
}
