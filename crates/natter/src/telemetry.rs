//! Operator metrics, in the Prometheus text format at `GET /metrics`.
//!
//! The `metrics` facade records from anywhere (the writer, the notifier, the
//! socket handlers); one process-wide Prometheus recorder renders them. It is
//! installed once per process (tests run several apps in one process and share
//! it). The names below are the whole vocabulary, documented in
//! docs/operations.md.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Live Socket.IO connections on this node (gauge).
pub const SOCKETS_CONNECTED: &str = "natter_sockets_connected";
/// Messages stored (counter; `rate()` gives sends/s).
pub const MESSAGES_STORED: &str = "natter_messages_stored_total";
/// Sends per group commit (histogram).
pub const COMMIT_BATCH_SIZE: &str = "natter_commit_batch_size";
/// Time from the batch's first statement to its COMMIT returning (histogram).
pub const COMMIT_SECONDS: &str = "natter_commit_seconds";
/// Sockets closed because their outgoing queue was full (counter).
pub const SLOW_SOCKETS_DISCONNECTED: &str = "natter_slow_sockets_disconnected_total";
/// Emits that failed, e.g. an unreachable Redis (counter).
pub const EMIT_FAILURES: &str = "natter_emit_failures_total";
/// Acks that could not be sent to their socket (counter).
pub const ACKS_UNDELIVERED: &str = "natter_acks_undelivered_total";
/// Requests refused by a limit: `code` is `busy`, `rate_limited` or
/// `too_many_requests` (counter).
pub const RATE_LIMITED: &str = "natter_rate_limited_total";
/// Times Redis came back after being unreachable (counter).
pub const REDIS_RECONNECTS: &str = "natter_redis_reconnects_total";
/// 1 while Redis answers, 0 while it does not; absent without Redis (gauge).
pub const REDIS_UP: &str = "natter_redis_up";

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(COMMIT_BATCH_SIZE.into()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(COMMIT_SECONDS.into()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
                    ],
                )
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        let upkeep = handle.clone();
        // Histograms keep raw samples until upkeep folds them into buckets.
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            })
            .expect("spawning the metrics upkeep thread");
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(SOCKETS_CONNECTED, "live Socket.IO connections on this node");
    describe_counter!(MESSAGES_STORED, "messages stored durably");
    describe_histogram!(COMMIT_BATCH_SIZE, "sends per group commit");
    describe_histogram!(COMMIT_SECONDS, "duration of one group commit");
    describe_counter!(
        SLOW_SOCKETS_DISCONNECTED,
        "sockets closed because their outgoing queue was full"
    );
    describe_counter!(EMIT_FAILURES, "emits that failed");
    describe_counter!(ACKS_UNDELIVERED, "acks that could not be sent");
    describe_counter!(RATE_LIMITED, "requests refused by a limit, by code");
    describe_counter!(REDIS_RECONNECTS, "times Redis came back");
    describe_gauge!(REDIS_UP, "1 while Redis answers");
}

/// Follows Redis's health for the gauge and the reconnect count.
pub fn watch_redis(ready: impl Fn() -> Option<bool> + Send + 'static) {
    tokio::spawn(async move {
        let mut was_up = true;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(up) = ready() else { return };
            metrics::gauge!(REDIS_UP).set(if up { 1.0 } else { 0.0 });
            if up && !was_up {
                metrics::counter!(REDIS_RECONNECTS).increment(1);
            }
            was_up = up;
        }
    });
}
