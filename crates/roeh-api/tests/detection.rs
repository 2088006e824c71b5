//! Detection routes over a real store (SQLite, or PostgreSQL: see `support`): hotspots and rules
//! are validated with messages that name the problem and nothing bad is stored; camera analysis
//! settings; incidents listed by filter, with evidence and snapshots; analytics figures. Analytics
//! is a stand-in that counts reloads.

#![allow(clippy::unwrap_used)]

mod support;

use support::call_app as call;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use roeh_api::detection::AnalyticsControl;
use roeh_api::{AppState, router};
use roeh_domain::{Camera, CameraId, CameraUrl, Retention, WallTime};
use roeh_store::{IncidentState, NewIncident, Store};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

struct FakeAnalytics {
    reloads: AtomicUsize,
    dir: PathBuf,
    /// Cameras with per-camera figures.
    cameras: Vec<CameraId>,
    /// Cameras whose detections were looked at.
    watches: std::sync::Mutex<Vec<CameraId>>,
}

impl AnalyticsControl for FakeAnalytics {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        self.reloads.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
    fn stats(&self) -> serde_json::Value {
        let cameras: Vec<_> = self
            .cameras
            .iter()
            .map(|c| serde_json::json!({ "camera": c, "decoded": 3 }))
            .collect();
        serde_json::json!({ "model_id": "fake", "frames_analysed": 7, "cameras": cameras })
    }
    fn snapshot_dir(&self) -> PathBuf {
        self.dir.clone()
    }
    fn default_fps(&self) -> f64 {
        4.0
    }
    fn watch(
        &self,
        camera: CameraId,
        frame: bool,
    ) -> Pin<
        Box<dyn Future<Output = Result<roeh_api::detection::DetectionsView, String>> + Send + '_>,
    > {
        // Watched cameras are counted; the one of the env shows one person.
        self.watches.lock().unwrap().push(camera);
        Box::pin(async move {
            Ok(roeh_api::detection::DetectionsView {
                analysis_on: true,
                decoding: true,
                at: Some("2026-12-07T20:00:00.000000Z".into()),
                width: Some(768),
                height: Some(576),
                model_id: "fake".into(),
                objects: vec![roeh_api::detection::DetectedView {
                    label: "person".into(),
                    score: 0.9,
                    bbox: [0.4, 0.6, 0.5, 0.9],
                }],
                frame: frame.then(|| "data:image/jpeg;base64,/9j/".to_string()),
            })
        })
    }
}

struct Env {
    app: axum::Router,
    bare: axum::Router,
    store: Store,
    analytics: Arc<FakeAnalytics>,
    camera: CameraId,
    _dir: tempfile::TempDir,
}

/// The `id`s of a JSON array of objects, in order.
fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Stores an enabled camera `name` at `rtsp://127.0.0.1:8554/{path}` directly (nothing starts it).
async fn insert_camera(store: &Store, name: &str, path: &str) -> Camera {
    let cam = Camera {
        id: CameraId::new_random(),
        name: name.into(),
        url: CameraUrl::parse(&format!("rtsp://127.0.0.1:8554/{path}")).unwrap(),
        credentials: None,
        transport: Default::default(),
        enabled: true,
        retention: Retention::default(),
    };
    store.insert_camera(&cam, WallTime(1)).await.unwrap();
    cam
}

async fn env() -> Env {
    let site = support::default_site().await;
    let (store, dir) = (site.store, site.dir);
    let cam = insert_camera(&store, "Walkway", "cam0").await;
    let analytics = Arc::new(FakeAnalytics {
        reloads: AtomicUsize::new(0),
        dir: dir.path().join("snapshots"),
        cameras: vec![cam.id],
        watches: std::sync::Mutex::new(Vec::new()),
    });
    let state = AppState {
        analytics: Some(analytics.clone()),
        ..site.state
    };
    let token = site.admin;
    let bare = support::with_token(
        router(AppState {
            analytics: None,
            ..state.clone()
        }),
        token.clone(),
    );
    Env {
        app: support::with_token(router(state), token),
        bare,
        store,
        analytics,
        camera: cam.id,
        _dir: dir,
    }
}

fn send(method: &str, uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn hotspot(
    cam: CameraId,
    polygon: serde_json::Value,
    schedule: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "name": "Square", "lat": 59.33, "lon": 18.06, "priority": 2,
        "cameras": [cam.to_string()],
        "zones": [{"id": "walkway", "camera": cam.to_string(), "name": "Walkway", "polygon": polygon}],
        "schedule": schedule,
    })
}

fn always() -> serde_json::Value {
    serde_json::json!({"tz": "Europe/Stockholm", "always": true})
}

fn square() -> serde_json::Value {
    serde_json::json!([[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]])
}

fn message(v: &serde_json::Value) -> String {
    v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bad_hotspots_are_refused_with_the_problem_named_and_nothing_is_stored() {
    let e = env().await;
    let cases = [
        (
            hotspot(
                e.camera,
                serde_json::json!([[0, 0], [1, 1], [1, 0], [0, 1]]),
                always(),
            ),
            "polygon is self-intersecting",
        ),
        (
            hotspot(
                e.camera,
                serde_json::json!([[0, 0], [1.2, 1], [1, 0]]),
                always(),
            ),
            "point 1 (1.2, 1) is outside 0..1",
        ),
        (
            hotspot(e.camera, serde_json::json!([[0, 0], [1, 1]]), always()),
            "polygon has 2 points; at least 3 are needed",
        ),
        (
            hotspot(
                e.camera,
                square(),
                serde_json::json!({"tz": "UTC", "windows": [{"days": ["mon"], "from": "22h", "to": "05:00"}]}),
            ),
            "schedule.windows[0].from",
        ),
        (
            hotspot(
                e.camera,
                square(),
                serde_json::json!({"tz": "Mars/Olympus"}),
            ),
            "schedule.tz",
        ),
        (
            hotspot(CameraId::new_random(), square(), always()),
            "is not a known camera",
        ),
        (serde_json::json!([1, 2]), "must be a JSON object"),
        (
            {
                let mut h = hotspot(e.camera, square(), always());
                h["id"] = "not-a-uuid".into();
                h
            },
            "is not a UUID",
        ),
    ];
    for (body, want) in cases {
        let (status, v) = call(&e.app, send("POST", "/api/hotspots", &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{want}: {v}");
        assert_eq!(v["error"]["kind"], "invalid_argument");
        assert!(message(&v).contains(want), "want {want:?} in {v}");
    }
    assert!(e.store.list_hotspots().await.unwrap().is_empty());
    assert_eq!(e.analytics.reloads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn hotspots_and_rules_are_managed_and_reload_analytics() {
    let e = env().await;
    let (status, v) = call(
        &e.app,
        send(
            "POST",
            "/api/hotspots",
            &hotspot(e.camera, square(), always()),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let hid = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["hotspot"]["id"], hid.as_str());
    assert_eq!(v["hotspot"]["zones"][0]["id"], "walkway");
    assert_eq!(v["armed_now"], true, "always armed");
    assert_eq!(e.analytics.reloads.load(Ordering::SeqCst), 1);
    // One whose only window is 29 February of a year long past is not armed now.
    let past = serde_json::json!({"tz": "UTC", "always": true,
        "dates": [{"from": "2000-02-29", "to": "2000-02-29"}]});
    let (status, v) = call(
        &e.app,
        send("POST", "/api/hotspots", &hotspot(e.camera, square(), past)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["armed_now"], false, "{v}");
    let past_id = v["id"].as_str().unwrap().to_owned();
    let (_, list) = call(&e.app, get("/api/hotspots")).await;
    let armed: Vec<(String, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_owned(),
                h["armed_now"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(armed.contains(&(hid.clone(), true)) && armed.contains(&(past_id.clone(), false)));
    let (status, _) = call(
        &e.app,
        Request::delete(format!("/api/hotspots/{past_id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Rules: refused when the zone or hotspot is unknown or the document is bad.
    let rule = |zone: &str, hotspot: &str| {
        serde_json::json!({"hotspot": hotspot, "name": "Intrusion", "kind": "intrusion",
            "zone": zone, "severity": "high"})
    };
    let bad = [
        (rule("lawn", &hid), "\"lawn\" is not a zone of hotspot"),
        (
            rule("walkway", &uuid::Uuid::new_v4().to_string()),
            "is not a known hotspot",
        ),
        (
            serde_json::json!({"hotspot": hid, "name": "L", "kind": "loitering", "zone": "walkway",
                "severity": "high", "dwell_secs": 0}),
            "dwell_secs: must be at least 1",
        ),
        (
            serde_json::json!({"hotspot": hid, "name": "L", "kind": "teleport", "severity": "high"}),
            "unknown variant `teleport`",
        ),
    ];
    for (body, want) in bad {
        let (status, v) = call(&e.app, send("POST", "/api/rules", &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{want}: {v}");
        assert!(message(&v).contains(want), "want {want:?} in {v}");
    }
    assert!(e.store.list_rules(None).await.unwrap().is_empty());
    let (status, v) = call(&e.app, send("POST", "/api/rules", &rule("walkway", &hid))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let rid = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["enabled"], true);
    assert_eq!(v["rule"]["cooldown_secs"], 60, "defaults are filled in");
    let (status, v) = call(&e.app, get(&format!("/api/rules?hotspot={hid}"))).await;
    assert_eq!((status, v.as_array().unwrap().len()), (StatusCode::OK, 1));

    // A rule update: disabled.
    let mut changed = rule("walkway", &hid);
    changed["enabled"] = false.into();
    let (status, v) = call(&e.app, send("PUT", &format!("/api/rules/{rid}"), &changed)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], false);
    let mut other_id = changed.clone();
    other_id["id"] = uuid::Uuid::new_v4().to_string().into();
    let (status, v) = call(&e.app, send("PUT", &format!("/api/rules/{rid}"), &other_id)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&v).contains("does not match the path"), "{v}");

    // A hotspot change that drops the rule's zone is refused; one that keeps it is stored.
    let mut no_zone = hotspot(e.camera, square(), always());
    no_zone["zones"][0]["id"] = "lawn".into();
    let (status, v) = call(
        &e.app,
        send("PUT", &format!("/api/hotspots/{hid}"), &no_zone),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("\"walkway\" is not a zone"), "{v}");
    let mut renamed = hotspot(e.camera, square(), always());
    renamed["name"] = "Main square".into();
    let (status, v) = call(
        &e.app,
        send("PUT", &format!("/api/hotspots/{hid}"), &renamed),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "Main square");
    let (status, v) = call(&e.app, get("/api/hotspots")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v[0]["hotspot"]["name"], "Main square");

    // Deleting the hotspot deletes its rules.
    let del = Request::delete(format!("/api/hotspots/{hid}"))
        .body(Body::empty())
        .unwrap();
    let (status, _) = call(&e.app, del).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&e.app, get(&format!("/api/rules/{rid}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&e.app, get(&format!("/api/hotspots/{hid}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // hotspot, another created and deleted, rule, rule update, hotspot update, delete.
    assert_eq!(
        e.analytics.reloads.load(Ordering::SeqCst),
        7,
        "two more for the hotspot armed in 2000"
    );
}

/// A camera's detections now: what the analytics tells, for roles that watch live video; a node
/// without analytics says so; an unknown camera is not found and starts nothing.
#[tokio::test]
async fn a_cameras_detections_now_come_from_the_analytics() {
    let e = env().await;
    let uri = format!("/api/cameras/{}/detections", e.camera);
    let (status, v) = call(&e.app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["objects"][0]["label"], "person", "{v}");
    assert_eq!(v["objects"][0]["bbox"][3].as_f64().unwrap() as f32, 0.9);
    assert_eq!(
        (v["analysis_on"].as_bool(), v["decoding"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(*e.analytics.watches.lock().unwrap(), vec![e.camera]);
    assert!(v.get("frame").is_none(), "no picture unless asked for: {v}");
    let views = |store: Store, cam: CameraId| async move {
        store
            .events(Some(cam), 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|ev| ev.kind == "footage_viewed")
            .map(|ev| String::from_utf8(ev.json).unwrap())
            .collect::<Vec<_>>()
    };
    assert!(
        views(e.store.clone(), e.camera).await.is_empty(),
        "boxes alone are no view"
    );
    for _ in 0..3 {
        let (status, v) = call(&e.app, get(&format!("{uri}?frame=true"))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert!(
            v["frame"]
                .as_str()
                .unwrap()
                .starts_with("data:image/jpeg;base64,")
        );
    }
    // The picture is a live picture: one custody event for the look, not one per refresh.
    let seen = views(e.store.clone(), e.camera).await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("\"route\":\"detections\""), "{seen:?}");
    for _ in 0..2 {
        e.analytics.watches.lock().unwrap().pop();
    }
    let (status, _) = call(&e.app, get(&format!("{uri}?frames=1"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    e.analytics.watches.lock().unwrap().pop();
    let (status, v) = call(&e.bare, get(&uri)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(message(&v).contains("analytics is not running"), "{v}");
    let (status, _) = call(
        &e.app,
        get(&format!(
            "/api/cameras/{}/detections",
            CameraId::new_random()
        )),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        e.analytics.watches.lock().unwrap().len(),
        1,
        "nothing watched"
    );
}

#[tokio::test]
async fn camera_analysis_settings() {
    let e = env().await;
    let uri = format!("/api/cameras/{}/analysis", e.camera);
    let (status, v) = call(&e.app, get(&uri)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["enabled"].as_bool(), v["fps"].as_f64()),
        (Some(true), Some(4.0))
    );
    assert_eq!(v["configured"], false);
    for fps in [0.0, -1.0, 31.0] {
        let (status, v) = call(
            &e.app,
            send(
                "PUT",
                &uri,
                &serde_json::json!({"enabled": true, "fps": fps}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fps}");
        assert!(message(&v).contains("fps"), "{v}");
    }
    let (status, v) = call(
        &e.app,
        send(
            "PUT",
            &uri,
            &serde_json::json!({"enabled": false, "fps": 2.5}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, _) = call(
        &e.app,
        send("PUT", &uri, &serde_json::json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let s = e.store.camera_analysis(e.camera).await.unwrap().unwrap();
    assert!(s.enabled && s.fps == 2.5, "fps kept: {s:?}");
    assert_eq!(e.analytics.reloads.load(Ordering::SeqCst), 2);
    let (status, _) = call(
        &e.app,
        send(
            "PUT",
            &format!("/api/cameras/{}/analysis", CameraId::new_random()),
            &serde_json::json!({"enabled": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn incident(cam: CameraId, hotspot: uuid::Uuid, opened_s: i64) -> NewIncident {
    NewIncident {
        id: uuid::Uuid::new_v4(),
        rule_id: uuid::Uuid::new_v4(),
        camera: cam,
        hotspot_id: hotspot,
        seq: 1,
        kind: "intrusion".into(),
        severity: "high".into(),
        priority: 2,
        alerting: true,
        reason: "1 in zone \"Walkway\"".into(),
        opened_at: WallTime::from_secs(opened_s),
        peak_score: 0.8,
        track_ids: vec![3],
        model_id: "m".into(),
        evidence_start: WallTime::from_secs(opened_s - 10),
    }
}

#[tokio::test]
async fn incidents_are_listed_by_filter_with_snapshot_and_evidence() {
    let e = env().await;
    let h1 = uuid::Uuid::new_v4();
    let a = incident(e.camera, h1, 1_700_000_000);
    let b = incident(e.camera, uuid::Uuid::new_v4(), 1_700_000_100);
    e.store.insert_incident(&a).await.unwrap();
    e.store.insert_incident(&b).await.unwrap();
    e.store
        .close_incident(
            a.id,
            0.9,
            WallTime::from_secs(1_700_000_020),
            WallTime::from_secs(1_700_000_030),
        )
        .await
        .unwrap();
    std::fs::create_dir_all(&e.analytics.dir).unwrap();
    std::fs::write(
        e.analytics.dir.join(format!("{}.jpg", a.id)),
        b"\xff\xd8jpeg\xff\xd9",
    )
    .unwrap();
    e.store
        .set_incident_snapshot(a.id, &format!("{}.jpg", a.id))
        .await
        .unwrap();

    let (status, v) = call(&e.app, get("/api/incidents")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&v), vec![b.id.to_string(), a.id.to_string()]);
    let (_, v) = call(&e.app, get(&format!("/api/incidents?hotspot={h1}"))).await;
    assert_eq!(ids(&v), vec![a.id.to_string()]);
    assert_eq!(v[0]["state"], "closed");
    assert_eq!(v[0]["peak_score"], 0.9);
    assert_eq!(v[0]["evidence"]["start_us"], 1_699_999_990_000_000i64);
    assert_eq!(v[0]["evidence"]["end_us"], 1_700_000_030_000_000i64);
    assert_eq!(
        v[0]["snapshot_url"],
        format!("/api/incidents/{}/snapshot", a.id)
    );
    let (_, v) = call(
        &e.app,
        get(&format!("/api/incidents?camera={}&state=open", e.camera)),
    )
    .await;
    assert_eq!(ids(&v), vec![b.id.to_string()]);
    assert!(v[0]["snapshot_url"].is_null() && v[0]["evidence"]["end"].is_null());
    let (_, v) = call(
        &e.app,
        get("/api/incidents?start=2023-11-14T22:13:30Z&end=2023-11-14T22:15:00Z"),
    )
    .await;
    assert_eq!(ids(&v), vec![a.id.to_string()]);
    let (_, v) = call(&e.app, get("/api/incidents?limit=1")).await;
    assert_eq!(ids(&v), vec![b.id.to_string()]);
    for bad in [
        "state=lost",
        "limit=0",
        "limit=5000",
        "start=yesterday",
        "camera=x",
        "hotspot=y",
        "start=2023-11-15T00:00:00Z&end=2023-11-14T00:00:00Z",
        "colour=red",
    ] {
        let (status, _) = call(&e.app, get(&format!("/api/incidents?{bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let (status, v) = call(&e.app, get(&format!("/api/incidents/{}", a.id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["evidence"]["segments"], serde_json::json!([]));
    assert!(
        v["evidence"]["mp4_url"]
            .as_str()
            .unwrap()
            .contains(&format!(
                "/api/cameras/{}/mp4?start=1699999990000000&end=1700000030000000",
                e.camera
            ))
    );

    let resp = e
        .app
        .clone()
        .oneshot(get(&format!("/api/incidents/{}/snapshot", a.id)))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/jpeg");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(&body[..], b"\xff\xd8jpeg\xff\xd9");
    let (status, _) = call(&e.app, get(&format!("/api/incidents/{}/snapshot", b.id))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &e.app,
        get(&format!("/api/incidents/{}", uuid::Uuid::new_v4())),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        e.store.get_incident(b.id).await.unwrap().unwrap().state,
        IncidentState::Open
    );

    let (status, v) = call(&e.app, get("/api/analytics/stats")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["frames_analysed"], 7);
    let (status, v) = call(&e.bare, get("/api/analytics/stats")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message(&v).contains("analytics is not running"), "{v}");
}

#[tokio::test]
async fn incidents_page_by_cursor_and_a_scoped_users_pages_are_full() {
    let e = env().await;
    let other = insert_camera(&e.store, "Gate", "cam1").await;
    let (h_a, h_b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    // 250 incidents over 40 opening times (ties of up to 7), every third on the other camera.
    let mut all = Vec::new();
    for n in 0..250i64 {
        let (cam, h) = if n % 3 == 0 {
            (other.id, h_b)
        } else {
            (e.camera, h_a)
        };
        let i = incident(cam, h, 1_700_000_000 + n % 40);
        e.store.insert_incident(&i).await.unwrap();
        all.push(i);
    }
    all.sort_by(|x, y| y.opened_at.cmp(&x.opened_at).then(x.id.cmp(&y.id)));
    let as_user = |uri: String, token: Option<&str>| {
        let mut b = Request::get(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::empty()).unwrap()
    };
    // Pages of `limit` following the cursor until a short page: (page sizes, all ids).
    let read_all = |token: Option<String>, limit: usize| {
        let app = e.app.clone();
        async move {
            let (mut sizes, mut got) = (Vec::new(), Vec::<String>::new());
            loop {
                let cursor = got
                    .last()
                    .map(|c| format!("&before={c}"))
                    .unwrap_or_default();
                let uri = format!("/api/incidents?limit={limit}{cursor}");
                let (status, v) = call(&app, as_user(uri, token.as_deref())).await;
                assert_eq!(status, StatusCode::OK, "{v}");
                let page = ids(&v);
                sizes.push(page.len());
                got.extend(page);
                if *sizes.last().unwrap() < limit {
                    return (sizes, got);
                }
            }
        }
    };
    let (sizes, got) = read_all(None, 100).await;
    assert_eq!(sizes, vec![100, 100, 50]);
    let want: Vec<String> = all.iter().map(|i| i.id.to_string()).collect();
    assert_eq!(got, want, "every incident once, newest first, ties by id");

    // An operator limited to the first camera: only its incidents, in full pages while more
    // exist, whether limited by camera or by the camera's hotspot.
    let mine: Vec<String> = all
        .iter()
        .filter(|i| i.camera == e.camera)
        .map(|i| i.id.to_string())
        .collect();
    assert_eq!(mine.len(), 166);
    for (name, scope) in [
        ("by-camera", roeh_auth::Scope::cameras([e.camera])),
        ("by-hotspot", roeh_auth::Scope::hotspots([h_a])),
    ] {
        let t = support::user_token(&e.store, name, roeh_auth::Role::Operator, scope).await;
        let (sizes, got) = read_all(Some(t.clone()), 30).await;
        assert_eq!(sizes, vec![30, 30, 30, 30, 30, 16], "{name}");
        assert_eq!(got, mine, "{name}");
        // A bad cursor: malformed, unknown, or another camera's incident, all refused alike.
        let theirs = all.iter().find(|i| i.camera == other.id).unwrap().id;
        let mut answers = Vec::new();
        for before in [
            "not-an-id".to_string(),
            uuid::Uuid::new_v4().to_string(),
            theirs.to_string(),
        ] {
            let uri = format!("/api/incidents?before={before}");
            let (status, v) = call(&e.app, as_user(uri, Some(&t))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name} {before}: {v}");
            answers.push(v);
        }
        assert!(answers.iter().all(|v| *v == answers[0]), "{answers:?}");
        assert!(message(&answers[0]).contains("before"), "{answers:?}");
    }
    // The admin's cursor may name any incident; an unknown one is refused.
    let uri = format!("/api/incidents?limit=5&before={}", all[0].id);
    let (status, v) = call(&e.app, as_user(uri, None)).await;
    assert_eq!((status, ids(&v)), (StatusCode::OK, want[1..6].to_vec()));
    let uri = format!("/api/incidents?before={}", uuid::Uuid::new_v4());
    let (status, _) = call(&e.app, as_user(uri, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn analytics_figures_of_cameras_outside_the_scope_are_left_out() {
    let e = env().await;
    let stats = |token: Option<String>| {
        let app = e.app.clone();
        async move {
            let mut b = Request::get("/api/analytics/stats");
            if let Some(t) = token {
                b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let (status, v) = call(&app, b.body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            v
        }
    };
    let v = stats(None).await;
    assert_eq!(v["cameras"][0]["camera"], e.camera.to_string());
    let mine = roeh_auth::Scope::cameras([e.camera]);
    let other = roeh_auth::Scope::cameras([CameraId::new_random()]);
    let op = roeh_auth::Role::Operator;
    let t = support::user_token(&e.store, "mine", op, mine).await;
    assert_eq!(stats(Some(t)).await, v);
    let t = support::user_token(&e.store, "other", op, other).await;
    let v = stats(Some(t)).await;
    assert_eq!(v["cameras"], serde_json::json!([]), "{v}");
    assert_eq!(v["frames_analysed"], 7, "site-wide figures stay");
}

/// A request with a raw body and, where given, a `Content-Type`.
fn raw(method: &str, uri: &str, content_type: Option<&str>, body: String) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn malformed_bodies_and_queries_are_answered_with_the_shared_error_body() {
    let e = env().await;
    let some = uuid::Uuid::new_v4();
    let writes = [
        ("POST", "/api/hotspots".to_owned()),
        ("PUT", format!("/api/hotspots/{some}")),
        ("POST", "/api/rules".to_owned()),
        ("PUT", format!("/api/rules/{some}")),
        ("PUT", format!("/api/cameras/{}/analysis", e.camera)),
    ];
    let json = Some("application/json");
    let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(roeh_api::MAX_BODY_BYTES));
    let cases = [
        // (content type, body, status, kind, part of the message)
        (
            json,
            r#"{"name":"#.to_owned(),
            400,
            "invalid_argument",
            "JSON",
        ),
        (json, "not json".to_owned(), 400, "invalid_argument", "JSON"),
        (
            Some("text/plain"),
            "{}".to_owned(),
            400,
            "invalid_argument",
            "Content-Type",
        ),
        (
            None,
            "{}".to_owned(),
            400,
            "invalid_argument",
            "Content-Type",
        ),
        (
            json,
            big,
            413,
            "resource_exhausted",
            "request body too large",
        ),
    ];
    for (method, uri) in &writes {
        for (ct, body, status, kind, part) in &cases {
            let (s, v) = call(&e.app, raw(method, uri, *ct, body.clone())).await;
            let what = format!("{method} {uri} ({ct:?}, {} bytes): {s} {v}", body.len());
            assert_eq!(s.as_u16(), *status, "{what}");
            assert_eq!(v["error"]["kind"], *kind, "{what}");
            assert!(message(&v).contains(part), "{what}");
        }
    }
    // A well-formed body of the wrong shape is refused the same way.
    let uri = format!("/api/cameras/{}/analysis", e.camera);
    let (s, v) = call(
        &e.app,
        send("PUT", &uri, &serde_json::json!({"enabled": "yes"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["kind"], "invalid_argument");
    assert!(!message(&v).is_empty(), "{v}");
    // Nothing was stored and analytics never reloaded.
    assert!(e.store.list_hotspots().await.unwrap().is_empty());
    assert!(e.store.list_rules(None).await.unwrap().is_empty());
    assert_eq!(e.analytics.reloads.load(Ordering::SeqCst), 0);

    for uri in [
        "/api/incidents?limit=many",
        "/api/incidents?limit=-1",
        "/api/rules?hotspot=a&hotspot=b",
    ] {
        let (s, v) = call(&e.app, get(uri)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["error"]["kind"], "invalid_argument", "{uri}: {v}");
        assert!(message(&v).contains("query string"), "{uri}: {v}");
    }
}

/// A schedule being edited is checked as a hotspot's would be and previewed: armed now or not,
/// and the next moments it arms and disarms, on the server's clock.
#[tokio::test]
async fn a_schedule_preview_lists_the_next_armed_and_disarmed_moments() {
    // Monday 7 December 2026, 11:00 in Jerusalem.
    let clock = Arc::new(roeh_domain::SimClock::new(
        WallTime::parse("2026-12-07T09:00:00Z").unwrap(),
    ));
    let site = support::site(clock, roeh_api::alerts::AlertsSettings::default()).await;
    let operator = support::user_token(
        &site.store,
        "night operator",
        roeh_auth::Role::Operator,
        roeh_auth::Scope::default(),
    )
    .await;
    let app = support::with_token(router(site.state.clone()), site.admin.clone());
    let body = serde_json::json!({"count": 3, "schedule": {"tz": "Asia/Jerusalem",
        "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                     "from": "22:00", "to": "06:00"}],
        "all_day": [{"from": "2027-08-01", "to": "2027-08-31", "label": "August"}]}});
    let (status, v) = call(&app, send("POST", "/api/schedules/preview", &body)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["now"], "2026-12-07T09:00:00.000000Z");
    assert_eq!(v["armed_now"], false);
    let changes: Vec<(String, bool)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["at"].as_str().unwrap().to_owned(),
                c["armed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("2026-12-07T20:00:00.000000Z".to_owned(), true),
            ("2026-12-08T04:00:00.000000Z".to_owned(), false),
            ("2026-12-08T20:00:00.000000Z".to_owned(), true),
        ]
    );
    // A bad schedule is refused naming the field, as a hotspot's would be.
    for (schedule, want) in [
        (
            serde_json::json!({"tz": "Asia/Jerusalem",
                "windows": [{"days": ["mon"], "from": "25:00", "to": "06:00"}]}),
            "schedule.windows[0].from: \"25:00\" is not a time of day",
        ),
        (
            serde_json::json!({"tz": "Asia/Jerusalem",
                "all_day": [{"from": "2027-08-31", "to": "2027-08-01"}]}),
            "schedule.all_day[0]: from 2027-08-31 is after to 2027-08-01",
        ),
        (
            serde_json::json!({"tz": "Middle/Earth"}),
            "schedule.tz: \"Middle/Earth\" is not a known IANA time zone",
        ),
    ] {
        let (status, v) = call(
            &app,
            send(
                "POST",
                "/api/schedules/preview",
                &serde_json::json!({ "schedule": schedule }),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(message(&v).starts_with(want), "{v}");
    }
    let (status, v) = call(
        &app,
        send(
            "POST",
            "/api/schedules/preview",
            &serde_json::json!({"count": 0, "schedule": {"tz": "UTC"}}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    // Operators do not edit schedules.
    let as_operator = support::with_token(router(site.state), operator);
    let (status, _) = call(&as_operator, send("POST", "/api/schedules/preview", &body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
