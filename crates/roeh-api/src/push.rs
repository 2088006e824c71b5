//! Push of alert events to operators and patrol units: `GET /api/push/ws?since=SEQ`
//! (WebSocket) and `GET /api/push/sse?since=SEQ` (server-sent events; `Last-Event-ID` honoured).
//!
//! Invariants:
//! - an event is pushed only after its row is committed ([`Hub::publish`] is called after the
//!   store returned), and every message carries the event's global `seq`;
//! - a subscriber first replays from the store every event after its `since`, then follows the
//!   live broadcast; it delivers each seq at most once and in order. A gap in the live stream
//!   (a lagging receiver, or two publishers racing) is filled from the store before going on,
//!   so nothing is ever skipped silently;
//! - every message is sent as one signed envelope with an expiry (`roeh_alerts::push`), built
//!   once per event and shared by all subscribers; replayed events are signed when read;
//! - operators see only alerts of their scope; units see only events of alerts dispatched to
//!   them, from their dispatch on. Events hidden from a subscriber still advance its position.

use crate::alerts::{AlertsService, Viewer};
use crate::extract::ApiQuery;
use crate::metrics::{ClientGuard, ClientKind, Metrics, Transport};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
pub use roeh_alerts::service::{Hub, PushMessage};
use roeh_auth::Principal;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Replays stored events after `*last` (visible ones to `out`), advancing `*last`. `false` when
/// the client has gone.
async fn catch_up(
    svc: &AlertsService,
    viewer: &Viewer,
    last: &mut u64,
    out: &mpsc::Sender<Arc<PushMessage>>,
) -> Result<bool, ApiError> {
    loop {
        let batch = svc.messages_after(*last, 200).await?;
        if batch.is_empty() {
            return Ok(true);
        }
        for m in batch {
            *last = m.seq;
            if let Some(m) = svc.shape(viewer, m)
                && out.send(m).await.is_err()
            {
                return Ok(false);
            }
        }
    }
}

/// Feeds `out` with every event after `since` visible to `viewer`: the stored ones first, then
/// live ones, in seq order, each once.
pub async fn feed(
    svc: Arc<AlertsService>,
    viewer: Viewer,
    since: u64,
    out: mpsc::Sender<Arc<PushMessage>>,
) {
    // Subscribe before replaying, so nothing committed meanwhile falls between the two.
    let mut rx = svc.hub().subscribe();
    let mut last = since;
    let run = async {
        if !catch_up(&svc, &viewer, &mut last, &out).await? {
            return Ok(());
        }
        loop {
            // A client that sees no events would otherwise keep this task (and its receiver)
            // until the next event visible to it: stop as soon as the connection is gone.
            let next = tokio::select! {
                r = rx.recv() => r,
                () = out.closed() => return Ok(()),
            };
            match next {
                Ok(m) if m.seq <= last => {}
                Ok(m) if m.seq == last + 1 => {
                    last = m.seq;
                    if let Some(m) = svc.shape(&viewer, m)
                        && out.send(m).await.is_err()
                    {
                        return Ok(());
                    }
                }
                Ok(m) => {
                    svc.hub().count_resync();
                    // A gap: the missing events are committed (this one was published after
                    // its commit, and seqs commit in order); read them from the store.
                    if !catch_up(&svc, &viewer, &mut last, &out).await? {
                        return Ok(());
                    }
                    if m.seq > last {
                        last = m.seq;
                        if let Some(m) = svc.shape(&viewer, m)
                            && out.send(m).await.is_err()
                        {
                            return Ok(());
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(
                        missed = n,
                        "Push subscriber lagged; resyncing from the store."
                    );
                    svc.hub().count_resync();
                    if !catch_up(&svc, &viewer, &mut last, &out).await? {
                        return Ok(());
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    };
    let r: Result<(), ApiError> = run.await;
    if let Err(e) = r {
        tracing::warn!(error = ?e, "Push feed stopped; the client resumes from its last seq.");
    }
}

/// `?since=SEQ`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinceQuery {
    /// Resume after this event seq.
    since: Option<u64>,
}

async fn start(
    st: &AppState,
    who: &Principal,
    since: Option<u64>,
    transport: Transport,
) -> Result<(mpsc::Receiver<Arc<PushMessage>>, ClientGuard), ApiError> {
    let viewer = st.alerts.viewer(who).await?;
    let kind = match viewer {
        Viewer::Operator(_) => ClientKind::Operator,
        Viewer::Unit(_) | Viewer::Volunteer(_) => ClientKind::Unit,
    };
    let guard = st.metrics.client_connected(kind, transport);
    let since = match since {
        Some(s) => s,
        None => st.store.last_alert_seq().await?,
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(feed(st.alerts.clone(), viewer, since, tx));
    Ok((rx, guard))
}

/// Read buffer of a push WebSocket, bytes.
const PUSH_READ_BUFFER: usize = 4096;

/// `GET /api/push/ws?since=SEQ`: a WebSocket of JSON [`PushMessage`]s.
pub(crate) async fn ws(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<SinceQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| ApiError::invalid(e.body_text()))?;
    let (rx, guard) = start(&st, &who, q.since, Transport::Ws).await?;
    let metrics = st.metrics.clone();
    // Clients send next to nothing (a close, a pong): a small read buffer keeps an idle
    // connection cheap (the default reserves 128 KiB per connection).
    Ok(upgrade
        .read_buffer_size(PUSH_READ_BUFFER)
        .on_upgrade(move |socket| pump(socket, rx, metrics, guard)))
}

async fn pump(
    mut socket: WebSocket,
    mut rx: mpsc::Receiver<Arc<PushMessage>>,
    metrics: Arc<Metrics>,
    _connected: ClientGuard,
) {
    loop {
        tokio::select! {
            m = rx.recv() => {
                let Some(m) = m else { break };
                // Checked UTF-8 without a copy: the envelope is shared by every subscriber.
                let text = Utf8Bytes::try_from(m.wire.clone()).unwrap_or_default();
                if socket.send(Message::Text(text)).await.is_err() {
                    break;
                }
                if let Some(t) = m.committed {
                    metrics.observe_push_latency(t.elapsed());
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

/// `GET /api/push/sse?since=SEQ`: server-sent events, `id:` = seq; a `Last-Event-ID` header
/// (sent by browsers when they reconnect) wins over `since`.
pub(crate) async fn sse(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SinceQuery>,
) -> Result<Response, ApiError> {
    let last_id = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::invalid("Last-Event-ID must be a sequence number"))?,
        ),
        None => None,
    };
    let (rx, guard) = start(&st, &who, last_id.or(q.since), Transport::Sse).await?;
    let metrics = st.metrics.clone();
    // The guard lives in the stream's state: the client is counted until the body is dropped.
    let stream = futures::stream::unfold((rx, guard), move |(mut rx, guard)| {
        let metrics = metrics.clone();
        async move {
            let m = rx.recv().await?;
            // Measured when the event is handed to the response body, just before it is written.
            if let Some(t) = m.committed {
                metrics.observe_push_latency(t.elapsed());
            }
            let ev = Event::default()
                .id(m.seq.to_string())
                .event("alert")
                .data(m.wire_text());
            Some((Ok::<_, std::convert::Infallible>(ev), (rx, guard)))
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
