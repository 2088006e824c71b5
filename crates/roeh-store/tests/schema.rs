//! The two schemas: `migrations/sqlite/` and `migrations/postgres/` applied to a real SQLite file
//! and a real PostgreSQL (a throwaway cluster) produce the same logical schema: the same
//! tables with the same columns (name, type, nullability, default) in the same order, the same
//! primary, unique and foreign keys, as many CHECK constraints, the same named indexes (columns, uniqueness, partial or
//! not) and the same triggers; and the PostgreSQL one behaves as the SQLite one where a schema
//! enforces something (append-only tables, checks, identities that keep copied ids).

#![allow(clippy::unwrap_used)]

use roeh_testkit::postgres::{Cluster, have_postgres};
use sqlx::Row;
use sqlx::migrate::Migrator;
use std::collections::BTreeMap;

static SQLITE: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../../migrations/postgres");

/// A column: name, type, not null, default.
type Column = (String, &'static str, bool, Option<String>);

/// A schema as both databases can state it.
#[derive(Debug, Default, PartialEq)]
struct Schema {
    /// Columns of each table, in order.
    tables: BTreeMap<String, Vec<Column>>,
    /// Primary key columns of each table, in key order.
    primary: BTreeMap<String, Vec<String>>,
    /// Unique constraints: table and columns.
    unique: Vec<(String, Vec<String>)>,
    /// Foreign keys: table, column, referenced table, referenced column, cascades on delete.
    foreign: Vec<(String, String, String, String, bool)>,
    /// Named indexes: name, table, columns, unique, partial.
    indexes: Vec<(String, String, Vec<String>, bool, bool)>,
    /// Triggers: name, table.
    triggers: Vec<(String, String)>,
    /// How many CHECK constraints each table has.
    checks: BTreeMap<String, usize>,
}

/// A declared type by the one name both share.
fn logical_type(t: &str) -> &'static str {
    match t.to_ascii_lowercase().as_str() {
        "integer" | "bigint" | "int8" => "int8",
        "text" => "text",
        "boolean" | "bool" => "bool",
        "blob" | "bytea" => "bytea",
        "double precision" | "real" | "float8" => "float8",
        _ => "unknown",
    }
}

/// A default as text without quotes or casts (`'json'::text` and `'json'` are `json`).
fn logical_default(d: &str) -> String {
    let d = d.split("::").next().unwrap_or(d);
    d.trim_matches('\'').to_string()
}

const SKIP: [&str; 1] = ["_sqlx_migrations"];

async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Schema {
    let mut s = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for t in tables.into_iter().filter(|t| !SKIP.contains(&t.as_str())) {
        let cols = sqlx::query("SELECT * FROM pragma_table_info(?)")
            .bind(&t)
            .fetch_all(pool)
            .await
            .unwrap();
        let mut columns = Vec::new();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &cols {
            let name: String = c.get("name");
            let ty: String = c.get("type");
            let pk_pos: i64 = c.get("pk");
            let notnull: i64 = c.get("notnull");
            let default: Option<String> = c.get("dflt_value");
            if pk_pos > 0 {
                pk.push((pk_pos, name.clone()));
            }
            columns.push((
                name,
                logical_type(&ty),
                notnull == 1 || pk_pos > 0,
                default.as_deref().map(logical_default),
            ));
        }
        pk.sort();
        // SQLite keeps the table's SQL (with columns added later) as its only statement of checks.
        let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = ?")
            .bind(&t)
            .fetch_one(pool)
            .await
            .unwrap();
        let checks = sql.to_ascii_uppercase().matches("CHECK (").count();
        s.checks.insert(t.clone(), checks);
        s.primary
            .insert(t.clone(), pk.into_iter().map(|(_, n)| n).collect());
        s.tables.insert(t.clone(), columns);
        for f in sqlx::query("SELECT * FROM pragma_foreign_key_list(?)")
            .bind(&t)
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let on_delete: String = f.get("on_delete");
            s.foreign.push((
                t.clone(),
                f.get("from"),
                f.get("table"),
                f.get("to"),
                on_delete == "CASCADE",
            ));
        }
        for i in sqlx::query("SELECT * FROM pragma_index_list(?)")
            .bind(&t)
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let name: String = i.get("name");
            let origin: String = i.get("origin");
            let unique: i64 = i.get("unique");
            let partial: i64 = i.get("partial");
            let mut cols: Vec<(i64, String)> = sqlx::query("SELECT * FROM pragma_index_info(?)")
                .bind(&name)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get("seqno"), r.get("name")))
                .collect();
            cols.sort();
            let cols: Vec<String> = cols.into_iter().map(|(_, n)| n).collect();
            match origin.as_str() {
                "c" => s
                    .indexes
                    .push((name, t.clone(), cols, unique == 1, partial == 1)),
                "u" => s.unique.push((t.clone(), cols)),
                _ => {} // the primary key, stated above
            }
        }
    }
    s.triggers = sqlx::query_as(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    s.normalise();
    s
}

async fn postgres_schema(pool: &sqlx::PgPool) -> Schema {
    let mut s = Schema::default();
    let cols = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, \
                is_nullable::text AS nullable, column_default::text AS d \
         FROM information_schema.columns WHERE table_schema = 'public' \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for c in cols {
        let t: String = c.get("t");
        if SKIP.contains(&t.as_str()) {
            continue;
        }
        let nullable: String = c.get("nullable");
        let default: Option<String> = c.get("d");
        let ty: String = c.get("ty");
        s.tables.entry(t).or_default().push((
            c.get("c"),
            logical_type(&ty),
            nullable == "NO",
            default.as_deref().map(logical_default),
        ));
    }
    let constraints = sqlx::query(
        "SELECT c.contype::text AS kind, c.conrelid::regclass::text AS t, \
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                      ORDER BY k.o) AS cols, \
                c.confrelid::regclass::text AS ft, \
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n \
                      ORDER BY k.o) AS fcols, \
                c.confdeltype::text AS on_delete \
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for c in constraints {
        let kind: String = c.get("kind");
        let t: String = c.get("t");
        if SKIP.contains(&t.as_str()) {
            continue;
        }
        let cols: Vec<String> = c.get("cols");
        match kind.as_str() {
            "p" => {
                s.primary.insert(t, cols);
            }
            "u" => s.unique.push((t, cols)),
            _ => {
                let fcols: Vec<String> = c.get("fcols");
                let on_delete: String = c.get("on_delete");
                s.foreign.push((
                    t,
                    cols.concat(),
                    c.get("ft"),
                    fcols.concat(),
                    on_delete == "c",
                ));
            }
        }
    }
    let checks: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, count(k.oid) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'c' \
         WHERE n.nspname = 'public' AND c.relkind = 'r' GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    s.checks = checks
        .into_iter()
        .filter(|(t, _)| !SKIP.contains(&t.as_str()))
        .map(|(t, n)| (t, usize::try_from(n).unwrap()))
        .collect();
    // Indexes of their own, not those behind a key.
    s.indexes = sqlx::query(
        "SELECT i.relname::text AS name, t.relname::text AS t, x.indisunique AS uniq, \
                x.indpred IS NOT NULL AS partial, \
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o) \
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n \
                      ORDER BY k.o) AS cols \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .filter(|r| !SKIP.contains(&r.get::<String, _>("t").as_str()))
    .map(|r| {
        (
            r.get("name"),
            r.get("t"),
            r.get("cols"),
            r.get("uniq"),
            r.get("partial"),
        )
    })
    .collect();
    s.triggers = sqlx::query_as(
        "SELECT g.tgname::text, c.relname::text FROM pg_trigger g \
         JOIN pg_class c ON c.oid = g.tgrelid WHERE NOT g.tgisinternal ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    s.normalise();
    s
}

impl Schema {
    fn normalise(&mut self) {
        self.unique.sort();
        self.foreign.sort();
        self.indexes.sort();
        self.triggers.sort();
        self.primary.retain(|_, v| !v.is_empty());
    }
}

fn versions(m: &Migrator) -> Vec<(i64, String)> {
    m.iter()
        .map(|x| (x.version, x.description.to_string()))
        .collect()
}

#[test]
fn both_folders_hold_the_same_migrations() {
    let sqlite = versions(&SQLITE);
    assert!(sqlite.len() >= 11, "{sqlite:?}");
    assert_eq!(
        sqlite,
        versions(&POSTGRES),
        "every migration exists for both databases, under the same version and name"
    );
}

#[tokio::test]
async fn both_databases_get_the_same_logical_schema() {
    if !have_postgres("both_databases_get_the_same_logical_schema") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.db").display()
    ))
    .await
    .unwrap();
    SQLITE.run(&lite).await.unwrap();
    let cluster = Cluster::start(dir.path()).unwrap();
    let pg = sqlx::PgPool::connect(&cluster.create_database("schema").unwrap())
        .await
        .unwrap();
    POSTGRES.run(&pg).await.unwrap();

    let (a, b) = (sqlite_schema(&lite).await, postgres_schema(&pg).await);
    assert!(a.tables.len() >= 30, "{:?}", a.tables.keys());
    assert!(!a.indexes.is_empty() && !a.foreign.is_empty() && a.triggers.len() == 4);
    for (t, cols) in &a.tables {
        assert!(
            cols.iter().all(|c| c.1 != "unknown"),
            "{t}: a type outside the shared set: {cols:?}"
        );
        assert_eq!(Some(cols), b.tables.get(t), "columns of {t}");
    }
    assert_eq!(
        a.tables.keys().collect::<Vec<_>>(),
        b.tables.keys().collect::<Vec<_>>()
    );
    assert_eq!(a.primary, b.primary, "primary keys");
    assert_eq!(a.unique, b.unique, "unique constraints");
    assert_eq!(a.foreign, b.foreign, "foreign keys");
    assert_eq!(a.indexes, b.indexes, "indexes");
    assert_eq!(a.triggers, b.triggers, "triggers");
    assert!(a.checks.values().sum::<usize>() >= 20, "{:?}", a.checks);
    assert_eq!(a.checks, b.checks, "CHECK constraints per table");
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_postgres_schema_enforces_what_the_sqlite_one_does() {
    if !have_postgres("the_postgres_schema_enforces_what_the_sqlite_one_does") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(dir.path()).unwrap();
    let pg = sqlx::PgPool::connect(&cluster.create_database("rules").unwrap())
        .await
        .unwrap();
    POSTGRES.run(&pg).await.unwrap();
    // Append-only: the audit log and the alert events refuse updates and deletes.
    sqlx::query(
        "INSERT INTO audit_log (time, actor, action, outcome) VALUES (1, 'a', 'login', 'ok')",
    )
    .execute(&pg)
    .await
    .unwrap();
    for sql in ["UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log"] {
        let e = sqlx::query(sql).execute(&pg).await.unwrap_err();
        assert!(
            e.to_string().contains("audit_log is append-only"),
            "{sql}: {e}"
        );
    }
    // Checks: a transport outside tcp/udp, a token hash of the wrong length.
    let bad_camera = "INSERT INTO cameras (id, name, url, transport, enabled, created_at) \
                      VALUES ('c', 'n', 'rtsp://x', 'http', true, 1)";
    assert!(sqlx::query(bad_camera).execute(&pg).await.is_err());
    sqlx::query(
        "INSERT INTO users (username, password_hash, role, scope, created_at) \
         VALUES ('u', 'h', 'admin', '{}', 1)",
    )
    .execute(&pg)
    .await
    .unwrap();
    let short = sqlx::query(
        "INSERT INTO tokens (hash, user_id, kind, label, created_at, expires_at) \
         VALUES ($1, 1, 'api', 'l', 1, 2)",
    )
    .bind(vec![0u8; 31])
    .execute(&pg)
    .await;
    assert!(short.is_err());
    // Row ids: given ones are kept (a moved site keeps its ids), new ones follow.
    sqlx::query(
        "INSERT INTO audit_log (id, time, actor, action, outcome) \
         VALUES (100, 2, 'a', 'login', 'ok')",
    )
    .execute(&pg)
    .await
    .unwrap();
    // The webhook cursor starts at 0, as in SQLite.
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM webhook_cursor WHERE id = 1")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(seq, 0);
    // A unit's kind defaults to joint and is checked.
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname LIKE 'units_kind%'",
    )
    .fetch_all(&pg)
    .await
    .unwrap();
    assert!(kinds.iter().any(|k| k.contains("volunteer")), "{kinds:?}");
}

/// `m` up to and including version `last`.
fn up_to(m: &Migrator, last: i64) -> Migrator {
    Migrator {
        migrations: m
            .iter()
            .filter(|x| x.version <= last)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ..Migrator::DEFAULT
    }
}

const LEAVES: &str = "INSERT INTO log_leaves (idx, kind, data, leaf_hash, appended_at) \
                      VALUES (0, 3, $1, $1, 1), (1, 3, $1, $1, 2), (2, 3, $1, $1, 3)";

#[tokio::test]
async fn upgrading_a_site_starts_the_log_head_at_its_size() {
    if !have_postgres("upgrading_a_site_starts_the_log_head_at_its_size") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("u.db").display()
    ))
    .await
    .unwrap();
    up_to(&SQLITE, 11).run(&lite).await.unwrap();
    sqlx::query(LEAVES)
        .bind(vec![3u8, b'{', b'}'])
        .execute(&lite)
        .await
        .unwrap();
    SQLITE.run(&lite).await.unwrap();
    let size: i64 = sqlx::query_scalar("SELECT size FROM log_head")
        .fetch_one(&lite)
        .await
        .unwrap();
    assert_eq!(size, 3);

    let cluster = Cluster::start(dir.path()).unwrap();
    let pg = sqlx::PgPool::connect(&cluster.create_database("upgrade").unwrap())
        .await
        .unwrap();
    up_to(&POSTGRES, 11).run(&pg).await.unwrap();
    sqlx::query(LEAVES)
        .bind(vec![3u8, b'{', b'}'])
        .execute(&pg)
        .await
        .unwrap();
    POSTGRES.run(&pg).await.unwrap();
    let size: i64 = sqlx::query_scalar("SELECT size FROM log_head")
        .fetch_one(&pg)
        .await
        .unwrap();
    assert_eq!(size, 3);
    // One head row, no more.
    let second = sqlx::query("INSERT INTO log_head (id, size) VALUES (2, 0)")
        .execute(&pg)
        .await;
    assert!(second.is_err());
}
