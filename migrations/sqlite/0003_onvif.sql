-- roeh schema, version 3: ONVIF onboarding (devices added as cameras, and discovered devices
-- awaiting an operator's approval). Same portability rules as 0001.
--
-- cameras.password: from this version on the column holds ciphertext, never the password itself:
-- `enc:v1:<hex of nonce ‖ ciphertext>`, ChaCha20-Poly1305 with a random 96-bit nonce per write,
-- the site's credential key (<data_dir>/keys/credentials.key, mode 0600) and the camera id as
-- associated data, so a value copied to another row does not decrypt. Plain values written by
-- earlier versions still read and are re-encrypted at start-up. This closes the KNOWN GAP noted
-- on the column in 0001. An empty password is stored as NULL.

-- One row per camera added through ONVIF. The camera's own url is the main profile's stream URL
-- at the time it was added; every URL here was checked against the allowed camera networks and
-- carries no credentials. Device strings are cleaned and length-capped by roeh-onvif.
CREATE TABLE onvif_devices (
    camera_id         TEXT    PRIMARY KEY REFERENCES cameras (id),
    device_url        TEXT    NOT NULL,                     -- the device service URL probed
    endpoint_ref      TEXT,                                 -- WS-Discovery endpoint (urn:uuid:…)
    manufacturer      TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    firmware_version  TEXT    NOT NULL,
    serial_number     TEXT    NOT NULL,
    hardware_id       TEXT    NOT NULL,
    -- The main (recording) profile.
    main_token        TEXT    NOT NULL,
    main_name         TEXT    NOT NULL,
    main_encoding     TEXT    NOT NULL,
    main_width        BIGINT,
    main_height       BIGINT,
    main_fps          DOUBLE PRECISION,
    main_stream_url   TEXT    NOT NULL,
    -- The sub (analysis) profile; all NULL when the device has no second usable profile.
    sub_token         TEXT,
    sub_name          TEXT,
    sub_encoding      TEXT,
    sub_width         BIGINT,
    sub_height        BIGINT,
    sub_fps           DOUBLE PRECISION,
    sub_stream_url    TEXT,
    snapshot_url      TEXT,                                 -- NULL: the device offers none
    added_at          BIGINT  NOT NULL,
    CHECK ((sub_token IS NULL) = (sub_stream_url IS NULL))
);

CREATE INDEX onvif_devices_device_url ON onvif_devices (device_url);

-- Devices that answered a WS-Discovery probe. Nothing here records anything: an entry becomes a
-- camera only when an operator adds it (state 'approved', camera_id set). A dismissed entry stays
-- dismissed when the device answers again. xaddrs and scopes are JSON arrays of strings.
CREATE TABLE onvif_discovered (
    id            INTEGER PRIMARY KEY,
    endpoint_ref  TEXT    NOT NULL UNIQUE,
    xaddrs        TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    name          TEXT,
    hardware      TEXT,
    location      TEXT,
    from_addr     TEXT    NOT NULL,                         -- where the reply came from
    first_seen    BIGINT  NOT NULL,
    last_seen     BIGINT  NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'dismissed')),
    camera_id     TEXT    REFERENCES cameras (id),
    CHECK ((state = 'approved') = (camera_id IS NOT NULL))
);
