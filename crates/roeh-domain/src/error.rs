//! Error kinds shared by every crate, and a macro that gives each crate its own error type.
//!
//! STYLE.md rule 4: one error type per crate, carrying a kind and context. The kind decides the
//! HTTP status in exactly one place (the API crate); the message is for people.

use std::fmt;

/// What went wrong, coarsely: enough for a caller to decide what to do (retry, refuse, report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller gave something malformed or forbidden (a bad URL, a bad range).
    InvalidArgument,
    /// The thing asked for does not exist.
    NotFound,
    /// The thing exists already.
    AlreadyExists,
    /// The system is not in a state that allows this (e.g. an open writer exists).
    FailedPrecondition,
    /// A peer (camera, database) is unreachable or answered badly; retrying may help.
    Unavailable,
    /// A limit was hit: disk full, buffer cap, too large a request.
    ResourceExhausted,
    /// Stored data failed a check (hash, length, chain).
    DataLoss,
    /// A deadline passed.
    DeadlineExceeded,
    /// The caller is authenticated but not allowed to do this.
    PermissionDenied,
    /// The caller is not authenticated (no, unknown, expired or revoked credentials).
    Unauthenticated,
    /// A bug or an unexpected condition.
    Internal,
}

impl ErrorKind {
    /// A stable, lowercase name for logs and API error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::FailedPrecondition => "failed_precondition",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::ResourceExhausted => "resource_exhausted",
            ErrorKind::DataLoss => "data_loss",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Defines a crate's error type: `struct Error { kind, msg, source }` with constructors,
/// `Display` (kind and message), `std::error::Error::source`, and a `chain()` helper that prints
/// the whole cause chain on one line for logs.
///
/// ```
/// roeh_domain::define_error!();
/// let e = Error::new(roeh_domain::ErrorKind::NotFound, "camera 3 not found");
/// assert_eq!(e.kind(), roeh_domain::ErrorKind::NotFound);
/// assert_eq!(e.to_string(), "not_found: camera 3 not found");
/// ```
#[macro_export]
macro_rules! define_error {
    () => {
        /// This crate's error: a kind, a message, and an optional cause.
        #[derive(Debug)]
        pub struct Error {
            kind: $crate::ErrorKind,
            msg: ::std::string::String,
            source: ::std::option::Option<
                ::std::boxed::Box<dyn ::std::error::Error + Send + Sync + 'static>,
            >,
        }

        #[allow(dead_code)]
        impl Error {
            /// An error of `kind` with a message.
            pub fn new(kind: $crate::ErrorKind, msg: impl ::std::fmt::Display) -> Self {
                Error {
                    kind,
                    msg: msg.to_string(),
                    source: None,
                }
            }

            /// An error of `kind` with a message and its cause.
            pub fn with_source(
                kind: $crate::ErrorKind,
                msg: impl ::std::fmt::Display,
                source: impl ::std::error::Error + Send + Sync + 'static,
            ) -> Self {
                Error {
                    kind,
                    msg: msg.to_string(),
                    source: Some(::std::boxed::Box::new(source)),
                }
            }

            /// The kind of failure.
            pub fn kind(&self) -> $crate::ErrorKind {
                self.kind
            }

            /// The message, without the kind or the cause.
            pub fn message(&self) -> &str {
                &self.msg
            }

            /// The error and all its causes, `: `-separated, for one log line.
            pub fn chain(&self) -> ::std::string::String {
                let mut out = self.to_string();
                let mut cur = ::std::error::Error::source(self);
                while let Some(c) = cur {
                    out.push_str(": ");
                    out.push_str(&c.to_string());
                    cur = c.source();
                }
                out
            }
        }

        impl ::std::fmt::Display for Error {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}: {}", self.kind, self.msg)
            }
        }

        impl ::std::error::Error for Error {
            fn source(&self) -> ::std::option::Option<&(dyn ::std::error::Error + 'static)> {
                self.source
                    .as_ref()
                    .map(|s| s.as_ref() as &(dyn ::std::error::Error + 'static))
            }
        }
    };
}

define_error!();

/// Returns early with an error of the given kind: `bail!(NotFound, "camera {id}")`.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)+) => {
        return Err(Error::new($crate::ErrorKind::$kind, format!($($arg)+)).into())
    };
}

/// Builds an error of the given kind: `err!(InvalidArgument, "bad {x}")`.
#[macro_export]
macro_rules! err {
    ($kind:ident, $($arg:tt)+) => {
        Error::new($crate::ErrorKind::$kind, format!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_includes_causes() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::with_source(ErrorKind::Unavailable, "writing segment", io);
        assert_eq!(e.chain(), "unavailable: writing segment: disk on fire");
    }
}
