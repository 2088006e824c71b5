//! RFC 3161 timestamps of checkpoints against a local TSA made with the stock `openssl` tool
//! and served over HTTP, and against TSAs that answer badly. The store is in memory, or a fresh
//! PostgreSQL database where `ROEH_STORE_TEST_POSTGRES=1` ([`store`]).
#![allow(clippy::unwrap_used)]

#[path = "../../roeh-evidence/tests/fixture/mod.rs"]
mod fixture;

use roeh_custody::{Custody, CustodyConfig, TsaClient, TsaConfig};
use roeh_domain::{ErrorKind, SystemClock};
use roeh_evidence::tsa::{check_response, request_der};
use roeh_store::Store;
use roeh_testkit::tsa::{TestTsa, have_openssl};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn config(dir: &Path) -> CustodyConfig {
    CustodyConfig {
        keys_dir: dir.join("keys"),
        exports_dir: dir.join("exports"),
        footage_root: dir.join("footage"),
        origin: "roeh:test".into(),
        checkpoint_every: Duration::from_secs(60),
    }
}

fn tsa_config(url: &str) -> TsaConfig {
    TsaConfig {
        url: url.to_string(),
        timeout: Duration::from_secs(10),
    }
}

/// A new empty store: SQLite in memory, or a database on the binary's PostgreSQL cluster.
async fn store() -> Store {
    let db = roeh_testkit::postgres::test_database().unwrap_or_else(|| "sqlite::memory:".into());
    Store::open(&db).await.unwrap()
}

async fn open(dir: &Path, tsa: Option<TsaConfig>) -> (Arc<Custody>, Store) {
    let store = store().await;
    let custody = Custody::open_with_tsa(
        store.clone(),
        Arc::new(SystemClock::new()),
        config(dir),
        tsa,
    )
    .await
    .unwrap();
    (custody, store)
}

/// Reads one HTTP request (head and `Content-Length` body) and answers `reply`; repeats for
/// every connection.
fn serve_fixed(reply: Vec<u8>) -> String {
    serve_with(move |_| reply.clone())
}

/// Reads one HTTP request (head and `Content-Length` body) and answers what `answer` makes of
/// its body; repeats for every connection.
fn serve_with(answer: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut body_at = 0;
            let mut chunk = [0u8; 4096];
            while let Ok(n) = conn.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    body_at = i + 4;
                    if buf.len() >= body_at + len {
                        break;
                    }
                }
            }
            let _ = conn.write_all(&answer(buf.get(body_at..).unwrap_or(&[])));
        }
    });
    format!("http://{addr}/tsa")
}

fn http_reply(status: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A temporary directory with a local TSA in it; `None` when openssl is missing (the test then
/// checks nothing).
fn local_tsa() -> Option<(tempfile::TempDir, TestTsa)> {
    if !have_openssl() {
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    let tsa = TestTsa::create(&t.path().join("tsa")).unwrap();
    Some((t, tsa))
}

#[tokio::test]
async fn checkpoints_are_timestamped_by_a_local_tsa() {
    let Some((t, tsa)) = local_tsa() else {
        return;
    };
    let url = tsa.serve().unwrap();
    let (custody, store) = open(t.path(), Some(tsa_config(&url))).await;

    let cp = custody.checkpoint().await.unwrap();
    let row = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(row.text, cp.text);
    let tsr = store
        .checkpoint_tsa(row.id)
        .await
        .unwrap()
        .expect("a timestamp");
    let digest: [u8; 32] = Sha256::digest(cp.text.as_bytes()).into();
    let info = check_response(&tsr, &digest, None).unwrap();
    assert_eq!(info.hashed_message, digest);

    // The stock tool verifies it over the checkpoint text, with the TSA's CA.
    let tsr_path = t.path().join("checkpoint.tsr");
    let txt_path = t.path().join("checkpoint.txt");
    std::fs::write(&tsr_path, &tsr).unwrap();
    std::fs::write(&txt_path, cp.text.as_bytes()).unwrap();
    assert!(tsa.openssl_verifies(&tsr_path, &txt_path));
    // Not over other bytes.
    std::fs::write(&txt_path, format!("{}x", cp.text)).unwrap();
    assert!(!tsa.openssl_verifies(&tsr_path, &txt_path));

    // The log grows: the next checkpoint gets its own timestamp.
    custody
        .record_access("footage_viewed", "operator-1", None, serde_json::json!({}))
        .await
        .unwrap();
    let cp2 = custody.checkpoint().await.unwrap();
    assert!(cp2.size > cp.size);
    let row2 = store.latest_checkpoint().await.unwrap().unwrap();
    assert_ne!(row2.id, row.id);
    let tsr2 = store.checkpoint_tsa(row2.id).await.unwrap().unwrap();
    let digest2: [u8; 32] = Sha256::digest(cp2.text.as_bytes()).into();
    check_response(&tsr2, &digest2, None).unwrap();
    // A token for one checkpoint does not stamp the other.
    assert!(check_response(&tsr, &digest2, None).is_err());
    // The first one's timestamp is unchanged.
    assert_eq!(store.checkpoint_tsa(row.id).await.unwrap(), Some(tsr));
}

#[tokio::test]
async fn a_failing_tsa_never_blocks_checkpoints() {
    let t = tempfile::tempdir().unwrap();
    // A port nobody listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (custody, store) = open(t.path(), Some(tsa_config(&format!("http://{closed}/")))).await;
    let cp = custody.checkpoint().await.unwrap();
    let row = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(row.text, cp.text);
    assert_eq!(store.checkpoint_tsa(row.id).await.unwrap(), None);

    // A TSA answering garbage: the checkpoint is kept, without a timestamp.
    let t2 = tempfile::tempdir().unwrap();
    let url = serve_fixed(http_reply(
        "200 OK",
        "application/timestamp-reply",
        b"not DER",
    ));
    let (custody, store) = open(t2.path(), Some(tsa_config(&url))).await;
    custody.checkpoint().await.unwrap();
    let row = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(store.checkpoint_tsa(row.id).await.unwrap(), None);
}

#[tokio::test]
async fn bad_urls_are_refused_at_open() {
    let t = tempfile::tempdir().unwrap();
    let store = store().await;
    for url in [
        "https://tsa.example/",
        "ftp://tsa.example/",
        "not a url",
        "http://",
    ] {
        let e = Custody::open_with_tsa(
            store.clone(),
            Arc::new(SystemClock::new()),
            config(t.path()),
            Some(tsa_config(url)),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}: {e}");
    }
    let e = TsaClient::new(&TsaConfig {
        url: "http://127.0.0.1/".into(),
        timeout: Duration::ZERO,
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn bad_answers_are_refused() {
    let Some((_t, tsa)) = local_tsa() else {
        return;
    };
    let good_url = tsa.serve().unwrap();
    let client = |url: &str| TsaClient::new(&tsa_config(url)).unwrap();

    // The real TSA: accepted, and it stamps the data's hash.
    let (resp, info) = client(&good_url).timestamp(b"data\n").await.unwrap();
    let digest: [u8; 32] = Sha256::digest(b"data\n").into();
    assert_eq!(info.hashed_message, digest);
    check_response(&resp, &digest, None).unwrap();

    // A client of a server that answers every request with `body` (a timestamp reply).
    let answering = |body: &[u8]| {
        client(&serve_fixed(http_reply(
            "200 OK",
            "application/timestamp-reply",
            body,
        )))
    };

    // A genuine token for another hash.
    let other: [u8; 32] = Sha256::digest(b"other\n").into();
    let foreign = tsa.reply(&request_der(&other, 5)).unwrap();
    let e = answering(&foreign).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("imprint"), "{e}");

    // The right hash but a replayed answer (the nonce of another request).
    let replay = tsa.reply(&request_der(&digest, 5)).unwrap();
    let e = answering(&replay).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("nonce"), "{e}");

    // A flipped byte in the token's stamped hash.
    let at = replay.windows(32).position(|w| w == digest).unwrap();
    let mut flipped = replay.clone();
    flipped[at + 31] ^= 1;
    let e = answering(&flipped).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("imprint"), "{e}");

    // The right hash and nonce, but a flipped byte in the TSA's signature: a forged answer.
    let forging = tsa.clone();
    let url = serve_with(move |query| {
        let mut resp = forging.reply(query).unwrap();
        let last = resp.len() - 3;
        resp[last] ^= 0x01;
        http_reply("200 OK", "application/timestamp-reply", &resp)
    });
    let e = client(&url).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("signature"), "{e}");

    // Wrong media type, an HTTP error, a redirect (to the real TSA: not followed), too large.
    let url = serve_fixed(http_reply("200 OK", "text/html", &replay));
    let e = client(&url).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("text/html"), "{e}");
    let url = serve_fixed(http_reply(
        "500 Internal Server Error",
        "text/plain",
        b"down",
    ));
    let e = client(&url).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("500"), "{e}");
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: {good_url}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let url = serve_fixed(redirect.into_bytes());
    let e = client(&url).timestamp(b"data\n").await.unwrap_err();
    assert!(e.to_string().contains("302"), "{e}");
    let url = serve_fixed(http_reply(
        "200 OK",
        "application/timestamp-reply",
        &vec![0u8; 70 * 1024],
    ));
    let e = client(&url).timestamp(b"data\n").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceExhausted, "{e}");
    // Too large without a Content-Length (streamed until the cap).
    let mut chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nConnection: close\r\n\r\n".to_vec();
    chunked.extend(vec![0u8; 70 * 1024]);
    let url = serve_fixed(chunked);
    let e = client(&url).timestamp(b"data\n").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceExhausted, "{e}");

    // A TSA that never answers: the request ends with the timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let slow = TsaClient::new(&TsaConfig {
        url: format!("http://{addr}/"),
        timeout: Duration::from_millis(300),
    })
    .unwrap();
    let e = slow.timestamp(b"data\n").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    drop(silent);
}

#[tokio::test]
async fn exports_carry_the_checkpoint_timestamp() {
    use crate::fixture::{FixtureOptions, fixture};
    use roeh_custody::{ExportForm, ExportRequest};
    use roeh_domain::{Camera, CameraUrl, Retention, Transport, WallTime};
    use roeh_evidence::bundle::{CHECKPOINT_TSR, CHECKPOINT_TXT};
    use roeh_evidence::chain::{SegmentLinkInput, ZERO_LINK, chain_link};
    use roeh_evidence::verify::{Verdict, verify_bundle};
    use roeh_store::ExportState;

    let Some((t, tsa)) = local_tsa() else {
        return;
    };
    let url = tsa.serve().unwrap();

    // Four recorded segments of the test footage, committed before the service opens (it logs
    // them at start-up).
    let work = t.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let fx = fixture(&work, FixtureOptions::default()).unwrap();
    let store = store().await;
    let camera = Camera {
        id: fx.input.camera,
        name: "cam".into(),
        url: CameraUrl::parse("rtsp://127.0.0.1:8554/cam").unwrap(),
        credentials: None,
        transport: Transport::Tcp,
        enabled: true,
        retention: Retention {
            max_age: None,
            max_bytes: None,
        },
    };
    store.insert_camera(&camera, WallTime(0)).await.unwrap();
    let cfg = config(t.path());
    let mut prev = ZERO_LINK;
    for (k, bs) in fx.input.segments.iter().enumerate() {
        let mut s = bs.segment.clone();
        s.seq = k as u64 + 1;
        s.prev_chain = prev;
        s.chain = chain_link(&prev, &SegmentLinkInput::from(&s));
        prev = s.chain;
        let path = roeh_recorder::segment_path(&cfg.footage_root, s.camera, s.seq, s.codec);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(&bs.path, &path).unwrap();
        store.insert_segment(&s, &bs.frames).await.unwrap();
    }
    let (first, last) = (
        fx.input.segments.first().unwrap().segment.start,
        fx.input.segments.last().unwrap().segment.end,
    );
    let custody = Custody::open_with_tsa(
        store.clone(),
        Arc::new(SystemClock::new()),
        cfg,
        Some(tsa_config(&url)),
    )
    .await
    .unwrap();

    let job = custody
        .start_export(ExportRequest {
            camera: camera.id,
            start: first,
            end: last,
            reason: "incident review".into(),
            case_ref: "CASE-1".into(),
            requester: "operator-1".into(),
            form: ExportForm::Directory,
        })
        .await
        .unwrap();
    let mut done = None;
    for _ in 0..600 {
        let row = custody.export_status(&job.id).await.unwrap().unwrap();
        match row.state {
            ExportState::Done => {
                done = Some(row);
                break;
            }
            ExportState::Failed => panic!("export failed: {:?}", row.error),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let done = done.expect("the export finishes");
    let dir = std::path::PathBuf::from(done.path.unwrap());

    // The bundle holds the timestamp of the checkpoint it was built on, and verifies with it.
    let v = verify_bundle(&dir, None, &mut |_, _| {}).unwrap();
    let Verdict::Ok { summary, .. } = &v else {
        panic!("{v}")
    };
    assert!(summary.timestamp.is_some(), "{v}");
    let text = std::fs::read(dir.join(CHECKPOINT_TXT)).unwrap();
    let row = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(text, row.text.as_bytes());
    assert_eq!(
        std::fs::read(dir.join(CHECKPOINT_TSR)).unwrap(),
        store.checkpoint_tsa(row.id).await.unwrap().unwrap()
    );
    assert!(tsa.openssl_verifies(&dir.join(CHECKPOINT_TSR), &dir.join(CHECKPOINT_TXT)));
}
