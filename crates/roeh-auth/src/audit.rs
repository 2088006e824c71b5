//! Audit entries: who did what, when, to what, with which outcome, and why.
//!
//! Invariants:
//! - an [`AuditEntry`] is plain data; the store appends it to a table that refuses updates and
//!   deletes;
//! - every text field is cleaned on the way in: control characters (CR, LF, ESC, …), line and
//!   paragraph separators and bidirectional overrides become U+FFFD, and lengths are bounded, so
//!   a username, camera name or reason cannot forge log lines or hide text (TRUST.md S20);
//! - actions are stable dotted names (see [`action`]); add new ones there.

use crate::role::Role;
use roeh_domain::WallTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Actor of requests that are not authenticated.
pub const ANONYMOUS: &str = "anonymous";
/// Longest actor, action or target kept, in characters.
pub const MAX_FIELD_CHARS: usize = 256;
/// Longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 2048;

/// Stable action names.
pub mod action {
    /// A successful login.
    pub const LOGIN: &str = "login";
    /// A refused login (wrong password, unknown user, disabled user, rate limited).
    pub const LOGIN_FAILED: &str = "login_failed";
    /// A logout.
    pub const LOGOUT: &str = "logout";
    /// The first admin created with the setup token.
    pub const SETUP: &str = "setup";
    /// A refused setup attempt.
    pub const SETUP_FAILED: &str = "setup_failed";
    /// A request refused for lack of authentication or permission.
    pub const ACCESS_DENIED: &str = "access_denied";
    /// User management.
    pub const USER_CREATE: &str = "user.create";
    /// User management.
    pub const USER_UPDATE: &str = "user.update";
    /// User management.
    pub const USER_DISABLE: &str = "user.disable";
    /// A password change.
    pub const USER_PASSWORD: &str = "user.password";
    /// An API token issued.
    pub const TOKEN_CREATE: &str = "token.create";
    /// A token revoked.
    pub const TOKEN_REVOKE: &str = "token.revoke";
    /// Camera management.
    pub const CAMERA_ADD: &str = "camera.add";
    /// Camera management.
    pub const CAMERA_UPDATE: &str = "camera.update";
    /// Camera management.
    pub const CAMERA_REMOVE: &str = "camera.remove";
    /// ONVIF onboarding.
    pub const ONVIF_ONBOARD: &str = "onvif.onboard";
    /// Live view opened.
    pub const LIVE_VIEW: &str = "live.view";
    /// Recorded footage viewed (segments, MP4).
    pub const FOOTAGE_VIEW: &str = "footage.view";
    /// An export requested.
    pub const EXPORT_REQUEST: &str = "export.request";
    /// An export downloaded.
    pub const EXPORT_DOWNLOAD: &str = "export.download";
    /// A legal hold placed.
    pub const HOLD_SET: &str = "hold.set";
    /// A legal hold lifted.
    pub const HOLD_CLEAR: &str = "hold.clear";
    /// Hotspot and rule changes.
    pub const RULES_UPDATE: &str = "rules.update";
    /// Alert handling.
    pub const ALERT_UPDATE: &str = "alert.update";
    /// A dispatch to a patrol unit.
    pub const DISPATCH: &str = "dispatch";
    /// A patrol unit's receipt.
    pub const UNIT_RECEIPT: &str = "unit.receipt";
    /// The audit log read.
    pub const AUDIT_VIEW: &str = "audit.view";
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused: not authenticated, not allowed, rate limited, or invalid.
    Denied,
    /// Failed inside the system.
    Error,
}

impl Outcome {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// Parses [`Outcome::as_str`].
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "ok" => Some(Outcome::Ok),
            "denied" => Some(Outcome::Denied),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub time: WallTime,
    /// Who: a username, or [`ANONYMOUS`].
    pub actor: String,
    /// The actor's role, when authenticated.
    pub role: Option<Role>,
    /// What: one of [`action`].
    pub action: String,
    /// To what: `camera:<id>`, `export:<id>`, `user:<name>`, …
    pub target: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The HTTP status answered.
    pub status: Option<u16>,
    /// Why (the case number and legal basis for footage and exports).
    pub reason: Option<String>,
    /// The client's address.
    pub source_ip: Option<IpAddr>,
}

impl AuditEntry {
    /// An entry with the required fields; add the rest with the builder methods.
    pub fn new(time: WallTime, actor: &str, action: &str, outcome: Outcome) -> AuditEntry {
        AuditEntry {
            time,
            actor: clean(actor, MAX_FIELD_CHARS),
            role: None,
            action: clean(action, MAX_FIELD_CHARS),
            target: None,
            outcome,
            status: None,
            reason: None,
            source_ip: None,
        }
    }

    /// Sets the role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// Sets the target (cleaned).
    pub fn target(mut self, target: &str) -> Self {
        self.target = Some(clean(target, MAX_FIELD_CHARS));
        self
    }

    /// Sets the HTTP status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the reason (cleaned).
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(clean(reason, MAX_REASON_CHARS));
        self
    }

    /// Sets the client's address.
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }
}

pub use roeh_domain::text::clean;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_every_field() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let e = AuditEntry::new(WallTime(5), "olga", action::EXPORT_REQUEST, Outcome::Ok)
            .role(Role::Investigator)
            .target("camera:1")
            .status(202)
            .reason("case 2026/17, art. 8 WPolitie")
            .source_ip(ip);
        assert_eq!(e.time, WallTime(5));
        assert_eq!(e.actor, "olga");
        assert_eq!(e.role, Some(Role::Investigator));
        assert_eq!(e.action, "export.request");
        assert_eq!(e.target.as_deref(), Some("camera:1"));
        assert_eq!(e.outcome, Outcome::Ok);
        assert_eq!(e.status, Some(202));
        assert_eq!(e.reason.as_deref(), Some("case 2026/17, art. 8 WPolitie"));
        assert_eq!(e.source_ip, Some(ip));
    }

    #[test]
    fn fields_cannot_forge_lines_or_hide_text() {
        let e = AuditEntry::new(
            WallTime(0),
            "olga\r\n2026-01-01 admin login ok",
            action::LOGIN_FAILED,
            Outcome::Denied,
        )
        .target("cam\u{1b}[2Jera")
        .reason("a\u{202e}txt.exe\u{2028}b");
        assert!(!e.actor.contains(['\r', '\n']));
        assert_eq!(e.actor, "olga\u{fffd}\u{fffd}2026-01-01 admin login ok");
        assert_eq!(e.target.as_deref(), Some("cam\u{fffd}[2Jera"));
        assert_eq!(e.reason.as_deref(), Some("a\u{fffd}txt.exe\u{fffd}b"));
        let long = AuditEntry::new(WallTime(0), &"x".repeat(10_000), "a", Outcome::Ok)
            .reason(&"é".repeat(10_000));
        assert_eq!(long.actor.chars().count(), MAX_FIELD_CHARS);
        assert_eq!(long.reason.unwrap().chars().count(), MAX_REASON_CHARS);
        // Ordinary non-ASCII text is kept.
        assert_eq!(clean("Dénes Łukasz 東京", 100), "Dénes Łukasz 東京");
    }

    #[test]
    fn outcomes_round_trip() {
        for o in [Outcome::Ok, Outcome::Denied, Outcome::Error] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("OK"), None);
    }
}
