//! The one route table: every route of the API with its handler, its access policy and what the
//! OpenAPI document says of it, written in one place ([`entries`]).
//!
//! Invariants:
//! - [`crate::router`] mounts exactly the routes of the table, [`crate::auth::authenticate`]
//!   takes each route's policy from it ([`find`]) and [`crate::openapi::document`] describes
//!   exactly those routes: a route cannot be served without a policy and a description, nor
//!   described without being served;
//! - an entry names its policy and its answer (the constructor takes both, so neither can be left
//!   out); its query parameters and its JSON request body are read from the handler's own
//!   extractors ([`Input`]: `ApiQuery<T>` and `ApiJson<T>` describe `T`), so the document lists
//!   what the handler parses. An entry overrides the body only where the handler reads raw
//!   bytes or raw JSON that another crate parses ([`Route::reads`]);
//! - the table's order is the document's and the audit matrix's order.

use crate::auth::Policy;
use crate::extract::{ApiJson, ApiQuery};
use crate::{AppState, alerts, auth, cameras, detection, evidence, export};
use crate::{
    live, metrics, onvif, openapi, ptz, push, raise, recordings, reports, stats, webhooks, weekly,
};
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use roeh_auth::Permission as P;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use std::collections::HashMap;
use std::sync::LazyLock;

/// A schema from a generator: how a table entry names a type without holding a value of it.
pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a route answers on success.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// JSON of a derived type.
    Json(SchemaFn),
    /// JSON the handler is handed as built elsewhere (marked untyped in the document).
    Untyped,
    /// 204, no body.
    NoContent,
    /// A body of another media type: binary, or text where `text`.
    Media {
        /// The media type.
        media: &'static str,
        /// What it is, for people.
        what: &'static str,
        /// A text body rather than bytes.
        text: bool,
    },
    /// A WebSocket (101); `message`: the schema of each text message, if they are JSON.
    Upgrade {
        /// What flows, for people.
        what: &'static str,
        /// Schema of each message.
        message: Option<SchemaFn>,
    },
    /// Server-sent events, each event's data of schema `message`.
    EventStream {
        /// What flows, for people.
        what: &'static str,
        /// Schema of each event's data.
        message: SchemaFn,
    },
}

/// JSON of type `T`.
fn json<T: JsonSchema>() -> Answer {
    Answer::Json(schema_of::<T>)
}

fn media(media: &'static str, what: &'static str) -> Answer {
    Answer::Media {
        media,
        what,
        text: false,
    }
}

/// A JSON request body as the document states it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Body {
    /// The schema of a derived type; `required`: an empty body is refused.
    Typed { schema: SchemaFn, required: bool },
    /// JSON of no stated shape (`serde_json::Value`): marked untyped.
    Untyped,
    /// A required text body of another media type, read as bytes by the handler.
    Text {
        /// The media type.
        media: &'static str,
        /// What it is, for people.
        what: &'static str,
    },
}

/// What a handler's extractors say of a request: its query parameters (each with its schema,
/// required or not) and its JSON body.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// The query string's type, if the handler parses one.
    pub(crate) query: Option<SchemaFn>,
    /// The body, if the handler parses JSON.
    pub(crate) body: Option<Body>,
}

/// An extractor's part in the document. Every extractor a handler of the table takes implements
/// it (a handler with another extractor does not compile into the table); only [`ApiQuery`] and
/// [`ApiJson`] add anything.
pub(crate) trait Input {
    /// Adds what this extractor reads to `inputs`.
    fn describe(inputs: &mut Inputs) {
        let _ = inputs;
    }
}

impl<T: JsonSchema> Input for ApiQuery<T> {
    fn describe(inputs: &mut Inputs) {
        inputs.query = Some(schema_of::<T>);
    }
}

impl<T: JsonSchema + 'static> Input for ApiJson<T> {
    fn describe(inputs: &mut Inputs) {
        inputs.body = Some(
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<serde_json::Value>() {
                Body::Untyped
            } else {
                Body::Typed {
                    schema: schema_of::<T>,
                    required: true,
                }
            },
        );
    }
}

impl<T> Input for axum::extract::State<T> {}
impl<T> Input for axum::extract::Path<T> {}
impl<T> Input for axum::Extension<T> {}
impl<T> Input for axum::extract::ConnectInfo<T> {}
/// An optional or fallible extractor reads what the extractor reads (a handler taking
/// `Result<ApiJson<T>, _>` still parses `T`, refusing the request its own way).
impl<T: Input> Input for Option<T> {
    fn describe(inputs: &mut Inputs) {
        T::describe(inputs);
    }
}

impl<T: Input, E> Input for Result<T, E> {
    fn describe(inputs: &mut Inputs) {
        T::describe(inputs);
    }
}
impl Input for axum::http::HeaderMap {}
impl Input for axum::extract::ws::WebSocketUpgrade {}
/// Raw bytes: the entry states the body ([`Route::reads`]).
impl Input for bytes::Bytes {}

/// A handler whose every argument is an [`Input`].
pub(crate) trait Described<X> {
    /// What the handler's extractors read.
    fn inputs() -> Inputs;
}

macro_rules! described {
    ($($a:ident),*) => {
        impl<F, Fut, $($a,)*> Described<($($a,)*)> for F
        where
            F: FnOnce($($a,)*) -> Fut,
            $($a: Input,)*
        {
            fn inputs() -> Inputs {
                #[allow(unused_mut)]
                let mut i = Inputs::default();
                $(<$a as Input>::describe(&mut i);)*
                i
            }
        }
    };
}

described!();
described!(A1);
described!(A1, A2);
described!(A1, A2, A3);
described!(A1, A2, A3, A4);
described!(A1, A2, A3, A4, A5);
described!(A1, A2, A3, A4, A5, A6);
described!(A1, A2, A3, A4, A5, A6, A7);

/// One route: method, template, policy, and what the document says of it.
#[derive(Debug)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The route template, e.g. `/api/alerts/{id}`.
    pub path: &'static str,
    /// Who may call it.
    pub policy: Policy,
    /// What it answers on success.
    pub answer: Answer,
    /// What the handler's extractors read.
    pub(crate) inputs: Inputs,
    /// Audited even when it changes nothing: a view or download of footage.
    pub view_of_footage: bool,
    /// Pages with a cursor (see [`crate::openapi::PAGINATION`]).
    pub paged: bool,
}

impl Route {
    /// `(method, template)`, as the audit matrix and tests name routes.
    pub fn key(&self) -> (&str, &'static str) {
        (self.method.as_str(), self.path)
    }
}

/// A route with its handler.
pub(crate) struct Entry {
    pub(crate) route: Route,
    pub(crate) handler: MethodRouter<AppState>,
}

impl Entry {
    /// See [`Route::view_of_footage`].
    fn footage(mut self) -> Self {
        self.route.view_of_footage = true;
        self
    }

    /// See [`Route::paged`].
    fn paged(mut self) -> Self {
        self.route.paged = true;
        self
    }

    /// The request body where the handler reads raw bytes or raw JSON parsed elsewhere: the
    /// schema of `T`; `required: false` where an empty body means `{}`.
    fn reads<T: JsonSchema>(mut self, required: bool) -> Self {
        self.route.inputs.body = Some(Body::Typed {
            schema: schema_of::<T>,
            required,
        });
        self
    }

    /// The request body where the handler reads a text file of `media` (`what`: for people),
    /// up to [`crate::MAX_TEXT_BODY_BYTES`] rather than the JSON bodies' cap.
    fn reads_text(mut self, media: &'static str, what: &'static str) -> Self {
        self.route.inputs.body = Some(Body::Text { media, what });
        self.handler = self.handler.layer(axum::extract::DefaultBodyLimit::max(
            crate::MAX_TEXT_BODY_BYTES,
        ));
        self
    }
}

/// An entry: `method path` served by `handler` under `policy`, answering `answer`.
fn route<H, T, X>(
    method: Method,
    path: &'static str,
    handler: H,
    policy: Policy,
    answer: Answer,
) -> Entry
where
    H: Handler<T, AppState> + Described<X>,
    T: 'static,
{
    let inputs = <H as Described<X>>::inputs();
    let handler = match method {
        Method::GET => axum::routing::get(handler),
        Method::POST => axum::routing::post(handler),
        Method::PUT => axum::routing::put(handler),
        Method::DELETE => axum::routing::delete(handler),
        // No route of the table has another method; one would answer 405, which the test of
        // the router's routes reports.
        _ => MethodRouter::new(),
    };
    Entry {
        route: Route {
            method,
            path,
            policy,
            answer,
            inputs,
            view_of_footage: false,
            paged: false,
        },
        handler,
    }
}

/// An alert action (claim, acknowledge, resolve, false alarm, escalate): handled by whoever
/// handles alerts, answering the alert; an empty body is `{}`.
fn action<H, T, X>(method: Method, path: &'static str, handler: H) -> Entry
where
    H: Handler<T, AppState> + Described<X>,
    T: 'static,
{
    route(
        method,
        path,
        handler,
        Policy::Needs(P::HandleAlerts),
        json::<alerts::AlertSummary>(),
    )
    .reads::<alerts::ActionBody>(false)
}

/// Every route of the API, in the document's order.
pub(crate) fn entries() -> Vec<Entry> {
    use Method as M;
    use Policy::{Needs, Public, SignedIn};
    let (get, post, put, delete) = (M::GET, M::POST, M::PUT, M::DELETE);
    let needs = Needs;
    vec![
        route(
            get.clone(),
            "/api/health",
            crate::health,
            Public,
            json::<crate::Health>(),
        ),
        route(
            post.clone(),
            "/api/auth/setup",
            auth::setup,
            Public,
            json::<auth::SetupView>(),
        ),
        route(
            post.clone(),
            "/api/auth/login",
            auth::login,
            Public,
            json::<auth::LoginView>(),
        ),
        route(
            post.clone(),
            "/api/auth/device",
            auth::device,
            Public,
            json::<auth::LoginView>(),
        ),
        route(
            post.clone(),
            "/api/auth/logout",
            auth::logout,
            SignedIn,
            Answer::NoContent,
        ),
        route(
            get.clone(),
            "/api/auth/me",
            auth::me,
            SignedIn,
            json::<auth::MeView>(),
        ),
        route(
            get.clone(),
            "/api/users",
            auth::list_users,
            needs(P::ManageUsers),
            json::<Vec<auth::UserView>>(),
        ),
        route(
            post.clone(),
            "/api/users",
            auth::create_user,
            needs(P::ManageUsers),
            json::<auth::UserView>(),
        ),
        route(
            post.clone(),
            "/api/users/{id}/disable",
            auth::disable_user,
            needs(P::ManageUsers),
            json::<auth::DisabledView>(),
        ),
        route(
            post.clone(),
            "/api/users/{id}/tokens",
            auth::create_token,
            needs(P::ManageUsers),
            json::<auth::TokenView>(),
        ),
        route(
            get.clone(),
            "/api/users/{id}/tokens",
            auth::list_tokens,
            needs(P::ManageUsers),
            json::<Vec<auth::TokenInfoView>>(),
        ),
        route(
            delete.clone(),
            "/api/users/{id}/tokens/{token}",
            auth::revoke_token,
            needs(P::ManageUsers),
            Answer::NoContent,
        ),
        route(
            post.clone(),
            "/api/users/{id}/access",
            auth::set_access,
            needs(P::ManageUsers),
            json::<auth::UserView>(),
        ),
        route(
            get.clone(),
            "/api/storage",
            cameras::storage,
            needs(P::ManageCameras),
            json::<cameras::StorageView>(),
        ),
        route(
            put.clone(),
            "/api/cameras/{id}/retention",
            cameras::set_retention,
            needs(P::ManageUsers),
            json::<cameras::CameraView>(),
        ),
        route(
            get.clone(),
            "/api/audit",
            auth::audit,
            needs(P::ViewAudit),
            json::<Vec<auth::AuditView>>(),
        )
        .paged(),
        route(
            get.clone(),
            "/api/cameras",
            cameras::list,
            needs(P::ViewCameras),
            json::<Vec<cameras::CameraView>>(),
        ),
        route(
            post.clone(),
            "/api/cameras",
            cameras::add,
            needs(P::ManageCameras),
            json::<cameras::CameraView>(),
        ),
        route(
            get.clone(),
            "/api/cameras/{id}",
            cameras::get,
            needs(P::ViewCameras),
            json::<cameras::CameraView>(),
        ),
        route(
            delete.clone(),
            "/api/cameras/{id}",
            cameras::remove,
            needs(P::ManageCameras),
            json::<cameras::RemovedView>(),
        ),
        route(
            get.clone(),
            "/api/cameras/{id}/segments",
            recordings::segments,
            needs(P::ViewFootage),
            json::<Vec<recordings::SegmentView>>(),
        ),
        route(
            get.clone(),
            "/api/cameras/{id}/gaps",
            recordings::gaps,
            needs(P::ViewFootage),
            json::<Vec<recordings::GapView>>(),
        ),
        route(
            get.clone(),
            "/api/cameras/{id}/mp4",
            export::mp4,
            needs(P::ViewFootage),
            media("video/mp4", "Recorded footage."),
        )
        .footage(),
        route(
            get.clone(),
            "/api/cameras/{id}/live",
            live::ws,
            needs(P::ViewLive),
            Answer::Upgrade {
                what: "WebSocket of live video: binary messages, each a 4-byte big-endian \
                       header length, a JSON header (`init`: codec, width, height; `frame`: t \
                       (90 kHz), wall (µs since 1970), key), then fragmented MP4 (an \
                       initialisation segment or one picture's moof+mdat) for Media Source \
                       Extensions.",
                message: None,
            },
        )
        .footage(),
        // Whoever may watch a camera live may aim it; every command is audited (crate::ptz).
        route(
            get.clone(),
            "/api/cameras/{id}/ptz",
            ptz::get,
            needs(P::ViewLive),
            json::<ptz::PtzView>(),
        ),
        route(
            post.clone(),
            "/api/cameras/{id}/ptz/move",
            ptz::r#move,
            needs(P::ViewLive),
            json::<ptz::PtzView>(),
        ),
        route(
            post.clone(),
            "/api/cameras/{id}/ptz/stop",
            ptz::stop,
            needs(P::ViewLive),
            json::<ptz::PtzView>(),
        ),
        route(
            post.clone(),
            "/api/cameras/{id}/ptz/home",
            ptz::home,
            needs(P::ViewLive),
            json::<ptz::PtzView>(),
        ),
        route(
            post.clone(),
            "/api/cameras/{id}/ptz/presets/{preset}",
            ptz::preset,
            needs(P::ViewLive),
            json::<ptz::PtzView>(),
        ),
        route(
            get.clone(),
            "/api/cameras/{id}/detections",
            detection::detections,
            needs(P::ViewLive),
            json::<detection::DetectionsView>(),
        ),
        route(
            get.clone(),
            "/api/cameras/{id}/analysis",
            detection::get_analysis,
            needs(P::ViewCameras),
            json::<detection::AnalysisView>(),
        ),
        route(
            put.clone(),
            "/api/cameras/{id}/analysis",
            detection::put_analysis,
            needs(P::ManageHotspotsRules),
            json::<detection::AnalysisView>(),
        ),
        route(
            get.clone(),
            "/api/hotspots",
            detection::list_hotspots,
            needs(P::ViewIncidents),
            json::<Vec<detection::HotspotView>>(),
        ),
        // Hotspot and rule documents are read as JSON and parsed by roeh-rules, whose schemas
        // describe what its parsers accept.
        route(
            post.clone(),
            "/api/hotspots",
            detection::add_hotspot,
            needs(P::ManageHotspotsRules),
            json::<detection::HotspotView>(),
        )
        .reads::<roeh_rules::schema::Hotspot>(true),
        route(
            get.clone(),
            "/api/hotspots/{id}",
            detection::get_hotspot,
            needs(P::ViewIncidents),
            json::<detection::HotspotView>(),
        ),
        route(
            put.clone(),
            "/api/hotspots/{id}",
            detection::put_hotspot,
            needs(P::ManageHotspotsRules),
            json::<detection::HotspotView>(),
        )
        .reads::<roeh_rules::schema::Hotspot>(true),
        route(
            delete.clone(),
            "/api/hotspots/{id}",
            detection::delete_hotspot,
            needs(P::ManageHotspotsRules),
            Answer::NoContent,
        ),
        route(
            post.clone(),
            "/api/schedules/preview",
            detection::preview_schedule,
            needs(P::ManageHotspotsRules),
            json::<detection::PreviewView>(),
        ),
        route(
            get.clone(),
            "/api/rules",
            detection::list_rules,
            needs(P::ViewIncidents),
            json::<Vec<detection::RuleView>>(),
        ),
        route(
            post.clone(),
            "/api/rules",
            detection::add_rule,
            needs(P::ManageHotspotsRules),
            json::<detection::RuleView>(),
        )
        .reads::<roeh_rules::schema::Rule>(true),
        route(
            get.clone(),
            "/api/rules/{id}",
            detection::get_rule,
            needs(P::ViewIncidents),
            json::<detection::RuleView>(),
        ),
        route(
            put.clone(),
            "/api/rules/{id}",
            detection::put_rule,
            needs(P::ManageHotspotsRules),
            json::<detection::RuleView>(),
        )
        .reads::<roeh_rules::schema::Rule>(true),
        route(
            delete.clone(),
            "/api/rules/{id}",
            detection::delete_rule,
            needs(P::ManageHotspotsRules),
            Answer::NoContent,
        ),
        route(
            get.clone(),
            "/api/incidents",
            detection::list_incidents,
            needs(P::ViewIncidents),
            json::<Vec<detection::IncidentView>>(),
        )
        .paged(),
        route(
            get.clone(),
            "/api/incidents/{id}",
            detection::get_incident,
            needs(P::ViewIncidents),
            json::<detection::IncidentView>(),
        ),
        route(
            get.clone(),
            "/api/incidents/{id}/snapshot",
            detection::snapshot,
            needs(P::ViewIncidents),
            media("image/jpeg", "Snapshot."),
        )
        .footage(),
        // The figures come from the running analytics as it builds them.
        route(
            get.clone(),
            "/api/analytics/stats",
            detection::stats,
            needs(P::ViewStatus),
            Answer::Untyped,
        ),
        route(
            get.clone(),
            "/api/cameras/{id}/onvif",
            onvif::camera_onvif,
            needs(P::ViewCameras),
            json::<onvif::OnvifView>(),
        ),
        route(
            post.clone(),
            "/api/onvif/discover",
            onvif::discover,
            needs(P::OnvifOnboard),
            json::<Vec<onvif::DiscoveredView>>(),
        ),
        route(
            get.clone(),
            "/api/onvif/discovered",
            onvif::discovered,
            needs(P::OnvifOnboard),
            json::<Vec<onvif::DiscoveredView>>(),
        ),
        route(
            post.clone(),
            "/api/onvif/discovered/{id}/dismiss",
            onvif::dismiss,
            needs(P::OnvifOnboard),
            json::<onvif::DiscoveredView>(),
        ),
        route(
            post.clone(),
            "/api/onvif/add",
            onvif::add,
            needs(P::OnvifOnboard),
            json::<onvif::Added>(),
        ),
        route(
            post.clone(),
            "/api/onvif/profiles",
            onvif::profiles,
            needs(P::OnvifOnboard),
            json::<onvif::DeviceProfiles>(),
        ),
        route(
            get.clone(),
            "/api/keys",
            evidence::keys,
            needs(P::ViewEvidenceLog),
            json::<Vec<evidence::KeyView>>(),
        ),
        route(
            get.clone(),
            "/api/log/checkpoint",
            evidence::latest_checkpoint,
            needs(P::ViewEvidenceLog),
            json::<evidence::CheckpointView>(),
        ),
        route(
            post.clone(),
            "/api/log/checkpoint",
            evidence::sign_checkpoint,
            needs(P::ExportEvidence),
            json::<evidence::CheckpointView>(),
        ),
        route(
            get.clone(),
            "/api/log/consistency",
            evidence::consistency,
            needs(P::ViewEvidenceLog),
            json::<evidence::ConsistencyView>(),
        ),
        route(
            get.clone(),
            "/api/holds",
            evidence::holds,
            needs(P::ManageHolds),
            json::<Vec<evidence::HoldView>>(),
        ),
        route(
            post.clone(),
            "/api/holds",
            evidence::place_hold,
            needs(P::ManageHolds),
            json::<evidence::HoldView>(),
        ),
        route(
            post.clone(),
            "/api/holds/{id}/clear",
            evidence::clear_hold,
            needs(P::ManageHolds),
            json::<evidence::ClearedView>(),
        ),
        // The custody log of a hold's or an export's case (reached through one of its objects,
        // so the caller's scope decides as for the object itself).
        route(
            get.clone(),
            "/api/holds/{id}/custody",
            evidence::hold_custody,
            needs(P::ViewEvidenceLog),
            json::<evidence::CustodyLogView>(),
        ),
        route(
            get.clone(),
            "/api/exports",
            evidence::exports,
            needs(P::ExportEvidence),
            json::<Vec<evidence::ExportView>>(),
        )
        .paged(),
        route(
            post.clone(),
            "/api/exports",
            evidence::start_export,
            needs(P::ExportEvidence),
            json::<evidence::ExportView>(),
        ),
        route(
            get.clone(),
            "/api/exports/{id}",
            evidence::export,
            needs(P::ExportEvidence),
            json::<evidence::ExportView>(),
        ),
        route(
            get.clone(),
            "/api/exports/{id}/download",
            evidence::download,
            needs(P::ExportEvidence),
            media("application/zip", "Evidence bundle."),
        )
        .footage(),
        route(
            get.clone(),
            "/api/exports/{id}/custody",
            evidence::export_custody,
            needs(P::ViewEvidenceLog),
            json::<evidence::CustodyLogView>(),
        ),
        route(
            get.clone(),
            "/api/alerts",
            alerts::list,
            needs(P::HandleAlerts),
            json::<Vec<alerts::AlertSummary>>(),
        )
        .paged(),
        route(
            post.clone(),
            "/api/alerts",
            raise::raise,
            needs(P::HandleAlerts),
            json::<raise::RaisedView>(),
        ),
        route(
            get.clone(),
            "/api/alerts/precision",
            alerts::precision,
            needs(P::ViewIncidents),
            json::<Vec<alerts::PrecisionView>>(),
        ),
        route(
            get.clone(),
            "/api/reports/response-times",
            reports::response_times,
            needs(P::ViewIncidents),
            json::<reports::ResponseTimesReport>(),
        ),
        route(
            get.clone(),
            "/api/reports/weekly",
            weekly::weekly_report,
            needs(P::ViewIncidents),
            media(
                "application/pdf",
                "The week's report for the enforcement forum: an A4 PDF, or with format=csv every table of it as CSV.",
            ),
        ),
        route(
            get.clone(),
            "/api/reports",
            weekly::list_reports,
            needs(P::ViewIncidents),
            json::<Vec<weekly::ReportFile>>(),
        ),
        route(
            get.clone(),
            "/api/reports/files/{id}",
            weekly::report_file,
            needs(P::ViewIncidents),
            media("application/pdf", "A report made at the configured time each week (PDF or CSV)."),
        ),
        route(
            get.clone(),
            "/api/stats/incidents",
            stats::incidents,
            needs(P::ViewIncidents),
            json::<stats::IncidentStats>(),
        ),
        route(
            get.clone(),
            "/api/stats/alerts",
            stats::alerts,
            needs(P::ViewIncidents),
            json::<stats::AlertStats>(),
        ),
        route(
            get.clone(),
            "/api/stats/external",
            stats::external_counts,
            needs(P::ViewIncidents),
            json::<stats::ExternalStats>(),
        ),
        route(
            get.clone(),
            "/api/stats/imports",
            stats::list_imports,
            needs(P::ViewIncidents),
            json::<Vec<stats::ImportView>>(),
        ),
        route(
            post.clone(),
            "/api/stats/imports",
            stats::import,
            needs(P::ManageHotspotsRules),
            json::<stats::ImportView>(),
        )
        .reads_text("text/csv", "Counts from another source: CSV with the columns area, period_start, period_end, category, count."),
        route(
            get.clone(),
            "/api/stats/public",
            stats::public,
            needs(P::ViewIncidents),
            json::<stats::PublicStats>(),
        ),
        route(
            get.clone(),
            "/api/operations",
            stats::list_operations,
            needs(P::ViewIncidents),
            json::<Vec<stats::OperationView>>(),
        ),
        route(
            post.clone(),
            "/api/operations",
            stats::add_operation,
            needs(P::ManageHotspotsRules),
            json::<stats::OperationView>(),
        ),
        route(
            delete.clone(),
            "/api/operations/{id}",
            stats::delete_operation,
            needs(P::ManageHotspotsRules),
            Answer::NoContent,
        ),
        route(
            get.clone(),
            "/api/operations/{id}/effect",
            stats::effect,
            needs(P::ViewIncidents),
            json::<stats::EffectView>(),
        ),
        route(
            get.clone(),
            "/api/alerts/{id}",
            alerts::get,
            needs(P::HandleAlerts),
            json::<alerts::AlertDetail>(),
        ),
        // A signed, short-lived link checked by the handler (alerts::clip), for units' players.
        route(
            get.clone(),
            "/api/alerts/{id}/clip",
            alerts::clip,
            Public,
            media("video/mp4", "Recorded footage."),
        )
        .footage(),
        action(post.clone(), "/api/alerts/{id}/claim", alerts::claim),
        action(
            post.clone(),
            "/api/alerts/{id}/acknowledge",
            alerts::acknowledge,
        ),
        route(
            post.clone(),
            "/api/alerts/{id}/dispatch",
            alerts::dispatch,
            needs(P::DispatchUnits),
            json::<alerts::DispatchedView>(),
        ),
        route(
            post.clone(),
            "/api/alerts/{id}/note",
            alerts::note,
            needs(P::HandleAlerts),
            json::<alerts::NoteView>(),
        ),
        action(post.clone(), "/api/alerts/{id}/resolve", alerts::resolve),
        action(
            post.clone(),
            "/api/alerts/{id}/false-alarm",
            alerts::false_alarm,
        ),
        action(post.clone(), "/api/alerts/{id}/escalate", alerts::escalate),
        route(
            get.clone(),
            "/api/units",
            alerts::list_units,
            needs(P::DispatchUnits),
            json::<alerts::UnitsView>(),
        ),
        route(
            post.clone(),
            "/api/units",
            alerts::register_unit,
            needs(P::DispatchUnits),
            json::<alerts::RegisteredView>(),
        ),
        route(
            post.clone(),
            "/api/units/me/position",
            alerts::my_position,
            needs(P::UnitReceipts),
            Answer::NoContent,
        ),
        route(
            post.clone(),
            "/api/units/me/status",
            alerts::my_status,
            needs(P::UnitReceipts),
            Answer::NoContent,
        ),
        route(
            post.clone(),
            "/api/units/me/receipts",
            alerts::my_receipt,
            needs(P::UnitReceipts),
            json::<alerts::ReceiptView>(),
        ),
        route(
            get.clone(),
            "/api/units/me/alerts",
            alerts::my_alerts,
            needs(P::UnitReceipts),
            json::<alerts::MyAlertsView>(),
        ),
        route(
            get.clone(),
            "/api/units/me/alerts/{id}/snapshot",
            alerts::my_snapshot,
            needs(P::UnitReceipts),
            media("image/jpeg", "Snapshot."),
        )
        .footage(),
        // Operators and units alike; the handler picks what each may see.
        route(
            get.clone(),
            "/api/push/ws",
            push::ws,
            SignedIn,
            Answer::Upgrade {
                what: "WebSocket of push messages: each text message is a signed envelope \
                       (`x-roeh-message`).",
                message: Some(schema_of::<roeh_alerts::push::Envelope>),
            },
        ),
        route(
            get.clone(),
            "/api/push/sse",
            push::sse,
            SignedIn,
            Answer::EventStream {
                what: "Server-sent events `alert`, `id:` = event seq; the data of each is a \
                       signed envelope (`x-roeh-message`).",
                message: schema_of::<roeh_alerts::push::Envelope>,
            },
        ),
        route(
            get.clone(),
            "/api/push/key",
            alerts::push_key,
            SignedIn,
            json::<alerts::PushKeyView>(),
        ),
        // Webhooks send every alert of the site out of the building: admins only.
        route(
            get.clone(),
            "/api/webhooks",
            webhooks::list,
            needs(P::ManageUsers),
            json::<Vec<webhooks::WebhookView>>(),
        ),
        route(
            post.clone(),
            "/api/webhooks",
            webhooks::create,
            needs(P::ManageUsers),
            json::<webhooks::WebhookView>(),
        ),
        route(
            delete.clone(),
            "/api/webhooks/{id}",
            webhooks::remove,
            needs(P::ManageUsers),
            Answer::NoContent,
        ),
        route(
            post.clone(),
            "/api/webhooks/{id}/disable",
            webhooks::disable,
            needs(P::ManageUsers),
            json::<webhooks::WebhookView>(),
        ),
        route(
            post.clone(),
            "/api/webhooks/{id}/enable",
            webhooks::enable,
            needs(P::ManageUsers),
            json::<webhooks::WebhookView>(),
        ),
        route(
            get.clone(),
            "/api/webhooks/{id}/deliveries",
            webhooks::deliveries,
            needs(P::ManageUsers),
            json::<Vec<webhooks::DeliveryView>>(),
        )
        .paged(),
        // The API's description: no data, but not part of the public surface (0006, 0009).
        route(
            get.clone(),
            "/api/openapi.json",
            openapi::serve,
            SignedIn,
            json::<openapi::OpenApiDocument>(),
        ),
        // Prometheus scrapers present an API token of a role holding `ViewStatus`.
        route(
            get,
            "/metrics",
            metrics::scrape,
            needs(P::ViewStatus),
            Answer::Media {
                media: metrics::CONTENT_TYPE,
                what: "Prometheus metrics, OpenMetrics text format 1.0.0.",
                text: true,
            },
        ),
    ]
}

/// Indices of the table's routes, by template.
type ByTemplate = HashMap<&'static str, Vec<usize>>;

/// The table without its handlers, built once, with its routes by template.
static TABLE: LazyLock<(Vec<Route>, ByTemplate)> = LazyLock::new(|| {
    let routes: Vec<Route> = entries().into_iter().map(|e| e.route).collect();
    let mut index: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (i, r) in routes.iter().enumerate() {
        index.entry(r.path).or_default().push(i);
    }
    (routes, index)
});

/// Every route, in the table's order.
pub fn all() -> &'static [Route] {
    &TABLE.0
}

/// The route of `method` and `template`, if the table has it.
pub fn find(method: &Method, template: &str) -> Option<&'static Route> {
    let (routes, index) = &*TABLE;
    index
        .get(template)?
        .iter()
        .filter_map(|i| routes.get(*i))
        .find(|r| r.method == *method)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_one_entry_and_found_by_its_method_and_template() {
        let mut seen = std::collections::BTreeSet::new();
        for r in all() {
            assert!(seen.insert(r.key()), "{:?} twice", r.key());
            let found = find(&r.method, r.path).unwrap();
            assert_eq!(found.key(), r.key());
            assert!(
                r.path.starts_with("/api/") || r.path == "/metrics",
                "{}",
                r.path
            );
        }
        assert!(find(&Method::PATCH, "/api/cameras").is_none());
        assert!(find(&Method::GET, "/api/cameras/{camera}").is_none());
        assert!(
            find(&Method::GET, "/api/cameras/123").is_none(),
            "templates only"
        );
    }

    #[test]
    fn footage_views_are_exactly_the_routes_that_show_footage() {
        let views: Vec<_> = all()
            .iter()
            .filter(|r| r.view_of_footage)
            .map(Route::key)
            .collect();
        assert_eq!(
            views,
            vec![
                ("GET", "/api/cameras/{id}/mp4"),
                ("GET", "/api/cameras/{id}/live"),
                ("GET", "/api/incidents/{id}/snapshot"),
                ("GET", "/api/exports/{id}/download"),
                ("GET", "/api/alerts/{id}/clip"),
                ("GET", "/api/units/me/alerts/{id}/snapshot"),
            ]
        );
        // Every route answering media of footage is audited as a view.
        for r in all() {
            if let Answer::Media { media, .. } = r.answer {
                let footage = matches!(media, "video/mp4" | "image/jpeg" | "application/zip");
                assert_eq!(footage, r.view_of_footage, "{:?}", r.key());
            }
        }
    }

    #[test]
    fn inputs_come_from_the_handlers_extractors() {
        let inputs = |m: Method, p: &str| &find(&m, p).unwrap().inputs;
        // `ApiQuery<T>` names the query type, `ApiJson<T>` (also inside a `Result`) the body.
        assert!(inputs(Method::GET, "/api/alerts").query.is_some());
        assert!(inputs(Method::GET, "/api/alerts").body.is_none());
        assert!(matches!(
            inputs(Method::POST, "/api/users/{id}/tokens").body,
            Some(Body::Typed { required: true, .. })
        ));
        // Raw bytes where an empty body means `{}`: stated by the entry, not required.
        assert!(matches!(
            inputs(Method::POST, "/api/alerts/{id}/claim").body,
            Some(Body::Typed {
                required: false,
                ..
            })
        ));
        // No extractor that reads anything: nothing described.
        let health = inputs(Method::GET, "/api/health");
        assert!(health.query.is_none() && health.body.is_none());
        // Every JSON body is typed: none is left as a bare `serde_json::Value`.
        for r in all() {
            assert!(
                !matches!(r.inputs.body, Some(Body::Untyped)),
                "{:?} reads untyped JSON",
                r.key()
            );
        }
    }
}
