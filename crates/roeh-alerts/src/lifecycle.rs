//! The alert lifecycle: states, actions, who may take them, merging and escalation.
//!
//! Invariants:
//! - states move only as [`transition`] allows (the table in its documentation);
//! - an operator may only act on an alert that is unclaimed or claimed by that operator;
//!   supervisors (and admins) may act on any alert, and are the only ones to take over an
//!   escalated alert that nobody claimed;
//! - escalation by deadline happens only to alerts still `new` or `claimed` and never twice.

use crate::{Error, Result};
use roeh_domain::{ErrorKind, WallTime};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// How urgent an alert is; ordered from least to most urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Severity> {
        Ok(match s {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("unknown severity {s:?}"),
                ));
            }
        })
    }
}

/// Where an alert is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised, nobody has taken it.
    New,
    /// An operator has taken it.
    Claimed,
    /// The operator has looked and confirmed it needs handling.
    Acknowledged,
    /// One or more units are on their way.
    Dispatched,
    /// A unit has arrived.
    OnScene,
    /// Handled (terminal).
    Resolved,
    /// Nothing was wrong (terminal); counts against the rule's precision.
    FalseAlarm,
    /// Passed to supervisors: by deadline or by hand.
    Escalated,
}

impl AlertState {
    /// Every state.
    pub const ALL: [AlertState; 8] = [
        AlertState::New,
        AlertState::Claimed,
        AlertState::Acknowledged,
        AlertState::Dispatched,
        AlertState::OnScene,
        AlertState::Resolved,
        AlertState::FalseAlarm,
        AlertState::Escalated,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::New => "new",
            AlertState::Claimed => "claimed",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Dispatched => "dispatched",
            AlertState::OnScene => "on_scene",
            AlertState::Resolved => "resolved",
            AlertState::FalseAlarm => "false_alarm",
            AlertState::Escalated => "escalated",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<AlertState> {
        AlertState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, format!("unknown state {s:?}")))
    }

    /// Whether nothing leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, AlertState::Resolved | AlertState::FalseAlarm)
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is done to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Take it.
    Claim,
    /// Confirm it needs handling.
    Acknowledge,
    /// Send units (again, to add more).
    Dispatch,
    /// A dispatched unit arrived (its `arrived` receipt).
    Arrive,
    /// Close it as handled.
    Resolve,
    /// Close it as a false alarm.
    FalseAlarm,
    /// Pass it to supervisors.
    Escalate,
}

impl Action {
    /// The stored name (also the event kind).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Claim => "claim",
            Action::Acknowledge => "acknowledge",
            Action::Dispatch => "dispatch",
            Action::Arrive => "arrive",
            Action::Resolve => "resolve",
            Action::FalseAlarm => "false_alarm",
            Action::Escalate => "escalate",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of actor, as far as the lifecycle cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    /// A control-room operator.
    Operator,
    /// A supervisor or an administrator.
    Supervisor,
    /// A patrol unit.
    Unit,
    /// roeh itself (timers, receipts).
    System,
}

/// Who acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user id, `None` for [`ActorRole::System`].
    pub user_id: Option<i64>,
    /// The kind of actor.
    pub role: ActorRole,
}

impl Actor {
    /// roeh itself.
    pub const SYSTEM: Actor = Actor {
        user_id: None,
        role: ActorRole::System,
    };
}

/// Why a transition was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionError {
    /// The action is not allowed from this state.
    Illegal {
        /// The current state.
        from: AlertState,
        /// The action tried.
        action: Action,
    },
    /// This kind of actor may not take this action.
    ActorNotAllowed {
        /// The action tried.
        action: Action,
        /// The actor's kind.
        role: ActorRole,
    },
    /// Another operator has claimed the alert.
    ClaimedByOther {
        /// The claimer's user id.
        by: i64,
    },
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::Illegal { from, action } => {
                write!(f, "cannot {action} an alert that is {from}")
            }
            TransitionError::ActorNotAllowed { action, role } => {
                write!(f, "a {role:?} may not {action} an alert")
            }
            TransitionError::ClaimedByOther { .. } => {
                f.write_str("the alert is claimed by another operator")
            }
        }
    }
}

impl std::error::Error for TransitionError {}

impl From<TransitionError> for Error {
    fn from(e: TransitionError) -> Error {
        let kind = match e {
            TransitionError::Illegal { .. } | TransitionError::ClaimedByOther { .. } => {
                ErrorKind::FailedPrecondition
            }
            TransitionError::ActorNotAllowed { .. } => ErrorKind::PermissionDenied,
        };
        Error::new(kind, e)
    }
}

/// The result of a legal transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new state (may equal the old one: a second dispatch, a second arrival).
    pub to: AlertState,
    /// Who holds the alert afterwards.
    pub claimed_by: Option<i64>,
}

/// Applies `action` by `actor` to an alert in `from`, claimed by `claimed_by`.
///
/// | action | from | to | actors |
/// |---|---|---|---|
/// | claim | new; escalated (supervisors only) | claimed | operator, supervisor |
/// | acknowledge | claimed, escalated | acknowledged | operator (the claimer), supervisor |
/// | dispatch | acknowledged; dispatched; on scene | dispatched; dispatched; on scene | operator (the claimer), supervisor |
/// | arrive | dispatched, on scene | on scene | unit, system |
/// | resolve | claimed … on scene, escalated | resolved | operator (the claimer), supervisor |
/// | false alarm | every non-terminal state | false alarm | operator (the claimer), supervisor |
/// | escalate | every non-terminal state but escalated | escalated | operator, supervisor, system |
pub fn transition(
    from: AlertState,
    claimed_by: Option<i64>,
    action: Action,
    actor: &Actor,
) -> Result<Transition, TransitionError> {
    use ActorRole as R;
    use AlertState as S;
    let illegal = Err(TransitionError::Illegal { from, action });
    let not_allowed = Err(TransitionError::ActorNotAllowed {
        action,
        role: actor.role,
    });
    if from.is_terminal() {
        return illegal;
    }
    let staff = matches!(actor.role, R::Operator | R::Supervisor);
    // Operators act only on alerts nobody else holds.
    let owner_check = || -> Result<(), TransitionError> {
        match (actor.role, claimed_by) {
            (R::Operator, Some(by)) if Some(by) != actor.user_id => {
                Err(TransitionError::ClaimedByOther { by })
            }
            _ => Ok(()),
        }
    };
    let keep = |to| Transition { to, claimed_by };
    match action {
        Action::Claim => {
            if !staff {
                return not_allowed;
            }
            match from {
                S::New => {}
                S::Escalated if actor.role == R::Supervisor => {}
                S::Escalated => return not_allowed,
                _ => return illegal,
            }
            Ok(Transition {
                to: S::Claimed,
                claimed_by: actor.user_id,
            })
        }
        Action::Acknowledge => {
            if !staff {
                return not_allowed;
            }
            if !matches!(from, S::Claimed | S::Escalated) {
                return illegal;
            }
            if from == S::Escalated && claimed_by.is_none() && actor.role != R::Supervisor {
                return not_allowed;
            }
            owner_check()?;
            Ok(Transition {
                to: S::Acknowledged,
                claimed_by: claimed_by.or(actor.user_id),
            })
        }
        Action::Dispatch => {
            if !staff {
                return not_allowed;
            }
            let to = match from {
                S::Acknowledged | S::Dispatched => S::Dispatched,
                S::OnScene => S::OnScene,
                _ => return illegal,
            };
            owner_check()?;
            Ok(keep(to))
        }
        Action::Arrive => {
            if !matches!(actor.role, R::Unit | R::System) {
                return not_allowed;
            }
            match from {
                S::Dispatched | S::OnScene => Ok(keep(S::OnScene)),
                _ => illegal,
            }
        }
        Action::Resolve | Action::FalseAlarm => {
            if !staff {
                return not_allowed;
            }
            if from == S::New && action == Action::Resolve {
                return illegal;
            }
            owner_check()?;
            Ok(keep(if action == Action::Resolve {
                S::Resolved
            } else {
                S::FalseAlarm
            }))
        }
        Action::Escalate => {
            if actor.role == R::Unit {
                return not_allowed;
            }
            if from == S::Escalated {
                return illegal;
            }
            Ok(keep(S::Escalated))
        }
    }
}

/// How long an alert of each severity may stay unacknowledged before it escalates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationLimits {
    /// Critical alerts (default 60 s).
    #[serde(with = "secs")]
    pub critical: Duration,
    /// High (default 120 s).
    #[serde(with = "secs")]
    pub high: Duration,
    /// Medium (default 300 s).
    #[serde(with = "secs")]
    pub medium: Duration,
    /// Low (default 900 s).
    #[serde(with = "secs")]
    pub low: Duration,
}

impl Default for EscalationLimits {
    fn default() -> Self {
        EscalationLimits {
            critical: Duration::from_secs(60),
            high: Duration::from_secs(120),
            medium: Duration::from_secs(300),
            low: Duration::from_secs(900),
        }
    }
}

impl EscalationLimits {
    /// The limit for `severity`.
    pub fn limit(&self, severity: Severity) -> Duration {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
        }
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// Alert settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Incidents of one hotspot this close in time join one alert (default 120 s).
    #[serde(with = "secs")]
    pub merge_window: Duration,
    /// Escalation deadlines per severity.
    pub escalation: EscalationLimits,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            merge_window: Duration::from_secs(120),
            escalation: EscalationLimits::default(),
        }
    }
}

/// When an alert raised at `created_at` with `severity` escalates if nobody acknowledges it.
pub fn escalation_deadline(
    limits: &EscalationLimits,
    severity: Severity,
    created_at: WallTime,
) -> WallTime {
    created_at.plus(limits.limit(severity))
}

/// Whether an alert must escalate now: still `new` or `claimed`, never escalated before, and
/// past its deadline.
pub fn escalation_due(
    limits: &EscalationLimits,
    state: AlertState,
    severity: Severity,
    created_at: WallTime,
    escalated_before: bool,
    now: WallTime,
) -> bool {
    !escalated_before
        && matches!(state, AlertState::New | AlertState::Claimed)
        && now >= escalation_deadline(limits, severity, created_at)
}

/// What the merge rule needs to know of an existing alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeCandidate {
    /// Its hotspot.
    pub hotspot: Uuid,
    /// Its state.
    pub state: AlertState,
    /// When its latest incident opened.
    pub last_incident_at: WallTime,
}

/// Whether an incident of `hotspot` opened at `at` joins `alert`: same hotspot, the alert still
/// open, and at most `window` between the incident and the alert's latest incident (either way,
/// as cameras report out of order).
pub fn joins(alert: &MergeCandidate, hotspot: Uuid, at: WallTime, window: Duration) -> bool {
    alert.hotspot == hotspot
        && !alert.state.is_terminal()
        && at.duration_since(alert.last_incident_at) <= window
        && alert.last_incident_at.duration_since(at) <= window
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use roeh_domain::{Clock, SimClock};

    const OP: Actor = Actor {
        user_id: Some(1),
        role: ActorRole::Operator,
    };
    const OP2: Actor = Actor {
        user_id: Some(2),
        role: ActorRole::Operator,
    };
    const SUP: Actor = Actor {
        user_id: Some(3),
        role: ActorRole::Supervisor,
    };
    const UNIT: Actor = Actor {
        user_id: Some(4),
        role: ActorRole::Unit,
    };

    fn step(s: AlertState, by: Option<i64>, a: Action, who: &Actor) -> Transition {
        transition(s, by, a, who).unwrap()
    }

    #[test]
    fn the_happy_path_runs_from_new_to_resolved() {
        let t = step(AlertState::New, None, Action::Claim, &OP);
        assert_eq!(
            t,
            Transition {
                to: AlertState::Claimed,
                claimed_by: Some(1)
            }
        );
        let t = step(t.to, t.claimed_by, Action::Acknowledge, &OP);
        assert_eq!(t.to, AlertState::Acknowledged);
        let t = step(t.to, t.claimed_by, Action::Dispatch, &OP);
        assert_eq!(t.to, AlertState::Dispatched);
        let t = step(t.to, t.claimed_by, Action::Dispatch, &OP);
        assert_eq!(t.to, AlertState::Dispatched, "a second dispatch adds units");
        let t = step(t.to, t.claimed_by, Action::Arrive, &UNIT);
        assert_eq!(t.to, AlertState::OnScene);
        let t = step(t.to, t.claimed_by, Action::Resolve, &OP);
        assert_eq!(
            t,
            Transition {
                to: AlertState::Resolved,
                claimed_by: Some(1)
            }
        );
    }

    #[test]
    fn illegal_moves_are_typed_errors() {
        assert_eq!(
            transition(AlertState::New, None, Action::Dispatch, &OP),
            Err(TransitionError::Illegal {
                from: AlertState::New,
                action: Action::Dispatch
            })
        );
        assert_eq!(
            transition(AlertState::New, None, Action::Resolve, &OP),
            Err(TransitionError::Illegal {
                from: AlertState::New,
                action: Action::Resolve
            })
        );
        assert_eq!(
            transition(AlertState::Claimed, Some(1), Action::Claim, &OP2),
            Err(TransitionError::Illegal {
                from: AlertState::Claimed,
                action: Action::Claim
            })
        );
        for terminal in [AlertState::Resolved, AlertState::FalseAlarm] {
            for a in [
                Action::Claim,
                Action::Escalate,
                Action::Resolve,
                Action::FalseAlarm,
            ] {
                assert!(matches!(
                    transition(terminal, Some(1), a, &SUP),
                    Err(TransitionError::Illegal { .. })
                ));
            }
        }
        // Units only arrive; operators never "arrive".
        assert_eq!(
            transition(AlertState::New, None, Action::Claim, &UNIT),
            Err(TransitionError::ActorNotAllowed {
                action: Action::Claim,
                role: ActorRole::Unit
            })
        );
        assert!(matches!(
            transition(AlertState::Dispatched, Some(1), Action::Arrive, &OP),
            Err(TransitionError::ActorNotAllowed { .. })
        ));
        let e: Error = TransitionError::ClaimedByOther { by: 1 }.into();
        assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    }

    #[test]
    fn only_the_claimer_or_a_supervisor_acts_on_a_claimed_alert() {
        assert_eq!(
            transition(AlertState::Claimed, Some(1), Action::Acknowledge, &OP2),
            Err(TransitionError::ClaimedByOther { by: 1 })
        );
        assert_eq!(
            transition(AlertState::Claimed, Some(1), Action::FalseAlarm, &OP2),
            Err(TransitionError::ClaimedByOther { by: 1 })
        );
        let t = step(AlertState::Claimed, Some(1), Action::Acknowledge, &SUP);
        assert_eq!(t.claimed_by, Some(1));
        // An escalated, unclaimed alert goes to supervisors.
        assert!(matches!(
            transition(AlertState::Escalated, None, Action::Claim, &OP),
            Err(TransitionError::ActorNotAllowed { .. })
        ));
        let t = step(AlertState::Escalated, None, Action::Claim, &SUP);
        assert_eq!(
            t,
            Transition {
                to: AlertState::Claimed,
                claimed_by: Some(3)
            }
        );
        // An escalated alert its claimer still holds may be acknowledged by that claimer.
        let t = step(AlertState::Escalated, Some(1), Action::Acknowledge, &OP);
        assert_eq!(t.to, AlertState::Acknowledged);
    }

    #[test]
    fn escalation_follows_the_severity_deadline_on_a_simulated_clock() {
        let limits = EscalationLimits::default();
        let clock = SimClock::new(WallTime::from_secs(1_000));
        let created = clock.wall();
        for (sev, secs) in [
            (Severity::Critical, 60),
            (Severity::High, 120),
            (Severity::Medium, 300),
            (Severity::Low, 900),
        ] {
            let c = SimClock::new(created);
            c.advance(Duration::from_secs(secs - 1));
            assert!(!escalation_due(
                &limits,
                AlertState::New,
                sev,
                created,
                false,
                c.wall()
            ));
            c.advance(Duration::from_secs(1));
            assert!(escalation_due(
                &limits,
                AlertState::New,
                sev,
                created,
                false,
                c.wall()
            ));
            assert!(escalation_due(
                &limits,
                AlertState::Claimed,
                sev,
                created,
                false,
                c.wall()
            ));
            // Acknowledged in time, or escalated already: no (second) escalation.
            assert!(!escalation_due(
                &limits,
                AlertState::Acknowledged,
                sev,
                created,
                false,
                c.wall()
            ));
            assert!(!escalation_due(
                &limits,
                AlertState::Claimed,
                sev,
                created,
                true,
                c.wall()
            ));
        }
        let t = step(AlertState::New, None, Action::Escalate, &Actor::SYSTEM);
        assert_eq!(t.to, AlertState::Escalated);
        assert!(matches!(
            transition(
                AlertState::Escalated,
                None,
                Action::Escalate,
                &Actor::SYSTEM
            ),
            Err(TransitionError::Illegal { .. })
        ));
    }

    #[test]
    fn incidents_of_one_hotspot_within_the_window_join() {
        let h = Uuid::from_u128(1);
        let w = Duration::from_secs(120);
        let at = WallTime::from_secs(10_000);
        let a = MergeCandidate {
            hotspot: h,
            state: AlertState::Claimed,
            last_incident_at: at,
        };
        assert!(joins(&a, h, at.plus(Duration::from_secs(120)), w));
        assert!(
            joins(&a, h, at.minus(Duration::from_secs(5)), w),
            "out of order"
        );
        assert!(!joins(&a, h, at.plus(Duration::from_secs(121)), w));
        assert!(!joins(&a, Uuid::from_u128(2), at, w), "other hotspot");
        let closed = MergeCandidate {
            state: AlertState::Resolved,
            ..a
        };
        assert!(!joins(&closed, h, at, w), "closed alerts take no incidents");
    }

    #[test]
    fn names_round_trip_and_config_parses() {
        for s in AlertState::ALL {
            assert_eq!(AlertState::parse(s.as_str()).unwrap(), s);
        }
        for s in [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(Severity::parse(s.as_str()).unwrap(), s);
        }
        assert!(Severity::parse("urgent").is_err());
        assert!(Severity::Critical > Severity::High);
        let c: AlertsConfig =
            serde_json::from_str(r#"{"merge_window": 30, "escalation": {"critical": 10}}"#)
                .unwrap();
        assert_eq!(c.merge_window, Duration::from_secs(30));
        assert_eq!(c.escalation.critical, Duration::from_secs(10));
        assert_eq!(c.escalation.low, Duration::from_secs(900));
    }
}
