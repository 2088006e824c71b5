-- roeh schema, version 1 (SQLite). Forward-only; applied at start-up by roeh-store.
--
-- Portability: this file uses only types and constructs that a PostgreSQL 0001_init.sql can mirror
-- one to one: BIGINT for integers (SQLite: 64-bit INTEGER), TEXT, BOOLEAN (SQLite stores 0/1),
-- BLOB (PostgreSQL: BYTEA), `INTEGER PRIMARY KEY` row ids (PostgreSQL: BIGINT GENERATED ALWAYS AS
-- IDENTITY), CHECK constraints, foreign keys and partial indexes (both engines support
-- `CREATE INDEX ... WHERE`).
--
-- Times: every *_wall / *_at column is UTC microseconds since the Unix epoch; *_pts columns are
-- 90 kHz media time. Nothing stores local time.

CREATE TABLE cameras (
    id                      TEXT    PRIMARY KEY,            -- UUID, hyphenated lowercase
    name                    TEXT    NOT NULL,
    url                     TEXT    NOT NULL,               -- rtsp/rtsps, never with credentials
    username                TEXT,
    -- KNOWN GAP: the camera password is stored in plain text. It is to be replaced by encryption
    -- at rest (TRUST.md S7); it is never returned by the API or logged.
    password                TEXT,
    transport               TEXT    NOT NULL CHECK (transport IN ('tcp', 'udp')),
    enabled                 BOOLEAN NOT NULL,
    retention_max_age_secs  BIGINT,                         -- NULL: no age limit
    retention_max_bytes     BIGINT,                         -- NULL: no size limit
    created_at              BIGINT  NOT NULL,
    -- Set when the camera is removed but still has footage or gaps: it stops recording and
    -- leaves lists, while its segments and gaps stay as evidence.
    removed_at              BIGINT
);

-- One row per segment file ever committed. Rows are never deleted: retention deletes the file
-- and sets state = 'deleted', so the hashes stay as proof of what existed and the chain of
-- every camera verifies from seq 1.
CREATE TABLE segments (
    id             INTEGER PRIMARY KEY,
    camera_id      TEXT    NOT NULL REFERENCES cameras (id),
    seq            BIGINT  NOT NULL CHECK (seq >= 1),
    run            BIGINT  NOT NULL,
    codec          TEXT    NOT NULL,
    start_wall     BIGINT  NOT NULL,
    end_wall       BIGINT  NOT NULL,
    start_pts      BIGINT  NOT NULL,
    duration_pts   BIGINT  NOT NULL,
    frames         BIGINT  NOT NULL,
    bytes          BIGINT  NOT NULL,
    sha256         BLOB    NOT NULL,
    prev_chain     BLOB    NOT NULL,
    chain          BLOB    NOT NULL,
    config_record  BLOB    NOT NULL,
    width          BIGINT  NOT NULL,
    height         BIGINT  NOT NULL,
    rfc6381        TEXT    NOT NULL,
    recovered      BOOLEAN NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('committed', 'deleted')),
    deleted_at     BIGINT,
    frame_index    BLOB    NOT NULL,                        -- see roeh-store frame_index module
    UNIQUE (camera_id, seq)
);

-- "Segments of camera X overlapping [a, b)": start_wall < b AND end_wall > a.
CREATE INDEX segments_camera_start ON segments (camera_id, start_wall);
-- "Oldest committed segments" of one camera or of all cameras (retention, disk full).
CREATE INDEX segments_committed_start ON segments (start_wall) WHERE state = 'committed';

-- A stretch of time without footage and why. end_wall is NULL while the gap is open.
CREATE TABLE gaps (
    id          INTEGER PRIMARY KEY,
    camera_id   TEXT    NOT NULL REFERENCES cameras (id),
    start_wall  BIGINT  NOT NULL,
    end_wall    BIGINT,
    reason      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);

CREATE INDEX gaps_camera_start ON gaps (camera_id, start_wall);
CREATE INDEX gaps_open ON gaps (camera_id) WHERE end_wall IS NULL;

-- Wall-clock steps noticed by the recorder (wall time moved differently from monotonic time).
CREATE TABLE time_events (
    id                INTEGER PRIMARY KEY,
    camera_id         TEXT    REFERENCES cameras (id),      -- NULL: noticed outside a camera
    monotonic_micros  BIGINT  NOT NULL,
    wall_before       BIGINT  NOT NULL,
    wall_after        BIGINT  NOT NULL,
    delta_micros      BIGINT  NOT NULL,                     -- step beyond monotonic progress
    detail            TEXT    NOT NULL
);

CREATE INDEX time_events_camera ON time_events (camera_id, wall_after);
