//! Live viewing: a [`FrameTap`] that fans each camera's recorded access units out to viewers.
//!
//! Invariants:
//! - [`LiveHub::offer`] never blocks and never waits for a viewer: each camera has a bounded
//!   broadcast ring of [`LIVE_RING`] access units; a viewer that falls further behind loses the
//!   oldest ones and learns how many (`RecvError::Lagged`), and must skip to the next key frame.
//!   The recorder is never slowed by a viewer;
//! - each camera keeps the access units since its last key frame (its current group of pictures,
//!   at most [`MAX_GOP_FRAMES`] pictures and [`MAX_GOP_BYTES`] bytes, otherwise none until the
//!   next key frame), so a new viewer starts at once from a key frame instead of waiting for the
//!   next one;
//! - [`LiveHub::subscribe`] takes that group and the receiver under the camera's lock, the same
//!   lock `offer` holds while it updates the group and sends: a viewer sees every access unit
//!   after its start exactly once, in order (unless it lags);
//! - the tap sees only what the recorder's queue accepted ([`crate::FrameTap`]), so live shows
//!   what is being recorded.

use crate::FrameTap;
use roeh_domain::{AccessUnit, CameraId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::broadcast;

/// Access units a viewer may fall behind before it loses the oldest (about 6 s at 10 fps).
pub const LIVE_RING: usize = 64;
/// Most pictures of one group kept for new viewers.
pub const MAX_GOP_FRAMES: usize = 300;
/// Most bytes of one group kept for new viewers.
pub const MAX_GOP_BYTES: usize = 8 * 1024 * 1024;

/// Fans the access units of every camera out to live viewers.
#[derive(Debug, Default)]
pub struct LiveHub {
    feeds: Mutex<HashMap<CameraId, Arc<Mutex<Feed>>>>,
}

#[derive(Debug)]
struct Feed {
    tx: broadcast::Sender<AccessUnit>,
    /// The current group of pictures, from its key frame; empty while none is kept.
    gop: Vec<AccessUnit>,
    gop_bytes: usize,
}

/// A viewer's start: the current group of pictures (empty, or starting at a key frame) and the
/// receiver of everything after it.
#[derive(Debug)]
pub struct LiveStart {
    /// The pictures since the last key frame, oldest first.
    pub gop: Vec<AccessUnit>,
    /// Every later access unit of the camera.
    pub rx: broadcast::Receiver<AccessUnit>,
}

impl LiveHub {
    /// An empty hub.
    pub fn new() -> Self {
        LiveHub::default()
    }

    fn feed(&self, camera: CameraId) -> Arc<Mutex<Feed>> {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds
            .entry(camera)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Feed {
                    tx: broadcast::channel(LIVE_RING).0,
                    gop: Vec::new(),
                    gop_bytes: 0,
                }))
            })
            .clone()
    }

    /// Starts watching `camera` (whether or not it is sending now).
    pub fn subscribe(&self, camera: CameraId) -> LiveStart {
        let feed = self.feed(camera);
        let f = feed.lock().unwrap_or_else(PoisonError::into_inner);
        LiveStart {
            gop: f.gop.clone(),
            rx: f.tx.subscribe(),
        }
    }

    /// Viewers of `camera` now.
    pub fn viewers(&self, camera: CameraId) -> usize {
        let feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.get(&camera).map_or(0, |f| {
            f.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .tx
                .receiver_count()
        })
    }

    /// Forgets `camera` (it was removed): its viewers see the end of the stream.
    pub fn remove(&self, camera: CameraId) {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.remove(&camera);
    }
}

impl FrameTap for LiveHub {
    fn offer(&self, au: &AccessUnit) {
        let feed = self.feed(au.camera);
        let mut f = feed.lock().unwrap_or_else(PoisonError::into_inner);
        if au.is_key {
            f.gop.clear();
            f.gop_bytes = 0;
        }
        let keep = (au.is_key || !f.gop.is_empty())
            && f.gop.len() < MAX_GOP_FRAMES
            && f.gop_bytes + au.data.len() <= MAX_GOP_BYTES;
        if keep {
            f.gop_bytes += au.data.len();
            f.gop.push(au.clone());
        } else {
            // Too long a group to keep: new viewers wait for the next key frame.
            f.gop.clear();
            f.gop_bytes = 0;
        }
        if f.tx.receiver_count() > 0 {
            // Only fails without receivers.
            let _ = f.tx.send(au.clone());
        }
    }
}

/// Several taps as one: each sees every access unit, in the order given.
#[derive(Debug, Default)]
pub struct Taps(pub Vec<Arc<dyn FrameTap>>);

impl FrameTap for Taps {
    fn offer(&self, au: &AccessUnit) {
        for t in &self.0 {
            t.offer(au);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use roeh_domain::{CodecParams, Pts90k, VideoCodec, WallTime};
    use uuid::Uuid;

    fn camera(n: u128) -> CameraId {
        CameraId(Uuid::from_u128(n))
    }

    fn au(cam: CameraId, n: i64, key: bool) -> AccessUnit {
        AccessUnit {
            camera: cam,
            pts: Pts90k(n * 9000),
            received_at: WallTime(n),
            is_key: key,
            params: Arc::new(CodecParams {
                codec: VideoCodec::H264,
                width: 64,
                height: 64,
                rfc6381: "avc1.42c00a".into(),
                config_record: vec![],
            }),
            data: Bytes::from_static(&[0, 0, 0, 1, 0x65]),
        }
    }

    fn pts(v: &[AccessUnit]) -> Vec<i64> {
        v.iter().map(|a| a.pts.0 / 9000).collect()
    }

    #[tokio::test]
    async fn a_new_viewer_starts_at_the_last_key_frame_and_misses_nothing_after() {
        let hub = LiveHub::new();
        let cam = camera(1);
        for n in 0..5 {
            hub.offer(&au(cam, n, n % 3 == 0));
        }
        let mut start = hub.subscribe(cam);
        assert_eq!(pts(&start.gop), vec![3, 4]);
        assert!(start.gop[0].is_key);
        hub.offer(&au(cam, 5, false));
        hub.offer(&au(camera(2), 6, true));
        hub.offer(&au(cam, 7, true));
        assert_eq!(start.rx.recv().await.unwrap().pts.0, 5 * 9000);
        assert_eq!(start.rx.recv().await.unwrap().pts.0, 7 * 9000);
        assert_eq!(hub.viewers(cam), 1);
        assert_eq!(hub.viewers(camera(2)), 0);
    }

    #[tokio::test]
    async fn a_lagging_viewer_learns_how_much_it_lost_and_never_blocks_the_tap() {
        let hub = LiveHub::new();
        let cam = camera(1);
        let mut start = hub.subscribe(cam);
        for n in 0..(LIVE_RING as i64 + 10) {
            hub.offer(&au(cam, n, n % 20 == 0));
        }
        match start.rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 10),
            other => panic!("expected a lag, got {other:?}"),
        }
    }

    #[test]
    fn no_group_is_kept_before_the_first_key_frame() {
        let hub = LiveHub::new();
        let cam = camera(1);
        hub.offer(&au(cam, 0, false));
        hub.offer(&au(cam, 1, false));
        assert!(hub.subscribe(cam).gop.is_empty());
    }
}
