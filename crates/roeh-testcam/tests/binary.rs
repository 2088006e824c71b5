//! The `roeh-testcam` binary prints its URLs, serves them, and exits cleanly on SIGINT.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{footage, probe};

#[test]
fn binary_serves_until_interrupted() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roeh-testcam"))
        .arg("--footage")
        .arg(footage("vtest_h264_small.mp4"))
        .args(["--cameras", "3", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let urls: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    for (i, url) in urls.iter().enumerate() {
        assert!(url.starts_with("rtsp://127.0.0.1:"), "{url}");
        assert!(url.ends_with(&format!("/cam{i}")), "{url}");
    }

    let p = probe(&urls[2], 2);
    assert_eq!(p.codec, "h264");
    assert_eq!((p.width, p.height), (384, 288));
    assert!(p.pts.len() >= 10);

    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "roeh-testcam did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "roeh-testcam exited with {exit}");
}
