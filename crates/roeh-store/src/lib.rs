//! Persistence of roeh: repositories through sqlx's `Any` driver over SQLite (the embedded
//! default) or PostgreSQL (docs/design/0013-postgresql-store.md), migrations applied at open.
//!
//! Invariants:
//! - all SQL of roeh lives in this crate, as runtime-checked queries with bound parameters only;
//!   no user string is ever spliced into SQL text; it is written in the dialect SQLite and
//!   PostgreSQL share (`$1` placeholders, `RETURNING`), the few SQLite-only statements listed
//!   in `tests/sql_dialect.rs`;
//! - the database runs in WAL mode with `synchronous = FULL`: a row is durable (survives
//!   `kill -9` and power loss) once the call that wrote it returns;
//! - segment rows are never deleted, only marked `deleted` when retention removes the file, and
//!   a segment row is only accepted if it extends its camera's hash chain (seq = last + 1 and
//!   `prev_chain` = the last row's `chain`);
//! - cameras that have footage are never deleted: removing one retires it (see
//!   [`Store::delete_camera`]).
//!
//! The schema (`migrations/sqlite/0001_init.sql`) keeps to types PostgreSQL mirrors one to one;
//! `migrations/postgres/` holds its PostgreSQL twin, version for version (checked by
//! `tests/schema.rs`).

mod alerts;
mod cameras;
mod changes;
mod detection;
pub mod frame_index;
mod gaps;
mod holds;
mod log;
mod onvif;
mod ptz;
mod reports;
mod secrets;
mod segments;
mod stats;
mod tally;
mod transfer;
mod tsa;
mod users;
mod webhooks;

pub use alerts::{
    AlertChange, AlertEventRow, AlertFilter, AlertIncident, AlertRow, DispatchRow, MAX_ALERT_LIST,
    ManualIncident, MergeUpdate, NewAlert, NewAlertEvent, NewReceipt, PrecisionRow, ReceiptStored,
    TERMINAL_ALERT_STATES, UnitRow,
};
pub use cameras::CameraRemoval;
pub use changes::Change;
pub use detection::{
    AnalysisSetting, HotspotRow, IncidentFilter, IncidentRow, IncidentState, MAX_INCIDENT_LIST,
    NewIncident, RuleRow, is_plain_file_name,
};
pub use gaps::TimeEvent;
pub use holds::{ExportRow, ExportState, HoldRow, NewHold};
pub use log::{CheckpointRow, EventRow, KeyRow, LogLeaf};
pub use onvif::{DiscoveredRow, DiscoveredState, NewDiscovered, OnvifDeviceRow, OnvifProfileRow};
pub use ptz::PtzState;
pub use reports::{AlertTimesRow, MAX_REPORT_ALERTS};
pub use secrets::{CREDENTIAL_KEY_LEN, CredentialKey, ENCRYPTED_PREFIX};
pub use stats::{
    AlertGroup, BucketCount, CountRow, HistoryIncident, ImportRow, IncidentGroup, MAX_STAT_GROUPS,
    MinuteCount, OperationRow, PrecisionGroup, SourcedCount, StatsFilter, UnitLoad,
};
pub use tally::{
    AlertTally, DayCount, DayHours, LocalDays, OUTCOMES, PrecisionTally, SEVERITIES, TallyGroup,
    TallyRefresh, US_PER_DAY,
};
pub use transfer::{CopyProof, TableCopy};
pub use users::{
    AuditFilter, AuditRow, LAST_USED_GRANULARITY, MAX_AUDIT_LIST, NewAudit, NewToken, NewUser,
    TokenKind, TokenRow, UserRow,
};

pub use webhooks::{
    AttemptOutcome, DeliveryRow, DeliveryState, MAX_DELIVERY_LIST, NewDelivery, NewWebhook,
    WebhookFormat, WebhookRow, idempotency_key,
};

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use std::str::FromStr;
use std::time::Duration;

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

use roeh_domain::ErrorKind;

/// How long a connection waits for a lock held by another before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The credential key for camera passwords, shared by every clone (see [`secrets`]).
    credential_key: std::sync::Arc<std::sync::OnceLock<CredentialKey>>,
    /// The node this process records for, shared by every clone (see [`Store::set_node`]).
    node: std::sync::Arc<std::sync::OnceLock<String>>,
    /// What this process committed, for the services that wait on it (see [`changes`]).
    changes: std::sync::Arc<changes::Changes>,
}

impl Store {
    /// Opens (creating if missing) the database at `url_or_path` — either a `sqlite:` URL such
    /// as `sqlite:///var/lib/roeh/roeh.db?mode=rwc`, or a plain file path — and applies pending
    /// migrations. `sqlite::memory:` gives a private in-memory database (one connection).
    pub async fn open(url_or_path: &str) -> Result<Store> {
        Store::open_with(url_or_path, &PoolSettings::default()).await
    }

    /// As [`Store::open`], with the pool's size and timeouts from `settings`.
    pub async fn open_with(url_or_path: &str, settings: &PoolSettings) -> Result<Store> {
        settings.check()?;
        static DRIVERS: std::sync::Once = std::sync::Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        if url_or_path.starts_with("postgres:") || url_or_path.starts_with("postgresql:") {
            return Store::open_postgres(url_or_path, settings).await;
        }
        let memory = url_or_path.starts_with("sqlite::memory:");
        let opts = AnyConnectOptions::from_str(&sqlite_url(url_or_path))
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, "bad database URL", e))?;
        let pool = AnyPoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // Durability (see the module's invariants), on every connection: WAL and
                    // FULL sync, so a row is durable once the call that wrote it returns.
                    if !memory {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    for pragma in [
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| Error::with_source(ErrorKind::Unavailable, "opening database", e))?;
        let migrator = sqlx::migrate!("../../migrations/sqlite");
        if let Err(e) = migrator.run(&pool).await {
            pool.close().await;
            return Err(migration_error(e, &migrator));
        }
        Ok(Store {
            pool,
            backend: Backend::Sqlite,
            credential_key: Default::default(),
            node: Default::default(),
            changes: Default::default(),
        })
    }

    /// Opens a PostgreSQL database (`postgres://…`, `[server] database_url`) and applies pending
    /// migrations (`migrations/postgres/`). Every session gives up a transaction left idle and a
    /// statement that runs too long ([`PoolSettings`]), so no process holds the log head's lock
    /// for long.
    async fn open_postgres(url: &str, settings: &PoolSettings) -> Result<Store> {
        let opts = AnyConnectOptions::from_str(url)
            .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, "bad database URL", e))?;
        // One plain connection first, so a server that refuses, cannot be reached or refuses
        // the password is named at once, rather than as the pool's "timed out" after its
        // acquire timeout.
        match tokio::time::timeout(
            settings.acquire_timeout,
            <sqlx::AnyConnection as sqlx::Connection>::connect_with(&opts),
        )
        .await
        {
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "opening database: the server did not answer within {} s",
                        settings.acquire_timeout.as_secs()
                    ),
                ));
            }
            Ok(Err(e)) => {
                let what = format!("opening database: {e}");
                return Err(Error::with_source(ErrorKind::Unavailable, what, e));
            }
            Ok(Ok(c)) => {
                let _ = sqlx::Connection::close(c).await;
            }
        }
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let (statement, idle) = (
            ms(settings.statement_timeout),
            ms(settings.idle_in_transaction_timeout),
        );
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .after_connect(move |conn, _| {
                let (statement, idle) = (statement.clone(), idle.clone());
                Box::pin(async move {
                    // A session never holds its locks (the log head's above all) for long.
                    sqlx::query("SELECT set_config('statement_timeout', $1, false)")
                        .bind(statement)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query(
                        "SELECT set_config('idle_in_transaction_session_timeout', $1, false)",
                    )
                    .bind(idle)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| Error::with_source(ErrorKind::Unavailable, "opening database", e))?;
        let migrator = sqlx::migrate!("../../migrations/postgres");
        if let Err(e) = migrator.run(&pool).await {
            pool.close().await;
            return Err(migration_error(e, &migrator));
        }
        Ok(Store {
            pool,
            backend: Backend::Postgres,
            credential_key: Default::default(),
            node: Default::default(),
            changes: Default::default(),
        })
    }

    /// Which database this store speaks to.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction. On SQLite `BEGIN IMMEDIATE` takes the write lock at once, so
    /// a transaction that reads before it writes never fails to upgrade its lock half-way; on
    /// PostgreSQL a plain `BEGIN`, whose writes lock their rows (the log head's serialises
    /// appenders).
    async fn begin(&self, what: &'static str) -> Result<sqlx::Transaction<'static, Db>> {
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        self.pool.begin_with(begin).await.map_err(db(what))
    }

    /// Closes every connection, waiting for them to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok(())` when it answers `ok`. PostgreSQL keeps
    /// its own pages' checksums: nothing to ask there.
    pub async fn integrity_check(&self) -> Result<()> {
        if self.backend == Backend::Postgres {
            return Ok(());
        }
        let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
            .fetch_all(&self.pool)
            .await
            .map_err(db("integrity check"))?;
        match rows.as_slice() {
            [(ok,)] if ok == "ok" => Ok(()),
            _ => Err(Error::new(
                ErrorKind::DataLoss,
                format!(
                    "database integrity check failed: {}",
                    rows.iter()
                        .map(|r| r.0.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )),
        }
    }
}

/// The database the store speaks through sqlx's `Any` driver (docs/design/0013): one SQL text
/// for SQLite and PostgreSQL wherever they agree.
pub(crate) type Db = sqlx::Any;
/// A row of [`Db`].
pub(crate) type DbRow = sqlx::any::AnyRow;
/// A connection of [`Db`].
pub(crate) type DbConn = sqlx::AnyConnection;

/// How the store keeps its connections (`[database]` of the configuration).
#[derive(Clone, Debug, PartialEq)]
pub struct PoolSettings {
    /// Connections to PostgreSQL (SQLite keeps 4: it has one writer at a time anyway).
    pub max_connections: u32,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
    /// PostgreSQL: how long one statement may run (`statement_timeout`).
    pub statement_timeout: Duration,
    /// PostgreSQL: how long a session may sit idle inside a transaction, holding its locks
    /// (`idle_in_transaction_session_timeout`).
    pub idle_in_transaction_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(60),
            idle_in_transaction_timeout: Duration::from_secs(60),
        }
    }
}

impl PoolSettings {
    /// `InvalidArgument` naming the setting unless every value is usable: at least one
    /// connection, timeouts of at least a millisecond.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::new(ErrorKind::InvalidArgument, m.to_string()));
        if self.max_connections == 0 {
            return bad("database max_connections must be at least 1");
        }
        for (name, d) in [
            ("acquire_timeout_secs", self.acquire_timeout),
            ("statement_timeout_secs", self.statement_timeout),
            (
                "idle_in_transaction_timeout_secs",
                self.idle_in_transaction_timeout,
            ),
        ] {
            if d < Duration::from_millis(1) {
                return bad(&format!("database {name} must be at least 0.001"));
            }
        }
        Ok(())
    }
}

/// The database behind a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend of `conn`, for statements run inside a transaction.
    pub(crate) fn of(conn: &DbConn) -> Backend {
        if conn.backend_name() == "PostgreSQL" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The rows of a JSON array of strings bound as parameter `$p`, as a subquery's source
/// (`IN (json_ids!(…))`), in a dialect's words: SQLite's `json_each`, PostgreSQL's
/// `jsonb_array_elements_text`. A statement that uses it is written once as a macro taking the
/// dialect, and expanded for both.
macro_rules! json_ids {
    (sqlite, $p:literal) => {
        concat!("SELECT value FROM json_each(", $p, ")")
    };
    (postgres, $p:literal) => {
        concat!("SELECT jsonb_array_elements_text(CAST(", $p, " AS jsonb))")
    };
}
pub(crate) use json_ids;

/// The statement of macro `$sql` (which takes the dialect: `sqlite` or `postgres`) for
/// `$backend`: the one place a dialect pair is chosen.
macro_rules! in_dialect {
    ($backend:expr, $sql:ident) => {
        match $backend {
            crate::Backend::Sqlite => $sql!(sqlite),
            crate::Backend::Postgres => $sql!(postgres),
        }
    };
}
pub(crate) use in_dialect;

/// A flag: selected as `CASE WHEN col THEN 1 ELSE 0 END AS col` and read as an integer, the one
/// form both databases answer alike through `Any` (a SQLite column declared `BOOLEAN` cannot be
/// read through it; docs/design/0013).
fn flag(row: &DbRow, col: &str) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Row;
    row.try_get::<i64, _>(col).map(|v| v != 0)
}

/// `url_or_path` as a `sqlite:` URL that creates the file if missing: a URL as given (with
/// `mode=rwc` added unless it names a mode), a path percent-encoded where a URL would read it
/// otherwise (`%`, `?`, `#`).
fn sqlite_url(url_or_path: &str) -> String {
    if url_or_path.starts_with("sqlite:") {
        if url_or_path.starts_with("sqlite::memory:") || url_or_path.contains("mode=") {
            return url_or_path.to_string();
        }
        let sep = if url_or_path.contains('?') { '&' } else { '?' };
        return format!("{url_or_path}{sep}mode=rwc");
    }
    let mut path = String::with_capacity(url_or_path.len());
    for c in url_or_path.chars() {
        match c {
            '%' => path.push_str("%25"),
            '?' => path.push_str("%3F"),
            '#' => path.push_str("%23"),
            c => path.push(c),
        }
    }
    format!("sqlite://{path}?mode=rwc")
}

/// A failed start-up migration as an error that names the problem. A database written by a
/// newer roeh (a schema version this one does not know), a migration changed since it was
/// applied, or one left half-applied are refused before anything is changed.
fn migration_error(e: sqlx::migrate::MigrateError, migrator: &sqlx::migrate::Migrator) -> Error {
    use sqlx::migrate::MigrateError as M;
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let (kind, message) = match &e {
        M::VersionMissing(v) => (
            ErrorKind::FailedPrecondition,
            format!(
                "the database is at schema version {v}, newer than this roeh knows \
                 (up to {known}): run the roeh that wrote it, or restore a backup; \
                 nothing was changed"
            ),
        ),
        M::VersionMismatch(v) => (
            ErrorKind::FailedPrecondition,
            format!(
                "schema migration {v} in the database differs from this roeh's: \
                 the database was not made by this release line; nothing was changed"
            ),
        ),
        M::Dirty(v) => (
            ErrorKind::FailedPrecondition,
            format!("schema migration {v} was left half-applied; restore a backup"),
        ),
        _ => (ErrorKind::Internal, "applying migrations".to_string()),
    };
    Error::with_source(kind, message, e)
}

/// Maps a sqlx error to this crate's error, with `what` as context.
fn db(what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        let kind = match &e {
            sqlx::Error::RowNotFound => ErrorKind::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => ErrorKind::AlreadyExists,
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                ErrorKind::FailedPrecondition
            }
            sqlx::Error::Database(d) if d.is_check_violation() => ErrorKind::InvalidArgument,
            // PostgreSQL refuses text it cannot hold (a NUL character: 22021, or one its
            // encoding lacks: 22P05) where SQLite stores it: the caller's input, not a fault.
            sqlx::Error::Database(d) if d.code().is_some_and(|c| c == "22021" || c == "22P05") => {
                ErrorKind::InvalidArgument
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
            // PostgreSQL going away or coming back: a connection exception (class 08) or an
            // operator's intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 not
            // accepting connections yet). Retrying on a new connection may help.
            sqlx::Error::Database(d)
                if d.code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        };
        Error::with_source(kind, what, e)
    }
}

/// A statement of this crate with its bound parameters, ready to run.
type Query<'q> = sqlx::query::Query<'q, Db, sqlx::any::AnyArguments>;

/// Runs a statement on `conn` (the pool, a connection or a transaction) and returns how many
/// rows it changed; a failure maps through [`db`] with `what` as context.
async fn execute<'c>(
    conn: impl sqlx::Executor<'c, Database = Db>,
    q: Query<'_>,
    what: &'static str,
) -> Result<u64> {
    Ok(q.execute(conn).await.map_err(db(what))?.rows_affected())
}

/// [`execute`] for a statement that must change a row: `NotFound` with `missing` as message
/// when it changed none.
async fn execute_found<'c>(
    conn: impl sqlx::Executor<'c, Database = Db>,
    q: Query<'_>,
    what: &'static str,
    missing: &'static str,
) -> Result<()> {
    if execute(conn, q, what).await? == 0 {
        return Err(Error::new(ErrorKind::NotFound, missing));
    }
    Ok(())
}

/// Runs a query on `conn` and reads every row it returns with `read`, in order.
async fn fetch_all<'c, T>(
    conn: impl sqlx::Executor<'c, Database = Db>,
    q: Query<'_>,
    what: &'static str,
    read: impl Fn(&DbRow) -> Result<T>,
) -> Result<Vec<T>> {
    let rows = q.fetch_all(conn).await.map_err(db(what))?;
    rows.iter().map(read).collect()
}

/// Runs a query on `conn` and reads the row it returns, if any, with `read`.
async fn fetch_optional<'c, T>(
    conn: impl sqlx::Executor<'c, Database = Db>,
    q: Query<'_>,
    what: &'static str,
    read: impl Fn(&DbRow) -> Result<T>,
) -> Result<Option<T>> {
    let row = q.fetch_optional(conn).await.map_err(db(what))?;
    row.as_ref().map(read).transpose()
}

/// A u64 as the i64 the database stores, refusing values above `i64::MAX`.
fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("{what} too large")))
}

/// A stored i64 back to u64, refusing negatives (corrupt row).
fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v)
        .map_err(|_| Error::new(ErrorKind::DataLoss, format!("stored {what} is negative")))
}

/// A stored UUID text.
fn to_uuid(s: &str, what: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s)
        .map_err(|_| Error::new(ErrorKind::DataLoss, format!("stored {what} is not a UUID")))
}

/// Column `col` of `row`, an optional time; `what` is the context of a failed read.
fn opt_time(row: &DbRow, col: &str, what: &'static str) -> Result<Option<roeh_domain::WallTime>> {
    use sqlx::Row;
    Ok(row
        .try_get::<Option<i64>, _>(col)
        .map_err(db(what))?
        .map(roeh_domain::WallTime))
}

/// A stored 32-byte hash.
fn to_hash(v: Vec<u8>, what: &str) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| {
        Error::new(
            ErrorKind::DataLoss,
            format!("stored {what} is not 32 bytes"),
        )
    })
}

#[cfg(test)]
mod tests;
