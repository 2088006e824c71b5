//! Authentication and authorisation of the HTTP API against the attack cases of TRUST.md
//! (S8 bypass, S9 object-level access, S10 path tricks, S11 injection through filters, S13 CSRF,
//! S15 brute force, S16 default credentials, S17 secrets in URLs, S18 oversized bodies, S20 log
//! injection). The route matrix is generated from `roeh_api::ROUTES`, which a test checks
//! against the router's source, so a new route is covered the day it is added.

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use roeh_api::auth::{Policy, route_policy};
use roeh_api::{AppState, CameraControl, ROUTES, router};
use roeh_auth::{Permission, Role, Scope, role_allows};
use roeh_domain::{Camera, CameraId, StreamHealth, SystemClock};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tower::ServiceExt;

#[derive(Default)]
struct NoCameras;

impl CameraControl for NoCameras {
    fn health(&self, _id: CameraId) -> Option<StreamHealth> {
        None
    }
    fn start_camera(&self, _camera: Camera) {}
    fn stop_camera(&self, _id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

struct Env {
    app: axum::Router,
    store: roeh_store::Store,
    cam_a: String,
    cam_b: String,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = roeh_store::Store::open(dir.path().join("roeh.db").to_str().unwrap())
        .await
        .unwrap();
    store
        .set_credential_key(roeh_store::CredentialKey::generate().unwrap())
        .unwrap();
    let clock = Arc::new(SystemClock::new());
    let custody = support::custody(&store, clock.clone(), dir.path()).await;
    let state = AppState {
        store: store.clone(),
        alerts: roeh_api::alerts::AlertsService::new(
            store.clone(),
            clock.clone(),
            Default::default(),
        ),
        control: Arc::new(NoCameras),
        footage_root: dir.path().join("footage"),
        clock,
        custody,
        onvif: Arc::new(roeh_api::onvif::OnvifSettings::default()),
        analytics: None,
        auth: support::auth_state(),
    };
    let app = router(state);
    let admin = support::admin_token(&store).await;
    let mut ids = Vec::new();
    for name in ["gate-a", "gate-b"] {
        let (s, v) = call_as(
            &app,
            Some(&admin),
            Method::POST,
            "/api/cameras",
            &format!(r#"{{"name":"{name}","url":"rtsp://127.0.0.1:9/{name}"}}"#),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    Env {
        app,
        store,
        cam_a: ids[0].clone(),
        cam_b: ids[1].clone(),
        _dir: dir,
    }
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

async fn call_as(
    app: &axum::Router,
    token: Option<&str>,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if !body.is_empty() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let (s, _, v) = send(app, b.body(Body::from(body.to_string())).unwrap()).await;
    (s, v)
}

/// A concrete URI for a route template: camera routes name `camera`; other ids are made up.
fn uri_for(template: &str, camera: &str) -> String {
    let id = if template.starts_with("/api/cameras/") {
        camera.to_string()
    } else if template.starts_with("/api/exports/") {
        "6f1c1b0e-1111-4222-8333-944445555666".to_string()
    } else if template.starts_with("/api/hotspots/") || template.starts_with("/api/rules/") {
        "6f1c1b0e-1111-4222-8333-944445555667".to_string()
    } else {
        "7".to_string()
    };
    let mut u = template.replace("{id}", &id);
    if u.ends_with("/consistency") {
        u.push_str("?from=0&to=1");
    }
    u
}

async fn counts(store: &roeh_store::Store) -> (usize, u64, usize, usize, usize) {
    (
        store.list_cameras().await.unwrap().len(),
        store.log_size().await.unwrap(),
        store.holds(false).await.unwrap().len(),
        store.exports(100).await.unwrap().len(),
        store.list_users().await.unwrap().len(),
    )
}

#[test]
fn the_route_list_is_the_routers() {
    // Every `.route("…", get(…).post(…))` of the router's source is in ROUTES and vice versa.
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let body = &src[src.find("pub fn router(").unwrap()..src.find(".route_layer(").unwrap()];
    let mut found = Vec::new();
    for part in body.split(".route(").skip(1) {
        let path = part.split('"').nth(1).unwrap();
        let handlers = &part[part.find(',').unwrap()..];
        let handlers = &handlers[..handlers.find("\n        .route").unwrap_or(handlers.len())];
        for m in ["get", "post", "put", "delete"] {
            let mut rest = handlers;
            while let Some(i) = rest.find(&format!("{m}(")) {
                let before = rest[..i].chars().last();
                if before.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != ':') {
                    found.push((m.to_uppercase(), path.to_string()));
                }
                rest = &rest[i + m.len()..];
            }
        }
    }
    let mut want: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    found.sort();
    want.sort();
    assert_eq!(found, want, "ROUTES must list exactly the router's routes");
    // And every route has a policy; exactly these are public.
    let mut public = Vec::new();
    for (m, p) in ROUTES {
        let pol = route_policy(&Method::from_bytes(m.as_bytes()).unwrap(), p)
            .unwrap_or_else(|| panic!("{m} {p} has no access policy"));
        if pol == Policy::Public {
            public.push(format!("{m} {p}"));
        }
    }
    assert_eq!(
        public,
        vec![
            "GET /api/health",
            "POST /api/auth/setup",
            "POST /api/auth/login",
            "GET /api/alerts/{id}/clip",
        ]
    );
}

#[tokio::test]
async fn every_route_refuses_missing_forged_and_misplaced_credentials_and_changes_nothing() {
    let e = env().await;
    let before = counts(&e.store).await;
    let forged = [
        None,
        Some("roeh_0000000000000000000000000000000000000000000000000000000000000000"),
        // alg:none JWT, and an HS256 one: just unknown tokens.
        Some("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9."),
        Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.c2lnbmF0dXJl"),
    ];
    for (m, p) in ROUTES {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        if route_policy(&method, p) == Some(Policy::Public) {
            continue;
        }
        let uri = uri_for(p, &e.cam_a);
        for tok in forged {
            let (s, v) = call_as(&e.app, tok, method.clone(), &uri, "{}").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {uri} with {tok:?}: {v}");
        }
        // Basic auth and spoofed proxy headers are not credentials.
        for (h, v) in [
            (header::AUTHORIZATION.as_str(), "Basic YWRtaW46YWRtaW4="),
            ("x-forwarded-user", "admin"),
            ("x-remote-user", "admin"),
        ] {
            let req = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header(h, v)
                .body(Body::empty())
                .unwrap();
            let (s, _, _) = send(&e.app, req).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {uri} with {h}");
        }
    }
    // Tokens in the URL are refused even when valid.
    let admin = support::user_token(&e.store, "admin2", Role::Admin, Scope::unrestricted()).await;
    for q in ["token", "access_token", "jwt", "auth"] {
        let (s, v) = call_as(
            &e.app,
            None,
            Method::GET,
            &format!("/api/cameras?{q}={admin}"),
            "",
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "?{q}=: {v}");
    }
    assert_eq!(
        counts(&e.store).await.1,
        before.1,
        "nothing logged as evidence"
    );
    let (c, _, h, x, _) = counts(&e.store).await;
    assert_eq!((c, h, x), (before.0, before.2, before.3), "nothing changed");
    // The refusals are audited.
    let audit = e
        .store
        .audit(&roeh_store::AuditFilter::default())
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .filter(|a| a.entry.actor == "anonymous" && a.entry.outcome == "denied")
            .count()
            >= ROUTES.len() * 2,
        "refusals audited"
    );
}

#[tokio::test]
async fn roles_get_exactly_their_permissions_and_scopes_hide_other_cameras() {
    let e = env().await;
    let a = CameraId::parse(&e.cam_a).unwrap();
    let mut tokens = Vec::new();
    for role in Role::ALL {
        // Everyone but admins limited to camera A (admins are not scopable here).
        let scope = if role == Role::Admin {
            Scope::unrestricted()
        } else {
            Scope::cameras([a])
        };
        let t = support::user_token(&e.store, &format!("u-{}", role.as_str()), role, scope).await;
        tokens.push((role, t));
    }
    let before = counts(&e.store).await;
    for (m, p) in ROUTES {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let Some(Policy::Needs(perm)) = route_policy(&method, p) else {
            continue;
        };
        // Only read routes are called for real; a state change is tried only by roles that
        // must be refused, so the matrix itself changes nothing.
        for (role, t) in &tokens {
            let allowed = role_allows(*role, perm);
            if method != Method::GET && allowed {
                continue;
            }
            let uri = uri_for(p, &e.cam_a);
            let (s, v) = call_as(&e.app, Some(t), method.clone(), &uri, "{}").await;
            if allowed {
                assert_ne!(s, StatusCode::FORBIDDEN, "{role:?} {m} {uri}: {v}");
                assert_ne!(s, StatusCode::UNAUTHORIZED, "{role:?} {m} {uri}: {v}");
            } else {
                assert_eq!(s, StatusCode::FORBIDDEN, "{role:?} {m} {uri}: {v}");
            }
            // Camera B is out of scope for everyone but the admin: it answers exactly like a
            // camera that does not exist (no existence oracle).
            if p.starts_with("/api/cameras/{id}") && allowed && *role != Role::Admin {
                let (sb, vb) =
                    call_as(&e.app, Some(t), method.clone(), &uri_for(p, &e.cam_b), "{}").await;
                let missing = CameraId::new_random().to_string();
                let (sm, vm) =
                    call_as(&e.app, Some(t), method.clone(), &uri_for(p, &missing), "{}").await;
                assert_eq!(sb, StatusCode::NOT_FOUND, "{role:?} {m} {p} camera B: {vb}");
                assert_eq!(
                    (sb, &vb),
                    (sm, &vm),
                    "{role:?} {m} {p}: B differs from missing"
                );
            }
        }
    }
    assert_eq!(
        counts(&e.store).await,
        before,
        "refused requests changed nothing"
    );

    // Lists are filtered by scope too.
    let op = &tokens.iter().find(|(r, _)| *r == Role::Operator).unwrap().1;
    let (_, list) = call_as(&e.app, Some(op), Method::GET, "/api/cameras", "").await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![e.cam_a.as_str()]);
    // An investigator cannot export or hold another camera's footage.
    let inv = &tokens
        .iter()
        .find(|(r, _)| *r == Role::Investigator)
        .unwrap()
        .1;
    let body = format!(
        r#"{{"camera":"{}","start":"2026-11-22T10:00:00Z","end":"2026-11-22T10:01:00Z","reason":"r","case":"c"}}"#,
        e.cam_b
    );
    let (s, _) = call_as(&e.app, Some(inv), Method::POST, "/api/exports", &body).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call_as(&e.app, Some(inv), Method::POST, "/api/holds", &body).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An operator cannot export at all.
    let (s, _) = call_as(&e.app, Some(op), Method::POST, "/api/exports", &body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!role_allows(Role::Operator, Permission::ExportEvidence));
}

#[tokio::test]
async fn setup_token_creates_the_first_admin_once_and_logins_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let store = roeh_store::Store::open(dir.path().join("roeh.db").to_str().unwrap())
        .await
        .unwrap();
    let clock = Arc::new(SystemClock::new());
    let custody = support::custody(&store, clock.clone(), dir.path()).await;
    let app = router(AppState {
        store: store.clone(),
        alerts: roeh_api::alerts::AlertsService::new(
            store.clone(),
            clock.clone(),
            Default::default(),
        ),
        control: Arc::new(NoCameras),
        footage_root: dir.path().join("footage"),
        clock: clock.clone(),
        custody,
        onvif: Arc::new(roeh_api::onvif::OnvifSettings::default()),
        analytics: None,
        auth: support::auth_state(),
    });
    let now = roeh_domain::Clock::wall(clock.as_ref());
    let token = roeh_api::auth::prepare_setup(&store, now)
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("roeh_setup_"));
    // No default credentials: nobody can sign in before setup.
    for (u, pw) in [("admin", "admin"), ("admin", ""), ("root", "root")] {
        let (s, _) = call_as(
            &app,
            None,
            Method::POST,
            "/api/auth/login",
            &format!(r#"{{"username":"{u}","password":"{pw}"}}"#),
        )
        .await;
        assert!(
            s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST,
            "{u}"
        );
    }
    let setup = |tok: &str, pw: &str| {
        format!(r#"{{"token":"{tok}","username":"chief","password":"{pw}"}}"#)
    };
    let (s, v) = call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/setup",
        &setup(&token, "short"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "weak password: {v}");
    let (s, _) = call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/setup",
        &setup("roeh_setup_00000000", "a-very-long-passphrase"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong setup token");
    let (s, v) = call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/setup",
        &setup(&token, "a-very-long-passphrase"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/setup",
        &setup(&token, "another-long-passphrase"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the setup token works once");
    assert!(
        roeh_api::auth::prepare_setup(&store, now)
            .await
            .unwrap()
            .is_none()
    );

    // Cookie session: HttpOnly, SameSite=Strict; state changes need the CSRF header.
    let req = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"chief","password":"a-very-long-passphrase"}"#,
        ))
        .unwrap();
    let (s, h, v) = send(&app, req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cookie = h[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let csrf = v["csrf"].as_str().unwrap().to_string();
    let pair = cookie.split(';').next().unwrap().to_string();
    let with_cookie = |m: Method, uri: &str, csrf: Option<&str>, body: &str| {
        let mut b = Request::builder()
            .method(m)
            .uri(uri)
            .header(header::COOKIE, &pair)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            b = b.header("x-roeh-csrf", c);
        }
        b.body(Body::from(body.to_string())).unwrap()
    };
    let (s, _, me) = send(&app, with_cookie(Method::GET, "/api/auth/me", None, "")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["role"], "admin");
    let cam = r#"{"name":"csrf","url":"rtsp://127.0.0.1:9/x"}"#;
    let (s, _, _) = send(&app, with_cookie(Method::POST, "/api/cameras", None, cam)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no CSRF header");
    let (s, _, _) = send(
        &app,
        with_cookie(Method::POST, "/api/cameras", Some("forged"), cam),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong CSRF header");
    assert!(store.list_cameras().await.unwrap().is_empty());
    let (s, _, _) = send(
        &app,
        with_cookie(Method::POST, "/api/cameras", Some(&csrf), cam),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    // Brute force: after five failures the account is locked, even for the right password;
    // unknown users and wrong passwords get the same answer.
    let login =
        |u: &str, pw: &str| format!(r#"{{"username":"{u}","password":"{pw}","kind":"api"}}"#);
    let (s1, v1) = call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/login",
        &login("nobody", "x-wrong-password"),
    )
    .await;
    let (s2, v2) = call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/login",
        &login("chief", "x-wrong-password"),
    )
    .await;
    assert_eq!((s1, &v1), (s2, &v2), "no user enumeration");
    for _ in 0..4 {
        call_as(
            &app,
            None,
            Method::POST,
            "/api/auth/login",
            &login("chief", "x-wrong-password"),
        )
        .await;
    }
    let req = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(login("chief", "a-very-long-passphrase")))
        .unwrap();
    let (s, h, _) = send(&app, req).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.contains_key(header::RETRY_AFTER));
    // Log injection: control characters in a username are not written raw into the audit log.
    call_as(
        &app,
        None,
        Method::POST,
        "/api/auth/login",
        &login("evil\r\nadmin login ok\u{1b}[2J", "x-wrong-password"),
    )
    .await;
    let audit = store
        .audit(&roeh_store::AuditFilter::default())
        .await
        .unwrap();
    assert!(audit.iter().any(|a| a.entry.action == "login_failed"));
    assert!(audit.iter().any(|a| a.entry.action == "setup"));
    for a in &audit {
        assert!(
            !a.entry.actor.contains('\r')
                && !a.entry.actor.contains('\n')
                && !a.entry.actor.contains('\u{1b}'),
            "{:?}",
            a.entry.actor
        );
    }
    // S11: filters are data, not SQL.
    let admin = support::user_token(&store, "auditor", Role::Admin, Scope::unrestricted()).await;
    let (s, v) = call_as(
        &app,
        Some(&admin),
        Method::GET,
        "/api/audit?actor=%27%20OR%201%3D1%20--",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v.as_array().unwrap().len(), 0);
    let (s, _) = call_as(
        &app,
        Some(&admin),
        Method::GET,
        "/api/audit?sort=id;DROP%20TABLE%20users",
        "",
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "unknown filter fields are refused"
    );
    assert_eq!(store.list_users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn path_tricks_and_oversized_bodies_are_refused() {
    let e = env().await;
    let admin = support::user_token(&e.store, "admin3", Role::Admin, Scope::unrestricted()).await;
    for uri in [
        "/API/cameras",
        "/api/cameras/",
        "/api/%2e%2e/api/cameras",
        "/api/cameras;jsessionid=1",
        "/api/exports/..%2f..%2fetc%2fpasswd/download",
        "/api/exports/%00/download",
        "/api/cameras/..%2F..%2Fetc%2Fpasswd/mp4",
    ] {
        let (s, v) = call_as(&e.app, None, Method::GET, uri, "").await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::UNAUTHORIZED,
            "{uri}: {s} {v}"
        );
        let (s, v) = call_as(&e.app, Some(&admin), Method::GET, uri, "").await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            "{uri} as admin: {s} {v}"
        );
    }
    let big = format!(
        r#"{{"name":"{}","url":"rtsp://h/x"}}"#,
        "a".repeat(100 * 1024)
    );
    let (s, _) = call_as(&e.app, Some(&admin), Method::POST, "/api/cameras", &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (s, _) = call_as(&e.app, Some(&admin), Method::POST, "/api/holds", &deep).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Stored XSS payloads are data: returned as JSON strings, never as HTML.
    let (s, v) = call_as(
        &e.app,
        Some(&admin),
        Method::POST,
        "/api/cameras",
        r#"{"name":"<script>alert(1)</script>","url":"rtsp://127.0.0.1:9/x"}"#,
    )
    .await;
    assert!(
        s == StatusCode::CREATED || s == StatusCode::BAD_REQUEST,
        "{v}"
    );
    let req = Request::get("/api/cameras")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let (_, h, _) = send(&e.app, req).await;
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
}
