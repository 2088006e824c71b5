//! Rule and schedule behaviour over simulated time series: every time is an argument, so each
//! test walks a clock of its own, minute by minute or frame by frame.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use roeh_domain::{CameraId, WallTime};
use roeh_rules::engine::{EngineConfig, RuleEngine, RuleEvent};
use roeh_rules::{
    Detected, FrameStats, Hotspot, HotspotId, Rule, RuleId, RuleKind, Schedule, Severity,
    TrackerConfig,
};

fn at(s: &str) -> WallTime {
    WallTime::parse(s).unwrap()
}

fn plus(t: WallTime, secs: i64) -> WallTime {
    WallTime(t.0 + secs * 1_000_000)
}

/// Every minute in `[from, to)` at which the schedule is armed, as offsets in minutes from `from`.
fn armed_minutes(s: &Schedule, from: WallTime, to: WallTime) -> Vec<i64> {
    let mut out = Vec::new();
    let mut m = 0;
    while plus(from, m * 60) < to {
        if s.is_armed(plus(from, m * 60)) {
            out.push(m);
        }
        m += 1;
    }
    out
}

/// Collapses sorted minute offsets into `(first, last)` runs.
fn runs(ms: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &m in ms {
        match out.last_mut() {
            Some(r) if r.1 + 1 == m => r.1 = m,
            _ => out.push((m, m)),
        }
    }
    out
}

fn schedule(json: &str) -> Schedule {
    Schedule::parse_json(json).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Schedules.

#[test]
fn overnight_window_crosses_midnight_on_the_right_days() {
    // Sunday and Monday nights, 22:00 to 05:00, in Jerusalem (UTC+2 in January).
    let s = schedule(
        r#"{"tz":"Asia/Jerusalem","windows":[{"days":["sun","mon"],"from":"22:00","to":"05:00"}]}"#,
    );
    // 2026-01-03 is a Saturday; walk to Wednesday 00:00 local.
    let from = at("2026-01-03T00:00:00+02:00");
    let got = armed_minutes(&s, from, at("2026-01-07T00:00:00+02:00"));
    let expected: Vec<i64> = (0..4 * 1440)
        .filter(|m| {
            let (day, tod) = (m / 1440, m % 1440); // day 0 = Saturday
            ((day == 1 || day == 2) && tod >= 22 * 60) || ((day == 2 || day == 3) && tod < 5 * 60)
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(got.len(), 2 * 7 * 60);
    assert!(!s.is_armed(at("2026-01-04T21:59:59+02:00")));
    assert!(s.is_armed(at("2026-01-04T22:00:00+02:00")));
    assert!(s.is_armed(at("2026-01-05T04:59:59+02:00")));
    assert!(!s.is_armed(at("2026-01-05T05:00:00+02:00")));
    // Early Sunday belongs to Saturday's night, which is not armed.
    assert!(!s.is_armed(at("2026-01-04T03:00:00+02:00")));
    // Early Tuesday belongs to Monday's night.
    assert!(s.is_armed(at("2026-01-06T03:00:00+02:00")));
    assert!(!s.is_armed(at("2026-01-06T22:30:00+02:00")));
}

#[test]
fn date_ranges_are_inclusive_and_follow_the_start_day() {
    // Summer holidays, every night 22:00 to 02:00, but not the night starting July 15 (UTC+2).
    let s = schedule(
        r#"{"tz":"Europe/Stockholm",
            "windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],"from":"22:00","to":"02:00"}],
            "dates":[{"from":"2026-07-01","to":"2026-08-31","label":"summer holidays"}],
            "except":[{"from":"2026-07-15","to":"2026-07-15","label":"festival"}]}"#,
    );
    let cases = [
        ("2026-06-30T22:30:00+02:00", false), // the day before the first
        ("2026-07-01T01:00:00+02:00", false), // belongs to June 30's night
        ("2026-07-01T22:00:00+02:00", true),  // first day
        ("2026-07-02T01:59:00+02:00", true),  // first day's night, after midnight
        ("2026-07-14T23:30:00+02:00", true),
        ("2026-07-15T01:00:00+02:00", true),  // July 14's night
        ("2026-07-15T22:30:00+02:00", false), // excepted
        ("2026-07-16T01:00:00+02:00", false), // excepted night, after midnight
        ("2026-07-16T22:30:00+02:00", true),
        ("2026-08-31T22:00:00+02:00", true), // last day
        ("2026-09-01T01:59:00+02:00", true), // last day's night
        ("2026-09-01T02:00:00+02:00", false),
        ("2026-09-01T22:00:00+02:00", false), // after the range
        ("2026-08-15T12:00:00+02:00", false), // outside the window
    ];
    for (t, want) in cases {
        assert_eq!(s.is_armed(at(t)), want, "{t}");
    }

    // `always` with a date range: whole local days, first and last included.
    let s = schedule(
        r#"{"tz":"Europe/Stockholm","always":true,
            "dates":[{"from":"2026-07-01","to":"2026-08-31"}],
            "except":[{"from":"2026-08-01","to":"2026-08-02"}]}"#,
    );
    for (t, want) in [
        ("2026-06-30T23:59:59+02:00", false),
        ("2026-07-01T00:00:00+02:00", true),
        ("2026-07-31T23:59:59+02:00", true),
        ("2026-08-01T00:00:00+02:00", false),
        ("2026-08-02T23:59:59+02:00", false),
        ("2026-08-03T00:00:00+02:00", true),
        ("2026-08-31T23:59:59+02:00", true),
        ("2026-09-01T00:00:00+02:00", false),
    ] {
        assert_eq!(s.is_armed(at(t)), want, "{t}");
    }
}

#[test]
fn spring_forward_covers_only_existing_local_times() {
    // Stockholm: 2026-03-29 01:00 UTC, local 02:00 jumps to 03:00.
    let from = at("2026-03-28T20:00:00Z");
    let to = at("2026-03-29T08:00:00Z");

    // 01:30-02:30 local: only 01:30-02:00 exists (00:30-01:00 UTC).
    let s = schedule(
        r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun"],"from":"01:30","to":"02:30"}]}"#,
    );
    assert_eq!(runs(&armed_minutes(&s, from, to)), vec![(270, 299)]);

    // 00:00-06:00 local: 23:00 UTC to 04:00 UTC, five real hours.
    let s = schedule(
        r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun"],"from":"00:00","to":"06:00"}]}"#,
    );
    assert_eq!(runs(&armed_minutes(&s, from, to)), vec![(180, 479)]);

    // Wholly inside the gap: not armed that night, armed the next.
    let s = schedule(
        r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun","mon"],"from":"02:15","to":"02:45"}]}"#,
    );
    assert!(armed_minutes(&s, from, to).is_empty());
    assert!(s.is_armed(at("2026-03-30T02:15:00+02:00")));

    // Jerusalem: 2026-03-27 00:00 UTC, local 02:00 jumps to 03:00 (Friday).
    let s = schedule(
        r#"{"tz":"Asia/Jerusalem","windows":[{"days":["fri"],"from":"00:00","to":"06:00"}]}"#,
    );
    let from = at("2026-03-26T20:00:00Z");
    // Local 00:00 (UTC+2) is 22:00 UTC; local 06:00 (UTC+3) is 03:00 UTC.
    assert_eq!(
        runs(&armed_minutes(&s, from, at("2026-03-27T08:00:00Z"))),
        vec![(120, 419)]
    );
    let s = schedule(
        r#"{"tz":"Asia/Jerusalem","windows":[{"days":["fri"],"from":"02:00","to":"03:00"}]}"#,
    );
    assert!(armed_minutes(&s, from, at("2026-03-27T08:00:00Z")).is_empty());
}

#[test]
fn fall_back_covers_the_repeated_hour_twice() {
    // Stockholm: 2026-10-25 01:00 UTC, local 03:00 goes back to 02:00.
    let from = at("2026-10-24T20:00:00Z");
    let to = at("2026-10-25T08:00:00Z");

    // 02:30-03:30 local: 02:30-03:00 first pass (00:30-01:00 UTC), 02:30-03:30 second pass
    // (01:30-02:30 UTC).
    let s = schedule(
        r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun"],"from":"02:30","to":"03:30"}]}"#,
    );
    assert_eq!(
        runs(&armed_minutes(&s, from, to)),
        vec![(270, 299), (330, 389)]
    );

    // 00:00-06:00 local: 22:00 UTC to 05:00 UTC, seven real hours.
    let s = schedule(
        r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun"],"from":"00:00","to":"06:00"}]}"#,
    );
    let got = armed_minutes(&s, from, to);
    assert_eq!(runs(&got), vec![(120, 539)]);
    assert_eq!(got.len(), 7 * 60);

    // Jerusalem: 2026-10-24 23:00 UTC, local 02:00 goes back to 01:00 (Sunday).
    // 01:30-02:30 local: 22:30-23:00 UTC (first pass), then 23:30-00:30 UTC (second pass).
    let s = schedule(
        r#"{"tz":"Asia/Jerusalem","windows":[{"days":["sun"],"from":"01:30","to":"02:30"}]}"#,
    );
    assert_eq!(
        runs(&armed_minutes(&s, at("2026-10-24T20:00:00Z"), to)),
        vec![(150, 179), (210, 269)]
    );
}

// ---------------------------------------------------------------------------------------------
// Rules.

const YARD: &str = "[[0.0,0.5],[1.0,0.5],[1.0,1.0],[0.0,1.0]]";

/// A hotspot in Jerusalem with the bottom half of camera `cam` as zone "yard", a vertical trip
/// line "gate" at x = 0.5 (drawn top to bottom: side A is x > 0.5), armed every night
/// 22:00-05:00.
fn hotspot(cam: CameraId, direction: &str) -> Hotspot {
    Hotspot::parse_json(&format!(
        r#"{{"id":"{}","name":"Depot","lat":31.77,"lon":35.21,"priority":4,"cameras":["{cam}"],
        "zones":[{{"id":"yard","camera":"{cam}","name":"Yard","polygon":{YARD}}}],
        "lines":[{{"id":"gate","camera":"{cam}","name":"Gate","line":[[0.5,0.0],[0.5,1.0]],"direction":"{direction}"}}],
        "schedule":{{"tz":"Asia/Jerusalem","windows":[{{"days":["sun","mon","tue","wed","thu","fri","sat"],"from":"22:00","to":"05:00"}}]}}}}"#,
        HotspotId::new_random().0
    ))
    .unwrap()
}

fn rule(h: &Hotspot, kind: RuleKind) -> Rule {
    let mut r = Rule::new(
        RuleId::new_random(),
        h.id,
        "test rule",
        kind,
        Severity::High,
    );
    r.cooldown_secs = 60;
    r
}

fn config() -> EngineConfig {
    EngineConfig {
        tracker: TrackerConfig {
            iou_threshold: 0.3,
            max_missed: 3,
            max_age: Duration::from_secs(10),
        },
        hold: Duration::from_secs(5),
    }
}

/// A person whose foot point is at (x, y).
fn person_at(x: f32, y: f32, score: f32) -> Detected {
    Detected::new("person", score, [x - 0.05, y - 0.3, x + 0.05, y])
}

struct Sim {
    engine: RuleEngine,
    cam: CameraId,
    events: Vec<RuleEvent>,
}

impl Sim {
    fn new(hotspot: Hotspot, rules: Vec<Rule>) -> Sim {
        let cam = hotspot.cameras[0];
        Sim {
            engine: RuleEngine::with_config(vec![hotspot], rules, config()).unwrap(),
            cam,
            events: Vec::new(),
        }
    }

    /// One frame per second in `[from, from + secs)`, each with `dets(second)`.
    fn run(&mut self, from: WallTime, secs: i64, dets: impl Fn(i64) -> Vec<Detected>) {
        for s in 0..secs {
            let ev = self.engine.observe(self.cam, plus(from, s), &dets(s), None);
            self.events.extend(ev);
        }
    }

    fn opened(&self) -> Vec<WallTime> {
        self.events
            .iter()
            .filter(|e| matches!(e, RuleEvent::Opened { .. }))
            .map(RuleEvent::at)
            .collect()
    }

    fn closed(&self) -> Vec<WallTime> {
        self.events
            .iter()
            .filter(|e| matches!(e, RuleEvent::Closed { .. }))
            .map(RuleEvent::at)
            .collect()
    }
}

#[test]
fn intrusion_only_while_armed() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let r = rule(
        &h,
        RuleKind::Intrusion {
            zone: "yard".into(),
        },
    );
    let mut sim = Sim::new(h.clone(), vec![r.clone()]);

    // Noon: disarmed, nothing.
    sim.run(at("2026-01-05T12:00:00+02:00"), 60, |_| {
        vec![person_at(0.3, 0.8, 0.9)]
    });
    assert!(sim.events.is_empty(), "{:?}", sim.events);

    // 23:00: armed; a person outside the zone, then inside.
    let t0 = at("2026-01-05T23:00:00+02:00");
    sim.run(t0, 10, |_| vec![person_at(0.3, 0.4, 0.9)]);
    assert!(sim.events.is_empty());
    sim.run(plus(t0, 10), 10, |_| vec![person_at(0.3, 0.8, 0.9)]);
    assert_eq!(sim.opened(), vec![plus(t0, 10)]);
    match &sim.events[0] {
        RuleEvent::Opened {
            key,
            hotspot,
            kind,
            severity,
            priority,
            alerting,
            score,
            track_ids,
            reason,
            ..
        } => {
            assert_eq!(key.rule, r.id);
            assert_eq!(key.camera, cam);
            assert_eq!(key.seq, 1);
            assert_eq!(*hotspot, h.id);
            assert_eq!(kind, "intrusion");
            assert_eq!(*severity, Severity::High);
            assert_eq!(*priority, 4);
            assert!(*alerting);
            assert_eq!(*score, 0.9);
            assert_eq!(track_ids.len(), 1);
            assert!(reason.contains("Yard"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
    // The person leaves (last seen at +19). The track coasts for 3 missed frames (+20..+22),
    // is dropped at +23; the last hit is +22, so the incident closes at +27.
    sim.run(plus(t0, 20), 20, |_| vec![]);
    assert_eq!(sim.closed(), vec![plus(t0, 27)]);

    // Across the end of the window: present from 04:58, disarmed at 05:00; the last hit was at
    // 04:59:59, so it closes at 05:00:04.
    let mut sim = Sim::new(h, vec![r]);
    let t1 = at("2026-01-06T04:58:00+02:00");
    sim.run(t1, 600, |_| vec![person_at(0.3, 0.8, 0.9)]);
    assert_eq!(sim.opened(), vec![t1]);
    assert_eq!(sim.closed(), vec![at("2026-01-06T05:00:04+02:00")]);
}

#[test]
fn min_confidence_disabled_rules_and_analysis_off() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let night = at("2026-01-05T23:00:00+02:00");

    // Below the rule's minimum confidence: nothing.
    let r = rule(
        &h,
        RuleKind::Intrusion {
            zone: "yard".into(),
        },
    );
    let mut sim = Sim::new(h.clone(), vec![r.clone()]);
    sim.run(night, 30, |_| vec![person_at(0.3, 0.8, 0.45)]);
    assert!(sim.events.is_empty());
    // A label the rule does not consider: nothing.
    sim.run(plus(night, 30), 30, |_| {
        vec![Detected::new("dog", 0.9, [0.2, 0.6, 0.3, 0.8])]
    });
    assert!(sim.events.is_empty());

    // Disabled: nothing.
    let mut off = r.clone();
    off.enabled = false;
    let mut sim = Sim::new(h.clone(), vec![off]);
    sim.run(night, 30, |_| vec![person_at(0.3, 0.8, 0.9)]);
    assert!(sim.events.is_empty());

    // Analysis off: switching off closes the open incident, then nothing until switched on.
    let mut sim = Sim::new(h, vec![r]);
    sim.run(night, 3, |_| vec![person_at(0.3, 0.8, 0.9)]);
    assert_eq!(sim.opened().len(), 1);
    let ev = sim.engine.set_analysis(cam, false, plus(night, 3));
    assert!(
        matches!(ev.as_slice(), [RuleEvent::Closed { .. }]),
        "{ev:?}"
    );
    assert!(!sim.engine.analysis(cam));
    assert!(sim.engine.tracks(cam).is_empty());
    sim.events.clear();
    sim.run(plus(night, 200), 30, |_| vec![person_at(0.3, 0.8, 0.9)]);
    assert!(sim.events.is_empty());
    assert!(sim.engine.tick(plus(night, 1000)).is_empty());
    assert!(
        sim.engine
            .set_analysis(cam, true, plus(night, 1000))
            .is_empty()
    );
    sim.run(plus(night, 1000), 1, |_| vec![person_at(0.3, 0.8, 0.9)]);
    match sim.events.as_slice() {
        [RuleEvent::Opened { key, .. }] => assert_eq!(key.seq, 2),
        e => panic!("{e:?}"),
    }
    // Unknown cameras are ignored.
    assert!(
        sim.engine
            .observe(
                CameraId::new_random(),
                plus(night, 1001),
                &[person_at(0.3, 0.8, 0.9)],
                None
            )
            .is_empty()
    );
}

#[test]
fn loitering_after_dwell_only() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let r = rule(
        &h,
        RuleKind::Loitering {
            zone: "yard".into(),
            dwell_secs: 30,
        },
    );
    let night = at("2026-01-05T23:00:00+02:00");

    // One person (one track throughout): in the zone for 20 s, just outside it for 5 s, back
    // for 29 s: the dwell restarts on re-entry and never reaches 30 s.
    let mut sim = Sim::new(h.clone(), vec![r.clone()]);
    sim.run(night, 54, |s| {
        let y = if (20..25).contains(&s) { 0.48 } else { 0.55 };
        vec![person_at(0.3, y, 0.9)]
    });
    assert!(sim.events.is_empty(), "{:?}", sim.events);
    assert_eq!(sim.engine.tracks(cam).len(), 1);
    // One more second: 30 s since re-entering at +25.
    sim.run(plus(night, 54), 2, |_| vec![person_at(0.3, 0.55, 0.9)]);
    assert_eq!(sim.opened(), vec![plus(night, 55)]);
    let track = sim.engine.tracks(cam)[0].id;
    assert_eq!(
        sim.engine.dwell(h.id, "yard", track, plus(night, 55)),
        Some(Duration::from_secs(30))
    );

    // Standing outside the zone for minutes: nothing.
    let mut sim = Sim::new(h, vec![r]);
    sim.run(night, 300, |_| vec![person_at(0.3, 0.4, 0.9)]);
    assert!(sim.events.is_empty());
}

fn crowd(n: usize) -> Vec<Detected> {
    (0..n)
        .map(|i| person_at(0.1 + 0.2 * i as f32, 0.8, 0.8))
        .collect()
}

#[test]
fn crowding_needs_the_count_sustained() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let mut r = rule(
        &h,
        RuleKind::Crowding {
            zone: "yard".into(),
            min_count: 4,
            for_secs: 10,
        },
    );
    r.always_armed = true;
    let noon = at("2026-01-05T12:00:00+02:00");

    // Three people for a long time: nothing.
    let mut sim = Sim::new(h.clone(), vec![r.clone()]);
    sim.run(noon, 120, |_| crowd(3));
    assert!(sim.events.is_empty());

    // Four people for 5 s, then three: nothing. (The fourth track coasts for 3 frames, so the
    // count of four lasts until +7, still short of 10 s.)
    let mut sim = Sim::new(h.clone(), vec![r.clone()]);
    sim.run(noon, 30, |s| crowd(if s < 5 { 4 } else { 3 }));
    assert!(sim.events.is_empty(), "{:?}", sim.events);

    // Four people sustained: opens 10 s after the fourth arrived, with all four tracks.
    let mut sim = Sim::new(h, vec![r]);
    sim.run(noon, 5, |_| crowd(3));
    sim.run(plus(noon, 5), 20, |_| crowd(4));
    assert_eq!(sim.opened(), vec![plus(noon, 15)]);
    match &sim.events[0] {
        RuleEvent::Opened {
            track_ids, kind, ..
        } => {
            assert_eq!(track_ids.len(), 4);
            assert_eq!(kind, "crowding");
        }
        e => panic!("{e:?}"),
    }
    // A fifth joins: Updated with five tracks.
    sim.run(plus(noon, 25), 1, |_| crowd(5));
    match sim.events.last() {
        Some(RuleEvent::Updated { track_ids, .. }) => assert_eq!(track_ids.len(), 5),
        e => panic!("{e:?}"),
    }
}

/// A person walking along y = 0.8 from `x0` to `x1` in 0.03 steps, one frame a second.
fn walk(sim: &mut Sim, from: WallTime, x0: f32, x1: f32) -> WallTime {
    let steps = ((x1 - x0).abs() / 0.03).round() as i64;
    let dir = (x1 - x0).signum();
    sim.run(from, steps + 1, |s| {
        vec![person_at(x0 + dir * 0.03 * s as f32, 0.8, 0.9)]
    });
    plus(from, steps + 1)
}

#[test]
fn line_crossing_in_the_right_direction_only() {
    let night = at("2026-01-05T23:00:00+02:00");
    let setup = |direction: &str| {
        let cam = CameraId::new_random();
        let h = hotspot(cam, direction);
        let r = rule(
            &h,
            RuleKind::LineCrossing {
                line: "gate".into(),
            },
        );
        Sim::new(h, vec![r])
    };

    // a_to_b: side A is x > 0.5, so right-to-left counts.
    let mut sim = setup("a_to_b");
    let end = walk(&mut sim, night, 0.2, 0.8);
    assert!(
        sim.events.is_empty(),
        "left to right must not count: {:?}",
        sim.events
    );
    walk(&mut sim, end, 0.8, 0.2);
    assert_eq!(sim.opened().len(), 1);
    match &sim.events[0] {
        RuleEvent::Opened {
            track_ids, kind, ..
        } => {
            assert_eq!(track_ids, &vec![1]);
            assert_eq!(kind, "line_crossing");
        }
        e => panic!("{e:?}"),
    }

    // b_to_a: the other way round.
    let mut sim = setup("b_to_a");
    let end = walk(&mut sim, night, 0.8, 0.2);
    assert!(sim.events.is_empty());
    walk(&mut sim, end, 0.2, 0.8);
    assert_eq!(sim.opened().len(), 1);

    // A crossing is momentary: closed `hold` after it, even though the person stays in view.
    let mut sim = setup("both");
    let end = walk(&mut sim, night, 0.2, 0.8);
    assert_eq!(sim.opened().len(), 1);
    let crossed_at = sim.opened()[0];
    sim.run(end, 10, |_| vec![person_at(0.8, 0.8, 0.9)]);
    assert_eq!(sim.closed(), vec![plus(crossed_at, 5)]);

    // Disarmed at noon: nothing.
    let mut sim = setup("both");
    walk(&mut sim, at("2026-01-05T12:00:00+02:00"), 0.2, 0.8);
    assert!(sim.events.is_empty());
}

fn tamper_sim(no_frames: Option<u64>, frozen: Option<u64>, dark: Option<f32>) -> (Sim, CameraId) {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let mut r = rule(
        &h,
        RuleKind::Tamper {
            no_frames_secs: no_frames,
            frozen_secs: frozen,
            dark_luma_max: dark,
            dark_secs: 0,
        },
    );
    r.always_armed = true;
    (Sim::new(h, vec![r]), cam)
}

fn stats(luma: f32, signature: u64) -> Option<FrameStats> {
    Some(FrameStats {
        mean_luma: luma,
        signature,
    })
}

fn reason(e: &RuleEvent) -> String {
    match e {
        RuleEvent::Opened { reason, .. } => reason.clone(),
        e => panic!("{e:?}"),
    }
}

#[test]
fn tamper_no_frames_via_tick() {
    let (mut sim, cam) = tamper_sim(Some(30), None, None);
    let t0 = at("2026-01-05T12:00:00Z");
    // The first tick starts the watch.
    for s in 0..30 {
        assert!(sim.engine.tick(plus(t0, s)).is_empty(), "at +{s}");
    }
    let ev = sim.engine.tick(plus(t0, 30));
    assert_eq!(ev.len(), 1);
    assert!(reason(&ev[0]).contains("no frames for 30 s"), "{ev:?}");
    // Frames come back at +31; the condition ended at +30, so it closes at +35.
    let mut closed = Vec::new();
    for s in 31..40 {
        closed.extend(
            sim.engine
                .observe(cam, plus(t0, s), &[], stats(120.0, s as u64)),
        );
        closed.extend(sim.engine.tick(plus(t0, s)));
    }
    assert!(
        matches!(closed.as_slice(), [RuleEvent::Closed { at, .. }] if *at == plus(t0, 35)),
        "{closed:?}"
    );
    // Frames every second keep it quiet; a 30 s silence after the last frame fires again, after
    // the 60 s cooldown since the close at +35 has passed.
    let last = plus(t0, 39);
    for s in 1..=29 {
        assert!(sim.engine.tick(plus(last, s)).is_empty());
    }
    let ev = sim.engine.tick(plus(last, 30));
    assert!(ev.is_empty(), "still cooling down: {ev:?}");
    let ev = sim.engine.tick(plus(t0, 95));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].key().seq, 2);
}

#[test]
fn tamper_dark_image() {
    let (mut sim, cam) = tamper_sim(None, None, Some(10.0));
    let t0 = at("2026-01-05T12:00:00Z");
    for s in 0..10 {
        let ev = sim
            .engine
            .observe(cam, plus(t0, s), &[], stats(90.0, s as u64));
        assert!(ev.is_empty());
    }
    // A covered lens: black frames, computed from the pixels.
    let black = FrameStats::from_rgb(8, 8, &[3u8; 8 * 8 * 3]).unwrap();
    let ev = sim.engine.observe(cam, plus(t0, 10), &[], Some(black));
    assert_eq!(ev.len(), 1);
    assert!(reason(&ev[0]).contains("dark image"), "{ev:?}");
    // Still dark between frames (tick keeps it alive), then light again: closes 5 s later.
    assert!(sim.engine.tick(plus(t0, 14)).is_empty());
    let ev = sim.engine.observe(cam, plus(t0, 15), &[], Some(black));
    assert!(ev.is_empty());
    let mut ev = Vec::new();
    for s in 16..=25 {
        ev.extend(
            sim.engine
                .observe(cam, plus(t0, s), &[], stats(90.0, s as u64)),
        );
    }
    assert!(
        matches!(ev.as_slice(), [RuleEvent::Closed { at, .. }] if *at == plus(t0, 20)),
        "{ev:?}"
    );
}

#[test]
fn tamper_frozen_image() {
    let (mut sim, cam) = tamper_sim(None, Some(20), None);
    let t0 = at("2026-01-05T12:00:00Z");
    // A changing picture for a minute: nothing.
    for s in 0..60 {
        assert!(
            sim.engine
                .observe(cam, plus(t0, s), &[], stats(90.0, s as u64))
                .is_empty()
        );
    }
    // The same picture from +60: frozen for 20 s at +80.
    let t1 = plus(t0, 60);
    for s in 0..20 {
        let ev = sim.engine.observe(cam, plus(t1, s), &[], stats(90.0, 7));
        assert!(ev.is_empty(), "at +{s}: {ev:?}");
    }
    let ev = sim.engine.observe(cam, plus(t1, 20), &[], stats(90.0, 7));
    assert_eq!(ev.len(), 1);
    assert!(reason(&ev[0]).contains("frozen image for 20 s"), "{ev:?}");
}

#[test]
fn cooldown_suppresses_reopen_then_allows() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let r = rule(
        &h,
        RuleKind::Intrusion {
            zone: "yard".into(),
        },
    );
    assert_eq!(r.cooldown_secs, 60);
    let mut sim = Sim::new(h, vec![r]);
    let t0 = at("2026-01-05T23:00:00+02:00");
    let inside = |_| vec![person_at(0.3, 0.8, 0.9)];
    sim.run(t0, 5, inside);
    // Gone from +5: the track coasts through +7 and is dropped at +8; closed at +12.
    sim.run(plus(t0, 5), 10, |_| vec![]);
    assert_eq!(sim.closed(), vec![plus(t0, 12)]);
    let closed_at = plus(t0, 12);
    // Back at close + 10 and staying: no new incident until close + 60.
    sim.run(plus(closed_at, 10), 60, inside);
    assert_eq!(sim.opened(), vec![t0, plus(closed_at, 60)]);
    match sim.events.last() {
        Some(RuleEvent::Opened { key, .. }) => assert_eq!(key.seq, 2),
        e => panic!("{e:?}"),
    }
}

#[test]
fn engine_refuses_rules_that_do_not_fit_their_hotspot() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let bad_zone = rule(
        &h,
        RuleKind::Intrusion {
            zone: "roof".into(),
        },
    );
    let e = RuleEngine::new(vec![h.clone()], vec![bad_zone]).unwrap_err();
    assert!(e.message().contains("zone: \"roof\" is not a zone"), "{e}");

    let mut orphan = rule(
        &h,
        RuleKind::LineCrossing {
            line: "gate".into(),
        },
    );
    orphan.hotspot = HotspotId::new_random();
    let e = RuleEngine::new(vec![h.clone()], vec![orphan]).unwrap_err();
    assert!(
        e.message().contains("hotspot:") && e.message().contains("not a known hotspot"),
        "{e}"
    );

    let r = rule(
        &h,
        RuleKind::Intrusion {
            zone: "yard".into(),
        },
    );
    let e = RuleEngine::new(vec![h.clone()], vec![r.clone(), r]).unwrap_err();
    assert!(e.message().contains("is used twice"), "{e}");

    let e = RuleEngine::new(vec![h.clone(), h], vec![]).unwrap_err();
    assert!(e.message().contains("is used twice"), "{e}");
}

#[test]
fn events_serialise_as_tagged_json() {
    let cam = CameraId::new_random();
    let h = hotspot(cam, "both");
    let r = rule(
        &h,
        RuleKind::Intrusion {
            zone: "yard".into(),
        },
    );
    let mut sim = Sim::new(h, vec![r]);
    sim.run(at("2026-01-05T23:00:00+02:00"), 1, |_| {
        vec![person_at(0.3, 0.8, 0.9)]
    });
    let text = serde_json::to_string(&sim.events[0]).unwrap();
    assert!(
        text.starts_with(r#"{"event":"opened","key":{"rule":"#),
        "{text}"
    );
    let back: RuleEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(back, sim.events[0]);
}
