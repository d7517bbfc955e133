//! Connection life cycle: refuse handshakes from foreign origins, sockets
//! without a valid session and sockets over the user's cap, join the user's
//! rooms (their own and their contacts'), and report the socket's start and
//! end to the presence service.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::socket::DisconnectReason;

use super::events::{self, SocketState};
use super::notifier::{session_room, user_room};
use super::watch;
use crate::services::origin::{self, OriginCheck};
use crate::services::presence;
use crate::services::sessions;
use crate::state::Ctx;

#[derive(Debug, Deserialize)]
pub struct ConnectAuth {
    token: Option<String>,
}

/// Why a connection is refused: the `connect_error` message clients see is the
/// contract's error code (`unauthorized`, `forbidden`, `too_many_sockets`).
#[derive(Debug)]
pub enum Refused {
    /// No valid session.
    Unauthorized,
    /// The handshake's `Origin` is neither ours nor an allowed one.
    ForeignOrigin,
    /// The user holds `NATTER_MAX_SOCKETS_PER_USER` sockets on this node already.
    TooManySockets,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unauthorized => "unauthorized",
            Self::ForeignOrigin => "forbidden",
            Self::TooManySockets => "too_many_sockets",
        })
    }
}

/// Connect middleware: first the origin (a handshake with an `Origin` header,
/// i.e. from a browser page, must come from our own or an allowed origin, since
/// the browser sends the session cookie along even from another site; a
/// handshake without one, from a non-browser client, passes), then the session:
/// the handshake's `auth.token`, or else the session cookie.
///
/// It also joins the user's room and registers the event handlers: socketioxide
/// sends the CONNECT packet after the middleware but before it runs the connect
/// handler, so a client that emits right after connecting (as socket.io-client
/// does with its buffered events) would otherwise race the registration.
pub async fn authenticate<A: Adapter>(
    ctx: Ctx,
    socket: SocketRef<A>,
    TryData(auth): TryData<ConnectAuth>,
) -> Result<(), Refused> {
    let headers = &socket.req_parts().headers;
    if origin::check(headers, &ctx.config.allowed_origins) == OriginCheck::Refused {
        tracing::debug!(origin = ?headers.get("origin"), "handshake from a foreign origin refused");
        return Err(Refused::ForeignOrigin);
    }
    let token = auth
        .ok()
        .and_then(|a| a.token)
        .or_else(|| sessions::token_from_cookie(headers))
        .ok_or(Refused::Unauthorized)?;
    let user = sessions::authenticate(&ctx, &token)
        .await
        .map_err(|_| Refused::Unauthorized)?;
    // Held by the socket (its state) and given back when the socket goes.
    let slot = ctx.socket_cap.try_open(&user.id).ok_or_else(|| {
        metrics::counter!(crate::telemetry::RATE_LIMITED, "code" => "too_many_sockets")
            .increment(1);
        Refused::TooManySockets
    })?;
    socket.join([user_room(&user.id), session_room(&user.token_hash)]);
    // After the user room: a conversation started from now on reaches this
    // socket through it, one started before is in the store.
    watch::join_contacts(&ctx, &socket, &user.id).await;
    socket
        .extensions
        .insert(SocketState::new(Arc::new(user), slot));
    events::register(&ctx, &socket);
    Ok(())
}

pub async fn connected<A: Adapter>(ctx: Ctx, socket: SocketRef<A>) {
    let Some(state) = socket.extensions.get::<Arc<SocketState>>() else {
        let _ = socket.disconnect();
        return;
    };
    let first_here = presence::socket_opened(&ctx, &state.user);
    // The socket may close before this handler runs (socketioxide starts it after
    // sending CONNECT), and then `on_disconnect` never fires: whichever of the two
    // paths sees the end first releases the presence count, exactly once.
    {
        let ctx = ctx.clone();
        socket.on_disconnect(
            move |socket: SocketRef<A>, reason: DisconnectReason| async move {
                super::overflow::count(reason);
                let Some(state) = socket.extensions.get::<Arc<SocketState>>() else {
                    return;
                };
                if !state.released.swap(true, Ordering::SeqCst) {
                    presence::socket_disconnected(&ctx, &state.user, socket.id).await;
                }
            },
        );
    }
    if !socket.connected() {
        if !state.released.swap(true, Ordering::SeqCst) {
            presence::socket_disconnected(&ctx, &state.user, socket.id).await;
        }
        return;
    }
    presence::announce_online(&ctx, &state.user, socket.id, first_here).await;
}
