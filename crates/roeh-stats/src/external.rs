//! Counts from other sources: police-reported crime, the city's own incident reports, safety
//! surveys. A file is CSV (RFC 4180, UTF-8, comma-separated) with a header naming these
//! columns, in any order:
//!
//! | column | what |
//! |---|---|
//! | `area` | a hotspot's id (UUID) or the name of a district (1–100 characters) |
//! | `period_start` | first day counted, `YYYY-MM-DD` |
//! | `period_end` | last day counted (included), `YYYY-MM-DD`, at most 366 days after the start |
//! | `category` | what was counted ("violence", "vandalism", "feel unsafe at night"), 1–100 characters |
//! | `count` | a whole number, 0 to 1,000,000,000 |
//!
//! The whole file is checked before anything is kept: the first bad row is named by its line
//! (the header is line 1) and nothing is imported. A row that repeats the area, period and
//! category of an earlier row is bad too.

use crate::{Error, Result};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Most rows in one file.
pub const MAX_ROWS: usize = 200_000;
/// Largest count in a cell.
pub const MAX_COUNT: u64 = 1_000_000_000;
/// The columns, as the header names them.
pub const COLUMNS: [&str; 5] = ["area", "period_start", "period_end", "category", "count"];

/// Where a count was taken.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Area {
    /// A hotspot of the site.
    Hotspot(Uuid),
    /// A named district.
    District(String),
}

impl Area {
    /// How it is stored: the hotspot's id, or `district:` and the name.
    pub fn key(&self) -> String {
        match self {
            Area::Hotspot(h) => h.to_string(),
            Area::District(d) => format!("district:{d}"),
        }
    }

    /// Reads [`Area::key`].
    pub fn from_key(k: &str) -> Area {
        match k.strip_prefix("district:") {
            Some(d) => Area::District(d.to_string()),
            None => Uuid::parse_str(k)
                .map(Area::Hotspot)
                .unwrap_or_else(|_| Area::District(k.to_string())),
        }
    }
}

/// One checked row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Where.
    pub area: Area,
    /// First day.
    pub start: NaiveDate,
    /// Last day, included.
    pub end: NaiveDate,
    /// What was counted.
    pub category: String,
    /// How many.
    pub count: u64,
}

fn text(name: &str, v: &str, line: u64) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "line {line}: {name} must have 1 to 100 printable characters, got {v:?}"
        )));
    }
    Ok(v.to_string())
}

fn day(name: &str, v: &str, line: u64) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
        Error::invalid(format!(
            "line {line}: {name} must be a date (YYYY-MM-DD), got {v:?}"
        ))
    })
}

/// Reads and checks a whole file (see the module docs).
pub fn parse(bytes: &[u8]) -> Result<Vec<Row>> {
    let text_in = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::invalid(format!("line {line}: the file is not UTF-8"))
    })?;
    let text_in = text_in.strip_prefix('\u{feff}').unwrap_or(text_in);
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text_in.as_bytes());
    let header = rd
        .headers()
        .map_err(|e| Error::invalid(format!("line 1: the header cannot be read: {e}")))?
        .clone();
    let mut at = [usize::MAX; 5];
    for (i, h) in header.iter().enumerate() {
        let h = h.trim();
        match COLUMNS.iter().position(|c| *c == h) {
            Some(c) if at[c] == usize::MAX => at[c] = i,
            Some(_) => {
                return Err(Error::invalid(format!(
                    "line 1: column {h:?} appears twice"
                )));
            }
            None => {
                return Err(Error::invalid(format!(
                    "line 1: unknown column {h:?}; the columns are {}",
                    COLUMNS.join(", ")
                )));
            }
        }
    }
    if let Some(c) = at.iter().position(|&i| i == usize::MAX) {
        return Err(Error::invalid(format!(
            "line 1: the column {:?} is missing; the columns are {}",
            COLUMNS[c],
            COLUMNS.join(", ")
        )));
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<(Area, NaiveDate, NaiveDate, String), u64> = HashMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::invalid(format!("line {line}: {}", csv_problem(&e)))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rows.len() >= MAX_ROWS {
            return Err(Error::invalid(format!(
                "line {line}: a file holds at most {MAX_ROWS} rows"
            )));
        }
        let f = |c: usize| rec.get(at[c]).unwrap_or("");
        let area_text = text("area", f(0), line)?;
        let area = match Uuid::parse_str(&area_text) {
            Ok(h) => Area::Hotspot(h),
            Err(_) => Area::District(area_text),
        };
        let start = day("period_start", f(1), line)?;
        let end = day("period_end", f(2), line)?;
        if end < start {
            return Err(Error::invalid(format!(
                "line {line}: period_end is before period_start"
            )));
        }
        if (end - start).num_days() > 365 {
            return Err(Error::invalid(format!(
                "line {line}: a period is at most 366 days"
            )));
        }
        let category = text("category", f(3), line)?;
        let count: u64 = f(4)
            .trim()
            .parse()
            .ok()
            .filter(|&n| n <= MAX_COUNT)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "line {line}: count must be a whole number from 0 to {MAX_COUNT}, got {:?}",
                    f(4)
                ))
            })?;
        if let Some(first) = seen.insert((area.clone(), start, end, category.clone()), line) {
            return Err(Error::invalid(format!(
                "line {line}: repeats the area, period and category of line {first}"
            )));
        }
        rows.push(Row {
            area,
            start,
            end,
            category,
            count,
        });
    }
    if rows.is_empty() {
        return Err(Error::invalid("the file has no rows after its header"));
    }
    Ok(rows)
}

fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields, the header {expected_len}"),
        _ => "the row is not valid CSV".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_good_file_reads_in_any_column_order() {
        let f = "count,area,period_start,period_end,category\n\
                 12,North,2025-01-01,2025-01-31,violence\n\
                 3,\"South, old town\",2025-01-01,2025-01-31,violence\n\
                 7,00000000-0000-0000-0000-000000000001,2025-02-01,2025-02-28,violence\n";
        let rows = parse(f.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].area, Area::District("South, old town".into()));
        assert_eq!(rows[2].area, Area::Hotspot(Uuid::from_u128(1)));
        assert_eq!(Area::from_key(&rows[1].area.key()), rows[1].area);
    }

    #[test]
    fn the_first_bad_row_is_named_by_its_line() {
        let head = "area,period_start,period_end,category,count\n";
        let e = |body: &str| {
            parse(format!("{head}{body}").as_bytes())
                .unwrap_err()
                .message
        };
        let good = "North,2025-01-01,2025-01-31,violence,4\n";
        assert!(
            e(&format!("{good}North,2025-02-01,2025-02-30,violence,4\n"))
                .starts_with("line 3: period_end")
        );
        assert!(
            e(&format!(
                "{good}{good}North,2025-02-01,2025-02-28,violence,-1\n"
            ))
            .starts_with("line 3: repeats")
        );
        assert!(
            e(&format!(
                "{good}North,2025-02-01,2025-02-28,violence,x\nNorth,bad\n"
            ))
            .starts_with("line 3: count")
        );
        assert!(e(&format!("{good}{good}")).contains("line 3"));
        assert!(e("North,2025-01-01,2025-01-31\n").starts_with("line 2: the row has 3 fields"));
        assert!(
            parse(b"area,start\n")
                .unwrap_err()
                .message
                .contains("unknown column \"start\"")
        );
        assert!(
            parse(head.as_bytes())
                .unwrap_err()
                .message
                .contains("no rows")
        );
        assert!(
            parse(b"area,period_start,period_end,category,count\n\xff\n")
                .unwrap_err()
                .message
                .starts_with("line 2")
        );
    }
}
