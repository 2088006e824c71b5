-- roeh schema, version 7: alerts, patrol units, dispatches and receipts. Same portability rules
-- as 0001.
--
-- An alert gathers the alerting incidents of one hotspot that arrive within the merge window.
-- Every change of an alert (raised, merged, each transition, each note, each dispatch, each
-- receipt) appends one row to alert_events in the same transaction as the change itself; its
-- `seq` is the global push sequence number. alert_events is append-only (triggers), so seq
-- never goes back and a client that resumes from a seq misses nothing.

CREATE TABLE alerts (
    id                TEXT             PRIMARY KEY,        -- UUID
    hotspot_id        TEXT             NOT NULL,
    severity          TEXT             NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    priority          BIGINT           NOT NULL,
    state             TEXT             NOT NULL CHECK (state IN ('new', 'claimed', 'acknowledged',
                                           'dispatched', 'on_scene', 'resolved', 'false_alarm', 'escalated')),
    claimed_by        BIGINT,                              -- users.id of the claiming operator
    lat               DOUBLE PRECISION,                    -- the hotspot's position when raised
    lon               DOUBLE PRECISION,
    created_at        BIGINT           NOT NULL,
    updated_at        BIGINT           NOT NULL,
    last_incident_at  BIGINT           NOT NULL,
    claimed_at        BIGINT,
    acknowledged_at   BIGINT,
    escalated_at      BIGINT,
    closed_at         BIGINT
);

CREATE INDEX alerts_hotspot ON alerts (hotspot_id, last_incident_at);
CREATE INDEX alerts_created ON alerts (created_at);
CREATE INDEX alerts_active ON alerts (created_at) WHERE state IN ('new', 'claimed');

-- Which incidents an alert gathers. An incident belongs to at most one alert.
CREATE TABLE alert_incidents (
    alert_id     TEXT    NOT NULL REFERENCES alerts (id),
    incident_id  TEXT    NOT NULL UNIQUE,
    rule_id      TEXT    NOT NULL,
    camera_id    TEXT    NOT NULL,
    opened_at    BIGINT  NOT NULL,
    PRIMARY KEY (alert_id, incident_id)
);

CREATE INDEX alert_incidents_rule_camera ON alert_incidents (rule_id, camera_id);

CREATE TABLE alert_events (
    seq       INTEGER PRIMARY KEY,                          -- the push sequence number
    alert_id  TEXT    NOT NULL REFERENCES alerts (id),
    time      BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,                             -- raised, merged, claim, note, receipt, ...
    actor     TEXT    NOT NULL,                             -- username, or 'system'
    state     TEXT    NOT NULL,                             -- the alert's state after the event
    unit_id   TEXT,                                         -- the unit a dispatch or receipt concerns
    detail    TEXT    NOT NULL                              -- JSON object
);

CREATE INDEX alert_events_alert ON alert_events (alert_id, seq);

CREATE TRIGGER alert_events_no_update BEFORE UPDATE ON alert_events
BEGIN
    SELECT RAISE(ABORT, 'alert_events is append-only');
END;

CREATE TRIGGER alert_events_no_delete BEFORE DELETE ON alert_events
BEGIN
    SELECT RAISE(ABORT, 'alert_events is append-only');
END;

-- Patrol units. Each signs in as its own user (role `unit`) with a device token.
CREATE TABLE units (
    id          TEXT             PRIMARY KEY,               -- UUID
    name        TEXT             NOT NULL UNIQUE,
    user_id     BIGINT           NOT NULL UNIQUE REFERENCES users (id),
    lat         DOUBLE PRECISION,
    lon         DOUBLE PRECISION,
    status      TEXT             NOT NULL CHECK (status IN ('available', 'busy', 'off_duty')),
    created_at  BIGINT           NOT NULL,
    updated_at  BIGINT           NOT NULL
);

-- One row per alert sent to a unit, with the unit's receipts. seq is the dispatch event's.
CREATE TABLE dispatches (
    alert_id       TEXT    NOT NULL REFERENCES alerts (id),
    unit_id        TEXT    NOT NULL REFERENCES units (id),
    seq            BIGINT  NOT NULL,
    dispatched_at  BIGINT  NOT NULL,
    dispatched_by  TEXT    NOT NULL,
    delivered_at   BIGINT,
    accepted_at    BIGINT,
    arrived_at     BIGINT,
    closed_at      BIGINT,
    PRIMARY KEY (alert_id, unit_id)
);

CREATE INDEX dispatches_unit ON dispatches (unit_id, seq);

-- Receipts by their client-chosen id: a replay of an id is recognised and changes nothing.
CREATE TABLE receipts (
    unit_id      TEXT    NOT NULL REFERENCES units (id),
    receipt_id   TEXT    NOT NULL,
    alert_id     TEXT    NOT NULL REFERENCES alerts (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('delivered', 'accepted', 'arrived', 'closed')),
    received_at  BIGINT  NOT NULL,
    PRIMARY KEY (unit_id, receipt_id)
);
