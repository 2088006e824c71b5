//! Users, their session and API tokens, the audit log, and the one-time setup token.
//!
//! Invariants:
//! - users are never deleted, only disabled; disabling a user revokes all of their tokens in the
//!   same transaction, and a disabled user's tokens authenticate nobody;
//! - the last enabled admin can be neither disabled nor given another role;
//! - only SHA-256 hashes of tokens are stored; [`Store::user_for_token`] finds a user only for a
//!   token that is unrevoked, unexpired (`now < expires_at`) and whose user is enabled;
//! - `audit_log` is append-only: the schema's triggers refuse every UPDATE and DELETE;
//! - the setup token exists only while no user exists, is replaced at each
//!   [`Store::ensure_setup_token`], and [`Store::consume_setup_token`] creates exactly one first
//!   admin, once, in one transaction;
//! - roles, scopes and outcomes are stored as text; their meaning lives in `roeh-auth`. The schema
//!   checks roles and outcomes against the known names.

use crate::DbRow;
use crate::{Error, Result, Store, db, execute, execute_found, fetch_all};
use roeh_domain::{ErrorKind, WallTime};
use sqlx::Row;
use std::fmt;
use std::time::Duration;

/// Most audit rows one [`Store::audit`] call returns.
pub const MAX_AUDIT_LIST: u32 = 1000;

/// `last_used_at` is written at most this often per token, so authenticating a request does not
/// cost a durable write each time.
pub const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

/// What a stored token is for; defined in `roeh-domain` and shared with `roeh-auth`.
pub use roeh_domain::TokenKind;

/// A token kind read back from the database; anything unknown is data loss.
fn stored_kind(s: &str) -> Result<TokenKind> {
    TokenKind::parse(s).ok_or_else(|| Error::new(ErrorKind::DataLoss, "bad token kind in database"))
}

/// A user to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name, validated by the caller.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role name (`admin`, `supervisor`, `operator`, `investigator`, `integrator`, `unit`).
    pub role: String,
    /// Scope as JSON (`{}` is unrestricted).
    pub scope: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A stored user.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role name.
    pub role: String,
    /// Scope JSON.
    pub scope: String,
    /// When created.
    pub created_at: WallTime,
    /// When disabled.
    pub disabled_at: Option<WallTime>,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("scope", &self.scope)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A token to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewToken {
    /// SHA-256 of the token text.
    pub hash: [u8; 32],
    /// Owner.
    pub user_id: i64,
    /// Session or API.
    pub kind: TokenKind,
    /// For people ("console", "unit 17 tablet").
    pub label: String,
    /// When issued.
    pub created_at: WallTime,
    /// When it stops working.
    pub expires_at: WallTime,
}

/// A stored token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// What was stored.
    pub token: NewToken,
    /// When revoked.
    pub revoked_at: Option<WallTime>,
    /// When last used (to [`LAST_USED_GRANULARITY`]).
    pub last_used_at: Option<WallTime>,
}

/// An audit record to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAudit {
    /// When.
    pub time: WallTime,
    /// Who (username or `anonymous`).
    pub actor: String,
    /// The actor's role name.
    pub role: Option<String>,
    /// What (`login`, `export.request`, …).
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// `ok`, `denied` or `error`.
    pub outcome: String,
    /// HTTP status answered.
    pub status: Option<u16>,
    /// Why.
    pub reason: Option<String>,
    /// Client address.
    pub source_ip: Option<String>,
}

/// A stored audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Id; increases with every append.
    pub id: i64,
    /// The record.
    pub entry: NewAudit,
}

/// Which audit records to read. Newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only at or after this time.
    pub since: Option<WallTime>,
    /// Only before this time.
    pub until: Option<WallTime>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only ids below this one (paging: the last id of the previous page).
    pub before_id: Option<i64>,
    /// At most this many (capped at [`MAX_AUDIT_LIST`]; 0 means the cap).
    pub limit: u32,
}

macro_rules! user_cols {
    () => {
        "id, username, password_hash, role, scope, created_at, disabled_at"
    };
}

fn user_row(r: &DbRow, off: usize) -> UserRow {
    UserRow {
        id: r.get(off),
        username: r.get(off + 1),
        password_hash: r.get(off + 2),
        role: r.get(off + 3),
        scope: r.get(off + 4),
        created_at: WallTime(r.get(off + 5)),
        disabled_at: r.get::<Option<i64>, _>(off + 6).map(WallTime),
    }
}

fn hash_of(v: Vec<u8>) -> Result<[u8; 32]> {
    crate::to_hash(v, "token hash")
}

fn token_row(r: &DbRow) -> Result<TokenRow> {
    Ok(TokenRow {
        token: NewToken {
            hash: hash_of(r.get(0))?,
            user_id: r.get(1),
            kind: stored_kind(&r.get::<String, _>(2))?,
            label: r.get(3),
            created_at: WallTime(r.get(4)),
            expires_at: WallTime(r.get(5)),
        },
        revoked_at: r.get::<Option<i64>, _>(6).map(WallTime),
        last_used_at: r.get::<Option<i64>, _>(7).map(WallTime),
    })
}

fn audit_row(r: &DbRow) -> Result<AuditRow> {
    let status = r
        .get::<Option<i64>, _>(7)
        .map(|s| {
            u16::try_from(s)
                .map_err(|_| Error::new(ErrorKind::DataLoss, "bad audit status in database"))
        })
        .transpose()?;
    Ok(AuditRow {
        id: r.get(0),
        entry: NewAudit {
            time: WallTime(r.get(1)),
            actor: r.get(2),
            role: r.get(3),
            action: r.get(4),
            target: r.get(5),
            outcome: r.get(6),
            status,
            reason: r.get(8),
            source_ip: r.get(9),
        },
    })
}

/// A user's role and when they were disabled, if ever; `NotFound` if there is no such user.
async fn role_of(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    what: &'static str,
) -> Result<(String, Option<i64>)> {
    sqlx::query_as("SELECT role, disabled_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db(what))?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such user"))
}

/// Refuses a change that would leave no enabled admin. `role`/`disabled` describe the user
/// before the change; `stays_admin` whether it is an enabled admin after.
async fn guard_last_admin(
    conn: &mut sqlx::AnyConnection,
    role: &str,
    disabled: bool,
    stays_admin: bool,
) -> Result<()> {
    if role != "admin" || disabled || stays_admin {
        return Ok(());
    }
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(db("counting admins"))?;
    if n <= 1 {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            "this would leave no enabled admin",
        ));
    }
    Ok(())
}

/// Whether the site has had its first admin (disabled ones included): then there is no setup.
const NO_SETUP_ONCE_SQL: &str =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE role = 'admin') THEN 1 ELSE 0 END";

impl Store {
    /// Creates a user. `AlreadyExists` if the name is taken; `InvalidArgument` for an unknown
    /// role.
    #[tracing::instrument(skip_all)]
    pub async fn create_user(&self, u: &NewUser, now: WallTime) -> Result<i64> {
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, password_hash, role, scope, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(&u.role)
        .bind(&u.scope)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await
        .map_err(db("creating user"))?;
        Ok(r)
    }

    /// The user with this name (disabled ones included).
    #[tracing::instrument(skip_all)]
    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading user"))?;
        Ok(row.map(|r| user_row(&r, 0)))
    }

    /// The user with this id (disabled ones included).
    #[tracing::instrument(skip_all)]
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading user"))?;
        Ok(row.map(|r| user_row(&r, 0)))
    }

    /// Every user, disabled ones included, by id.
    #[tracing::instrument(skip_all)]
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing users"))?;
        Ok(rows.iter().map(|r| user_row(r, 0)).collect())
    }

    /// Whether any user exists (disabled ones included).
    #[tracing::instrument(skip_all)]
    pub async fn has_users(&self) -> Result<bool> {
        let (b,): (i64,) =
            sqlx::query_as("SELECT CASE WHEN EXISTS (SELECT 1 FROM users) THEN 1 ELSE 0 END")
                .fetch_one(&self.pool)
                .await
                .map_err(db("counting users"))?;
        let b = b != 0;
        Ok(b)
    }

    /// Whether an enabled admin exists.
    #[tracing::instrument(skip_all)]
    pub async fn has_admin(&self) -> Result<bool> {
        let (b,): (i64,) = sqlx::query_as(
            "SELECT CASE WHEN EXISTS \
             (SELECT 1 FROM users WHERE role = 'admin' AND disabled_at IS NULL) THEN 1 ELSE 0 END",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting admins"))?;
        let b = b != 0;
        Ok(b)
    }

    /// Replaces a user's password hash. `NotFound` if there is no such user. Sessions are not
    /// revoked here; call [`Store::revoke_user_tokens`] as the caller's policy says.
    #[tracing::instrument(skip_all)]
    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<()> {
        let q = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id);
        execute_found(&self.pool, q, "setting password", "no such user").await
    }

    /// Changes a user's role and scope. `NotFound` if there is no such user;
    /// `FailedPrecondition` if it would leave no enabled admin; `InvalidArgument` for an
    /// unknown role.
    #[tracing::instrument(skip_all)]
    pub async fn set_user_access(&self, id: i64, role: &str, scope: &str) -> Result<()> {
        let mut tx = self.begin("changing user access").await?;
        let (old_role, disabled_at) = role_of(&mut tx, id, "changing user access").await?;
        guard_last_admin(&mut tx, &old_role, disabled_at.is_some(), role == "admin").await?;
        let q = sqlx::query("UPDATE users SET role = $1, scope = $2 WHERE id = $3")
            .bind(role)
            .bind(scope)
            .bind(id);
        execute(&mut *tx, q, "changing user access").await?;
        tx.commit().await.map_err(db("changing user access"))?;
        Ok(())
    }

    /// Disables a user and revokes all of their tokens, in one transaction. `Ok(false)` if the
    /// user was already disabled; `NotFound` if there is no such user; `FailedPrecondition` if
    /// it is the last enabled admin.
    #[tracing::instrument(skip_all)]
    pub async fn disable_user(&self, id: i64, now: WallTime) -> Result<bool> {
        let mut tx = self.begin("disabling user").await?;
        let (role, disabled_at) = role_of(&mut tx, id, "disabling user").await?;
        if disabled_at.is_some() {
            return Ok(false);
        }
        guard_last_admin(&mut tx, &role, false, false).await?;
        let q = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(now.0)
            .bind(id);
        execute(&mut *tx, q, "disabling user").await?;
        let q = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(id);
        execute(&mut *tx, q, "disabling user").await?;
        tx.commit().await.map_err(db("disabling user"))?;
        Ok(true)
    }

    /// Stores a token's hash. `NotFound` if the user does not exist, `FailedPrecondition` if it
    /// is disabled, `InvalidArgument` if it would expire before it is issued, `AlreadyExists`
    /// if the hash is taken.
    #[tracing::instrument(skip_all)]
    pub async fn create_token(&self, t: &NewToken) -> Result<()> {
        if t.expires_at <= t.created_at {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a token must expire after it is issued",
            ));
        }
        let q = sqlx::query(
            "INSERT INTO tokens (hash, user_id, kind, label, created_at, expires_at) \
             SELECT $1, id, $2, $3, $4, $5 FROM users WHERE id = $6 AND disabled_at IS NULL",
        )
        .bind(t.hash.as_slice())
        .bind(t.kind.as_str())
        .bind(&t.label)
        .bind(t.created_at.0)
        .bind(t.expires_at.0)
        .bind(t.user_id);
        if execute(&self.pool, q, "storing token").await? == 1 {
            return Ok(());
        }
        match self.user_by_id(t.user_id).await? {
            None => Err(Error::new(ErrorKind::NotFound, "no such user")),
            Some(_) => Err(Error::new(
                ErrorKind::FailedPrecondition,
                "the user is disabled",
            )),
        }
    }

    /// The user a token hash authenticates at `now`, and the token's kind; `None` if the token
    /// is unknown, revoked, expired, or its user disabled. Records the use (at most once per
    /// [`LAST_USED_GRANULARITY`]).
    #[tracing::instrument(skip_all)]
    pub async fn user_for_token(
        &self,
        hash: &[u8; 32],
        now: WallTime,
    ) -> Result<Option<(UserRow, TokenKind)>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.role, u.scope, u.created_at, \
             u.disabled_at, t.kind, t.last_used_at FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 \
             AND u.disabled_at IS NULL",
        )
        .bind(hash.as_slice())
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("authenticating token"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = user_row(&row, 0);
        let kind = stored_kind(&row.get::<String, _>(7))?;
        let last_used: Option<i64> = row.get(8);
        if last_used.is_none_or(|t| WallTime(t).plus(LAST_USED_GRANULARITY) <= now) {
            let q = sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE hash = $2")
                .bind(now.0)
                .bind(hash.as_slice());
            execute(&self.pool, q, "recording token use").await?;
        }
        Ok(Some((user, kind)))
    }

    /// Revokes one token. `Ok(false)` if it was unknown or already revoked.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_token(&self, hash: &[u8; 32], now: WallTime) -> Result<bool> {
        let q =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL")
                .bind(now.0)
                .bind(hash.as_slice());
        Ok(execute(&self.pool, q, "revoking token").await? == 1)
    }

    /// Revokes one token of a user. `Ok(false)` if the user has no live token with this hash.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_user_token(
        &self,
        user_id: i64,
        hash: &[u8; 32],
        now: WallTime,
    ) -> Result<bool> {
        let q = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND user_id = $3 \
             AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(hash.as_slice())
        .bind(user_id);
        Ok(execute(&self.pool, q, "revoking token").await? == 1)
    }

    /// Revokes every token of a user; returns how many were live.
    #[tracing::instrument(skip_all)]
    pub async fn revoke_user_tokens(&self, user_id: i64, now: WallTime) -> Result<u64> {
        let q = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(user_id);
        execute(&self.pool, q, "revoking tokens").await
    }

    /// A user's tokens, revoked and expired ones included, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenRow>> {
        let q = sqlx::query(
            "SELECT hash, user_id, kind, label, created_at, expires_at, revoked_at, \
             last_used_at FROM tokens WHERE user_id = $1 ORDER BY created_at, hash",
        )
        .bind(user_id);
        fetch_all(&self.pool, q, "listing tokens", token_row).await
    }

    /// Deletes token rows that expired or were revoked before `before` (they authenticate
    /// nobody; the audit log keeps the history). Returns how many.
    #[tracing::instrument(skip_all)]
    pub async fn delete_dead_tokens(&self, before: WallTime) -> Result<u64> {
        let q = sqlx::query("DELETE FROM tokens WHERE expires_at < $1 OR revoked_at < $2")
            .bind(before.0)
            .bind(before.0);
        execute(&self.pool, q, "deleting dead tokens").await
    }

    /// Appends an audit record; returns its id. `InvalidArgument` for an unknown outcome.
    #[tracing::instrument(skip_all)]
    pub async fn append_audit(&self, e: &NewAudit) -> Result<i64> {
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO audit_log (time, actor, role, action, target, outcome, status, reason, \
             source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(e.time.0)
        .bind(&e.actor)
        .bind(&e.role)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.outcome)
        .bind(e.status.map(i64::from))
        .bind(&e.reason)
        .bind(&e.source_ip)
        .fetch_one(&self.pool)
        .await
        .map_err(db("appending audit record"))?;
        Ok(r)
    }

    /// Audit records matching `f`, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRow>> {
        let limit = if f.limit == 0 || f.limit > MAX_AUDIT_LIST {
            MAX_AUDIT_LIST
        } else {
            f.limit
        };
        let since = f.since.map(|t| t.0);
        let until = f.until.map(|t| t.0);
        let q = sqlx::query(
            "SELECT id, time, actor, role, action, target, outcome, status, reason, source_ip \
             FROM audit_log \
             WHERE ($1 IS NULL OR time >= $2) AND ($3 IS NULL OR time < $4) \
             AND ($5 IS NULL OR actor = $6) AND ($7 IS NULL OR action = $8) \
             AND ($9 IS NULL OR id < $10) \
             ORDER BY id DESC LIMIT $11",
        )
        .bind(since)
        .bind(since)
        .bind(until)
        .bind(until)
        .bind(&f.actor)
        .bind(&f.actor)
        .bind(&f.action)
        .bind(&f.action)
        .bind(f.before_id)
        .bind(f.before_id)
        .bind(i64::from(limit));
        fetch_all(&self.pool, q, "reading audit log", audit_row).await
    }

    /// Stores the hash of a fresh setup token if no admin exists (disabled ones included),
    /// replacing any earlier one (whose text was printed by an earlier start and may be lost).
    /// `Ok(true)`: print the token; `Ok(false)`: an admin exists, there is no setup. Users of
    /// other roles made before the first admin (the demo's patrol car) do not end the setup.
    #[tracing::instrument(skip_all)]
    pub async fn ensure_setup_token(&self, hash: &[u8; 32], now: WallTime) -> Result<bool> {
        let mut tx = self.begin("storing setup token").await?;
        let (admins,): (i64,) = sqlx::query_as(NO_SETUP_ONCE_SQL)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("storing setup token"))?;
        let admins = admins != 0;
        if admins {
            return Ok(false);
        }
        let q = sqlx::query(
            "INSERT INTO setup_token (id, hash, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, \
             created_at = excluded.created_at, used_at = NULL, used_by = NULL",
        )
        .bind(hash.as_slice())
        .bind(now.0);
        execute(&mut *tx, q, "storing setup token").await?;
        tx.commit().await.map_err(db("storing setup token"))?;
        Ok(true)
    }

    /// Whether a setup token is waiting to be used.
    #[tracing::instrument(skip_all)]
    pub async fn setup_pending(&self) -> Result<bool> {
        let (b,): (i64,) = sqlx::query_as(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM setup_token WHERE used_at IS NULL) \
             AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin') THEN 1 ELSE 0 END",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading setup token"))?;
        let b = b != 0;
        Ok(b)
    }

    /// Uses the setup token whose hash is `hash` to create the first admin, in one transaction:
    /// only if that token is pending and no admin exists yet. `Ok(Some(id))` with the new admin's
    /// id; `Ok(None)` if the token is wrong or used, or a user exists. `InvalidArgument` if
    /// `admin.role` is not `admin`.
    #[tracing::instrument(skip_all)]
    pub async fn consume_setup_token(
        &self,
        hash: &[u8; 32],
        admin: &NewUser,
        now: WallTime,
    ) -> Result<Option<i64>> {
        if admin.role != "admin" {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the setup token creates an admin",
            ));
        }
        let mut tx = self.begin("using setup token").await?;
        // Matched in SQL like every other token hash (`user_for_token`): what is compared is
        // the SHA-256 of a 256-bit random token, so the comparison's timing could at most reveal
        // bytes of that hash, which does not help anyone find the token text.
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM setup_token WHERE id = 1 AND hash = $1 AND used_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
        )
        .bind(hash.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("using setup token"))?;
        if row.is_none() {
            return Ok(None);
        }
        let r = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, password_hash, role, scope, created_at) \
             VALUES ($1, $2, 'admin', $3, $4) RETURNING id",
        )
        .bind(&admin.username)
        .bind(&admin.password_hash)
        .bind(&admin.scope)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("using setup token"))?;
        let id = r;
        let q = sqlx::query("UPDATE setup_token SET used_at = $1, used_by = $2 WHERE id = 1")
            .bind(now.0)
            .bind(id);
        execute(&mut *tx, q, "using setup token").await?;
        tx.commit().await.map_err(db("using setup token"))?;
        Ok(Some(id))
    }
}
