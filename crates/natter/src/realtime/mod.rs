//! Socket.IO at `/api/socket.io`: authentication on connect, the client events,
//! and presence. Sockets join `user:<id>`; everything they receive is emitted to
//! those rooms by the [`notifier`]. With `REDIS_URL` set, the socketioxide-redis
//! adapter carries every emit to the sockets on the other nodes too.
//!
//! The adapter is our patched socketioxide-redis (`vendor/`): it delivers to this
//! node's sockets before publishing, reconnects and re-subscribes by itself, and
//! says whether Redis answers ([`redis_ready`]), which `/readyz` reports and which
//! sign-out checks before it promises to end sessions on every node.

pub mod connect;
pub mod events;
pub mod notifier;
pub mod overflow;
pub mod owned_head;
pub mod watch;

use std::ops::Deref;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use socketioxide::adapter::{Adapter, Emitter, LocalAdapter};
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SocketIo, SocketIoBuilder, handler::ConnectHandler};
use socketioxide_core::adapter::DefinedAdapter;
use socketioxide_redis::drivers::redis::{RedisDriver, redis_client as redis};
use socketioxide_redis::{RedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use crate::config::Config;
use crate::state::Ctx;

pub const PATH: &str = "/api/socket.io";

/// Most events queued for one socket (engineioxide's `max_buffer_size`). A socket whose
/// queue is full is closed (see [`overflow`]), never skipped, so this only has to cover
/// normal bursts: one lobby message from each of a thousand members within one polling
/// round trip, or a WebSocket reader that stalls for a moment under a full send buffer.
/// The queue allocates only while events wait, so an idle socket pays nothing for it;
/// a full one holds about 1024 × 100 bytes of slots plus the (shared) payloads.
pub const SOCKET_QUEUE: usize = 1024;

/// The Socket.IO handle. One node uses the in-process adapter; with `REDIS_URL`
/// every emit is also published to the other nodes through Redis.
#[derive(Clone)]
pub enum Io {
    Local(SocketIo<LocalAdapter>),
    Redis(RedisIo),
}

/// The handle of a node that fans out through Redis, with the adapter's driver,
/// which knows whether Redis answers. It derefs to the `SocketIo`.
#[derive(Clone)]
pub struct RedisIo {
    io: SocketIo<RedisAdapter<Emitter>>,
    driver: RedisDriver,
}

impl Deref for RedisIo {
    type Target = SocketIo<RedisAdapter<Emitter>>;
    fn deref(&self) -> &Self::Target {
        &self.io
    }
}

/// Whether Redis answers (a PING every second, and at once when the connection
/// drops): `None` on a single node, which has no Redis.
pub fn redis_ready(io: &Io) -> Option<bool> {
    match io {
        Io::Local(_) => None,
        Io::Redis(io) => Some(io.driver.is_connected()),
    }
}

/// The Socket.IO layer that goes in front of the HTTP router.
pub enum RealtimeLayer {
    Local(SocketIoLayer<LocalAdapter>),
    Redis(SocketIoLayer<RedisAdapter<Emitter>>),
}

impl RealtimeLayer {
    pub fn wrap(self, router: Router) -> Router {
        match self {
            Self::Local(layer) => router.layer(layer),
            Self::Redis(layer) => router.layer(layer),
        }
    }
}

/// Builds the layer and its handle; handlers are attached later with [`attach`],
/// once the application context (which itself holds the handle) exists.
pub async fn build(config: &Config) -> anyhow::Result<(Io, RealtimeLayer)> {
    let builder = SocketIo::builder()
        .req_path(PATH)
        .max_payload(config.max_socket_payload)
        .ws_max_message_size(config.max_socket_payload as usize)
        .ws_max_frame_size(config.max_socket_payload as usize)
        .ack_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(10))
        // Most frames are small; a larger one grows the buffer as needed. The 4 KiB
        // default would cost every idle socket 4 KiB (see owned_head).
        .ws_read_buffer_size(256)
        .max_buffer_size(SOCKET_QUEUE);
    match &config.redis_url {
        None => {
            let (layer, io) = builder.build_layer();
            Ok((Io::Local(io), RealtimeLayer::Local(layer)))
        }
        Some(url) => {
            let (builder, driver) = with_redis(builder, url, &config.redis_prefix).await?;
            let (layer, io) = builder.build_layer();
            Ok((
                Io::Redis(RedisIo { io, driver }),
                RealtimeLayer::Redis(layer),
            ))
        }
    }
}

async fn with_redis(
    builder: SocketIoBuilder,
    url: &str,
    prefix: &str,
) -> anyhow::Result<(SocketIoBuilder<RedisAdapter<Emitter>>, RedisDriver)> {
    // The adapter speaks RESP3 (Redis 7+).
    let url = if url.contains("protocol=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    };
    let client = redis::Client::open(url).context("parsing REDIS_URL")?;
    let config = RedisAdapterConfig::new().with_prefix(prefix.to_owned());
    let driver = RedisDriver::new(&client)
        .await
        .context("connecting to Redis")?;
    let adapter = RedisAdapterCtr::new_with_driver(driver.clone(), config);
    Ok((builder.with_adapter::<RedisAdapter<_>>(adapter), driver))
}

pub async fn attach(io: &Io, ctx: Ctx) -> anyhow::Result<()> {
    match io {
        Io::Local(io) => attach_to(io, ctx),
        Io::Redis(io) => attach_to(&io.io, ctx)
            .await
            .context("subscribing to Redis")?,
    }
    Ok(())
}

fn attach_to<A: Adapter + DefinedAdapter>(io: &SocketIo<A>, ctx: Ctx) -> A::InitRes {
    let auth_ctx = ctx.clone();
    let authenticate = move |socket: SocketRef<A>, auth: TryData<connect::ConnectAuth>| {
        let ctx = auth_ctx.clone();
        async move { connect::authenticate(ctx, socket, auth).await }
    };
    let on_connect = move |socket: SocketRef<A>| {
        let ctx = ctx.clone();
        async move { connect::connected(ctx, socket).await }
    };
    io.ns("/", on_connect.with(authenticate))
}
