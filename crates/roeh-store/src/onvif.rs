//! ONVIF repository: devices added as cameras, and discovered devices awaiting approval.
//!
//! Invariants:
//! - a discovered device is only a candidate: it becomes a camera only through
//!   [`Store::add_onvif_camera`], which in one transaction checks that the entry is still
//!   `pending`, stores the camera and its ONVIF description, and marks the entry `approved`;
//!   nothing is stored when any step fails;
//! - a `dismissed` entry is never added and stays dismissed when the device answers again; an
//!   answering device only refreshes a `pending` entry's addresses and names (`last_seen` always);
//! - the same device service URL is not added twice while its camera exists;
//! - no credential is stored here: the camera's password lives, encrypted, in `cameras`.

use crate::DbRow;
use crate::{Error, Result, Store, db, execute, fetch_all, fetch_optional};
use roeh_domain::{Camera, CameraId, ErrorKind, WallTime};
use sqlx::Row;

/// One media profile as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct OnvifProfileRow {
    /// Profile token.
    pub token: String,
    /// Profile name.
    pub name: String,
    /// Video encoding (`H264`, `H265`, …).
    pub encoding: String,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Frame rate limit.
    pub fps: Option<f64>,
    /// RTSP stream URL (checked, without credentials).
    pub stream_url: String,
}

/// A camera's ONVIF description.
#[derive(Clone, Debug, PartialEq)]
pub struct OnvifDeviceRow {
    /// The camera.
    pub camera: CameraId,
    /// The device service URL.
    pub device_url: String,
    /// WS-Discovery endpoint reference, when the device was discovered.
    pub endpoint_ref: Option<String>,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Serial number.
    pub serial_number: String,
    /// Hardware id.
    pub hardware_id: String,
    /// The main (recording) profile.
    pub main: OnvifProfileRow,
    /// The sub (analysis) profile, if the device has a second usable one.
    pub sub: Option<OnvifProfileRow>,
    /// JPEG snapshot URL.
    pub snapshot_url: Option<String>,
    /// When it was added.
    pub added_at: WallTime,
}

/// Where a discovered device stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiscoveredState {
    /// Awaiting an operator.
    Pending,
    /// Added as a camera.
    Approved,
    /// Set aside by an operator; never added.
    Dismissed,
}

impl DiscoveredState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscoveredState::Pending => "pending",
            DiscoveredState::Approved => "approved",
            DiscoveredState::Dismissed => "dismissed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DiscoveredState::Pending),
            "approved" => Some(DiscoveredState::Approved),
            "dismissed" => Some(DiscoveredState::Dismissed),
            _ => None,
        }
    }
}

/// A device as a discovery run saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDiscovered {
    /// Endpoint reference (`urn:uuid:…`).
    pub endpoint_ref: String,
    /// Device service URLs.
    pub xaddrs: Vec<String>,
    /// Advertised scopes.
    pub scopes: Vec<String>,
    /// Name scope.
    pub name: Option<String>,
    /// Hardware scope.
    pub hardware: Option<String>,
    /// Location scope.
    pub location: Option<String>,
    /// Where the reply came from (`ip:port`).
    pub from_addr: String,
}

/// A stored discovered device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredRow {
    /// Row id (what an operator approves or dismisses).
    pub id: i64,
    /// What was seen last.
    pub device: NewDiscovered,
    /// First answer.
    pub first_seen: WallTime,
    /// Latest answer.
    pub last_seen: WallTime,
    /// State.
    pub state: DiscoveredState,
    /// The camera, once approved.
    pub camera: Option<CameraId>,
}

macro_rules! discovered_columns {
    () => {
        "id, endpoint_ref, xaddrs, scopes, name, hardware, location, \
     from_addr, first_seen, last_seen, state, camera_id"
    };
}

macro_rules! device_columns {
    () => {
        "camera_id, device_url, endpoint_ref, manufacturer, model, \
     firmware_version, serial_number, hardware_id, main_token, main_name, main_encoding, \
     main_width, main_height, main_fps, main_stream_url, sub_token, sub_name, sub_encoding, \
     sub_width, sub_height, sub_fps, sub_stream_url, snapshot_url, added_at"
    };
}

impl Store {
    /// Records a device that answered discovery: a new entry is `pending`; a `pending` one is
    /// refreshed; an `approved` or `dismissed` one only gets `last_seen`. Returns the entry.
    #[tracing::instrument(skip_all)]
    pub async fn record_discovered(
        &self,
        d: &NewDiscovered,
        now: WallTime,
    ) -> Result<DiscoveredRow> {
        let xaddrs = json_list(&d.xaddrs)?;
        let scopes = json_list(&d.scopes)?;
        let mut tx = self.begin("recording discovered device").await?;
        let existing: Option<(i64, String)> =
            sqlx::query_as("SELECT id, state FROM onvif_discovered WHERE endpoint_ref = $1")
                .bind(&d.endpoint_ref)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("recording discovered device"))?;
        let id = match existing {
            None => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO onvif_discovered (endpoint_ref, xaddrs, scopes, name, hardware, \
                     location, from_addr, first_seen, last_seen, state) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') RETURNING id",
                )
                .bind(&d.endpoint_ref)
                .bind(&xaddrs)
                .bind(&scopes)
                .bind(&d.name)
                .bind(&d.hardware)
                .bind(&d.location)
                .bind(&d.from_addr)
                .bind(now.0)
                .bind(now.0)
                .fetch_one(&mut *tx)
                .await
                .map_err(db("recording discovered device"))?;
                id
            }
            Some((id, state)) if state == "pending" => {
                let q = sqlx::query(
                    "UPDATE onvif_discovered SET xaddrs = $1, scopes = $2, name = $3, hardware = $4, \
                     location = $5, from_addr = $6, last_seen = $7 WHERE id = $8",
                )
                .bind(&xaddrs)
                .bind(&scopes)
                .bind(&d.name)
                .bind(&d.hardware)
                .bind(&d.location)
                .bind(&d.from_addr)
                .bind(now.0)
                .bind(id);
                execute(&mut *tx, q, "recording discovered device").await?;
                id
            }
            Some((id, _)) => {
                let q = sqlx::query("UPDATE onvif_discovered SET last_seen = $1 WHERE id = $2")
                    .bind(now.0)
                    .bind(id);
                execute(&mut *tx, q, "recording discovered device").await?;
                id
            }
        };
        tx.commit()
            .await
            .map_err(db("recording discovered device"))?;
        self.discovered(id).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                "discovered device vanished after writing",
            )
        })
    }

    /// A discovered device by id.
    #[tracing::instrument(skip_all)]
    pub async fn discovered(&self, id: i64) -> Result<Option<DiscoveredRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            discovered_columns!(),
            " FROM onvif_discovered WHERE id = $1"
        ))
        .bind(id);
        fetch_optional(
            &self.pool,
            q,
            "reading discovered device",
            discovered_from_row,
        )
        .await
    }

    /// Discovered devices, oldest first: only `pending` ones unless `all`.
    #[tracing::instrument(skip_all)]
    pub async fn list_discovered(&self, all: bool) -> Result<Vec<DiscoveredRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            discovered_columns!(),
            " FROM onvif_discovered WHERE $1 OR state = 'pending' ORDER BY id"
        ))
        .bind(all);
        fetch_all(
            &self.pool,
            q,
            "listing discovered devices",
            discovered_from_row,
        )
        .await
    }

    /// Sets a pending discovered device aside (idempotent for a dismissed one). `NotFound` if
    /// there is no such entry, `FailedPrecondition` if it was already added as a camera.
    #[tracing::instrument(skip_all)]
    pub async fn dismiss_discovered(&self, id: i64) -> Result<DiscoveredRow> {
        let r = sqlx::query(
            "UPDATE onvif_discovered SET state = 'dismissed' \
             WHERE id = $1 AND state IN ('pending', 'dismissed')",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db("dismissing discovered device"))?;
        let row = self
            .discovered(id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such discovered device"))?;
        if r.rows_affected() == 0 {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!("discovered device {id} was already added as a camera"),
            ));
        }
        Ok(row)
    }

    /// Stores a camera added through ONVIF with its description, in one transaction; with
    /// `discovered`, that entry must be `pending` and becomes `approved`. Errors (nothing stored):
    /// `NotFound` for an unknown entry, `FailedPrecondition` for a dismissed one,
    /// `AlreadyExists` for an entry already approved or a device URL already in use, and every
    /// error of [`Store::insert_camera`].
    #[tracing::instrument(skip_all)]
    pub async fn add_onvif_camera(
        &self,
        cam: &Camera,
        dev: &OnvifDeviceRow,
        discovered: Option<i64>,
    ) -> Result<()> {
        if dev.camera != cam.id {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "ONVIF description is for another camera",
            ));
        }
        let mut tx = self.begin("adding ONVIF camera").await?;
        if let Some(id) = discovered {
            let st: Option<(String, Option<String>)> =
                sqlx::query_as("SELECT state, camera_id FROM onvif_discovered WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("adding ONVIF camera"))?;
            match st {
                None => {
                    return Err(Error::new(ErrorKind::NotFound, "no such discovered device"));
                }
                Some((s, _)) if s == "dismissed" => {
                    return Err(Error::new(
                        ErrorKind::FailedPrecondition,
                        format!(
                            "discovered device {id} was dismissed; it is not added without \
                             approval"
                        ),
                    ));
                }
                Some((s, cam)) if s == "approved" => {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        format!(
                            "discovered device {id} was already added as camera {}",
                            cam.unwrap_or_default()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let dup: Option<(String,)> = sqlx::query_as(
            "SELECT o.camera_id FROM onvif_devices o JOIN cameras c ON c.id = o.camera_id \
             WHERE o.device_url = $1 AND c.removed_at IS NULL",
        )
        .bind(&dev.device_url)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("adding ONVIF camera"))?;
        if let Some((other,)) = dup {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("this ONVIF device is already camera {other}"),
            ));
        }
        self.insert_camera_on(&mut tx, cam, dev.added_at).await?;
        let sub = dev.sub.as_ref();
        let dim = |v: Option<u32>| v.map(i64::from);
        let q = sqlx::query(concat!(
            "INSERT INTO onvif_devices (",
            device_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
        ))
        .bind(cam.id.to_string())
        .bind(&dev.device_url)
        .bind(&dev.endpoint_ref)
        .bind(&dev.manufacturer)
        .bind(&dev.model)
        .bind(&dev.firmware_version)
        .bind(&dev.serial_number)
        .bind(&dev.hardware_id)
        .bind(&dev.main.token)
        .bind(&dev.main.name)
        .bind(&dev.main.encoding)
        .bind(dim(dev.main.width))
        .bind(dim(dev.main.height))
        .bind(dev.main.fps)
        .bind(&dev.main.stream_url)
        .bind(sub.map(|s| s.token.as_str()))
        .bind(sub.map(|s| s.name.as_str()))
        .bind(sub.map(|s| s.encoding.as_str()))
        .bind(dim(sub.and_then(|s| s.width)))
        .bind(dim(sub.and_then(|s| s.height)))
        .bind(sub.and_then(|s| s.fps))
        .bind(sub.map(|s| s.stream_url.as_str()))
        .bind(&dev.snapshot_url)
        .bind(dev.added_at.0);
        execute(&mut *tx, q, "storing ONVIF device").await?;
        if let Some(id) = discovered {
            let q = sqlx::query(
                "UPDATE onvif_discovered SET state = 'approved', camera_id = $1 \
                 WHERE id = $2 AND state = 'pending'",
            )
            .bind(cam.id.to_string())
            .bind(id);
            execute(&mut *tx, q, "approving discovered device").await?;
        }
        tx.commit().await.map_err(db("adding ONVIF camera"))?;
        Ok(())
    }

    /// The ONVIF description of a camera (also of a retired one).
    #[tracing::instrument(skip_all)]
    pub async fn onvif_device(&self, camera: CameraId) -> Result<Option<OnvifDeviceRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM onvif_devices WHERE camera_id = $1"
        ))
        .bind(camera.to_string());
        fetch_optional(&self.pool, q, "reading ONVIF device", device_from_row).await
    }

    /// ONVIF descriptions of cameras not removed, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_onvif_devices(&self) -> Result<Vec<OnvifDeviceRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM onvif_devices WHERE camera_id IN \
             (SELECT id FROM cameras WHERE removed_at IS NULL) ORDER BY added_at, camera_id"
        ));
        fetch_all(&self.pool, q, "listing ONVIF devices", device_from_row).await
    }
}

fn json_list(v: &[String]) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| Error::with_source(ErrorKind::Internal, "encoding a list", e))
}

fn bad(what: &str) -> Error {
    Error::new(ErrorKind::DataLoss, format!("stored ONVIF {what} invalid"))
}

fn discovered_from_row(row: &DbRow) -> Result<DiscoveredRow> {
    let g = |e| db("decoding discovered device")(e);
    let list = |col: &str| -> Result<Vec<String>> {
        let s: String = row.try_get(col).map_err(g)?;
        serde_json::from_str(&s).map_err(|_| bad(col))
    };
    let state: String = row.try_get("state").map_err(g)?;
    let camera: Option<String> = row.try_get("camera_id").map_err(g)?;
    Ok(DiscoveredRow {
        id: row.try_get("id").map_err(g)?,
        device: NewDiscovered {
            endpoint_ref: row.try_get("endpoint_ref").map_err(g)?,
            xaddrs: list("xaddrs")?,
            scopes: list("scopes")?,
            name: row.try_get("name").map_err(g)?,
            hardware: row.try_get("hardware").map_err(g)?,
            location: row.try_get("location").map_err(g)?,
            from_addr: row.try_get("from_addr").map_err(g)?,
        },
        first_seen: WallTime(row.try_get("first_seen").map_err(g)?),
        last_seen: WallTime(row.try_get("last_seen").map_err(g)?),
        state: DiscoveredState::parse(&state).ok_or_else(|| bad("state"))?,
        camera: camera
            .map(|c| CameraId::parse(&c).map_err(|_| bad("camera id")))
            .transpose()?,
    })
}

fn device_from_row(row: &DbRow) -> Result<OnvifDeviceRow> {
    let g = |e| db("decoding ONVIF device")(e);
    let dim = |col: &str| -> Result<Option<u32>> {
        let v: Option<i64> = row.try_get(col).map_err(g)?;
        v.map(|v| u32::try_from(v).map_err(|_| bad(col)))
            .transpose()
    };
    let profile = |p: &str| -> Result<Option<OnvifProfileRow>> {
        let token: Option<String> = row.try_get(format!("{p}_token").as_str()).map_err(g)?;
        let url: Option<String> = row.try_get(format!("{p}_stream_url").as_str()).map_err(g)?;
        let (Some(token), Some(stream_url)) = (token, url) else {
            return Ok(None);
        };
        let name: Option<String> = row.try_get(format!("{p}_name").as_str()).map_err(g)?;
        let encoding: Option<String> = row.try_get(format!("{p}_encoding").as_str()).map_err(g)?;
        Ok(Some(OnvifProfileRow {
            token,
            name: name.unwrap_or_default(),
            encoding: encoding.unwrap_or_default(),
            width: dim(&format!("{p}_width"))?,
            height: dim(&format!("{p}_height"))?,
            fps: row.try_get(format!("{p}_fps").as_str()).map_err(g)?,
            stream_url,
        }))
    };
    let camera: String = row.try_get("camera_id").map_err(g)?;
    Ok(OnvifDeviceRow {
        camera: CameraId::parse(&camera).map_err(|_| bad("camera id"))?,
        device_url: row.try_get("device_url").map_err(g)?,
        endpoint_ref: row.try_get("endpoint_ref").map_err(g)?,
        manufacturer: row.try_get("manufacturer").map_err(g)?,
        model: row.try_get("model").map_err(g)?,
        firmware_version: row.try_get("firmware_version").map_err(g)?,
        serial_number: row.try_get("serial_number").map_err(g)?,
        hardware_id: row.try_get("hardware_id").map_err(g)?,
        main: profile("main")?.ok_or_else(|| bad("main profile"))?,
        sub: profile("sub")?,
        snapshot_url: row.try_get("snapshot_url").map_err(g)?,
        added_at: WallTime(row.try_get("added_at").map_err(g)?),
    })
}
