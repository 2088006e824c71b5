-- roeh schema, version 14: the situational picture (docs/design/0015-situational-picture.md).

-- Enforcement operations: a named run of days with a daily window, the hotspots covered, the
-- phenomena targeted and comparison hotspots. `document` is the operation as the API takes it
-- (JSON); the name is kept beside it for listing.
CREATE TABLE operations (
    id          TEXT    PRIMARY KEY,                  -- UUID
    name        TEXT    NOT NULL,
    document    TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Counts from other sources (police-reported crime, the city's reports, surveys), one row per
-- imported file: who imported what and when.
CREATE TABLE stat_imports (
    id           TEXT    PRIMARY KEY,                 -- UUID
    source       TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    row_count    BIGINT  NOT NULL,
    first_day    TEXT    NOT NULL,                    -- YYYY-MM-DD
    last_day     TEXT    NOT NULL,
    imported_by  TEXT    NOT NULL,
    imported_at  BIGINT  NOT NULL
);

-- The imported counts. `area` is a hotspot's id or `district:` and a district's name; days are
-- YYYY-MM-DD (they compare as text), `period_end` included.
CREATE TABLE stat_counts (
    import_id     TEXT    NOT NULL REFERENCES stat_imports (id) ON DELETE CASCADE,
    area          TEXT    NOT NULL,
    period_start  TEXT    NOT NULL,
    period_end    TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    count         BIGINT  NOT NULL CHECK (count >= 0),
    PRIMARY KEY (import_id, area, period_start, period_end, category)
);

CREATE INDEX stat_counts_start ON stat_counts (period_start);

-- The statistics read incidents by time with their hotspot, kind and camera: a covering index,
-- so a range of a year is read from the index alone.
CREATE INDEX incidents_stats ON incidents (opened_at, hotspot_id, kind, camera_id);
