//! The store's SQL keeps to what SQLite and PostgreSQL both speak (docs/design/0013): numbered
//! placeholders (`$1`), `RETURNING` instead of `last_insert_rowid()`, no `INSERT OR …`, no
//! two-argument `MAX`/`MIN`, no `IS ?`; flags and `EXISTS` selected as integers. What only SQLite speaks is listed here, statement by
//! statement, as the places a PostgreSQL twin is still to be written: a new SQLite-only
//! statement fails this test until it is added to the list (or written for both).

#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The string literals of Rust source `src`, with their line numbers (comments and character
/// literals skipped; `concat!` parts are separate literals).
fn literals(src: &str) -> Vec<(usize, String)> {
    let b = src.as_bytes();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    while i < b.len() {
        match b[i] {
            b'\n' => line += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') && b.get(i + 3) == Some(&b'\'') => i += 3,
            b'"' => {
                let (start, first_line) = (i + 1, line);
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if b.get(i) == Some(&b'\n') {
                        line += 1;
                    }
                    i += 1;
                }
                out.push((first_line, src[start..i.min(b.len())].to_string()));
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn is_sql(s: &str) -> bool {
    let u = s.to_ascii_uppercase();
    [
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE ", " VALUES", " LIMIT ", " AND ",
        " IS NULL", " SET ", "PRAGMA ", "BEGIN ",
    ]
    .iter()
    .any(|k| u.contains(k))
}

/// `?` as a placeholder: not `{x:?}` of a format string.
fn has_question_placeholder(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, c)| *c == b'?' && (i == 0 || b[i - 1] != b':') && b.get(i + 1) != Some(&b'}'))
}

/// Constructs only SQLite speaks, each with what PostgreSQL says instead.
const SQLITE_ONLY: [(&str, &str); 3] = [
    ("json_each(", "jsonb_array_elements_text($n::jsonb)"),
    (
        "BEGIN IMMEDIATE",
        "BEGIN, then the head row's UPDATE takes the lock",
    ),
    ("PRAGMA ", "the PostgreSQL catalogue or nothing"),
];

/// Where the store still speaks SQLite only: file and construct. Each is a statement with a
/// PostgreSQL twin to come.
const KNOWN: [(&str, &str); 7] = [
    // The JSON-array filter's SQLite side (`json_ids!`; its PostgreSQL side is beside it).
    ("lib.rs", "json_each("),
    ("lib.rs", "BEGIN IMMEDIATE"),
    // SQLite's connection settings (WAL, sync, busy timeout, foreign keys) and its
    // integrity check.
    ("lib.rs", "PRAGMA "),
    ("lib.rs", "PRAGMA "),
    ("lib.rs", "PRAGMA "),
    ("lib.rs", "PRAGMA "),
    ("lib.rs", "PRAGMA "),
];

/// The BOOLEAN columns of the schema: read through `Any` only as `CASE WHEN c THEN 1 ELSE 0
/// END` (a SQLite column declared BOOLEAN cannot be read through it at all).
const FLAGS: [&str; 4] = ["enabled", "recovered", "alerting", "away"];

#[test]
fn the_store_speaks_the_shared_dialect_except_where_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        // The crate's own unit tests read SQLite's settings on purpose.
        .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
        .collect();
    files.sort();
    let mut statements = 0;
    let mut only = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let src = std::fs::read_to_string(path).unwrap();
        for (line, lit) in literals(&src) {
            if !is_sql(&lit) {
                continue;
            }
            statements += 1;
            let at = format!("{name}:{line}: {lit}");
            assert!(!has_question_placeholder(&lit), "a `?` placeholder: {at}");
            let upper = lit.to_ascii_uppercase();
            for banned in [
                "LAST_INSERT_ROWID",
                "INSERT OR ",
                "REPLACE INTO",
                " IS $",
                "MAX(START_WALL,",
                "GLOB ",
                "IFNULL(",
                "STRFTIME(",
                "JULIANDAY(",
            ] {
                assert!(!upper.contains(banned), "{banned}: {at}");
            }
            // A flag or an EXISTS in a select list is read as an integer.
            if let Some(select) = upper.find("SELECT ") {
                let list = &lit[select
                    ..upper[select..]
                        .find(" FROM ")
                        .map_or(lit.len(), |f| select + f)];
                assert!(
                    !list.to_ascii_uppercase().starts_with("SELECT EXISTS"),
                    "EXISTS must be selected as CASE WHEN EXISTS (…) THEN 1 ELSE 0 END: {at}"
                );
                for flag in FLAGS {
                    for (i, _) in list.match_indices(flag) {
                        let before = list[..i].trim_end();
                        let bare = (before.ends_with(',') || before.ends_with("SELECT"))
                            && list[i + flag.len()..].starts_with([',', ' ']);
                        assert!(!bare, "flag {flag} selected bare: {at}");
                    }
                }
            }
            for (construct, _) in SQLITE_ONLY {
                if lit.contains(construct) {
                    only.push((name.clone(), construct));
                }
            }
        }
    }
    assert!(
        statements > 150,
        "{statements} statements found: the scan reads the source"
    );
    let mut known: Vec<(String, &str)> = KNOWN.iter().map(|(f, c)| (f.to_string(), *c)).collect();
    known.sort();
    only.sort();
    assert_eq!(
        only, known,
        "SQLite-only statements: write the new one for both databases (or list it in KNOWN)"
    );
}

#[test]
fn the_scan_sees_placeholders_comments_and_format_strings_as_they_are() {
    let src = "// SELECT ? in a comment\nlet c = '\"';\nconst A: &str = \"SELECT a FROM t WHERE b = ?\";\n\
               let f = format!(\"{x:?} and {y:?}\");\nconst B: &str = \"UPDATE t SET a = $1\";";
    let lits = literals(src);
    assert_eq!(lits.len(), 3, "{lits:?}");
    assert_eq!(lits[0].0, 3);
    assert!(is_sql(&lits[0].1) && has_question_placeholder(&lits[0].1));
    assert!(!has_question_placeholder(&lits[1].1));
    assert!(is_sql(&lits[2].1) && !has_question_placeholder(&lits[2].1));
}
