//! Uploads: P users each upload one S MiB file at the same time, then each
//! downloads it back; MiB/s both ways and the server's RSS, sampled every
//! 20 ms, before and at its peak (uploads are streamed to storage, so the peak
//! should not grow with P × S). natter only (the peer has no attachments).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rand::RngCore;
use serde_json::{Value, json};

use crate::api::{self, Api};
use crate::scenarios::{hist, rec, rss_kib, summary, wait_up};
use crate::{Cli, UploadArgs};

const MIB: f64 = 1024.0 * 1024.0;

/// Samples the server's RSS until stopped; returns the peak in KiB.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = rss_kib(pid).unwrap_or(0).max(peak);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak
    })
}

pub async fn upload(cli: &Cli, a: &UploadArgs) -> Result<Value> {
    let p = a.parallel.max(1);
    let api = Api::new(&cli.url, p + 2)?;
    wait_up(&api).await?;
    let Some(pid) = a.server_pid else {
        bail!("upload needs --server-pid")
    };
    let size = a.mib * 1024 * 1024;
    let rid = api::run_id();
    let users = api::register_many(&api, &format!("u{rid}u"), p, cli.register_concurrency).await?;
    let mut data = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut data);
    let data = bytes::Bytes::from(data);
    let mut rounds = Vec::new();
    let (mut up_h, mut down_h) = (hist(), hist());
    for round in 0..a.rounds.max(1) {
        let before = rss_kib(pid)?;
        // up
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = sample_rss(pid, stop.clone());
        let t0 = Instant::now();
        let tasks: Vec<_> = users
            .iter()
            .cloned()
            .map(|u| {
                let (api, data) = (api.clone(), data.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let v = api.upload(&u, &format!("bench-{round}.bin"), data).await?;
                    Ok::<_, anyhow::Error>((u, v, t.elapsed()))
                })
            })
            .collect();
        let mut uploaded = Vec::with_capacity(p);
        for t in tasks {
            let (u, v, d) = t.await??;
            if v["size"].as_u64() != Some(size as u64) {
                bail!("upload answered {v}");
            }
            rec(&mut up_h, d);
            uploaded.push((u, v["url"].as_str().unwrap_or_default().to_owned()));
        }
        let up_s = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let up_peak = sampler.await?;
        // down
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = sample_rss(pid, stop.clone());
        let got = Arc::new(AtomicU64::new(0));
        let t1 = Instant::now();
        let tasks: Vec<_> = uploaded
            .into_iter()
            .map(|(u, url)| {
                let (api, got) = (api.clone(), got.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let n = api.download(&u, &url).await?;
                    got.fetch_add(n, Ordering::Relaxed);
                    Ok::<_, anyhow::Error>(t.elapsed())
                })
            })
            .collect();
        for t in tasks {
            rec(&mut down_h, t.await??);
        }
        let down_s = t1.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let down_peak = sampler.await?;
        let total = (p * size) as f64;
        if got.load(Ordering::Relaxed) != total as u64 {
            bail!(
                "downloads returned {} bytes, expected {total}",
                got.load(Ordering::Relaxed)
            );
        }
        let r = json!({
            "uploadMiBPerSec": (total / MIB / up_s * 10.0).round() / 10.0,
            "downloadMiBPerSec": (total / MIB / down_s * 10.0).round() / 10.0,
            "rssBeforeMiB": before / 1024,
            "rssPeakUploadMiB": up_peak / 1024,
            "rssPeakDownloadMiB": down_peak / 1024,
        });
        eprintln!(
            "upload [{}] round {round}: {p} × {} MiB: {r}",
            cli.label, a.mib
        );
        rounds.push(r);
    }
    let best = |k: &str| {
        rounds
            .iter()
            .filter_map(|r| r[k].as_f64())
            .fold(0.0, f64::max)
    };
    let max = |k: &str| {
        rounds
            .iter()
            .filter_map(|r| r[k].as_u64())
            .max()
            .unwrap_or(0)
    };
    Ok(json!({
        "scenario": "upload",
        "params": {"parallel": p, "mib": a.mib, "rounds": a.rounds},
        "uploadMiBPerSec": best("uploadMiBPerSec"),
        "downloadMiBPerSec": best("downloadMiBPerSec"),
        "rssBeforeMiB": rounds.first().and_then(|r| r["rssBeforeMiB"].as_u64()),
        "rssPeakMiB": max("rssPeakUploadMiB").max(max("rssPeakDownloadMiB")),
        "uploadLatencyMs": summary(&up_h),
        "downloadLatencyMs": summary(&down_h),
        "rounds": rounds,
        "ok": true,
    }))
}
