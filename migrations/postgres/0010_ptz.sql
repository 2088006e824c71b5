-- roeh schema, version 10: where a camera with pan, tilt and zoom points. Same portability rules
-- as 0001.
--
-- A hotspot's zones and lines are drawn on the picture of the camera's home position. While an
-- operator has turned the camera away from it (a preset other than home, or a manual move) the
-- picture no longer matches the zones, so the camera's rules are paused; they resume when the
-- camera is sent home. The row is what roeh last commanded, kept so that a restart does not
-- resume rules on a camera that still points elsewhere. No row: the camera is at home.
CREATE TABLE camera_ptz (
    camera_id   TEXT    PRIMARY KEY REFERENCES cameras (id) ON DELETE CASCADE,
    away        BOOLEAN NOT NULL,                 -- away from home: the camera's rules pause
    position    TEXT    NOT NULL,                 -- 'home', 'preset:<token>' or 'moved'
    changed_at  BIGINT  NOT NULL,                 -- µs since the epoch
    changed_by  TEXT    NOT NULL                  -- the user who sent the command
);
