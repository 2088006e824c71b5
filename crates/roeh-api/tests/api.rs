//! The HTTP API over a real store (SQLite, or PostgreSQL: see `support`): bad input is refused with
//! clear errors and changes nothing. The recorder side is a stand-in that records which cameras
//! were started, since these tests are about the HTTP surface (the recording path is tested end to
//! end in `crates/roeh`).

#![allow(clippy::unwrap_used)]

mod support;

use support::call_app as call;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use roeh_api::{AppState, CameraControl, router};
use roeh_domain::{Camera, CameraId, StreamHealth};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Started(Mutex<Vec<CameraId>>);

impl CameraControl for Started {
    fn health(&self, _id: CameraId) -> Option<StreamHealth> {
        None
    }
    fn start_camera(&self, camera: Camera) {
        self.0.lock().unwrap().push(camera.id);
    }
    fn stop_camera(&self, id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().unwrap().retain(|c| *c != id);
        Box::pin(async {})
    }
}

async fn app() -> (
    axum::Router,
    Arc<Started>,
    roeh_store::Store,
    tempfile::TempDir,
) {
    let site = support::default_site().await;
    let started = Arc::new(Started::default());
    let state = AppState {
        control: started.clone(),
        ..site.state
    };
    (
        support::with_token(router(state), site.admin),
        started,
        site.store,
        site.dir,
    )
}

fn post(uri: &str, body: String) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn hostile_camera_urls_are_refused_and_nothing_is_stored() {
    let (app, started, store, _dir) = app().await;
    let long = format!("rtsp://h/{}", "a".repeat(64 * 1024));
    let urls = [
        "rtsp://x/;id",
        "rtsp://x/$(id)",
        "rtsp://x/`id`",
        "|id",
        "rtsp://a -i /etc/passwd",
        "exec:sh -c id",
        "file:///etc/shadow",
        "ffmpeg:x",
        "concat:a",
        "http://cam/x",
        "rtsp://x/a%0d%0aX: y",
        "rtsp://x/\u{1b}[31m",
        "rtsp://admin:pw@cam/x",
    ];
    for url in urls {
        let body = serde_json::json!({ "name": "Bad", "url": url }).to_string();
        let (status, v) = call(&app, post("/api/cameras", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["error"]["kind"], "invalid_argument");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("camera URL"),
            "{v}"
        );
    }
    // 64 KiB URL: refused by the body cap or the URL check, either way nothing stored.
    let (status, _) = call(
        &app,
        post(
            "/api/cameras",
            serde_json::json!({"name": "L", "url": long}).to_string(),
        ),
    )
    .await;
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::PAYLOAD_TOO_LARGE,
        "{status}"
    );
    // Malformed JSON, unknown fields, bad names.
    for body in [
        "{",
        "[]",
        r#"{"name":"a","url":"rtsp://h/x","shell":"id"}"#,
        r#"{"name":"","url":"rtsp://h/x"}"#,
        r#"{"name":"a\u0000b","url":"rtsp://h/x"}"#,
    ] {
        let (status, v) = call(&app, post("/api/cameras", body.to_string())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    assert!(store.list_cameras().await.unwrap().is_empty());
    assert!(started.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn cameras_add_get_remove_without_ever_returning_passwords() {
    let (app, started, store, _dir) = app().await;
    let body = serde_json::json!({
        "name": "Central station <north>", "url": "rtsp://127.0.0.1:8554/cam0",
        "username": "viewer", "password": "hunter2-secret", "transport": "udp"
    });
    let (status, v) = call(&app, post("/api/cameras", body.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(!v.to_string().contains("hunter2"), "{v}");
    assert_eq!(v["has_password"], true);
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(started.0.lock().unwrap().len(), 1);
    let (status, list) = call(
        &app,
        Request::get("/api/cameras").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains("hunter2"));
    assert_eq!(list[0]["transport"], "udp");
    // Stored with the password (for the camera), never shown.
    let cam = store
        .get_camera(CameraId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cam.credentials.unwrap().password.expose(), "hunter2-secret");
    let (status, _) = call(
        &app,
        Request::delete(format!("/api/cameras/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.0.lock().unwrap().is_empty());
    let (status, _) = call(
        &app,
        Request::get(format!("/api/cameras/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ranges_and_ids_are_validated() {
    let (app, _started, _store, _dir) = app().await;
    let body = serde_json::json!({ "name": "A", "url": "rtsp://127.0.0.1/x" }).to_string();
    let (_, v) = call(&app, post("/api/cameras", body)).await;
    let id = v["id"].as_str().unwrap().to_string();
    for q in [
        "start=yesterday",
        "start=2026-11-22T10:00:00Z&end=2026-11-22T09:00:00Z",
        "start=1&end=1",
        "sort=id;DROP%20TABLE%20cameras",
    ] {
        let (status, v) = call(
            &app,
            Request::get(format!("/api/cameras/{id}/segments?{q}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    let (status, _) = call(
        &app,
        Request::get(format!("/api/cameras/{id}/mp4?start=0&end=86400000000"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a day-long MP4 is refused");
    let (status, v) = call(
        &app,
        Request::get(format!("/api/cameras/{id}/mp4?start=0&end=1000000"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    for bad in [
        "../../etc/passwd",
        "%2e%2e%2fetc",
        "00000000-0000-0000-0000-000000000000",
        "1%20OR%201=1",
    ] {
        let (status, _) = call(
            &app,
            Request::get(format!("/api/cameras/{bad}/segments"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    let (status, v) = call(
        &app,
        Request::get("/api/health").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["cameras"], 1);
}

#[tokio::test]
async fn evidence_routes_refuse_bad_requests_and_serve_keys_and_checkpoints() {
    let (app, _started, store, _dir) = app().await;
    // The site key exists from the first start and is served as PEM.
    let (s, keys) = call(&app, Request::get("/api/keys").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let pem = keys[0]["pem"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    assert_eq!(keys[0]["key_id"].as_str().unwrap().len(), 16);
    let (s, cp) = call(
        &app,
        Request::get("/api/log/checkpoint")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(cp["size"].as_u64().unwrap() >= 1, "key creation is logged");
    assert!(
        cp["text"]
            .as_str()
            .unwrap()
            .starts_with("roeh-checkpoint/v1\nroeh:test\n")
    );
    assert_eq!(cp["signature"].as_str().unwrap().len(), 128);

    let (s, cam) = call(
        &app,
        post(
            "/api/cameras",
            r#"{"name":"gate","url":"rtsp://127.0.0.1:9/x"}"#.into(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{cam}");
    let id = cam["id"].as_str().unwrap();
    let size_before = store.log_size().await.unwrap();

    let export = |body: serde_json::Value| post("/api/exports", body.to_string());
    let base = serde_json::json!({"camera": id, "start": "2026-11-22T10:00:00Z",
        "end": "2026-11-22T10:01:00Z", "reason": "fight", "case": "PD-1"});
    for (field, value, status) in [
        ("reason", serde_json::json!(""), StatusCode::BAD_REQUEST),
        ("case", serde_json::json!("   "), StatusCode::BAD_REQUEST),
        ("case", serde_json::json!(7), StatusCode::BAD_REQUEST),
        (
            "reason",
            serde_json::json!("a\u{0007}b"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "end",
            serde_json::json!("2026-11-22T09:00:00Z"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "end",
            serde_json::json!("2026-12-22T09:00:00Z"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "start",
            serde_json::json!("yesterday"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "camera",
            serde_json::json!(CameraId::new_random().to_string()),
            StatusCode::NOT_FOUND,
        ),
        ("form", serde_json::json!("tar"), StatusCode::BAD_REQUEST),
        ("extra", serde_json::json!(1), StatusCode::BAD_REQUEST),
    ] {
        let mut b = base.clone();
        b[field] = value.clone();
        let (s, body) = call(&app, export(b)).await;
        assert_eq!(s, status, "{field}={value}: {body}");
    }
    // No footage in range: refused, not an empty bundle.
    let (s, _) = call(&app, export(base.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(store.exports(10).await.unwrap().len(), 0);

    for (uri, status) in [
        ("/api/exports/not-a-uuid", StatusCode::BAD_REQUEST),
        ("/api/exports/../../etc/passwd", StatusCode::NOT_FOUND),
        (
            "/api/exports/6f1c1b0e-1111-4222-8333-944445555666",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/exports/6f1c1b0e-1111-4222-8333-944445555666/download",
            StatusCode::NOT_FOUND,
        ),
        ("/api/log/consistency?from=5&to=2", StatusCode::BAD_REQUEST),
        (
            "/api/log/consistency?from=0&to=999999",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/log/consistency?from=x", StatusCode::BAD_REQUEST),
    ] {
        let (s, body) = call(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(s, status, "{uri}: {body}");
    }

    // Holds.
    let hold = serde_json::json!({"camera": id, "start": "2026-11-22T10:00:00Z",
        "end": "2026-11-22T10:01:00Z", "case": "PD-1", "reason": "fight"});
    for (field, value) in [
        ("end", serde_json::json!("2026-11-22T09:00:00Z")),
        ("case", serde_json::json!("")),
        ("reason", serde_json::json!("   ")),
        ("camera", serde_json::json!("../x")),
    ] {
        let mut b = hold.clone();
        b[field] = value.clone();
        let (s, body) = call(&app, post("/api/holds", b.to_string())).await;
        assert!(s.is_client_error(), "{field}={value}: {s} {body}");
    }
    assert_eq!(
        store.log_size().await.unwrap(),
        size_before,
        "refusals log nothing"
    );
    let (s, h) = call(&app, post("/api/holds", hold.to_string())).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let hid = h["id"].as_i64().unwrap();
    let (s, list) = call(
        &app,
        Request::get("/api/holds").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let clear = format!("/api/holds/{hid}/clear");
    let (s, _) = call(&app, post(&clear, r#"{"reason":""}"#.into())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&app, post(&clear, r#"{"reason":"closed"}"#.into())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(&app, post(&clear, r#"{"reason":"closed"}"#.into())).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(
        &app,
        post("/api/holds/999/clear", r#"{"reason":"x"}"#.into()),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        store.log_size().await.unwrap(),
        size_before + 2,
        "set and clear are logged"
    );
}

#[tokio::test]
async fn holds_and_exports_can_name_an_incident_instead_of_a_range() {
    let (app, _started, store, _dir) = app().await;
    let (s, cam) = call(
        &app,
        post(
            "/api/cameras",
            r#"{"name":"kiosk","url":"rtsp://127.0.0.1:9/k"}"#.into(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{cam}");
    let camera = CameraId::parse(cam["id"].as_str().unwrap()).unwrap();
    let inc = roeh_store::NewIncident {
        id: uuid::Uuid::new_v4(),
        rule_id: uuid::Uuid::new_v4(),
        camera,
        hotspot_id: uuid::Uuid::new_v4(),
        seq: 1,
        kind: "intrusion".into(),
        severity: "high".into(),
        priority: 1,
        alerting: true,
        reason: "person in zone".into(),
        opened_at: roeh_domain::WallTime::from_secs(1_800_000_010),
        peak_score: 0.9,
        track_ids: vec![3],
        model_id: "m".into(),
        evidence_start: roeh_domain::WallTime::from_secs(1_800_000_000),
    };
    store.insert_incident(&inc).await.unwrap();
    store
        .close_incident(
            inc.id,
            0.9,
            roeh_domain::WallTime::from_secs(1_800_000_030),
            roeh_domain::WallTime::from_secs(1_800_000_040),
        )
        .await
        .unwrap();
    let body = format!(
        r#"{{"incident":"{}","case":"PD-9","reason":"fight"}}"#,
        inc.id
    );
    let (s, h) = call(&app, post("/api/holds", body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    assert_eq!(h["camera"], camera.to_string());
    assert_eq!(h["start"], "2027-01-15T08:00:00.000000Z");
    assert_eq!(h["end"], "2027-01-15T08:00:40.000000Z");
    assert_eq!(h["created_by"], "admin");
    // The export resolves the same window; with no footage recorded it is refused, not empty.
    let (s, v) = call(&app, post("/api/exports", body)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no recorded footage")
    );
    for bad in [
        format!(
            r#"{{"incident":"{}","camera":"{camera}","case":"c","reason":"r"}}"#,
            inc.id
        ),
        r#"{"incident":"not-a-uuid","case":"c","reason":"r"}"#.to_string(),
        r#"{"case":"c","reason":"r"}"#.to_string(),
    ] {
        let (s, v) = call(&app, post("/api/holds", bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (s, _) = call(
        &app,
        post(
            "/api/holds",
            format!(
                r#"{{"incident":"{}","case":"c","reason":"r"}}"#,
                uuid::Uuid::new_v4()
            ),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn put(uri: &str, body: serde_json::Value) -> Request<Body> {
    Request::put(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Storage per camera with the disk's free space, a camera's retention changed and returned to
/// the site's default (refusing what makes no sense, keeping the camera's password), and the
/// gaps of the site's day in the camera's view.
#[tokio::test]
async fn storage_retention_and_gaps_today_per_camera() {
    let (app, _started, store, dir) = app().await;
    let body = serde_json::json!({"name": "Market", "url": "rtsp://127.0.0.1:8554/m",
                                  "username": "viewer", "password": "kept-secret"});
    let (status, v) = call(&app, post("/api/cameras", body.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let cam = CameraId::parse(&id).unwrap();
    assert_eq!(v["gaps_today"], 0);

    let (status, s) = call(
        &app,
        Request::get("/api/storage").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let free = s["free_bytes"].as_u64().unwrap();
    let total = s["total_bytes"].as_u64().unwrap();
    assert!(free > 0 && free <= total, "{s}");
    // The free space is the file system's, as statvfs reports it for the data directory.
    let df = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir.path())
        .output()
        .unwrap();
    let df: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(free.abs_diff(df) < 256 << 20, "statvfs {free}, df {df}");
    assert_eq!(s["cameras"][0]["name"], "Market");
    assert_eq!(s["cameras"][0]["bytes"], 0);
    assert_eq!(s["used_bytes"], 0);
    assert!(s["cameras"][0]["retention_max_age_secs"].is_null());

    // A camera's own retention, then back to the site's default.
    let uri = format!("/api/cameras/{id}/retention");
    let (status, v) = call(
        &app,
        put(
            &uri,
            serde_json::json!({"max_age_days": 14, "max_bytes": 5_000_000_000u64}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["retention_max_age_secs"], 14 * 86_400);
    assert_eq!(v["retention_max_bytes"], 5_000_000_000u64);
    let stored = store.get_camera(cam).await.unwrap().unwrap();
    assert_eq!(
        stored.retention.max_age,
        Some(std::time::Duration::from_secs(14 * 86_400))
    );
    assert_eq!(
        stored.credentials.unwrap().password.expose(),
        "kept-secret",
        "the camera's password survives the change"
    );
    for (bad, field) in [
        (serde_json::json!({"max_age_days": 0}), "max_age_days"),
        (serde_json::json!({"max_age_days": 0.5}), "max_age_days"),
        (serde_json::json!({"max_age_days": 4000}), "max_age_days"),
        (serde_json::json!({"max_bytes": 0}), "max_bytes"),
        (serde_json::json!({"max_bytes": 1_000_000}), "max_bytes"),
        (serde_json::json!({"max_days": 3}), "max_days"),
    ] {
        let (status, v) = call(&app, put(&uri, bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(field),
            "{v}"
        );
    }
    let still = store.get_camera(cam).await.unwrap().unwrap();
    assert_eq!(still.retention.max_bytes, Some(5_000_000_000));
    let (status, v) = call(&app, put(&uri, serde_json::json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["retention_max_age_secs"].is_null() && v["retention_max_bytes"].is_null());
    let (status, _) = call(
        &app,
        put(
            &format!("/api/cameras/{}/retention", CameraId::new_random()),
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Gaps today: one open now, one closed yesterday (not counted).
    let now = roeh_domain::Clock::wall(&roeh_domain::SystemClock::new());
    let day = 86_400_000_000;
    let old = store
        .open_gap(
            cam,
            roeh_domain::WallTime(now.0 - 3 * day),
            roeh_domain::GapReason::CameraOffline,
            "",
        )
        .await
        .unwrap();
    store
        .close_gap(old, roeh_domain::WallTime(now.0 - 2 * day))
        .await
        .unwrap();
    store
        .open_gap(cam, now, roeh_domain::GapReason::Stall, "")
        .await
        .unwrap();
    let (_, list) = call(
        &app,
        Request::get("/api/cameras").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(list[0]["gaps_today"], 1, "{list}");
    let (_, one) = call(
        &app,
        Request::get(format!("/api/cameras/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(one["gaps_today"], 1, "{one}");
}
