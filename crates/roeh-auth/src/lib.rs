//! Authentication and authorisation core of roeh: who may do what to which camera.
//!
//! This crate is pure: no I/O, no clock reads (times come in as [`roeh_domain::WallTime`]), no
//! async runtime. The store keeps users, token hashes and the audit log; the API crate wires
//! these pieces into its router.
//!
//! Invariants:
//! - one permission matrix ([`role::MATRIX`]) decides what each [`Role`] may do; routes that take
//!   an id also check the caller's [`Scope`] through [`Principal::check_camera`];
//! - passwords are stored as Argon2id PHC strings, tokens only as SHA-256 hashes, and every
//!   comparison of secrets is constant time;
//! - tokens are accepted only from the `Authorization: Bearer` header or the session cookie,
//!   never from a URL;
//! - there are no default credentials: the first admin is created with a one-time
//!   [`SetupToken`].
//!
//! See TRUST.md cases S8, S9, S13, S15, S16, S17 and S20.

pub mod audit;
pub mod cookie;
pub mod limiter;
pub mod password;
pub mod role;
pub mod scope;
pub mod token;

pub use audit::{ANONYMOUS, AuditEntry, Outcome, action};
pub use cookie::{CSRF_HEADER, CookieConfig, CsrfKey, OriginCheck, check_origin, needs_csrf};
pub use limiter::{LimiterConfig, LoginLimiter, RetryAfter};
pub use password::{HashParams, PasswordHasher, check_password_policy, validate_username};
pub use role::{Permission, Role, role_allows};
pub use scope::{NO_SUCH_CAMERA, Principal, Scope};
pub use token::{
    SetupToken, TokenKind, TokenText, check_setup, hash_token, hashes_equal, is_token_shaped,
    new_token, parse_bearer, reject_token_in_query,
};

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
