//! Reports over stored alerts: the timestamps response-time reports are computed from
//! (`migrations/sqlite/0007_alerts.sql`).
//!
//! Invariants:
//! - read-only: nothing here writes;
//! - one row per alert created in the half-open range `[from, to)`, in order of creation
//!   (then id), with the first dispatch time and the earliest receipt times over all its
//!   dispatches;
//! - a result is bounded: more than [`MAX_REPORT_ALERTS`] alerts is refused
//!   (`InvalidArgument`, "narrow the range"), never truncated silently;
//! - the SQL is static text with bound parameters (plain `LEFT JOIN`, `MIN`, `GROUP BY` of
//!   every selected column); the hotspot list is one bound JSON array read with SQLite's
//!   `json_each` (PostgreSQL's counterpart is `json_array_elements_text`).

use crate::DbRow;
use crate::{Error, Result, Store, db, opt_time, to_uuid};
use roeh_domain::{ErrorKind, WallTime};
use sqlx::Row;
use uuid::Uuid;

/// Most alerts one report reads.
pub const MAX_REPORT_ALERTS: usize = 100_000;

/// One alert's timestamps, for response-time reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertTimesRow {
    /// The alert.
    pub id: Uuid,
    /// Its hotspot.
    pub hotspot_id: Uuid,
    /// When raised.
    pub created_at: WallTime,
    /// First claim.
    pub claimed_at: Option<WallTime>,
    /// First acknowledgement.
    pub acknowledged_at: Option<WallTime>,
    /// Resolution or false-alarm mark.
    pub closed_at: Option<WallTime>,
    /// Its state now (`false_alarm`, `resolved`, …).
    pub state: String,
    /// Its first dispatch.
    pub dispatched_at: Option<WallTime>,
    /// The earliest `delivered` receipt of its dispatches.
    pub delivered_at: Option<WallTime>,
    /// The earliest `accepted` receipt of its dispatches.
    pub accepted_at: Option<WallTime>,
    /// The earliest `arrived` receipt of its dispatches.
    pub arrived_at: Option<WallTime>,
}

/// The report query; `?`s: from, to, hotspot ids as a JSON array of strings (twice; NULL for
/// every hotspot), limit.
macro_rules! alert_times_sql {
    ($d:ident) => {
        concat!(
    "SELECT a.id, a.hotspot_id, a.created_at, a.claimed_at, a.acknowledged_at, a.closed_at, ",
    "a.state, MIN(d.dispatched_at) AS dispatched_at, MIN(d.delivered_at) AS delivered_at, ",
    "MIN(d.accepted_at) AS accepted_at, MIN(d.arrived_at) AS arrived_at ",
    "FROM alerts a LEFT JOIN dispatches d ON d.alert_id = a.id ",
    "WHERE a.created_at >= $1 AND a.created_at < $2 ",
    "AND ($3 IS NULL OR a.hotspot_id IN (",
    crate::json_ids!($d, "$4"),
    ")) ",
    "GROUP BY a.id, a.hotspot_id, a.created_at, a.claimed_at, a.acknowledged_at, ",
    "a.closed_at, a.state ",
    "ORDER BY a.created_at, a.id LIMIT $5"
        )
    };
}

fn uuid_col(r: &DbRow, c: &str) -> Result<Uuid> {
    let s: String = r.try_get(c).map_err(db("reading alert times"))?;
    to_uuid(&s, &format!("alert {c}"))
}

fn time_col(r: &DbRow, c: &str) -> Result<Option<WallTime>> {
    opt_time(r, c, "reading alert times")
}

fn times_from_row(r: &DbRow) -> Result<AlertTimesRow> {
    Ok(AlertTimesRow {
        id: uuid_col(r, "id")?,
        hotspot_id: uuid_col(r, "hotspot_id")?,
        created_at: WallTime(r.try_get("created_at").map_err(db("reading alert times"))?),
        claimed_at: time_col(r, "claimed_at")?,
        acknowledged_at: time_col(r, "acknowledged_at")?,
        closed_at: time_col(r, "closed_at")?,
        state: r.try_get("state").map_err(db("reading alert times"))?,
        dispatched_at: time_col(r, "dispatched_at")?,
        delivered_at: time_col(r, "delivered_at")?,
        accepted_at: time_col(r, "accepted_at")?,
        arrived_at: time_col(r, "arrived_at")?,
    })
}

fn too_many() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("more than {MAX_REPORT_ALERTS} alerts in the range; narrow the range"),
    )
}

impl Store {
    /// The timestamps of every alert created in `[from, to)`, oldest first; with `hotspots`,
    /// only of alerts of those hotspots (an empty list matches nothing). `InvalidArgument` if
    /// more than [`MAX_REPORT_ALERTS`] alerts match.
    #[tracing::instrument(skip_all)]
    pub async fn alert_times(
        &self,
        from: WallTime,
        to: WallTime,
        hotspots: Option<&[Uuid]>,
    ) -> Result<Vec<AlertTimesRow>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let hotspots = match hotspots {
            Some(h) => Some(
                serde_json::to_string(&h.iter().map(|h| h.to_string()).collect::<Vec<_>>())
                    .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?,
            ),
            None => None,
        };
        // One more than may be returned, to tell "exactly full" from "too many".
        let room = MAX_REPORT_ALERTS + 1;
        let sql = crate::in_dialect!(self.backend(), alert_times_sql);
        let rows = sqlx::query(sql)
            .bind(from.0)
            .bind(to.0)
            .bind(hotspots.as_deref())
            .bind(hotspots.as_deref())
            .bind(i64::try_from(room).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading alert times"))?;
        if rows.len() >= room {
            return Err(too_many());
        }
        rows.iter().map(times_from_row).collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tests::open_tmp;
    use crate::{AlertChange, AlertIncident, NewAlert, NewAlertEvent, NewReceipt, NewUser};
    use roeh_domain::CameraId;
    use std::time::Duration;

    async fn raise(store: &Store, hotspot: Uuid, at: WallTime) -> Uuid {
        let id = Uuid::new_v4();
        let inc = AlertIncident {
            incident_id: Uuid::new_v4(),
            rule_id: Uuid::from_u128(1),
            camera: CameraId::new_random(),
            opened_at: at,
        };
        let new = NewAlert {
            id,
            hotspot_id: hotspot,
            severity: "high".into(),
            priority: 3,
            lat: None,
            lon: None,
            created_at: at,
        };
        store
            .raise_or_merge_alert(&inc, &new, "system", |_| None)
            .await
            .unwrap()
            .unwrap();
        id
    }

    fn change(from: &str, to: &str, at: WallTime) -> AlertChange {
        AlertChange {
            from_state: from.into(),
            from_claimed_by: if from == "new" { None } else { Some(7) },
            to_state: to.into(),
            claimed_by: Some(7),
            at,
        }
    }

    fn ev(kind: &str) -> NewAlertEvent {
        NewAlertEvent {
            kind: kind.into(),
            actor: "op".into(),
            unit_id: None,
            detail: "{}".into(),
        }
    }

    async fn unit(store: &Store, name: &str, t: WallTime) -> Uuid {
        let user = store
            .create_user(
                &NewUser {
                    username: name.into(),
                    password_hash: "x".into(),
                    role: "unit".into(),
                    scope: "{}".into(),
                },
                t,
            )
            .await
            .unwrap();
        let id = Uuid::new_v4();
        store.create_unit(id, name, "joint", user, t).await.unwrap();
        id
    }

    async fn receipt(store: &Store, unit: Uuid, alert: Uuid, kind: &str, at: WallTime) {
        let rid = format!("{alert}-{kind}");
        store
            .record_receipt(
                &NewReceipt {
                    unit,
                    receipt_id: &rid,
                    alert,
                    kind,
                    at,
                    actor: "car",
                },
                |_| None,
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn reads_first_dispatch_and_earliest_receipts_in_a_half_open_range() {
        let (_dir, store) = open_tmp().await;
        let t0 = WallTime::from_secs(1_800_000_000);
        let s = |n: u64| t0.plus(Duration::from_secs(n));
        let (square, park) = (Uuid::from_u128(10), Uuid::from_u128(20));
        let car1 = unit(&store, "car-1", t0).await;
        let car2 = unit(&store, "car-2", t0).await;

        // Square: claimed +5, acknowledged +8, dispatched to car-1 at +20 and car-2 at +50;
        // car-2 arrives first (+100), car-1 later (+140); car-1 accepts at +30.
        let a = raise(&store, square, t0).await;
        store
            .alert_transition(a, &change("new", "claimed", s(5)), &ev("claim"))
            .await
            .unwrap();
        store
            .alert_transition(a, &change("claimed", "acknowledged", s(8)), &ev("ack"))
            .await
            .unwrap();
        store
            .dispatch_alert(
                a,
                &change("acknowledged", "dispatched", s(20)),
                &[car1],
                "op",
                None,
            )
            .await
            .unwrap();
        store
            .dispatch_alert(
                a,
                &change("dispatched", "dispatched", s(50)),
                &[car2],
                "op",
                None,
            )
            .await
            .unwrap();
        receipt(&store, car1, a, "delivered", s(22)).await;
        receipt(&store, car1, a, "accepted", s(30)).await;
        receipt(&store, car2, a, "delivered", s(51)).await;
        receipt(&store, car2, a, "arrived", s(100)).await;
        receipt(&store, car1, a, "arrived", s(140)).await;
        // Park: marked a false alarm without dispatch; one more at the range's end.
        let b = raise(&store, park, s(60)).await;
        store
            .alert_transition(b, &change("new", "claimed", s(61)), &ev("claim"))
            .await
            .unwrap();
        store
            .alert_transition(b, &change("claimed", "false_alarm", s(70)), &ev("fa"))
            .await
            .unwrap();
        let c = raise(&store, park, s(300)).await;

        let rows = store.alert_times(t0, s(300), None).await.unwrap();
        assert_eq!(rows.len(), 2, "the end is excluded");
        let r = &rows[0];
        assert_eq!((r.id, r.hotspot_id, r.created_at), (a, square, t0));
        assert_eq!(
            (r.claimed_at, r.acknowledged_at, r.closed_at),
            (Some(s(5)), Some(s(8)), None)
        );
        assert_eq!(r.state, "dispatched");
        assert_eq!(r.dispatched_at, Some(s(20)), "the first dispatch");
        assert_eq!(r.delivered_at, Some(s(22)));
        assert_eq!(r.accepted_at, Some(s(30)));
        assert_eq!(r.arrived_at, Some(s(100)), "the earliest arrival");
        let r = &rows[1];
        assert_eq!((r.id, r.state.as_str()), (b, "false_alarm"));
        assert_eq!(
            (r.closed_at, r.dispatched_at, r.arrived_at),
            (Some(s(70)), None, None)
        );

        // The start is included; hotspots filter; an empty list matches nothing.
        let rows = store.alert_times(s(60), s(301), None).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [b, c]);
        let rows = store
            .alert_times(t0, s(301), Some(&[park, park]))
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [b, c]);
        let rows = store
            .alert_times(t0, s(301), Some(&[park, square]))
            .await
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [a, b, c]);
        assert!(
            store
                .alert_times(t0, s(301), Some(&[]))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .alert_times(s(301), t0, None)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn more_alerts_than_the_bound_are_refused_not_truncated() {
        let (_dir, store) = open_tmp().await;
        let n = i64::try_from(MAX_REPORT_ALERTS).unwrap() + 1;
        // Alerts created at 1..=n µs, half in each of two hotspots.
        sqlx::query(
            "INSERT INTO alerts (id, hotspot_id, severity, priority, state, created_at, \
             updated_at, last_incident_at) \
             WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $1) \
             SELECT '00000000-0000-4000-8000-' \
             || substr('000000000000' || i, length('000000000000' || i) - 11, 12), \
             CASE i % 2 WHEN 0 THEN '00000000-0000-4000-8000-000000000001' \
             ELSE '00000000-0000-4000-8000-000000000002' END, \
             'low', 1, 'new', i, i, i FROM k",
        )
        .bind(n)
        .execute(&store.pool)
        .await
        .unwrap();
        let (h1, h2) = (
            Uuid::parse_str("00000000-0000-4000-8000-000000000001").unwrap(),
            Uuid::parse_str("00000000-0000-4000-8000-000000000002").unwrap(),
        );
        for filter in [None, Some(&[h1, h2][..])] {
            let e = store
                .alert_times(WallTime(0), WallTime(n + 1), filter)
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains("narrow the range"), "{e}");
            // Exactly the bound is answered whole.
            let rows = store
                .alert_times(WallTime(1), WallTime(n), filter)
                .await
                .unwrap();
            assert_eq!(rows.len(), MAX_REPORT_ALERTS);
            assert!(rows.windows(2).all(|w| w[0].created_at < w[1].created_at));
        }
    }
}
