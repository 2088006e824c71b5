//! Which cameras a caller's scope reaches: the cameras it names and every camera of the
//! hotspots it names (a hotspot's cameras are part of it, `roeh_auth::Scope`).
//!
//! Invariants:
//! - an unrestricted scope reaches every camera, without reading anything;
//! - a scoped caller reaches exactly the union above, computed from the stored hotspots at the
//!   time of the request, so a camera added to or removed from a hotspot counts at once;
//! - every route that decides by camera asks [`Reach::allows`], so camera routes, lists, holds,
//!   exports and precision figures agree with the incident and alert routes.

use crate::{ApiError, AppState};
use roeh_auth::Scope;
use roeh_domain::CameraId;
use std::collections::HashSet;

/// The cameras a scope reaches (`None`: all).
#[derive(Clone, Debug)]
pub(crate) struct Reach(Option<HashSet<CameraId>>);

impl Reach {
    /// Whether the scope reaches `camera`.
    pub(crate) fn allows(&self, camera: CameraId) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(&camera))
    }

    /// The reached cameras (`None`: all), for filtering in a query.
    pub(crate) fn cameras(&self) -> Option<Vec<CameraId>> {
        self.0.as_ref().map(|s| {
            let mut v: Vec<CameraId> = s.iter().copied().collect();
            v.sort();
            v
        })
    }
}

/// The cameras `scope` reaches now.
pub(crate) async fn reach(st: &AppState, scope: &Scope) -> Result<Reach, ApiError> {
    if scope.is_unrestricted() {
        return Ok(Reach(None));
    }
    let mut set: HashSet<CameraId> = scope.cameras.iter().flatten().copied().collect();
    // Only the scope's own hotspots are read (a scope names a handful).
    for id in scope.hotspots.iter().flatten() {
        if let Some(h) = st.store.get_hotspot(*id).await? {
            set.extend(crate::detection::hotspot_cameras(&h.document));
        }
    }
    Ok(Reach(Some(set)))
}

/// `Ok` if `scope` reaches `camera`, else the answer for a camera that does not exist (no
/// existence oracle). Reads no hotspot when the scope names the camera itself.
pub(crate) async fn require_camera(
    st: &AppState,
    scope: &Scope,
    camera: CameraId,
) -> Result<(), ApiError> {
    if scope.allows_camera(camera, std::iter::empty()) || reach(st, scope).await?.allows(camera) {
        Ok(())
    } else {
        Err(ApiError::not_found(roeh_auth::NO_SUCH_CAMERA))
    }
}
