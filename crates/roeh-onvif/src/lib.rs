//! A small, hardened ONVIF Profile S client: WS-Discovery, the device service and the media
//! service, enough to onboard a camera (device information, clock offset, profiles, stream and
//! snapshot URIs, and a chosen main and sub profile), and the PTZ service for an operator's pan,
//! tilt, zoom and presets.
//!
//! Every peer is treated as hostile (TRUST S1, S3, S4, S7). Invariants kept by this crate:
//! - **Egress**: no connection is made and no URI is returned unless its host is an IP inside
//!   [`NetPolicy::allowed`]. Host names are resolved once; every resolved address must be allowed
//!   and the first one is pinned (connected to, or written into the returned URI). Loopback is
//!   allowed only when the allow-list contains it. Redirects are never followed.
//! - **XML**: replies are parsed with `quick-xml` as a stream of events; a `<!DOCTYPE` (and so any
//!   `<!ENTITY`) refuses the whole reply, only the five predefined entities and character
//!   references are expanded, and depth and element count are bounded.
//! - **Size and time**: a reply body is read incrementally and refused past
//!   [`NetPolicy::max_reply_bytes`]; each request has a connect timeout and a total timeout, so a
//!   device that stalls mid-reply fails with [`roeh_domain::ErrorKind::DeadlineExceeded`].
//! - **Secrets**: the password is only ever an input to digests; it never appears in a URL, a log
//!   line or an error. Stream URIs carrying user-info have it stripped (see [`media`]).
//! - **Device strings** (manufacturer, model, names, scopes) are length-capped and stripped of
//!   control and bidirectional-override characters; they are still untrusted text for any UI.
//! - **Discovery** returns candidates only; nothing is onboarded without an operator's approval.
//!
//! Onboarding on the site's database ([`onboard`](mod@onboard): discovery into the list awaiting
//! approval, adding a device as a camera) and the clients kept for turning cameras ([`clients`])
//! build on the client; the HTTP routes and the command line call them. With the feature
//! `schema`, the JSON shapes ([`DiscoveredView`], [`AddRequest`]) derive `schemars::JsonSchema`.

pub mod auth;
pub mod client;
pub mod clients;
pub mod discovery;
mod http;
pub mod media;
pub mod onboard;
pub mod policy;
pub mod ptz;
mod sanitize;
#[cfg(feature = "schema")]
pub mod schema;
mod soap;
mod xml;

roeh_domain::define_error!();

pub use client::{DeviceInfo, DeviceSummary, OnvifClient};
pub use clients::PtzClients;
pub use discovery::{DiscoveredDevice, DiscoveryOptions, DiscoveryScopes, discover};
pub use media::{MediaProfile, SelectionRule, VideoEncoding, select_profiles};
pub use onboard::{
    AddRequest, DiscoveredView, Onboarded, OnvifSettings, discover_and_record, onboard,
};
pub use policy::{Cidr, NetPolicy};
pub use ptz::{PtzPreset, PtzStatus, PtzVector};
pub use sanitize::MAX_DEVICE_STRING_CHARS;

type Result<T, E = Error> = std::result::Result<T, E>;
