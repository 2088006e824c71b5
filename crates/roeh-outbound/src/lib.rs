//! roeh's outbound integrations, each fed from the committed alert events in the store (never
//! from the live push), so a restart or a receiver that is away loses nothing:
//! - [`webhook`]: signed HTTP deliveries from a stored outbox, JSON or CAP 1.2;
//! - [`cap`]: OASIS Common Alerting Protocol 1.2 messages of an alert's life;
//! - [`mqtt`]: alerts, incidents and availability on an MQTT broker (QoS 1, last will).
//!
//! Where they may connect is one egress policy ([`roeh_egress::OutboundPolicy`]): the public
//! internet plus the networks and hosts the site lists.

pub mod cap;
pub mod mqtt;
pub mod webhook;

pub use webhook::{WebhookSettings, WebhookWorker};

roeh_domain::define_error!();

/// This crate's result.
pub type Result<T> = std::result::Result<T, Error>;

impl From<roeh_store::Error> for Error {
    fn from(e: roeh_store::Error) -> Self {
        Error::new(e.kind(), e.chain())
    }
}
