//! Roles, permissions, and the one table that says which role holds which permission.
//!
//! Invariants:
//! - [`MATRIX`] is the only place that grants a permission; [`role_allows`] reads nothing else;
//! - every [`Permission`] has exactly one row in [`MATRIX`] (checked by a test), so adding a
//!   permission without deciding who holds it fails the tests rather than silently denying or
//!   granting;
//! - a permission says what *kind* of thing a role may do. Whether a given user may do it to a
//!   given camera is the user's [`crate::Scope`], checked separately by every route that takes an
//!   id (see [`crate::Principal`]).
//!
//! # Policy
//!
//! | role | purpose |
//! |---|---|
//! | `admin` | everything, including users and the audit log |
//! | `supervisor` | shift lead: all control-room and evidence work and the audit log; not users, not camera set-up |
//! | `operator` | control room: cameras, live and recorded footage, incidents, alerts and dispatch |
//! | `investigator` | police: recorded footage, incidents, exports, legal holds, the evidence log; no live view, no alerts |
//! | `integrator` | technician: onboards and manages cameras (ONVIF), hotspots and rules; live view to aim a camera; no recorded footage |
//! | `unit` | a patrol unit's client: only what is dispatched to it, and its receipts |
//!
//! Only investigators, supervisors and admins export footage or place and lift legal holds.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a user is, for authorisation. Stored as [`Role::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Administers the system: users, audit, everything else.
    Admin,
    /// Leads a control-room shift.
    Supervisor,
    /// Watches cameras and handles alerts.
    Operator,
    /// Police investigator: reviews and exports recorded footage.
    Investigator,
    /// Installs and configures cameras.
    Integrator,
    /// A patrol unit's client.
    Unit,
}

impl Role {
    /// Every role, in [`MATRIX`] column order.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Supervisor,
        Role::Operator,
        Role::Investigator,
        Role::Integrator,
        Role::Unit,
    ];

    /// The stable lowercase name (database, API, audit).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Operator => "operator",
            Role::Investigator => "investigator",
            Role::Integrator => "integrator",
            Role::Unit => "unit",
        }
    }

    /// Parses [`Role::as_str`] exactly (no case folding, no whitespace).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the issue foresees limiting this role to some cameras or hotspots. A scope given
    /// to any other role is still enforced; this only guides user management.
    pub fn scopable(self) -> bool {
        matches!(self, Role::Operator | Role::Investigator)
    }

    /// Column of this role in [`MATRIX`].
    fn column(self) -> usize {
        match self {
            Role::Admin => 0,
            Role::Supervisor => 1,
            Role::Operator => 2,
            Role::Investigator => 3,
            Role::Integrator => 4,
            Role::Unit => 5,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role in JSON: one of the [`Role::as_str`] names. Inlined where used (no `$ref`), so a
/// `String` field holding a role name can take it with `#[schemars(with = "roeh_auth::Role")]`.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for Role {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Role".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// A capability a route needs. The route also checks the object's scope where it takes an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// List cameras and read their configuration (never their credentials).
    ViewCameras,
    /// Add, change, enable, disable and remove cameras; set retention.
    ManageCameras,
    /// Discover ONVIF devices and onboard them as cameras.
    OnvifOnboard,
    /// Watch live video.
    ViewLive,
    /// Read recorded footage: segment lists, timelines, playback, MP4.
    ViewFootage,
    /// Request evidence exports (clip bundles) and download them.
    ExportEvidence,
    /// Place and lift legal holds.
    ManageHolds,
    /// Read the evidence log: site keys, checkpoints, proofs, custody events.
    ViewEvidenceLog,
    /// Read incidents.
    ViewIncidents,
    /// Acknowledge, comment on and close alerts.
    HandleAlerts,
    /// Assign alerts to patrol units.
    DispatchUnits,
    /// As a patrol unit: read what was dispatched to this unit and post receipts.
    UnitReceipts,
    /// Create and change hotspots, zones, lines and rules.
    ManageHotspotsRules,
    /// Create, change and disable users; issue and revoke their tokens.
    ManageUsers,
    /// Read the audit log.
    ViewAudit,
    /// Read system status: health, storage, recorder state.
    ViewStatus,
}

impl Permission {
    /// Every permission, in [`MATRIX`] row order.
    pub const ALL: [Permission; 16] = [
        Permission::ViewCameras,
        Permission::ManageCameras,
        Permission::OnvifOnboard,
        Permission::ViewLive,
        Permission::ViewFootage,
        Permission::ExportEvidence,
        Permission::ManageHolds,
        Permission::ViewEvidenceLog,
        Permission::ViewIncidents,
        Permission::HandleAlerts,
        Permission::DispatchUnits,
        Permission::UnitReceipts,
        Permission::ManageHotspotsRules,
        Permission::ManageUsers,
        Permission::ViewAudit,
        Permission::ViewStatus,
    ];

    /// The stable snake_case name (audit, API error bodies).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewCameras => "view_cameras",
            Permission::ManageCameras => "manage_cameras",
            Permission::OnvifOnboard => "onvif_onboard",
            Permission::ViewLive => "view_live",
            Permission::ViewFootage => "view_footage",
            Permission::ExportEvidence => "export_evidence",
            Permission::ManageHolds => "manage_holds",
            Permission::ViewEvidenceLog => "view_evidence_log",
            Permission::ViewIncidents => "view_incidents",
            Permission::HandleAlerts => "handle_alerts",
            Permission::DispatchUnits => "dispatch_units",
            Permission::UnitReceipts => "unit_receipts",
            Permission::ManageHotspotsRules => "manage_hotspots_rules",
            Permission::ManageUsers => "manage_users",
            Permission::ViewAudit => "view_audit",
            Permission::ViewStatus => "view_status",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const Y: bool = true;
const N: bool = false;

/// The permission matrix. Columns: admin, supervisor, operator, investigator, integrator, unit
/// (the order of [`Role::ALL`]).
#[rustfmt::skip]
pub const MATRIX: [(Permission, [bool; 6]); 16] = [
    //                                  adm sup opr inv int unit
    (Permission::ViewCameras,          [Y,  Y,  Y,  Y,  Y,  N]),
    (Permission::ManageCameras,        [Y,  N,  N,  N,  Y,  N]),
    (Permission::OnvifOnboard,         [Y,  N,  N,  N,  Y,  N]),
    (Permission::ViewLive,             [Y,  Y,  Y,  N,  Y,  N]),
    (Permission::ViewFootage,          [Y,  Y,  Y,  Y,  N,  N]),
    (Permission::ExportEvidence,       [Y,  Y,  N,  Y,  N,  N]),
    (Permission::ManageHolds,          [Y,  Y,  N,  Y,  N,  N]),
    (Permission::ViewEvidenceLog,      [Y,  Y,  N,  Y,  N,  N]),
    (Permission::ViewIncidents,        [Y,  Y,  Y,  Y,  N,  N]),
    (Permission::HandleAlerts,         [Y,  Y,  Y,  N,  N,  N]),
    (Permission::DispatchUnits,        [Y,  Y,  Y,  N,  N,  N]),
    (Permission::UnitReceipts,         [Y,  N,  N,  N,  N,  Y]),
    (Permission::ManageHotspotsRules,  [Y,  Y,  N,  N,  Y,  N]),
    (Permission::ManageUsers,          [Y,  N,  N,  N,  N,  N]),
    (Permission::ViewAudit,            [Y,  Y,  N,  N,  N,  N]),
    (Permission::ViewStatus,           [Y,  Y,  Y,  N,  Y,  N]),
];

/// Whether `role` holds `perm`, per [`MATRIX`]. A permission missing from the table is denied.
pub fn role_allows(role: Role, perm: Permission) -> bool {
    MATRIX
        .iter()
        .find(|(p, _)| *p == perm)
        .is_some_and(|(_, cols)| cols[role.column()])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_exactly_one_row_in_order() {
        assert_eq!(MATRIX.len(), Permission::ALL.len());
        for (i, p) in Permission::ALL.iter().enumerate() {
            assert_eq!(MATRIX[i].0, *p, "row {i}");
            assert_eq!(MATRIX.iter().filter(|(q, _)| q == p).count(), 1, "{p}");
        }
    }

    #[test]
    fn columns_follow_role_all() {
        for (i, r) in Role::ALL.iter().enumerate() {
            assert_eq!(r.column(), i);
        }
    }

    #[test]
    fn admin_holds_everything() {
        for p in Permission::ALL {
            assert!(role_allows(Role::Admin, p), "{p}");
        }
    }

    #[test]
    fn only_investigators_supervisors_and_admins_export_and_hold() {
        for p in [Permission::ExportEvidence, Permission::ManageHolds] {
            let holders: Vec<Role> = Role::ALL
                .into_iter()
                .filter(|r| role_allows(*r, p))
                .collect();
            assert_eq!(
                holders,
                vec![Role::Admin, Role::Supervisor, Role::Investigator],
                "{p}"
            );
        }
    }

    #[test]
    fn spot_checks() {
        use Permission as P;
        use Role as R;
        // Operators: cameras, footage, incidents, alerts; not exports, users or onboarding.
        for p in [
            P::ViewCameras,
            P::ViewLive,
            P::ViewFootage,
            P::ViewIncidents,
            P::HandleAlerts,
        ] {
            assert!(role_allows(R::Operator, p), "{p}");
        }
        for p in [
            P::ExportEvidence,
            P::ManageUsers,
            P::OnvifOnboard,
            P::ViewAudit,
        ] {
            assert!(!role_allows(R::Operator, p), "{p}");
        }
        // Integrators onboard and manage cameras, but see no recorded footage.
        assert!(role_allows(R::Integrator, P::OnvifOnboard));
        assert!(role_allows(R::Integrator, P::ManageCameras));
        assert!(!role_allows(R::Integrator, P::ViewFootage));
        assert!(!role_allows(R::Integrator, P::ExportEvidence));
        // Supervisors: no user management, no onboarding.
        assert!(!role_allows(R::Supervisor, P::ManageUsers));
        assert!(!role_allows(R::Supervisor, P::OnvifOnboard));
        assert!(role_allows(R::Supervisor, P::ViewAudit));
        // Investigators: no live view, no alerts.
        assert!(!role_allows(R::Investigator, P::ViewLive));
        assert!(!role_allows(R::Investigator, P::HandleAlerts));
        // Only admins manage users and only admins and supervisors read the audit log.
        for r in Role::ALL {
            assert_eq!(role_allows(r, P::ManageUsers), r == R::Admin, "{r}");
        }
    }

    #[test]
    fn units_hold_only_unit_receipts() {
        for p in Permission::ALL {
            assert_eq!(
                role_allows(Role::Unit, p),
                p == Permission::UnitReceipts,
                "{p}"
            );
        }
    }

    #[test]
    fn role_names_round_trip_and_parse_strictly() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        }
        for bad in [
            "Admin",
            "ADMIN",
            " admin",
            "admin ",
            "",
            "root",
            "superuser",
        ] {
            assert_eq!(Role::parse(bad), None, "{bad:?}");
        }
        assert!(Role::Operator.scopable() && Role::Investigator.scopable());
        assert!(!Role::Admin.scopable());
    }

    #[test]
    fn permission_names_match_serde() {
        for p in Permission::ALL {
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
    }

    #[cfg(feature = "schema")]
    #[test]
    fn a_role_name_field_takes_the_role_schema_inline() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct View {
            /// The user's role.
            #[schemars(with = "Role")]
            role: String,
        }
        let root = schemars::SchemaGenerator::default().into_root_schema_for::<View>();
        let root = serde_json::to_value(root).unwrap();
        assert_eq!(
            root["properties"]["role"],
            serde_json::json!({
                "type": "string",
                "enum": ["admin", "supervisor", "operator", "investigator", "integrator", "unit"],
                "description": "The user's role.",
            })
        );
        assert!(root.get("$defs").is_none(), "{root}");
        // Every name parses back, and serde writes the same names.
        let names = root["properties"]["role"]["enum"].as_array().unwrap();
        assert_eq!(names.len(), Role::ALL.len());
        for (name, role) in names.iter().zip(Role::ALL) {
            assert_eq!(Role::parse(name.as_str().unwrap()), Some(role));
            assert_eq!(&serde_json::to_value(role).unwrap(), name);
        }
    }
}
