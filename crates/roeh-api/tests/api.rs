//! The HTTP API over a real SQLite store: bad input is refused with clear errors and changes
//! nothing. The recorder side is a stand-in that records which cameras were started, since these
//! tests are about the HTTP surface (the recording path is tested end to end in `crates/roeh`).

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use roeh_api::{AppState, CameraControl, router};
use roeh_domain::{Camera, CameraId, StreamHealth, SystemClock};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

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
    let dir = tempfile::tempdir().unwrap();
    let store = roeh_store::Store::open(dir.path().join("roeh.db").to_str().unwrap())
        .await
        .unwrap();
    let started = Arc::new(Started::default());
    let state = AppState {
        store: store.clone(),
        control: started.clone(),
        footage_root: dir.path().join("footage"),
        clock: Arc::new(SystemClock::new()),
    };
    (router(state), started, store, dir)
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
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
