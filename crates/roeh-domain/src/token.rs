//! What an opaque token is for: its kind, stored name and default lifetime.
//!
//! Invariants:
//! - a kind's stored name ([`TokenKind::as_str`]) is lowercase and [`TokenKind::parse`] accepts
//!   exactly those names, so a kind round-trips through the database and the API unchanged;
//! - the default lifetime of a kind is fixed here and nowhere else: 12 hours for a session, 90
//!   days for an API token.

use crate::WallTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// What a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A console login, carried in the session cookie; state changes need the CSRF header.
    Session,
    /// An API client's or patrol unit's bearer token.
    Api,
}

impl TokenKind {
    /// Stored name: `session` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Api => "api",
        }
    }

    /// Parses [`TokenKind::as_str`]; `None` for any other text (case matters).
    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "session" => Some(TokenKind::Session),
            "api" => Some(TokenKind::Api),
            _ => None,
        }
    }

    /// Default lifetime: 12 hours (one shift) for sessions, 90 days for API tokens.
    pub fn default_ttl(self) -> Duration {
        match self {
            TokenKind::Session => Duration::from_secs(12 * 3600),
            TokenKind::Api => Duration::from_secs(90 * 86_400),
        }
    }

    /// When a token of this kind issued at `now` with lifetime `ttl` expires.
    pub fn expires_at(self, now: WallTime, ttl: Duration) -> WallTime {
        now.plus(ttl)
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
