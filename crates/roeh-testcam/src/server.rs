//! The RTSP server: N mounts `/cam0 … /cam{N-1}` over one in-memory clip.
//!
//! Invariants:
//! - each server owns its own `glib::MainContext` and the one thread that runs it; no global
//!   default context is used, so many servers can live in one process;
//! - [`TestCamServer::start`] returns only once the socket is bound and listening;
//! - [`TestCamServer::stop`] (or drop) closes the listening socket, every client connection and
//!   every session, and joins the thread before returning, so the same port can be bound again
//!   at once;
//! - every client session gets its own pipeline that starts at a key frame of the clip and is
//!   paced in real time by the pipeline clock (`clocksync`); pictures are never re-encoded;
//! - URLs handed out never carry credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use roeh_domain::{ErrorKind, VideoCodec};

use crate::Error;
use crate::clip::Clip;
use crate::feed::Feed;

/// Most cameras one server serves; a bound on what a typo on the command line can ask for.
pub const MAX_CAMERAS: usize = 4096;

/// Role name given to authenticated clients.
const ROLE: &str = "roeh-viewer";

/// How often expired RTSP sessions (clients that vanished without TEARDOWN) are reaped.
const SESSION_CLEANUP_SECS: u32 = 2;

/// What to serve and where.
#[derive(Clone)]
pub struct TestCamConfig {
    /// MP4 file with an H.264 or H.265 video track.
    pub footage: PathBuf,
    /// Number of cameras (mounts `/cam0 … /cam{cameras-1}`).
    pub cameras: usize,
    /// Address to listen on; loopback by default.
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// If set, clients must authenticate with this user name and password (RTSP digest).
    pub credentials: Option<(String, String)>,
}

impl TestCamConfig {
    /// `cameras` cameras from `footage` on 127.0.0.1, a free port, no credentials.
    pub fn new(footage: impl Into<PathBuf>, cameras: usize) -> TestCamConfig {
        TestCamConfig {
            footage: footage.into(),
            cameras,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            credentials: None,
        }
    }
}

impl std::fmt::Debug for TestCamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCamConfig")
            .field("footage", &self.footage)
            .field("cameras", &self.cameras)
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .finish()
    }
}

/// A running RTSP server with N looping test cameras. Stops on [`TestCamServer::stop`] or drop.
pub struct TestCamServer {
    port: u16,
    host: IpAddr,
    clip: Arc<Clip>,
    counters: Arc<[AtomicU64]>,
    server: rtsp::RTSPServer,
    ctx: glib::MainContext,
    main_loop: glib::MainLoop,
    listener: Option<glib::SourceId>,
    cleanup: Option<glib::SourceId>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestCamServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCamServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("cameras", &self.counters.len())
            .field("codec", &self.clip.codec())
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl TestCamServer {
    /// Reads the footage, binds the port and starts serving. Returns once the server listens.
    pub fn start(cfg: TestCamConfig) -> Result<TestCamServer, Error> {
        if cfg.cameras == 0 || cfg.cameras > MAX_CAMERAS {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "cameras must be between 1 and {MAX_CAMERAS}, not {}",
                    cfg.cameras
                ),
            ));
        }
        if let Some((user, _)) = &cfg.credentials
            && (user.is_empty() || user.contains(':'))
        {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the user name must be non-empty and must not contain ':'",
            ));
        }
        let clip = Arc::new(Clip::load(&cfg.footage)?);
        let elements = crate::serving_elements(clip.codec())?;

        let server = rtsp::RTSPServer::new();
        server.set_address(&cfg.bind.to_string());
        server.set_service(&cfg.port.to_string());

        let counters: Arc<[AtomicU64]> = (0..cfg.cameras).map(|_| AtomicU64::new(0)).collect();
        let mounts = server
            .mount_points()
            .ok_or_else(|| Error::new(ErrorKind::Internal, "RTSP server has no mount points"))?;
        for camera in 0..cfg.cameras {
            let factory = camera_factory(
                &clip,
                elements,
                &counters,
                camera,
                cfg.credentials.is_some(),
            );
            mounts.add_factory(&format!("/cam{camera}"), factory);
        }
        if let Some((user, pass)) = &cfg.credentials {
            server.set_auth(Some(&make_auth(user, pass)));
        }

        let ctx = glib::MainContext::new();
        let listener = server.attach(Some(&ctx)).map_err(|e| {
            Error::with_source(
                ErrorKind::Unavailable,
                format!("cannot listen on {}", SocketAddr::new(cfg.bind, cfg.port)),
                e,
            )
        })?;
        let port = match u16::try_from(server.bound_port()) {
            Ok(p) if p != 0 => p,
            _ => {
                if let Some(source) = ctx.find_source_by_id(&listener) {
                    source.destroy();
                }
                return Err(Error::new(
                    ErrorKind::Internal,
                    "RTSP server reports no bound port",
                ));
            }
        };

        let cleanup = server.session_pool().map(|pool| {
            let pool = pool.downgrade();
            glib::timeout_source_new_seconds(
                SESSION_CLEANUP_SECS,
                Some("roeh-testcam-session-cleanup"),
                glib::Priority::DEFAULT,
                move || match pool.upgrade() {
                    Some(pool) => {
                        pool.cleanup();
                        glib::ControlFlow::Continue
                    }
                    None => glib::ControlFlow::Break,
                },
            )
            .attach(Some(&ctx))
        });

        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let thread = {
            let ctx = ctx.clone();
            let main_loop = main_loop.clone();
            std::thread::Builder::new()
                .name(format!("roeh-testcam-{port}"))
                .spawn(move || {
                    if let Err(e) = ctx.with_thread_default(|| main_loop.run()) {
                        tracing::error!(error = %e, "Test camera main context is owned elsewhere.");
                    }
                })
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::ResourceExhausted,
                        "cannot spawn the server thread",
                        e,
                    )
                })?
        };

        let host = match cfg.bind {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            a => a,
        };
        tracing::info!(
            %host,
            port,
            cameras = cfg.cameras,
            codec = clip.codec().as_str(),
            frames = clip.frames(),
            clip_secs = clip.duration().as_secs_f64(),
            auth = cfg.credentials.is_some(),
            "Test camera server listening."
        );
        Ok(TestCamServer {
            port,
            host,
            clip,
            counters,
            server,
            ctx,
            main_loop,
            listener: Some(listener),
            cleanup,
            thread: Some(thread),
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Number of cameras served.
    pub fn cameras(&self) -> usize {
        self.counters.len()
    }

    /// `rtsp://HOST:PORT/camN`, never with credentials.
    pub fn url(&self, camera: usize) -> String {
        format!(
            "rtsp://{}/cam{camera}",
            SocketAddr::new(self.host, self.port)
        )
    }

    /// The URLs of all cameras, in order.
    pub fn urls(&self) -> Vec<String> {
        (0..self.cameras()).map(|c| self.url(c)).collect()
    }

    /// Pictures camera `camera` has released into its streams so far, summed over all of its
    /// client sessions (one session per client). 0 for a camera that does not exist.
    pub fn frames_sent(&self, camera: usize) -> u64 {
        self.counters
            .get(camera)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The codec of the footage served.
    pub fn codec(&self) -> VideoCodec {
        self.clip.codec()
    }

    /// Coded size of the footage served, in pixels.
    pub fn resolution(&self) -> (u32, u32) {
        (self.clip.width(), self.clip.height())
    }

    /// Length of one pass of the footage; the stream loops after it.
    pub fn clip_duration(&self) -> std::time::Duration {
        self.clip.duration()
    }

    /// Stops serving: closes the port, all connections and sessions, and joins the server thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        let server = self.server.clone();
        let main_loop = self.main_loop.clone();
        let ctx = self.ctx.clone();
        let listener = self.listener.take();
        let cleanup = self.cleanup.take();
        // Everything runs on the server's own thread, inside its loop, then the loop quits. An
        // idle source (not `invoke`) guarantees it runs inside `run()`, even if the thread has
        // not entered the loop yet.
        glib::idle_source_new(
            Some("roeh-testcam-shutdown"),
            glib::Priority::HIGH,
            move || {
                for id in [listener.as_ref(), cleanup.as_ref()].into_iter().flatten() {
                    if let Some(source) = ctx.find_source_by_id(id) {
                        source.destroy();
                    }
                }
                if let Some(pool) = server.session_pool() {
                    pool.filter(Some(&mut |_, _| rtsp::RTSPFilterResult::Remove));
                }
                server.client_filter(Some(&mut |_, client| {
                    client.close();
                    rtsp::RTSPFilterResult::Remove
                }));
                // Let the closed clients' watches detach inside the loop before it stops;
                // quitting at once leaves them polling a closed stream.
                let main_loop = main_loop.clone();
                glib::timeout_source_new(
                    std::time::Duration::from_millis(50),
                    Some("roeh-testcam-quit"),
                    glib::Priority::DEFAULT,
                    move || {
                        main_loop.quit();
                        glib::ControlFlow::Break
                    },
                )
                .attach(Some(&ctx));
                glib::ControlFlow::Break
            },
        )
        .attach(Some(&self.ctx));
        if thread.join().is_err() {
            tracing::error!(port = self.port, "Test camera server thread panicked.");
        }
        tracing::info!(port = self.port, "Test camera server stopped.");
    }
}

impl Drop for TestCamServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The factory of one mount: a fresh pipeline per client session, fed from the shared clip.
fn camera_factory(
    clip: &Arc<Clip>,
    (parse, pay): (&str, &str),
    counters: &Arc<[AtomicU64]>,
    camera: usize,
    with_auth: bool,
) -> rtsp::RTSPMediaFactory {
    let factory = rtsp::RTSPMediaFactory::new();
    factory.set_launch(&format!(
        "( appsrc name=src is-live=true format=time do-timestamp=false \
         ! clocksync name=pace ! {parse} ! {pay} name=pay0 pt=96 config-interval=1 )"
    ));
    // One pipeline per session: every client starts at a key frame.
    factory.set_shared(false);
    if with_auth {
        let role = gst::Structure::builder(ROLE)
            .field(rtsp::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
            .field(rtsp::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
            .build();
        factory.add_role_from_structure(&role);
    }
    let clip = Arc::clone(clip);
    let counters = Arc::clone(counters);
    factory.connect_media_configure(move |_, media| {
        if let Err(e) = configure_media(media, &clip, &counters, camera) {
            tracing::error!(camera, error = %e.chain(), "Cannot configure test camera media.");
        }
    });
    factory
}

/// Wires a new session's `appsrc` to a [`Feed`] and counts pictures leaving the pacer.
fn configure_media(
    media: &rtsp::RTSPMedia,
    clip: &Arc<Clip>,
    counters: &Arc<[AtomicU64]>,
    camera: usize,
) -> Result<(), Error> {
    let bin = media
        .element()
        .downcast::<gst::Bin>()
        .map_err(|_| Error::new(ErrorKind::Internal, "media element is not a bin"))?;
    let appsrc = bin
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| Error::new(ErrorKind::Internal, "media has no appsrc named src"))?;
    let pace_src = bin
        .by_name("pace")
        .and_then(|e| e.static_pad("src"))
        .ok_or_else(|| Error::new(ErrorKind::Internal, "media has no clocksync named pace"))?;

    appsrc.set_caps(Some(clip.caps()));
    let mut feed = Feed::new(Arc::clone(clip));
    appsrc.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |src, _| {
                // Called on the source's thread whenever its queue is empty: one picture at a
                // time, released downstream by `clocksync` at its presentation time. A refused
                // push means the session is shutting down; the thread stops on its own.
                match feed.next_buffer() {
                    Some(buffer) => {
                        let _ = src.push_buffer(buffer);
                    }
                    None => {
                        let _ = src.end_of_stream();
                    }
                }
            })
            .build(),
    );

    let counters = Arc::clone(counters);
    pace_src.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        if let Some(c) = counters.get(camera) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        gst::PadProbeReturn::Ok
    });
    Ok(())
}

/// RTSP digest authentication accepting exactly one user. Digest keeps the password off the
/// wire, as real cameras do; anonymous requests and wrong passwords get 401.
fn make_auth(user: &str, pass: &str) -> rtsp::RTSPAuth {
    let auth = rtsp::RTSPAuth::new();
    let token = rtsp::RTSPToken::builder()
        .field(rtsp::RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
        .build();
    auth.add_digest(user, pass, &token);
    auth.set_supported_methods(rtsp::gst_rtsp::RTSPAuthMethod::Digest);
    auth
}
