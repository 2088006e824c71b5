//! [`CameraOpener`]: the opener the pipeline uses. It picks the side by the camera's address:
//! RTSP(S) cameras go to retina, `file` and `http(s)` sources (declared only in the site's
//! configuration file) go to GStreamer. Either way the recorder sees the same access units.

use crate::source::{BoxFuture, MediaStream, Opener};
use crate::{Error, RetinaOpener};
use roeh_domain::{Camera, Clock, SourceKind};
use std::sync::Arc;

/// Opens any camera roeh knows how to record. One per process.
#[derive(Debug, Default)]
pub struct CameraOpener {
    retina: RetinaOpener,
}

impl CameraOpener {
    /// A new opener.
    pub fn new() -> Self {
        CameraOpener::default()
    }
}

impl Opener for CameraOpener {
    fn open<'a>(
        &'a self,
        camera: &'a Camera,
        clock: Arc<dyn Clock>,
    ) -> BoxFuture<'a, Result<Box<dyn MediaStream>, Error>> {
        match camera.url.kind() {
            SourceKind::Rtsp => self.retina.open(camera, clock),
            SourceKind::File | SourceKind::Http => open_gst(camera, clock),
        }
    }
}

#[cfg(feature = "gstreamer")]
fn open_gst(
    camera: &Camera,
    clock: Arc<dyn Clock>,
) -> BoxFuture<'_, Result<Box<dyn MediaStream>, Error>> {
    // A file plays in a loop, like a camera that never stops; an HTTP source plays as served.
    let looping = camera.url.kind() == SourceKind::File;
    Box::pin(async move {
        let source = crate::GstSource::parse(camera.url.as_str())?.looping(looping);
        crate::GstOpener::new(source)?.open(camera, clock).await
    })
}

#[cfg(not(feature = "gstreamer"))]
fn open_gst(
    camera: &Camera,
    _clock: Arc<dyn Clock>,
) -> BoxFuture<'_, Result<Box<dyn MediaStream>, Error>> {
    let kind = camera.url.kind();
    Box::pin(async move {
        Err(Error::new(
            roeh_domain::ErrorKind::FailedPrecondition,
            format!("{kind:?} sources need roeh built with the `gstreamer` feature"),
        ))
    })
}
