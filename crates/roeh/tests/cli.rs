//! `roeh camera add|list|remove` and config refusal, through the real binary.

#![allow(clippy::unwrap_used)]

mod common;
use common::BIN;
use std::process::Command;

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
