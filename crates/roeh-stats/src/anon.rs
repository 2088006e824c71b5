//! Aggregate-only figures for residents or a city website.
//!
//! A published cell is a count of incidents at one hotspot in one ISO week. A count below the
//! site's minimum `k` is withheld (shown as `<k`), zero included, and no total is published
//! beside withheld cells: a total minus the cells shown would give the withheld ones back.

use serde::Serialize;

/// The smallest minimum count a site may configure.
pub const MIN_K: u64 = 2;

/// One published cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Cell {
    /// The count, or `None` when withheld.
    pub count: Option<u64>,
}

/// `n` as published with minimum count `k`.
pub fn cell(n: u64, k: u64) -> Cell {
    Cell {
        count: (n >= k.max(MIN_K)).then_some(n),
    }
}

impl Cell {
    /// Its text in a published CSV: the count, or `<k`.
    pub fn text(&self, k: u64) -> String {
        match self.count {
            Some(n) => n.to_string(),
            None => format!("<{}", k.max(MIN_K)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_k_are_withheld_zero_included() {
        assert_eq!(cell(4, 5).count, None);
        assert_eq!(cell(0, 5).count, None);
        assert_eq!(cell(5, 5).count, Some(5));
        assert_eq!(cell(4, 5).text(5), "<5");
        // k below the floor is raised to it.
        assert_eq!(cell(1, 0).count, None);
    }
}
