//! Shared by the API's integration tests: an admin signed in with a bearer token, and a router
//! that sends it with every request that names no credentials itself.
#![allow(dead_code, clippy::unwrap_used)]

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use roeh_api::auth::AuthState;
use roeh_auth::{HashParams, PasswordHasher, Role, Scope};
use roeh_domain::WallTime;
use roeh_store::{NewToken, NewUser, Store, TokenKind};
use std::sync::Arc;

/// Header that keeps [`with_token`] from adding credentials (for unauthenticated requests).
pub const ANONYMOUS: &str = "x-test-anonymous";

/// Cheap Argon2 parameters: tests hash many passwords.
pub fn auth_state() -> Arc<AuthState> {
    Arc::new(AuthState::new(HashParams::INSECURE_FAST, false).unwrap())
}

/// Creates a user with `role` and `scope` and returns a fresh API token for them.
pub async fn user_token(store: &Store, name: &str, role: Role, scope: Scope) -> String {
    let hasher = PasswordHasher::new(HashParams::INSECURE_FAST).unwrap();
    let now = WallTime(1_800_000_000_000_000);
    let id = store
        .create_user(
            &NewUser {
                username: name.into(),
                password_hash: hasher.hash("a-long-test-password").unwrap(),
                role: role.as_str().into(),
                scope: scope.to_json().unwrap(),
            },
            WallTime(0),
        )
        .await
        .unwrap();
    let (text, hash) = roeh_auth::new_token();
    store
        .create_token(&NewToken {
            hash,
            user_id: id,
            kind: TokenKind::Api,
            label: "test".into(),
            created_at: WallTime(0),
            expires_at: now,
        })
        .await
        .unwrap();
    text.expose().to_string()
}

/// An unrestricted admin's token.
pub async fn admin_token(store: &Store) -> String {
    user_token(store, "admin", Role::Admin, Scope::unrestricted()).await
}

/// `router` sending `token` with every request that has no `Authorization` header and no
/// [`ANONYMOUS`] header.
pub fn with_token(router: Router, token: String) -> Router {
    router.layer(axum::middleware::map_request(move |mut req: Request| {
        let token = token.clone();
        async move {
            let h = req.headers_mut();
            if h.remove(ANONYMOUS).is_none()
                && !h.contains_key(header::AUTHORIZATION)
                && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
            {
                h.insert(header::AUTHORIZATION, v);
            }
            req
        }
    }))
}

/// The custody service of a test site in `dir` (keys, exports and footage below it).
pub async fn custody(
    store: &Store,
    clock: Arc<dyn roeh_domain::Clock>,
    dir: &std::path::Path,
) -> Arc<roeh_custody::Custody> {
    roeh_custody::Custody::open(
        store.clone(),
        clock,
        roeh_custody::CustodyConfig {
            keys_dir: dir.join("keys"),
            exports_dir: dir.join("exports"),
            footage_root: dir.join("footage"),
            origin: "roeh:test".into(),
            checkpoint_every: std::time::Duration::from_secs(60),
        },
    )
    .await
    .unwrap()
}
