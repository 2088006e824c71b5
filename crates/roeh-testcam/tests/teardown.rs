//! Stopping a server leaves nothing running: its thread and every session's streaming threads
//! end, and its port is free. Kept in its own test binary so other tests' threads do not count.

mod common;

use std::time::Duration;

use common::{footage, run_ffprobe, wait_until};
use roeh_testcam::{TestCamConfig, TestCamServer};

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect()
}

#[test]
fn stop_ends_every_thread_and_frees_the_port() {
    let server =
        TestCamServer::start(TestCamConfig::new(footage("vtest_h264_small.mp4"), 2)).unwrap();
    let port = server.port();
    let urls = server.urls();
    let readers: Vec<_> = urls
        .into_iter()
        .map(|u| std::thread::spawn(move || run_ffprobe(&u, 30)))
        .collect();
    assert!(wait_until(Duration::from_secs(10), || server
        .frames_sent(0)
        > 3
        && server.frames_sent(1) > 3));
    let running = thread_names();
    eprintln!("while serving: {running:?}");
    assert!(running.iter().any(|n| n.starts_with("roeh-testcam-")));

    server.stop();
    for r in readers {
        r.join().unwrap();
    }
    // Session pipelines stop synchronously; give the OS a moment to reap exiting threads.
    let quiet = wait_until(Duration::from_secs(5), || {
        thread_names().iter().all(|n| {
            !n.starts_with("roeh-testcam-") && !n.ends_with(":src") && !n.starts_with("rtpsession")
        })
    });
    assert!(quiet, "threads left after stop: {:?}", thread_names());
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free after stop");
}
