//! Live sessions opened on demand: a camera's second (sub) stream, watched in the operators'
//! grid, is not recorded; it is opened when its first viewer comes and closed a while after
//! its last viewer leaves.
//!
//! Invariants:
//! - one session per camera at most; viewers of the same camera share it through a [`LiveHub`]
//!   of its own, so a slow viewer never slows the session (the hub's ring, as for recorded live);
//! - a session is driven by [`run_camera`] with no tap: what it receives goes to its viewers
//!   only, never to the recorder or the analytics;
//! - every [`SubViewer`] counts once; when the count falls to zero the session is cancelled
//!   after [`OnDemand::linger`] unless a viewer came back (a page reload does not reconnect the
//!   camera); a session whose stream address changed is replaced;
//! - [`OnDemand::stop`] ends a camera's session at once (the camera was removed).

use crate::{HealthHandle, IngestOptions, LiveHub, LiveStart, Opener, run_camera};
use roeh_domain::{Camera, CameraId, CameraUrl, Clock, IngestEvent};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Capacity of a session's event channel (policy: the session's own reader never stalls, it
/// only fans out to the hub).
const SESSION_QUEUE: usize = 64;

/// The on-demand live sessions of a node.
#[derive(Debug, Clone)]
pub struct OnDemand {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    opener: Arc<dyn Opener>,
    clock: Arc<dyn Clock>,
    opts: IngestOptions,
    linger: Duration,
    hub: LiveHub,
    sessions: Mutex<HashMap<CameraId, Session>>,
}

#[derive(Debug)]
struct Session {
    url: CameraUrl,
    viewers: usize,
    /// Bumped on every change of `viewers`, so a pending close knows whether it still applies.
    generation: u64,
    cancel: CancellationToken,
}

/// One viewer of an on-demand session; leaving (drop) lets the session close.
#[derive(Debug)]
pub struct SubViewer {
    inner: Arc<Inner>,
    camera: CameraId,
}

impl Drop for SubViewer {
    fn drop(&mut self) {
        self.inner.release(self.camera);
    }
}

impl OnDemand {
    /// Sessions opened through `opener` with `opts` (whose tap is ignored), closed `linger`
    /// after their last viewer.
    pub fn new(
        opener: Arc<dyn Opener>,
        clock: Arc<dyn Clock>,
        opts: IngestOptions,
        linger: Duration,
    ) -> OnDemand {
        OnDemand {
            inner: Arc::new(Inner {
                opener,
                clock,
                opts: IngestOptions { tap: None, ..opts },
                linger,
                hub: LiveHub::new(),
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How long a session stays open after its last viewer.
    pub fn linger(&self) -> Duration {
        self.inner.linger
    }

    /// Starts watching `camera` (its `url` the stream to open): joins its session or opens one.
    /// Needs a Tokio runtime.
    pub fn watch(&self, camera: Camera) -> (LiveStart, SubViewer) {
        let inner = &self.inner;
        let mut sessions = inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = camera.id;
        let reuse = sessions.get(&id).is_some_and(|s| s.url == camera.url);
        if !reuse {
            if let Some(old) = sessions.remove(&id) {
                old.cancel.cancel();
                inner.hub.remove(id);
            }
            let cancel = CancellationToken::new();
            sessions.insert(
                id,
                Session {
                    url: camera.url.clone(),
                    viewers: 0,
                    generation: 0,
                    cancel: cancel.clone(),
                },
            );
            tokio::spawn(run_session(self.inner.clone(), camera, cancel));
        }
        // Subscribed under the sessions lock: the session's frames reach this viewer.
        let start = inner.hub.subscribe(id);
        if let Some(s) = sessions.get_mut(&id) {
            s.viewers += 1;
            s.generation = s.generation.wrapping_add(1);
        }
        (
            start,
            SubViewer {
                inner: self.inner.clone(),
                camera: id,
            },
        )
    }

    /// Cameras with an open session now.
    pub fn open_sessions(&self) -> usize {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Ends `camera`'s session now, if it has one; its viewers see the end of the stream.
    pub fn stop(&self, camera: CameraId) {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = sessions.remove(&camera) {
            s.cancel.cancel();
        }
        self.inner.hub.remove(camera);
    }
}

impl Inner {
    fn release(self: &Arc<Self>, camera: CameraId) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(s) = sessions.get_mut(&camera) else {
            return;
        };
        s.viewers = s.viewers.saturating_sub(1);
        s.generation = s.generation.wrapping_add(1);
        if s.viewers > 0 {
            return;
        }
        let generation = s.generation;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let inner = self.clone();
                rt.spawn(async move {
                    tokio::time::sleep(inner.linger).await;
                    inner.close_if_unwatched(camera, generation);
                });
            }
            Err(_) => {
                drop(sessions);
                self.close_if_unwatched(camera, generation);
            }
        }
    }

    fn close_if_unwatched(&self, camera: CameraId, generation: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if sessions
            .get(&camera)
            .is_some_and(|s| s.viewers == 0 && s.generation == generation)
        {
            if let Some(s) = sessions.remove(&camera) {
                s.cancel.cancel();
            }
            self.hub.remove(camera);
            tracing::debug!(camera = %camera, "On-demand live session closed: no viewers.");
        }
    }
}

/// Drives one session until cancelled, handing every picture to the session's viewers.
async fn run_session(inner: Arc<Inner>, camera: Camera, cancel: CancellationToken) {
    use crate::FrameTap as _;
    let id = camera.id;
    tracing::debug!(camera = %id, "On-demand live session opened.");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<IngestEvent>(SESSION_QUEUE);
    let ingest = tokio::spawn(run_camera(
        camera,
        inner.opener.clone(),
        inner.clock.clone(),
        tx,
        HealthHandle::new(),
        cancel.clone(),
        inner.opts.clone(),
    ));
    while let Some(ev) = rx.recv().await {
        if let IngestEvent::Frame(au) = ev {
            inner.hub.offer(&au);
        }
    }
    if let Err(e) = ingest.await {
        tracing::error!(camera = %id, error = %e, "On-demand live session panicked.");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::source::{BoxFuture, MediaStream};
    use bytes::Bytes;
    use roeh_domain::{
        AccessUnit, CodecParams, Pts90k, Retention, SimClock, Transport, VideoCodec, WallTime,
    };
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Opens endless streams of key frames, counting the opens and the streams alive.
    #[derive(Debug, Default)]
    struct Endless {
        opened: AtomicUsize,
        alive: Arc<AtomicUsize>,
    }

    struct Stream {
        camera: CameraId,
        params: Arc<CodecParams>,
        n: i64,
        alive: Arc<AtomicUsize>,
    }

    impl Drop for Stream {
        fn drop(&mut self) {
            self.alive.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl MediaStream for Stream {
        fn next(&mut self) -> BoxFuture<'_, Result<Option<AccessUnit>, crate::Error>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.n += 1;
                Ok(Some(AccessUnit {
                    camera: self.camera,
                    pts: Pts90k(self.n * 3600),
                    received_at: WallTime::from_secs(1_700_000_000),
                    is_key: true,
                    params: self.params.clone(),
                    data: Bytes::from_static(&[0, 0, 0, 2, 0x65, 0x88]),
                }))
            })
        }
    }

    impl Opener for Endless {
        fn open<'a>(
            &'a self,
            camera: &'a Camera,
            _clock: Arc<dyn Clock>,
        ) -> BoxFuture<'a, Result<Box<dyn MediaStream>, crate::Error>> {
            Box::pin(async move {
                self.opened.fetch_add(1, Ordering::SeqCst);
                self.alive.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(Stream {
                    camera: camera.id,
                    params: Arc::new(CodecParams {
                        codec: VideoCodec::H264,
                        width: 640,
                        height: 360,
                        rfc6381: "avc1.4D401E".into(),
                        config_record: vec![1, 0x4d, 0x40, 0x1e, 0xff, 0xe1],
                    }),
                    n: 0,
                    alive: self.alive.clone(),
                }) as Box<dyn MediaStream>)
            })
        }
    }

    fn camera(url: &str) -> Camera {
        Camera {
            id: CameraId(uuid::Uuid::from_u128(7)),
            name: "sub".into(),
            url: CameraUrl::parse(url).unwrap(),
            credentials: None,
            transport: Transport::Tcp,
            enabled: true,
            retention: Retention::default(),
        }
    }

    #[tokio::test]
    async fn viewers_share_one_session_which_closes_after_the_last_leaves() {
        let opener = Arc::new(Endless::default());
        let d = OnDemand::new(
            opener.clone(),
            Arc::new(SimClock::new(WallTime::from_secs(1_700_000_000))),
            IngestOptions::default(),
            Duration::from_millis(200),
        );
        let (mut a, va) = d.watch(camera("rtsp://127.0.0.1:8554/sub"));
        let (mut b, vb) = d.watch(camera("rtsp://127.0.0.1:8554/sub"));
        let first_a = tokio::time::timeout(Duration::from_secs(10), a.rx.recv())
            .await
            .unwrap()
            .unwrap();
        let first_b = tokio::time::timeout(Duration::from_secs(10), b.rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first_a.params.width, 640);
        assert!(first_b.is_key);
        assert_eq!(opener.opened.load(Ordering::SeqCst), 1, "one session");
        assert_eq!(d.open_sessions(), 1);

        // One leaves: the session stays for the other.
        drop(va);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(d.open_sessions(), 1);
        // The last leaves and a new one comes within the linger: still the same session.
        drop(vb);
        let (_c, vc) = d.watch(camera("rtsp://127.0.0.1:8554/sub"));
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(opener.opened.load(Ordering::SeqCst), 1);
        // Gone for longer than the linger: closed, and the stream with it.
        drop(vc);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(d.open_sessions(), 0);
        for _ in 0..100 {
            if opener.alive.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            opener.alive.load(Ordering::SeqCst),
            0,
            "the stream was closed"
        );
        // A new viewer opens a new session; stop() ends it at once.
        let (mut e, _ve) = d.watch(camera("rtsp://127.0.0.1:8554/sub"));
        tokio::time::timeout(Duration::from_secs(10), e.rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(opener.opened.load(Ordering::SeqCst), 2);
        d.stop(CameraId(uuid::Uuid::from_u128(7)));
        assert_eq!(d.open_sessions(), 0);
    }
}
