//! Moving a site from SQLite to PostgreSQL, as an administrator would: record on SQLite, stop
//! roeh, `roeh migrate-store`, point the configuration at PostgreSQL and go on. The copy is
//! proved by the command; afterwards every committed segment is still there, recording goes on,
//! a clip recorded before the move exports from PostgreSQL and verifies offline with the same
//! key, and a checkpoint handed out before the move is extended by one signed after it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BIN, Site, get_json, wait_streaming};
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::footage;
use std::process::{Command, Output};
use std::time::Duration;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn migrate(from: &str, to: &str) -> Output {
    Command::new(BIN)
        .args(["migrate-store", "--from", from, "--to", to])
        .output()
        .unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Segments of `cam` recorded in the last hour.
fn segments(base: &str, cam: &str) -> Vec<serde_json::Value> {
    let now = roeh_domain::Clock::wall(&roeh_domain::SystemClock::new());
    get_json(&format!(
        "{base}/api/cameras/{cam}/segments?start={}&end={}",
        now.minus(Duration::from_secs(3600)).0,
        now.plus(Duration::from_secs(3600)).0
    ))
    .as_array()
    .unwrap()
    .clone()
}

#[test]
fn a_sqlite_site_moves_to_postgresql_and_its_evidence_still_verifies() {
    assert!(roeh_testkit::postgres::have_postgres("migrate_store"));
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 2)).unwrap();
    let cams: Vec<(String, String)> = (0..2)
        .map(|i| (format!("cam{i}"), server.url(i).to_string()))
        .collect();
    let mut site = Site::new(2.0, &cams);

    // On SQLite: a checkpoint handed out once footage is there, then 15 s of footage.
    let (proc_, base) = site.serve();
    let listed = wait_streaming(&base, Some(2)).unwrap();
    let cam = listed[0]["id"].as_str().unwrap().to_string();
    roeh_testkit::wait_for("first segments", Duration::from_secs(60), || {
        (segments(&base, &cam).len() >= 2).then_some(())
    })
    .unwrap();
    let (s, early) = roeh_testkit::post(
        &format!("{base}/api/log/checkpoint"),
        &serde_json::json!({}),
    )
    .unwrap();
    assert!(s == 200 || s == 201, "{early}");
    roeh_testkit::wait_for("15 s recorded", Duration::from_secs(60), || {
        let segs = segments(&base, &cam);
        let first = segs.first()?["start_us"].as_i64()?;
        let last = segs.last()?["end_us"].as_i64()?;
        (last - first >= 15_000_000).then_some(())
    })
    .unwrap();
    let before_move = segments(&base, &cam);
    let (start, end) = (
        before_move.first().unwrap()["start_us"].as_i64().unwrap(),
        before_move.last().unwrap()["end_us"].as_i64().unwrap(),
    );
    let keys = get_json(&format!("{base}/api/keys"));
    proc_.terminate(Duration::from_secs(20)).unwrap();
    let on_sqlite = common::check_footage(&site);
    assert!(on_sqlite.len() >= 10, "{} segments", on_sqlite.len());
    let key_path = site.dir.path().join("site-key.pem");
    std::fs::write(&key_path, keys[0]["pem"].as_str().unwrap()).unwrap();

    // Bad input changes nothing: a missing source, a target that is not PostgreSQL.
    let cluster = roeh_testkit::postgres::Cluster::start(site.dir.path()).unwrap();
    let url = cluster.create_database("roeh").unwrap();
    let db = site.data().join("roeh.db");
    let o = migrate(site.dir.path().join("nothing.db").to_str().unwrap(), &url);
    assert!(!o.status.success());
    assert!(text(&o).contains("no file at"), "{}", text(&o));
    assert!(!site.dir.path().join("nothing.db").exists());
    let o = migrate(db.to_str().unwrap(), "sqlite:///tmp/x.db");
    assert!(!o.status.success());
    assert!(text(&o).contains("PostgreSQL URL"), "{}", text(&o));

    // The move, proved by the command.
    let o = migrate(&format!("sqlite://{}", db.display()), &url);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    eprintln!("{out}");
    assert!(out.contains("segments"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("OK")), "{out}");
    // A second run finds a site there and refuses, naming a table.
    let o = migrate(db.to_str().unwrap(), &url);
    assert!(!o.status.success());
    assert!(text(&o).contains("not empty (table "), "{}", text(&o));

    // roeh on PostgreSQL: the same footage, every chain and leaf verifying.
    let toml = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        toml.replacen(
            "[server]\n",
            &format!("[server]\ndatabase_url = \"{url}\"\n"),
            1,
        ),
    )
    .unwrap();
    site.pg = Some(cluster);
    let on_postgres = common::check_footage(&site);
    assert_eq!(on_postgres, on_sqlite);

    // Recording goes on, on PostgreSQL, extending the same chains.
    let (proc_, base) = site.serve();
    wait_streaming(&base, Some(2)).unwrap();
    roeh_testkit::wait_for("new footage", Duration::from_secs(60), || {
        (segments(&base, &cam).len() >= before_move.len() + 3).then_some(())
    })
    .unwrap();

    // A clip recorded before the move exports and verifies with the site's same key.
    let (s, job) = roeh_testkit::post(
        &format!("{base}/api/exports"),
        &serde_json::json!({"camera": cam,
            "start": roeh_domain::WallTime(start).to_rfc3339(),
            "end": roeh_domain::WallTime(end).to_rfc3339(),
            "reason": "recorded before the move", "case": "PD-2026-0815", "form": "directory"}),
    )
    .unwrap();
    assert_eq!(s, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    roeh_testkit::wait_for("export done", Duration::from_secs(60), || {
        let j = get_json(&format!("{base}/api/exports/{id}"));
        match j["state"].as_str()? {
            "done" => Some(()),
            "failed" => panic!("export failed: {j}"),
            _ => None,
        }
    })
    .unwrap();
    let keys_now = get_json(&format!("{base}/api/keys"));
    assert_eq!(keys_now, keys, "the same site key signs");
    let bundle = site.data().join("exports").join(&id);
    let o = Command::new(BIN)
        .args(["verify", "--key"])
        .arg(&key_path)
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The checkpoint handed out on SQLite is extended by one signed on PostgreSQL.
    let (s, late) = roeh_testkit::post(
        &format!("{base}/api/log/checkpoint"),
        &serde_json::json!({}),
    )
    .unwrap();
    assert!(s == 200 || s == 201, "{late}");
    let (from, to) = (
        early["size"].as_u64().unwrap(),
        late["size"].as_u64().unwrap(),
    );
    assert!(to > from && from > 0, "{from} → {to}");
    let proof = get_json(&format!("{base}/api/log/consistency?from={from}&to={to}"));
    let key = roeh_evidence::verify::read_public_key(&key_path).unwrap();
    let verdict = roeh_evidence::verify::verify_consistency(
        &key,
        early["text"].as_str().unwrap().as_bytes(),
        &unhex(early["signature"].as_str().unwrap()),
        late["text"].as_str().unwrap().as_bytes(),
        &unhex(late["signature"].as_str().unwrap()),
        proof.to_string().as_bytes(),
    )
    .unwrap();
    assert!(
        matches!(
            verdict,
            roeh_evidence::verify::Consistency::Consistent { .. }
        ),
        "{verdict:?}"
    );

    proc_.terminate(Duration::from_secs(20)).unwrap();
    let after = common::check_footage(&site);
    for (k, sha) in &on_sqlite {
        assert_eq!(after.get(k), Some(sha), "segment {k:?} kept");
    }
    assert!(after.len() > on_sqlite.len());
}
