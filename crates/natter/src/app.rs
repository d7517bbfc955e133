//! Assembles natter: storage, the message writer, Socket.IO, the HTTP router;
//! then serves them on one listener until a shutdown signal.
//!
//! Shutdown order matters for the durability promise: stop accepting, close the
//! sockets (no new sends), let in-flight requests finish, then close the database
//! pools (which checkpoints nothing unfinished: every answered send is committed).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::AppError;
use crate::realtime::owned_head::OwnedHeadLayer;
use crate::realtime::{self, Io, notifier::Notifier};
use crate::server;
use crate::services::login_throttle::LoginThrottle;
use crate::services::presence::{self, Presence};
use crate::services::rate_limits::RateLimits;
use crate::services::sessions::{self, SessionCache};
use crate::services::socket_cap::SocketCap;
use crate::state::{Ctx, Inner};
use crate::store::Store;
use crate::store::blobs::Blobs;
use crate::store::writer::MessageWriter;

/// Set on every HTTP answer: the web UI, the API and its errors. The web UI's
/// build has no inline script (Vite emits `<script type="module" src>`), so the
/// policy needs none; inline styles are allowed for the UI's `style` attributes.
pub const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'",
    ),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

pub struct App {
    pub ctx: Ctx,
    pub io: Io,
    pub router: Router,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        crate::telemetry::handle();
        let store = Store::connect(&config).await?;
        let (io, socket_layer) = realtime::build(&config).await?;
        let notifier = Notifier::new(io.clone());
        let (committed_tx, committed_rx) = mpsc::unbounded_channel();
        notifier.spawn_message_fanout(committed_rx);
        let writer = MessageWriter::spawn(store.clone(), committed_tx);
        let sessions = SessionCache::new(config.redis_url.is_none());
        let (presence, presence_worker) = Presence::for_config(&config)?;
        let limits = RateLimits::new(&config);
        let login_throttle = LoginThrottle::new(&config);
        let socket_cap = SocketCap::new(config.max_sockets_per_user);
        let blobs = Blobs::for_store(&store, &config.data_dir)?;
        let ctx = Ctx::new(Inner {
            blobs,
            sessions,
            config,
            store,
            writer,
            notifier,
            presence,
            cpu: Default::default(),
            login_throttle,
            limits,
            socket_cap,
        });
        realtime::attach(&io, ctx.clone()).await?;
        presence::start(&ctx, presence_worker);
        let notifier = ctx.notifier.clone();
        crate::telemetry::watch_redis(move || notifier.redis_ready());
        let mut router = crate::http::router(ctx.clone())
            .layer(CompressionLayer::new())
            .layer(CatchPanicLayer::custom(|_| {
                axum::response::IntoResponse::into_response(AppError::Internal(anyhow::anyhow!(
                    "a request handler panicked"
                )))
            }));
        // Outside the panic catcher, so every answer (errors too) carries them.
        // A handler's own, stricter value stays (served attachments carry
        // `Content-Security-Policy: sandbox`).
        for (name, value) in SECURITY_HEADERS {
            router = router.layer(SetResponseHeaderLayer::if_not_present(
                name,
                HeaderValue::from_static(value),
            ));
        }
        let router = router.layer(TraceLayer::new_for_http());
        let router = socket_layer.wrap(router).layer(OwnedHeadLayer);
        Ok(Self { ctx, io, router })
    }

    /// Serves until `shutdown` resolves, then closes sockets and the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self { ctx, io, router } = self;
        let pruner = tokio::spawn(sessions::prune_periodically(ctx.clone()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Instant>();
        let io_for_shutdown = io.clone();
        let grace = Duration::from_secs(ctx.config.shutdown_secs);
        tokio::spawn(async move {
            shutdown.await;
            let deadline = Instant::now() + grace;
            tracing::info!("shutting down: closing sockets");
            let close = async {
                match io_for_shutdown {
                    Io::Local(io) => io.close().await,
                    Io::Redis(io) => io.close().await,
                }
            };
            let _ = tokio::time::timeout_at(deadline, close).await;
            let _ = stop_tx.send(deadline);
        });
        let limits = server::Limits {
            header_timeout: Duration::from_secs(ctx.config.header_timeout_secs),
            max_connections: usize::try_from(ctx.config.max_connections).unwrap_or(usize::MAX),
        };
        let stop = async move {
            // A dropped sender (the shutdown task panicked) also stops serving.
            stop_rx.await.unwrap_or_else(|_| Instant::now() + grace)
        };
        server::serve(listener, router, limits, stop).await;
        presence::leave(&ctx).await;
        pruner.abort();
        // Requests still running past the deadline may hold a connection: do not
        // wait on them for ever either.
        if tokio::time::timeout(grace, ctx.store.close())
            .await
            .is_err()
        {
            tracing::warn!("database pool not closed within the shutdown deadline");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
