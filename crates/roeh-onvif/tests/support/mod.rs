//! Helpers shared by the integration tests of roeh-onvif: the recorded device answers under
//! `tests/fixtures/` and the HTTP replies of the fake devices that serve them.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use std::path::PathBuf;

/// The ONVIF operations the fake devices answer; onboarding a camera calls each of them.
pub const OPERATIONS: [&str; 7] = [
    "GetSystemDateAndTime",
    "GetDeviceInformation",
    "GetCapabilities",
    "GetServices",
    "GetProfiles",
    "GetStreamUri",
    "GetSnapshotUri",
];

/// A recorded answer by file name (under `tests/fixtures/`).
pub fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A SOAP 1.2 reply with `status`.
pub fn soap_reply(status: StatusCode, xml: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")
        .body(Body::from(xml))
        .unwrap()
}
