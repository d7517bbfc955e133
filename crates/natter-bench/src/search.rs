//! Search: K messages in C group conversations, all of which the searching
//! user is a member of, filled straight into the database (`fill`); then
//! first pages of `GET /api/search` for each query, one at a time: p50/p99.
//! natter only (the peer has no search).

use std::time::Instant;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use crate::api::{self, Api};
use crate::fill::{self, RARE_EN, RARE_KO, Target, Text};
use crate::scenarios::{hist, latencies, rec, summary, wait_up};
use crate::{Cli, SearchArgs};

/// (label, query): 2- and 3-character Korean, an English word, and rare words
/// (a rare short query is the slowest case: nothing stops the walk early).
fn queries() -> Vec<(&'static str, String)> {
    vec![
        ("korean 2 chars (채팅)", "채팅".to_owned()),
        ("korean 3 chars (회의실)", "회의실".to_owned()),
        ("english word (meeting)", "meeting".to_owned()),
        ("english, other case (MEETING)", "MEETING".to_owned()),
        ("rare korean 2 chars", RARE_KO.to_owned()),
        ("rare english word", RARE_EN.to_owned()),
    ]
}

pub async fn search(cli: &Cli, a: &SearchArgs) -> Result<Value> {
    let api = Api::new(&cli.url, 8)?;
    wait_up(&api).await?;
    let Some(db) = a.fill_db.as_deref() else {
        bail!("search needs --fill-db (the server's SQLite file or PostgreSQL URL)");
    };
    let c = a.conversations.max(1);
    let per = (a.messages / c as u64).max(1) as i64;
    let rid = api::run_id();
    let users = api::register_many(&api, &format!("s{rid}u"), 3, 3).await?;
    let others = [users[1].id.clone(), users[2].id.clone()];
    let t0 = Instant::now();
    let mut targets = Vec::with_capacity(c);
    for i in 0..c {
        let id = api
            .group(&users[0], &format!("search {i}"), &others)
            .await?;
        targets.push(Target {
            conversation: id,
            senders: users.iter().map(|u| u.id.clone()).collect(),
        });
    }
    eprintln!(
        "search: {c} groups made in {:.1}s; filling {per} messages each straight into the database",
        t0.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    let rows = fill::fill(db, &targets, per, Text::Chat).await?;
    let fill_s = t1.elapsed().as_secs_f64();
    let me = &users[0];
    let mut results = serde_json::Map::new();
    let mut slowest_3plus = 0.0f64;
    for (label, q) in queries() {
        let path = format!(
            "/api/search?q={}&limit={}",
            api::percent_encode(&q),
            a.limit
        );
        // warm-up, and the check that the answer is a real page
        let (st, v) = api.call(reqwest::Method::GET, me, &path, None).await?;
        if st != 200 {
            bail!("search {q}: HTTP {st}: {v}");
        }
        let hits = v["messages"].as_array().map_or(0, Vec::len);
        let needle = q.to_lowercase();
        if let Some(bad) = v["messages"].as_array().into_iter().flatten().find(|m| {
            !m["msg"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .contains(&needle)
        }) {
            bail!("search {q} returned a message without it: {bad}");
        }
        let mut h = hist();
        for _ in 0..a.repeat {
            let t = Instant::now();
            let (st, _) = api.call(reqwest::Method::GET, me, &path, None).await?;
            if st != 200 {
                bail!("search {q}: HTTP {st}");
            }
            rec(&mut h, t.elapsed());
        }
        eprintln!(
            "search [{}] {label}: {hits} hits on the first page; {}",
            cli.label,
            latencies(&h)
        );
        if q.chars().count() >= 3 {
            slowest_3plus = slowest_3plus.max(h.value_at_quantile(0.99) as f64 / 1000.0);
        }
        results.insert(
            label.to_owned(),
            json!({"query": q, "firstPageHits": hits, "latencyMs": summary(&h)}),
        );
    }
    Ok(json!({
        "scenario": "search",
        "params": {"conversations": c, "messages": per as u64 * c as u64, "repeat": a.repeat, "limit": a.limit},
        "filledRows": rows,
        "fillSeconds": fill_s,
        "queries": results,
        "p99Max3PlusMs": slowest_3plus,
        "ok": true,
    }))
}
