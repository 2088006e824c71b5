//! The situational picture over real HTTP, on a generated year of incidents
//! ([`roeh_testkit::history`]: ten hotspots, a weekly pattern, a summer bump and an operation
//! that cut violence at one hotspot's nights by 40 %) loaded into the real store: the
//! statistics give back exactly the counts the year was built from, in Jerusalem's local time
//! across both daylight-saving changes; the operation's rate ratio lies where it must; scopes
//! hide other hotspots' figures, totals included; imported police counts appear beside them and
//! a bad file imports nothing; the public table withholds small cells; bad ranges are refused.

#![allow(clippy::unwrap_used)]

mod support;

use chrono::{Datelike, NaiveDate};
use roeh_alerts::Shifts;
use roeh_api::alerts::AlertsSettings;
use roeh_auth::{Role, Scope};
use roeh_domain::{CameraId, SimClock, WallTime};
use roeh_store::HistoryIncident;
use roeh_testkit::history::{History, Spec};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use uuid::Uuid;

type Env = support::HttpSite<SimClock>;

async fn env() -> Env {
    let clock = Arc::new(SimClock::new(
        WallTime::parse("2026-12-01T12:00:00Z").unwrap(),
    ));
    let site = support::site(
        clock.clone(),
        AlertsSettings {
            shifts: Shifts::parse("Asia/Jerusalem", &[("day", "07:00"), ("night", "19:00")])
                .unwrap(),
            ..Default::default()
        },
    )
    .await;
    site.serve(clock).await
}

impl support::HttpSite<SimClock> {
    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let (s, t) = support::call(&self.http, self.addr, Some(token), "GET", path, None).await;
        (s, support::json(&t))
    }

    async fn post_csv(&self, token: &str, path: &str, body: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("http://{}{path}", self.addr))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        (s, support::json(&resp.text().await.unwrap()))
    }
}

fn year() -> &'static History {
    static H: OnceLock<History> = OnceLock::new();
    H.get_or_init(|| History::generate(Spec::year()))
}

/// The generated year loaded into `e`'s store under ten real hotspots; their ids by index.
async fn load_year(e: &Env) -> Vec<Uuid> {
    let h = year();
    let mut ids = Vec::new();
    for i in 0..h.spec.hotspots {
        let cam = e.add_camera(&format!("cam-{i}")).await;
        let lat = 32.05 + i as f64 * 0.01;
        ids.push(
            e.add_hotspot(&format!("H{i}"), cam, (lat, 34.76), "Asia/Jerusalem")
                .await,
        );
    }
    let items: Vec<HistoryIncident> = h
        .incidents
        .iter()
        .map(|i| HistoryIncident {
            id: i.id,
            rule: if i.operator {
                Uuid::nil()
            } else {
                Uuid::from_u128(0x700 + i.hotspot as u128)
            },
            camera: CameraId(i.camera),
            hotspot: ids[i.hotspot],
            kind: i.kind.to_string(),
            severity: i.severity.to_string(),
            opened_at: WallTime(i.at_micros),
            model_id: if i.operator { "operator" } else { "yolo" }.to_string(),
            alert: i.alert.map(|(id, s)| (id, s.to_string())),
        })
        .collect();
    e.store.insert_history(&items).await.unwrap();
    ids
}

fn count_of(list: &Value, key: &str, value: &str) -> u64 {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .map_or(0, |r| r["count"].as_u64().unwrap())
}

fn grid(v: &Value) -> [[u64; 24]; 7] {
    let mut g = [[0u64; 24]; 7];
    for (wd, row) in v.as_array().unwrap().iter().enumerate() {
        for (h, n) in row.as_array().unwrap().iter().enumerate() {
            g[wd][h] = n.as_u64().unwrap();
        }
    }
    g
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_year_gives_back_exactly_the_counts_it_was_built_from() {
    let e = env().await;
    let ids = load_year(&e).await;
    let h = year();
    let n = h.incidents.len() as u64;
    assert!(n > 15_000, "a year of ten hotspots: {n}");

    let (s, v) = e
        .get(
            &e.admin,
            "/api/stats/incidents?from=2025-12-01&to=2026-11-30&interval=month",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["time_zone"], "Asia/Jerusalem");
    assert_eq!(v["total"].as_u64().unwrap(), n);
    for (i, id) in ids.iter().enumerate() {
        let want = h.count(|hs, _, _, _| hs == i);
        assert_eq!(
            count_of(&v["by_hotspot"], "hotspot", &id.to_string()),
            want,
            "H{i}"
        );
    }
    assert_eq!(v["by_hotspot"][0]["name"].as_str().unwrap().len(), 2);
    assert_eq!(grid(&v["heat"]["all"]), h.grid(None), "hour × weekday, all");
    let h0 = v["heat"]["by_hotspot"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["hotspot"] == ids[0].to_string())
        .unwrap();
    assert_eq!(grid(&h0["grid"]), h.grid(Some(0)), "hour × weekday, H0");
    // Twelve months, each exactly as built (local days).
    let periods = v["trend"]["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 12);
    assert_eq!(periods[0], "2025-12");
    for (p, got) in periods.iter().zip(v["trend"]["total"].as_array().unwrap()) {
        let (y, m) = p.as_str().unwrap().split_once('-').unwrap();
        let (y, m): (i32, u32) = (y.parse().unwrap(), m.parse().unwrap());
        let want = h.count(|_, d, _, _| d.year() == y && d.month() == m);
        assert_eq!(got.as_u64().unwrap(), want, "{p}");
    }
    for kind in ["violence", "vandalism", "loitering"] {
        assert_eq!(
            count_of(&v["by_kind"], "key", kind),
            h.count(|_, _, _, k| k == kind)
        );
    }
    let operator = h.incidents.iter().filter(|i| i.operator).count() as u64;
    assert_eq!(count_of(&v["by_source"], "key", "operator"), operator);
    assert_eq!(count_of(&v["by_source"], "key", "detected"), n - operator);
    let with = |s: &str| {
        h.incidents
            .iter()
            .filter(|i| i.alert.is_some_and(|a| a.1 == s))
            .count() as u64
    };
    assert_eq!(
        count_of(&v["by_outcome"], "key", "false_alarm"),
        with("false_alarm")
    );
    let no_alert = h.incidents.iter().filter(|i| i.alert.is_none()).count() as u64;
    assert_eq!(count_of(&v["by_outcome"], "key", "no_alert"), no_alert);

    // Days across both daylight-saving changes in Israel (27 March and 25 October 2026).
    let (s, v) = e
        .get(
            &e.admin,
            &format!(
                "/api/stats/incidents?from=2026-03-20&to=2026-10-31&interval=day&hotspot={}",
                ids[3]
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let days = v["trend"]["periods"].as_array().unwrap();
    for (p, got) in days.iter().zip(v["trend"]["total"].as_array().unwrap()) {
        let d = day(p.as_str().unwrap());
        assert_eq!(
            got.as_u64().unwrap(),
            h.count(|hs, bd, _, _| hs == 3 && bd == d),
            "{p}"
        );
    }
    assert_eq!(v["by_hotspot"].as_array().unwrap().len(), 1);

    // Alerts: one per incident that raised one.
    let (s, a) = e
        .get(&e.admin, "/api/stats/alerts?from=2025-12-01&to=2026-11-30")
        .await;
    assert_eq!(s, 200, "{a}");
    let alerts = h.incidents.iter().filter(|i| i.alert.is_some()).count() as u64;
    assert_eq!(a["total"].as_u64().unwrap(), alerts);
    assert_eq!(
        count_of(&a["by_outcome"], "key", "escalated"),
        with("escalated")
    );
    let closed: u64 = a["precision"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["confirmed"].as_u64().unwrap() + r["false_alarms"].as_u64().unwrap())
        .sum();
    assert_eq!(
        closed, alerts,
        "every generated alert is closed one way or another"
    );
    let raised_by_people = a["precision"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule"].is_null())
        .count();
    assert!(raised_by_people > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operation_shows_its_forty_percent_drop_against_the_comparison_hotspots() {
    let e = env().await;
    let ids = load_year(&e).await;
    let h = year();
    let body = json!({
        "name": "summer nights at the promenade",
        "start": "2026-07-01", "end": "2026-08-31",
        "window": {"from": "22:00", "to": "04:00"},
        "hotspots": [ids[0]],
        "kinds": ["violence"],
        "comparison": ids[1..].to_vec(),
    });
    let (s, t) = support::call(
        &e.http,
        e.addr,
        Some(&e.admin),
        "POST",
        "/api/operations",
        Some(&body),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let op = support::json(&t)["id"].as_str().unwrap().to_string();
    let (s, v) = e
        .get(&e.admin, &format!("/api/operations/{op}/effect"))
        .await;
    assert_eq!(s, 200, "{v}");

    // The counts: violence at H0 on the nights of each period, as built.
    let night_of = |d: NaiveDate, hour: u32| {
        if hour < 4 {
            d.pred_opt()
        } else if hour >= 22 {
            Some(d)
        } else {
            None
        }
    };
    let nights = |first: &str, last: &str, side: &dyn Fn(usize) -> bool| {
        let (f, l) = (day(first), day(last));
        h.count(|hs, d, hour, k| {
            side(hs) && k == "violence" && night_of(d, hour).is_some_and(|n| f <= n && n <= l)
        })
    };
    assert_eq!(v["before"]["first_day"], "2026-04-30");
    assert_eq!(v["before"]["last_day"], "2026-06-30");
    assert_eq!(v["after"]["last_day"], "2026-11-01");
    let target = |hs: usize| hs == 0;
    let others = |hs: usize| hs != 0;
    // The night of 24 October is an hour longer: Israel's clocks go back at 02:00 on the 25th.
    for (p, first, last, hours) in [
        ("before", "2026-04-30", "2026-06-30", 62.0 * 6.0),
        ("during", "2026-07-01", "2026-08-31", 62.0 * 6.0),
        ("after", "2026-09-01", "2026-11-01", 62.0 * 6.0 + 1.0),
    ] {
        assert_eq!(
            v[p]["incidents"].as_u64().unwrap(),
            nights(first, last, &target),
            "{p}"
        );
        assert_eq!(
            v[p]["comparison_incidents"].as_u64().unwrap(),
            nights(first, last, &others),
            "{p}"
        );
        assert_eq!(
            v[p]["hours"].as_f64().unwrap(),
            hours,
            "{p}: 62 nights of 6 hours"
        );
    }
    // Against the comparison hotspots (which saw the summer bump too): the built 0.6.
    let rr = &v["during_vs_comparison"];
    let (r, lo, hi) = (
        rr["ratio"].as_f64().unwrap(),
        rr["low"].as_f64().unwrap(),
        rr["high"].as_f64().unwrap(),
    );
    assert!((0.45..0.75).contains(&r), "ratio {r}");
    assert!(lo < 0.6 && 0.6 < hi, "0.6 in [{lo}, {hi}]");
    assert!(hi < 1.0, "more than noise: [{lo}, {hi}]");
    // Against the same nights before: the drop and the bump together, 0.6 × 1.5 = 0.9.
    let rr = &v["during_vs_before"];
    let r = rr["ratio"].as_f64().unwrap();
    assert!((0.65..1.15).contains(&r), "during vs before {r}");
    assert!(
        rr["low"].as_f64().unwrap() < 0.9 && 0.9 < rr["high"].as_f64().unwrap(),
        "{rr}"
    );
    // After it, nights are back to the rate before.
    let rr = &v["after_vs_before"];
    assert!(
        rr["low"].as_f64().unwrap() < 1.0 && 1.0 < rr["high"].as_f64().unwrap(),
        "{rr}"
    );
    let weeks = v["weeks"].as_array().unwrap();
    assert_eq!(weeks.first().unwrap()["phase"], "before");
    assert_eq!(weeks.last().unwrap()["phase"], "after");
    let in_weeks: u64 = weeks.iter().map(|w| w["incidents"].as_u64().unwrap()).sum();
    assert_eq!(in_weeks, nights("2026-04-30", "2026-11-01", &target));

    // A supervisor of H0 alone sees H0's figures and no operation that names other hotspots.
    let sup =
        support::user_token(&e.store, "sup", Role::Supervisor, Scope::hotspots([ids[0]])).await;
    let (s, v) = e
        .get(&sup, "/api/stats/incidents?from=2025-12-01&to=2026-11-30")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["total"].as_u64().unwrap(),
        h.count(|hs, _, _, _| hs == 0),
        "a total is what the scope sees"
    );
    assert_eq!(v["by_hotspot"].as_array().unwrap().len(), 1);
    let (_, v) = e
        .get(
            &sup,
            &format!(
                "/api/stats/incidents?from=2025-12-01&to=2026-11-30&hotspot={}",
                ids[1]
            ),
        )
        .await;
    assert_eq!(v["total"], 0, "another hotspot answers like an empty one");
    let (s, _) = e.get(&sup, &format!("/api/operations/{op}/effect")).await;
    assert_eq!(s, 404);
    let (_, list) = e.get(&sup, "/api/operations").await;
    assert_eq!(list, json!([]));

    // The public table: weeks × hotspots, small cells withheld, no totals, no ids.
    let (s, p) = e
        .get(
            &e.admin,
            "/api/stats/public?from=2026-11-02&to=2026-11-29&min_count=40",
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        p["weeks"],
        json!(["2026-W45", "2026-W46", "2026-W47", "2026-W48"])
    );
    let rows = p["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let (mut shown, mut withheld) = (0, 0);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["hotspot"], format!("H{i}"));
        for (w, c) in r["counts"].as_array().unwrap().iter().enumerate() {
            let first = day("2026-11-02") + chrono::Duration::days(7 * w as i64);
            let built = h.count(|hs, d, _, _| {
                hs == i && first <= d && d < first + chrono::Duration::days(7)
            });
            if built >= 40 {
                assert_eq!(c.as_u64().unwrap(), built);
                shown += 1;
            } else {
                assert!(c.is_null(), "{built} is below 40");
                withheld += 1;
            }
        }
    }
    assert!(
        shown > 0 && withheld > 0,
        "{shown} shown, {withheld} withheld"
    );
    assert!(!p.to_string().contains(&ids[0].to_string()));
    let resp = e
        .http
        .get(format!(
            "http://{}/api/stats/public?from=2026-11-02&to=2026-11-29&min_count=40&format=csv",
            e.addr
        ))
        .bearer_auth(&e.admin)
        .send()
        .await
        .unwrap();
    let csv = resp.text().await.unwrap();
    assert!(
        csv.starts_with("hotspot,2026-W45,2026-W46,2026-W47,2026-W48\n"),
        "{csv}"
    );
    assert!(csv.contains("<40"), "{csv}");
    let (s, v) = e
        .get(
            &e.admin,
            "/api/stats/public?from=2026-11-02&to=2026-11-29&min_count=2",
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = e
        .get(
            &e.admin,
            "/api/stats/public?from=2026-11-02T10:00:00Z&to=2026-11-29",
        )
        .await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn police_counts_of_three_districts_import_and_a_bad_file_imports_nothing() {
    let e = env().await;
    let ids = load_year(&e).await;
    let mut csv = String::from("area,period_start,period_end,category,count\n");
    let mut want: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for (di, district) in ["North", "Old town, south", "Harbour"].iter().enumerate() {
        for m in 0..24u32 {
            let (y, mo) = (2025 + (m / 12) as i32, m % 12 + 1);
            let first = NaiveDate::from_ymd_opt(y, mo, 1).unwrap();
            let last = NaiveDate::from_ymd_opt(y + (mo / 12) as i32, mo % 12 + 1, 1)
                .unwrap()
                .pred_opt()
                .unwrap();
            let n = 20 + di as u64 * 7 + u64::from(m % 5);
            let quoted = if district.contains(',') {
                format!("\"{district}\"")
            } else {
                district.to_string()
            };
            csv.push_str(&format!("{quoted},{first},{last},violence,{n}\n"));
            want.insert((district.to_string(), format!("{y:04}-{mo:02}")), n);
        }
    }
    let (s, v) = e
        .post_csv(
            &e.admin,
            "/api/stats/imports?source=police&file_name=police-2025-2026.csv",
            &csv,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["rows"], 72);
    assert_eq!(v["first_day"], "2025-01-01");
    assert_eq!(v["last_day"], "2026-12-31");
    assert_eq!(v["imported_by"], "admin");

    let (s, x) = e
        .get(
            &e.admin,
            "/api/stats/external?from=2025-12-01&to=2026-11-30&interval=month",
        )
        .await;
    assert_eq!(s, 200, "{x}");
    let series = x["series"].as_array().unwrap();
    assert_eq!(series.len(), 3, "{x}");
    for s in series {
        assert_eq!(s["source"], "police");
        let district = s["area_name"].as_str().unwrap();
        for (p, c) in x["periods"]
            .as_array()
            .unwrap()
            .iter()
            .zip(s["counts"].as_array().unwrap())
        {
            let w = want[&(district.to_string(), p.as_str().unwrap().to_string())];
            assert_eq!(c.as_u64().unwrap(), w, "{district} {p}");
        }
    }
    // The same periods as roeh's own incidents of the same query.
    let (_, inc) = e
        .get(
            &e.admin,
            "/api/stats/incidents?from=2025-12-01&to=2026-11-30&interval=month",
        )
        .await;
    assert_eq!(inc["trend"]["periods"], x["periods"]);

    // A file with a bad fourth row: refused naming it, nothing imported.
    let bad = format!(
        "area,period_start,period_end,category,count\n\
         North,2027-01-01,2027-01-31,violence,3\n\
         {},2027-01-01,2027-01-31,violence,4\n\
         Harbour,2027-02-01,2027-02-29,violence,5\n",
        ids[0]
    );
    let (s, v) = e
        .post_csv(&e.admin, "/api/stats/imports?source=police", &bad)
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("line 4: period_end"), "{v}");
    let (_, list) = e.get(&e.admin, "/api/stats/imports").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing of the bad file");
    let (_, x2) = e
        .get(
            &e.admin,
            "/api/stats/external?from=2027-01-01&to=2027-03-31&interval=month",
        )
        .await;
    assert_eq!(x2["series"], json!([]));
    let (s, v) = e
        .post_csv(&e.admin, "/api/stats/imports?source=rumours", "area\n")
        .await;
    assert_eq!(s, 400, "{v}");

    // A city's daily counts for two years (more than the 64 KiB cap of JSON bodies) import
    // whole; a file past the cap of text bodies is refused with 413 and imports nothing.
    let mut daily = String::from("area,period_start,period_end,category,count\n");
    let mut d = NaiveDate::from_ymd_opt(2028, 1, 1).unwrap();
    for _ in 0..730 {
        for district in ["North", "Harbour", "Old town"] {
            daily.push_str(&format!("{district},{d},{d},calls,{}\n", d.ordinal() % 9));
        }
        d = d.succ_opt().unwrap();
    }
    assert!(daily.len() > roeh_api::MAX_BODY_BYTES, "{}", daily.len());
    let (s, v) = e
        .post_csv(
            &e.admin,
            "/api/stats/imports?source=city&file_name=city-daily.csv",
            &daily,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["rows"], 2190);
    let huge = daily.repeat(roeh_api::MAX_TEXT_BODY_BYTES / daily.len() + 1);
    let (s, v) = e
        .post_csv(&e.admin, "/api/stats/imports?source=city", &huge)
        .await;
    assert_eq!(s, 413, "{v}");
    let (_, list) = e.get(&e.admin, "/api/stats/imports").await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // A supervisor of one hotspot sees no district's counts.
    let sup =
        support::user_token(&e.store, "sup", Role::Supervisor, Scope::hotspots([ids[0]])).await;
    let (_, x) = e
        .get(
            &sup,
            "/api/stats/external?from=2025-12-01&to=2026-11-30&interval=month",
        )
        .await;
    assert_eq!(x["series"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_that_make_no_sense_are_refused_naming_the_problem() {
    let e = env().await;
    for (q, says) in [
        ("from=2026-02-01&to=2026-01-01", "reversed"),
        ("from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "empty"),
        ("from=2010-01-01&to=2026-01-01", "10 years"),
        (
            "from=2026-01-01&to=2026-02-01&zone=Mars/Olympus",
            "unknown time zone",
        ),
        ("to=2026-02-01", "from is required"),
        ("from=2026-01-01&to=2026-02-01&interval=year", "interval"),
        (
            "from=2026-01-01&to=2026-02-01&hotspot=nope",
            "hotspot must be a UUID",
        ),
    ] {
        let (s, v) = e.get(&e.admin, &format!("/api/stats/incidents?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(v.to_string().contains(says), "{q}: {v}");
    }
    // An operator cannot read the picture's writes: operations are a supervisor's.
    let op = support::user_token(&e.store, "op", Role::Operator, Scope::unrestricted()).await;
    let body = json!({"name": "x", "start": "2026-07-01", "end": "2026-07-02", "hotspots": [Uuid::new_v4()]});
    let (s, _) = support::call(
        &e.http,
        e.addr,
        Some(&op),
        "POST",
        "/api/operations",
        Some(&body),
    )
    .await;
    assert_eq!(s, 403);
    let (s, t) = support::call(
        &e.http,
        e.addr,
        Some(&e.admin),
        "POST",
        "/api/operations",
        Some(&body),
    )
    .await;
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("no such hotspot"), "{t}");
}

/// The rendered pages of `pdf` (`pdftoppm`), written beside it; the number rendered.
fn render_pages(pdf: &std::path::Path) -> usize {
    let prefix = pdf.with_extension("");
    let out = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "70"])
        .arg(pdf)
        .arg(&prefix)
        .output();
    let Ok(out) = out else {
        roeh_testkit::prerequisite_missing(
            "the weekly report",
            "pdftoppm (Debian's poppler-utils, installed by scripts/setup.sh)",
        );
        return 0;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stem = prefix.file_name().unwrap().to_string_lossy().to_string();
    std::fs::read_dir(pdf.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            n.starts_with(&format!("{stem}-")) && n.ends_with(".png")
        })
        .count()
}

fn pdf_pages(pdf: &std::path::Path) -> usize {
    let info = std::process::Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .unwrap();
    let info = String::from_utf8(info.stdout).unwrap();
    assert!(info.contains("(A4)"), "{info}");
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_weekly_report_opens_renders_every_page_and_its_totals_are_the_apis() {
    let e = env().await;
    let ids = load_year(&e).await;
    let h = year();
    let get = |path: String| {
        let (http, addr, token) = (e.http.clone(), e.addr, e.admin.clone());
        async move {
            let r = http
                .get(format!("http://{addr}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (s, ct, r.bytes().await.unwrap().to_vec())
        }
    };
    // Week 45 of 2026: 2 to 8 November.
    let (s, ct, csv) = get("/api/reports/weekly?week=2026-W45&format=csv".into()).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&csv));
    assert!(ct.starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let (_, api) = e
        .get(
            &e.admin,
            "/api/stats/incidents?from=2026-11-02&to=2026-11-08&interval=day",
        )
        .await;
    let total = api["total"].as_u64().unwrap();
    let monday = day("2026-11-02");
    assert_eq!(
        total,
        h.count(|_, d, _, _| monday <= d && d < monday + chrono::Duration::days(7))
    );
    assert!(
        csv.contains(&format!("summary,2026-W45,incidents,{total}\n")),
        "{csv}"
    );
    let (_, al) = e
        .get(
            &e.admin,
            "/api/stats/alerts?from=2026-11-02&to=2026-11-08&interval=day",
        )
        .await;
    assert!(
        csv.contains(&format!("summary,2026-W45,alerts,{}\n", al["total"])),
        "{csv}"
    );
    for (p, n) in api["trend"]["periods"]
        .as_array()
        .unwrap()
        .iter()
        .zip(api["trend"]["total"].as_array().unwrap())
    {
        let d = day(p.as_str().unwrap());
        assert!(
            csv.contains(&format!("days,{},incidents,{n}\n", d.format("%d.%m"))),
            "{p}"
        );
    }
    assert!(csv.contains("/api/stats/incidents?from=2026-11-02&to=2026-11-08"));
    assert_eq!(
        csv.lines()
            .filter(|l| l.starts_with("hour_weekday,"))
            .count(),
        168
    );

    // The PDF in Hebrew: it opens on A4, every page renders, page 1 is kept for people to see.
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/report-pages");
    std::fs::create_dir_all(&dir).unwrap();
    for (lang, hotspot) in [("he", None), ("en", Some(ids[0]))] {
        let q = match hotspot {
            None => format!("/api/reports/weekly?week=2026-W45&lang={lang}"),
            Some(h) => format!("/api/reports/weekly?week=2026-W45&lang={lang}&hotspot={h}"),
        };
        let (s, ct, pdf) = get(q).await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&pdf));
        assert_eq!(ct, "application/pdf");
        let path = dir.join(format!("api-weekly-2026-W45-{lang}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        let pages = pdf_pages(&path);
        assert_eq!(render_pages(&path), pages, "every page renders");
        let text = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        let want = match hotspot {
            None => total,
            Some(_) => h.count(|hs, d, _, _| {
                hs == 0 && monday <= d && d < monday + chrono::Duration::days(7)
            }),
        };
        assert!(text.contains(&want.to_string()), "{lang}: {want} in {text}");
    }

    // A week without incidents is a valid report that says so.
    let (s, _, pdf) = get("/api/reports/weekly?week=2027-W10&lang=en".into()).await;
    assert_eq!(s, 200);
    let path = dir.join("api-weekly-empty-en.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("No incidents were recorded this week.")
    );
    for bad in ["2026-45", "2026-W54", "x"] {
        let (s, _, b) = get(format!("/api/reports/weekly?week={bad}")).await;
        assert_eq!(s, 400, "{bad}: {}", String::from_utf8_lossy(&b));
    }
    let (s, _, _) = get("/api/reports/weekly?week=2026-W45&format=docx".into()).await;
    assert_eq!(s, 400);

    // A supervisor of one hotspot gets her hotspot's figures only, totals included.
    let sup =
        support::user_token(&e.store, "sup", Role::Supervisor, Scope::hotspots([ids[2]])).await;
    let r = e
        .http
        .get(format!(
            "http://{}/api/reports/weekly?week=2026-W45&format=csv",
            e.addr
        ))
        .bearer_auth(&sup)
        .send()
        .await
        .unwrap();
    let csv = r.text().await.unwrap();
    let mine =
        h.count(|hs, d, _, _| hs == 2 && monday <= d && d < monday + chrono::Duration::days(7));
    assert!(
        csv.contains(&format!("summary,2026-W45,incidents,{mine}\n")),
        "{csv}"
    );
    assert!(!csv.contains("H0"), "{csv}");

    // The reports made each week: written once into the data directory and listed.
    let src = roeh_api::stats::Source {
        store: e.store.clone(),
        zone: chrono_tz::Asia::Jerusalem,
        now: WallTime::parse("2026-12-01T12:00:00Z").unwrap(),
        shifts: Shifts::parse("Asia/Jerusalem", &[("day", "07:00")]).unwrap(),
    };
    let kept = e.dir.path().join("reports");
    let langs = [roeh_report::Lang::He, roeh_report::Lang::En];
    let made = roeh_api::weekly::make_weekly(&src, &kept, "2026-W48", &langs)
        .await
        .unwrap();
    assert_eq!(made.len(), 4, "a PDF and a CSV per language");
    let again = roeh_api::weekly::make_weekly(&src, &kept, "2026-W48", &langs)
        .await
        .unwrap();
    assert!(again.is_empty(), "made once");
    for f in &made {
        assert!(f.metadata().unwrap().len() > 100);
    }
    let (s, list) = e.get(&e.admin, "/api/reports").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    assert_eq!(list[0]["week"], "2026-W48");
    let (s, ct, pdf) = get("/api/reports/files/weekly-2026-W48-he.pdf".into()).await;
    assert_eq!((s, ct.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"));
    let (s, _, _) = get("/api/reports/files/..%2Froeh.db".into()).await;
    assert_eq!(s, 404);
    // Site-wide reports are not for a supervisor of one hotspot.
    let (_, list) = e.get(&sup, "/api/reports").await;
    assert_eq!(list, json!([]));
    let (s, _) = e
        .get(&sup, "/api/reports/files/weekly-2026-W48-he.pdf")
        .await;
    assert_eq!(s, 404);
}

/// `a` and `b` with their zone's name set aside: the same figures asked in two names of one zone.
fn same_figures(a: &Value, b: &Value, what: &str) {
    let (mut a, mut b) = (a.clone(), b.clone());
    a["time_zone"] = Value::Null;
    b["time_zone"] = Value::Null;
    assert_eq!(a, b, "{what}");
}

/// Each query as the tallies answer it (whole local days in the site's zone) and as the
/// incidents themselves answer it (the same days asked in `Asia/Tel_Aviv`, another name of the
/// site's zone): the same figures. Returns the tallies' answers.
async fn both_ways(e: &Env, token: &str, queries: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for q in queries {
        let (s, tallied) = e.get(token, q).await;
        assert_eq!(s, 200, "{q}: {tallied}");
        let (s, counted) = e.get(token, &format!("{q}&zone=Asia/Tel_Aviv")).await;
        assert_eq!(s, 200, "{q}: {counted}");
        assert_eq!(counted["time_zone"], "Asia/Tel_Aviv");
        same_figures(&tallied, &counted, q);
        out.push(tallied);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tallies_give_the_figures_the_incidents_give_and_follow_every_change() {
    let e = env().await;
    let ids = load_year(&e).await;
    let queries: Vec<String> = [
        "/api/stats/incidents?from=2025-12-01&to=2026-11-30&interval=month".to_string(),
        format!(
            "/api/stats/incidents?from=2026-03-20&to=2026-10-31&interval=day&hotspot={}",
            ids[3]
        ),
        "/api/stats/incidents?from=2026-09-07&to=2026-11-29&interval=week&kind=violence"
            .to_string(),
        "/api/stats/alerts?from=2025-12-01&to=2026-11-30&interval=week".to_string(),
        "/api/stats/incidents?from=2026-11-30&to=2026-12-01&interval=day".to_string(),
        "/api/stats/alerts?from=2026-11-30&to=2026-12-01&interval=day".to_string(),
    ]
    .into();
    both_ways(&e, &e.admin, &queries).await;

    // Instants in place of dates read the incidents too, across both daylight-saving changes.
    let (_, by_dates) = e.get(&e.admin, &queries[1]).await;
    let (s, by_instants) = e
        .get(
            &e.admin,
            &format!(
                "/api/stats/incidents?from=2026-03-20T00:00:00%2B02:00\
                 &to=2026-11-01T00:00:00%2B02:00&interval=day&hotspot={}",
                ids[3]
            ),
        )
        .await;
    assert_eq!(s, 200, "{by_instants}");
    assert_eq!(by_dates, by_instants);

    // A user scoped to two hotspots: the same figures both ways, and only theirs.
    let scoped = support::user_token(
        &e.store,
        "forum",
        Role::Supervisor,
        Scope::hotspots([ids[2], ids[5]]),
    )
    .await;
    let mine = both_ways(&e, &scoped, &queries[..4]).await;
    let seen: Vec<&str> = mine[0]["by_hotspot"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hotspot"].as_str().unwrap())
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");

    // An operation whose window is whole hours is counted from the tallies' hours; asked in
    // the other name of the zone, from the incidents' minutes: the same effect.
    let body = json!({
        "name": "nights", "start": "2026-07-01", "end": "2026-08-31",
        "window": {"from": "22:00", "to": "04:00"},
        "hotspots": [ids[0]], "kinds": ["violence"], "comparison": ids[1..].to_vec(),
    });
    let (s, t) = support::call(
        &e.http,
        e.addr,
        Some(&e.admin),
        "POST",
        "/api/operations",
        Some(&body),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let op = support::json(&t)["id"].as_str().unwrap().to_string();
    let (_, hours) = e
        .get(&e.admin, &format!("/api/operations/{op}/effect"))
        .await;
    let (_, minutes) = e
        .get(
            &e.admin,
            &format!("/api/operations/{op}/effect?zone=Asia/Tel_Aviv"),
        )
        .await;
    assert!(
        hours["during"]["incidents"].as_u64().unwrap() > 0,
        "{hours}"
    );
    same_figures(&hours, &minutes, "effect");

    // Changes reach the tallies: an alert raised by hand today (an incident, its alert), then
    // its state; each time the figures equal the incidents' own.
    let today = &queries[4..];
    let before = both_ways(&e, &e.admin, today).await;
    let cam = e.add_camera("kiosk").await;
    e.add_hotspot("Kiosk", cam, (32.2, 34.9), "Asia/Jerusalem")
        .await;
    let (s, t) = support::call(
        &e.http,
        e.addr,
        Some(&e.admin),
        "POST",
        "/api/alerts",
        Some(
            &json!({"source": "camera", "camera": cam.to_string(), "phenomenon": "fight",
                     "severity": "high", "description": "two people fighting"}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let alert = support::json(&t)["alert"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let raised = both_ways(&e, &e.admin, today).await;
    let total = |v: &Value| v["total"].as_u64().unwrap();
    assert_eq!(total(&raised[0]), total(&before[0]) + 1);
    assert_eq!(total(&raised[1]), total(&before[1]) + 1);
    assert_eq!(
        count_of(&raised[0]["by_outcome"], "key", "open"),
        count_of(&before[0]["by_outcome"], "key", "open") + 1
    );
    for (step, body) in [
        ("claim", Value::Null),
        ("acknowledge", json!({"note": "seen"})),
        ("resolve", json!({"note": "handled"})),
    ] {
        let (s, t) = support::call(
            &e.http,
            e.addr,
            Some(&e.admin),
            "POST",
            &format!("/api/alerts/{alert}/{step}"),
            (!body.is_null()).then_some(&body),
        )
        .await;
        assert_eq!(s, 200, "{step}: {t}");
    }
    let resolved = both_ways(&e, &e.admin, today).await;
    assert_eq!(
        count_of(&resolved[0]["by_outcome"], "key", "resolved"),
        count_of(&before[0]["by_outcome"], "key", "resolved") + 1
    );
    assert_eq!(
        count_of(&resolved[0]["by_outcome"], "key", "open"),
        count_of(&before[0]["by_outcome"], "key", "open")
    );
    assert_eq!(
        count_of(&resolved[1]["by_outcome"], "key", "resolved"),
        count_of(&before[1]["by_outcome"], "key", "resolved") + 1
    );
}
