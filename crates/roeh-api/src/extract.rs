//! Request extractors whose every refusal is an [`ApiError`], so a malformed body, a wrong
//! content type or a bad query string is answered with the shared error body
//! (`{"error": {"kind", "message"}}`) like any other error, never with axum's plain text.
//!
//! Invariants:
//! - [`ApiJson`] refuses exactly what axum's `Json` refuses, mapped by [`ApiError::body`]
//!   (413 `resource_exhausted` over the size limit, else 400 with the parser's message);
//! - [`ApiQuery`] refuses what axum's `Query` refuses, as 400 with the parser's message, and a
//!   NUL character in any value (`%00`), as 400 on every store: no text PostgreSQL keeps can
//!   hold one (it refuses such a parameter outright), so a filter with one matches nothing
//!   anywhere and is a malformed request;
//! - [`path_id`] answers a malformed id as the 404 of an unknown one: a client cannot tell the
//!   two apart.

use crate::ApiError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use uuid::Uuid;

/// A JSON request body of type `T`; refused with an [`ApiError`] (see [`ApiError::body`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(e) => Err(ApiError::body(e)),
        }
    }
}

/// The query string parsed as `T`; refused with a 400 [`ApiError`] carrying the parser's message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(has_nul) {
            return Err(ApiError::invalid("the query holds a NUL character (%00)"));
        }
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(e) => Err(ApiError::invalid(e.body_text())),
        }
    }
}

/// Whether the query string `q` decodes to text with a NUL character: `%00` is the only way to
/// write one (a `%` escape is always two hex digits, so `%2500` is the text `%00`).
fn has_nul(q: &str) -> bool {
    q.contains("%00")
}

/// A UUID path segment naming a `what` (`"alert"`, `"rule"`, ...); a malformed one is answered
/// like an unknown one, 404 `no such {what}`.
pub(crate) fn path_id(s: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("no such {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_in_a_query_is_found_and_an_escaped_percent_is_not() {
        assert!(has_nul("actor=chief%00"));
        assert!(has_nul("a=1&b=%00x"));
        assert!(!has_nul("actor=%2500"));
        assert!(!has_nul("actor=chief%20x&limit=100"));
    }

    #[test]
    fn a_malformed_path_id_reads_as_an_unknown_one() {
        let id = Uuid::new_v4();
        assert_eq!(path_id(&id.to_string(), "rule").ok(), Some(id));
        let e = path_id("not-a-uuid", "rule")
            .err()
            .map(|e| format!("{e:?}"));
        assert!(e.is_some_and(|e| e.contains("NotFound") && e.contains("no such rule")));
    }
}
