//! Camera repository.
//!
//! Removal policy: a camera without any segment or gap row is deleted outright. A camera with
//! footage or gaps is *retired*: `enabled` is cleared and `removed_at` set, it disappears from
//! [`Store::list_cameras`] and is not recorded any more, while its segments and gaps stay as
//! evidence (and keep their foreign key). [`Store::get_camera`] still finds a retired camera so
//! its footage can be exported.
//!
//! Nodes (docs/design/0014-nodes-on-one-database.md): several `roeh serve` processes may share
//! one database, each recording its own cameras into its own footage directory. A camera's
//! `node` names the process that records it; `NULL` is the process without a node (a site of one
//! process). A camera inserted through a store belongs to that store's node
//! ([`Store::set_node`]); [`Store::list_node_cameras`] and [`Store::records_camera`] answer for
//! that node alone, while [`Store::list_cameras`] and [`Store::get_camera`] see every camera.
//!
//! Passwords are encrypted at rest ([`crate::secrets`]): writing a non-empty password needs the
//! credential key; reading decrypts it, and a plain value from before encryption still reads.

use crate::DbRow;
use crate::{
    Error, Query, Result, Store, db, execute, execute_found, fetch_all, fetch_optional, to_i64,
};
use roeh_domain::{
    Camera, CameraId, CameraUrl, Credentials, ErrorKind, Retention, Secret, Transport, WallTime,
};
use sqlx::Row;
use std::time::Duration;

/// What [`Store::delete_camera`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraRemoval {
    /// The camera had no footage or gaps; its row is gone.
    Deleted,
    /// The camera had footage or gaps; it was disabled and marked removed, its evidence kept.
    Retired,
}

const INSERT_CAMERA_SQL: &str = "INSERT INTO cameras (id, name, url, username, password, \
     transport, enabled, retention_max_age_secs, retention_max_bytes, created_at, node) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

const UPDATE_CAMERA_SQL: &str = "UPDATE cameras SET name = $1, url = $2, username = $3, \
     password = $4, transport = $5, enabled = $6, retention_max_age_secs = $7, \
     retention_max_bytes = $8 WHERE id = $9 AND removed_at IS NULL";

const GET_CAMERA_SQL: &str = "SELECT id, name, url, username, password, transport, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, \
     retention_max_age_secs, retention_max_bytes FROM cameras WHERE id = $1";

const LIST_CAMERAS_SQL: &str = "SELECT id, name, url, username, password, transport, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, \
     retention_max_age_secs, retention_max_bytes FROM cameras WHERE removed_at IS NULL \
     ORDER BY created_at, id";

const LIST_NODE_CAMERAS_SQL: &str = "SELECT id, name, url, username, password, transport, CASE WHEN enabled THEN 1 ELSE 0 END AS enabled, \
     retention_max_age_secs, retention_max_bytes FROM cameras WHERE removed_at IS NULL \
     AND node IS NOT DISTINCT FROM $1 ORDER BY created_at, id";

const RECORDS_CAMERA_SQL: &str = "SELECT CASE WHEN EXISTS (SELECT 1 FROM cameras \
     WHERE id = $1 AND removed_at IS NULL AND node IS NOT DISTINCT FROM $2) THEN 1 ELSE 0 END";

const CAMERA_HAS_EVIDENCE_SQL: &str = "SELECT CASE WHEN \
     EXISTS (SELECT 1 FROM segments WHERE camera_id = $1) \
     OR EXISTS (SELECT 1 FROM gaps WHERE camera_id = $2) \
     OR EXISTS (SELECT 1 FROM time_events WHERE camera_id = $3) THEN 1 ELSE 0 END";

impl Store {
    /// Adds a camera. `AlreadyExists` if the id is taken.
    #[tracing::instrument(skip_all)]
    pub async fn insert_camera(&self, cam: &Camera, now: WallTime) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db("inserting camera"))?;
        self.insert_camera_on(&mut conn, cam, now).await
    }

    /// Inserts a camera on `conn` (a plain connection or a transaction). The password is
    /// encrypted (see [`crate::secrets`]).
    pub(crate) async fn insert_camera_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        cam: &Camera,
        now: WallTime,
    ) -> Result<()> {
        let q = sqlx::query(INSERT_CAMERA_SQL).bind(cam.id.to_string());
        let q = self.bind_settings(q, cam)?.bind(now.0).bind(self.node());
        execute(conn, q, "inserting camera").await?;
        Ok(())
    }

    /// A camera by id, including a retired one.
    #[tracing::instrument(skip_all)]
    pub async fn get_camera(&self, id: CameraId) -> Result<Option<Camera>> {
        let q = sqlx::query(GET_CAMERA_SQL).bind(id.to_string());
        fetch_optional(&self.pool, q, "reading camera", |r| self.camera_from_row(r)).await
    }

    /// Cameras not removed, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_cameras(&self) -> Result<Vec<Camera>> {
        let q = sqlx::query(LIST_CAMERAS_SQL);
        fetch_all(&self.pool, q, "listing cameras", |r| {
            self.camera_from_row(r)
        })
        .await
    }

    /// Installs the node this process records for (`[server] node`). Every clone of this store
    /// shares it; cameras inserted from then on belong to it. Installing the same node again is
    /// a no-op; another is refused (`FailedPrecondition`).
    pub fn set_node(&self, node: &str) -> Result<()> {
        let installed = self.node.get_or_init(|| node.to_string());
        if installed == node {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!("the store already records for node {installed:?}"),
            ))
        }
    }

    /// The node this process records for; `None` for the process without a node.
    pub fn node(&self) -> Option<&str> {
        self.node.get().map(String::as_str)
    }

    /// The cameras this store's node records (enabled or not), not removed, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_node_cameras(&self) -> Result<Vec<Camera>> {
        let q = sqlx::query(LIST_NODE_CAMERAS_SQL).bind(self.node());
        fetch_all(&self.pool, q, "listing the node's cameras", |r| {
            self.camera_from_row(r)
        })
        .await
    }

    /// Whether this store's node records camera `id`: it exists, is not removed, and its node
    /// is this store's node.
    #[tracing::instrument(skip_all)]
    pub async fn records_camera(&self, id: CameraId) -> Result<bool> {
        let (yes,): (i64,) = sqlx::query_as(RECORDS_CAMERA_SQL)
            .bind(id.to_string())
            .bind(self.node())
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading a camera's node"))?;
        Ok(yes != 0)
    }

    /// The node of every camera, removed ones included; `None` for cameras of the process
    /// without a node.
    #[tracing::instrument(skip_all)]
    pub async fn camera_nodes(&self) -> Result<Vec<(CameraId, Option<String>)>> {
        let q = sqlx::query("SELECT id, node FROM cameras ORDER BY id");
        fetch_all(&self.pool, q, "listing camera nodes", |r| {
            let g = |e| db("decoding camera node")(e);
            let id: String = r.try_get("id").map_err(g)?;
            let id = CameraId::parse(&id)
                .map_err(|_| Error::new(ErrorKind::DataLoss, "stored camera id invalid"))?;
            Ok((id, r.try_get("node").map_err(g)?))
        })
        .await
    }

    /// Makes camera `id` one of this store's node's cameras (a camera named in the node's
    /// configuration). `NotFound` if it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn claim_camera(&self, id: CameraId) -> Result<()> {
        let q = sqlx::query("UPDATE cameras SET node = $1 WHERE id = $2")
            .bind(self.node())
            .bind(id.to_string());
        execute_found(&self.pool, q, "claiming camera", "camera not found").await
    }

    /// Replaces a camera's settings. `NotFound` if it does not exist or was removed.
    #[tracing::instrument(skip_all)]
    pub async fn update_camera(&self, cam: &Camera) -> Result<()> {
        let q = self
            .bind_settings(sqlx::query(UPDATE_CAMERA_SQL), cam)?
            .bind(cam.id.to_string());
        execute_found(&self.pool, q, "updating camera", "camera not found").await
    }

    /// Removes a camera: deletes it when it has no footage, gaps or time events, else retires
    /// it (see the module docs). `NotFound` if it does not exist or was already removed.
    #[tracing::instrument(skip_all)]
    pub async fn delete_camera(&self, id: CameraId, now: WallTime) -> Result<CameraRemoval> {
        let key = id.to_string();
        let mut tx = self.begin("removing camera").await?;
        let live: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM cameras WHERE id = $1 AND removed_at IS NULL")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("removing camera"))?;
        if live.is_none() {
            return Err(Error::new(ErrorKind::NotFound, "camera not found"));
        }
        let (has,): (i64,) = sqlx::query_as(CAMERA_HAS_EVIDENCE_SQL)
            .bind(&key)
            .bind(&key)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("removing camera"))?;
        let has = has != 0;
        // A discovered device whose camera is removed can be approved again.
        let q = sqlx::query(
            "UPDATE onvif_discovered SET state = 'pending', camera_id = NULL WHERE camera_id = $1",
        )
        .bind(&key);
        execute(&mut *tx, q, "removing camera").await?;
        let outcome = if has {
            let q =
                sqlx::query("UPDATE cameras SET enabled = FALSE, removed_at = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(&key);
            execute(&mut *tx, q, "retiring camera").await?;
            CameraRemoval::Retired
        } else {
            // The ONVIF description goes with the camera; see crate::onvif.
            let q = sqlx::query("DELETE FROM onvif_devices WHERE camera_id = $1").bind(&key);
            execute(&mut *tx, q, "deleting camera").await?;
            let q = sqlx::query("DELETE FROM cameras WHERE id = $1").bind(&key);
            execute(&mut *tx, q, "deleting camera").await?;
            CameraRemoval::Deleted
        };
        tx.commit().await.map_err(db("removing camera"))?;
        Ok(outcome)
    }
}

impl Store {
    /// Binds a camera's settings, name to retention, in the order [`INSERT_CAMERA_SQL`] and
    /// [`UPDATE_CAMERA_SQL`] both list them.
    fn bind_settings<'q>(&self, q: Query<'q>, cam: &'q Camera) -> Result<Query<'q>> {
        let (user, pass) = self.creds_columns(cam)?;
        let (age, bytes) = retention_columns(&cam.retention)?;
        Ok(q.bind(&cam.name)
            .bind(cam.url.as_str())
            .bind(user)
            .bind(pass)
            .bind(cam.transport.as_str())
            .bind(cam.enabled)
            .bind(age)
            .bind(bytes))
    }

    /// The username and stored password columns: the password encrypted, or NULL when empty.
    fn creds_columns<'a>(&self, cam: &'a Camera) -> Result<(Option<&'a str>, Option<String>)> {
        match &cam.credentials {
            Some(c) => Ok((
                Some(c.username.as_str()),
                self.seal_password(cam.id, c.password.expose())?,
            )),
            None => Ok((None, None)),
        }
    }

    fn camera_from_row(&self, row: &DbRow) -> Result<Camera> {
        let mut cam = camera_from_row(row)?;
        if let Some(c) = &mut cam.credentials {
            let stored = c.password.expose();
            if !stored.is_empty() {
                c.password = Secret::new(self.open_password(cam.id, stored)?);
            }
        }
        Ok(cam)
    }
}

fn retention_columns(r: &Retention) -> Result<(Option<i64>, Option<i64>)> {
    let age = r
        .max_age
        .map(|d| crate::to_i64(d.as_secs(), "retention age"))
        .transpose()?;
    let bytes = r
        .max_bytes
        .map(|b| to_i64(b, "retention bytes"))
        .transpose()?;
    Ok((age, bytes))
}

/// The camera of a row, with the password column as stored (see [`Store::camera_from_row`]).
fn camera_from_row(row: &DbRow) -> Result<Camera> {
    let bad = |what: &str| Error::new(ErrorKind::DataLoss, format!("stored camera {what} invalid"));
    let g = |e| db("decoding camera")(e);
    let id: String = row.try_get("id").map_err(g)?;
    let url: String = row.try_get("url").map_err(g)?;
    let username: Option<String> = row.try_get("username").map_err(g)?;
    let password: Option<String> = row.try_get("password").map_err(g)?;
    let transport: String = row.try_get("transport").map_err(g)?;
    let age: Option<i64> = row.try_get("retention_max_age_secs").map_err(g)?;
    let bytes: Option<i64> = row.try_get("retention_max_bytes").map_err(g)?;
    let credentials = match (username, password) {
        (Some(username), Some(p)) => Some(Credentials {
            username,
            password: Secret::new(p),
        }),
        (Some(username), None) => Some(Credentials {
            username,
            password: Secret::new(""),
        }),
        _ => None,
    };
    Ok(Camera {
        id: CameraId::parse(&id).map_err(|_| bad("id"))?,
        name: row.try_get("name").map_err(g)?,
        url: CameraUrl::parse_local_source(&url).map_err(|_| bad("url"))?,
        credentials,
        transport: Transport::parse(&transport).ok_or_else(|| bad("transport"))?,
        enabled: crate::flag(row, "enabled").map_err(g)?,
        retention: Retention {
            max_age: age
                .map(|a| u64::try_from(a).map(Duration::from_secs))
                .transpose()
                .map_err(|_| bad("retention age"))?,
            max_bytes: bytes
                .map(u64::try_from)
                .transpose()
                .map_err(|_| bad("retention bytes"))?,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::Store;
    use crate::tests::{camera, next_segment, open_tmp};
    use roeh_domain::{ErrorKind, WallTime};

    /// Another process's view of the same database: the same pool and credential key, its own
    /// node.
    fn process(store: &Store, node: Option<&str>) -> Store {
        let other = Store {
            pool: store.pool.clone(),
            backend: store.backend,
            credential_key: store.credential_key.clone(),
            node: Default::default(),
            changes: Default::default(),
        };
        if let Some(n) = node {
            other.set_node(n).unwrap();
        }
        other
    }

    #[tokio::test]
    async fn each_node_lists_records_and_frees_only_its_own_cameras() {
        let (_tmp, store) = open_tmp().await;
        let (a, b, none) = (
            process(&store, Some("a")),
            process(&store, Some("b")),
            process(&store, None),
        );
        assert_eq!(
            (a.node(), b.node(), none.node()),
            (Some("a"), Some("b"), None)
        );
        a.set_node("a").unwrap();
        assert_eq!(
            a.set_node("b").unwrap_err().kind(),
            ErrorKind::FailedPrecondition
        );
        let now = WallTime(1_000);
        let (ca, cb, cn) = (camera("A cam"), camera("B cam"), camera("Plain cam"));
        a.insert_camera(&ca, now).await.unwrap();
        b.insert_camera(&cb, now).await.unwrap();
        none.insert_camera(&cn, now).await.unwrap();

        let ids = |v: Vec<roeh_domain::Camera>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        assert_eq!(ids(a.list_node_cameras().await.unwrap()), [ca.id]);
        assert_eq!(ids(b.list_node_cameras().await.unwrap()), [cb.id]);
        assert_eq!(ids(none.list_node_cameras().await.unwrap()), [cn.id]);
        assert_eq!(
            a.list_cameras().await.unwrap().len(),
            3,
            "every node sees all"
        );
        let got = a.list_node_cameras().await.unwrap();
        assert_eq!(got[0].credentials, ca.credentials, "read like any camera");
        for (s, mine) in [(&a, ca.id), (&b, cb.id), (&none, cn.id)] {
            for c in [ca.id, cb.id, cn.id] {
                assert_eq!(s.records_camera(c).await.unwrap(), c == mine);
            }
        }
        let nodes = a.camera_nodes().await.unwrap();
        assert!(nodes.contains(&(ca.id, Some("a".into()))));
        assert!(nodes.contains(&(cb.id, Some("b".into()))));
        assert!(nodes.contains(&(cn.id, None)));

        // Disk-full deletion looks at the node's own footage, a retired camera's included.
        let (sa, ia) = next_segment(ca.id, None, 10);
        a.insert_segment(&sa, &ia).await.unwrap();
        let (sb, ib) = next_segment(cb.id, None, 5);
        b.insert_segment(&sb, &ib).await.unwrap();
        let cams =
            |v: Vec<roeh_domain::Segment>| v.into_iter().map(|s| s.camera).collect::<Vec<_>>();
        assert_eq!(cams(a.oldest_node_segments(10).await.unwrap()), [ca.id]);
        assert_eq!(cams(b.oldest_node_segments(10).await.unwrap()), [cb.id]);
        assert!(none.oldest_node_segments(10).await.unwrap().is_empty());
        a.delete_camera(ca.id, now).await.unwrap();
        assert!(a.list_node_cameras().await.unwrap().is_empty());
        assert!(!a.records_camera(ca.id).await.unwrap(), "retired");
        assert_eq!(cams(a.oldest_node_segments(10).await.unwrap()), [ca.id]);

        // A camera named in another node's configuration moves there.
        b.claim_camera(cn.id).await.unwrap();
        let mut moved = ids(b.list_node_cameras().await.unwrap());
        moved.sort();
        let mut want = [cb.id, cn.id];
        want.sort();
        assert_eq!(moved, want);
        assert!(none.list_node_cameras().await.unwrap().is_empty());
        none.claim_camera(cn.id).await.unwrap();
        assert!(none.records_camera(cn.id).await.unwrap());
        let missing = roeh_domain::CameraId::new_random();
        assert_eq!(
            a.claim_camera(missing).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
