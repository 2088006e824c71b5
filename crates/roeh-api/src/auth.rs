//! Authentication, authorisation and the audit trail of the HTTP API.
//!
//! Invariants:
//! - every routed request passes [`authenticate`] (a route layer, so it knows the matched route
//!   template): the route's policy comes from [`route_policy`]; a route without a policy is
//!   refused (fail closed), so a new route cannot be reachable by accident;
//! - credentials come only from an `Authorization: Bearer` header or the session cookie; a token
//!   in the query string is refused; a cookie-authenticated state change needs the CSRF header;
//! - a camera id in the path is checked against the caller's scope: out of scope answers exactly
//!   like a camera that does not exist (404, same message);
//! - every state change, every refused request, every login and every view of footage is
//!   appended to the audit log (who, role, what, target, outcome, status, why — the `why` from an
//!   optional `X-Roeh-Reason` header), after the handler ran, so the status is the real one;
//! - no default credentials: the first admin is created with the one-time setup token printed at
//!   the first start ([`setup`]).

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use roeh_auth::{
    CSRF_HEADER, CookieConfig, CsrfKey, HashParams, LimiterConfig, LoginLimiter, PasswordHasher,
    Permission, Principal, Role, Scope,
};
use roeh_domain::{CameraId, ErrorKind, WallTime};
use roeh_store::{AuditFilter, NewAudit, NewToken, NewUser, TokenKind, UserRow};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Header carrying the caller's reason for a state change or a view of footage (audited).
pub const REASON_HEADER: &str = "x-roeh-reason";

/// State of authentication, shared by all requests.
#[derive(Debug)]
pub struct AuthState {
    hasher: PasswordHasher,
    limiter: LoginLimiter,
    csrf: CsrfKey,
    cookie: CookieConfig,
}

impl AuthState {
    /// Argon2id with `params`; session cookies marked `Secure` when `secure_cookie` (turn it off
    /// only for a console served over plain HTTP on loopback).
    pub fn new(params: HashParams, secure_cookie: bool) -> Result<AuthState, roeh_auth::Error> {
        Ok(AuthState {
            hasher: PasswordHasher::new(params)?,
            limiter: LoginLimiter::new(LimiterConfig::default()),
            csrf: CsrfKey::generate(),
            cookie: CookieConfig {
                secure: secure_cookie,
            },
        })
    }

    /// Hashes a password (for the CLI and tests that create users).
    pub fn hash_password(&self, password: &str) -> Result<String, roeh_auth::Error> {
        self.hasher.hash(password)
    }
}

impl From<roeh_auth::Error> for ApiError {
    fn from(e: roeh_auth::Error) -> Self {
        ApiError::new(e.kind(), e.message())
    }
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Anyone (health, login, first-admin setup).
    Public,
    /// Any signed-in user.
    SignedIn,
    /// A signed-in user whose role holds the permission.
    Needs(Permission),
}

/// The policy of a route of [`crate::router`], by method and route template, from the route
/// table ([`crate::routes`]). `None`: no route of the table, refused.
pub fn route_policy(method: &Method, path: &str) -> Option<Policy> {
    crate::routes::find(method, path).map(|r| r.policy)
}

/// Whether a request is audited even when it changes nothing: footage views and downloads.
fn is_view_of_footage(method: &Method, path: &str) -> bool {
    crate::routes::find(method, path).is_some_and(|r| r.view_of_footage)
}

/// The client's address, put in every request's extensions by [`authenticate`]
/// (unspecified when the server runs without connection info, as in-process tests do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

fn client_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

fn principal_of(user: &UserRow) -> Result<Principal, ApiError> {
    let role = Role::parse(&user.role)
        .ok_or_else(|| ApiError::new(ErrorKind::DataLoss, "a stored user has an unknown role"))?;
    let scope = Scope::from_json(&user.scope)?;
    Ok(Principal {
        user_id: user.id,
        username: user.username.clone(),
        role,
        scope,
    })
}

/// How the caller presented its credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Bearer,
    /// The console's session cookie, by its token's hash.
    Cookie([u8; 32]),
}

/// Put in a request's extensions by [`authenticate`] when the caller signed in with the
/// console's session cookie: the hash of its token (for its CSRF token).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CookieSession([u8; 32]);

/// Who is calling, from the bearer header or the session cookie (with its CSRF check for state
/// changes). `Ok(None)`: no credentials at all.
async fn identify(
    st: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<(Principal, Via)>, ApiError> {
    let now = st.clock.wall();
    let unauth = || ApiError::new(ErrorKind::Unauthenticated, "invalid or expired credentials");
    if let Some(h) = headers.get(header::AUTHORIZATION) {
        let text = h.to_str().map_err(|_| unauth())?;
        let token = roeh_auth::parse_bearer(text).ok_or_else(unauth)?;
        let hash = roeh_auth::hash_token(token);
        let (user, _) = st
            .store
            .user_for_token(&hash, now)
            .await?
            .ok_or_else(unauth)?;
        return Ok(Some((principal_of(&user)?, Via::Bearer)));
    }
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(token) = st.auth.cookie.session_from_cookie_headers(cookies) else {
        return Ok(None);
    };
    let hash = roeh_auth::hash_token(token);
    let (user, kind) = st
        .store
        .user_for_token(&hash, now)
        .await?
        .ok_or_else(unauth)?;
    if kind != TokenKind::Session {
        return Err(unauth());
    }
    if roeh_auth::needs_csrf(method.as_str()) {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !st.auth.csrf.check_csrf(&hash, presented) {
            return Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "missing or wrong CSRF token",
            ));
        }
    }
    Ok(Some((principal_of(&user)?, Via::Cookie(hash))))
}

/// A console session used from a page of another site: refused (TRUST S16's second line beside
/// `SameSite=Strict`). Browsers send `Origin` on every WebSocket upgrade and cross-site request,
/// so a session cookie that reaches a push stream, an SSE stream or any route from a foreign
/// page is caught here. Bearer tokens are not sent by browsers on their own and are not checked.
fn check_same_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), ApiError> {
    // An unreadable Origin counts as foreign; HTTP/2 carries the host in the URI's authority.
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or(""));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    match roeh_auth::check_origin(origin, host) {
        roeh_auth::OriginCheck::Absent | roeh_auth::OriginCheck::SameOrigin => Ok(()),
        roeh_auth::OriginCheck::Foreign => {
            tracing::warn!(
                origin = %roeh_auth::audit::clean(origin.unwrap_or(""), 256),
                "Refused a console session used from another site."
            );
            Err(ApiError::new(
                ErrorKind::PermissionDenied,
                "cross-site use of a console session refused: the request's Origin is not this site",
            ))
        }
    }
}

/// The camera a route's `{id}` names, for `/api/cameras/{id}…` routes.
fn path_camera(template: &str, uri_path: &str) -> Option<Result<CameraId, ApiError>> {
    if !template.starts_with("/api/cameras/{id}") {
        return None;
    }
    let id = uri_path.strip_prefix("/api/cameras/")?.split('/').next()?;
    Some(CameraId::parse(id).map_err(|_| ApiError::not_found(roeh_auth::NO_SUCH_CAMERA)))
}

/// The route layer: identify, authorise, run, audit.
pub async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let uri_path = req.uri().path().to_string();
    let ip = client_ip(&req);
    req.extensions_mut().insert(ClientIp(ip));
    let reason = req
        .headers()
        .get(REASON_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut who: Option<Principal> = None;
    let outcome: Result<Response, ApiError> = async {
        if req
            .uri()
            .query()
            .is_some_and(roeh_auth::reject_token_in_query)
        {
            return Err(ApiError::invalid(
                "credentials are never accepted in the URL; use the Authorization header",
            ));
        }
        let policy = route_policy(&method, &template).ok_or_else(|| {
            tracing::error!(%method, route = %template, "Route without an access policy refused.");
            ApiError::new(ErrorKind::PermissionDenied, "route has no access policy")
        })?;
        if policy == Policy::Public {
            return Ok(next.run(req).await);
        }
        let headers = req.headers().clone();
        let (p, via) = identify(&st, &method, &headers)
            .await?
            .ok_or_else(|| ApiError::new(ErrorKind::Unauthenticated, "sign in first"))?;
        who = Some(p.clone());
        if let Via::Cookie(hash) = via {
            check_same_origin(&headers, req.uri())?;
            req.extensions_mut().insert(CookieSession(hash));
        }
        if let Policy::Needs(perm) = policy {
            p.check(perm)?;
            if let Some(cam) = path_camera(&template, &uri_path) {
                let cam = cam?;
                // A camera of one of the caller's hotspots is within the scope too.
                crate::reach::require_camera(&st, &p.scope, cam).await?;
            }
        }
        req.extensions_mut().insert(p);
        Ok(next.run(req).await)
    }
    .await;
    let resp = match outcome {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let status = resp.status();
    st.metrics
        .count_request(&template, &method, status.as_u16());
    let audit = method != Method::GET
        || is_view_of_footage(&method, &template)
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN;
    // Login and setup audit themselves (they know the username tried).
    if audit
        && !matches!(
            template.as_str(),
            "/api/auth/login" | "/api/auth/setup" | "/api/auth/device"
        )
    {
        let entry = NewAudit {
            time: st.clock.wall(),
            actor: who
                .as_ref()
                .map_or(roeh_auth::ANONYMOUS.to_string(), |p| p.username.clone()),
            role: who.as_ref().map(|p| p.role.as_str().to_string()),
            action: format!(
                "{method} {}",
                if template.is_empty() { "?" } else { &template }
            ),
            target: Some(roeh_auth::audit::clean(&uri_path, 256)),
            outcome: outcome_of(status).to_string(),
            status: Some(status.as_u16()),
            reason: reason.map(|r| roeh_auth::audit::clean(&r, 2048)),
            source_ip: Some(ip.to_string()),
        };
        if let Err(e) = st.store.append_audit(&entry).await {
            tracing::error!(error = %e.chain(), "Could not append to the audit log.");
        }
    }
    resp
}

fn outcome_of(status: StatusCode) -> &'static str {
    // 101: a WebSocket (push, live video) was opened.
    if status.is_success() || status.is_redirection() || status == StatusCode::SWITCHING_PROTOCOLS {
        "ok"
    } else if status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        "denied"
    } else {
        "error"
    }
}

async fn audit_login(
    st: &AppState,
    user: &str,
    role: Option<Role>,
    ok: bool,
    status: u16,
    ip: IpAddr,
    action: &str,
) {
    let entry = NewAudit {
        time: st.clock.wall(),
        actor: roeh_auth::audit::clean(user, 64),
        role: role.map(|r| r.as_str().to_string()),
        action: action.to_string(),
        target: None,
        outcome: if ok { "ok" } else { "denied" }.to_string(),
        status: Some(status),
        reason: None,
        source_ip: Some(ip.to_string()),
    };
    if let Err(e) = st.store.append_audit(&entry).await {
        tracing::error!(error = %e.chain(), "Could not append to the audit log.");
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetupBody {
    token: String,
    username: String,
    password: String,
}

/// `POST /api/auth/setup`: the one-time setup token creates the first admin.
pub(crate) async fn setup(
    State(st): State<AppState>,
    axum::Extension(ClientIp(ip)): axum::Extension<ClientIp>,
    ApiJson(b): ApiJson<SetupBody>,
) -> Result<Response, ApiError> {
    let now = st.clock.wall();
    if let Err(wait) = st.auth.limiter.attempt("(setup)", ip, now) {
        return Ok(too_many(wait));
    }
    roeh_auth::validate_username(&b.username)?;
    roeh_auth::check_password_policy(&b.password, &b.username)?;
    let hash = st.auth.hasher.hash(&b.password)?;
    let user = NewUser {
        username: b.username.clone(),
        password_hash: hash,
        role: Role::Admin.as_str().to_string(),
        scope: Scope::unrestricted().to_json()?,
    };
    let created = st
        .store
        .consume_setup_token(&roeh_auth::hash_token(&b.token), &user, now)
        .await?;
    let Some(id) = created else {
        audit_login(&st, &b.username, None, false, 403, ip, "setup").await;
        return Err(ApiError::new(
            ErrorKind::PermissionDenied,
            "setup token is wrong or already used",
        ));
    };
    st.auth.limiter.record_success("(setup)", ip, now);
    audit_login(&st, &b.username, Some(Role::Admin), true, 201, ip, "setup").await;
    Ok((
        StatusCode::CREATED,
        Json(SetupView {
            id,
            username: b.username,
            role: Role::Admin.as_str(),
        }),
    )
        .into_response())
}

/// The first admin, created by `POST /api/auth/setup`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct SetupView {
    id: i64,
    username: String,
    #[schemars(with = "roeh_auth::Role")]
    role: &'static str,
}

fn too_many(wait: roeh_auth::RetryAfter) -> Response {
    let mut r = ApiError::new(
        ErrorKind::ResourceExhausted,
        format!("too many attempts; retry in {} s", wait.secs()),
    )
    .into_response();
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = HeaderValue::from_str(&wait.secs().to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
    /// `session` (cookie, for the console; default) or `api` (bearer token in the body).
    #[serde(default)]
    #[schemars(extend("enum" = ["session", "api", null]))]
    kind: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct LoginView {
    username: String,
    #[schemars(with = "roeh_auth::Role")]
    role: &'static str,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
}

/// `POST /api/auth/login`.
pub(crate) async fn login(
    State(st): State<AppState>,
    axum::Extension(ClientIp(ip)): axum::Extension<ClientIp>,
    ApiJson(b): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let kind = match b.kind.as_deref() {
        None => TokenKind::Session,
        Some(k) => TokenKind::parse(k)
            .ok_or_else(|| ApiError::invalid("kind must be \"session\" or \"api\""))?,
    };
    let now = st.clock.wall();
    let name = b.username.trim().to_string();
    if name.is_empty() || name.len() > 64 || b.password.len() > 1024 {
        return Err(ApiError::invalid("username and password are required"));
    }
    if let Err(wait) = st.auth.limiter.attempt(&name, ip, now) {
        audit_login(
            &st,
            &name,
            None,
            false,
            429,
            ip,
            roeh_auth::action::LOGIN_FAILED,
        )
        .await;
        return Ok(too_many(wait));
    }
    let user = st.store.user_by_name(&name).await?;
    let active = user.as_ref().filter(|u| u.disabled_at.is_none());
    let ok = st
        .auth
        .hasher
        .verify_or_dummy(active.map(|u| u.password_hash.as_str()), &b.password);
    let Some(user) = active.filter(|_| ok) else {
        audit_login(
            &st,
            &name,
            None,
            false,
            401,
            ip,
            roeh_auth::action::LOGIN_FAILED,
        )
        .await;
        return Err(ApiError::new(
            ErrorKind::Unauthenticated,
            "wrong username or password",
        ));
    };
    st.auth.limiter.record_success(&name, ip, now);
    issue(&st, user, kind, ip).await
}

/// Signs `user` in with a new token of `kind` (audited as a login): a cookie session with its
/// CSRF token, or a bearer token in the body.
async fn issue(
    st: &AppState,
    user: &UserRow,
    kind: TokenKind,
    ip: IpAddr,
) -> Result<Response, ApiError> {
    let now = st.clock.wall();
    let name = user.username.clone();
    let p = principal_of(user)?;
    let ttl = kind.default_ttl();
    let (text, hash) = roeh_auth::new_token();
    let expires = kind.expires_at(now, ttl);
    st.store
        .create_token(&NewToken {
            hash,
            user_id: user.id,
            kind,
            label: "login".into(),
            created_at: now,
            expires_at: expires,
        })
        .await?;
    audit_login(
        st,
        &name,
        Some(p.role),
        true,
        200,
        ip,
        roeh_auth::action::LOGIN,
    )
    .await;
    let mut view = LoginView {
        username: p.username.clone(),
        role: p.role.as_str(),
        expires_at: expires.to_rfc3339(),
        token: None,
        csrf: None,
    };
    let mut headers = HeaderMap::new();
    match kind {
        TokenKind::Api => view.token = Some(text.expose().to_string()),
        TokenKind::Session => {
            view.csrf = Some(st.auth.csrf.csrf_token_for(&hash));
            let cookie = st.auth.cookie.session_cookie(text.expose(), ttl);
            let v = HeaderValue::from_str(&cookie)
                .map_err(|_| ApiError::new(ErrorKind::Internal, "cookie"))?;
            headers.insert(header::SET_COOKIE, v);
        }
    }
    Ok((headers, Json(view)).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceBody {
    /// A patrol unit's device token, as `POST /api/units` showed it.
    token: String,
}

/// `POST /api/auth/device`: a patrol unit's phone turns the unit's device token into a console
/// session (cookie and CSRF token, as `login` with `kind: "session"`), so the page never keeps
/// the token. Only tokens of units are accepted; attempts count against the login limits of
/// the caller's address.
pub(crate) async fn device(
    State(st): State<AppState>,
    axum::Extension(ClientIp(ip)): axum::Extension<ClientIp>,
    ApiJson(b): ApiJson<DeviceBody>,
) -> Result<Response, ApiError> {
    let now = st.clock.wall();
    // One limiter entry per address: a wrong token from one phone does not lock out the others.
    let key = format!("device-token@{ip}");
    let token = b.token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::invalid("token is required"));
    }
    if let Err(wait) = st.auth.limiter.attempt(&key, ip, now) {
        audit_login(
            &st,
            "device",
            None,
            false,
            429,
            ip,
            roeh_auth::action::LOGIN_FAILED,
        )
        .await;
        return Ok(too_many(wait));
    }
    let found = st
        .store
        .user_for_token(&roeh_auth::hash_token(token), now)
        .await?
        .filter(|(u, kind)| *kind == TokenKind::Api && u.role == Role::Unit.as_str());
    let Some((user, _)) = found else {
        audit_login(
            &st,
            "device",
            None,
            false,
            401,
            ip,
            roeh_auth::action::LOGIN_FAILED,
        )
        .await;
        return Err(ApiError::new(
            ErrorKind::Unauthenticated,
            "unknown or expired device token",
        ));
    };
    st.auth.limiter.record_success(&key, ip, now);
    issue(&st, &user, TokenKind::Session, ip).await
}

/// `POST /api/auth/logout`: revokes the presented token (bearer or cookie).
pub(crate) async fn logout(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = match headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    {
        Some(h) => roeh_auth::parse_bearer(h).map(str::to_string),
        None => st
            .auth
            .cookie
            .session_from_cookie_headers(
                headers
                    .get_all(header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            )
            .map(str::to_string),
    };
    if let Some(t) = token {
        st.store
            .revoke_token(&roeh_auth::hash_token(&t), st.clock.wall())
            .await?;
    }
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&st.auth.cookie.clear_cookie()) {
        h.insert(header::SET_COOKIE, v);
    }
    Ok((h, StatusCode::NO_CONTENT).into_response())
}

/// The caller, as `GET /api/auth/me` shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct MeView {
    id: i64,
    username: String,
    #[schemars(with = "roeh_auth::Role")]
    role: &'static str,
    #[schemars(with = "roeh_auth::Scope")]
    scope: serde_json::Value,
    /// For a console session (cookie): the CSRF token its state changes must send in
    /// `x-roeh-csrf`, so a reloaded page can go on without signing in again. Absent for tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf: Option<String>,
    /// The site's time zone (IANA name, `[alerts] time_zone`): the console shows times in it.
    time_zone: String,
    /// The site's map tile server (`[console] map_tiles`); absent: the plain map only.
    #[serde(skip_serializing_if = "Option::is_none")]
    map_tiles: Option<MapTilesView>,
}

/// A map tile server as the console uses it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct MapTilesView {
    /// XYZ template with `{z}`, `{x}`, `{y}` (Web Mercator tiles).
    url: String,
    /// Credit to show under the map.
    attribution: Option<String>,
    /// Highest zoom level.
    max_zoom: u8,
}

/// `GET /api/auth/me`.
pub(crate) async fn me(
    State(st): State<AppState>,
    session: Option<axum::Extension<CookieSession>>,
    axum::Extension(p): axum::Extension<Principal>,
) -> Json<MeView> {
    let csrf =
        session.map(|axum::Extension(CookieSession(hash))| st.auth.csrf.csrf_token_for(&hash));
    Json(MeView {
        id: p.user_id,
        role: p.role.as_str(),
        scope: serde_json::from_str::<serde_json::Value>(&p.scope.to_json().unwrap_or_default())
            .unwrap_or(serde_json::Value::Null),
        username: p.username,
        csrf,
        time_zone: st.alerts.settings().shifts.time_zone().name().to_string(),
        map_tiles: st.console.map_tiles.as_ref().map(|t| MapTilesView {
            url: t.template().to_string(),
            attribution: t.attribution().map(str::to_string),
            max_zoom: t.max_zoom(),
        }),
    })
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    username: String,
    password: String,
    #[schemars(with = "roeh_auth::Role")]
    role: String,
    /// `{"cameras": [...], "hotspots": [...]}`; absent = unrestricted.
    #[serde(default)]
    #[schemars(with = "Option<roeh_auth::Scope>")]
    scope: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct UserView {
    id: i64,
    username: String,
    #[schemars(with = "roeh_auth::Role")]
    role: String,
    #[schemars(with = "roeh_auth::Scope")]
    scope: serde_json::Value,
    created_at: String,
    disabled_at: Option<String>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        UserView {
            id: u.id,
            scope: serde_json::from_str(&u.scope).unwrap_or(serde_json::Value::Null),
            username: u.username,
            role: u.role,
            created_at: u.created_at.to_rfc3339(),
            disabled_at: u.disabled_at.map(WallTime::to_rfc3339),
        }
    }
}

/// A role and a scope as a request names them (no scope: unrestricted).
fn role_and_scope(
    role: &str,
    scope: Option<&serde_json::Value>,
) -> Result<(Role, Scope), ApiError> {
    let role = Role::parse(role).ok_or_else(|| {
        ApiError::invalid(
            "role must be one of admin, supervisor, operator, investigator, integrator, unit",
        )
    })?;
    let scope = match scope {
        None => Scope::unrestricted(),
        Some(v) => Scope::from_json(&v.to_string())?,
    };
    Ok((role, scope))
}

/// `POST /api/users` (admin).
pub(crate) async fn create_user(
    State(st): State<AppState>,
    ApiJson(b): ApiJson<NewUserBody>,
) -> Result<Response, ApiError> {
    roeh_auth::validate_username(&b.username)?;
    let (role, scope) = role_and_scope(&b.role, b.scope.as_ref())?;
    roeh_auth::check_password_policy(&b.password, &b.username)?;
    let hash = st.auth.hasher.hash(&b.password)?;
    let id = st
        .store
        .create_user(
            &NewUser {
                username: b.username,
                password_hash: hash,
                role: role.as_str().to_string(),
                scope: scope.to_json()?,
            },
            st.clock.wall(),
        )
        .await?;
    let u = st
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user vanished"))?;
    Ok((StatusCode::CREATED, Json(UserView::from(u))).into_response())
}

/// `GET /api/users` (admin).
pub(crate) async fn list_users(
    State(st): State<AppState>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(
        st.store
            .list_users()
            .await?
            .into_iter()
            .map(UserView::from)
            .collect(),
    ))
}

fn user_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid("user id must be an integer"))
}

/// `POST /api/users/{id}/disable` (admin): disables the user and revokes their tokens.
pub(crate) async fn disable_user(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    if st.store.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found("no such user"));
    }
    if !st.store.disable_user(id, st.clock.wall()).await? {
        // The shared error body, like every other refusal.
        return Err(ApiError::new(
            ErrorKind::FailedPrecondition,
            "the user is disabled already",
        ));
    }
    Ok((StatusCode::OK, Json(DisabledView { id, disabled: true })).into_response())
}

/// The answer of `POST /api/users/{id}/disable` (a user disabled already is a 409 with the
/// shared error body).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct DisabledView {
    id: i64,
    disabled: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    label: String,
    /// Days until it expires (default 90).
    #[serde(default)]
    #[schemars(range(min = 1, max = 366))]
    days: Option<u32>,
}

/// `POST /api/users/{id}/tokens` (admin): an API bearer token for a user (API clients, patrol
/// units). The token is shown once.
pub(crate) async fn create_token(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Result<ApiJson<TokenBody>, ApiError>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    let ApiJson(b) = body?;
    let label = b.label.trim();
    if label.is_empty() || label.len() > 100 || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "label is required (1–100 printable characters)",
        ));
    }
    let days = b.days.unwrap_or(90);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid("days must be 1 to 366"));
    }
    if st.store.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found("no such user"));
    }
    let now = st.clock.wall();
    let (text, hash) = roeh_auth::new_token();
    let expires = now.plus(Duration::from_secs(u64::from(days) * 86_400));
    st.store
        .create_token(&NewToken {
            hash,
            user_id: id,
            kind: TokenKind::Api,
            label: label.to_string(),
            created_at: now,
            expires_at: expires,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenView {
            token: text.expose().to_string(),
            expires_at: expires.to_rfc3339(),
        }),
    )
        .into_response())
}

/// Body of `POST /api/users/{id}/access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessBody {
    #[schemars(with = "roeh_auth::Role")]
    role: String,
    /// `{"cameras": [...], "hotspots": [...]}`; absent = unrestricted.
    #[serde(default)]
    #[schemars(with = "Option<roeh_auth::Scope>")]
    scope: Option<serde_json::Value>,
}

/// `POST /api/users/{id}/access` (admin): a user's new role and scope. Their sessions and
/// tokens carry it from their next request (each request reads the user's row); the last
/// enabled admin cannot lose the role.
pub(crate) async fn set_access(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AccessBody>,
) -> Result<Json<UserView>, ApiError> {
    let id = user_id(&id)?;
    let (role, scope) = role_and_scope(&b.role, b.scope.as_ref())?;
    st.store
        .set_user_access(id, role.as_str(), &scope.to_json()?)
        .await?;
    let u = st
        .store
        .user_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(Json(UserView::from(u)))
}

/// A user's token as `GET /api/users/{id}/tokens` lists it: never the token itself.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct TokenInfoView {
    /// The SHA-256 of the token (hex): names it for revoking, and cannot be used in its place.
    id: String,
    /// `session` (a console sign-in) or `api` (a machine's or a patrol unit's token).
    #[schemars(extend("enum" = ["session", "api"]))]
    kind: &'static str,
    label: String,
    created_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    /// To the granularity the server records it.
    last_used_at: Option<String>,
    /// Neither revoked nor expired.
    live: bool,
}

/// `GET /api/users/{id}/tokens` (admin): the user's tokens and sessions, newest first.
pub(crate) async fn list_tokens(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<TokenInfoView>>, ApiError> {
    let id = user_id(&id)?;
    if st.store.user_by_id(id).await?.is_none() {
        return Err(ApiError::not_found("no such user"));
    }
    let now = st.clock.wall();
    let mut out: Vec<TokenInfoView> = st
        .store
        .list_tokens(id)
        .await?
        .into_iter()
        .map(|r| TokenInfoView {
            id: hex::encode(r.token.hash),
            kind: r.token.kind.as_str(),
            label: r.token.label,
            created_at: r.token.created_at.to_rfc3339(),
            expires_at: r.token.expires_at.to_rfc3339(),
            live: r.revoked_at.is_none() && r.token.expires_at > now,
            revoked_at: r.revoked_at.map(WallTime::to_rfc3339),
            last_used_at: r.last_used_at.map(WallTime::to_rfc3339),
        })
        .collect();
    out.reverse();
    Ok(Json(out))
}

/// `DELETE /api/users/{id}/tokens/{token}` (admin): revokes one live token or session of the
/// user, named by its id from the list.
pub(crate) async fn revoke_token(
    State(st): State<AppState>,
    Path((id, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = user_id(&id)?;
    let none = || ApiError::not_found("no such live token of this user");
    let mut hash = [0u8; 32];
    hex::decode_to_slice(&token, &mut hash).map_err(|_| none())?;
    if !st
        .store
        .revoke_user_token(id, &hash, st.clock.wall())
        .await?
    {
        return Err(none());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A new API token, shown once (`POST /api/users/{id}/tokens`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct TokenView {
    /// `roeh_<64 hex>`, for `Authorization: Bearer`.
    token: String,
    /// RFC 3339.
    expires_at: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Only entries of this actor.
    actor: Option<String>,
    /// Only entries of this action.
    action: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    since: Option<String>,
    /// Only entries before this time (RFC 3339).
    until: Option<String>,
    /// Cursor: the last entry id of the previous page.
    before: Option<i64>,
    /// Older name of `before`.
    before_id: Option<i64>,
    /// Page size (default 100, max 1000).
    limit: Option<u32>,
}

/// An audit log entry as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct AuditView {
    id: i64,
    /// RFC 3339.
    time: String,
    /// A username, or `anonymous`.
    actor: String,
    /// The actor's role, when authenticated.
    role: Option<String>,
    /// What: `login`, `export.request`, …
    action: String,
    /// To what: `camera:<id>`, `user:<name>`, …
    target: Option<String>,
    /// `ok`, `denied` or `error`.
    outcome: String,
    /// The HTTP status answered.
    status: Option<u16>,
    /// Why (case number and legal basis for footage and exports).
    reason: Option<String>,
    /// The client's address.
    source_ip: Option<String>,
}

/// `GET /api/audit` (admin, supervisor): newest first, paged by `before` (or `before_id`).
pub(crate) async fn audit(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    let before = match (q.before, q.before_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give the cursor as before or before_id, not both",
            ));
        }
        (b, id) => b.or(id),
    };
    let time = |name: &str, v: Option<String>| -> Result<Option<WallTime>, ApiError> {
        v.map(|s| {
            WallTime::parse(&s)
                .ok_or_else(|| ApiError::invalid(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
    };
    let since = time("since", q.since)?;
    let until = time("until", q.until)?;
    let rows = st
        .store
        .audit(&AuditFilter {
            actor: q.actor,
            action: q.action,
            since,
            until,
            before_id: before,
            limit: crate::page_limit(q.limit)?,
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditView {
                id: r.id,
                time: r.entry.time.to_rfc3339(),
                actor: r.entry.actor,
                role: r.entry.role,
                action: r.entry.action,
                target: r.entry.target,
                outcome: r.entry.outcome,
                status: r.entry.status,
                reason: r.entry.reason,
                source_ip: r.entry.source_ip,
            })
            .collect(),
    ))
}

/// At start-up without users: stores a fresh one-time setup token and returns its text to
/// print; `None` when users exist.
pub async fn prepare_setup(
    store: &roeh_store::Store,
    now: WallTime,
) -> Result<Option<String>, ApiError> {
    let t = roeh_auth::SetupToken::generate();
    if store.ensure_setup_token(&t.hash, now).await? {
        Ok(Some(t.text.expose().to_string()))
    } else {
        Ok(None)
    }
}
