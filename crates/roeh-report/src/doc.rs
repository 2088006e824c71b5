//! The weekly report's figures, its typst document and its CSV.

use chrono::NaiveDate;

/// The report's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Hebrew, right to left.
    #[default]
    He,
    /// English.
    En,
}

impl Lang {
    /// Parses `he` or `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "he" => Some(Lang::He),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `he` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::He => "he",
            Lang::En => "en",
        }
    }
}

/// A row of a table: its label and its cells, already written as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeeklyRow {
    /// The first column (a name, or a key the report translates).
    pub label: String,
    /// The other columns.
    pub values: Vec<String>,
}

/// The figures of one ISO week, in the caller's scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Weekly {
    /// Its language.
    pub lang: Lang,
    /// `2026-W49`.
    pub week: String,
    /// Its Monday, `YYYY-MM-DD`.
    pub first_day: String,
    /// Its Sunday.
    pub last_day: String,
    /// The zone its days are in.
    pub time_zone: String,
    /// When it was made.
    pub generated_on: NaiveDate,
    /// The hotspot it is limited to, if any.
    pub hotspot: Option<String>,
    /// Incidents this week.
    pub incidents: u64,
    /// Incidents the week before.
    pub incidents_before: u64,
    /// Alerts raised this week.
    pub alerts: u64,
    /// Of them, false alarms.
    pub false_alarms: u64,
    /// Incidents per day, Monday first: (date, count).
    pub days: Vec<(String, u64)>,
    /// Incidents per ISO week, the last twelve up to this one: (week, count).
    pub weeks: Vec<(String, u64)>,
    /// Hour × weekday, Monday first.
    pub heat: Vec<Vec<u64>>,
    /// Per hotspot: this week, the week before.
    pub hotspots: Vec<WeeklyRow>,
    /// Per phenomenon (kind keys).
    pub kinds: Vec<WeeklyRow>,
    /// Per outcome (outcome keys).
    pub outcomes: Vec<WeeklyRow>,
    /// Per hotspot: alerts, median and 90th percentile to claim, median raised to arrival.
    pub response: Vec<WeeklyRow>,
    /// Imported counts whose period starts this week: "source · category · area", count.
    pub external: Vec<WeeklyRow>,
    /// Operations running this week: name, rate ratio with its interval.
    pub operations: Vec<WeeklyRow>,
    /// The API queries every figure above comes from.
    pub queries: Vec<String>,
}

/// The report's words.
fn t(lang: Lang, key: &str) -> String {
    let (he, en) = match key {
        "title" => ("תמונת מצב שבועית", "Weekly situational picture"),
        "week" => ("שבוע", "Week"),
        "zone" => ("אזור זמן", "Time zone"),
        "made" => ("הופק", "Generated"),
        "all" => ("כל המוקדים בהרשאה", "All hotspots in scope"),
        "hotspot" => ("מוקד", "Hotspot"),
        "incidents" => ("אירועים", "Incidents"),
        "before" => ("שבוע קודם", "Week before"),
        "alerts" => ("התראות", "Alerts"),
        "false" => ("התראות שווא", "False alarms"),
        "days" => ("אירועים לפי יום", "Incidents per day"),
        "weeks" => (
            "אירועים ב־12 השבועות האחרונים",
            "Incidents in the last 12 weeks",
        ),
        "heat" => ("שעה × יום בשבוע", "Hour × weekday"),
        "by_hotspot" => ("לפי מוקד", "By hotspot"),
        "by_kind" => ("לפי תופעה", "By phenomenon"),
        "kind" => ("תופעה", "Phenomenon"),
        "outcome" => ("תוצאה", "Outcome"),
        "by_outcome" => ("לפי תוצאה", "By outcome"),
        "response" => ("זמני תגובה", "Response times"),
        "claim_med" => ("חציון עד שיוך", "Median to claim"),
        "claim_p90" => ("אחוזון 90 עד שיוך", "90th pct. to claim"),
        "arrive_med" => ("חציון עד הגעה", "Median to arrival"),
        "external" => ("מקורות נוספים", "Other sources"),
        "source" => ("מקור · קטגוריה · אזור", "Source · category · area"),
        "count" => ("מספר", "Count"),
        "operations" => ("מבצעי אכיפה", "Enforcement operations"),
        "operation" => ("מבצע", "Operation"),
        "ratio" => ("יחס שיעורים (רווח סמך 95%)", "Rate ratio (95 % interval)"),
        "none" => (
            "לא נרשמו אירועים בשבוע זה.",
            "No incidents were recorded this week.",
        ),
        "nothing" => ("אין נתונים.", "Nothing to show."),
        "queries" => (
            "כל מספר בדוח זה הוא תשובה של השאילתות:",
            "Every figure in this report is an answer of these queries:",
        ),
        "mon" => ("ב׳", "Mon"),
        "tue" => ("ג׳", "Tue"),
        "wed" => ("ד׳", "Wed"),
        "thu" => ("ה׳", "Thu"),
        "fri" => ("ו׳", "Fri"),
        "sat" => ("ש׳", "Sat"),
        "sun" => ("א׳", "Sun"),
        // Phenomena and outcomes.
        "intrusion" => ("חדירה", "Intrusion"),
        "loitering" => ("שוטטות", "Loitering"),
        "crowding" => ("התקהלות", "Crowding"),
        "line_crossing" => ("חציית קו", "Line crossing"),
        "tamper" => ("חבלה במצלמה", "Camera tamper"),
        "violence" => ("אלימות", "Violence"),
        "vandalism" => ("ונדליזם", "Vandalism"),
        "resolved" => ("טופל", "Resolved"),
        "false_alarm" => ("התראת שווא", "False alarm"),
        "escalated" => ("הועבר להמשך טיפול", "Escalated"),
        "open" => ("בטיפול", "Being handled"),
        "no_alert" => ("ללא התראה", "No alert"),
        other => return other.to_string(),
    };
    match lang {
        Lang::He => he.to_string(),
        Lang::En => en.to_string(),
    }
}

/// `s` as a typst string literal: inert text, whatever it holds.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The colour of a heat cell holding `n` of at most `max`: from paper to deep red.
fn shade(n: u64, max: u64) -> String {
    if max == 0 || n == 0 {
        return "#f3f1ec".into();
    }
    let p = n as f64 / max as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * p).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(0xfb, 0x9e),
        mix(0xe9, 0x1b),
        mix(0xd0, 0x1b)
    )
}

fn table(lang: Lang, head: &[&str], rows: &[WeeklyRow], translate_label: bool) -> String {
    if rows.is_empty() {
        return format!("#text(fill: luma(90), {})\n", lit(&t(lang, "nothing")));
    }
    let cols = head.len();
    let mut s = format!(
        "#table(columns: (1fr,{}), stroke: 0.4pt + luma(180), inset: 5pt, fill: (x, y) => if y == 0 {{ luma(235) }},\n  table.header(",
        " auto,".repeat(cols - 1)
    );
    for h in head {
        s.push_str(&format!("text(weight: \"bold\", {}), ", lit(&t(lang, h))));
    }
    s.push_str("),\n");
    for r in rows {
        let label = if translate_label {
            t(lang, &r.label)
        } else {
            r.label.clone()
        };
        s.push_str(&format!("  {},", cell(&label)));
        for i in 0..cols - 1 {
            s.push_str(&format!(
                " {},",
                ltr(r.values.get(i).map_or("", String::as_str))
            ));
        }
        s.push('\n');
    }
    s.push_str(")\n");
    s
}

fn bars(data: &[(String, u64)], height_cm: f64) -> String {
    let max = data.iter().map(|d| d.1).max().unwrap_or(0);
    let mut s = format!(
        "#grid(columns: {}, column-gutter: 4pt, row-gutter: 2pt, align: center + bottom,\n",
        data.len().max(1)
    );
    for (_, n) in data {
        let h = if max == 0 {
            0.0
        } else {
            height_cm * *n as f64 / max as f64
        };
        s.push_str(&format!(
            "  stack(dir: ttb, spacing: 2pt, text(size: 8pt, {}), rect(width: 100%, height: {h:.3}cm, fill: rgb(\"#2f5d8a\"))),\n",
            lit(&n.to_string())
        ));
    }
    for (label, _) in data {
        s.push_str(&format!("  text(size: 7pt, {}),\n", lit(label)));
    }
    s.push_str(")\n");
    s
}

fn heat(lang: Lang, g: &[Vec<u64>]) -> String {
    let max = g.iter().flatten().copied().max().unwrap_or(0);
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut s = String::from(
        "#grid(columns: (auto,) + (1fr,) * 24, gutter: 1.2pt, align: center + horizon,\n  [],",
    );
    for h in 0..24 {
        s.push_str(&format!(" text(size: 6pt, {}),", lit(&h.to_string())));
    }
    s.push('\n');
    for (wd, row) in g.iter().enumerate().take(7) {
        s.push_str(&format!("  text(size: 7pt, {}),", lit(&t(lang, days[wd]))));
        for n in row.iter().take(24) {
            let txt = if *n > 0 { n.to_string() } else { String::new() };
            s.push_str(&format!(
                " box(width: 100%, height: 0.55cm, fill: rgb(\"{}\"), align(center + horizon, text(size: 5.5pt, fill: {}, {}))),",
                shade(*n, max),
                if max > 0 && *n * 2 > max { "white" } else { "black" },
                lit(&txt)
            ));
        }
        s.push('\n');
    }
    s.push_str(")\n");
    s
}

fn section(lang: Lang, key: &str) -> String {
    // A heading is kept with what follows it: no heading alone at the foot of a page.
    format!("#heading(level: 2, {})\n", lit(&t(lang, key)))
}

/// A name as a table cell: isolated left to right when it holds no right-to-left letter, so a
/// Latin name keeps its punctuation where it was written inside a Hebrew table.
fn cell(s: &str) -> String {
    let rtl = s
        .chars()
        .any(|c| ('\u{0590}'..='\u{08FF}').contains(&c) || ('\u{FB1D}'..='\u{FDFF}').contains(&c));
    if rtl { lit(s) } else { ltr(s) }
}

/// `s` as left-to-right text isolated from its surroundings (dates, figures, units, queries),
/// for code mode.
fn ltr(s: &str) -> String {
    format!("box(text(dir: ltr, {}))", lit(s))
}

/// The report's typst document.
pub fn markup(w: &Weekly) -> String {
    let l = w.lang;
    let (dir, lang) = match l {
        Lang::He => ("rtl", "he"),
        Lang::En => ("ltr", "en"),
    };
    let mut s = format!(
        "#set page(paper: \"a4\", margin: (x: 1.5cm, y: 1.6cm), footer: context align(center, text(size: 8pt, fill: luma(100), dir: ltr, counter(page).display(\"1 / 1\", both: true))))\n\
         #set text(font: (\"Noto Sans\", \"Noto Sans Hebrew\"), size: 9.5pt, lang: \"{lang}\", dir: {dir})\n\
         #set par(justify: false)\n\
         #show heading: it => block(above: 1.1em, below: 0.5em, text(size: 13pt, weight: \"bold\", it.body))\n"
    );
    s.push_str(&format!(
        "#text(size: 20pt, weight: \"bold\", {})\n\n",
        lit(&t(l, "title"))
    ));
    s.push_str(&format!(
        "#text(size: 12pt)[#{} #{} · #{} · #{} #{} · #{} #{}]\n\n",
        lit(&format!("{}:", t(l, "week"))),
        ltr(&w.week),
        ltr(&format!("{} – {}", w.first_day, w.last_day)),
        lit(&format!("{}:", t(l, "zone"))),
        ltr(&w.time_zone),
        lit(&format!("{}:", t(l, "made"))),
        ltr(&w.generated_on.format("%Y-%m-%d").to_string()),
    ));
    s.push_str(&format!(
        "#text(size: 10pt, fill: luma(70), {})\n",
        lit(&w.hotspot.clone().unwrap_or_else(|| t(l, "all")))
    ));
    // The key figures, largest.
    let share = if w.alerts > 0 {
        format!("{:.0}%", w.false_alarms as f64 * 100.0 / w.alerts as f64)
    } else {
        "–".into()
    };
    let change = if w.incidents_before > 0 {
        let d = (w.incidents as f64 / w.incidents_before as f64 - 1.0) * 100.0;
        format!(
            "[#{} #{}]",
            lit(&format!("{}:", t(l, "before"))),
            ltr(&format!("{} ({:+.0}%)", w.incidents_before, d))
        )
    } else {
        format!(
            "[#{} #{}]",
            lit(&format!("{}:", t(l, "before"))),
            ltr(&w.incidents_before.to_string())
        )
    };
    s.push_str("#v(0.6em)\n#grid(columns: (1fr, 1fr, 1fr), gutter: 8pt,\n");
    for (key, big, small) in [
        ("incidents", w.incidents.to_string(), change),
        ("alerts", w.alerts.to_string(), "[]".to_string()),
        ("false", w.false_alarms.to_string(), ltr(&share)),
    ] {
        s.push_str(&format!(
            "  rect(width: 100%, inset: 8pt, radius: 3pt, stroke: 0.6pt + luma(160), stack(spacing: 4pt, text(size: 9pt, {}), text(size: 24pt, weight: \"bold\", {}), text(size: 8pt, fill: luma(70), {}))),\n",
            lit(&t(l, key)),
            lit(&big),
            small
        ));
    }
    s.push_str(")\n");
    if w.incidents == 0 {
        s.push_str(&format!(
            "#v(0.4em)\n#text(size: 12pt, weight: \"bold\", {})\n",
            lit(&t(l, "none"))
        ));
    }
    s.push_str(&section(l, "days"));
    s.push_str(&bars(&w.days, 2.6));
    s.push_str(&section(l, "heat"));
    s.push_str(&heat(l, &w.heat));
    s.push_str(&section(l, "weeks"));
    s.push_str(&bars(&w.weeks, 2.2));
    s.push_str(&section(l, "by_hotspot"));
    s.push_str(&table(
        l,
        &["hotspot", "incidents", "before"],
        &w.hotspots,
        false,
    ));
    s.push_str(&section(l, "by_kind"));
    s.push_str(&table(l, &["kind", "incidents"], &w.kinds, true));
    s.push_str(&section(l, "by_outcome"));
    s.push_str(&table(l, &["outcome", "incidents"], &w.outcomes, true));
    s.push_str(&section(l, "response"));
    s.push_str(&table(
        l,
        &["hotspot", "alerts", "claim_med", "claim_p90", "arrive_med"],
        &w.response,
        false,
    ));
    s.push_str(&section(l, "external"));
    s.push_str(&table(l, &["source", "count"], &w.external, false));
    s.push_str(&section(l, "operations"));
    s.push_str(&table(l, &["operation", "ratio"], &w.operations, false));
    s.push_str("#v(0.8em)\n");
    s.push_str(&format!(
        "#text(size: 7.5pt, fill: luma(80), {})\n\n",
        lit(&t(l, "queries"))
    ));
    for q in &w.queries {
        s.push_str(&format!(
            "#block(width: 100%, align(left, text(size: 7pt, fill: luma(80), dir: ltr, {})))\n",
            lit(q)
        ));
    }
    s
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet never reads a name as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Every table of the report as one CSV in long form: `table,row,column,value`.
pub fn csv(w: &Weekly) -> String {
    let mut out = String::from("table,row,column,value\n");
    let mut put = |table: &str, row: &str, col: &str, v: &str| {
        out.push_str(&format!(
            "{},{},{},{}\n",
            csv_field(table),
            csv_field(row),
            csv_field(col),
            csv_field(v)
        ));
    };
    put("summary", &w.week, "incidents", &w.incidents.to_string());
    put(
        "summary",
        &w.week,
        "incidents_week_before",
        &w.incidents_before.to_string(),
    );
    put("summary", &w.week, "alerts", &w.alerts.to_string());
    put(
        "summary",
        &w.week,
        "false_alarms",
        &w.false_alarms.to_string(),
    );
    for (d, n) in &w.days {
        put("days", d, "incidents", &n.to_string());
    }
    for (wk, n) in &w.weeks {
        put("weeks", wk, "incidents", &n.to_string());
    }
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for (wd, row) in w.heat.iter().enumerate().take(7) {
        for (h, n) in row.iter().enumerate() {
            put("hour_weekday", days[wd], &format!("{h:02}"), &n.to_string());
        }
    }
    let rows = |out: &mut dyn FnMut(&str, &str, &str, &str),
                name: &str,
                cols: &[&str],
                rs: &[WeeklyRow]| {
        for r in rs {
            for (c, v) in cols.iter().zip(&r.values) {
                out(name, &r.label, c, v);
            }
        }
    };
    rows(
        &mut put,
        "hotspots",
        &["incidents", "incidents_week_before"],
        &w.hotspots,
    );
    rows(&mut put, "kinds", &["incidents"], &w.kinds);
    rows(&mut put, "outcomes", &["incidents"], &w.outcomes);
    rows(
        &mut put,
        "response_times",
        &[
            "alerts",
            "to_claim_median_s",
            "to_claim_p90_s",
            "raised_to_arrive_median_s",
        ],
        &w.response,
    );
    rows(&mut put, "other_sources", &["count"], &w.external);
    rows(&mut put, "operations", &["rate_ratio"], &w.operations);
    for (i, q) in w.queries.iter().enumerate() {
        put("queries", &(i + 1).to_string(), "query", q);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_enter_the_document_only_as_string_literals() {
        assert_eq!(lit("a\"b\\c#[x]"), "\"a\\\"b\\\\c#[x]\"");
        let w = Weekly {
            hotspots: vec![WeeklyRow {
                label: "#panic(\"x\") ]".into(),
                values: vec!["1".into(), "2".into()],
            }],
            heat: vec![vec![0; 24]; 7],
            ..Weekly::default()
        };
        let m = markup(&w);
        assert!(m.contains("\"#panic(\\\"x\\\") ]\""), "{m}");
    }

    #[test]
    fn the_csv_holds_every_table_and_quotes_names() {
        let w = Weekly {
            week: "2026-W49".into(),
            incidents: 3,
            hotspots: vec![WeeklyRow {
                label: "Promenade, north".into(),
                values: vec!["3".into(), "5".into()],
            }],
            heat: vec![vec![0; 24]; 7],
            ..Weekly::default()
        };
        let c = csv(&w);
        assert!(c.contains("summary,2026-W49,incidents,3\n"));
        assert!(c.contains("hotspots,\"Promenade, north\",incidents_week_before,5\n"));
        assert_eq!(
            c.lines().filter(|l| l.starts_with("hour_weekday")).count(),
            168
        );
    }
}
