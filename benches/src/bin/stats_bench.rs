//! The situational picture's queries over a large history: a generated year
//! ([`roeh_testkit::history`]) of about 1,000,000 incidents at 10 hotspots, a fifth of them with
//! an alert (about 200,000), loaded into the real store; then the dashboard's queries, each the
//! API's own function ([`roeh_api::stats`]) as its route calls it, timed over repeated runs:
//!
//! - `incidents/year/month`: `GET /api/stats/incidents` for the whole year by month;
//! - `incidents/12w/week`: the same for the dashboard's default twelve weeks;
//! - `incidents/12w/hotspot`: twelve weeks of one hotspot;
//! - `incidents/12w/live`: thirteen weeks up to today, with an incident arriving before each
//!   query (so the statistics first rebuild that day's tallies, as on a live site);
//! - `alerts/12w/week`: `GET /api/stats/alerts` for twelve weeks;
//! - `effect`: `GET /api/operations/{id}/effect` of a two-month night operation;
//! - `weekly/figures`: the figures of one week's report; `weekly/pdf`: one week's report
//!   rendered to PDF; `weekly/year`: all 52 weeks' reports of the year, PDF.
//!
//! - `baseline/…`: the year by month and twelve weeks counted from the incidents themselves (in
//!   `Asia/Tel_Aviv`, another name of the zone, which the tallies do not answer): the cost
//!   before the tallies, measured in the same run.
//!
//! Prints p50 and p99 (nearest rank) per query. `--database sqlite|postgres|both`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use roeh_api::stats::{Source, StatsQuery};
use roeh_auth::Scope;
use roeh_domain::{CameraId, WallTime};
use roeh_store::HistoryIncident;
use roeh_testkit::history::{History, Spec};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Statistics queries over a generated year of incidents")]
struct Args {
    /// Mean incidents per hotspot per ordinary day (274 gives about a million in a year).
    #[arg(long, default_value_t = 274.0)]
    per_day: f64,
    /// The share of incidents with an alert.
    #[arg(long, default_value_t = 0.2)]
    alert_share: f64,
    /// Runs of each query.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "sqlite")]
    database: String,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

async fn time<F, Fut, T>(name: &str, runs: usize, mut f: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        v.push(t.elapsed());
    }
    v.sort();
    println!(
        "{name:<24} p50 {:>8.1} ms   p99 {:>8.1} ms   ({runs} runs)",
        pct(&v, 0.5).as_secs_f64() * 1e3,
        pct(&v, 0.99).as_secs_f64() * 1e3
    );
    Ok(())
}

fn q(from: &str, to: &str, interval: &str, hotspot: Option<String>) -> StatsQuery {
    StatsQuery {
        from: Some(from.into()),
        to: Some(to.into()),
        interval: Some(interval.into()),
        hotspot,
        ..StatsQuery::default()
    }
}

fn api(e: roeh_api::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message())
}

fn main() -> Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let databases: &[&str] = match args.database.as_str() {
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        "both" => &["sqlite", "postgres"],
        other => bail!("--database {other}: sqlite, postgres or both"),
    };
    let mut spec = Spec::year();
    spec.per_day = args.per_day;
    spec.alert_share = args.alert_share;
    let t = Instant::now();
    let h = History::generate(spec);
    let alerts = h.incidents.iter().filter(|i| i.alert.is_some()).count();
    println!(
        "history: {} incidents, {alerts} alerts, generated in {:.1} s",
        h.incidents.len(),
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for db in databases {
        println!("== database: {db} ==");
        rt.block_on(run(&args, &h, db))?;
    }
    Ok(())
}

async fn run(args: &Args, h: &History, database: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _cluster) = if database == "postgres" {
        let c = roeh_testkit::postgres::Cluster::start_durable(dir.path())?;
        let url = c.create_database("bench")?;
        (roeh_store::Store::open(&url).await?, Some(c))
    } else {
        let db = dir.path().join("roeh.db");
        let store = roeh_store::Store::open(db.to_str().context("temp path")?).await?;
        (store, None)
    };
    let t = Instant::now();
    for chunk in h.incidents.chunks(20_000) {
        let items: Vec<HistoryIncident> = chunk
            .iter()
            .map(|i| HistoryIncident {
                id: i.id,
                rule: if i.operator {
                    uuid::Uuid::nil()
                } else {
                    uuid::Uuid::from_u128(0x700 + i.hotspot as u128)
                },
                camera: CameraId(i.camera),
                hotspot: h.hotspots[i.hotspot],
                kind: i.kind.to_string(),
                severity: i.severity.to_string(),
                opened_at: WallTime(i.at_micros),
                model_id: if i.operator { "operator" } else { "yolo" }.to_string(),
                alert: i.alert.map(|(id, s)| (id, s.to_string())),
            })
            .collect();
        store.insert_history(&items).await?;
    }
    println!("loaded in {:.1} s", t.elapsed().as_secs_f64());
    let shifts =
        roeh_alerts::Shifts::parse("Asia/Jerusalem", &[("day", "07:00"), ("night", "19:00")])
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let src = Source {
        store: store.clone(),
        zone: shifts.time_zone(),
        now: WallTime::parse("2026-12-01T12:00:00Z").context("now")?,
        shifts,
    };
    let all = Scope::unrestricted();
    let op = roeh_store::OperationRow {
        id: uuid::Uuid::new_v4(),
        name: "summer nights".into(),
        document: serde_json::json!({
            "name": "summer nights", "start": "2026-07-01", "end": "2026-08-31",
            "window": {"from": "22:00", "to": "04:00"}, "hotspots": [h.hotspots[0]],
            "kinds": ["violence"], "comparison": h.hotspots[1..].to_vec(),
        })
        .to_string(),
        created_by: "bench".into(),
        created_at: src.now,
    };
    store.insert_operation(&op).await?;
    let runs = args.runs;
    let t = Instant::now();
    roeh_api::stats::incident_stats(&src, &all, &q("2026-11-30", "2026-11-30", "day", None))
        .await
        .map_err(api)?;
    println!(
        "tallies built in {:.1} s (once, by the first statistics query after loading)",
        t.elapsed().as_secs_f64()
    );
    let hs = Some(h.hotspots[3].to_string());
    time("incidents/year/month", runs, || {
        let (src, all) = (&src, &all);
        async move {
            roeh_api::stats::incident_stats(src, all, &q("2025-12-01", "2026-11-30", "month", None))
                .await
                .map_err(api)
        }
    })
    .await?;
    time("incidents/12w/week", runs, || {
        let (src, all) = (&src, &all);
        async move {
            roeh_api::stats::incident_stats(src, all, &q("2026-09-07", "2026-11-29", "week", None))
                .await
                .map_err(api)
        }
    })
    .await?;
    // The baseline, in the same run: the same queries counted from the incidents themselves,
    // as every query was before the tallies (asked in Asia/Tel_Aviv, another name of the
    // site's zone, which the tallies do not answer).
    let untallied = |from: &str, to: &str, interval: &str| StatsQuery {
        zone: Some("Asia/Tel_Aviv".into()),
        ..q(from, to, interval, None)
    };
    time("baseline/year/month", runs.min(3), || {
        let (src, all) = (&src, &all);
        let query = untallied("2025-12-01", "2026-11-30", "month");
        async move {
            roeh_api::stats::incident_stats(src, all, &query)
                .await
                .map_err(api)
        }
    })
    .await?;
    time("baseline/12w/week", runs.min(3), || {
        let (src, all) = (&src, &all);
        let query = untallied("2026-09-07", "2026-11-29", "week");
        async move {
            roeh_api::stats::incident_stats(src, all, &query)
                .await
                .map_err(api)
        }
    })
    .await?;
    time("incidents/12w/hotspot", runs, || {
        let (src, all, hs) = (&src, &all, hs.clone());
        async move {
            roeh_api::stats::incident_stats(src, all, &q("2026-09-07", "2026-11-29", "week", hs))
                .await
                .map_err(api)
        }
    })
    .await?;
    time("alerts/12w/week", runs, || {
        let (src, all) = (&src, &all);
        async move {
            roeh_api::stats::alert_stats(src, all, &q("2026-09-07", "2026-11-29", "week", None))
                .await
                .map_err(api)
        }
    })
    .await?;
    // A live site: an incident arrives before every query, so its day is rebuilt first.
    let mut seq = 0u128;
    time("incidents/12w/live", runs, || {
        let (src, all, store) = (&src, &all, &store);
        seq += 1;
        let one = HistoryIncident {
            id: uuid::Uuid::from_u128(0xface_0000 + seq),
            rule: uuid::Uuid::from_u128(0x700),
            camera: CameraId(h.cameras[0][0]),
            hotspot: h.hotspots[0],
            kind: "violence".into(),
            severity: "high".into(),
            opened_at: WallTime(src.now.0 - 3_600_000_000),
            model_id: "yolo".into(),
            alert: Some((uuid::Uuid::from_u128(0xbeef_0000 + seq), "new".into())),
        };
        async move {
            store.insert_history(&[one]).await?;
            roeh_api::stats::incident_stats(src, all, &q("2026-09-07", "2026-12-06", "week", None))
                .await
                .map_err(api)
        }
    })
    .await?;
    let id = op.id.to_string();
    time("effect", runs, || {
        let (src, all, id) = (&src, &all, id.clone());
        async move {
            roeh_api::stats::operation_effect(src, all, &id, None)
                .await
                .map_err(api)
        }
    })
    .await?;
    time("weekly/figures", runs, || {
        let (src, all) = (&src, &all);
        async move {
            roeh_api::weekly::weekly(src, all, "2026-W45", None, roeh_report::Lang::He)
                .await
                .map_err(api)
        }
    })
    .await?;
    time("weekly/pdf", runs.min(10), || {
        let (src, all) = (&src, &all);
        async move {
            let w = roeh_api::weekly::weekly(src, all, "2026-W45", None, roeh_report::Lang::He)
                .await
                .map_err(api)?;
            roeh_api::weekly::render(w, false).await.map_err(api)
        }
    })
    .await?;
    time("weekly/year", 1, || {
        let (src, all) = (&src, &all);
        async move {
            for week in 49..=52 {
                let w = format!("2025-W{week}");
                let r = roeh_api::weekly::weekly(src, all, &w, None, roeh_report::Lang::He)
                    .await
                    .map_err(api)?;
                roeh_api::weekly::render(r, false).await.map_err(api)?;
            }
            for week in 1..=48 {
                let w = format!("2026-W{week:02}");
                let r = roeh_api::weekly::weekly(src, all, &w, None, roeh_report::Lang::He)
                    .await
                    .map_err(api)?;
                roeh_api::weekly::render(r, false).await.map_err(api)?;
            }
            Ok(())
        }
    })
    .await?;
    store.close().await;
    Ok(())
}
