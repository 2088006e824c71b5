//! Authentication and authorisation of the HTTP API against the attack cases of TRUST.md
//! (S8 bypass, S9 object-level access, S10 path tricks, S11 injection through filters, S13 CSRF,
//! S15 brute force, S16 default credentials, S17 secrets in URLs, S18 oversized bodies, S20 log
//! injection). The route matrix is generated from `roeh_api::ROUTES`, which a test checks
//! against the router's source, so a new route is covered the day it is added. For S9 every
//! route is classified by the kind of object it reaches ([`kind_of`], [`list_kind`]); a route
//! the classification does not know fails the tests until someone classifies it.

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use roeh_api::auth::{Policy, route_policy};
use roeh_api::{ROUTES, router};
use roeh_auth::{Permission, Role, Scope, role_allows};
use roeh_domain::{CameraId, SystemClock};
use std::sync::Arc;

struct Env {
    app: axum::Router,
    store: roeh_store::Store,
    alerts: Arc<roeh_api::alerts::AlertsService>,
    admin: String,
    cam_a: String,
    cam_b: String,
    dir: tempfile::TempDir,
}

async fn env() -> Env {
    let site = support::default_site().await;
    let alerts = site.state.alerts.clone();
    let app = router(site.state);
    let (store, admin, dir) = (site.store, site.admin, site.dir);
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
        alerts,
        admin,
        cam_a: ids[0].clone(),
        cam_b: ids[1].clone(),
        dir,
    }
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let (status, headers, bytes) = support::send(app, req).await;
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

#[tokio::test]
async fn the_router_serves_every_route_of_the_table_and_nothing_else() {
    // The router is built from the table (roeh_api::routes), so it cannot serve a route the
    // table lacks; here every route of the table answers, by its method, as a route (never the
    // fallback's 404 nor a 405), and another method on one of its paths is refused without reaching a handler.
    let e = env().await;
    for (m, p) in ROUTES.iter() {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let uri = uri_for(p, &e.cam_a);
        let (s, v) = call_as(&e.app, None, method, &uri, "{}").await;
        assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{m} {uri}: {v}");
        assert!(
            !v.to_string().contains("no such route"),
            "{m} {uri} is not served: {v}"
        );
    }
    for (m, uri) in [
        (Method::PATCH, "/api/cameras"),
        (Method::DELETE, "/api/alerts"),
        (Method::PUT, "/api/health"),
    ] {
        // Refused by the route layer: no entry of the table, so no policy.
        let (s, v) = call_as(&e.app, None, m.clone(), uri, "{}").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {uri}: {v}");
        assert_eq!(
            v["error"]["message"], "route has no access policy",
            "{m} {uri}"
        );
    }
    let (s, v) = call_as(&e.app, None, Method::GET, "/api/no-such-thing", "").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // And every route has a policy; exactly these are public.
    let mut public = Vec::new();
    for (m, p) in ROUTES.iter() {
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
            "POST /api/auth/device",
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
    for (m, p) in ROUTES.iter() {
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
    for (m, p) in ROUTES.iter() {
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
    let clock = Arc::new(SystemClock::new());
    let (state, _, _) = support::bare_state(dir.path(), clock.clone(), Default::default()).await;
    let store = state.store.clone();
    let app = router(state);
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
    let setup = async |tok: &str, pw: &str| {
        let body = format!(r#"{{"token":"{tok}","username":"chief","password":"{pw}"}}"#);
        call_as(&app, None, Method::POST, "/api/auth/setup", &body).await
    };
    let (s, v) = setup(&token, "short").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "weak password: {v}");
    let (s, _) = setup("roeh_setup_00000000", "a-very-long-passphrase").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong setup token");
    let (s, v) = setup(&token, "a-very-long-passphrase").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = setup(&token, "another-long-passphrase").await;
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
    // A reloaded console page learns its CSRF token from `me`: the one the login gave.
    assert_eq!(me["csrf"], csrf.as_str());
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
    // Quotes, boolean payloads, comments and LIKE wildcards in the text filters match nothing
    // and break nothing, while the plain values find entries (so the empty answers are not
    // empty for another reason). The test binary runs on SQLite and on PostgreSQL.
    let encode = |v: &str| -> String {
        v.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    for (field, value) in [("actor", "chief"), ("action", "login_failed")] {
        let uri = format!("/api/audit?{field}={value}");
        let (s, v) = call_as(&app, Some(&admin), Method::GET, &uri, "").await;
        assert_eq!(s, StatusCode::OK, "{uri}: {v}");
        assert!(!v.as_array().unwrap().is_empty(), "{uri}: {v}");
        for payload in [
            "'".to_string(),
            format!("{value}'"),
            format!("{value}' OR '1'='1"),
            format!("{value}' OR 1=1 --"),
            "x') OR ('1'='1".to_string(),
            format!("{value}'; DELETE FROM users; --"),
            format!("{value}\\"),
            format!("{value}\\' OR 1=1 --"),
            "%".to_string(),
            format!("{}%", &value[..3]),
            "_".repeat(value.len()),
            format!("{}_", &value[..value.len() - 1]),
            "%00".to_string(),
        ] {
            let uri = format!("/api/audit?{field}={}", encode(&payload));
            let (s, v) = call_as(&app, Some(&admin), Method::GET, &uri, "").await;
            assert_eq!(s, StatusCode::OK, "{uri}: {v}");
            assert_eq!(v.as_array().unwrap().len(), 0, "{uri}: {v}");
        }
        // A NUL character is refused on both databases (PostgreSQL cannot hold one in text and
        // refuses it as a parameter: an internal error before the API refused it).
        let uri = format!("/api/audit?{field}={}", encode(&format!("{value}\0")));
        let (s, v) = call_as(&app, Some(&admin), Method::GET, &uri, "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["error"]["kind"], "invalid_argument", "{uri}: {v}");
    }
    let (s, _) = call_as(
        &app,
        Some(&admin),
        Method::GET,
        "/api/audit?before_id=1%20OR%201%3D1",
        "",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a number filter takes numbers");
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
    let (s, v) = call_as(&e.app, Some(&admin), Method::POST, "/api/cameras", &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Refused with the shared error body, also when the length is announced up front.
    assert_eq!(v["error"]["kind"], "resource_exhausted", "{v}");
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

// ---------------------------------------------------------------------------------------------
// S9: another camera's objects, on every route, generated from the route table.

/// The kind of object a route's `{id}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Camera,
    Incident,
    Hotspot,
    Rule,
    Alert,
    Export,
    Hold,
    /// An enforcement operation: bound to the hotspots it names.
    Operation,
    /// Not bound to a camera or hotspot: users, webhooks, discovered (not yet added) ONVIF
    /// devices. A scope does not apply to them; their permissions do.
    Unbound,
}

/// The kind of object an `{id}` route reaches, by its path prefix. A prefix not listed fails the
/// test: a new route must be classified (and, if camera-bound, checked) first.
fn kind_of(template: &str) -> Kind {
    const KINDS: [(&str, Kind); 13] = [
        ("/api/operations/{id}", Kind::Operation),
        // Reports made for the whole site: only an unrestricted caller reads them.
        ("/api/reports/files/{id}", Kind::Unbound),
        ("/api/cameras/{id}", Kind::Camera),
        ("/api/incidents/{id}", Kind::Incident),
        ("/api/hotspots/{id}", Kind::Hotspot),
        ("/api/rules/{id}", Kind::Rule),
        ("/api/alerts/{id}", Kind::Alert),
        ("/api/exports/{id}", Kind::Export),
        ("/api/holds/{id}", Kind::Hold),
        ("/api/users/{id}", Kind::Unbound),
        ("/api/webhooks/{id}", Kind::Unbound),
        ("/api/onvif/discovered/{id}", Kind::Unbound),
        // A unit's own dispatches: bound by the dispatch to the calling unit, not by a scope.
        ("/api/units/me/alerts/{id}", Kind::Unbound),
    ];
    KINDS
        .iter()
        .find(|(p, _)| template == *p || template.starts_with(&format!("{p}/")))
        .map(|(_, k)| *k)
        .unwrap_or_else(|| panic!("{template}: unclassified object route; add it to kind_of"))
}

/// Whether a list route (GET without `{id}`) can hold camera- or hotspot-bound objects, so a
/// scoped user must find none of another camera's in it (`true`), or answers site-wide data that
/// a scope does not limit (`false`). A route not listed fails the test.
fn list_is_scoped(path: &str) -> bool {
    match path {
        "/api/cameras"
        | "/api/hotspots"
        | "/api/rules"
        | "/api/incidents"
        | "/api/alerts"
        | "/api/alerts/precision"
        | "/api/reports/response-times"
        | "/api/analytics/stats"
        | "/api/exports"
        | "/api/holds"
        | "/api/units"
        | "/api/storage"
        | "/api/stats/incidents"
        | "/api/stats/alerts"
        | "/api/stats/external"
        | "/api/stats/public"
        | "/api/reports/weekly"
        | "/api/reports"
        | "/api/operations"
        | "/metrics" => true,
        // Site-wide by design, or the caller's own: who did what, the users, the evidence log and its keys, devices
        // found on the network before they are cameras, webhook endpoints.
        "/api/audit"
        | "/api/users"
        | "/api/keys"
        | "/api/log/checkpoint"
        | "/api/log/consistency"
        | "/api/onvif/discovered"
        | "/api/webhooks"
        // Which files of counts were imported, by whom (their counts are scoped, above).
        | "/api/stats/imports"
        // The calling unit's own dispatches (units answer with their unit, nobody else has one).
        | "/api/units/me/alerts" => false,
        p => panic!("{p}: unclassified list route; add it to list_is_scoped"),
    }
}

/// One camera's objects, created through the API or the store.
struct Objects {
    camera: String,
    hotspot: String,
    rule: String,
    incident: String,
    alert: String,
    export: String,
    hold: String,
    operation: String,
}

impl Objects {
    fn id(&self, kind: Kind) -> &str {
        match kind {
            Kind::Camera => &self.camera,
            Kind::Incident => &self.incident,
            Kind::Hotspot => &self.hotspot,
            Kind::Rule => &self.rule,
            Kind::Alert => &self.alert,
            Kind::Export => &self.export,
            Kind::Hold => &self.hold,
            Kind::Operation => &self.operation,
            Kind::Unbound => unreachable!("unbound routes name no camera's object"),
        }
    }

    /// Every id of these objects that a response may carry as text.
    fn uuids(&self) -> [&str; 6] {
        [
            &self.camera,
            &self.hotspot,
            &self.rule,
            &self.incident,
            &self.alert,
            &self.export,
        ]
    }
}

/// An id of `kind` that names nothing.
fn missing_id(kind: Kind) -> String {
    match kind {
        Kind::Hold => "999999".into(),
        Kind::Camera => CameraId::new_random().to_string(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

fn hotspot_doc(camera: &str, name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name, "lat": 59.33, "lon": 18.06, "priority": 2,
        "cameras": [camera],
        "zones": [{"id": "z", "camera": camera,
            "polygon": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
        "schedule": {"tz": "Europe/Stockholm", "always": true},
    })
}

fn rule_doc(hotspot: &str, enabled: bool) -> serde_json::Value {
    serde_json::json!({"hotspot": hotspot, "name": "Intrusion", "kind": "intrusion",
        "zone": "z", "severity": "high", "enabled": enabled})
}

/// A camera's hotspot, rule, alerting incident (with a snapshot), finished export and hold; the
/// alert is filled in once the alert service has gathered the incidents.
async fn objects_of(e: &Env, camera: &str, name: &str) -> Objects {
    let admin = Some(e.admin.as_str());
    let post = |uri: &'static str, body: String| {
        let app = e.app.clone();
        async move { call_as(&app, admin, Method::POST, uri, &body).await }
    };
    let (s, h) = post("/api/hotspots", hotspot_doc(camera, name).to_string()).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    let hotspot = h["id"].as_str().unwrap().to_string();
    let (s, r) = post("/api/rules", rule_doc(&hotspot, true).to_string()).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let cam = CameraId::parse(camera).unwrap();
    let now = roeh_domain::Clock::wall(&SystemClock::new());
    let incident = uuid::Uuid::new_v4();
    e.store
        .insert_incident(&roeh_store::NewIncident {
            id: incident,
            rule_id: uuid::Uuid::parse_str(r["id"].as_str().unwrap()).unwrap(),
            kind: "intrusion".into(),
            priority: 2,
            reason: "person in zone".into(),
            ..support::incident(uuid::Uuid::parse_str(&hotspot).unwrap(), cam, now)
        })
        .await
        .unwrap();
    // Without analytics, snapshots are read from `snapshots` beside the footage root.
    let snaps = e.dir.path().join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::write(
        snaps.join(format!("{incident}.jpg")),
        b"\xff\xd8jpeg\xff\xd9",
    )
    .unwrap();
    e.store
        .set_incident_snapshot(incident, &format!("{incident}.jpg"))
        .await
        .unwrap();
    let export = uuid::Uuid::new_v4().to_string();
    let bundles = e.dir.path().join("bundles");
    std::fs::create_dir_all(&bundles).unwrap();
    let zip = bundles.join(format!("{export}.zip"));
    std::fs::write(&zip, b"PK\x05\x06").unwrap();
    e.store
        .insert_export(&roeh_store::ExportRow {
            id: export.clone(),
            camera: cam,
            start: now.minus(std::time::Duration::from_secs(60)),
            end: now,
            reason: "fight".into(),
            case_ref: "PD-1".into(),
            requester: "admin".into(),
            state: roeh_store::ExportState::Done,
            bytes_done: 4,
            bytes_total: 4,
            path: Some(zip.to_str().unwrap().to_string()),
            error: None,
            created_at: now,
            finished_at: Some(now),
        })
        .await
        .unwrap();
    let (s, hold) = post(
        "/api/holds",
        serde_json::json!({"camera": camera, "start": "2026-11-22T10:00:00Z",
            "end": "2026-11-22T10:01:00Z", "case": "PD-1", "reason": "fight"})
        .to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{hold}");
    let (s, op) = post(
        "/api/operations",
        serde_json::json!({"name": format!("nights at {name}"), "start": "2026-07-01",
            "end": "2026-08-31", "hotspots": [hotspot]})
        .to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{op}");
    Objects {
        camera: camera.to_string(),
        hotspot,
        rule: r["id"].as_str().unwrap().to_string(),
        incident: incident.to_string(),
        alert: String::new(),
        export,
        hold: hold["id"].as_i64().unwrap().to_string(),
        operation: op["id"].as_str().unwrap().to_string(),
    }
}

/// Camera A's and camera B's objects, alerts included.
async fn both_cameras(e: &Env) -> (Objects, Objects) {
    let mut a = objects_of(e, &e.cam_a, "Square").await;
    let mut b = objects_of(e, &e.cam_b, "Station").await;
    assert_eq!(e.alerts.ingest_once().await.unwrap(), 2);
    let (s, list) = call_as(&e.app, Some(&e.admin), Method::GET, "/api/alerts", "").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    for o in [&mut a, &mut b] {
        o.alert = list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["hotspot"] == o.hotspot.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
    }
    (a, b)
}

/// The body a state change is tried with: one the route would accept for an object it reaches.
fn body_for(method: &Method, template: &str, b: &Objects) -> String {
    match (method.as_str(), template) {
        ("PUT", "/api/hotspots/{id}") => hotspot_doc(&b.camera, "Renamed").to_string(),
        ("PUT", "/api/rules/{id}") => rule_doc(&b.hotspot, false).to_string(),
        ("PUT", "/api/cameras/{id}/analysis") => r#"{"enabled":false}"#.into(),
        ("POST", "/api/alerts/{id}/note") => r#"{"text":"seen on camera"}"#.into(),
        ("POST", "/api/alerts/{id}/dispatch") => {
            format!(r#"{{"units":["{}"]}}"#, uuid::Uuid::new_v4())
        }
        ("POST", "/api/holds/{id}/clear") => r#"{"reason":"case closed"}"#.into(),
        ("POST" | "PUT", _) => "{}".into(),
        _ => String::new(),
    }
}

/// Status and raw body: an out-of-scope object must answer byte for byte like a missing one.
async fn call_raw(
    app: &axum::Router,
    token: &str,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, Vec<u8>) {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if !body.is_empty() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let (status, _, bytes) =
        support::send(app, b.body(Body::from(body.to_string())).unwrap()).await;
    (status, bytes.to_vec())
}

/// Everything a refused state change could have touched.
async fn state_of(e: &Env, a: &Objects, b: &Objects) -> String {
    let mut out = format!("{:?}", counts(&e.store).await);
    for o in [a, b] {
        let u = |s: &str| uuid::Uuid::parse_str(s).unwrap();
        out.push_str(&format!(
            "\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            e.store.get_hotspot(u(&o.hotspot)).await.unwrap(),
            e.store.get_rule(u(&o.rule)).await.unwrap(),
            e.store.get_incident(u(&o.incident)).await.unwrap(),
            e.store.get_alert(u(&o.alert)).await.unwrap(),
            e.store.alert_events_of(u(&o.alert)).await.unwrap(),
            e.store
                .camera_analysis(CameraId::parse(&o.camera).unwrap())
                .await
                .unwrap(),
        ));
    }
    out.push_str(&format!("\n{:?}", e.store.holds(false).await.unwrap()));
    out
}

#[tokio::test]
async fn scoped_users_reach_no_object_of_another_camera_on_any_route() {
    let e = env().await;
    let (a, b) = both_cameras(&e).await;
    let cam_a = CameraId::parse(&e.cam_a).unwrap();
    let hs_a = uuid::Uuid::parse_str(&a.hotspot).unwrap();
    // Every role but admin limited to camera A, and operators limited to A's hotspot.
    let mut users = Vec::new();
    for role in Role::ALL {
        if role == Role::Admin {
            continue;
        }
        let name = format!("cam-{}", role.as_str());
        let t = support::user_token(&e.store, &name, role, Scope::cameras([cam_a])).await;
        users.push((name, role, true, t));
    }
    for role in [Role::Operator, Role::Supervisor, Role::Integrator] {
        let name = format!("hotspot-{}", role.as_str());
        let t = support::user_token(&e.store, &name, role, Scope::hotspots([hs_a])).await;
        users.push((name, role, false, t));
    }

    // The objects exist: the admin reads them, and camera-A users read A's (before the state is
    // taken: downloads are logged as evidence access).
    let id_routes: Vec<(Method, &str, Kind, Permission)> = ROUTES
        .iter()
        .filter(|(_, p)| p.contains("{id}"))
        .filter_map(|(m, p)| {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            let kind = kind_of(p);
            match route_policy(&method, p) {
                Some(Policy::Needs(perm)) if kind != Kind::Unbound => {
                    Some((method, *p, kind, perm))
                }
                _ => None,
            }
        })
        .collect();
    assert!(id_routes.len() >= 25, "{} routes", id_routes.len());
    for (method, p, kind, perm) in &id_routes {
        if *method != Method::GET {
            continue;
        }
        let missing = p.replace("{id}", &missing_id(*kind));
        let (sm, vm) = call_raw(&e.app, &e.admin, method.clone(), &missing, "").await;
        let (sb, vb) = call_raw(
            &e.app,
            &e.admin,
            method.clone(),
            &p.replace("{id}", b.id(*kind)),
            "",
        )
        .await;
        assert_ne!((sb, &vb), (sm, &vm), "admin: {p}: B's object must exist");
        for (name, role, by_camera, t) in &users {
            if *by_camera && role_allows(*role, *perm) {
                let uri = p.replace("{id}", a.id(*kind));
                let (sa, va) = call_raw(&e.app, t, method.clone(), &uri, "").await;
                let (sm, vm) = call_raw(&e.app, t, method.clone(), &missing, "").await;
                assert_ne!(
                    (sa, &va),
                    (sm, &vm),
                    "{name}: {uri}: A's object is in scope"
                );
            }
        }
    }

    let before = state_of(&e, &a, &b).await;
    for (method, p, kind, perm) in &id_routes {
        let body = body_for(method, p, &b);
        let uri_b = p.replace("{id}", b.id(*kind));
        let uri_missing = p.replace("{id}", &missing_id(*kind));
        for (name, role, _, t) in &users {
            if !role_allows(*role, *perm) {
                continue;
            }
            let (sb, vb) = call_raw(&e.app, t, method.clone(), &uri_b, &body).await;
            let (sm, vm) = call_raw(&e.app, t, method.clone(), &uri_missing, &body).await;
            let text = String::from_utf8_lossy(&vb);
            assert!(
                sb.is_client_error(),
                "{name}: {method} {uri_b}: {sb} {text}"
            );
            assert_eq!(
                (sb, &vb),
                (sm, &vm),
                "{name}: {method} {p}: B's object answers unlike a missing one: {text} vs {}",
                String::from_utf8_lossy(&vm)
            );
        }
    }
    assert_eq!(
        state_of(&e, &a, &b).await,
        before,
        "refused changes changed nothing"
    );

    // Lists: no id of B's objects in any scoped list (raw text, so nested ids count too); A's
    // objects are listed.
    let day = std::time::Duration::from_secs(86_400);
    let now = roeh_domain::Clock::wall(&SystemClock::new());
    let reports = format!(
        "?from={}&to={}",
        now.minus(day).to_rfc3339(),
        now.plus(day).to_rfc3339()
    );
    for (m, p) in ROUTES.iter() {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let Some(Policy::Needs(perm)) = route_policy(&method, p) else {
            continue;
        };
        if method != Method::GET || p.contains("{id}") || !list_is_scoped(p) {
            continue;
        }
        let uri = match *p {
            "/api/reports/response-times" => format!("{p}{reports}"),
            _ => p.to_string(),
        };
        for (name, role, _, t) in &users {
            if !role_allows(*role, perm) {
                continue;
            }
            let (s, v) = call_raw(&e.app, t, Method::GET, &uri, "").await;
            let text = String::from_utf8_lossy(&v);
            for id in b.uuids() {
                assert!(
                    !text.contains(id),
                    "{name}: {uri} shows B's {id}: {s} {text}"
                );
            }
        }
    }
    for (uri, a_id, perm) in [
        ("/api/incidents", &a.incident, Permission::ViewIncidents),
        ("/api/hotspots", &a.hotspot, Permission::ViewIncidents),
        ("/api/rules", &a.rule, Permission::ViewIncidents),
        ("/api/alerts", &a.alert, Permission::HandleAlerts),
        ("/api/exports", &a.export, Permission::ExportEvidence),
        ("/api/holds", &a.camera, Permission::ManageHolds),
    ] {
        for (name, role, by_camera, t) in &users {
            // Exports and holds are reached through cameras, which a hotspot scope does not grant.
            let by_hotspot_too = !matches!(uri, "/api/exports" | "/api/holds");
            if role_allows(*role, perm) && (*by_camera || by_hotspot_too) {
                let (s, v) = call_raw(&e.app, t, Method::GET, uri, "").await;
                let text = String::from_utf8_lossy(&v);
                assert!(text.contains(a_id.as_str()), "{name}: {uri}: {s} {text}");
            }
        }
    }

    // A filter naming B's camera or hotspot reads like one with nothing in it, and B's incident
    // as a cursor is refused like an unknown one.
    let other_cam = CameraId::new_random().to_string();
    let other = uuid::Uuid::new_v4().to_string();
    for (named, unknown, perm) in [
        (
            format!("/api/incidents?camera={}", b.camera),
            format!("/api/incidents?camera={other_cam}"),
            Permission::ViewIncidents,
        ),
        (
            format!("/api/incidents?hotspot={}", b.hotspot),
            format!("/api/incidents?hotspot={other}"),
            Permission::ViewIncidents,
        ),
        (
            format!("/api/incidents?before={}", b.incident),
            format!("/api/incidents?before={other}"),
            Permission::ViewIncidents,
        ),
        (
            format!("/api/rules?hotspot={}", b.hotspot),
            format!("/api/rules?hotspot={other}"),
            Permission::ViewIncidents,
        ),
        (
            format!("/api/alerts?hotspot={}", b.hotspot),
            format!("/api/alerts?hotspot={other}"),
            Permission::HandleAlerts,
        ),
    ] {
        for (name, role, _, t) in &users {
            if !role_allows(*role, perm) {
                continue;
            }
            let (sb, vb) = call_raw(&e.app, t, Method::GET, &named, "").await;
            let (su, vu) = call_raw(&e.app, t, Method::GET, &unknown, "").await;
            assert_eq!((sb, &vb), (su, &vu), "{name}: {named} vs {unknown}");
        }
    }
    // The cursor is refused with 400 alike; the admin's answer for B's filter is not empty.
    let op = &users.iter().find(|u| u.0 == "cam-operator").unwrap().3;
    let (s, _) = call_raw(
        &e.app,
        op,
        Method::GET,
        &format!("/api/incidents?before={}", b.incident),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, v) = call_as(
        &e.app,
        Some(&e.admin),
        Method::GET,
        &format!("/api/incidents?camera={}", b.camera),
        "",
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test]
async fn scoped_users_change_only_hotspots_of_their_scope_and_name_no_other_camera() {
    let e = env().await;
    let (a, b) = both_cameras(&e).await;
    let cam_a = CameraId::parse(&e.cam_a).unwrap();
    let hs_a = uuid::Uuid::parse_str(&a.hotspot).unwrap();
    let sup =
        support::user_token(&e.store, "sup-a", Role::Supervisor, Scope::cameras([cam_a])).await;
    let int_h =
        support::user_token(&e.store, "int-h", Role::Integrator, Scope::hotspots([hs_a])).await;
    let unknown_cam = CameraId::new_random().to_string();
    let unknown_hotspot = uuid::Uuid::new_v4().to_string();
    // Naming B's camera or hotspot is refused exactly like naming an unknown one.
    let refusal = |t: &str, method: Method, uri: String, body: serde_json::Value, id: String| {
        let app = e.app.clone();
        let t = t.to_string();
        async move {
            let (s, v) = call_raw(&app, &t, method, &uri, &body.to_string()).await;
            (s, String::from_utf8(v).unwrap().replace(&id, "ID"))
        }
    };
    for (t, uri, method) in [
        (&sup, "/api/hotspots".to_string(), Method::POST),
        (&sup, format!("/api/hotspots/{}", a.hotspot), Method::PUT),
        (&int_h, format!("/api/hotspots/{}", a.hotspot), Method::PUT),
    ] {
        let with = |cam: &str| {
            let mut h = hotspot_doc(&e.cam_a, "Square");
            h["cameras"] = serde_json::json!([e.cam_a, cam]);
            h
        };
        let named = refusal(
            t,
            method.clone(),
            uri.clone(),
            with(&b.camera),
            b.camera.clone(),
        )
        .await;
        let unknown = refusal(
            t,
            method.clone(),
            uri.clone(),
            with(&unknown_cam),
            unknown_cam.clone(),
        )
        .await;
        assert_eq!(named.0, StatusCode::BAD_REQUEST, "{uri}: {}", named.1);
        assert!(named.1.contains("is not a known camera"), "{}", named.1);
        assert_eq!(named, unknown, "{method} {uri}");
    }
    let named = refusal(
        &sup,
        Method::POST,
        "/api/rules".into(),
        rule_doc(&b.hotspot, true),
        b.hotspot.clone(),
    )
    .await;
    let unknown = refusal(
        &sup,
        Method::POST,
        "/api/rules".into(),
        rule_doc(&unknown_hotspot, true),
        unknown_hotspot.clone(),
    )
    .await;
    assert_eq!(named.0, StatusCode::BAD_REQUEST, "{}", named.1);
    assert_eq!(named, unknown);
    assert_eq!(e.store.list_hotspots().await.unwrap().len(), 2);
    assert_eq!(e.store.list_rules(None).await.unwrap().len(), 2);

    // Within the scope, changes are made: by camera, and by hotspot for the cameras it had.
    for (t, name) in [(&sup, "Square 2"), (&int_h, "Square 3")] {
        let uri = format!("/api/hotspots/{}", a.hotspot);
        let body = hotspot_doc(&e.cam_a, name).to_string();
        let (s, v) = call_raw(&e.app, t, Method::PUT, &uri, &body).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
        let uri = format!("/api/rules/{}", a.rule);
        let body = rule_doc(&a.hotspot, false).to_string();
        let (s, v) = call_raw(&e.app, t, Method::PUT, &uri, &body).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&v));
    }
    let stored = e.store.get_hotspot(hs_a).await.unwrap().unwrap();
    assert_eq!(stored.name, "Square 3");
}

#[tokio::test]
async fn a_hotspot_scope_reaches_the_cameras_of_its_hotspots_and_no_others() {
    let e = env().await;
    let (a, b) = both_cameras(&e).await;
    let hs_a = uuid::Uuid::parse_str(&a.hotspot).unwrap();
    let op = support::user_token(
        &e.store,
        "op-square",
        Role::Operator,
        Scope::hotspots([hs_a]),
    )
    .await;
    let inv = support::user_token(
        &e.store,
        "inv-square",
        Role::Investigator,
        Scope::hotspots([hs_a]),
    )
    .await;
    // The camera of the hotspot: its page, its recordings, the camera list.
    for uri in [
        format!("/api/cameras/{}", a.camera),
        format!("/api/cameras/{}/segments", a.camera),
        format!("/api/cameras/{}/gaps", a.camera),
    ] {
        let (s, v) = call_as(&e.app, Some(&op), Method::GET, &uri, "").await;
        assert_eq!(s, StatusCode::OK, "{uri}: {v}");
        // The other hotspot's camera answers like a camera that does not exist.
        let other = uri.replace(&a.camera, &b.camera);
        let missing = uri.replace(&a.camera, &CameraId::new_random().to_string());
        let (sb, vb) = call_as(&e.app, Some(&op), Method::GET, &other, "").await;
        let (sm, vm) = call_as(&e.app, Some(&op), Method::GET, &missing, "").await;
        assert_eq!(sb, StatusCode::NOT_FOUND, "{other}: {vb}");
        assert_eq!((sb, vb), (sm, vm), "{other}");
    }
    let (_, list) = call_as(&e.app, Some(&op), Method::GET, "/api/cameras", "").await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.camera.as_str()]);
    // Evidence follows the same reach: A's export and hold are listed, B's are not.
    for (path, mine, theirs) in [
        ("/api/exports", &a.export, &b.export),
        ("/api/holds", &a.hold, &b.hold),
    ] {
        let (s, v) = call_as(&e.app, Some(&inv), Method::GET, path, "").await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        let ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| match &x["id"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        assert!(ids.contains(mine), "{path}: {v}");
        assert!(!ids.contains(theirs), "{path}: {v}");
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .all(|x| x["camera"] == a.camera.as_str())
        );
    }
    let (s, v) = call_as(
        &e.app,
        Some(&inv),
        Method::GET,
        &format!("/api/exports/{}", a.export),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Taking the camera out of the hotspot takes it out of the scope at once.
    let mut doc = hotspot_doc(&e.cam_b, "Square");
    doc["id"] = serde_json::json!(a.hotspot);
    let (s, v) = call_as(
        &e.app,
        Some(&e.admin),
        Method::PUT,
        &format!("/api/hotspots/{}", a.hotspot),
        &doc.to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = call_as(
        &e.app,
        Some(&op),
        Method::GET,
        &format!("/api/cameras/{}", a.camera),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call_as(
        &e.app,
        Some(&op),
        Method::GET,
        &format!("/api/cameras/{}", b.camera),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_scoped_user_cannot_widen_a_hotspot_that_others_are_scoped_to() {
    let e = env().await;
    let (a, _b) = both_cameras(&e).await;
    let cam_a = CameraId::parse(&e.cam_a).unwrap();
    let cam_b = CameraId::parse(&e.cam_b).unwrap();
    let hs_a = uuid::Uuid::parse_str(&a.hotspot).unwrap();
    // A supervisor granted both cameras; an operator scoped to hotspot A (camera A only).
    let sup = support::user_token(
        &e.store,
        "sup-ab",
        Role::Supervisor,
        Scope::cameras([cam_a, cam_b]),
    )
    .await;
    let op = support::user_token(&e.store, "op-h", Role::Operator, Scope::hotspots([hs_a])).await;
    let uri_b = format!("/api/cameras/{}", e.cam_b);
    let (s, _) = call_as(&e.app, Some(&op), Method::GET, &uri_b, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Adding camera B to hotspot A would hand it to the operator: refused, nothing changes.
    let mut doc = hotspot_doc(&e.cam_a, "Square");
    doc["cameras"] = serde_json::json!([e.cam_a, e.cam_b]);
    let uri = format!("/api/hotspots/{}", a.hotspot);
    let before = e.store.get_hotspot(hs_a).await.unwrap().unwrap().document;
    let (s, v) = call_as(&e.app, Some(&sup), Method::PUT, &uri, &doc.to_string()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("widen"), "{v}");
    assert_eq!(
        e.store.get_hotspot(hs_a).await.unwrap().unwrap().document,
        before
    );
    let (s, _) = call_as(&e.app, Some(&op), Method::GET, &uri_b, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Renaming it with the same cameras is fine; a new hotspot with both cameras too (nobody
    // is scoped to it yet).
    let (s, v) = call_as(
        &e.app,
        Some(&sup),
        Method::PUT,
        &uri,
        &hotspot_doc(&e.cam_a, "Square north").to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut fresh = doc.clone();
    fresh["name"] = serde_json::json!("Both gates");
    let (s, v) = call_as(
        &e.app,
        Some(&sup),
        Method::POST,
        "/api/hotspots",
        &fresh.to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The site admin may widen it; the operator then reaches camera B.
    let (s, v) = call_as(&e.app, Some(&e.admin), Method::PUT, &uri, &doc.to_string()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = call_as(&e.app, Some(&op), Method::GET, &uri_b, "").await;
    assert_eq!(s, StatusCode::OK);
}

/// An admin changes a user's role and scope (the user's token carries the change at once),
/// cannot demote the last admin, lists a user's tokens (never the token itself) and revokes one
/// of them; another user's token cannot be revoked through this user.
#[tokio::test]
async fn an_admin_changes_a_users_access_and_revokes_one_of_their_tokens() {
    let e = env().await;
    let op = support::user_token(&e.store, "mira", Role::Operator, Scope::default()).await;
    let other = support::user_token(&e.store, "tal", Role::Operator, Scope::default()).await;
    let (_, users) = call_as(&e.app, Some(&e.admin), Method::GET, "/api/users", "").await;
    let id_of = |name: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (mira, tal) = (id_of("mira"), id_of("tal"));
    let admin_id = id_of("admin");
    let (s, me) = call_as(&e.app, Some(&op), Method::GET, "/api/auth/me", "").await;
    assert_eq!((s, me["role"].as_str()), (StatusCode::OK, Some("operator")));

    // Supervisor of camera A only: the next request already has it.
    let body = format!(
        r#"{{"role":"supervisor","scope":{{"cameras":["{}"]}}}}"#,
        e.cam_a
    );
    let (s, v) = call_as(
        &e.app,
        Some(&e.admin),
        Method::POST,
        &format!("/api/users/{mira}/access"),
        &body,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["role"], "supervisor");
    let (_, me) = call_as(&e.app, Some(&op), Method::GET, "/api/auth/me", "").await;
    assert_eq!(me["role"], "supervisor", "{me}");
    assert_eq!(me["scope"]["cameras"], serde_json::json!([e.cam_a]), "{me}");
    let (_, cams) = call_as(&e.app, Some(&op), Method::GET, "/api/cameras", "").await;
    assert_eq!(cams.as_array().unwrap().len(), 1, "{cams}");

    // Refusals: an unknown role, a scope naming nothing real, the last admin, no such user.
    for (who, body, status) in [
        (
            mira,
            r#"{"role":"chief"}"#.to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            mira,
            r#"{"role":"operator","scope":{"rooms":[]}}"#.to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            admin_id,
            r#"{"role":"operator"}"#.to_string(),
            StatusCode::CONFLICT,
        ),
        (
            999_999,
            r#"{"role":"operator"}"#.to_string(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (s, v) = call_as(
            &e.app,
            Some(&e.admin),
            Method::POST,
            &format!("/api/users/{who}/access"),
            &body,
        )
        .await;
        assert_eq!(s, status, "{body}: {v}");
    }
    let (_, v) = call_as(&e.app, Some(&e.admin), Method::GET, "/api/users", "").await;
    assert!(
        v.to_string().contains("\"supervisor\""),
        "mira kept her new role: {v}"
    );

    // Her tokens: listed without the secret, revoked one by one.
    let (s, list) = call_as(
        &e.app,
        Some(&e.admin),
        Method::GET,
        &format!("/api/users/{mira}/tokens"),
        "",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let first = &list.as_array().unwrap()[0];
    assert_eq!(first["live"], true, "{list}");
    assert!(
        !list.to_string().contains(&op),
        "the token itself is never listed"
    );
    let token_id = first["id"].as_str().unwrap().to_string();
    assert_eq!(token_id, hex::encode(roeh_auth::hash_token(&op)));
    // Not through another user, not an id that is not one.
    let (_, tal_list) = call_as(
        &e.app,
        Some(&e.admin),
        Method::GET,
        &format!("/api/users/{tal}/tokens"),
        "",
    )
    .await;
    let tal_token = tal_list[0]["id"].as_str().unwrap().to_string();
    for uri in [
        format!("/api/users/{mira}/tokens/{tal_token}"),
        format!("/api/users/{mira}/tokens/not-hex"),
    ] {
        let (s, _) = call_as(&e.app, Some(&e.admin), Method::DELETE, &uri, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
    }
    let (s, _) = call_as(&e.app, Some(&other), Method::GET, "/api/auth/me", "").await;
    assert_eq!(s, StatusCode::OK, "tal's token is untouched");
    let uri = format!("/api/users/{mira}/tokens/{token_id}");
    let (s, _) = call_as(&e.app, Some(&e.admin), Method::DELETE, &uri, "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call_as(&e.app, Some(&op), Method::GET, "/api/auth/me", "").await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the revoked token opens nothing"
    );
    let (s, _) = call_as(&e.app, Some(&e.admin), Method::DELETE, &uri, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "revoked already");
    let (_, list) = call_as(
        &e.app,
        Some(&e.admin),
        Method::GET,
        &format!("/api/users/{mira}/tokens"),
        "",
    )
    .await;
    assert_eq!(list[0]["live"], false, "{list}");
    assert!(list[0]["revoked_at"].is_string(), "{list}");
}
