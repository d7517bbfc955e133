//! The `natter` binary: configuration, logging, then serve until Ctrl-C or SIGTERM.

use anyhow::Context;
use clap::Parser;
use natter::app::{App, shutdown_signal};
use natter::config::{Config, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    natter::cpu::return_large_buffers_to_the_system();
    let config = Config::parse();
    let filter = natter::logging::filter(std::env::var("RUST_LOG").ok().as_deref());
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
    }
    tracing::info!(
        "natter {} starting: {}",
        env!("CARGO_PKG_VERSION"),
        config.summary()
    );
    let addr = config.addr;
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    app.serve(listener, shutdown_signal()).await
}
