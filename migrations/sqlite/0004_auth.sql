-- roeh schema, version 4: users, their tokens, the audit log, and the one-time setup token.
-- Same portability rules as 0001. Times are UTC microseconds since the Unix epoch.
--
-- Users are never deleted, only disabled, so audit rows and custody events keep naming them.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT    NOT NULL UNIQUE,               -- lowercase, validated by roeh-auth
    password_hash  TEXT    NOT NULL,                      -- Argon2id PHC string
    role           TEXT    NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator',
                                                    'investigator', 'integrator', 'unit')),
    scope          TEXT    NOT NULL,                      -- JSON; '{}' is unrestricted
    created_at     BIGINT  NOT NULL,
    disabled_at    BIGINT
);

-- Sessions (console cookie) and API bearer tokens. Only SHA-256 of the token text is stored, so
-- a leaked copy of the database cannot be replayed as credentials.
CREATE TABLE tokens (
    hash          BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    user_id       BIGINT  NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('session', 'api')),
    label         TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);

CREATE INDEX tokens_user ON tokens (user_id);

-- Who did what, when, to what, how it ended and why. Append-only: the triggers below refuse
-- every UPDATE and DELETE (PostgreSQL: a BEFORE UPDATE OR DELETE trigger that raises, and no
-- UPDATE/DELETE grant to the application role).
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    time        BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    role        TEXT,
    action      TEXT    NOT NULL,
    target      TEXT,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
    status      BIGINT,
    reason      TEXT,
    source_ip   TEXT
);

CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The one-time setup token that creates the first admin (at most one row). Only its hash is
-- stored; it is replaced at each start while no user exists, and used at most once.
CREATE TABLE setup_token (
    id          BIGINT  PRIMARY KEY CHECK (id = 1),
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    created_at  BIGINT  NOT NULL,
    used_at     BIGINT,
    used_by     BIGINT  REFERENCES users (id)
);
