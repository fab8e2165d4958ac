//! `signalbox workers`: the live workers, their pools and what they run,
//! from `sb_workers`.

use std::time::Duration;

use futures::StreamExt;

use super::wire::{self, WorkerInfo};

/// Reads the live workers, sorted by id. Fails when the server cannot be
/// reached in a few seconds.
pub async fn live(server: &str) -> Result<Vec<(WorkerInfo, u64)>, String> {
    let (client, mut up) = super::connect::client(server, "signalbox workers").await?;
    let reached = tokio::time::timeout(Duration::from_secs(3), up.wait_for(|u| *u)).await;
    if !matches!(reached, Ok(Ok(_))) {
        return Err(format!(
            "cannot reach NATS at {}",
            super::connect::shown(server)
        ));
    }
    let js = async_nats::jetstream::new(client);
    let Ok(store) = js.get_key_value(wire::WORKERS).await else {
        // No worker ever came.
        return Ok(Vec::new());
    };
    let mut keys = store
        .keys()
        .await
        .map_err(|e| format!("cannot list the workers: {e}"))?;
    let now = now_ms();
    let mut out = Vec::new();
    while let Some(Ok(key)) = keys.next().await {
        let Ok(Some(value)) = store.get(&key).await else {
            continue;
        };
        let Ok(info) = serde_json::from_slice::<WorkerInfo>(&value) else {
            continue;
        };
        let seen = now.saturating_sub(info.at_ms);
        if seen < super::worker::millis(wire::REGISTRY_STALE) {
            out.push((info, seen));
        }
    }
    out.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(out)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The listing as text: a row per worker, its attempts under it.
pub fn text(workers: &[(WorkerInfo, u64)]) -> String {
    if workers.is_empty() {
        return "no live workers\n".into();
    }
    let mut rows = vec![[
        "ID".to_string(),
        "POOLS".into(),
        "JOBS".into(),
        "RUNNING".into(),
        "HOST".into(),
        "PID".into(),
    ]];
    for (w, _) in workers {
        rows.push([
            w.id.clone(),
            w.pools.join(","),
            w.jobs.to_string(),
            w.running.len().to_string(),
            w.host.clone(),
            w.pid.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i > 0 {
            for r in &workers[i - 1].0.running {
                out.push_str(&format!("  {}/{} #{}\n", r.run, r.step, r.attempt));
            }
        }
    }
    crate::safe::text(&out).into_owned()
}

/// The listing as JSON: an array of the workers, each with `seen_ms`.
pub fn json(workers: &[(WorkerInfo, u64)]) -> String {
    let list: Vec<serde_json::Value> = workers
        .iter()
        .filter_map(|(w, seen)| {
            let mut v = serde_json::to_value(w).ok()?;
            v["seen_ms"] = (*seen).into();
            Some(v)
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}
