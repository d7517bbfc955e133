use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{
    AsyncCommands, FromRedisValue, PushInfo, RedisResult,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::{sync::mpsc, task::JoinHandle};

use super::{ChanItem, Driver, MessageStream};

pub use redis as redis_client;

/// An error type for the redis driver.
#[derive(Debug)]
pub struct RedisError(redis::RedisError);

impl From<redis::RedisError> for RedisError {
    fn from(e: redis::RedisError) -> Self {
        Self(e)
    }
}
impl fmt::Display for RedisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for RedisError {}

type HandlerMap = HashMap<String, mpsc::Sender<ChanItem>>;
/// A driver implementation for the [redis](docs.rs/redis) pub/sub backend.
///
/// It runs on a [`ConnectionManager`]: when the connection drops, it reconnects
/// in the background with exponential back-off and re-subscribes to every channel
/// it was subscribed to. While the server is known to be unreachable
/// ([`RedisDriver::is_connected`] is false), `publish` and `num_serv` fail at once
/// instead of waiting for the reconnection, so the adapter keeps serving its
/// local sockets.
#[derive(Clone)]
pub struct RedisDriver {
    handlers: Arc<RwLock<HandlerMap>>,
    conn: ConnectionManager,
    health: Arc<Health>,
    /// The longest `publish` and `num_serv` wait, even while a reconnection is pending.
    op_timeout: Duration,
}

/// Whether the server answers, kept up to date by a watcher task that PINGs it
/// and by the connection's disconnection notices.
struct Health {
    connected: AtomicBool,
    watcher: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Health {
    fn set(&self, connected: bool) {
        let was = self.connected.swap(connected, Ordering::SeqCst);
        if was && !connected {
            tracing::warn!("redis connection lost, reconnecting in the background");
        } else if !was && connected {
            tracing::info!("redis connection restored");
        }
    }
}

impl Drop for Health {
    fn drop(&mut self) {
        let watcher = self.watcher.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(watcher) = watcher.take() {
            watcher.abort();
        }
    }
}

/// How often the health watcher PINGs the server (and so, while it is down,
/// how often a new reconnection is started once the previous one gave up).
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// A driver implementation for the [redis](docs.rs/redis) pub/sub backend.
#[cfg(feature = "redis-cluster")]
#[derive(Clone)]
pub struct ClusterDriver {
    handlers: Arc<RwLock<HandlerMap>>,
    conn: redis::cluster_async::ClusterConnection,
}

fn read_msg(msg: redis::PushInfo) -> RedisResult<Option<(String, Vec<u8>)>> {
    match msg.kind {
        redis::PushKind::Message | redis::PushKind::SMessage => {
            if msg.data.len() < 2 {
                return Ok(None);
            }
            let mut iter = msg.data.into_iter();
            let channel: String = FromRedisValue::from_redis_value(iter.next().unwrap())?;
            let message = FromRedisValue::from_redis_value(iter.next().unwrap())?;
            Ok(Some((channel, message)))
        }
        _ => Ok(None),
    }
}

fn handle_msg(msg: PushInfo, handlers: Arc<RwLock<HandlerMap>>) {
    match read_msg(msg) {
        Ok(Some((chan, msg))) => {
            if let Some(tx) = handlers.read().unwrap().get(&chan) {
                if let Err(e) = tx.try_send((chan, msg)) {
                    tracing::warn!("redis pubsub channel full {e}");
                }
            } else {
                tracing::warn!(chan, "no handler for channel");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!("error reading message from redis: {e}");
        }
    }
}
impl RedisDriver {
    /// Create a new redis driver from a redis client.
    ///
    /// The connection reconnects with back-off (100 ms doubling up to 1 s) and
    /// re-subscribes by itself; use [`RedisDriver::new_with_config`] to tune it.
    pub async fn new(client: &redis::Client) -> Result<Self, redis::RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(5)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        Self::new_with_config(client, config).await
    }

    /// Create a new redis driver from a redis client and a connection manager config.
    /// The push sender and automatic resubscription are set by the driver.
    pub async fn new_with_config(
        client: &redis::Client,
        config: ConnectionManagerConfig,
    ) -> Result<Self, redis::RedisError> {
        let op_timeout = config.response_timeout().unwrap_or(Duration::from_secs(2));
        let handlers = Arc::new(RwLock::new(HashMap::new()));
        let health = Arc::new(Health {
            connected: AtomicBool::new(false),
            watcher: std::sync::Mutex::new(None),
        });
        let (handlers_clone, health_clone) = (handlers.clone(), Arc::downgrade(&health));
        let config = config
            .set_push_sender(move |msg: PushInfo| {
                if msg.kind == redis::PushKind::Disconnection {
                    if let Some(health) = health_clone.upgrade() {
                        health.set(false);
                    }
                }
                handle_msg(msg, handlers_clone.clone());
                Ok::<(), std::convert::Infallible>(())
            })
            .set_automatic_resubscription();

        let conn = client.get_connection_manager_with_config(config).await?;
        health.connected.store(true, Ordering::SeqCst);
        let watcher = tokio::spawn(watch(conn.clone(), Arc::downgrade(&health)));
        *health.watcher.lock().unwrap_or_else(|e| e.into_inner()) = Some(watcher);

        Ok(Self {
            conn,
            handlers,
            health,
            op_timeout,
        })
    }

    /// Whether the redis server answered the last health check (a PING every
    /// second) and no disconnection was seen since. It is a cheap atomic read.
    pub fn is_connected(&self) -> bool {
        self.health.connected.load(Ordering::SeqCst)
    }

    /// Runs a command, failing at once while the server is known to be unreachable,
    /// and after `op_timeout` at most.
    async fn bounded<T>(&self, cmd: impl Future<Output = RedisResult<T>>) -> Result<T, RedisError> {
        if !self.is_connected() {
            return Err(io_error("redis is unreachable, reconnecting"));
        }
        match tokio::time::timeout(self.op_timeout, cmd).await {
            Ok(res) => Ok(res?),
            Err(_) => Err(io_error("redis did not answer in time")),
        }
    }
}

fn io_error(desc: &'static str) -> RedisError {
    RedisError(redis::RedisError::from((redis::ErrorKind::Io, desc)))
}

/// PINGs the server every [`HEALTH_INTERVAL`] and records the answer. A failed
/// PING also makes the connection manager start a new reconnection once the
/// previous one gave up, so the driver never stops trying.
async fn watch(mut conn: ConnectionManager, health: std::sync::Weak<Health>) {
    let mut ticker = tokio::time::interval(HEALTH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let ping = redis::cmd("PING");
        let ping = ping.query_async::<redis::Value>(&mut conn);
        let ok = matches!(tokio::time::timeout(HEALTH_INTERVAL, ping).await, Ok(Ok(_)));
        match health.upgrade() {
            Some(health) => health.set(ok),
            None => return,
        }
    }
}

#[cfg(feature = "redis-cluster")]
impl ClusterDriver {
    /// Create a new redis driver from a redis cluster client.
    pub async fn new(client: &redis::cluster::ClusterClient) -> Result<Self, redis::RedisError> {
        let handlers = Arc::new(RwLock::new(HashMap::new()));
        let handlers_clone = handlers.clone();
        let config = redis::cluster::ClusterConfig::new().set_push_sender(move |msg| {
            handle_msg(msg, handlers_clone.clone());
            Ok::<(), std::convert::Infallible>(())
        });
        let conn = client.get_async_connection_with_config(config).await?;

        Ok(Self { conn, handlers })
    }
}

impl Driver for RedisDriver {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let mut conn = self.conn.clone();
        self.bounded(conn.publish::<_, _, redis::Value>(chan, val))
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        self.conn.clone().subscribe(chan.as_str()).await?;
        let (tx, rx) = mpsc::channel(size);
        self.handlers.write().unwrap().insert(chan, tx);
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers.write().unwrap().remove(&chan);
        self.conn.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PUBSUB").arg("NUMSUB").arg(chan).to_owned();
        let (_, count): (String, u16) = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(count)
    }
}

#[cfg(feature = "redis-cluster")]
impl Driver for ClusterDriver {
    type Error = RedisError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        self.conn
            .clone()
            .spublish::<_, _, redis::Value>(chan, val)
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        self.conn.clone().ssubscribe(chan.as_str()).await?;
        let (tx, rx) = mpsc::channel(size);
        self.handlers.write().unwrap().insert(chan, tx);
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers.write().unwrap().remove(&chan);
        self.conn.clone().sunsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut conn = self.conn.clone();
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(chan)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    #[test]
    fn watch_handle_message() {
        let mut handlers = HashMap::new();

        let (tx, mut rx) = mpsc::channel(1);
        handlers.insert("test".to_string(), tx);
        let msg = redis::PushInfo {
            kind: redis::PushKind::Message,
            data: vec![
                redis::Value::BulkString("test".into()),
                redis::Value::BulkString("foo".into()),
            ],
        };
        super::handle_msg(msg, Arc::new(RwLock::new(handlers)));
        let (chan, data) = rx.try_recv().unwrap();
        assert_eq!(chan, "test");
        assert_eq!(data, "foo".as_bytes());
    }

    #[test]
    fn watch_handler_pattern() {
        let mut handlers = HashMap::new();

        let (tx1, mut rx1) = mpsc::channel(1);
        handlers.insert("test-response#namespace#uid#".to_string(), tx1);
        let msg = redis::PushInfo {
            kind: redis::PushKind::Message,
            data: vec![
                redis::Value::BulkString("test-response#namespace#uid#".into()),
                redis::Value::BulkString("foo".into()),
            ],
        };
        super::handle_msg(msg, Arc::new(RwLock::new(handlers)));
        let (chan, data) = rx1.try_recv().unwrap();
        assert_eq!(chan, "test-response#namespace#uid#");
        assert_eq!(data, "foo".as_bytes());
    }
}
