//! Fan-out: one conversation with every member connected, one member sending;
//! how long until the *last* member has each message, and how many messages a
//! second reach them all. A group on natter; the lobby (every socket) on any
//! server of the contract, which is how the peer, having no groups, compares.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::api::{self, Api};
use crate::scenarios::{
    HANDSHAKE_TIMEOUT, MessageInbox, hist, ms, now_us, rate, rec, summary, us_of, wait_up,
};
use crate::sio::{self, Incoming, Packet, Stats};
use crate::{Cli, FanoutArgs};

pub async fn fanout(cli: &Cli, a: &FanoutArgs) -> Result<Value> {
    let api = Api::new(&cli.url, 16)?;
    wait_up(&api).await?;
    let members = a.members.max(2);
    let m = a.messages.max(1);
    let w = a.window.max(1);
    let rid = api::run_id();
    let t_reg = Instant::now();
    let users =
        api::register_many(&api, &format!("f{rid}u"), members, cli.register_concurrency).await?;
    let conv = if a.lobby {
        "lobby".to_owned()
    } else {
        let others: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
        api.group(&users[0], &format!("fan-out {rid}"), &others)
            .await?
    };
    eprintln!(
        "fanout: {members} users registered and {} in {:.1}s",
        if a.lobby {
            "the lobby used"
        } else {
            "a group made"
        },
        t_reg.elapsed().as_secs_f64()
    );
    let url = sio::ws_url(&cli.url);
    let stats = Arc::new(Stats::default());
    let mut socks = Vec::with_capacity(members);
    for u in &users {
        let (tx, rx) = mpsc::unbounded_channel::<Incoming>();
        let c = sio::connect(&url, &u.token, Some(tx), stats.clone(), HANDSHAKE_TIMEOUT).await?;
        socks.push((c, rx));
    }
    // a moment for the room joins that follow a connect
    tokio::time::sleep(Duration::from_millis(500)).await;
    let receivers_n = members - 1;
    eprintln!(
        "fanout: {members} sockets; member 0 sends {m} messages, window {w}, to {receivers_n} others"
    );

    // per message: the latest arrival among the receivers, and how many have it
    let last_at: Arc<Vec<AtomicU64>> = Arc::new((0..m).map(|_| AtomicU64::new(0)).collect());
    let got: Arc<Vec<AtomicU64>> = Arc::new((0..m).map(|_| AtomicU64::new(0)).collect());
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..m).map(|_| AtomicU64::new(0)).collect());
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let mut it = socks.into_iter();
    let (sender, mut srx) = it.next().expect("member 0");
    let mut receivers = Vec::with_capacity(receivers_n);
    for (client, rx) in it {
        let (last_at, got) = (last_at.clone(), got.clone());
        let mut inbox = MessageInbox::new(rx, done_rx.clone(), conv.clone());
        receivers.push(tokio::spawn(async move {
            let _keep = client;
            let mut h = hist();
            let (mut n, mut dup, mut ooo, mut last_seq) = (0usize, 0u64, 0u64, 0u64);
            let mut seen = vec![false; m];
            while n < m {
                let Some((at, msg)) = inbox.next().await else {
                    break;
                };
                let mut parts = msg["msg"].as_str().unwrap_or("").split(' ');
                let (Some(t), Some(i)) = (
                    parts.next().and_then(|s| s.parse::<u64>().ok()),
                    parts.next().and_then(|s| s.parse::<usize>().ok()),
                ) else {
                    continue;
                };
                if i >= m {
                    continue;
                }
                if seen[i] {
                    dup += 1;
                    continue;
                }
                // the contract orders by seq (concurrent sends may take seqs in any order)
                let seq = msg["seq"].as_u64().unwrap_or(0);
                if seq <= last_seq {
                    ooo += 1;
                }
                last_seq = seq;
                seen[i] = true;
                n += 1;
                let at = us_of(at);
                let _ = h.record(at.saturating_sub(t).max(1));
                last_at[i].fetch_max(at, Ordering::Relaxed);
                got[i].fetch_add(1, Ordering::Relaxed);
            }
            (h, n as u64, dup, ooo)
        }));
    }

    let start = Instant::now();
    let pad = "x".repeat(a.size.saturating_sub(32));
    let mut ack_h = hist();
    let (mut next, mut acked, mut errors) = (0usize, 0u64, 0u64);
    let mut inflight = std::collections::HashMap::<u64, Instant>::with_capacity(w);
    let mut last_error = String::new();
    let timeout = Duration::from_secs(a.timeout);
    while (acked + errors) < m as u64 {
        while next < m && inflight.len() < w {
            let t = now_us();
            sent_at[next].store(t, Ordering::Relaxed);
            let p = json!({"conversationId": conv, "msg": format!("{t} {next} {pad}"), "clientId": format!("f{rid}-{next}")});
            inflight.insert(next as u64, Instant::now());
            if sender.emit("message:send", &p, Some(next as u64)).is_err() {
                bail!("the sender's socket closed");
            }
            next += 1;
        }
        let ev = match tokio::time::timeout(timeout, srx.recv()).await {
            Ok(Some(ev)) => ev,
            Ok(None) => bail!("the sender's socket closed"),
            Err(_) => {
                last_error = format!("no ack within {timeout:?}");
                errors += (m as u64) - acked - errors;
                break;
            }
        };
        if let Packet::Ack { id, args } = ev.packet
            && let Some(t0) = inflight.remove(&id)
        {
            if args
                .first()
                .and_then(|v| v.get("ok"))
                .and_then(Value::as_bool)
                == Some(true)
            {
                rec(&mut ack_h, ev.at - t0);
                acked += 1;
            } else {
                errors += 1;
                last_error = args.first().map(|v| v.to_string()).unwrap_or_default();
            }
        }
    }
    let _ = done_tx.send(true);
    let mut del_h = hist();
    let (mut delivered, mut dup, mut ooo) = (0u64, 0u64, 0u64);
    for r in receivers {
        let (h, n, d, o) = r.await?;
        del_h.add(&h)?;
        delivered += n;
        dup += d;
        ooo += o;
    }
    // delivery to the last member, per message that reached every member
    let mut last_h = hist();
    let mut complete = 0u64;
    let mut end = 0u64;
    for i in 0..m {
        if got[i].load(Ordering::Relaxed) == receivers_n as u64 {
            complete += 1;
            let l = last_at[i].load(Ordering::Relaxed);
            end = end.max(l);
            let _ = last_h.record(l.saturating_sub(sent_at[i].load(Ordering::Relaxed)).max(1));
        }
    }
    let elapsed = Duration::from_micros(end.saturating_sub(us_of(start)).max(1));
    let expected = (m * receivers_n) as u64;
    let lost = expected.saturating_sub(delivered);
    eprintln!(
        "fanout [{}] {}: {complete}/{m} messages reached all {receivers_n} others in {:.2}s = {} msg/s ({} deliveries/s); to the last member p50 {} p99 {} ms; any member p50 {} p99 {} ms; ack p99 {} ms; lost {lost} dup {dup} out-of-order {ooo}",
        cli.label,
        if a.lobby { "lobby" } else { "group" },
        elapsed.as_secs_f64(),
        rate(complete, elapsed),
        rate(delivered, elapsed),
        ms(last_h.value_at_quantile(0.5)),
        ms(last_h.value_at_quantile(0.99)),
        ms(del_h.value_at_quantile(0.5)),
        ms(del_h.value_at_quantile(0.99)),
        ms(ack_h.value_at_quantile(0.99)),
    );
    Ok(json!({
        "scenario": "fanout",
        "params": {"members": members, "messages": m, "window": w, "size": a.size, "lobby": a.lobby},
        "seconds": elapsed.as_secs_f64(),
        "msgsPerSec": rate(complete, elapsed),
        "deliveriesPerSec": rate(delivered, elapsed),
        "lastMemberLatencyMs": summary(&last_h),
        "deliveryLatencyMs": summary(&del_h),
        "ackLatencyMs": summary(&ack_h),
        "expected": expected,
        "received": delivered,
        "lost": lost,
        "duplicated": dup,
        "outOfOrder": ooo,
        "sendErrors": errors,
        "lastError": last_error,
        "socketsDropped": stats.dropped.load(Ordering::Relaxed),
        "ok": lost == 0 && dup == 0 && ooo == 0 && errors == 0,
    }))
}
