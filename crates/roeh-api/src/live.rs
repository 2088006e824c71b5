//! Live video: `GET /api/cameras/{id}/live` (WebSocket) sends the camera's own coded pictures,
//! as received and recorded, in fragmented MP4 for a browser's Media Source Extensions.
//!
//! Wire format: every message is binary: a 4-byte big-endian length `n`, `n` bytes of JSON (the
//! header), then MP4 bytes. Headers: `{"kind":"init","codec","width","height"}` before an
//! initialisation segment (first, and again whenever the camera's parameters change), and
//! `{"kind":"frame","t","wall","key"}` before one `moof`+`mdat` per picture: `t` its decode time
//! in 90 kHz units on this stream's timeline, `wall` when roeh received it (microseconds since
//! the Unix epoch), so a player can show and measure how far behind live it is.
//!
//! Invariants:
//! - never re-encoded: each fragment's `mdat` is the access unit's bytes;
//! - a viewer never slows the recorder: it reads a bounded ring ([`roeh_ingest::LiveHub`]); a
//!   viewer that falls behind loses what the ring overwrote and resumes at the next key frame,
//!   and its stream always starts at a key frame;
//! - the stream's timeline is continuous: each picture is placed after the previous one by the
//!   step of the camera's media time, or by the last step where that time jumps (a reconnected
//!   camera starts its media time again) or after skipped pictures; each picture is sent as soon
//!   as it arrives, with the previous step as its duration (the next picture's own decode time
//!   corrects any error);
//! - `?stream=sub` asks for the camera's second, smaller stream (grids): an ONVIF camera's sub
//!   profile, opened on demand and not recorded ([`roeh_ingest::OnDemand`]); a camera without
//!   one answers with its main stream;
//! - access is checked by the route layer (`ViewLive`, the caller's scope, a cookie session's
//!   Origin), and opening the stream is a `footage_viewed` custody event.

use crate::extract::ApiQuery;
use crate::{ApiError, AppState, cameras};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use roeh_domain::{AccessUnit, CodecParams, ErrorKind};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::broadcast;

/// A viewer's start, from the node that records the camera: the current group of pictures
/// (empty, or starting at a key frame) and the receiver of every later access unit.
#[derive(Debug)]
pub struct LiveFeed {
    /// The pictures since the camera's last key frame, oldest first.
    pub gop: Vec<AccessUnit>,
    /// Every later access unit.
    pub rx: broadcast::Receiver<AccessUnit>,
    /// Held while the viewer watches (an on-demand session closes when its last one goes).
    pub keep: Option<Box<dyn std::any::Any + Send>>,
}

/// Query of `GET /api/cameras/{id}/live`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LiveQuery {
    /// `main` (the recorded stream; default) or `sub` (the camera's second, smaller stream, for
    /// grids; the main stream where the camera has none).
    #[serde(default)]
    stream: Option<String>,
}

/// Step used before a stream has shown its own: 25 pictures per second.
const FIRST_STEP: u32 = 3600;
/// Largest media-time step taken as the camera's own; a longer one is a discontinuity.
const MAX_STEP: i64 = 2 * 90_000;

pub(crate) async fn ws(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<roeh_auth::Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // A missing camera answers as such before anything else.
    let cam = cameras::load(&st, &id).await?;
    let sub = match q.stream.as_deref() {
        None | Some("main") => false,
        Some("sub") => true,
        Some(_) => return Err(ApiError::invalid("stream must be main or sub")),
    };
    let upgrade = upgrade.map_err(|e| ApiError::invalid(e.body_text()))?;
    let sub_feed = if sub {
        sub_feed(&st, &cam).await?
    } else {
        None
    };
    let feed = sub_feed
        .or_else(|| st.control.live(cam.id))
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::Unavailable,
                "this node does not serve live video of that camera",
            )
        })?;
    st.custody
        .record_access(
            "footage_viewed",
            &who.username,
            Some(cam.id),
            serde_json::json!({
                "start": st.clock.wall().to_rfc3339(),
                "route": "live",
            }),
        )
        .await?;
    Ok(upgrade
        .read_buffer_size(4096)
        .on_upgrade(move |socket| pump(socket, feed)))
}

/// The camera's sub stream, where it has one (an ONVIF camera with a second profile) and this
/// node opens it.
async fn sub_feed(st: &AppState, cam: &roeh_domain::Camera) -> Result<Option<LiveFeed>, ApiError> {
    let Some(url) = st
        .store
        .onvif_device(cam.id)
        .await?
        .and_then(|d| d.sub)
        .and_then(|s| roeh_domain::CameraUrl::parse(&s.stream_url).ok())
    else {
        return Ok(None);
    };
    let sub = roeh_domain::Camera { url, ..cam.clone() };
    Ok(st.control.live_sub(&sub))
}

/// Turns access units into the messages of one viewer.
#[derive(Debug, Default)]
pub struct LiveMuxer {
    params: Option<Arc<CodecParams>>,
    sequence: u32,
    /// Decode time and media time of the last picture sent.
    last: Option<(u64, i64)>,
    step: Option<u32>,
    /// Waiting for a key frame (at the start, after a lag, after new parameters).
    waiting: bool,
}

impl LiveMuxer {
    /// A muxer for a new viewer.
    pub fn new() -> Self {
        LiveMuxer {
            waiting: true,
            ..LiveMuxer::default()
        }
    }

    /// The viewer lost access units: skip to the next key frame.
    pub fn lost(&mut self) {
        self.waiting = true;
    }

    /// The messages for `au`: none while waiting for a key frame, an initialisation message
    /// first when the parameters are new. A picture that cannot be muxed (malformed data,
    /// unsupported parameters) is skipped, and the stream waits for the next key frame.
    pub fn push(&mut self, au: &AccessUnit) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let resumed = self.waiting;
        let new_params = self
            .params
            .as_ref()
            .is_none_or(|p| !Arc::ptr_eq(p, &au.params) && **p != *au.params);
        if new_params || self.waiting {
            if !au.is_key {
                self.waiting = true;
                return out;
            }
            if new_params {
                match roeh_mp4::init_segment(&au.params) {
                    Ok(init) => {
                        let header = serde_json::json!({
                            "kind": "init",
                            "codec": au.params.rfc6381,
                            "width": au.params.width,
                            "height": au.params.height,
                        });
                        out.push(message(&header, &init));
                        self.params = Some(au.params.clone());
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "Live: parameters cannot be sent.");
                        self.params = None;
                        self.waiting = true;
                        return out;
                    }
                }
            }
            self.waiting = false;
        }
        let step = self.step.unwrap_or(FIRST_STEP);
        let decode_time = match self.last {
            None => 0,
            Some((t, pts)) => {
                let d = au.pts.0 - pts;
                if !resumed && d > 0 && d <= MAX_STEP {
                    // Fits: bounded above.
                    let d = d as u32;
                    self.step = Some(d);
                    t + u64::from(d)
                } else {
                    t + u64::from(step)
                }
            }
        };
        self.sequence = self.sequence.wrapping_add(1);
        let fragment = roeh_mp4::Fragment {
            sequence: self.sequence,
            decode_time,
            duration: self.step.unwrap_or(FIRST_STEP),
            is_key: au.is_key,
            data: &au.data,
        };
        match roeh_mp4::media_fragment(&fragment) {
            Ok(bytes) => {
                let header = serde_json::json!({
                    "kind": "frame",
                    "t": decode_time,
                    "wall": au.received_at.as_micros(),
                    "key": au.is_key,
                });
                out.push(message(&header, &bytes));
                self.last = Some((decode_time, au.pts.0));
            }
            Err(e) => {
                tracing::debug!(error = %e, "Live: a picture cannot be sent.");
                self.waiting = true;
            }
        }
        out
    }
}

fn message(header: &serde_json::Value, body: &[u8]) -> Vec<u8> {
    // Serialising a JSON value cannot fail; a header is a few dozen bytes.
    let h = serde_json::to_vec(header).unwrap_or_default();
    let mut m = Vec::with_capacity(4 + h.len() + body.len());
    m.extend_from_slice(&(h.len() as u32).to_be_bytes());
    m.extend_from_slice(&h);
    m.extend_from_slice(body);
    m
}

async fn pump(mut socket: WebSocket, feed: LiveFeed) {
    // `_keep` lives as long as this viewer.
    let LiveFeed {
        gop,
        mut rx,
        keep: _keep,
    } = feed;
    let mut mux = LiveMuxer::new();
    for au in &gop {
        for m in mux.push(au) {
            if socket.send(Message::Binary(m.into())).await.is_err() {
                return;
            }
        }
    }
    drop(gop);
    loop {
        tokio::select! {
            r = rx.recv() => {
                match r {
                    Ok(au) => {
                        for m in mux.push(&au) {
                            if socket.send(Message::Binary(m.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(lost = n, "Live viewer fell behind; resuming at the next key frame.");
                        mux.lost();
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use roeh_domain::{CameraId, Pts90k, VideoCodec, WallTime};

    fn params(w: u32) -> Arc<CodecParams> {
        Arc::new(CodecParams {
            codec: VideoCodec::H264,
            width: w,
            height: 64,
            rfc6381: "avc1.42c00a".into(),
            config_record: vec![1, 0x42, 0xc0, 0x0a, 0xff, 0xe0, 0],
        })
    }

    fn au(p: &Arc<CodecParams>, pts: i64, key: bool) -> AccessUnit {
        AccessUnit {
            camera: CameraId(uuid::Uuid::nil()),
            pts: Pts90k(pts),
            received_at: WallTime(pts),
            is_key: key,
            params: p.clone(),
            data: Bytes::from_static(&[0, 0, 0, 1, 0x65]),
        }
    }

    fn header(m: &[u8]) -> serde_json::Value {
        let n = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize;
        serde_json::from_slice(&m[4..4 + n]).unwrap()
    }

    #[test]
    fn starts_at_a_key_frame_with_an_init_segment() {
        let p = params(64);
        let mut m = LiveMuxer::new();
        assert!(m.push(&au(&p, 0, false)).is_empty());
        let first = m.push(&au(&p, 9000, true));
        assert_eq!(first.len(), 2);
        assert_eq!(header(&first[0])["kind"], "init");
        assert_eq!(header(&first[1])["t"], 0);
        let next = m.push(&au(&p, 12000, false));
        assert_eq!(next.len(), 1);
        assert_eq!(header(&next[0])["t"], 3000);
    }

    #[test]
    fn a_jump_in_media_time_keeps_the_timeline_continuous() {
        let p = params(64);
        let mut m = LiveMuxer::new();
        m.push(&au(&p, 90_000, true));
        m.push(&au(&p, 99_000, false));
        // The camera reconnected: its media time starts again.
        let after = m.push(&au(&p, 0, true));
        assert_eq!(header(&after[0])["t"], 18_000);
    }

    #[test]
    fn new_parameters_send_a_new_init_at_the_next_key_frame() {
        let (a, b) = (params(64), params(128));
        let mut m = LiveMuxer::new();
        m.push(&au(&a, 0, true));
        assert!(m.push(&au(&b, 3000, false)).is_empty());
        let at_key = m.push(&au(&b, 6000, true));
        assert_eq!(header(&at_key[0])["kind"], "init");
        assert_eq!(header(&at_key[0])["width"], 128);
    }

    #[test]
    fn after_a_lag_nothing_is_sent_before_the_next_key_frame() {
        let p = params(64);
        let mut m = LiveMuxer::new();
        m.push(&au(&p, 0, true));
        m.lost();
        assert!(m.push(&au(&p, 3000, false)).is_empty());
        let resumed = m.push(&au(&p, 6000, true));
        assert_eq!(resumed.len(), 1, "same parameters: no new init");
        assert_eq!(header(&resumed[0])["key"], true);
    }
}
