//! The routes under `/api/webhooks`: subscriptions to the outbound webhooks that
//! [`roeh_outbound::webhook`] delivers (how deliveries are signed, retried and kept from
//! reaching forbidden addresses is described there).
//!
//! The routes need [`roeh_auth::Permission::ManageUsers`] (admins only): a subscription sends
//! every alert of the site, whatever the creator's scope, out of the building, so it is an
//! administrator's decision like creating an account. The create route checks targets with the
//! settings of the worker installed by [`layer`]; without one it applies
//! [`WebhookSettings::default`], the strictest policy.

use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use roeh_domain::WallTime;
use roeh_store::{DeliveryState, NewWebhook, WebhookFormat};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

pub use roeh_outbound::webhook::{
    Cidr, DEFAULT_DELIVERY_PAGE, EVENT_HEADER, IDEMPOTENCY_HEADER, MAX_SECRET_LEN, MAX_URL_LEN,
    MIN_SECRET_LEN, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSettings, WebhookWorker, check_url,
    hmac_sha256, sign, verify,
};

/// A layer for [`crate::router`] that lets the create route check targets against `worker`'s
/// settings, and enabling or disabling a subscription go through it (see
/// [`crate::serve_app`]).
pub fn layer(worker: &Arc<WebhookWorker>) -> Extension<Arc<WebhookWorker>> {
    Extension(worker.clone())
}

/// A subscription as the API shows it: never its secret.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct WebhookView {
    id: Uuid,
    name: String,
    url: String,
    kinds: Vec<String>,
    hotspots: Vec<Uuid>,
    enabled: bool,
    /// What deliveries carry: roeh's JSON event or a CAP 1.2 message.
    #[schemars(extend("enum" = ["json", "cap"]))]
    format: &'static str,
    created_at: String,
}

fn webhook_view(w: roeh_store::WebhookRow) -> WebhookView {
    WebhookView {
        id: w.id,
        name: w.name,
        url: w.url,
        kinds: w.kinds,
        hotspots: w.hotspots,
        enabled: w.enabled,
        format: w.format.as_str(),
        created_at: w.created_at.to_rfc3339(),
    }
}

/// `GET /api/webhooks`.
pub(crate) async fn list(State(st): State<AppState>) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(
        st.store
            .list_webhooks()
            .await?
            .into_iter()
            .map(webhook_view)
            .collect(),
    ))
}

fn yes() -> bool {
    true
}

/// `POST /api/webhooks` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    /// 1 to 100 characters after trimming, no control characters.
    #[schemars(length(min = 1))]
    name: String,
    /// The target: `https://` (or `http://` where allowed), with a host whose addresses are
    /// permitted; no credentials or fragment.
    #[schemars(url)]
    url: String,
    /// The HMAC key, 16 to 512 bytes; stored encrypted and never shown.
    #[schemars(length(max = MAX_SECRET_LEN))]
    secret: String,
    /// Event kinds to deliver (all when empty).
    #[serde(default)]
    #[schemars(length(max = 32), inner(regex(pattern = r"^[a-z_-]{1,40}$")))]
    kinds: Vec<String>,
    /// Hotspots whose alerts to deliver (all when empty).
    #[serde(default)]
    #[schemars(length(max = 256))]
    hotspots: Vec<Uuid>,
    #[serde(default = "yes")]
    enabled: bool,
    /// `json` (default): roeh's signed JSON event; `cap`: an OASIS CAP 1.2 message
    /// (`application/cap+xml`), signed the same way.
    #[serde(default)]
    #[schemars(extend("enum" = ["json", "cap"]))]
    format: Option<String>,
}

/// `POST /api/webhooks`: a subscription; the secret is stored encrypted and never shown. The
/// target is checked against the installed worker's settings (the strictest defaults without
/// one), resolving its host now.
pub(crate) async fn create(
    State(st): State<AppState>,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("a webhook name is 1 to 100 characters"));
    }
    check_url(&b.url)?;
    let format = match b.format.as_deref() {
        None => WebhookFormat::Json,
        Some(f) => WebhookFormat::parse(f)
            .ok_or_else(|| ApiError::invalid("a webhook format is json or cap"))?,
    };
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&b.secret.len()) {
        return Err(ApiError::invalid(format!(
            "a webhook secret is {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes"
        )));
    }
    if b.kinds.len() > 32
        || b.kinds.iter().any(|k| {
            k.is_empty()
                || k.len() > 40
                || !k
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c == b'_' || c == b'-')
        })
    {
        return Err(ApiError::invalid(
            "kinds are at most 32 event kinds (lowercase letters, '_' and '-')",
        ));
    }
    if b.hotspots.len() > 256 {
        return Err(ApiError::invalid("at most 256 hotspots"));
    }
    let mut kinds = b.kinds;
    kinds.sort();
    kinds.dedup();
    let mut hotspots = b.hotspots;
    hotspots.sort();
    hotspots.dedup();
    let url = match worker {
        Some(Extension(w)) => w.settings().check_target(&b.url).await?,
        None => WebhookSettings::default().check_target(&b.url).await?,
    };
    let row = st
        .store
        .insert_webhook(&NewWebhook {
            id: Uuid::new_v4(),
            name: name.to_string(),
            url: url.to_string(),
            secret: b.secret,
            kinds,
            hotspots,
            enabled: b.enabled,
            created_at: st.clock.wall(),
            format,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(webhook_view(row))).into_response())
}

/// `DELETE /api/webhooks/{id}`: the subscription and its deliveries.
pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.delete_webhook(path_id(&id, "webhook")?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such webhook"))
    }
}

/// `POST /api/webhooks/{id}/disable`: no new deliveries; pending ones wait.
pub(crate) async fn disable(
    State(st): State<AppState>,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    set_enabled(&st, worker, &id, false).await
}

/// `POST /api/webhooks/{id}/enable`: pending deliveries are due again; events committed from
/// now on are delivered (those committed while it was disabled are not).
pub(crate) async fn enable(
    State(st): State<AppState>,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    set_enabled(&st, worker, &id, true).await
}

async fn set_enabled(
    st: &AppState,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    id: &str,
    on: bool,
) -> Result<Json<WebhookView>, ApiError> {
    let id = path_id(id, "webhook")?;
    // Through the worker when one runs, so a disable does not drop events committed just
    // before it that the worker has not enqueued yet.
    let row = match worker {
        Some(Extension(w)) => w.set_enabled(id, on).await?,
        None => st.store.set_webhook_enabled(id, on).await?,
    }
    .ok_or_else(|| ApiError::not_found("no such webhook"))?;
    Ok(Json(webhook_view(row)))
}

/// A delivery as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct DeliveryView {
    seq: u64,
    idempotency_key: String,
    event: String,
    #[schemars(extend("enum" = ["pending", "delivered", "dead"]))]
    state: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_status: Option<u16>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
}

/// `GET /api/webhooks/{id}/deliveries` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    /// Page size (default 100, max 1000).
    limit: Option<u32>,
    /// Cursor: the seq of the last delivery of the previous page.
    before: Option<u64>,
}

/// `GET /api/webhooks/{id}/deliveries?limit=&before=`: newest (highest seq) first, `limit`
/// (default 100, 1 to 1000) at a time; `before` is the `seq` of the last delivery of the
/// previous page, and the page starts after it.
pub(crate) async fn deliveries(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let max = roeh_store::MAX_DELIVERY_LIST;
    let limit = q.limit.unwrap_or(DEFAULT_DELIVERY_PAGE);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(format!("limit is 1 to {max}")));
    }
    if q.before == Some(0) {
        return Err(ApiError::invalid(
            "before is the seq of the last delivery of the previous page (1 or more)",
        ));
    }
    let id = path_id(&id, "webhook")?;
    if st.store.get_webhook(id).await?.is_none() {
        return Err(ApiError::not_found("no such webhook"));
    }
    let t = |w: Option<WallTime>| w.map(WallTime::to_rfc3339);
    let rows = st
        .store
        .webhook_deliveries_page(id, q.before, limit)
        .await?;
    Ok(
        Json(
            rows.into_iter()
                .map(|d| DeliveryView {
                    seq: d.seq,
                    idempotency_key: d.idempotency_key,
                    event: d.event_kind,
                    state: d.state.as_str(),
                    attempts: d.attempts,
                    next_attempt_at: t(
                        (d.state == DeliveryState::Pending).then_some(d.next_attempt_at)
                    ),
                    last_status: d.last_status,
                    last_error: d.last_error,
                    created_at: d.created_at.to_rfc3339(),
                    delivered_at: t(d.delivered_at),
                })
                .collect(),
        ),
    )
}
