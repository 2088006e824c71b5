-- roeh schema, version 2: the evidence log, site keys, checkpoints, events, legal holds and
-- exports (docs/design/0005-evidence-format.md). Same portability rules as 0001.

-- The site's append-only Merkle log (RFC 9162). idx is the 0-based leaf index; rows are never
-- updated or deleted. data is the leaf's exact bytes (kind byte first); leaf_hash = H(0x00 ‖ data).
CREATE TABLE log_leaves (
    idx          BIGINT  PRIMARY KEY CHECK (idx >= 0),
    kind         BIGINT  NOT NULL CHECK (kind IN (1, 2, 3)),
    data         BLOB    NOT NULL,
    leaf_hash    BLOB    NOT NULL,
    appended_at  BIGINT  NOT NULL
);

-- Where each segment and gap sits in the log. A gap is logged once it is settled (closed, and no
-- later footage can still move its end); after that its row never changes.
ALTER TABLE segments ADD COLUMN log_index BIGINT;
ALTER TABLE gaps ADD COLUMN log_index BIGINT;
CREATE INDEX gaps_unlogged ON gaps (camera_id) WHERE log_index IS NULL;

-- Custody and key events, each a log leaf. json is stored byte for byte as logged.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    time        BIGINT  NOT NULL,
    type        TEXT    NOT NULL,
    camera_id   TEXT,
    json        BLOB    NOT NULL,
    log_index   BIGINT  NOT NULL UNIQUE
);

CREATE INDEX events_camera_time ON events (camera_id, time);

-- Public halves of the site keys (the private halves live in files, never here).
CREATE TABLE site_keys (
    key_id      TEXT    PRIMARY KEY,                      -- 16 lowercase hex digits
    public_key  BLOB    NOT NULL,                         -- 32 bytes, Ed25519
    created_at  BIGINT  NOT NULL,
    retired_at  BIGINT                                    -- set when a newer key took over
);

-- Signed checkpoints of the log, as handed out.
CREATE TABLE checkpoints (
    id          INTEGER PRIMARY KEY,
    tree_size   BIGINT  NOT NULL,
    root        BLOB    NOT NULL,
    time        BIGINT  NOT NULL,
    key_id      TEXT    NOT NULL REFERENCES site_keys (key_id),
    text        TEXT    NOT NULL,                         -- the signed bytes
    signature   BLOB    NOT NULL
);

CREATE INDEX checkpoints_size ON checkpoints (tree_size);

-- Legal holds: retention never deletes footage of camera_id overlapping [start_wall, end_wall)
-- while cleared_at is NULL.
CREATE TABLE holds (
    id            INTEGER PRIMARY KEY,
    case_ref      TEXT    NOT NULL,
    camera_id     TEXT    NOT NULL REFERENCES cameras (id),
    start_wall    BIGINT  NOT NULL,
    end_wall      BIGINT  NOT NULL CHECK (end_wall > start_wall),
    reason        TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    cleared_at    BIGINT,
    cleared_by    TEXT,
    clear_reason  TEXT
);

CREATE INDEX holds_active ON holds (camera_id) WHERE cleared_at IS NULL;

-- Export jobs (clip bundles).
CREATE TABLE exports (
    id            TEXT    PRIMARY KEY,                    -- UUID
    camera_id     TEXT    NOT NULL REFERENCES cameras (id),
    start_wall    BIGINT  NOT NULL,
    end_wall      BIGINT  NOT NULL,
    reason        TEXT    NOT NULL,
    case_ref      TEXT    NOT NULL,
    requester     TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    bytes_done    BIGINT  NOT NULL,
    bytes_total   BIGINT  NOT NULL,
    path          TEXT,
    error         TEXT,
    created_at    BIGINT  NOT NULL,
    finished_at   BIGINT
);
