//! Socket.IO at `/api/socket.io`: authentication on connect, the client events,
//! and presence. Sockets join `user:<id>`; everything they receive is emitted to
//! those rooms by the [`notifier`].

pub mod connect;
pub mod events;
pub mod notifier;
pub mod owned_head;
pub mod presence;

use std::time::Duration;

use socketioxide::extract::{SocketRef, TryData};
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SocketIo, handler::ConnectHandler};

use crate::config::Config;
use crate::state::Ctx;

pub const PATH: &str = "/api/socket.io";

/// The Socket.IO layer and its handle; handlers are attached later with [`attach`],
/// once the application context (which itself holds the handle) exists.
pub fn layer(config: &Config) -> (SocketIoLayer, SocketIo) {
    SocketIo::builder()
        .req_path(PATH)
        .max_payload(config.max_socket_payload)
        .ws_max_message_size(config.max_socket_payload as usize)
        .ws_max_frame_size(config.max_socket_payload as usize)
        .ack_timeout(Duration::from_secs(10))
        // Most frames are small; a larger one grows the buffer as needed. The 4 KiB
        // default would cost every idle socket 4 KiB (see owned_head).
        .ws_read_buffer_size(256)
        .connect_timeout(Duration::from_secs(10))
        .build_layer()
}

pub fn attach(io: &SocketIo, ctx: Ctx) {
    let auth_ctx = ctx.clone();
    let authenticate = move |socket: SocketRef, auth: TryData<connect::ConnectAuth>| {
        let ctx = auth_ctx.clone();
        async move { connect::authenticate(ctx, socket, auth).await }
    };
    let on_connect = move |socket: SocketRef| {
        let ctx = ctx.clone();
        async move { connect::connected(ctx, socket).await }
    };
    io.ns("/", on_connect.with(authenticate));
}
