//! What this process wrote, told to the services that act on it (docs/design/0016-event-driven-idle.md).
//!
//! A service waits on [`Store::watch`] instead of asking the database on a timer: the store
//! signals a topic after the transaction that wrote it has committed, so a service woken by the
//! signal always finds the rows. A signal carries nothing; it says "look again". Signals that
//! arrive while the service is busy fold into one (a `watch` channel holds only the newest
//! version), so a burst of writes costs one more look, never a queue.
//!
//! Rows written by another process (a second node on one PostgreSQL database, a command such as
//! `roeh history import`) are not signalled here; the services still look on a slow timer of
//! their own for those.

use tokio::sync::watch;

/// A kind of row a service waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// An incident was opened (the alert service gathers incidents into alerts).
    Incidents,
    /// An alert event was appended: an alert raised, merged, changed, noted or dispatched (the
    /// webhook and MQTT senders, the escalation timer).
    AlertEvents,
    /// A webhook subscription was added, changed, enabled or removed, or a delivery was queued
    /// or retried by hand (the webhook sender).
    Webhooks,
}

/// One `watch` channel per [`Change`], shared by every clone of a store.
#[derive(Debug)]
pub(crate) struct Changes {
    incidents: watch::Sender<()>,
    alert_events: watch::Sender<()>,
    webhooks: watch::Sender<()>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            incidents: watch::channel(()).0,
            alert_events: watch::channel(()).0,
            webhooks: watch::channel(()).0,
        }
    }
}

impl Changes {
    fn sender(&self, c: Change) -> &watch::Sender<()> {
        match c {
            Change::Incidents => &self.incidents,
            Change::AlertEvents => &self.alert_events,
            Change::Webhooks => &self.webhooks,
        }
    }
}

impl crate::Store {
    /// A receiver that wakes (`changed().await`) after each commit of `c` by this process, from
    /// now on. Every clone of this store signals the same receivers.
    pub fn watch(&self, c: Change) -> watch::Receiver<()> {
        self.changes.sender(c).subscribe()
    }

    /// Tells the watchers of `c` to look again; call only after the write has committed.
    pub(crate) fn changed(&self, c: Change) {
        // `send_replace` bumps the version even when nobody watches yet.
        self.changes.sender(c).send_replace(());
    }
}
