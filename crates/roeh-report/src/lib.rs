//! The weekly report for the city's enforcement forum (docs/design/0015-situational-picture.md).
//!
//! [`Weekly`] holds the figures of one ISO week in the caller's scope; [`pdf`] lays them out as a
//! typst document and renders an A4 PDF; [`csv`] writes every table of it as one CSV.
//!
//! Invariants:
//! - the report shows only what [`Weekly`] holds: the caller fills it from the statistics API's
//!   own queries, and the report lists those queries on its last lines, so every number can be
//!   traced to an answer of the API;
//! - text from the site (hotspot, camera and district names) enters the document only as typst
//!   string literals, never as markup: a name cannot change the layout or run code;
//! - Hebrew is set right to left with the shipped Noto Sans Hebrew (SIL Open Font License, in
//!   `assets/fonts/`), Latin text and digits in Noto Sans; typst shapes both; nothing is read
//!   from the machine's fonts or files;
//! - a week without incidents is a valid report that says so.

mod doc;
mod world;

pub use doc::{Lang, Weekly, WeeklyRow, csv, csv_field, markup};

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The document could not be laid out or written: a fault of roeh, not of the input.
    Internal,
}

/// The crate's error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What kind.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

/// The report as an A4 PDF.
pub fn pdf(w: &Weekly) -> Result<Vec<u8>, Error> {
    world::render(&doc::markup(w), w.generated_on)
}
