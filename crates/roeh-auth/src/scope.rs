//! Which cameras a user may reach, and the authenticated principal that routes check.
//!
//! Invariants:
//! - a [`Scope`] with both sets `None` is unrestricted; as soon as either set is `Some`, the
//!   scope grants exactly the listed cameras plus the cameras of the listed hotspots, and a `None`
//!   set then grants nothing (so `{cameras: None, hotspots: Some({h})}` means "hotspot h only");
//! - an empty restricted scope grants no camera at all;
//! - [`Principal::check_camera`] answers an out-of-scope camera with the same `NotFound` error a
//!   missing camera gets, so a scoped user learns nothing about cameras outside the scope
//!   (TRUST.md S9, no existence oracle).

use crate::role::{Permission, Role, role_allows};
use crate::{Error, Result};
use roeh_domain::{CameraId, ErrorKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The cameras and hotspots a user is limited to. Stored as JSON. `{}` is unrestricted;
/// otherwise the listed cameras and every camera of the listed hotspots.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Cameras granted by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<BTreeSet<Uuid>>"))]
    pub cameras: Option<BTreeSet<CameraId>>,
    /// Hotspots granted by id: every camera that sees one of them is granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotspots: Option<BTreeSet<Uuid>>,
}

impl Scope {
    /// No restriction.
    pub fn unrestricted() -> Scope {
        Scope::default()
    }

    /// Only these cameras.
    pub fn cameras(ids: impl IntoIterator<Item = CameraId>) -> Scope {
        Scope {
            cameras: Some(ids.into_iter().collect()),
            hotspots: None,
        }
    }

    /// Only the cameras of these hotspots.
    pub fn hotspots(ids: impl IntoIterator<Item = Uuid>) -> Scope {
        Scope {
            cameras: None,
            hotspots: Some(ids.into_iter().collect()),
        }
    }

    /// Whether this scope limits anything.
    pub fn is_unrestricted(&self) -> bool {
        self.cameras.is_none() && self.hotspots.is_none()
    }

    /// Whether `camera`, which sees the hotspots `camera_hotspots`, is within the scope.
    pub fn allows_camera(
        &self,
        camera: CameraId,
        camera_hotspots: impl IntoIterator<Item = Uuid>,
    ) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        if self.cameras.as_ref().is_some_and(|c| c.contains(&camera)) {
            return true;
        }
        match &self.hotspots {
            Some(h) => camera_hotspots.into_iter().any(|id| h.contains(&id)),
            None => false,
        }
    }

    /// Whether the hotspot itself (its rules, its incidents) is within the scope. A scope that
    /// lists only cameras reaches no hotspot as a whole.
    pub fn allows_hotspot(&self, hotspot: Uuid) -> bool {
        self.is_unrestricted() || self.hotspots.as_ref().is_some_and(|h| h.contains(&hotspot))
    }

    /// The scope as stored (compact JSON; `{}` when unrestricted).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::with_source(ErrorKind::Internal, "serialising scope", e))
    }

    /// Parses [`Scope::to_json`]: a JSON object with at most the keys `cameras` and `hotspots`,
    /// each an array of UUID strings. Anything else (another shape, `null` values, unknown or
    /// repeated keys, malformed ids) is refused rather than read as "unrestricted".
    pub fn from_json(s: &str) -> Result<Scope> {
        let bad = |e: serde_json::Error| {
            Error::with_source(ErrorKind::InvalidArgument, "bad scope JSON", e)
        };
        let v: serde_json::Value = serde_json::from_str(s).map_err(bad)?;
        let Some(obj) = v.as_object() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "scope must be a JSON object",
            ));
        };
        if obj.values().any(|v| !v.is_array()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "scope values must be arrays of ids",
            ));
        }
        // Repeated keys collapse in `Value`; the typed parse of the text refuses them.
        serde_json::from_str(s).map_err(bad)
    }
}

/// An authenticated caller: who, in which role, limited to which cameras.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's id in the store.
    pub user_id: i64,
    /// The user's name (audit `actor`).
    pub username: String,
    /// The user's role.
    pub role: Role,
    /// The user's scope.
    pub scope: Scope,
}

impl Principal {
    /// Whether the role holds `perm`.
    pub fn may(&self, perm: Permission) -> bool {
        role_allows(self.role, perm)
    }

    /// `Ok` if the role holds `perm`, else `PermissionDenied` naming the permission.
    pub fn check(&self, perm: Permission) -> Result<()> {
        if self.may(perm) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("the {} role lacks {}", self.role, perm),
            ))
        }
    }

    /// `Ok` if the role holds `perm` and `camera` (seeing `camera_hotspots`) is in scope.
    /// A missing permission is `PermissionDenied`; an out-of-scope camera is `NotFound` with the
    /// same message a missing camera gets, so callers answer both alike.
    pub fn check_camera(
        &self,
        perm: Permission,
        camera: CameraId,
        camera_hotspots: impl IntoIterator<Item = Uuid>,
    ) -> Result<()> {
        self.check(perm)?;
        if self.scope.allows_camera(camera, camera_hotspots) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::NotFound, NO_SUCH_CAMERA))
        }
    }
}

/// The message for a camera that does not exist or is out of scope; routes use it for both.
pub const NO_SUCH_CAMERA: &str = "no such camera";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cam(n: u8) -> CameraId {
        CameraId(Uuid::from_bytes([n; 16]))
    }
    fn hs(n: u8) -> Uuid {
        Uuid::from_bytes([0x80 | n; 16])
    }

    #[test]
    fn unrestricted_allows_everything() {
        let s = Scope::unrestricted();
        assert!(s.is_unrestricted());
        assert!(s.allows_camera(cam(1), []));
        assert!(s.allows_hotspot(hs(1)));
    }

    #[test]
    fn camera_scope_allows_listed_cameras_only() {
        let s = Scope::cameras([cam(1)]);
        assert!(s.allows_camera(cam(1), []));
        assert!(!s.allows_camera(cam(2), [hs(1)]));
        assert!(!s.allows_hotspot(hs(1)));
    }

    #[test]
    fn hotspot_scope_allows_cameras_seeing_the_hotspot() {
        let s = Scope::hotspots([hs(1)]);
        assert!(s.allows_camera(cam(5), [hs(2), hs(1)]));
        assert!(!s.allows_camera(cam(5), [hs(2)]));
        assert!(!s.allows_camera(cam(5), []));
        assert!(s.allows_hotspot(hs(1)));
        assert!(!s.allows_hotspot(hs(2)));
    }

    #[test]
    fn both_sets_are_a_union_and_empty_grants_nothing() {
        let s = Scope {
            cameras: Some([cam(1)].into()),
            hotspots: Some([hs(1)].into()),
        };
        assert!(s.allows_camera(cam(1), []));
        assert!(s.allows_camera(cam(2), [hs(1)]));
        assert!(!s.allows_camera(cam(3), [hs(3)]));
        let empty = Scope::cameras([]);
        assert!(!empty.is_unrestricted());
        assert!(!empty.allows_camera(cam(1), [hs(1)]));
    }

    #[test]
    fn json_round_trips_and_refuses_junk() {
        for s in [
            Scope::unrestricted(),
            Scope::cameras([cam(1), cam(2)]),
            Scope::hotspots([hs(1)]),
            Scope::cameras([]),
            Scope {
                cameras: Some([cam(3)].into()),
                hotspots: Some([hs(4)].into()),
            },
        ] {
            let j = s.to_json().unwrap();
            assert_eq!(Scope::from_json(&j).unwrap(), s, "{j}");
        }
        assert_eq!(Scope::unrestricted().to_json().unwrap(), "{}");
        let spaced = format!(" {{ \"cameras\" : [ \"{}\" ] }} ", cam(1));
        assert_eq!(Scope::from_json(&spaced).unwrap(), Scope::cameras([cam(1)]));
        for bad in [
            "",
            "null",
            "[]",
            "{",
            "{\"cameras\":[\"not-a-uuid\"]}",
            "{\"cameras\":[1]}",
            "{\"admin\":[]}",
            "{\"cameras\":[],\"cameras\":[]}",
            "{\"cameras\":[]} x",
            "{\"cameras\":null,\"x\":1}",
            "{\"cameras\":null}",
            "{\"hotspots\":{}}",
            "\"cameras\"",
        ] {
            assert!(Scope::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn principal_checks_permission_then_scope_without_oracle() {
        let p = Principal {
            user_id: 7,
            username: "olga".into(),
            role: Role::Operator,
            scope: Scope::cameras([cam(1)]),
        };
        assert!(p.check_camera(Permission::ViewLive, cam(1), []).is_ok());
        let out = p
            .check_camera(Permission::ViewLive, cam(2), [])
            .unwrap_err();
        assert_eq!(out.kind(), ErrorKind::NotFound);
        assert_eq!(out.message(), NO_SUCH_CAMERA);
        let denied = p
            .check_camera(Permission::ExportEvidence, cam(1), [])
            .unwrap_err();
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
        assert!(p.check(Permission::ManageUsers).is_err());
    }
}
