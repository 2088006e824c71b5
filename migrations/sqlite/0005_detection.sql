-- roeh schema, version 5: detection. Hotspots and rules managed through the API, per-camera
-- analysis settings, and the incidents the rule engine opens, updates and closes. Same
-- portability rules as 0001 (DOUBLE PRECISION is REAL in SQLite and PostgreSQL alike).
--
-- Documents: `hotspots.document` and `rules.document` hold the JSON forms defined by roeh-rules
-- (`Hotspot`, `Rule`). The API validates them before they are written; the store keeps them as
-- text so it does not depend on the rule crate. The key columns beside them (name, hotspot_id,
-- enabled) are copies of the document's fields, kept in step by every write, for listing.

CREATE TABLE hotspots (
    id          TEXT    PRIMARY KEY,                        -- UUID, as in the document
    name        TEXT    NOT NULL,
    document    TEXT    NOT NULL,                           -- roeh-rules Hotspot, JSON
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- A hotspot's rules go with it.
CREATE TABLE rules (
    id          TEXT    PRIMARY KEY,                        -- UUID, as in the document
    hotspot_id  TEXT    NOT NULL REFERENCES hotspots (id) ON DELETE CASCADE,
    document    TEXT    NOT NULL,                           -- roeh-rules Rule, JSON
    enabled     BOOLEAN NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE INDEX rules_hotspot ON rules (hotspot_id);

-- Whether a camera's pictures are analysed, and at how many frames per second. A camera without
-- a row is analysed at the configured default rate.
CREATE TABLE camera_analysis (
    camera_id   TEXT             PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    enabled     BOOLEAN          NOT NULL,
    fps         DOUBLE PRECISION NOT NULL CHECK (fps > 0),
    updated_at  BIGINT           NOT NULL
);

-- One row per incident. Incidents are records of what the system saw: they keep no foreign key
-- to the camera, hotspot or rule, which may be edited or removed later. (rule_id, camera_id,
-- seq) is the rule engine's key; seq restarts when the engine is rebuilt, so it is not unique.
-- evidence_start/evidence_end bound the footage that belongs to the incident (opened - pre,
-- closed + post); evidence_end is NULL while the incident is open. snapshot is the file name of
-- the JPEG under <data_dir>/snapshots/, NULL until one is written.
CREATE TABLE incidents (
    id              TEXT             PRIMARY KEY,           -- UUID
    rule_id         TEXT             NOT NULL,
    camera_id       TEXT             NOT NULL,
    hotspot_id      TEXT             NOT NULL,
    seq             BIGINT           NOT NULL,
    kind            TEXT             NOT NULL,              -- intrusion, loitering, crowding, ...
    severity        TEXT             NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    priority        BIGINT           NOT NULL,
    alerting        BOOLEAN          NOT NULL,
    reason          TEXT             NOT NULL,
    state           TEXT             NOT NULL CHECK (state IN ('open', 'closed')),
    opened_at       BIGINT           NOT NULL,
    updated_at      BIGINT           NOT NULL,
    closed_at       BIGINT,
    peak_score      DOUBLE PRECISION NOT NULL,
    track_ids       TEXT             NOT NULL,              -- JSON array of integers, ascending
    model_id        TEXT             NOT NULL,
    snapshot        TEXT,
    evidence_start  BIGINT           NOT NULL,
    evidence_end    BIGINT,
    CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);

-- The listing filters: by camera, by hotspot, by state, each newest first; and by time alone.
CREATE INDEX incidents_camera_opened ON incidents (camera_id, opened_at);
CREATE INDEX incidents_hotspot_opened ON incidents (hotspot_id, opened_at);
CREATE INDEX incidents_opened ON incidents (opened_at);
CREATE INDEX incidents_open ON incidents (opened_at) WHERE state = 'open';
