//! Runtime configuration: one typed struct, read from flags and the environment.
//!
//! The defaults serve a laptop: listen on 127.0.0.1:3000, keep a SQLite file in
//! `./data`, no Redis. `Config::summary` is what gets logged at start-up, with
//! credentials in URLs masked.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::services::client_address::Cidr;

#[derive(Debug, Clone, Parser)]
#[command(name = "natter", version, about = "natter: real-time chat server")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "NATTER_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Directory for the SQLite database (when DATABASE_URL is not set).
    #[arg(long, env = "NATTER_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// `sqlite://…` or `postgres://…`; defaults to `<data dir>/natter.db`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// `redis://…`: fan Socket.IO events out to every node through Redis (needs a
    /// database shared by the nodes, i.e. PostgreSQL).
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Channel prefix on Redis: deployments sharing one Redis need different ones.
    #[arg(long, env = "NATTER_REDIS_PREFIX", default_value = "natter")]
    pub redis_prefix: String,

    /// With REDIS_URL: seconds after its last heartbeat that a node counts as dead,
    /// its users then being announced offline by the other nodes. Heartbeats go
    /// every third of this (every 2 s at most).
    #[arg(long, env = "NATTER_PRESENCE_TTL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub presence_ttl: u64,

    /// SQLite fsync policy: `full` survives power loss, `normal` only a process crash.
    #[arg(long, env = "NATTER_SQLITE_SYNC", value_enum, default_value_t = SqliteSync::Full)]
    pub sqlite_sync: SqliteSync,

    /// Maximum size of one Socket.IO packet, in bytes.
    #[arg(long, env = "NATTER_MAX_SOCKET_PAYLOAD", default_value_t = 64 * 1024)]
    pub max_socket_payload: u64,

    /// Mark the session cookie `Secure` (set this behind HTTPS).
    #[arg(long, env = "NATTER_SECURE_COOKIE", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub secure_cookie: bool,

    /// Serve Prometheus metrics at `/metrics` on the listening port (counts
    /// only, no user data; restrict it at the proxy if the port is public).
    #[arg(long, env = "NATTER_METRICS", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics: bool,

    /// Log format.
    #[arg(long, env = "NATTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Origins (`https://chat.example.com`, comma-separated) besides the server's own
    /// that may open a Socket.IO connection or make a cookie-authenticated write.
    #[arg(long, env = "NATTER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// A session unused for this many days ends (fractions allowed).
    #[arg(long, env = "NATTER_SESSION_IDLE_DAYS", default_value_t = 30.0)]
    pub session_idle_days: f64,

    /// A session ends this many days after sign-in, used or not (fractions allowed).
    #[arg(long, env = "NATTER_SESSION_MAX_DAYS", default_value_t = 365.0)]
    pub session_max_days: f64,

    /// Overrides `--session-idle-days` in seconds (for tests and trials).
    #[arg(long, env = "NATTER_SESSION_IDLE_SECS")]
    pub session_idle_secs: Option<u64>,

    /// Overrides `--session-max-days` in seconds (for tests and trials).
    #[arg(long, env = "NATTER_SESSION_MAX_SECS")]
    pub session_max_secs: Option<u64>,

    /// Seconds a client has to send a request's head (the request line and
    /// headers); also how long a kept-alive connection may sit idle between
    /// requests. A slow-loris client is closed after this.
    #[arg(long, env = "NATTER_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=30))]
    pub header_timeout_secs: u64,

    /// Seconds one `/api` request may take, its body upload included (`0`: no
    /// limit). Socket.IO (WebSocket and long-polling) is not subject to it.
    #[arg(long, env = "NATTER_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,

    /// Open connections at most (WebSockets included); further clients wait in
    /// the listen backlog until one closes.
    #[arg(long, env = "NATTER_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,

    /// On SIGTERM, seconds to let open requests finish before closing anyway.
    #[arg(long, env = "NATTER_SHUTDOWN_SECS", default_value_t = 10)]
    pub shutdown_secs: u64,

    /// Messages one user may send per second, sustained (`0`: no limit).
    #[arg(long, env = "NATTER_SEND_RATE", default_value_t = 20)]
    pub send_rate: u32,

    /// Messages one user may send at once before `--send-rate` applies.
    #[arg(long, env = "NATTER_SEND_BURST", default_value_t = 100)]
    pub send_burst: u32,

    /// `off` turns every rate limit below and the send rate limit off at once
    /// (benchmarks, load tests); the socket cap and the failed sign-in limits stay.
    #[arg(long, env = "NATTER_RATE_LIMITS", value_enum, default_value_t = Switch::On)]
    pub rate_limits: Switch,

    /// Read marks one user may set per minute, in bursts of as many (`0`: no limit).
    #[arg(long, env = "NATTER_READ_PER_MINUTE", default_value_t = 600)]
    pub read_per_minute: u32,

    /// Profile changes (display name or status, picture, password) one user may
    /// make per minute, in bursts of as many (`0`: no limit).
    #[arg(long, env = "NATTER_PROFILE_PER_MINUTE", default_value_t = 30)]
    pub profile_per_minute: u32,

    /// Sign-ups from one client address per hour, in bursts of as many (`0`: no limit).
    #[arg(long, env = "NATTER_SIGNUP_PER_HOUR", default_value_t = 30)]
    pub signup_per_hour: u32,

    /// Sign-in attempts from one client address per minute, in bursts of as many
    /// (`0`: no limit).
    #[arg(long, env = "NATTER_SIGNIN_PER_MINUTE", default_value_t = 30)]
    pub signin_per_minute: u32,

    /// Failed sign-ins (and wrong current passwords) per account, from any
    /// address, before it is locked for the rest of a 15-minute window (`0`: no limit).
    #[arg(long, env = "NATTER_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: u32,

    /// Failed sign-ins from one client address (an IPv6 /64) before it is
    /// locked for the rest of a 15-minute window (`0`: no limit).
    #[arg(long, env = "NATTER_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 50)]
    pub login_failures_per_address: u32,

    /// At most one `typing` per user and conversation reaches the others in
    /// this many milliseconds; the rest are acknowledged and dropped (`0`: all pass).
    #[arg(long, env = "NATTER_TYPING_INTERVAL_MS", default_value_t = 2_500)]
    pub typing_interval_ms: u64,

    /// Socket.IO connections one user may hold on one node (`0`: no cap).
    #[arg(long, env = "NATTER_MAX_SOCKETS_PER_USER", default_value_t = 20)]
    pub max_sockets_per_user: u32,

    /// Reverse proxies (comma-separated CIDRs, e.g. `10.0.0.0/8,::1/128`) whose
    /// `X-Forwarded-For` is believed; without any, the peer address is the client.
    #[arg(long, env = "NATTER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<Cidr>,

    /// The largest accepted attachment upload, in bytes (25 MiB).
    #[arg(long, env = "NATTER_MAX_UPLOAD", default_value_t = 25 * 1024 * 1024)]
    pub max_upload: u64,

    /// Uploads never sent with a message are removed after this many seconds.
    #[arg(long, env = "NATTER_UPLOAD_TTL_SECS", default_value_t = 24 * 60 * 60)]
    pub upload_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqliteSync {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// A config for an embedded SQLite database in `data_dir`, everything else default.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Self::parse_from(["natter"]);
        config.data_dir = data_dir.into();
        config.database_url = None;
        config.redis_url = None;
        config
    }

    /// How long an unused session lives.
    pub fn session_idle(&self) -> Duration {
        self.session_idle_secs
            .map_or_else(|| days(self.session_idle_days), Duration::from_secs)
    }

    /// How long any session lives.
    pub fn session_max(&self) -> Duration {
        self.session_max_secs
            .map_or_else(|| days(self.session_max_days), Duration::from_secs)
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("natter.db").display()
            ),
        }
    }

    /// One line for the start-up log, with any password in the database URL masked.
    pub fn summary(&self) -> String {
        format!(
            "addr={} data_dir={} database={} redis={} sqlite_sync={:?} max_socket_payload={} \
             allowed_origins={:?} session_idle={:?} session_max={:?} send_rate={}/s burst {} \
             header_timeout={}s request_timeout={}s max_connections={} shutdown={}s \
             rate_limits={:?} max_sockets_per_user={} trusted_proxies={:?}",
            self.addr,
            self.data_dir.display(),
            mask_password(&self.database_url()),
            self.redis_url
                .as_deref()
                .map_or_else(|| "none".to_owned(), mask_password),
            self.sqlite_sync,
            self.max_socket_payload,
            self.allowed_origins,
            self.session_idle(),
            self.session_max(),
            self.send_rate,
            self.send_burst,
            self.header_timeout_secs,
            self.request_timeout_secs,
            self.max_connections,
            self.shutdown_secs,
            self.rate_limits,
            self.max_sockets_per_user,
            self.trusted_proxies,
        )
    }
}

/// `n` days; a negative or not-a-number count is zero, and a huge one 1000 years.
fn days(n: f64) -> Duration {
    Duration::try_from_secs_f64(n * 86_400.0)
        .unwrap_or(if n > 0.0 {
            Duration::from_secs(1000 * 365 * 86_400)
        } else {
            Duration::ZERO
        })
        .min(Duration::from_secs(1000 * 365 * 86_400))
}

fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lifetimes_come_from_days_or_seconds() {
        let mut config = Config::parse_from(["natter"]);
        assert_eq!(config.session_idle(), Duration::from_secs(30 * 86_400));
        assert_eq!(config.session_max(), Duration::from_secs(365 * 86_400));
        config.session_idle_days = 0.5;
        assert_eq!(config.session_idle(), Duration::from_secs(43_200));
        config.session_idle_secs = Some(2);
        assert_eq!(config.session_idle(), Duration::from_secs(2));
        config.session_max_days = -1.0;
        assert_eq!(config.session_max(), Duration::ZERO);
        let config = Config::parse_from([
            "natter",
            "--allowed-origins",
            "https://a.example,https://b.example",
        ]);
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn masks_database_passwords() {
        assert_eq!(
            mask_password("postgres://app:s3cret@db:5432/natter"),
            "postgres://app:***@db:5432/natter"
        );
        assert_eq!(
            mask_password("postgres://app@db/natter"),
            "postgres://app@db/natter"
        );
        assert_eq!(
            mask_password("sqlite://data/natter.db"),
            "sqlite://data/natter.db"
        );
    }
}
