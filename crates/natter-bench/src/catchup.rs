//! Catch-up: a member is away while the others make N changes to a group
//! (sends, edits, reactions, deletes); how long its one `sinceRev` walk takes,
//! in how many pages, and whether it ends with the same messages as a member
//! who reads the whole history afterwards. natter only (the peer has no `rev`).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Result, bail};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{self, Api, User};
use crate::scenarios::{hist, ms, rate, rec, summary, wait_up};
use crate::{CatchupArgs, Cli};

/// One change, as an HTTP call.
#[derive(Clone)]
enum Change {
    Send {
        by: usize,
        i: usize,
    },
    Edit {
        by: usize,
        seq: u64,
    },
    React {
        by: usize,
        seq: u64,
        emoji: &'static str,
    },
    Delete {
        by: usize,
        seq: u64,
    },
}

const EMOJI: [&str; 4] = ["👍", "❤️", "😂", "🎉"];

/// Walks `sinceRev=from` to the end: (messages by seq, pages, rows, duplicates, newest rev).
async fn walk(
    api: &Api,
    me: &User,
    conv: &str,
    from: u64,
    limit: u64,
) -> Result<(HashMap<u64, Value>, u64, u64, u64, u64)> {
    let (mut rev, mut pages, mut rows, mut dups) = (from, 0u64, 0u64, 0u64);
    let mut state = HashMap::new();
    loop {
        let (st, v) = api
            .messages(me, conv, &format!("sinceRev={rev}&limit={limit}"))
            .await?;
        if st != 200 {
            bail!("sinceRev={rev}: HTTP {st}: {v}");
        }
        pages += 1;
        for m in v["messages"].as_array().into_iter().flatten() {
            let r = m["rev"].as_u64().unwrap_or(0);
            if r <= rev {
                bail!("sinceRev={rev} returned rev {r}");
            }
            rev = r;
            rows += 1;
            if state
                .insert(m["seq"].as_u64().unwrap_or(0), m.clone())
                .is_some()
            {
                dups += 1;
            }
        }
        if v["hasMore"].as_bool() != Some(true) {
            return Ok((state, pages, rows, dups, rev));
        }
    }
}

pub async fn catchup(cli: &Cli, a: &CatchupArgs) -> Result<Value> {
    let api = Api::new(&cli.url, a.concurrency + 4)?;
    wait_up(&api).await?;
    let rid = api::run_id();
    let users = api::register_many(&api, &format!("c{rid}u"), 3, 3).await?;
    let conv = api
        .group(
            &users[0],
            "catch-up",
            &[users[1].id.clone(), users[2].id.clone()],
        )
        .await?;
    let limit = a.limit.clamp(1, 100);
    let (_, _, _, _, from) = walk(&api, &users[2], &conv, 0, limit).await?;

    // the changes: sends first, then edits, reactions and deletes of those sends
    let n = a.changes.max(10);
    let sends = n * 6 / 10;
    let edits = n * 2 / 10;
    let deletes = n / 20;
    let reactions = n - sends - edits - deletes;
    eprintln!(
        "catchup: {n} changes by two members ({sends} sends, {edits} edits, {reactions} reactions, {deletes} deletes), {} in flight; the third member is away from rev {from}",
        a.concurrency
    );
    let t0 = Instant::now();
    let sent = run(
        &api,
        &users,
        &conv,
        (0..sends).map(|i| Change::Send { by: i % 2, i }),
        a.concurrency,
        &rid,
    )
    .await?;
    // seqs of each member's sends, in order
    let mut own: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    for (by, seq) in sent.iter().flatten() {
        own[*by].push(*seq);
    }
    if own[0].len() + own[1].len() != sends {
        bail!(
            "only {} of {sends} sends succeeded",
            own[0].len() + own[1].len()
        );
    }
    let mut later = Vec::new();
    for j in 0..edits {
        let by = j % 2;
        later.push(Change::Edit {
            by,
            seq: own[by][(j / 2) % own[by].len()],
        });
    }
    // every (message, emoji, member) once, so every reaction is a change
    for j in 0..reactions {
        let by = j % 2;
        let k = j / 2;
        let all = own[0].len() + own[1].len();
        let seq = if k % all < own[0].len() {
            own[0][k % all]
        } else {
            own[1][k % all - own[0].len()]
        };
        later.push(Change::React {
            by,
            seq,
            emoji: EMOJI[(k / all) % EMOJI.len()],
        });
    }
    // deletes from the end of each member's sends, after the edits and reactions
    for j in 0..deletes {
        let by = j % 2;
        later.push(Change::Delete {
            by,
            seq: own[by][own[by].len() - 1 - j / 2],
        });
    }
    let done = run(&api, &users, &conv, later.into_iter(), a.concurrency, &rid).await?;
    let failed = done.iter().filter(|r| r.is_none()).count();
    let make_s = t0.elapsed();
    if failed > 0 {
        bail!("{failed} changes failed");
    }
    eprintln!(
        "catchup: made {n} changes in {:.1}s ({} changes/s over HTTP)",
        make_s.as_secs_f64(),
        rate(n as u64, make_s)
    );

    // the truth: the whole history read afterwards, page by page
    let mut truth: HashMap<u64, Value> = HashMap::new();
    let mut before = u64::MAX;
    loop {
        let q = if before == u64::MAX {
            "limit=100".to_owned()
        } else {
            format!("before={before}&limit=100")
        };
        let (st, v) = api.messages(&users[1], &conv, &q).await?;
        if st != 200 {
            bail!("history: HTTP {st}");
        }
        let msgs = v["messages"].as_array().cloned().unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        for m in &msgs {
            before = before.min(m["seq"].as_u64().unwrap_or(0));
            truth.insert(m["seq"].as_u64().unwrap_or(0), m.clone());
        }
        if before <= 1 {
            break;
        }
    }
    let changed: HashMap<u64, Value> = truth
        .into_iter()
        .filter(|(_, m)| m["rev"].as_u64().unwrap_or(0) > from)
        .collect();

    // the walks: the away member catches up, `a.walks` times
    let mut h = hist();
    let (mut pages, mut rows, mut dups, mut same) = (0, 0, 0, true);
    for _ in 0..a.walks.max(1) {
        let t = Instant::now();
        let (state, p, r, d, _) = walk(&api, &users[2], &conv, from, limit).await?;
        rec(&mut h, t.elapsed());
        (pages, rows, dups) = (p, r, d);
        same &= state == changed;
    }
    eprintln!(
        "catchup [{}]: {n} changes → {rows} messages in {pages} pages of {limit}; walk p50 {} ms max {} ms; duplicates {dups}; same state as a full read: {same}",
        cli.label,
        ms(h.value_at_quantile(0.5)),
        ms(h.max()),
    );
    Ok(json!({
        "scenario": "catchup",
        "params": {"changes": n, "sends": sends, "edits": edits, "reactions": reactions, "deletes": deletes, "limit": limit, "walks": a.walks},
        "makeSeconds": make_s.as_secs_f64(),
        "changesPerSec": rate(n as u64, make_s),
        "pages": pages,
        "messages": rows,
        "walkMs": summary(&h),
        "duplicates": dups,
        "sameAsFullRead": same,
        "ok": same && dups == 0,
    }))
}

/// Runs the changes with `q` in flight; each result is (member, seq) or None
/// when the call failed.
async fn run(
    api: &Api,
    users: &[User],
    conv: &str,
    changes: impl Iterator<Item = Change>,
    q: usize,
    rid: &str,
) -> Result<Vec<Option<(usize, u64)>>> {
    let results = futures_util::stream::iter(changes)
        .map(|c| {
            let api = api.clone();
            async move {
                let base = format!("/api/conversations/{conv}/messages");
                let (by, method, path, body) = match c {
                    Change::Send { by, i } => (by, Method::POST, base, Some(json!({"msg": format!("catch-up message {i}"), "clientId": format!("{rid}-{i}")}))),
                    Change::Edit { by, seq } => (by, Method::PATCH, format!("{base}/{seq}"), Some(json!({"msg": format!("edited message {seq}")}))),
                    Change::React { by, seq, emoji } => (by, Method::PUT, format!("{base}/{seq}/reactions/{}", api::percent_encode(emoji)), None),
                    Change::Delete { by, seq } => (by, Method::DELETE, format!("{base}/{seq}"), None),
                };
                match api.call(method, &users[by], &path, body.as_ref()).await {
                    Ok((200 | 201, v)) => v["message"]["seq"].as_u64().map(|s| (by, s)),
                    Ok((st, v)) => {
                        eprintln!("catchup: {path}: HTTP {st}: {v}");
                        None
                    }
                    Err(e) => {
                        eprintln!("catchup: {path}: {e:#}");
                        None
                    }
                }
            }
        })
        .buffered(q.max(1))
        .collect::<Vec<_>>()
        .await;
    Ok(results)
}
