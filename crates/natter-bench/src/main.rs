//! natter-bench: a load generator for natter and any server of the natter
//! contract (HTTP + Socket.IO v4 over WebSocket). Only ever targets 127.0.0.1.

mod api;
mod catchup;
mod fanout;
mod fill;
mod scenarios;
mod search;
mod sio;
mod upload;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    /// Base URL of the server (must be http://127.0.0.1:PORT)
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:3000",
        env = "BENCH_URL"
    )]
    pub url: String,
    /// Write the JSON result to this file instead of stdout
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
    /// Label stored in the JSON result (e.g. "natter-sqlite")
    #[arg(long, global = true, default_value = "")]
    pub label: String,
    /// Requests in flight while registering users (password hashing is slow)
    #[arg(long, global = true, default_value_t = 8)]
    pub register_concurrency: usize,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// N pairs; each sender sends M messages over Socket.IO with at most W unacknowledged
    Throughput(ThroughputArgs),
    /// C idle sockets: connect rate and server memory per connection
    Idle(IdleArgs),
    /// one conversation with K messages, then random `before=` pages over HTTP
    History(HistoryArgs),
    /// sign-ins per second
    Login(LoginArgs),
    /// one member sends to a conversation every member of which is connected
    Fanout(FanoutArgs),
    /// a member away while others make N changes catches up with `sinceRev` (natter)
    Catchup(CatchupArgs),
    /// message search over many messages in many conversations (natter)
    Search(SearchArgs),
    /// parallel large uploads and downloads, with the server's RSS (natter)
    Upload(UploadArgs),
    /// bulk-insert messages into a natter database (scripts/history-fill.sh)
    Fill(FillArgs),
}

#[derive(Args, Debug, Clone)]
pub struct FanoutArgs {
    /// members, all connected (one socket each); member 0 sends
    #[arg(long, default_value_t = 256)]
    pub members: usize,
    /// messages sent
    #[arg(long, short = 'm', default_value_t = 300)]
    pub messages: usize,
    /// unacknowledged messages at most
    #[arg(long, short = 'w', default_value_t = 4)]
    pub window: usize,
    /// message body size in bytes
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// the lobby (every socket) instead of a group (works on the peer too)
    #[arg(long)]
    pub lobby: bool,
    /// give up on a missing ack after this many seconds
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

#[derive(Args, Debug, Clone)]
pub struct CatchupArgs {
    /// changes made while the member is away
    #[arg(long, short = 'n', default_value_t = 10_000)]
    pub changes: usize,
    /// HTTP calls in flight while making them
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// page size of the walk
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
    /// walks timed
    #[arg(long, default_value_t = 5)]
    pub walks: usize,
}

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// group conversations, all of them the searcher's
    #[arg(long, short = 'c', default_value_t = 1000)]
    pub conversations: usize,
    /// messages in all, spread evenly
    #[arg(long, short = 'k', default_value_t = 1_000_000)]
    pub messages: u64,
    /// timed requests per query
    #[arg(long, default_value_t = 200)]
    pub repeat: usize,
    /// page size
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// the server's database: SQLite file path or postgres:// URL
    #[arg(long)]
    pub fill_db: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct UploadArgs {
    /// uploads at once, one user each
    #[arg(long, short = 'p', default_value_t = 10)]
    pub parallel: usize,
    /// MiB per file
    #[arg(long, default_value_t = 25)]
    pub mib: usize,
    /// rounds (upload all, then download all)
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// pid of the server process, to sample VmRSS
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct FillArgs {
    /// the database: SQLite file path or postgres:// URL
    #[arg(long)]
    pub db: String,
    /// conversation id
    #[arg(long, env = "NB_CONV")]
    pub conversation: String,
    /// senders taking turns, seq 1 by the first
    #[arg(long, env = "NB_USERS", value_delimiter = ',')]
    pub senders: Vec<String>,
    /// fill up to this many messages
    #[arg(long, short = 'k', env = "NB_K")]
    pub messages: i64,
}

#[derive(Args, Debug, Clone)]
pub struct ThroughputArgs {
    /// pairs of users (one sender and one receiver each, or two of both with --both-sides)
    #[arg(long, short = 'n', default_value_t = 50)]
    pub pairs: usize,
    /// messages per sender
    #[arg(long, short = 'm', default_value_t = 1000)]
    pub messages: usize,
    /// unacknowledged messages per sender at most
    #[arg(long, short = 'w', default_value_t = 16)]
    pub window: usize,
    /// message body size in bytes (at least the ~24-byte timestamp header)
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// give up on a missing ack/delivery after this many seconds
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// both users of each pair send to each other (2 x pairs senders)
    #[arg(long)]
    pub both_sides: bool,
}

#[derive(Args, Debug, Clone)]
pub struct IdleArgs {
    /// sockets to hold open
    #[arg(long, short = 'c', default_value_t = 10_000)]
    pub connections: usize,
    /// users to register; the sockets are spread over them (C/U each)
    #[arg(long, short = 'u', default_value_t = 100)]
    pub users: usize,
    /// handshakes in flight at once
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// seconds to hold all sockets open before reading RSS
    #[arg(long, default_value_t = 10)]
    pub hold: u64,
    /// pid of the server process, to read VmRSS from /proc/<pid>/status
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// sockets opened and closed before the baseline RSS (lazy initialisation)
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
}

#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// messages in the conversation
    #[arg(long, short = 'k', default_value_t = 1_000_000)]
    pub messages: u64,
    /// seconds of page reads
    #[arg(long, short = 'd', default_value_t = 20)]
    pub duration: u64,
    /// page reads in flight
    #[arg(long, short = 'q', default_value_t = 16)]
    pub concurrency: usize,
    /// page size
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// HTTP sends in flight while filling
    #[arg(long, default_value_t = 32)]
    pub fill_concurrency: usize,
    /// keep users/conversation here and reuse them (skips the fill when already >= K)
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// do not fill at all (measure whatever the conversation in --state holds)
    #[arg(long)]
    pub no_fill: bool,
    /// then one client alone for this many seconds (0: not at all)
    #[arg(long, default_value_t = 10)]
    pub one_client_seconds: u64,
    /// bound on the fill, in seconds (the fill stops there and the reads use what exists)
    #[arg(long, default_value_t = 3600)]
    pub fill_timeout: u64,
    /// bulk fill: after --fill-api messages through the API, run this shell command
    /// (`sh -c`) to insert the rest straight into the server's database (SQL); it gets
    /// NB_CONV, NB_USER0, NB_USER1 (ids; seq s is sent by NB_USER{(s-1)%2}) and NB_K in
    /// its environment and must leave seq gapless 1..NB_K and the conversation's
    /// last_seq = NB_K (scripts/history-fill.sh does it for the three targets)
    #[arg(long)]
    pub fill_cmd: Option<String>,
    /// with --fill-cmd: messages sent through the API (one at a time, alternating
    /// senders) before the bulk insert, so the normal send path is exercised
    #[arg(long, default_value_t = 10)]
    pub fill_api: u64,
    /// pid of the server process, for its CPU per page while the clients read
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// seconds
    #[arg(long, short = 'd', default_value_t = 15)]
    pub duration: u64,
    /// sign-ins in flight
    #[arg(long, short = 'q', default_value_t = 8)]
    pub concurrency: usize,
}

/// Raises RLIMIT_NOFILE so thousands of sockets fit; returns the soft limit in force.
fn raise_nofile(want: u64) -> u64 {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_max < want {
            // root may raise the hard limit too
            let up = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
                return want;
            }
        }
        let up = libc::rlimit {
            rlim_cur: r.rlim_max,
            rlim_max: r.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &up) == 0 {
            r.rlim_max
        } else {
            r.rlim_cur
        }
    }
}

/// User + system CPU seconds of this process so far.
pub(crate) fn cpu_seconds() -> f64 {
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    api::check_local(&cli.url)?;
    if let Cmd::Fill(f) = &cli.cmd {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let target = fill::Target {
            conversation: f.conversation.clone(),
            senders: f.senders.clone(),
        };
        rt.block_on(fill::fill(
            &f.db,
            &[target],
            f.messages,
            fill::Text::History,
        ))?;
        return Ok(());
    }
    let want = match &cli.cmd {
        Cmd::Idle(a) => a.connections as u64 + 4096,
        _ => 65_536,
    };
    let nofile = raise_nofile(want);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let wall = std::time::Instant::now();
    let mut result = rt.block_on(scenarios::run(&cli, nofile))?;
    // the load tool's own CPU use: near 1.0 per core it is pinned to means it may be the bottleneck
    let cpu = cpu_seconds();
    let wall = wall.elapsed().as_secs_f64();
    if let Some(o) = result.as_object_mut() {
        o.insert(
            "toolCpuSeconds".into(),
            serde_json::json!((cpu * 100.0).round() / 100.0),
        );
        o.insert(
            "toolWallSeconds".into(),
            serde_json::json!((wall * 100.0).round() / 100.0),
        );
    }
    let text = serde_json::to_string_pretty(&result)?;
    match &cli.json {
        Some(p) => std::fs::write(p, text + "\n")?,
        None => println!("{text}"),
    }
    // do not wait for lingering connection tasks
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(())
}
