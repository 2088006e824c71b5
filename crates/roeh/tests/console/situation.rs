//! The situational picture in a real browser, on a generated year of incidents
//! ([`roeh_testkit::history`]: ten hotspots in Asia/Jerusalem, 1 December 2025 to 30 November
//! 2026, a weekly pattern busiest on weekend nights, a summer bump and an operation that cut
//! violence at H0's nights by 40 %) loaded into the running site's database, with police counts
//! of three districts imported and the operation recorded. An admin opens the dashboard in
//! Hebrew for the year by month: the total is the API's, the heat grid holds the API's 7 × 24
//! counts, busiest at night, and mirrors with the page; the trend chart (uPlot) draws the total,
//! every hotspot and the three police series. The operation's effect shows the API's rate ratio
//! against the comparison hotspots, rounded as the page rounds, and its weekly chart. The same
//! dashboard in English. Screenshots: `target/screenshots/situation-*.png`.

use super::*;
use roeh_store::HistoryIncident;
use roeh_testkit::history::{History, Spec};

/// The dates of the seeded year, as the date fields take them.
const FROM: &str = "2025-12-01";
const TO: &str = "2026-11-30";
/// The police districts of the imported file.
const DISTRICTS: [&str; 3] = ["צפון", "העיר העתיקה", "הנמל"];

/// Ten hotspots H0…H9 through the API (no cameras: the history names its own), the generated
/// year loaded into the site's database under them; the hotspots' ids by index.
fn load_year(site: &Site, base: &str, h: &History) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..h.spec.hotspots {
        let (s, v) = call(
            "POST",
            &format!("{base}/api/hotspots"),
            json!({"name": format!("H{i}"), "lat": 32.05 + i as f64 * 0.01, "lon": 34.76,
                   "priority": 2, "cameras": [], "zones": [],
                   "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
        );
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let uuids: Vec<uuid::Uuid> = ids.iter().map(|i| i.parse().unwrap()).collect();
    let items: Vec<HistoryIncident> = h
        .incidents
        .iter()
        .map(|i| HistoryIncident {
            id: i.id,
            rule: if i.operator {
                uuid::Uuid::nil()
            } else {
                uuid::Uuid::from_u128(0x700 + i.hotspot as u128)
            },
            camera: roeh_domain::CameraId(i.camera),
            hotspot: uuids[i.hotspot],
            kind: i.kind.to_string(),
            severity: i.severity.to_string(),
            opened_at: roeh_domain::WallTime(i.at_micros),
            model_id: if i.operator { "operator" } else { "yolo" }.to_string(),
            alert: i.alert.map(|(id, s)| (id, s.to_string())),
        })
        .collect();
    // The running server's SQLite file, WAL: a second writer waits its turn.
    let rt = common::runtime();
    rt.block_on(async {
        let store = roeh_store::Store::open(&site.db_url()).await.unwrap();
        store.insert_history(&items).await.unwrap();
    });
    ids
}

/// Police counts of [`DISTRICTS`], monthly from December 2025 to November 2026, imported
/// through the API as a CSV file.
fn import_police(base: &str) {
    const MONTHS: [(u32, u32, u32); 12] = [
        (2025, 12, 31),
        (2026, 1, 31),
        (2026, 2, 28),
        (2026, 3, 31),
        (2026, 4, 30),
        (2026, 5, 31),
        (2026, 6, 30),
        (2026, 7, 31),
        (2026, 8, 31),
        (2026, 9, 30),
        (2026, 10, 31),
        (2026, 11, 30),
    ];
    let mut csv = String::from("area,period_start,period_end,category,count\n");
    for (d, district) in DISTRICTS.iter().enumerate() {
        for (m, (y, mo, last)) in MONTHS.iter().enumerate() {
            let n = 40 + d * 15 + (m * 7) % 11;
            csv.push_str(&format!(
                "{district},{y}-{mo:02}-01,{y}-{mo:02}-{last},violence,{n}\n"
            ));
        }
    }
    let resp = roeh_testkit::request(
        reqwest::Method::POST,
        &format!("{base}/api/stats/imports?source=police&file_name=police-2026.csv"),
    )
    .header("content-type", "text/csv")
    .body(csv)
    .send()
    .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().unwrap_or(Value::Null);
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["rows"], 36, "{v}");
}

/// Sets the field `id` to `value` as a person would (`event`: `input` or `change`), and waits
/// until the page holds it.
fn set_field(b: &Browser, id: &str, value: &str, event: &str) {
    b.js(&format!(
        "const e = document.getElementById({id}); e.value = {value}; \
         e.dispatchEvent(new Event({event}, {{bubbles: true}})); return true",
        id = json!(id),
        value = json!(value),
        event = json!(event),
    ));
    b.until(
        &format!("{id} to hold {value}"),
        &format!(
            "return document.getElementById({}).value === {}",
            json!(id),
            json!(value)
        ),
    );
}

/// Opens the dashboard, asks for the seeded year by month and waits until the heat grid and the
/// trend charts of that answer are drawn, with `lines` lines in all (each chart's legend has a
/// period row besides).
fn show_year(b: &Browser, lines: usize) {
    b.js("location.hash = '#/stats'; return true");
    b.until(
        "the dashboard's form",
        "return document.getElementById('stats-show')",
    );
    // The first answer (the default range) drawn, so that the year's replaces it.
    b.until(
        "the default range's heat grid",
        "return document.querySelector('table.heat')",
    );
    set_field(b, "stats-start", FROM, "input");
    set_field(b, "stats-until", TO, "input");
    set_field(b, "stats-interval", "month", "change");
    b.js(
        "document.querySelectorAll('table.heat').forEach(t => t.dataset.stale = '1'); \
          document.getElementById('stats-show').click(); return true",
    );
    b.until(
        "the year's heat grid and trend chart",
        "return document.querySelector('table.heat:not([data-stale])') && \
                document.querySelector('.plot canvas')",
    );
    b.until(
        &format!("the trend's {lines} lines"),
        &format!(
            "return document.querySelectorAll('.plot .u-legend tr.u-series:not(:first-child)').length === {}",
            lines
        ),
    );
}

/// The dashboard as the page shows it: the totals' figures, the heat grid's cells, the hour of
/// each heat column, the weekday header's and the first cell's left edge, and the trend legend's
/// labels.
fn dashboard(b: &Browser) -> Value {
    b.js("const heat = document.querySelector('table.heat'); \
          const rows = [...heat.querySelectorAll('tbody tr')]; \
          return { \
            totals: [...document.querySelectorAll('.stats-total dd')].map(d => d.textContent), \
            grid: rows.map(r => [...r.querySelectorAll('td.heat-cell')] \
              .map(c => Number(c.textContent || 0))), \
            classes: rows.map(r => [...r.querySelectorAll('td.heat-cell')].map(c => c.className)), \
            hours: [...heat.querySelectorAll('thead th.heat-hour')].map(h => Number(h.textContent)), \
            day_left: rows[0].querySelector('th').getBoundingClientRect().left, \
            cell_left: rows[0].querySelector('td').getBoundingClientRect().left, \
            canvases: document.querySelectorAll('.plot canvas').length, \
            plot_dir: document.querySelector('.plot').getAttribute('dir'), \
            legend: [...document.querySelectorAll('.plot .u-legend tr.u-series:not(:first-child) .u-label')] \
              .map(l => l.textContent) \
          }")
}

/// Checks what [`dashboard`] read against the API's answer `inc` for the same query and the
/// imported `external` series; `police` is the police source's name in the page's language.
fn check_dashboard(page: &Value, inc: &Value, external: &Value, police: &str) {
    assert_eq!(
        page["totals"][0].as_str().unwrap(),
        inc["total"].as_u64().unwrap().to_string(),
        "the total shown is the API's"
    );
    let grid: Vec<Vec<u64>> = serde_json::from_value(page["grid"].clone()).unwrap();
    assert_eq!(grid.len(), 7, "seven weekdays");
    assert!(grid.iter().all(|r| r.len() == 24), "24 hours a day");
    let api: Vec<Vec<u64>> = serde_json::from_value(inc["heat"]["all"].clone()).unwrap();
    assert_eq!(grid, api, "the heat grid holds the API's counts");
    let hours: Vec<u64> = serde_json::from_value(page["hours"].clone()).unwrap();
    assert_eq!(hours, (0..24).collect::<Vec<u64>>());
    let (wd, h, n) = grid
        .iter()
        .enumerate()
        .flat_map(|(d, r)| r.iter().enumerate().map(move |(h, n)| (d, h, *n)))
        .max_by_key(|c| c.2)
        .unwrap();
    assert!(n > 0);
    assert!(
        !(4..22).contains(&h),
        "the busiest hour is a night hour: {h}:00 on weekday {wd}"
    );
    assert!(
        (4..7).contains(&wd),
        "the busiest night is at the weekend (Friday to Sunday, Monday first): weekday {wd}"
    );
    assert!(
        page["classes"][wd][h].as_str().unwrap().contains("heat-6"),
        "the busiest cell has the hottest colour: {}",
        page["classes"][wd][h]
    );
    assert!(page["canvases"].as_u64().unwrap() >= 1, "uPlot's canvas");
    assert_eq!(page["plot_dir"], "ltr", "time runs left to right");
    let legend: Vec<String> = serde_json::from_value(page["legend"].clone()).unwrap();
    let series = external["series"].as_array().unwrap();
    assert_eq!(series.len(), 3, "{external}");
    assert_eq!(
        legend.len(),
        1 + inc["trend"]["by_hotspot"].as_array().unwrap().len() + series.len(),
        "the total, each hotspot and each police series (each chart's period row aside): {legend:?}"
    );
    for district in DISTRICTS {
        assert!(
            legend
                .iter()
                .any(|l| l.contains(district) && l.contains(police)),
            "the police series of {district} in the legend: {legend:?}"
        );
    }
}

/// Scrolls the dashboard to its figures: the totals at the top, the heat grid and the trend
/// under them (the header and the form above are what the operator set).
fn scroll_to_figures(b: &Browser) {
    b.js("document.querySelector('.stats-totals').scrollIntoView(); return true");
}

#[test]
fn the_dashboard_draws_the_heat_grid_and_trends_of_a_seeded_year_in_hebrew_and_english() {
    let site = Site::new(4.0, &[]);
    let mut toml = std::fs::read_to_string(&site.config).unwrap();
    toml.push_str("[alerts]\ntime_zone = \"Asia/Jerusalem\"\n");
    std::fs::write(&site.config, toml).unwrap();
    let (proc_, base) = site.serve();
    let h = History::generate(Spec::year());
    let ids = load_year(&site, &base, &h);
    import_police(&base);
    let (s, op) = call(
        "POST",
        &format!("{base}/api/operations"),
        json!({"name": "summer nights at the promenade",
               "start": "2026-07-01", "end": "2026-08-31",
               "window": {"from": "22:00", "to": "04:00"},
               "hotspots": [ids[0]], "kinds": ["violence"],
               "comparison": ids[1..].to_vec()}),
    );
    assert_eq!(s, 201, "{op}");
    let op = op["id"].as_str().unwrap().to_string();

    // What the API answers for the page's query.
    let q = format!("from={FROM}&to={TO}&interval=month");
    let (s, inc) = call(
        "GET",
        &format!("{base}/api/stats/incidents?{q}"),
        Value::Null,
    );
    assert_eq!(s, 200, "{inc}");
    assert_eq!(inc["time_zone"], "Asia/Jerusalem", "the site's zone");
    assert_eq!(
        inc["total"].as_u64().unwrap(),
        h.incidents.len() as u64,
        "the whole year"
    );
    assert_eq!(inc["trend"]["periods"].as_array().unwrap().len(), 12);
    let (s, external) = call(
        "GET",
        &format!("{base}/api/stats/external?{q}"),
        Value::Null,
    );
    assert_eq!(s, 200, "{external}");
    let lines = 1
        + inc["trend"]["by_hotspot"].as_array().unwrap().len()
        + external["series"].as_array().unwrap().len();
    let (s, effect) = call(
        "GET",
        &format!("{base}/api/operations/{op}/effect"),
        Value::Null,
    );
    assert_eq!(s, 200, "{effect}");

    // Hebrew: the dashboard of the year, mirrored with the page, the chart left to right.
    let b = Browser::open("situation", "he", 1400, 1050);
    sign_in_as(&b, &base, TEST_ADMIN, TEST_ADMIN_PASSWORD);
    b.until(
        "the admin's navigation to the situation",
        "return document.querySelector('header nav a[href=\"#/stats\"]') && \
                document.querySelector('header nav a[href=\"#/operations\"]')",
    );
    assert_eq!(b.js("return document.documentElement.dir"), json!("rtl"));
    show_year(&b, lines);
    let page = dashboard(&b);
    check_dashboard(&page, &inc, &external, "משטרה");
    // The weekly report card offers the week's PDF and CSV from the report route.
    let links = b.js(
        "return [document.querySelector('a#stats-report-pdf')?.getAttribute('href'), \
                 document.querySelector('a#stats-report-csv')?.getAttribute('href')]",
    );
    let (pdf, csv) = (links[0].as_str().unwrap(), links[1].as_str().unwrap());
    assert!(
        pdf.starts_with("/api/reports/weekly?")
            && pdf.contains("week=")
            && pdf.contains("format=pdf"),
        "{pdf}"
    );
    assert!(csv.contains("format=csv"), "{csv}");
    assert!(
        page["day_left"].as_f64().unwrap() > page["cell_left"].as_f64().unwrap(),
        "in Hebrew the weekdays stand on the right of the heat grid: {page}"
    );
    scroll_to_figures(&b);
    b.shot("dashboard-he");

    // The operation's effect: the API's ratio against the comparison hotspots, as the page
    // rounds it (two decimals, the interval in brackets), fell beyond noise.
    b.js("location.hash = '#/operations'; return true");
    let card = format!("article.ops-card[data-operation=\"{op}\"]");
    b.until(
        "the operation's card",
        &format!("return document.querySelector({})", json!(card)),
    );
    click(&b, &format!("{card} button[aria-expanded]"));
    b.until(
        "the effect's ratios and weekly chart",
        &format!(
            "const c = document.querySelector({}); \
             return c.querySelectorAll('.ops-ratio .ops-ratio-value').length === 3 && \
                    c.querySelector('.ops-chart .plot canvas')",
            json!(card)
        ),
    );
    let rr = &effect["during_vs_comparison"];
    let (r, lo, hi) = (
        rr["ratio"].as_f64().unwrap(),
        rr["low"].as_f64().unwrap(),
        rr["high"].as_f64().unwrap(),
    );
    assert!(hi < 1.0, "the built drop is more than noise: {rr}");
    let shown = b.js(&format!(
        "const li = document.querySelectorAll({} + ' .ops-ratio')[2]; \
         return [li.querySelector('.ops-ratio-value').textContent, li.className, \
                 li.querySelector('.ops-change').textContent]",
        json!(card)
    ));
    let change = ((r - 1.0) * 100.0).round() as i64;
    assert_eq!(
        shown,
        json!([
            format!("{r:.2} ({lo:.2}–{hi:.2})"),
            "ops-ratio verdict-fell",
            format!("({change}%)")
        ]),
        "the ratio against the comparison hotspots as the API gives it: {rr}"
    );
    b.js(&format!(
        "document.querySelector({}).scrollIntoView(); return true",
        json!(format!("{card} .ops-effect"))
    ));
    b.shot("operation-he");

    // English: the same dashboard, left to right.
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.lang === 'en' && document.documentElement.dir === 'ltr'",
    );
    show_year(&b, lines);
    let page = dashboard(&b);
    check_dashboard(&page, &inc, &external, "Police");
    assert!(
        page["day_left"].as_f64().unwrap() < page["cell_left"].as_f64().unwrap(),
        "in English the weekdays stand on the left of the heat grid: {page}"
    );
    scroll_to_figures(&b);
    b.shot("dashboard-en");

    b.rt.block_on(b.client.clone().close()).unwrap();
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
}
