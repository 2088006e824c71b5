//! Outbound webhook subscriptions and their delivery outbox (`migrations/sqlite/0008_webhooks.sql`).
//!
//! Invariants:
//! - a subscription's secret is stored only encrypted under the credential key (the format of
//!   camera passwords, bound to the subscription's id); it leaves this module only through
//!   [`Store::webhook_secret`], never inside a [`WebhookRow`];
//! - a subscription receives only events with a seq above its `after_seq`, the last event seq
//!   when it was created: a new subscription is not flooded with history;
//! - deliveries are enqueued together with the cursor advance in one transaction
//!   ([`Store::enqueue_webhook_deliveries`]), before anything is sent; a delivery exists at most
//!   once per subscription and seq, and its idempotency key is `<subscription id>-<seq>`;
//! - an attempt is recorded only on a pending delivery: a delivered or dead one never changes
//!   again; deleting a subscription deletes its deliveries;
//! - a disabled subscription gets no new deliveries and its pending ones are not due
//!   ([`Store::due_webhook_deliveries`] skips them) until it is enabled again; enabling moves its
//!   `after_seq` to the last event seq, so events committed while it was disabled are never sent;
//! - within a subscription, deliveries are identified and listed by their event seq (newest
//!   first), which [`Store::webhook_deliveries_page`] also uses as the paging cursor.

use crate::DbRow;
use crate::{
    Error, Result, Store, db, execute, fetch_all, fetch_optional, to_i64, to_u64, to_uuid,
};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use sqlx::Row;
use uuid::Uuid;

/// Most deliveries one listing returns.
pub const MAX_DELIVERY_LIST: u32 = 1000;

macro_rules! webhook_cols {
    () => {
        "id, name, url, kinds, hotspots, enabled, after_seq, created_at, format"
    };
}
macro_rules! delivery_cols {
    () => {
        "id, webhook_id, seq, idempotency_key, event_kind, body, state, attempts, \
         next_attempt_at, last_status, last_error, created_at, delivered_at"
    };
}

/// A subscription to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Id.
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// Where events are posted (checked by the caller).
    pub url: String,
    /// The signing secret, plain; stored encrypted.
    pub secret: String,
    /// Event kinds to send; empty: all.
    pub kinds: Vec<String>,
    /// Hotspots whose alerts' events are sent; empty: all.
    pub hotspots: Vec<Uuid>,
    /// Whether events are enqueued for it.
    pub enabled: bool,
    /// When created.
    pub created_at: WallTime,
    /// The body format: [`WebhookFormat::Json`] or [`WebhookFormat::Cap`].
    pub format: WebhookFormat,
}

/// What a subscription's deliveries carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WebhookFormat {
    /// roeh's JSON event (`application/json`).
    #[default]
    Json,
    /// An OASIS CAP 1.2 message (`application/cap+xml`).
    Cap,
}

impl WebhookFormat {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Cap => "cap",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<WebhookFormat> {
        match s {
            "json" => Some(WebhookFormat::Json),
            "cap" => Some(WebhookFormat::Cap),
            _ => None,
        }
    }

    /// The media type of its bodies.
    pub fn media_type(self) -> &'static str {
        match self {
            WebhookFormat::Json => "application/json",
            WebhookFormat::Cap => "application/cap+xml",
        }
    }
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kinds", &self.kinds)
            .field("hotspots", &self.hotspots)
            .field("enabled", &self.enabled)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// A stored subscription, without its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Target URL.
    pub url: String,
    /// Event kinds sent; empty: all.
    pub kinds: Vec<String>,
    /// Hotspots whose alerts' events are sent; empty: all.
    pub hotspots: Vec<Uuid>,
    /// Whether events are enqueued for it.
    pub enabled: bool,
    /// Events up to this seq are not sent to it.
    pub after_seq: u64,
    /// When created.
    pub created_at: WallTime,
    /// What its deliveries carry.
    pub format: WebhookFormat,
}

impl WebhookRow {
    /// Whether an event of `kind` on an alert of `hotspot`, with `seq`, goes to this
    /// subscription.
    pub fn wants(&self, seq: u64, kind: &str, hotspot: Uuid) -> bool {
        self.enabled
            && seq > self.after_seq
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && (self.hotspots.is_empty() || self.hotspots.contains(&hotspot))
    }
}

/// A delivery to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The subscription.
    pub webhook_id: Uuid,
    /// The alert event's seq.
    pub seq: u64,
    /// The event's kind (sent as a header).
    pub event_kind: String,
    /// The JSON body sent on every attempt.
    pub body: String,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Answered 2xx.
    Delivered,
    /// Gave up after the last attempt.
    Dead,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "dead" => DeliveryState::Dead,
            _ => {
                return Err(Error::new(
                    ErrorKind::DataLoss,
                    "stored delivery state unknown",
                ));
            }
        })
    }
}

/// A stored delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    /// Row id.
    pub id: i64,
    /// The subscription.
    pub webhook_id: Uuid,
    /// The alert event's seq.
    pub seq: u64,
    /// `<subscription id>-<seq>`.
    pub idempotency_key: String,
    /// The event's kind.
    pub event_kind: String,
    /// The JSON body.
    pub body: String,
    /// State.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: WallTime,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When enqueued.
    pub created_at: WallTime,
    /// When delivered.
    pub delivered_at: Option<WallTime>,
}

/// What an attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Answered 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Failed; try again at `next`.
    Retry {
        /// The status, if the receiver answered.
        status: Option<u16>,
        /// Why.
        error: String,
        /// When to try again.
        next: WallTime,
    },
    /// Failed for the last time.
    Dead {
        /// The status, if the receiver answered.
        status: Option<u16>,
        /// Why.
        error: String,
    },
}

/// The idempotency key of the delivery of event `seq` to `webhook`.
pub fn idempotency_key(webhook: Uuid, seq: u64) -> String {
    format!("{webhook}-{seq}")
}

fn uuid_col(row: &DbRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col).map_err(db("reading webhook row"))?;
    to_uuid(&s, "id")
}

fn webhook_from_row(row: &DbRow) -> Result<WebhookRow> {
    let get = |c: &str| -> Result<String> { row.try_get(c).map_err(db("reading webhook row")) };
    let kinds: Vec<String> = serde_json::from_str(&get("kinds")?)
        .map_err(|_| Error::new(ErrorKind::DataLoss, "stored webhook kinds are not JSON"))?;
    let hotspots: Vec<Uuid> = serde_json::from_str(&get("hotspots")?)
        .map_err(|_| Error::new(ErrorKind::DataLoss, "stored webhook hotspots are not JSON"))?;
    let int = |c: &str| -> Result<i64> { row.try_get(c).map_err(db("reading webhook row")) };
    Ok(WebhookRow {
        id: uuid_col(row, "id")?,
        name: get("name")?,
        url: get("url")?,
        kinds,
        hotspots,
        enabled: int("enabled")? != 0,
        after_seq: to_u64(int("after_seq")?, "after_seq")?,
        created_at: WallTime(int("created_at")?),
        format: WebhookFormat::parse(&get("format")?)
            .ok_or_else(|| Error::new(ErrorKind::DataLoss, "stored webhook format is unknown"))?,
    })
}

fn delivery_from_row(row: &DbRow) -> Result<DeliveryRow> {
    let r = db("reading delivery row");
    let int = |c: &str| -> Result<i64> { row.try_get(c).map_err(db("reading delivery row")) };
    let text = |c: &str| -> Result<String> { row.try_get(c).map_err(db("reading delivery row")) };
    let last_status: Option<i64> = row.try_get("last_status").map_err(&r)?;
    let delivered_at: Option<i64> = row.try_get("delivered_at").map_err(&r)?;
    Ok(DeliveryRow {
        id: int("id")?,
        webhook_id: uuid_col(row, "webhook_id")?,
        seq: to_u64(int("seq")?, "seq")?,
        idempotency_key: text("idempotency_key")?,
        event_kind: text("event_kind")?,
        body: text("body")?,
        state: DeliveryState::parse(&text("state")?)?,
        attempts: u32::try_from(int("attempts")?)
            .map_err(|_| Error::new(ErrorKind::DataLoss, "stored attempts out of range"))?,
        next_attempt_at: WallTime(int("next_attempt_at")?),
        last_status: last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: row.try_get("last_error").map_err(&r)?,
        created_at: WallTime(int("created_at")?),
        delivered_at: delivered_at.map(WallTime),
    })
}

impl Store {
    /// The secret's column value, bound to the subscription's id.
    fn seal_webhook_secret(&self, id: Uuid, secret: &str) -> Result<String> {
        let key = self.credential_key.get().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                "webhook secrets are stored encrypted and no credential key is installed",
            )
        })?;
        key.seal(CameraId(id), secret)
    }

    /// Stores a subscription; it receives events committed after this call. `AlreadyExists` if
    /// the id is taken; `FailedPrecondition` without a credential key.
    #[tracing::instrument(skip_all)]
    pub async fn insert_webhook(&self, new: &NewWebhook) -> Result<WebhookRow> {
        if new.secret.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a webhook needs a secret",
            ));
        }
        let sealed = self.seal_webhook_secret(new.id, &new.secret)?;
        let kinds = serde_json::to_string(&new.kinds)
            .map_err(|_| Error::new(ErrorKind::Internal, "encoding webhook kinds"))?;
        let hotspots = serde_json::to_string(&new.hotspots)
            .map_err(|_| Error::new(ErrorKind::Internal, "encoding webhook hotspots"))?;
        // The last seq is read in the insert itself: no event can fall between the two.
        let q = sqlx::query(
            "INSERT INTO webhooks (id, name, url, secret, kinds, hotspots, enabled, after_seq, \
             created_at, format) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             (SELECT COALESCE(MAX(seq), 0) FROM alert_events), $8, $9)",
        )
        .bind(new.id.to_string())
        .bind(&new.name)
        .bind(&new.url)
        .bind(sealed)
        .bind(kinds)
        .bind(hotspots)
        .bind(i64::from(new.enabled))
        .bind(new.created_at.0)
        .bind(new.format.as_str());
        execute(&self.pool, q, "storing a webhook").await?;
        self.changed(crate::Change::Webhooks);
        self.get_webhook(new.id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::Internal, "a stored webhook cannot be read back"))
    }

    /// A subscription by id.
    #[tracing::instrument(skip_all)]
    pub async fn get_webhook(&self, id: Uuid) -> Result<Option<WebhookRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            webhook_cols!(),
            " FROM webhooks WHERE id = $1"
        ))
        .bind(id.to_string());
        fetch_optional(&self.pool, q, "reading a webhook", webhook_from_row).await
    }

    /// Every subscription, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            webhook_cols!(),
            " FROM webhooks ORDER BY created_at, id"
        ));
        fetch_all(&self.pool, q, "listing webhooks", webhook_from_row).await
    }

    /// Deletes a subscription and its deliveries; `false` if there was none.
    #[tracing::instrument(skip_all)]
    pub async fn delete_webhook(&self, id: Uuid) -> Result<bool> {
        let q = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id.to_string());
        Ok(execute(&self.pool, q, "deleting a webhook").await? > 0)
    }

    /// Enables or disables a subscription; `None` if there is none. Enabling a disabled one
    /// moves its `after_seq` to the last committed event seq (in the same statement), so it
    /// receives only events committed from then on; enabling an enabled one changes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn set_webhook_enabled(&self, id: Uuid, enabled: bool) -> Result<Option<WebhookRow>> {
        let q = if enabled {
            "UPDATE webhooks SET enabled = 1, after_seq = CASE \
             WHEN (SELECT COALESCE(MAX(seq), 0) FROM alert_events) > after_seq \
             THEN (SELECT COALESCE(MAX(seq), 0) FROM alert_events) ELSE after_seq END \
             WHERE id = $1 AND enabled = 0"
        } else {
            "UPDATE webhooks SET enabled = 0 WHERE id = $1"
        };
        let q = sqlx::query(q).bind(id.to_string());
        execute(&self.pool, q, "enabling or disabling a webhook").await?;
        self.changed(crate::Change::Webhooks);
        self.get_webhook(id).await
    }

    /// The plain secret of a subscription. `NotFound` if there is none; `DataLoss` (naming the
    /// subscription, never the value) if it cannot be decrypted.
    #[tracing::instrument(skip_all)]
    pub async fn webhook_secret(&self, id: Uuid) -> Result<String> {
        let (stored,): (String,) = sqlx::query_as("SELECT secret FROM webhooks WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a webhook secret"))?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no webhook {id}")))?;
        let key = self.credential_key.get().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "the secret of webhook {id} is encrypted and no credential key is installed"
                ),
            )
        })?;
        key.open(CameraId(id), &stored).map_err(|_| {
            Error::new(
                ErrorKind::DataLoss,
                format!("the stored secret of webhook {id} cannot be decrypted"),
            )
        })
    }

    /// The highest alert event seq outbound `channel` has had acknowledged (0 before any).
    #[tracing::instrument(skip_all)]
    pub async fn outbound_cursor(&self, channel: &str) -> Result<u64> {
        let v: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM outbound_cursors WHERE channel = $1")
                .bind(channel)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading an outbound cursor"))?;
        v.map_or(Ok(0), |(v,)| to_u64(v, "outbound cursor"))
    }

    /// Moves outbound `channel`'s cursor to `seq`; it never goes back.
    #[tracing::instrument(skip_all)]
    pub async fn advance_outbound_cursor(&self, channel: &str, seq: u64) -> Result<()> {
        let q = sqlx::query(
            "INSERT INTO outbound_cursors (channel, seq) VALUES ($1, $2) \
             ON CONFLICT (channel) DO UPDATE SET seq = CASE WHEN excluded.seq > outbound_cursors.seq \
             THEN excluded.seq ELSE outbound_cursors.seq END",
        )
        .bind(channel)
        .bind(to_i64(seq, "outbound cursor")?);
        execute(&self.pool, q, "advancing an outbound cursor").await?;
        Ok(())
    }

    /// The highest alert event seq deliveries were enqueued for.
    #[tracing::instrument(skip_all)]
    pub async fn webhook_cursor(&self) -> Result<u64> {
        let (v,): (i64,) = sqlx::query_as("SELECT seq FROM webhook_cursor WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the webhook cursor"))?;
        to_u64(v, "webhook cursor")
    }

    /// Enqueues `deliveries` (due at `now`) and advances the cursor to `through_seq`, in one
    /// transaction. A delivery already enqueued is kept as it is; the cursor never goes back.
    /// Returns how many deliveries were new.
    #[tracing::instrument(skip_all)]
    pub async fn enqueue_webhook_deliveries(
        &self,
        through_seq: u64,
        deliveries: &[NewDelivery],
        now: WallTime,
    ) -> Result<u64> {
        let mut tx = self.begin("starting webhook enqueue").await?;
        let mut added = 0;
        for d in deliveries {
            let r = sqlx::query(
                "INSERT INTO webhook_deliveries (webhook_id, seq, idempotency_key, event_kind, \
                 body, state, attempts, next_attempt_at, created_at) \
                 SELECT $1, $2, $3, $4, $5, 'pending', 0, $6, $7 \
                 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $8) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(d.webhook_id.to_string())
            .bind(to_i64(d.seq, "seq")?)
            .bind(idempotency_key(d.webhook_id, d.seq))
            .bind(&d.event_kind)
            .bind(&d.body)
            .bind(now.0)
            .bind(now.0)
            .bind(d.webhook_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db("enqueueing a webhook delivery"))?;
            added += r.rows_affected();
        }
        let q = sqlx::query(
            "UPDATE webhook_cursor SET seq = CASE WHEN seq > $1 THEN seq ELSE $1 END WHERE id = 1",
        )
        .bind(to_i64(through_seq, "seq")?);
        execute(&mut *tx, q, "advancing the webhook cursor").await?;
        tx.commit()
            .await
            .map_err(db("committing webhook enqueue"))?;
        Ok(added)
    }

    /// Pending deliveries of enabled subscriptions due at `now`, earliest due first, at most
    /// `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn due_webhook_deliveries(
        &self,
        now: WallTime,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM webhook_deliveries d WHERE state = 'pending' AND next_attempt_at <= $1 \
             AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled = 1) \
             ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(now.0)
        .bind(i64::from(limit.clamp(1, MAX_DELIVERY_LIST)));
        fetch_all(
            &self.pool,
            q,
            "reading due webhook deliveries",
            delivery_from_row,
        )
        .await
    }

    /// When the earliest pending delivery of an enabled subscription falls due; `None` if none
    /// is pending.
    #[tracing::instrument(skip_all)]
    pub async fn next_webhook_due(&self) -> Result<Option<WallTime>> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries d WHERE state = 'pending' \
             AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled = 1)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading the next webhook delivery"))?;
        Ok(next.map(WallTime))
    }

    /// Records an attempt on a pending delivery at `now`. `false` if the delivery is gone or no
    /// longer pending (nothing changed).
    #[tracing::instrument(skip_all)]
    pub async fn record_webhook_attempt(
        &self,
        id: i64,
        outcome: &AttemptOutcome,
        now: WallTime,
    ) -> Result<bool> {
        let (state, status, error, next, delivered) = match outcome {
            AttemptOutcome::Delivered { status } => {
                ("delivered", Some(*status), None, now, Some(now.0))
            }
            AttemptOutcome::Retry {
                status,
                error,
                next,
            } => ("pending", *status, Some(error.as_str()), *next, None),
            AttemptOutcome::Dead { status, error } => {
                ("dead", *status, Some(error.as_str()), now, None)
            }
        };
        let q = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, \
             last_status = $2, last_error = $3, next_attempt_at = $4, delivered_at = $5 \
             WHERE id = $6 AND state = 'pending'",
        )
        .bind(state)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(next.0)
        .bind(delivered)
        .bind(id);
        Ok(execute(&self.pool, q, "recording a webhook attempt").await? > 0)
    }

    /// The deliveries of a subscription, newest first, at most `limit`.
    pub async fn webhook_deliveries(&self, webhook: Uuid, limit: u32) -> Result<Vec<DeliveryRow>> {
        self.webhook_deliveries_page(webhook, None, limit).await
    }

    /// One page of the deliveries of a subscription, newest (highest seq) first: those with a
    /// seq below `before_seq` (the last seq of the previous page) when given, at most `limit`
    /// (1 to [`MAX_DELIVERY_LIST`]).
    #[tracing::instrument(skip_all)]
    pub async fn webhook_deliveries_page(
        &self,
        webhook: Uuid,
        before_seq: Option<u64>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>> {
        // A cursor beyond every stored seq reads from the newest.
        let before = before_seq.map_or(i64::MAX, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let q = sqlx::query(concat!(
            "SELECT ",
            delivery_cols!(),
            " FROM webhook_deliveries WHERE webhook_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(webhook.to_string())
        .bind(before)
        .bind(i64::from(limit.clamp(1, MAX_DELIVERY_LIST)));
        fetch_all(
            &self.pool,
            q,
            "listing webhook deliveries",
            delivery_from_row,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tests::open_tmp;

    fn webhook(enabled: bool) -> NewWebhook {
        NewWebhook {
            id: Uuid::new_v4(),
            name: "ops".into(),
            url: "https://hooks.example.org/roeh".into(),
            secret: "whsec-very-secret-value".into(),
            kinds: vec![],
            hotspots: vec![],
            enabled,
            created_at: WallTime::from_secs(1_790_000_000),
            format: WebhookFormat::Json,
        }
    }

    #[tokio::test]
    async fn formats_are_stored_and_outbound_cursors_never_go_back() {
        let (_d, store) = open_tmp().await;
        let mut cap = webhook(true);
        cap.format = WebhookFormat::Cap;
        let row = store.insert_webhook(&cap).await.unwrap();
        assert_eq!(row.format, WebhookFormat::Cap);
        let json = store.insert_webhook(&webhook(true)).await.unwrap();
        assert_eq!(json.format, WebhookFormat::Json);
        assert_eq!(WebhookFormat::Cap.media_type(), "application/cap+xml");
        assert_eq!(WebhookFormat::parse("xml"), None);

        assert_eq!(store.outbound_cursor("mqtt").await.unwrap(), 0);
        store.advance_outbound_cursor("mqtt", 7).await.unwrap();
        store.advance_outbound_cursor("mqtt", 3).await.unwrap();
        assert_eq!(store.outbound_cursor("mqtt").await.unwrap(), 7);
        assert_eq!(store.outbound_cursor("other").await.unwrap(), 0);
        store.advance_outbound_cursor("mqtt", 9).await.unwrap();
        assert_eq!(store.outbound_cursor("mqtt").await.unwrap(), 9);
    }

    fn delivery(webhook_id: Uuid, seq: u64) -> NewDelivery {
        NewDelivery {
            webhook_id,
            seq,
            event_kind: "raised".into(),
            body: format!("{{\"seq\":{seq}}}"),
        }
    }

    #[tokio::test]
    async fn a_disabled_subscription_keeps_its_pending_deliveries_waiting() {
        let (_dir, store) = open_tmp().await;
        let t = WallTime::from_secs(1_790_000_000);
        let a = store.insert_webhook(&webhook(true)).await.unwrap();
        let b = store.insert_webhook(&webhook(true)).await.unwrap();
        let batch = [delivery(a.id, 1), delivery(b.id, 1), delivery(a.id, 2)];
        assert_eq!(
            store
                .enqueue_webhook_deliveries(2, &batch, t)
                .await
                .unwrap(),
            3
        );
        let due = |store: &Store| {
            let store = store.clone();
            async move {
                store
                    .due_webhook_deliveries(t, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| (d.webhook_id, d.seq))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(due(&store).await.len(), 3);

        let off = store
            .set_webhook_enabled(a.id, false)
            .await
            .unwrap()
            .unwrap();
        assert!(!off.enabled);
        assert!(!off.wants(3, "raised", Uuid::new_v4()));
        assert_eq!(
            due(&store).await,
            vec![(b.id, 1)],
            "only b's delivery is due"
        );
        // Disabling twice is the same; the deliveries stay pending, untouched.
        assert!(
            !store
                .set_webhook_enabled(a.id, false)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
        let kept = store.webhook_deliveries(a.id, 10).await.unwrap();
        assert_eq!(kept.len(), 2);
        assert!(
            kept.iter()
                .all(|d| d.state == DeliveryState::Pending && d.attempts == 0)
        );

        let on = store
            .set_webhook_enabled(a.id, true)
            .await
            .unwrap()
            .unwrap();
        assert!(on.enabled);
        // No alert events yet: the last seq is 0 and after_seq does not go back.
        assert_eq!(on.after_seq, a.after_seq);
        assert_eq!(
            due(&store).await.len(),
            3,
            "waiting deliveries are due again"
        );

        assert!(
            store
                .set_webhook_enabled(Uuid::new_v4(), true)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn deliveries_page_by_seq_newest_first() {
        let (_dir, store) = open_tmp().await;
        let t = WallTime::from_secs(1_790_000_000);
        let a = store.insert_webhook(&webhook(true)).await.unwrap();
        let other = store.insert_webhook(&webhook(true)).await.unwrap();
        let mut batch: Vec<_> = (1..=7).map(|s| delivery(a.id, s * 10)).collect();
        batch.push(delivery(other.id, 35));
        store
            .enqueue_webhook_deliveries(70, &batch, t)
            .await
            .unwrap();
        let page = |before, limit| {
            let store = store.clone();
            async move {
                store
                    .webhook_deliveries_page(a.id, before, limit)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| d.seq)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(page(None, 3).await, vec![70, 60, 50]);
        assert_eq!(page(Some(50), 3).await, vec![40, 30, 20]);
        assert_eq!(
            page(Some(20), 3).await,
            vec![10],
            "a short page is the last"
        );
        assert!(page(Some(10), 3).await.is_empty());
        // A cursor between seqs, or beyond them all, works the same.
        assert_eq!(page(Some(45), 2).await, vec![40, 30]);
        assert_eq!(page(Some(u64::MAX), 1).await, vec![70]);
        // The limit is clamped to 1 ..= MAX_DELIVERY_LIST.
        assert_eq!(page(None, 0).await, vec![70]);
        assert_eq!(page(None, u32::MAX).await.len(), 7);
        assert_eq!(store.webhook_deliveries(a.id, 2).await.unwrap().len(), 2);
    }
}
