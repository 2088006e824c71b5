//! `roeh camera add|list|remove`, config refusal and the refusal of plain HTTP beyond loopback,
//! through the real binary.

#![allow(clippy::unwrap_used)]

mod common;
use common::{BIN, Site};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn roeh(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn camera_add_list_remove_and_hostile_urls_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let hostile = [
        "rtsp://x/;id",
        "rtsp://x/$(id)",
        "`id`",
        "rtsp://a -i /etc/passwd",
        "file:///etc/shadow",
        "http://camera/stream",
        "rtsp://x/a%0d%0aX: y",
        "rtsp://admin:secret@cam/stream",
    ];
    for url in hostile {
        let out = roeh(&[
            "camera",
            "add",
            "--data-dir",
            d,
            "--name",
            "Bad",
            "--url",
            url,
        ]);
        assert!(!out.status.success(), "{url} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("camera URL"), "unclear error for {url}: {err}");
        assert!(!err.contains("secret"), "password echoed: {err}");
    }
    let long = format!("rtsp://h/{}", "a".repeat(64 * 1024));
    assert!(
        !roeh(&[
            "camera",
            "add",
            "--data-dir",
            d,
            "--name",
            "Long",
            "--url",
            &long
        ])
        .status
        .success()
    );
    let list = roeh(&["camera", "list", "--data-dir", d]);
    assert!(list.status.success());
    assert!(
        list.stdout.is_empty(),
        "something was stored: {}",
        String::from_utf8_lossy(&list.stdout)
    );

    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret-pass\n").unwrap();
    let out = roeh(&[
        "camera",
        "add",
        "--data-dir",
        d,
        "--name",
        "Gate 3",
        "--url",
        "rtsp://127.0.0.1:8554/cam0",
        "--username",
        "viewer",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let list =
        String::from_utf8_lossy(&roeh(&["camera", "list", "--data-dir", d]).stdout).into_owned();
    assert!(
        list.contains(&id) && list.contains("Gate 3") && list.contains("user=viewer"),
        "{list}"
    );
    assert!(!list.contains("s3cret"), "password listed: {list}");
    let out = roeh(&["camera", "remove", "--data-dir", d, &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = roeh(&["camera", "list", "--data-dir", d]);
    assert!(list.stdout.is_empty());
}

#[test]
fn serve_refuses_a_bad_config_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[recording]\nsegment_secz = 3\n").unwrap();
    let out = roeh(&["serve", "--config", cfg.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("segment_secz"), "{err}");
}

/// `roeh serve` with `config`, which must stop by itself; its output. A server that keeps
/// running past the guard is killed and fails the test.
fn serve_must_exit(config: &Path) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "roeh serve did not exit: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn serve_beyond_loopback_needs_tls_and_then_speaks_https() {
    // The first admin is created on loopback, as the start-up error for a non-loopback bind
    // without one asks.
    let site = Site::new(2.0, &[]);
    let (p, _) = site.serve();
    assert!(p.terminate(Duration::from_secs(60)).unwrap().success());
    let text = std::fs::read_to_string(&site.config).unwrap();
    let everywhere = text.replace("listen = \"127.0.0.1:0\"", "listen = \"0.0.0.0:0\"");
    assert_ne!(text, everywhere);
    std::fs::write(&site.config, &everywhere).unwrap();

    // Plain HTTP on all interfaces is refused, naming the keys that fix it.
    let out = serve_must_exit(&site.config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("tls_cert") && err.contains("tls_key") && err.contains("loopback"),
        "{err}"
    );
    assert!(!err.contains("API at"), "it served: {err}");

    // A key that does not belong to the certificate is refused, naming the file.
    let pki =
        roeh_testkit::pki::site_pki(site.dir.path(), roeh_testkit::pki::KeyAlgorithm::Ec).unwrap();
    let (ca, cert, key, ca_key) = (pki.ca, pki.cert, pki.key, pki.ca_key);
    let with_tls = |key: &Path| {
        everywhere.replace(
            "[server]\n",
            &format!(
                "[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\nsecure_cookie = false\n",
                cert.display(),
                key.display()
            ),
        )
    };
    std::fs::write(&site.config, with_tls(&ca_key)).unwrap();
    let out = serve_must_exit(&site.config);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&ca_key.display().to_string()), "{err}");

    // With TLS it starts and answers HTTPS on the port it printed.
    std::fs::write(&site.config, with_tls(&key)).unwrap();
    let p = roeh_testkit::RoehProcess::spawn(
        Path::new(BIN),
        &["serve", "--config", site.config.to_str().unwrap()],
        &site.log,
    )
    .unwrap();
    let bound = roeh_testkit::wait_for("the HTTPS address", Duration::from_secs(60), || {
        let log = std::fs::read_to_string(&site.log).ok()?;
        let line = log.lines().find(|l| l.contains("API at https://"))?;
        let rest = line.split("API at https://").nth(1)?;
        rest.split('/').next()?.parse::<std::net::SocketAddr>().ok()
    })
    .unwrap();
    assert!(bound.ip().is_unspecified(), "{bound}");
    let pem = std::fs::read(&ca).unwrap();
    let https = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", bound.port());
    let r = https.get(format!("{base}/api/health")).send().unwrap();
    assert_eq!(r.status(), 200);
    // Over HTTPS the session cookie is Secure, although the file says secure_cookie = false.
    let r = https
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": roeh_testkit::TEST_ADMIN,
            "password": roeh_testkit::TEST_ADMIN_PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP on that port gets no answer.
    assert!(
        reqwest::blocking::get(format!("http://127.0.0.1:{}/api/health", bound.port())).is_err()
    );
    assert!(p.terminate(Duration::from_secs(60)).unwrap().success());
}

#[test]
fn serve_refuses_a_push_key_others_can_read_before_recording_anything() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = data.join("keys").join("push");
    std::fs::create_dir_all(&keys).unwrap();
    for d in [data.join("keys"), keys.clone()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let key = keys.join("0123456789abcdef.key");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\n\
         MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n\
         -----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = dir.path().join("roeh.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let out = serve_must_exit(&cfg);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("push key"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    // Refused before the recorder started: it made no footage directory.
    assert!(!data.join("footage").exists(), "{err}");
    // With the key's mode fixed, the same site starts (and is stopped by the guard).
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut seen = String::new();
    while std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("API at") {
            break;
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.contains("API at"), "{seen}");
}

/// `roeh report weekly`: a site's week as a PDF (it opens and every page renders) and as CSV
/// whose totals are the generated history's, for the site's zone from the configuration; a bad
/// week is refused by name.
#[test]
fn report_weekly_writes_the_weeks_pdf_and_csv_from_the_sites_database() {
    use roeh_testkit::history::{History, Spec};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("data")).unwrap();
    let cfg = d.join("roeh.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = \"{}\"\n\n[alerts]\ntime_zone = \"Asia/Jerusalem\"\n",
            d.join("data").display()
        ),
    )
    .unwrap();
    // Four weeks of history, loaded straight into the site's database.
    let mut spec = Spec::year();
    spec.first_day = chrono::NaiveDate::from_ymd_opt(2026, 11, 9).unwrap();
    spec.days = 28;
    spec.operation = None;
    let h = History::generate(spec);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = roeh_store::Store::open(d.join("data/roeh.db").to_str().unwrap())
            .await
            .unwrap();
        let items: Vec<roeh_store::HistoryIncident> = h
            .incidents
            .iter()
            .map(|i| roeh_store::HistoryIncident {
                id: i.id,
                rule: uuid::Uuid::from_u128(7),
                camera: roeh_domain::CameraId(i.camera),
                hotspot: h.hotspots[i.hotspot],
                kind: i.kind.to_string(),
                severity: i.severity.to_string(),
                opened_at: roeh_domain::WallTime(i.at_micros),
                model_id: "yolo".into(),
                alert: i.alert.map(|(id, s)| (id, s.to_string())),
            })
            .collect();
        store.insert_history(&items).await.unwrap();
        store.close().await;
    });
    let c = cfg.to_str().unwrap();
    let csv = d.join("w.csv");
    let out = roeh(&[
        "report",
        "weekly",
        "--config",
        c,
        "--week",
        "2026-W48",
        "--format",
        "csv",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let monday = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let want = h.count(|_, day, _, _| monday <= day && day < monday + chrono::Duration::days(7));
    assert!(want > 0);
    assert!(
        text.contains(&format!("summary,2026-W48,incidents,{want}\n")),
        "{want}: {text}"
    );
    let before = h.count(|_, day, _, _| monday - chrono::Duration::days(7) <= day && day < monday);
    assert!(text.contains(&format!(
        "summary,2026-W48,incidents_week_before,{before}\n"
    )));

    let pdf = d.join("w.pdf");
    let out = roeh(&[
        "report",
        "weekly",
        "--config",
        c,
        "--week",
        "2026-W48",
        "--lang",
        "en",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    match Command::new("pdftotext").arg(&pdf).arg("-").output() {
        Ok(t) => {
            let t = String::from_utf8_lossy(&t.stdout);
            assert!(t.contains("Weekly situational picture"), "{t}");
            assert!(t.contains(&want.to_string()), "{t}");
        }
        Err(_) => roeh_testkit::prerequisite_missing(
            "report_weekly",
            "pdftotext (Debian's poppler-utils, installed by scripts/setup.sh)",
        ),
    }
    let out = roeh(&[
        "report",
        "weekly",
        "--config",
        c,
        "--week",
        "2026-48",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ISO week"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
