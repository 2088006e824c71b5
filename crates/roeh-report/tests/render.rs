//! The weekly report rendered for real: typst lays out the PDF, poppler (`pdfinfo`,
//! `pdftoppm`, `pdftotext`) reads it back as a reader would: it opens, every page renders, it
//! is A4, the Hebrew is there in logical order and names cannot inject markup. Page 1 is
//! written as a PNG under `target/report-pages/` for people to look at.

#![allow(clippy::unwrap_used)]

use roeh_report::{Lang, Weekly, WeeklyRow};
use std::path::PathBuf;
use std::process::Command;

fn row(label: &str, values: &[&str]) -> WeeklyRow {
    WeeklyRow {
        label: label.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn week(lang: Lang, incidents: u64) -> Weekly {
    let mut heat = vec![vec![0u64; 24]; 7];
    if incidents > 0 {
        for (wd, r) in heat.iter_mut().enumerate() {
            for (h, n) in r.iter_mut().enumerate() {
                *n = if !(4..22).contains(&h) {
                    3 + wd as u64
                } else {
                    (h % 3) as u64
                };
            }
        }
    }
    Weekly {
        lang,
        week: "2026-W49".into(),
        first_day: "2026-11-30".into(),
        last_day: "2026-12-06".into(),
        time_zone: "Asia/Jerusalem".into(),
        generated_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        hotspot: None,
        incidents,
        incidents_before: 40,
        alerts: incidents / 3,
        false_alarms: incidents / 10,
        days: [
            "30.11", "01.12", "02.12", "03.12", "04.12", "05.12", "06.12",
        ]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                d.to_string(),
                if incidents > 0 { 3 + i as u64 * 2 } else { 0 },
            )
        })
        .collect(),
        weeks: (38..=49)
            .map(|w| (format!("W{w}"), if incidents > 0 { w as u64 } else { 0 }))
            .collect(),
        heat,
        hotspots: if incidents > 0 {
            vec![
                row("טיילת צפון", &["21", "30"]),
                row("Station square", &["9", "10"]),
                row("#panic(\"x\") ] *bold*", &["1", "0"]),
            ]
        } else {
            vec![]
        },
        kinds: vec![row("violence", &["20"]), row("vandalism", &["11"])],
        outcomes: vec![row("resolved", &["12"]), row("false_alarm", &["4"])],
        response: vec![row("טיילת צפון", &["7", "42 s", "95 s", "610 s"])],
        external: vec![row("police · violence · North", &["31"])],
        operations: vec![row("לילות קיץ בטיילת", &["0.61 (0.55–0.68)"])],
        queries: vec!["GET /api/stats/incidents?from=2026-11-30&to=2026-12-06&interval=day".into()],
    }
}

fn tool(name: &str) -> bool {
    let ok = Command::new(name).arg("-v").output().is_ok();
    if !ok {
        roeh_testkit::prerequisite_missing(
            "the weekly report",
            &format!("{name} (Debian's poppler-utils, installed by scripts/setup.sh)"),
        );
    }
    ok
}

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/report-pages");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check(w: &Weekly, name: &str) -> String {
    let pdf = roeh_report::pdf(w).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = out_dir();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, &pdf).unwrap();
    let info = Command::new("pdfinfo").arg(&path).output().unwrap();
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let info = String::from_utf8(info.stdout).unwrap();
    assert!(info.contains("(A4)"), "A4: {info}");
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pages >= 1);
    // Every page renders.
    let prefix = dir.join(name);
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.starts_with(&format!("{name}-")) && n.ends_with(".png") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let r = Command::new("pdftoppm")
        .args(["-png", "-r", "70"])
        .arg(&path)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rendered = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            let n = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .to_string();
            n.starts_with(&format!("{name}-")) && n.ends_with(".png")
        })
        .count();
    assert_eq!(rendered, pages, "every page rendered");
    let text = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    String::from_utf8(text.stdout).unwrap()
}

#[test]
fn the_hebrew_report_opens_on_a4_renders_every_page_and_holds_its_figures() {
    if !tool("pdftoppm") {
        return;
    }
    let text = check(&week(Lang::He, 123), "weekly-he");
    assert!(
        text.contains("תמונת מצב שבועית") || text.contains("תיובש בצמ תנומת"),
        "{text}"
    );
    assert!(text.contains("123"), "the total");
    assert!(text.contains("0.61"), "the operation's ratio");
    // A name is text, not markup: its characters are printed as given.
    assert!(text.contains("#panic"), "{text}");
}

#[test]
fn the_english_report_and_a_week_without_incidents_say_so() {
    if !tool("pdftoppm") {
        return;
    }
    let text = check(&week(Lang::En, 123), "weekly-en");
    assert!(text.contains("Weekly situational picture"), "{text}");
    assert!(text.contains("Station square"));
    let empty = check(&week(Lang::En, 0), "weekly-empty-en");
    assert!(
        empty.contains("No incidents were recorded this week."),
        "{empty}"
    );
}
