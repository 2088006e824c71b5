//! JSON Schemas of the domain types carried by this crate's JSON shapes (roeh-domain derives
//! none), for an OpenAPI document built with `schemars`. Only their schemas are used: nothing
//! builds these types. With the feature `schema`.

#![allow(dead_code)]

use schemars::JsonSchema;

/// RTP transport for RTSP.
#[derive(Debug, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Interleaved on the RTSP TCP connection (the default).
    Tcp,
    /// RTP over UDP.
    Udp,
}
