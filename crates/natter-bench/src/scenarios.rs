//! The first four scenarios (throughput, idle, history, login) and the helpers
//! every scenario shares; the later ones have a module each. Each returns one JSON object and prints a human summary on stderr.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::api::{self, Api, User};
use crate::sio::{self, Incoming, Packet, Stats};
use crate::{Cli, Cmd, HistoryArgs, IdleArgs, LoginArgs, ThroughputArgs};

pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(cli: &Cli, nofile: u64) -> Result<Value> {
    let mut out = match &cli.cmd {
        Cmd::Throughput(a) => throughput(cli, a).await?,
        Cmd::Idle(a) => idle(cli, a, nofile).await?,
        Cmd::History(a) => history(cli, a).await?,
        Cmd::Login(a) => login(cli, a).await?,
        Cmd::Fanout(a) => crate::fanout::fanout(cli, a).await?,
        Cmd::Catchup(a) => crate::catchup::catchup(cli, a).await?,
        Cmd::Search(a) => crate::search::search(cli, a).await?,
        Cmd::Upload(a) => crate::upload::upload(cli, a).await?,
        Cmd::Fill(_) => unreachable!("handled in main"),
    };
    let o = out.as_object_mut().unwrap();
    o.insert("url".into(), json!(cli.url));
    o.insert("label".into(), json!(cli.label));
    o.insert(
        "finishedAt".into(),
        json!(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64
        ),
    );
    Ok(out)
}

// ---------- helpers ----------

/// What a set of request workers measured, merged.
struct Workers {
    h: Histogram<u64>,
    ok: u64,
    bad: u64,
    /// The last error any worker saw, or empty.
    last: String,
}

type WorkerResult = (Histogram<u64>, u64, u64, String);

impl Workers {
    async fn join(tasks: Vec<tokio::task::JoinHandle<WorkerResult>>) -> Result<Self> {
        let mut all = Self {
            h: hist(),
            ok: 0,
            bad: 0,
            last: String::new(),
        };
        for t in tasks {
            let (h, ok, bad, last) = t.await?;
            all.h.add(&h)?;
            all.ok += ok;
            all.bad += bad;
            if !last.is_empty() {
                all.last = last;
            }
        }
        Ok(all)
    }
}

/// "p50 … p99 … max … ms" for a summary line.
pub(crate) fn latencies(h: &Histogram<u64>) -> String {
    format!(
        "p50 {} p99 {} max {} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// " (last: …)" for a summary line, or nothing.
fn last_error(last: &str) -> String {
    if last.is_empty() {
        String::new()
    } else {
        format!(" (last: {last})")
    }
}

pub(crate) fn hist() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap()
}

pub(crate) fn rec(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record((d.as_micros() as u64).clamp(1, 3_600_000_000));
}

pub(crate) fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// {p50, p90, p99, max, mean, count} in milliseconds
pub(crate) fn summary(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "max": ms(h.max()),
        "mean": (h.mean() / 10.0).round() / 100.0,
    })
}

pub(crate) fn rate(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        (n as f64 / s * 10.0).round() / 10.0
    }
}

static T0: OnceLock<Instant> = OnceLock::new();

/// Microseconds since the first call: the clock of message timestamps.
pub(crate) fn now_us() -> u64 {
    T0.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// `at` on the clock of [`now_us`].
pub(crate) fn us_of(at: Instant) -> u64 {
    at.saturating_duration_since(*T0.get_or_init(Instant::now))
        .as_micros() as u64
}

pub(crate) fn rss_kib(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            return Ok(v.trim().trim_end_matches("kB").trim().parse()?);
        }
    }
    bail!("no VmRSS in /proc/{pid}/status")
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
pub(crate) fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces: fields are counted after its ')'.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(11)? + ticks(12)?) / hz.max(1.0))
}

/// The CPU the tool and (given its pid) the server use over one phase of a
/// scenario. The tool's share of its core says whether it bounded the rate;
/// the server's CPU per operation is its cost whatever the tool manages.
struct CpuSpent {
    server_pid: Option<u32>,
    server_before: Option<f64>,
    tool_before: f64,
}

impl CpuSpent {
    fn start(server_pid: Option<u32>) -> Result<Self> {
        Ok(Self {
            server_pid,
            server_before: server_pid.map(process_cpu_seconds).transpose()?,
            tool_before: crate::cpu_seconds(),
        })
    }

    /// CPU seconds since `start`: the tool's, and the server's when its pid was given.
    fn stop(&self) -> Result<(f64, Option<f64>)> {
        let tool = crate::cpu_seconds() - self.tool_before;
        let server = match (self.server_pid, self.server_before) {
            (Some(p), Some(before)) => Some(process_cpu_seconds(p)? - before),
            _ => None,
        };
        Ok((tool, server))
    }
}

pub(crate) async fn wait_up(api: &Api) -> Result<()> {
    for _ in 0..100 {
        if api.healthy().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("server at {} does not answer", api.base)
}

/// A receiver's `message` events for one conversation. Once the senders are
/// done (`done` changes) it waits at most 5 s more for stragglers.
pub(crate) struct MessageInbox {
    rx: mpsc::UnboundedReceiver<Incoming>,
    done: tokio::sync::watch::Receiver<bool>,
    conversation: String,
    deadline: Option<tokio::time::Instant>,
}

impl MessageInbox {
    pub fn new(
        rx: mpsc::UnboundedReceiver<Incoming>,
        done: tokio::sync::watch::Receiver<bool>,
        conversation: String,
    ) -> Self {
        Self {
            rx,
            done,
            conversation,
            deadline: None,
        }
    }

    /// The next `message` of the conversation and when its frame arrived;
    /// None when the socket closed or the grace period ended.
    pub async fn next(&mut self) -> Option<(Instant, Value)> {
        loop {
            let ev = tokio::select! {
                ev = self.rx.recv() => ev,
                _ = self.done.changed(), if self.deadline.is_none() => {
                    self.deadline = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                    continue;
                }
                _ = async { tokio::time::sleep_until(self.deadline.unwrap()).await }, if self.deadline.is_some() => return None,
            };
            let Incoming { at, packet } = ev?;
            let Packet::Event { name, mut args, .. } = packet else {
                continue;
            };
            if name != "message" || args.is_empty() {
                continue;
            }
            let msg = args.swap_remove(0);
            if msg["conversationId"].as_str() == Some(self.conversation.as_str()) {
                return Some((at, msg));
            }
        }
    }
}

// ---------- throughput ----------

async fn throughput(cli: &Cli, a: &ThroughputArgs) -> Result<Value> {
    let api = Api::new(&cli.url, 64)?;
    wait_up(&api).await?;
    let n = a.pairs.max(1);
    let m = a.messages;
    let w = a.window.max(1);
    let rid = api::run_id();
    let t_reg = Instant::now();
    let users =
        api::register_many(&api, &format!("t{rid}u"), 2 * n, cli.register_concurrency).await?;
    let reg_s = t_reg.elapsed();
    eprintln!(
        "throughput: registered {} users in {:.1}s",
        users.len(),
        reg_s.as_secs_f64()
    );
    let mut convs = Vec::with_capacity(n);
    for i in 0..n {
        convs.push(api.direct(&users[2 * i], &users[2 * i + 1].id).await?);
    }
    let url = sio::ws_url(&cli.url);
    let stats = Arc::new(Stats::default());
    // connect every user's socket
    let mut socks = Vec::with_capacity(2 * n);
    for u in &users {
        let (tx, rx) = mpsc::unbounded_channel::<Incoming>();
        let c = sio::connect(&url, &u.token, Some(tx), stats.clone(), HANDSHAKE_TIMEOUT).await?;
        socks.push((c, rx));
    }
    eprintln!(
        "throughput: {} sockets connected; {} senders x {m} messages, window {w}",
        socks.len(),
        if a.both_sides { 2 * n } else { n }
    );

    let sides = if a.both_sides { 2 } else { 1 };
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let shared = Arc::new(RunShared {
        senders_left: AtomicU64::new((n * sides) as u64),
        done: done_tx,
        start: Instant::now(),
    });
    let plan = SendPlan {
        messages: m,
        window: w,
        pad: "x".repeat(a.size.saturating_sub(32)),
        timeout: Duration::from_secs(a.timeout),
    };
    let mut tasks = Vec::with_capacity(2 * n);
    let mut it = socks.into_iter();
    for conv in convs {
        for side in 0..2 {
            let (client, rx) = it.next().unwrap();
            let task = PairSide {
                client,
                rx,
                done: done_rx.clone(),
                conversation: conv.clone(),
                prefix: SIDE_PREFIX[side],
                partner_prefix: SIDE_PREFIX[1 - side],
                sends: side == 0 || a.both_sides,
                receives: side == 1 || a.both_sides,
            };
            tasks.push(tokio::spawn(task.run(plan.clone(), shared.clone())));
        }
    }
    let mut ack_h = hist();
    let mut del_h = hist();
    let mut totals = SideResult::new();
    let mut last_error = String::new();
    let mut last_ack = Duration::ZERO;
    for task in tasks {
        let r = task.await?;
        ack_h.add(&r.ack)?;
        del_h.add(&r.delivery)?;
        totals.acked += r.acked;
        totals.errors += r.errors;
        totals.received += r.received;
        totals.duplicated += r.duplicated;
        totals.out_of_order += r.out_of_order;
        last_ack = last_ack.max(r.last_ack);
        if !r.last_error.is_empty() {
            last_error = r.last_error;
        }
    }
    let SideResult {
        acked,
        errors: send_errors,
        received,
        duplicated: dup,
        out_of_order: ooo,
        ..
    } = totals;
    let elapsed = last_ack;
    let expected = (n * sides * m) as u64;
    let lost = expected.saturating_sub(received);
    let msgs_per_s = rate(acked, elapsed);
    eprintln!(
        "throughput [{}]: {acked}/{expected} acked in {:.2}s = {msgs_per_s} msg/s; ack p50 {} p99 {} max {} ms; delivery p50 {} p99 {} ms; lost {lost} dup {dup} out-of-order {ooo}; send errors {send_errors}",
        cli.label,
        elapsed.as_secs_f64(),
        ms(ack_h.value_at_quantile(0.5)),
        ms(ack_h.value_at_quantile(0.99)),
        ms(ack_h.max()),
        ms(del_h.value_at_quantile(0.5)),
        ms(del_h.value_at_quantile(0.99)),
    );
    if !last_error.is_empty() {
        eprintln!("throughput: last send error: {last_error}");
    }
    Ok(json!({
        "scenario": "throughput",
        "params": {"pairs": n, "senders": n * sides, "bothSides": a.both_sides, "messagesPerSender": m, "window": w, "size": a.size},
        "registerSeconds": reg_s.as_secs_f64(),
        "expected": expected,
        "acked": acked,
        "seconds": elapsed.as_secs_f64(),
        "msgsPerSec": msgs_per_s,
        "ackLatencyMs": summary(&ack_h),
        "deliveryLatencyMs": summary(&del_h),
        "received": received,
        "lost": lost,
        "duplicated": dup,
        "outOfOrder": ooo,
        "sendErrors": send_errors,
        "lastError": last_error,
        "socketsDropped": stats.dropped.load(Ordering::Relaxed),
        "badFrames": stats.bad_frames.load(Ordering::Relaxed),
        "ok": lost == 0 && dup == 0 && ooo == 0 && send_errors == 0,
    }))
}

/// The clientId prefix of each side of a pair: a receiver counts only its
/// partner's messages (a sender's own message also comes back to its socket).
const SIDE_PREFIX: [&str; 2] = ["a", "b"];

/// What every sender of one throughput run shares: when the last sender
/// finishes, the receivers get their grace period.
struct RunShared {
    senders_left: AtomicU64,
    done: tokio::sync::watch::Sender<bool>,
    start: Instant,
}

#[derive(Clone)]
struct SendPlan {
    messages: usize,
    window: usize,
    pad: String,
    timeout: Duration,
}

/// One user of a pair, on its own socket: sends (at most `window`
/// unacknowledged) and/or receives its partner's messages.
struct PairSide {
    client: sio::Client,
    rx: mpsc::UnboundedReceiver<Incoming>,
    done: tokio::sync::watch::Receiver<bool>,
    conversation: String,
    prefix: &'static str,
    partner_prefix: &'static str,
    sends: bool,
    receives: bool,
}

struct SideResult {
    ack: Histogram<u64>,
    delivery: Histogram<u64>,
    acked: u64,
    errors: u64,
    received: u64,
    duplicated: u64,
    out_of_order: u64,
    /// When this side's last ack came, from the run's start.
    last_ack: Duration,
    last_error: String,
}

impl SideResult {
    fn new() -> Self {
        Self {
            ack: hist(),
            delivery: hist(),
            acked: 0,
            errors: 0,
            received: 0,
            duplicated: 0,
            out_of_order: 0,
            last_ack: Duration::ZERO,
            last_error: String::new(),
        }
    }
}

impl PairSide {
    async fn run(mut self, plan: SendPlan, shared: Arc<RunShared>) -> SideResult {
        let m = plan.messages as u64;
        let mut r = SideResult::new();
        let mut inflight: HashMap<u64, Instant> = HashMap::with_capacity(plan.window);
        let mut seen: HashSet<String> = HashSet::with_capacity(plan.messages);
        let mut last_seq = 0u64;
        let mut next = 0u64;
        let mut last_progress = Instant::now();
        let mut sending_done = !self.sends;
        let mut grace_until: Option<tokio::time::Instant> = None;
        loop {
            while !sending_done && next < m && inflight.len() < plan.window {
                let body = format!("{} {next} {}", now_us(), plan.pad);
                let p = json!({"conversationId": self.conversation, "msg": body, "clientId": format!("{}{next}", self.prefix)});
                inflight.insert(next, Instant::now());
                if self.client.emit("message:send", &p, Some(next)).is_err() {
                    r.errors = m - r.acked;
                    r.last_error = "socket closed".to_string();
                    sending_done = true;
                    shared.sender_finished();
                    break;
                }
                next += 1;
            }
            if !sending_done && r.acked + r.errors >= m {
                sending_done = true;
                shared.sender_finished();
            }
            let receiving_done = !self.receives || seen.len() as u64 >= m;
            if sending_done && receiving_done {
                break;
            }
            // Senders give up after `timeout` without an ack (other events
            // do not count as progress); receivers 5 s after the last sender.
            let wake = if !sending_done {
                tokio::time::Instant::from_std(last_progress + plan.timeout)
            } else {
                grace_until
                    .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600))
            };
            let ev = tokio::select! {
                ev = self.rx.recv() => ev,
                _ = self.done.changed(), if grace_until.is_none() => {
                    grace_until = Some(tokio::time::Instant::now() + Duration::from_secs(5));
                    continue;
                }
                _ = tokio::time::sleep_until(wake) => {
                    if sending_done {
                        break;
                    }
                    r.last_error = format!("no ack within {:?}", plan.timeout);
                    r.errors += inflight.len() as u64 + (m - next);
                    inflight.clear();
                    next = m;
                    continue;
                }
            };
            let Some(Incoming { at, packet }) = ev else {
                break;
            };
            match packet {
                Packet::Ack { id, args } => {
                    let Some(t0) = inflight.remove(&id) else {
                        continue;
                    };
                    last_progress = Instant::now();
                    if args
                        .first()
                        .and_then(|v| v.get("ok"))
                        .and_then(Value::as_bool)
                        == Some(true)
                    {
                        rec(&mut r.ack, at - t0);
                        r.acked += 1;
                        r.last_ack = at.saturating_duration_since(shared.start);
                    } else {
                        r.errors += 1;
                        r.last_error = args.first().map(|v| v.to_string()).unwrap_or_default();
                    }
                }
                Packet::Event { name, args, .. } if self.receives && name == "message" => {
                    let Some(msg) = args.first() else {
                        continue;
                    };
                    let cid = msg["clientId"].as_str().unwrap_or("");
                    if msg["conversationId"].as_str() != Some(self.conversation.as_str())
                        || !cid.starts_with(self.partner_prefix)
                    {
                        continue;
                    }
                    if let Some(t) = msg["msg"]
                        .as_str()
                        .and_then(|s| s.split(' ').next())
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        let _ = r.delivery.record(us_of(at).saturating_sub(t).max(1));
                    }
                    if !seen.insert(cid.to_owned()) {
                        r.duplicated += 1;
                        continue;
                    }
                    let seq = msg["seq"].as_u64().unwrap_or(0);
                    if seq <= last_seq {
                        r.out_of_order += 1;
                    }
                    last_seq = last_seq.max(seq);
                }
                _ => {}
            }
        }
        if !sending_done {
            shared.sender_finished();
        }
        r.received = seen.len() as u64;
        r
    }
}

impl RunShared {
    fn sender_finished(&self) {
        if self.senders_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.done.send(true);
        }
    }
}

// ---------- idle ----------

async fn idle(cli: &Cli, a: &IdleArgs, nofile: u64) -> Result<Value> {
    let api = Api::new(&cli.url, 16)?;
    wait_up(&api).await?;
    let c = a.connections;
    let u = a.users.clamp(1, c.max(1));
    if (c as u64) + 256 > nofile {
        eprintln!("idle: warning: open-file limit {nofile} is below {c} sockets + slack");
    }
    let rid = api::run_id();
    let t_reg = Instant::now();
    let users = api::register_many(&api, &format!("i{rid}u"), u, cli.register_concurrency).await?;
    let reg_s = t_reg.elapsed();
    eprintln!(
        "idle: registered {u} users in {:.1}s; {c} sockets = ~{} per user",
        reg_s.as_secs_f64(),
        c.div_ceil(u)
    );
    let url = sio::ws_url(&cli.url);
    let stats = Arc::new(Stats::default());
    let errors = Arc::new(AtomicU64::new(0));
    let last_err = Arc::new(std::sync::Mutex::new(String::new()));

    let open = |k: usize| {
        let url = url.clone();
        let token = users[k % u].token.clone();
        let stats = stats.clone();
        let errors = errors.clone();
        let last_err = last_err.clone();
        async move {
            let t = Instant::now();
            match sio::connect(&url, &token, None, stats, HANDSHAKE_TIMEOUT).await {
                Ok(cl) => Some((cl, t.elapsed())),
                Err(e) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    *last_err.lock().unwrap() = format!("{e:#}");
                    None
                }
            }
        }
    };
    // warm-up: open and close a few sockets so lazy initialisation is not counted
    if a.warmup > 0 {
        let w: Vec<_> = futures_util::stream::iter(0..a.warmup)
            .map(&open)
            .buffer_unordered(a.connect_concurrency.max(1))
            .collect()
            .await;
        drop(w);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let warmup_errors = errors.swap(0, Ordering::Relaxed);
    let dropped_warm = stats.dropped.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = match a.server_pid {
        Some(p) => Some(rss_kib(p)?),
        None => None,
    };
    let cpu = CpuSpent::start(a.server_pid)?;
    let t0 = Instant::now();
    let clients: Vec<_> = futures_util::stream::iter(0..c)
        .map(&open)
        .buffer_unordered(a.connect_concurrency.max(1))
        .collect()
        .await;
    let connect_s = t0.elapsed();
    let (tool_cpu_connecting, server_cpu_connecting) = cpu.stop()?;
    let mut hs = hist();
    let mut held = Vec::with_capacity(c);
    for (cl, d) in clients.into_iter().flatten() {
        rec(&mut hs, d);
        held.push(cl);
    }
    let connected = held.len();
    let connects_per_s = rate(connected as u64, connect_s);
    eprintln!(
        "idle: {connected}/{c} connected in {:.2}s = {connects_per_s}/s (CPU while connecting: tool {:.2}, server {:?}); holding {}s",
        connect_s.as_secs_f64(),
        tool_cpu_connecting / connect_s.as_secs_f64(),
        server_cpu_connecting.map(|cpu| (cpu / connect_s.as_secs_f64() * 100.0).round() / 100.0),
        a.hold
    );
    tokio::time::sleep(Duration::from_secs(a.hold)).await;
    let rss_after = match a.server_pid {
        Some(p) => Some(rss_kib(p)?),
        None => None,
    };
    let dropped = stats.dropped.load(Ordering::Relaxed) - dropped_warm;
    let conn_errors = errors.load(Ordering::Relaxed);
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(af)) if connected > 0 => {
            Some(((af as f64 - b as f64) / connected as f64 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    drop(held);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let le = last_err.lock().unwrap().clone();
    eprintln!(
        "idle [{}]: {connected} sockets, {connects_per_s} connects/s (handshake p50 {} p99 {} ms), RSS {:?} -> {:?} KiB = {:?} KiB/conn; errors {conn_errors}, dropped while held {dropped}",
        cli.label,
        ms(hs.value_at_quantile(0.5)),
        ms(hs.value_at_quantile(0.99)),
        rss_before,
        rss_after,
        per_conn
    );
    if !le.is_empty() {
        eprintln!("idle: last error: {le}");
    }
    Ok(json!({
        "scenario": "idle",
        "params": {"connections": c, "users": u, "socketsPerUser": c.div_ceil(u), "connectConcurrency": a.connect_concurrency, "holdSeconds": a.hold, "warmup": a.warmup, "serverPid": a.server_pid},
        "registerSeconds": reg_s.as_secs_f64(),
        "connected": connected,
        "connectSeconds": connect_s.as_secs_f64(),
        "connectsPerSec": connects_per_s,
        "toolCpuWhileConnecting": tool_cpu_connecting / connect_s.as_secs_f64(),
        "serverCpuWhileConnecting": server_cpu_connecting.map(|cpu| cpu / connect_s.as_secs_f64()),
        "serverCpuMicrosPerConnect": server_cpu_connecting
            .filter(|_| connected > 0)
            .map(|cpu| (cpu * 1e6 / connected as f64).round()),
        "handshakeMs": summary(&hs),
        "rssBeforeKiB": rss_before,
        "rssAfterKiB": rss_after,
        "kibPerConnection": per_conn,
        "errors": conn_errors,
        "warmupErrors": warmup_errors,
        "droppedWhileHeld": dropped,
        "lastError": le,
        "pingsAnswered": stats.pings.load(Ordering::Relaxed),
        "nofileLimit": nofile,
        "ok": conn_errors == 0 && dropped == 0 && connected == c,
    }))
}

// ---------- history ----------

#[derive(Serialize, Deserialize)]
struct HistoryState {
    url: String,
    users: Vec<User>,
    conversation: String,
}

async fn newest_seq(api: &Api, u: &User, conv: &str) -> Result<(u16, u64)> {
    let (st, v) = api.messages(u, conv, "limit=1").await?;
    let seq = v["messages"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|m| m["seq"].as_u64())
        .unwrap_or(0);
    Ok((st, seq))
}

async fn history(cli: &Cli, a: &HistoryArgs) -> Result<Value> {
    let api = Api::new(&cli.url, a.fill_concurrency.max(a.concurrency) + 4)?;
    wait_up(&api).await?;
    let k = a.messages.max(1);
    // users and conversation: reuse the state file when it is for this server and still valid
    let mut state: Option<HistoryState> = None;
    if let Some(p) = &a.state
        && let Ok(s) = std::fs::read_to_string(p)
        && let Ok(mut st) = serde_json::from_str::<HistoryState>(&s)
        && st.url == cli.url
    {
        let (code, _) = newest_seq(&api, &st.users[0], &st.conversation).await?;
        if code == 401 {
            for u in st.users.iter_mut() {
                let fresh = api.login(&u.username, &u.password).await?;
                u.token = fresh.token;
            }
        }
        let (code, _) = newest_seq(&api, &st.users[0], &st.conversation).await?;
        if code == 200 {
            state = Some(st);
        }
    }
    let reused = state.is_some();
    let state = match state {
        Some(s) => s,
        None => {
            if a.no_fill {
                bail!("--no-fill needs a valid --state for this server");
            }
            let rid = api::run_id();
            let users = api::register_many(&api, &format!("h{rid}u"), 2, 2).await?;
            let conversation = api.direct(&users[0], &users[1].id).await?;
            HistoryState {
                url: cli.url.clone(),
                users,
                conversation,
            }
        }
    };
    if let Some(p) = &a.state {
        std::fs::write(p, serde_json::to_string_pretty(&state)?)?;
    }
    let conv = state.conversation.clone();
    let (_, have) = newest_seq(&api, &state.users[0], &conv).await?;
    // fill
    let mut fill = json!(null);
    if !a.no_fill && have < k && a.fill_cmd.is_some() {
        fill = bulk_fill(&api, &state, &conv, have, k, a).await?;
    } else if !a.no_fill && have < k {
        let need = k - have;
        eprintln!(
            "history: filling {need} messages ({have} there) with {} HTTP senders",
            a.fill_concurrency
        );
        let next = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(a.fill_timeout);
        let rid = api::run_id();
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for wkr in 0..a.fill_concurrency.max(1) {
            let (api, next, sent, errors) =
                (api.clone(), next.clone(), sent.clone(), errors.clone());
            let user = state.users[wkr % 2].clone();
            let conv = conv.clone();
            let rid = rid.clone();
            tasks.push(tokio::spawn(async move {
                let mut h = hist();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= need
                        || Instant::now() > deadline
                        || errors.load(Ordering::Relaxed) > 1000
                    {
                        break;
                    }
                    let body = format!("history message {i} lorem ipsum dolor sit amet");
                    let t = Instant::now();
                    match api
                        .post_message(&user, &conv, &body, &format!("{rid}-{i}"))
                        .await
                    {
                        Ok(_) => {
                            rec(&mut h, t.elapsed());
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("history: fill error: {e:#}");
                            }
                        }
                    }
                }
                h
            }));
        }
        // progress
        let progress = {
            let sent = sent.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    let s = sent.load(Ordering::Relaxed);
                    eprintln!(
                        "history: fill {s}/{need} ({:.0}/s)",
                        s as f64 / t0.elapsed().as_secs_f64()
                    );
                }
            })
        };
        let mut h = hist();
        for t in tasks {
            h.add(&t.await?)?;
        }
        progress.abort();
        let d = t0.elapsed();
        let s = sent.load(Ordering::Relaxed);
        eprintln!(
            "history: filled {s} in {:.1}s = {} msg/s (HTTP send p50 {} p99 {} ms), errors {}",
            d.as_secs_f64(),
            rate(s, d),
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            errors.load(Ordering::Relaxed)
        );
        fill = json!({"method": "api", "sent": s, "seconds": d.as_secs_f64(), "msgsPerSec": rate(s, d), "latencyMs": summary(&h), "concurrency": a.fill_concurrency, "errors": errors.load(Ordering::Relaxed)});
    }
    let (_, total) = newest_seq(&api, &state.users[0], &conv).await?;
    // the server's view of the whole conversation: newest page and first message
    let check = check_ends(&api, &state.users[0], &conv, total).await;
    match &check {
        Ok(()) => {
            eprintln!("history: checked: newest page ends at seq {total}, first message is seq 1")
        }
        Err(e) => eprintln!("history: CHECK FAILED: {e:#}"),
    }
    let limit = a.limit.clamp(1, 100);
    if total < limit + 1 {
        bail!("conversation has only {total} messages");
    }
    eprintln!(
        "history: {total} messages; random before= pages of {limit} for {}s, {} in flight",
        a.duration, a.concurrency
    );
    let cpu = CpuSpent::start(a.server_pid)?;
    let (Workers { h, ok, bad, last }, d) = read_pages(
        &api,
        &state.users,
        &conv,
        (limit, total),
        a.concurrency,
        a.duration,
    )
    .await?;

    let (tool_cpu, server_cpu) = cpu.stop()?;
    let tool_cpu_reading = tool_cpu / d.as_secs_f64();
    let server_cpu_per_page = server_cpu
        .filter(|_| ok > 0)
        .map(|cpu| (cpu * 1e6 / ok as f64).round());
    eprintln!(
        "history [{}]: {total} msgs, {} pages/s, {}, errors {bad}{}; CPU: tool {tool_cpu_reading:.2} of its core, server {server_cpu_per_page:?} µs per page",
        cli.label,
        rate(ok, d),
        latencies(&h),
        last_error(&last)
    );
    // One client alone: the latency of a page on an otherwise idle server.
    let one_client = if a.one_client_seconds > 0 {
        let (one, d1) = read_pages(
            &api,
            &state.users,
            &conv,
            (limit, total),
            1,
            a.one_client_seconds,
        )
        .await?;
        eprintln!(
            "history [{}]: one client: {} pages/s, {}, errors {}{}",
            cli.label,
            rate(one.ok, d1),
            latencies(&one.h),
            one.bad,
            last_error(&one.last)
        );
        json!({"reqPerSec": rate(one.ok, d1), "latencyMs": summary(&one.h), "errors": one.bad})
    } else {
        Value::Null
    };
    Ok(json!({
        "scenario": "history",
        "oneClient": one_client,
        "params": {"messages": k, "durationSeconds": a.duration, "concurrency": a.concurrency, "limit": limit, "reusedState": reused},
        "conversationMessages": total,
        "fill": fill,
        "requests": ok,
        "seconds": d.as_secs_f64(),
        "reqPerSec": rate(ok, d),
        "latencyMs": summary(&h),
        "toolCpuWhileReading": tool_cpu_reading,
        "serverCpuMicrosPerPage": server_cpu_per_page,
        "errors": bad,
        "lastError": last,
        "endsChecked": check.as_ref().map_or_else(|e| json!(format!("{e:#}")), |_| json!(true)),
        "ok": bad == 0 && total >= k && check.is_ok()
            && one_client["errors"].as_u64().unwrap_or(0) == 0,
    }))
}

/// `workers` clients read random full `before=` pages for `seconds`, each
/// answer checked (the right count and seqs).
async fn read_pages(
    api: &Api,
    users: &[User],
    conv: &str,
    (limit, total): (u64, u64),
    workers: usize,
    seconds: u64,
) -> Result<(Workers, Duration)> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for wkr in 0..workers.max(1) {
        let api = api.clone();
        let user = users[wkr % users.len()].clone();
        let conv = conv.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut h = hist();
            let (mut ok, mut bad) = (0u64, 0u64);
            let mut last = String::new();
            while Instant::now() < deadline {
                let before = rand::thread_rng().gen_range(limit + 1..=total + 1);
                let t = Instant::now();
                match api
                    .page_seqs(&user, &conv, &format!("before={before}&limit={limit}"))
                    .await
                {
                    Ok(p)
                        if p.count == limit
                            && p.first == Some(before - limit)
                            && p.last == Some(before - 1) =>
                    {
                        rec(&mut h, t.elapsed());
                        ok += 1;
                    }
                    Ok(_) => {
                        bad += 1;
                        last = format!("wrong page for before={before}");
                    }
                    Err(e) => {
                        bad += 1;
                        last = format!("{e:#}");
                    }
                }
            }
            (h, ok, bad, last)
        }));
    }
    Ok((Workers::join(tasks).await?, t0.elapsed()))
}

fn seqs(v: &Value) -> Vec<u64> {
    v["messages"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["seq"].as_u64()).collect())
        .unwrap_or_default()
}

/// `GET .../messages` (no cursor) must return seq total-49..total (or 1..total when
/// shorter) in ascending order, and `?after=0&limit=1` must return seq 1.
async fn check_ends(api: &Api, u: &User, conv: &str, total: u64) -> Result<()> {
    let (st, v) = api.messages(u, conv, "").await?;
    if st != 200 {
        bail!("GET messages: HTTP {st}");
    }
    let want: Vec<u64> = (total.saturating_sub(49).max(1)..=total).collect();
    let got = seqs(&v);
    if got != want {
        bail!(
            "GET messages returned {} messages, seq {:?}..{:?}; want {}..{total}",
            got.len(),
            got.first(),
            got.last(),
            want.first().copied().unwrap_or(0)
        );
    }
    let (st, v) = api.messages(u, conv, "after=0&limit=1").await?;
    let got = seqs(&v);
    if st != 200 || got != [1] {
        bail!("GET messages?after=0&limit=1: HTTP {st}, seq {got:?}; want [1]");
    }
    Ok(())
}

/// The bulk fill: `a.fill_api` messages through the API (one at a time, senders
/// alternating by seq), then `a.fill_cmd` inserts the rest into the database directly.
async fn bulk_fill(
    api: &Api,
    state: &HistoryState,
    conv: &str,
    mut have: u64,
    k: u64,
    a: &HistoryArgs,
) -> Result<Value> {
    let cmd = a.fill_cmd.clone().unwrap_or_default();
    let rid = api::run_id();
    let t0 = Instant::now();
    let mut h = hist();
    let n_api = a.fill_api.min(k - have);
    for i in 0..n_api {
        let seq = have + 1;
        let user = &state.users[((seq - 1) % 2) as usize];
        let t = Instant::now();
        let v = api
            .post_message(
                user,
                conv,
                &format!("hello from the API, message {i} of the history fill"),
                &format!("{rid}-api-{i}"),
            )
            .await?;
        rec(&mut h, t.elapsed());
        let got = v["message"]["seq"].as_u64().or_else(|| v["seq"].as_u64());
        if got.is_some_and(|g| g != seq) {
            bail!("API send got seq {got:?}, expected {seq}");
        }
        have = seq;
    }
    let api_s = t0.elapsed();
    let (_, now_have) = newest_seq(api, &state.users[0], conv).await?;
    if now_have != have {
        bail!("after the API sends the newest seq is {now_have}, expected {have}");
    }
    let need = k - have;
    eprintln!(
        "history: sent {n_api} through the API ({:.1}s); inserting {need} (seq {}..{k}) with SQL: {cmd}",
        api_s.as_secs_f64(),
        have + 1
    );
    let t1 = Instant::now();
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg(&cmd)
        .env("NB_CONV", conv)
        .env("NB_USER0", &state.users[0].id)
        .env("NB_USER1", &state.users[1].id)
        .env("NB_K", k.to_string());
    let status = tokio::task::spawn_blocking(move || c.status())
        .await?
        .context("running --fill-cmd")?;
    if !status.success() {
        bail!("--fill-cmd failed: {status}");
    }
    let d = t1.elapsed();
    let (_, total) = newest_seq(api, &state.users[0], conv).await?;
    if total != k {
        bail!("after the SQL fill the newest seq is {total}, expected {k}");
    }
    eprintln!(
        "history: SQL fill: {need} rows in {:.1}s = {} rows/s",
        d.as_secs_f64(),
        rate(need, d)
    );
    Ok(
        json!({"method": "sql", "apiSent": n_api, "apiLatencyMs": summary(&h), "sqlRows": need, "sqlSeconds": d.as_secs_f64(), "sqlRowsPerSec": rate(need, d), "seconds": t0.elapsed().as_secs_f64()}),
    )
}

// ---------- login ----------

async fn login(cli: &Cli, a: &LoginArgs) -> Result<Value> {
    let q = a.concurrency.max(1);
    let api = Api::new(&cli.url, q + 4)?;
    wait_up(&api).await?;
    let rid = api::run_id();
    let users = api::register_many(&api, &format!("l{rid}u"), q, cli.register_concurrency).await?;
    eprintln!(
        "login: {q} users registered; signing in for {}s with {q} in flight",
        a.duration
    );
    let deadline = Instant::now() + Duration::from_secs(a.duration);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for u in users {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = hist();
            let (mut ok, mut bad) = (0u64, 0u64);
            let mut last = String::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match api.login(&u.username, &u.password).await {
                    Ok(_) => {
                        rec(&mut h, t.elapsed());
                        ok += 1;
                    }
                    Err(e) => {
                        bad += 1;
                        last = format!("{e:#}");
                    }
                }
            }
            (h, ok, bad, last)
        }));
    }
    let Workers { h, ok, bad, last } = Workers::join(tasks).await?;
    let d = t0.elapsed();
    eprintln!(
        "login [{}]: {} sign-ins/s, {}, errors {bad}{}",
        cli.label,
        rate(ok, d),
        latencies(&h),
        last_error(&last)
    );
    Ok(json!({
        "scenario": "login",
        "params": {"durationSeconds": a.duration, "concurrency": q},
        "logins": ok,
        "seconds": d.as_secs_f64(),
        "loginsPerSec": rate(ok, d),
        "latencyMs": summary(&h),
        "errors": bad,
        "lastError": last,
        "ok": bad == 0,
    }))
}
