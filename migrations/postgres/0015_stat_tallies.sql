-- roeh schema, version 15: tallies for the situational picture (docs/design/0015-situational-picture.md,
-- "Tallies"). Counts of incidents and alerts per local day of the site's time zone, so a
-- dashboard over a year reads thousands of rows instead of a million incidents.
--
-- The tallies are derived: built from incidents, alerts and alert_incidents, and rebuilt for a
-- day whenever anything counted on it changes. Writers only mark the UTC day they touched in
-- stat_dirty (in their own transaction); the statistics rebuild the marked days before they
-- read. A mark carries a generation, bumped by every writer, so a rebuild that raced a writer
-- leaves the mark in place and the day is rebuilt again.

-- The zone the tallies' local days are in; empty until the first build. Another zone rebuilds
-- every day.
CREATE TABLE stat_zone (
    id    BIGINT  PRIMARY KEY CHECK (id = 1),
    zone  TEXT    NOT NULL
);

-- UTC days (microseconds / 86,400,000,000) whose incidents or alerts changed since the
-- tallies were built.
CREATE TABLE stat_dirty (
    day  BIGINT  PRIMARY KEY,
    gen  BIGINT  NOT NULL
);

-- Incidents per local day (days since 1970-01-01 in stat_zone's zone), hotspot, camera and
-- kind: how many, by severity, how many people raised, by the state of their alert, and by
-- local hour (the hour repeated when clocks go back counts into the same hour).
CREATE TABLE stat_incident_days (
    day             BIGINT  NOT NULL,
    hotspot_id      TEXT    NOT NULL,
    camera_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    n               BIGINT  NOT NULL,
    sev_low         BIGINT  NOT NULL,
    sev_medium      BIGINT  NOT NULL,
    sev_high        BIGINT  NOT NULL,
    sev_critical    BIGINT  NOT NULL,
    by_operator     BIGINT  NOT NULL,
    out_none        BIGINT  NOT NULL,
    out_open        BIGINT  NOT NULL,
    out_resolved    BIGINT  NOT NULL,
    out_false_alarm BIGINT  NOT NULL,
    out_escalated   BIGINT  NOT NULL,
    h00             BIGINT  NOT NULL,
    h01             BIGINT  NOT NULL,
    h02             BIGINT  NOT NULL,
    h03             BIGINT  NOT NULL,
    h04             BIGINT  NOT NULL,
    h05             BIGINT  NOT NULL,
    h06             BIGINT  NOT NULL,
    h07             BIGINT  NOT NULL,
    h08             BIGINT  NOT NULL,
    h09             BIGINT  NOT NULL,
    h10             BIGINT  NOT NULL,
    h11             BIGINT  NOT NULL,
    h12             BIGINT  NOT NULL,
    h13             BIGINT  NOT NULL,
    h14             BIGINT  NOT NULL,
    h15             BIGINT  NOT NULL,
    h16             BIGINT  NOT NULL,
    h17             BIGINT  NOT NULL,
    h18             BIGINT  NOT NULL,
    h19             BIGINT  NOT NULL,
    h20             BIGINT  NOT NULL,
    h21             BIGINT  NOT NULL,
    h22             BIGINT  NOT NULL,
    h23             BIGINT  NOT NULL,
    PRIMARY KEY (day, hotspot_id, camera_id, kind)
);

-- Incidents whose alert was closed, per local day, rule, camera, hotspot and kind, by how: the
-- precision of each rule.
CREATE TABLE stat_precision_days (
    day          BIGINT  NOT NULL,
    rule_id      TEXT    NOT NULL,
    camera_id    TEXT    NOT NULL,
    hotspot_id   TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    resolved     BIGINT  NOT NULL,
    false_alarm  BIGINT  NOT NULL,
    escalated    BIGINT  NOT NULL,
    PRIMARY KEY (day, rule_id, camera_id, hotspot_id, kind)
);

-- Alerts per local day of their creation, hotspot, severity and state.
CREATE TABLE stat_alert_days (
    day         BIGINT  NOT NULL,
    hotspot_id  TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    n           BIGINT  NOT NULL,
    PRIMARY KEY (day, hotspot_id, severity, state)
);

-- A site that already holds incidents builds its tallies on the first statistics query.
INSERT INTO stat_dirty (day, gen) SELECT DISTINCT opened_at / 86400000000, 1 FROM incidents;
INSERT INTO stat_dirty (day, gen)
    SELECT DISTINCT created_at / 86400000000, 1 FROM alerts WHERE true
    ON CONFLICT (day) DO NOTHING;
