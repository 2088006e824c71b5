//! Response-time reports over real HTTP on a bound port, with a simulated clock: alerts are
//! raised from incidents and handled through the API (claim, acknowledge, dispatch, unit
//! receipts, false alarm) with the clock advanced by known amounts; the report gives exact
//! counts and seconds per hotspot and per shift in the control room's time zone, across a
//! shift boundary; scopes hide other hotspots; bad queries and roles are refused.

#![allow(clippy::unwrap_used)]

mod support;

use roeh_alerts::Shifts;
use roeh_api::alerts::AlertsSettings;
use roeh_auth::{Role, Scope};
use roeh_domain::{CameraId, Clock, SimClock, WallTime};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The API served with a test site on a simulated clock.
type Env = support::HttpSite<SimClock>;

impl support::HttpSite<SimClock> {
    /// `GET` or `POST` (a `null` body sends none) as `token`, answering JSON.
    async fn call(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        let method = if method == "GET" { "GET" } else { "POST" };
        let body = (method == "POST" && !body.is_null()).then_some(&body);
        let (s, text) = support::call(&self.http, self.addr, Some(token), method, path, body).await;
        (s, support::json(&text))
    }

    async fn report(&self, token: &str, query: &str) -> (u16, Value) {
        self.call(
            token,
            "GET",
            &format!("/api/reports/response-times?{query}"),
            Value::Null,
        )
        .await
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Moves the simulated clock forward to `at` (RFC 3339).
    fn advance_to(&self, at: &str) {
        let to = WallTime::parse(at).unwrap();
        let now = self.clock.wall();
        assert!(to >= now, "the clock only moves forward");
        self.clock.advance(to.duration_since(now));
    }
}

/// The control room of the tests: Jerusalem time (UTC+2 in January), three shifts.
fn jerusalem_shifts() -> Shifts {
    Shifts::parse(
        "Asia/Jerusalem",
        &[
            ("morning", "07:00"),
            ("evening", "15:00"),
            ("night", "23:00"),
        ],
    )
    .unwrap()
}

async fn env(start: &str) -> Env {
    let clock = Arc::new(SimClock::new(WallTime::parse(start).unwrap()));
    let site = support::site(
        clock.clone(),
        AlertsSettings {
            shifts: jerusalem_shifts(),
            ..Default::default()
        },
    )
    .await;
    site.serve(clock).await
}

async fn camera(e: &Env, name: &str) -> CameraId {
    e.add_camera(name).await
}

async fn hotspot(e: &Env, name: &str, cam: CameraId) -> Uuid {
    e.add_hotspot(name, cam, (31.78, 35.22), "Asia/Jerusalem")
        .await
}

/// Raises an alert now: an alerting incident, gathered by the service. Returns the alert.
async fn raise(e: &Env, hotspot: Uuid, cam: CameraId) -> String {
    let now = e.clock.wall();
    e.store
        .insert_incident(&support::incident(hotspot, cam, now))
        .await
        .unwrap();
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1, "a new alert");
    let (s, v) = e
        .call(
            &e.admin,
            "GET",
            &format!("/api/alerts?hotspot={hotspot}&limit=1"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["created_at"], now.to_rfc3339());
    v[0]["id"].as_str().unwrap().to_string()
}

async fn act(e: &Env, token: &str, alert: &str, action: &str, body: Value) {
    let (s, v) = e
        .call(
            token,
            "POST",
            &format!("/api/alerts/{alert}/{action}"),
            body,
        )
        .await;
    assert_eq!(s, 200, "{action}: {v}");
}

async fn unit(e: &Env, name: &str) -> (Uuid, String) {
    e.add_unit(name, None).await
}

async fn receipt(e: &Env, token: &str, alert: &str, kind: &str) {
    let (s, v) = e
        .call(
            token,
            "POST",
            "/api/units/me/receipts",
            json!({"receipt_id": format!("{alert}-{kind}"), "alert": alert, "kind": kind}),
        )
        .await;
    assert_eq!(s, 201, "{kind}: {v}");
}

fn stats(count: u64, median: Option<f64>, p90: Option<f64>) -> Value {
    json!({"count": count, "median_secs": median, "p90_secs": p90})
}

const NONE: Value = Value::Null;

fn none() -> Value {
    stats(0, None, None)
}

/// The row of `rows` for (hotspot, shift), by their JSON values.
fn row(rows: &Value, hotspot: Value, shift: Value) -> &Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["hotspot"] == hotspot && r["shift"] == shift)
        .unwrap_or_else(|| panic!("no row {hotspot} {shift} in {rows}"))
}

struct Site {
    e: Env,
    square: Uuid,
    park: Uuid,
    cam_a: CameraId,
    sup: String,
}

/// Six alerts on 15 January 2026 (Jerusalem, UTC+2), handled with known delays:
///
/// | alert | hotspot | raised (UTC) | local | shift | handling (seconds after raised) |
/// |---|---|---|---|---|---|
/// | A1 | square | 12:50:00 | 14:50 | morning | claim 30, ack 45, dispatch 60 (accept +15, arrive +135), resolved |
/// | A2 | square | 13:00:10 | 15:00:10 | evening | claim 60, ack 80, false alarm |
/// | A3 | square | 13:10:00 | 15:10 | evening | claim 90, ack 120, dispatch 180 (arrive +300), resolved |
/// | P1 | park | 20:59:50 | 22:59:50 | evening | claim 5, false alarm |
/// | P2 | park | 21:00:00 | 23:00 | night | claim 40 |
/// | P3 | park | 22:30:00 | 00:30 (16th) | night (of the 15th) | claim 20 |
async fn site() -> Site {
    let e = env("2026-01-15T12:00:00Z").await;
    let (cam_a, cam_b) = (camera(&e, "square-cam").await, camera(&e, "park-cam").await);
    let square = hotspot(&e, "Square", cam_a).await;
    let park = hotspot(&e, "Park", cam_b).await;
    let op = support::user_token(&e.store, "op", Role::Operator, Scope::unrestricted()).await;
    let sup = support::user_token(&e.store, "sup", Role::Supervisor, Scope::unrestricted()).await;
    let (car1_id, car1) = unit(&e, "car-1").await;
    let (car2_id, car2) = unit(&e, "car-2").await;

    e.advance_to("2026-01-15T12:50:00Z");
    let a1 = raise(&e, square, cam_a).await;
    e.advance(30);
    act(&e, &op, &a1, "claim", NONE).await;
    e.advance(15);
    act(&e, &op, &a1, "acknowledge", NONE).await;
    e.advance(15);
    act(&e, &op, &a1, "dispatch", json!({"units": [car1_id]})).await;
    e.advance(5);
    receipt(&e, &car1, &a1, "delivered").await;
    e.advance(10);
    receipt(&e, &car1, &a1, "accepted").await;
    e.advance(120);
    receipt(&e, &car1, &a1, "arrived").await;
    act(&e, &op, &a1, "resolve", NONE).await;

    e.advance_to("2026-01-15T13:00:10Z");
    let a2 = raise(&e, square, cam_a).await;
    e.advance(60);
    act(&e, &op, &a2, "claim", NONE).await;
    e.advance(20);
    act(&e, &op, &a2, "acknowledge", NONE).await;
    act(&e, &op, &a2, "false-alarm", NONE).await;

    e.advance_to("2026-01-15T13:10:00Z");
    let a3 = raise(&e, square, cam_a).await;
    e.advance(90);
    act(&e, &op, &a3, "claim", NONE).await;
    e.advance(30);
    act(&e, &op, &a3, "acknowledge", NONE).await;
    e.advance(60);
    act(&e, &op, &a3, "dispatch", json!({"units": [car2_id]})).await;
    e.advance(300);
    receipt(&e, &car2, &a3, "arrived").await;
    act(&e, &op, &a3, "resolve", NONE).await;

    // The evening/night boundary of the park: 23:00 in Jerusalem is 21:00 UTC.
    e.advance_to("2026-01-15T20:59:50Z");
    let p1 = raise(&e, park, cam_b).await;
    e.advance(5);
    act(&e, &op, &p1, "claim", NONE).await;
    e.advance(5);
    act(&e, &op, &p1, "false-alarm", NONE).await;
    assert_eq!(
        e.clock.wall(),
        WallTime::parse("2026-01-15T21:00:00Z").unwrap()
    );
    let p2 = raise(&e, park, cam_b).await;
    e.advance(40);
    act(&e, &op, &p2, "claim", NONE).await;
    e.advance_to("2026-01-15T22:30:00Z");
    let p3 = raise(&e, park, cam_b).await;
    e.advance(20);
    act(&e, &op, &p3, "claim", NONE).await;
    Site {
        e,
        square,
        park,
        cam_a,
        sup,
    }
}

const DAY: &str = "from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_exact_response_times_per_hotspot_and_shift_in_the_site_time_zone() {
    let Site {
        e,
        square,
        park,
        sup,
        ..
    } = site().await;
    let (sq, pk) = (json!(square), json!(park));

    // Default grouping: hotspot and shift.
    let (s, v) = e.report(&sup, DAY).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["from"], "2026-01-15T00:00:00.000000Z");
    assert_eq!(v["to"], "2026-01-16T00:00:00.000000Z");
    assert_eq!(v["time_zone"], "Asia/Jerusalem");
    assert_eq!(v["group"], "hotspot_shift");
    let rows = &v["rows"];
    // Sorted by hotspot, then shift in the order of the day.
    let mut want = vec![
        (square, "morning"),
        (square, "evening"),
        (park, "evening"),
        (park, "night"),
    ];
    want.sort_by_key(|(h, s)| {
        (
            *h,
            ["morning", "evening", "night"].iter().position(|x| x == s),
        )
    });
    let got: Vec<(Uuid, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                Uuid::parse_str(r["hotspot"].as_str().unwrap()).unwrap(),
                r["shift"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);

    let m = row(rows, sq.clone(), json!("morning"));
    assert_eq!(
        m,
        &json!({
            "hotspot": square, "shift": "morning",
            "alerts": 1, "false_alarms": 0, "dispatched": 1, "arrived": 1,
            "to_claim": stats(1, Some(30.0), Some(30.0)),
            "to_acknowledge": stats(1, Some(45.0), Some(45.0)),
            "to_dispatch": stats(1, Some(60.0), Some(60.0)),
            "dispatch_to_accept": stats(1, Some(15.0), Some(15.0)),
            "dispatch_to_arrive": stats(1, Some(135.0), Some(135.0)),
            "raised_to_arrive": stats(1, Some(195.0), Some(195.0)),
        })
    );
    // Two evening alerts: the median is the lower of the two (nearest rank), p90 the upper.
    let ev = row(rows, sq.clone(), json!("evening"));
    assert_eq!(
        ev,
        &json!({
            "hotspot": square, "shift": "evening",
            "alerts": 2, "false_alarms": 1, "dispatched": 1, "arrived": 1,
            "to_claim": stats(2, Some(60.0), Some(90.0)),
            "to_acknowledge": stats(2, Some(80.0), Some(120.0)),
            "to_dispatch": stats(1, Some(180.0), Some(180.0)),
            "dispatch_to_accept": none(),
            "dispatch_to_arrive": stats(1, Some(300.0), Some(300.0)),
            "raised_to_arrive": stats(1, Some(480.0), Some(480.0)),
        })
    );
    // 22:59:50 local is evening; 23:00:00 and 00:30 of the next local day are the night shift.
    let pe = row(rows, pk.clone(), json!("evening"));
    assert_eq!(
        (pe["alerts"].as_u64(), pe["false_alarms"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(pe["to_claim"], stats(1, Some(5.0), Some(5.0)));
    assert_eq!(pe["to_acknowledge"], none());
    let pn = row(rows, pk.clone(), json!("night"));
    assert_eq!(
        (pn["alerts"].as_u64(), pn["false_alarms"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        (pn["dispatched"].as_u64(), pn["arrived"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(pn["to_claim"], stats(2, Some(20.0), Some(40.0)));
    assert_eq!(pn["raised_to_arrive"], none());

    // By shift alone, over both hotspots; in shift order.
    let (s, v) = e.report(&sup, &format!("{DAY}&group=shift")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["group"], "shift");
    let shifts: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["shift"].as_str().unwrap())
        .collect();
    assert_eq!(shifts, ["morning", "evening", "night"]);
    let ev = row(&v["rows"], Value::Null, json!("evening"));
    assert_eq!(
        (ev["alerts"].as_u64(), ev["false_alarms"].as_u64()),
        (Some(3), Some(2))
    );
    // Claims after 60, 90 and 5 s: ranks ceil(1.5) = 2 and ceil(2.7) = 3.
    assert_eq!(ev["to_claim"], stats(3, Some(60.0), Some(90.0)));

    // By hotspot alone.
    let (s, v) = e.report(&sup, &format!("{DAY}&group=hotspot")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    let r = row(&v["rows"], sq.clone(), Value::Null);
    assert_eq!(
        (r["alerts"].as_u64(), r["dispatched"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(r["to_claim"], stats(3, Some(60.0), Some(90.0)));
    assert_eq!(r["dispatch_to_arrive"], stats(2, Some(135.0), Some(300.0)));
    let r = row(&v["rows"], pk.clone(), Value::Null);
    assert_eq!(r["to_claim"], stats(3, Some(20.0), Some(40.0)));

    // One hotspot; the range is half-open: an alert raised at `to` is not in, one at `from` is.
    let (s, v) = e
        .report(
            &sup,
            &format!(
                "from=2026-01-15T20:59:50Z&to=2026-01-15T21:00:00Z&hotspot={park}&group=hotspot"
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rows"].as_array().unwrap().len(), 1);
    assert_eq!(v["rows"][0]["alerts"], 1);
    assert_eq!(v["rows"][0]["to_claim"], stats(1, Some(5.0), Some(5.0)));
    // Offsets in the query are honoured: 14:50+02:00 is 12:50Z, A1's raise.
    let (s, v) = e
        .report(
            &sup,
            "from=2026-01-15T14:50:01%2B02:00&to=2026-01-15T15:00:00%2B02:00&group=hotspot",
        )
        .await;
    assert_eq!((s, &v["rows"]), (200, &json!([])), "{v}");
    let (s, v) = e
        .report(
            &sup,
            "from=2026-01-15T14:50:00%2B02:00&to=2026-01-15T15:00:00%2B02:00&group=hotspot",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["from"], "2026-01-15T12:50:00.000000Z");
    assert_eq!(v["rows"][0]["alerts"], 1);
    // A day without alerts.
    let (s, v) = e
        .report(&sup, "from=2026-01-14T00:00:00Z&to=2026-01-15T00:00:00Z")
        .await;
    assert_eq!((s, &v["rows"]), (200, &json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_callers_see_only_their_hotspots_and_no_existence_oracle() {
    let Site {
        e,
        square,
        park,
        cam_a,
        ..
    } = site().await;
    let op_sq =
        support::user_token(&e.store, "op-sq", Role::Operator, Scope::hotspots([square])).await;
    let inv_sq = support::user_token(
        &e.store,
        "inv-sq",
        Role::Investigator,
        Scope::hotspots([square]),
    )
    .await;
    for token in [&op_sq, &inv_sq] {
        let (s, v) = e.report(token, DAY).await;
        assert_eq!(s, 200, "{v}");
        let hotspots: Vec<&Value> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["hotspot"])
            .collect();
        assert_eq!(hotspots, [&json!(square), &json!(square)], "{v}");
        // By shift, only the square's alerts are counted: one in the evening is a false alarm.
        let (s, v) = e.report(token, &format!("{DAY}&group=shift")).await;
        assert_eq!(s, 200, "{v}");
        let ev = row(&v["rows"], Value::Null, json!("evening"));
        assert_eq!(
            (ev["alerts"].as_u64(), ev["false_alarms"].as_u64()),
            (Some(2), Some(1))
        );
        assert!(
            v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["shift"] != "night"),
            "the park's night is hidden: {v}"
        );
        // The park answers exactly like a hotspot that does not exist.
        let (s_park, v_park) = e.report(token, &format!("{DAY}&hotspot={park}")).await;
        let missing = Uuid::new_v4();
        let (s_none, v_none) = e.report(token, &format!("{DAY}&hotspot={missing}")).await;
        assert_eq!((s_park, &v_park["rows"]), (200, &json!([])), "{v_park}");
        assert_eq!((s_none, &v_none["rows"]), (200, &json!([])));
        let (s, v) = e.report(token, &format!("{DAY}&hotspot={square}")).await;
        assert_eq!(s, 200);
        assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    }
    // A scope of cameras alone reaches no hotspot as a whole.
    let op_cam =
        support::user_token(&e.store, "op-cam", Role::Operator, Scope::cameras([cam_a])).await;
    let (s, v) = e.report(&op_cam, DAY).await;
    assert_eq!((s, &v["rows"]), (200, &json!([])), "{v}");
    // The unrestricted admin sees both hotspots, and the park when asked.
    let (s, v) = e.report(&e.admin, &format!("{DAY}&hotspot={park}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert!(
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["hotspot"] == json!(park))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_refused_with_the_error_body_and_units_are_forbidden() {
    let e = env("2026-01-15T12:00:00Z").await;
    let refused = |v: &Value, needle: &str| {
        assert_eq!(v["error"]["kind"], "invalid_argument", "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{needle:?} in {msg:?}");
    };
    for (query, needle) in [
        ("to=2026-01-16T00:00:00Z", "from is required"),
        ("from=2026-01-15T00:00:00Z", "to is required"),
        (
            "from=2026-01-16T00:00:00Z&to=2026-01-15T00:00:00Z",
            "to must be after from",
        ),
        (
            "from=2026-01-15T00:00:00Z&to=2026-01-15T00:00:00Z",
            "to must be after from",
        ),
        (
            "from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:01Z",
            "longer than 366 days",
        ),
        (
            "from=yesterday&to=2026-01-15T00:00:00Z",
            "from must be RFC 3339",
        ),
        (
            "from=1768435200000000&to=2026-01-16T00:00:00Z",
            "from must be RFC 3339",
        ),
        (&format!("{DAY}&group=camera"), "group must be"),
        (&format!("{DAY}&hotspot=square"), "hotspot must be a UUID"),
        (&format!("{DAY}&limit=10"), "unknown field"),
    ] {
        let (s, v) = e.report(&e.admin, query).await;
        assert_eq!(s, 400, "{query}: {v}");
        refused(&v, needle);
    }
    // 366 days exactly is allowed (2024 was a leap year).
    let (s, v) = e
        .report(
            &e.admin,
            "from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z",
        )
        .await;
    assert_eq!((s, &v["rows"]), (200, &json!([])), "{v}");
    let (s, _) = e
        .report(
            &e.admin,
            "from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
        )
        .await;
    assert_eq!(s, 200);

    // Roles without `view_incidents` are refused.
    let (_, car) = unit(&e, "car-9").await;
    let (s, v) = e.report(&car, DAY).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["kind"], "permission_denied");
    let int = support::user_token(&e.store, "int", Role::Integrator, Scope::unrestricted()).await;
    assert_eq!(e.report(&int, DAY).await.0, 403);
    let (s, _) = e.report("roeh_not-a-token", DAY).await;
    assert_eq!(s, 401);
}
