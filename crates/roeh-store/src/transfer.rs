//! Moving a site from SQLite to PostgreSQL (`roeh migrate-store`): every row of every table
//! copied in one target transaction, then the copy proved (docs/design/0013).
//!
//! The copy is generic over the schema: the tables, their columns and the columns' types come
//! from PostgreSQL's catalogue (the target is migrated to this roeh's schema before anything is
//! copied, and the source must have exactly the same tables and columns), and the tables are
//! filled in the order their foreign keys need. Table and column names are spliced into the
//! statements only after they were found in both catalogues and checked to be plain lower-case
//! identifiers; every value is bound.
//!
//! The proof reads both databases again, through the same statements: every table has the same
//! rows (a digest over the multiset of rows, so row order and collation do not matter), the log
//! has the same size and root hash, every stored checkpoint's root is the root of the log at
//! its size, and every camera's hash chain verifies.

use crate::{Backend, Db, DbRow, Error, Result, Store, db};
use futures::TryStreamExt;
use roeh_domain::ErrorKind;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Tables the migrations fill with one row, and the value that row has in a fresh database:
/// they count as empty while they hold only that.
const SEEDED: [(&str, &str); 2] = [
    ("log_head", "SELECT COUNT(*) FROM log_head WHERE size <> 0"),
    (
        "webhook_cursor",
        "SELECT COUNT(*) FROM webhook_cursor WHERE seq <> 0",
    ),
];

/// Most bound values in one `INSERT` (PostgreSQL allows 65,535).
const MAX_BINDS: usize = 30_000;

/// One table copied: its name and how many rows it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: String,
    /// Its rows.
    pub rows: u64,
}

/// What [`Store::prove_copy`] checked, all equal on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyProof {
    /// Every table with its row count (the rows themselves compared by digest).
    pub tables: Vec<TableCopy>,
    /// Leaves in the evidence log.
    pub log_size: u64,
    /// The log's root hash.
    pub root: [u8; 32],
    /// Stored checkpoints, each matching the log's root at its size.
    pub checkpoints: usize,
    /// Cameras whose hash chain verified.
    pub chains: usize,
    /// Segments in those chains.
    pub segments: u64,
}

/// How a column's values are read and bound, from its PostgreSQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    Text,
    Bytes,
}

impl Kind {
    fn of(pg_type: &str) -> Option<Kind> {
        Some(match pg_type {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "double precision" | "real" => Kind::Float,
            "boolean" => Kind::Bool,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            _ => return None,
        })
    }

    /// The select expression of column `c` (quoted): what both databases answer alike
    /// through `Any` (integers as BIGINT, reals as DOUBLE PRECISION, flags as 0/1).
    fn select(self, c: &str) -> String {
        match self {
            Kind::Int => format!("CAST({c} AS BIGINT)"),
            Kind::Float => format!("CAST({c} AS DOUBLE PRECISION)"),
            Kind::Bool => format!(
                "CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN CAST(1 AS BIGINT) \
                 ELSE CAST(0 AS BIGINT) END"
            ),
            Kind::Text | Kind::Bytes => c.to_string(),
        }
    }
}

/// One value as read by [`Kind::select`].
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// A table of the schema: its columns in order, with their kinds, and its identity column.
#[derive(Clone, Debug)]
struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    identity: Option<usize>,
}

impl Table {
    fn select(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, k)| k.select(&format!("\"{c}\"")))
            .collect();
        format!("SELECT {} FROM \"{}\"", cols.join(", "), self.name)
    }

    fn insert(&self, rows: usize) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect();
        let mut n = 0;
        let tuples: Vec<String> = (0..rows)
            .map(|_| {
                let row: Vec<String> = (0..cols.len())
                    .map(|_| {
                        n += 1;
                        format!("${n}")
                    })
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO \"{}\" ({}) VALUES {}",
            self.name,
            cols.join(", "),
            tuples.join(", ")
        )
    }

    fn read(&self, row: &DbRow) -> Result<Vec<Value>> {
        let what = "reading a row to copy";
        self.columns
            .iter()
            .enumerate()
            .map(|(i, (_, k))| {
                Ok(match k {
                    Kind::Int => Value::Int(row.try_get(i).map_err(db(what))?),
                    Kind::Float => Value::Float(row.try_get(i).map_err(db(what))?),
                    Kind::Bool => Value::Bool(
                        row.try_get::<Option<i64>, _>(i)
                            .map_err(db(what))?
                            .map(|v| v != 0),
                    ),
                    Kind::Text => Value::Text(row.try_get(i).map_err(db(what))?),
                    Kind::Bytes => Value::Bytes(row.try_get(i).map_err(db(what))?),
                })
            })
            .collect()
    }
}

/// A plain lower-case SQL identifier, safe to splice in double quotes.
fn plain_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// A row's digest: every value with its kind and length, so no two rows encode alike.
fn row_digest(row: &[Value]) -> [u8; 32] {
    let mut h = Sha256::new();
    for v in row {
        match v {
            Value::Int(v) => {
                h.update([b'i', u8::from(v.is_some())]);
                h.update(v.unwrap_or(0).to_be_bytes());
            }
            Value::Float(v) => {
                h.update([b'f', u8::from(v.is_some())]);
                h.update(v.unwrap_or(0.0).to_bits().to_be_bytes());
            }
            Value::Bool(v) => h.update([b'b', u8::from(v.is_some()), u8::from(v == &Some(true))]),
            Value::Text(v) => {
                h.update([b't', u8::from(v.is_some())]);
                let s = v.as_deref().unwrap_or("");
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            Value::Bytes(v) => {
                h.update([b'y', u8::from(v.is_some())]);
                let s = v.as_deref().unwrap_or(&[]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s);
            }
        }
    }
    h.finalize().into()
}

impl Store {
    /// The schema's tables as PostgreSQL's catalogue describes them (this store must be on
    /// PostgreSQL), in an order that fills every table after those its foreign keys name.
    async fn pg_tables(&self) -> Result<Vec<Table>> {
        let what = "reading the PostgreSQL catalogue";
        let rows = sqlx::query(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(data_type AS TEXT), \
             CAST(is_identity AS TEXT) FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db(what))?;
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        for r in &rows {
            let (table, column, ty, identity): (String, String, String, String) = (
                r.try_get(0).map_err(db(what))?,
                r.try_get(1).map_err(db(what))?,
                r.try_get(2).map_err(db(what))?,
                r.try_get(3).map_err(db(what))?,
            );
            if !plain_identifier(&table) || !plain_identifier(&column) {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "the target database has a table or column roeh does not know: {table:?}.{column:?}"
                    ),
                ));
            }
            let kind = Kind::of(&ty).ok_or_else(|| {
                Error::new(
                    ErrorKind::FailedPrecondition,
                    format!("column {table}.{column} has type {ty}, which the copy does not know"),
                )
            })?;
            let t = tables.entry(table.clone()).or_insert_with(|| Table {
                name: table,
                columns: Vec::new(),
                identity: None,
            });
            if identity == "YES" {
                t.identity = Some(t.columns.len());
            }
            t.columns.push((column, kind));
        }
        let edges = sqlx::query(
            "SELECT CAST(a.relname AS TEXT), CAST(b.relname AS TEXT) FROM pg_constraint c \
             JOIN pg_class a ON a.oid = c.conrelid JOIN pg_class b ON b.oid = c.confrelid \
             JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE c.contype = 'f' AND n.nspname = current_schema()",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db(what))?;
        let mut needs: BTreeMap<String, BTreeSet<String>> = tables
            .keys()
            .map(|t| (t.clone(), BTreeSet::new()))
            .collect();
        for e in &edges {
            let (from, to): (String, String) = (
                e.try_get(0).map_err(db(what))?,
                e.try_get(1).map_err(db(what))?,
            );
            if from != to
                && let Some(n) = needs.get_mut(&from)
            {
                n.insert(to);
            }
        }
        // Kahn's order, alphabetical among the tables that are ready.
        let mut order = Vec::with_capacity(tables.len());
        while !needs.is_empty() {
            let ready: Vec<String> = needs
                .iter()
                .filter(|(_, n)| n.is_empty())
                .map(|(t, _)| t.clone())
                .collect();
            if ready.is_empty() {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    "the schema's foreign keys form a cycle: no order fills the tables",
                ));
            }
            for t in ready {
                needs.remove(&t);
                for n in needs.values_mut() {
                    n.remove(&t);
                }
                if let Some(table) = tables.remove(&t) {
                    order.push(table);
                }
            }
        }
        Ok(order)
    }

    /// The names of this SQLite store's tables with their columns, in order.
    async fn sqlite_columns(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let what = "reading the SQLite catalogue";
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db(what))?;
        let mut out = BTreeMap::new();
        for name in names {
            let cols: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(&name)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db(what))?;
            out.insert(name, cols);
        }
        Ok(out)
    }

    /// The tables of a copy from `self` (SQLite) to `target` (PostgreSQL), after checking that
    /// both hold the same tables and columns.
    async fn copy_plan(&self, target: &Store) -> Result<Vec<Table>> {
        if self.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a site moves from a SQLite database to a PostgreSQL one",
            ));
        }
        let tables = target.pg_tables().await?;
        let source = self.sqlite_columns().await?;
        let target_cols: BTreeMap<&str, Vec<&str>> = tables
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.columns
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        for (name, cols) in &source {
            let mut want: Vec<&str> = target_cols.get(name.as_str()).cloned().unwrap_or_default();
            let mut have: Vec<&str> = cols.iter().map(String::as_str).collect();
            want.sort_unstable();
            have.sort_unstable();
            if want != have {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "table {name} differs between the two databases' schemas (columns {have:?} against {want:?}); nothing was copied"
                    ),
                ));
            }
        }
        if let Some(t) = target_cols.keys().find(|t| !source.contains_key(**t)) {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!("table {t} is missing from the source database; nothing was copied"),
            ));
        }
        Ok(tables)
    }

    /// Copies every row of this SQLite store into `target`, a PostgreSQL store at the same
    /// schema that holds no site yet, in one transaction of the target (all or nothing), and
    /// moves the target's identity sequences past the copied ids. Reads the source in one
    /// transaction, so the copy is one moment of it (stop roeh first all the same: what it
    /// commits later is not copied). `FailedPrecondition` naming a table when the target is
    /// not empty.
    pub async fn copy_site_to(&self, target: &Store) -> Result<Vec<TableCopy>> {
        let tables = self.copy_plan(target).await?;
        let mut src = self.pool.begin().await.map_err(db("reading the source"))?;
        let mut dst = target.begin("copying the site").await?;
        for t in &tables {
            let seeded = SEEDED.iter().find(|(name, _)| *name == t.name);
            let count = match seeded {
                Some((_, q)) => sqlx::query_scalar::<_, i64>(*q),
                None => sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM \"{}\"",
                    t.name
                ))),
            }
            .fetch_one(&mut *dst)
            .await
            .map_err(db("checking that the target is empty"))?;
            if count != 0 {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    format!(
                        "the target database is not empty (table {} has {count} rows): a site \
                         is only copied into a database that holds none; nothing was changed",
                        t.name
                    ),
                ));
            }
        }
        for (name, _) in SEEDED {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM \"{name}\"")))
                .execute(&mut *dst)
                .await
                .map_err(db("clearing the target's seeded rows"))?;
        }
        let mut copied = Vec::with_capacity(tables.len());
        for t in &tables {
            let per_batch = (MAX_BINDS / t.columns.len().max(1)).clamp(1, 1000);
            let full = t.insert(per_batch);
            let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch);
            let mut rows = 0u64;
            let mut max_id: Option<i64> = None;
            {
                let select = t.select();
                let mut stream = sqlx::query(AssertSqlSafe(select)).fetch(&mut *src);
                while let Some(row) = stream.try_next().await.map_err(db("reading the source"))? {
                    let values = t.read(&row)?;
                    if let Some(Value::Int(Some(id))) = t.identity.and_then(|i| values.get(i)) {
                        max_id = Some(max_id.map_or(*id, |m| m.max(*id)));
                    }
                    batch.push(values);
                    rows += 1;
                    if batch.len() == per_batch {
                        insert_batch(&mut dst, &full, &mut batch).await?;
                    }
                }
            }
            if !batch.is_empty() {
                let sql = t.insert(batch.len());
                insert_batch(&mut dst, &sql, &mut batch).await?;
            }
            if let Some(i) = t.identity {
                let column = &t.columns[i].0;
                sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)")
                    .bind(&t.name)
                    .bind(column)
                    .bind(max_id.unwrap_or(1))
                    .bind(max_id.is_some())
                    .execute(&mut *dst)
                    .await
                    .map_err(db("moving an identity sequence past the copied ids"))?;
            }
            copied.push(TableCopy {
                table: t.name.clone(),
                rows,
            });
        }
        dst.commit().await.map_err(db("committing the copy"))?;
        src.rollback().await.map_err(db("reading the source"))?;
        Ok(copied)
    }

    /// Every table's row count and a digest of its rows (as a multiset), read through the
    /// same statements on either database.
    async fn table_digests(&self, tables: &[Table]) -> Result<Vec<(u64, [u8; 32])>> {
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            let mut digests = Vec::new();
            let mut stream = sqlx::query(AssertSqlSafe(t.select())).fetch(&self.pool);
            while let Some(row) = stream
                .try_next()
                .await
                .map_err(db("reading rows to prove"))?
            {
                digests.push(row_digest(&t.read(&row)?));
            }
            digests.sort_unstable();
            let mut h = Sha256::new();
            for d in &digests {
                h.update(d);
            }
            out.push((digests.len() as u64, h.finalize().into()));
        }
        Ok(out)
    }

    /// Proves that `target` holds what this store holds (after [`Store::copy_site_to`]): the
    /// same rows in every table, the same log size and root hash, every checkpoint's root the
    /// log's root at its size, every camera's chain verifying and ending at the same link.
    /// `DataLoss` naming the first difference.
    pub async fn prove_copy(&self, target: &Store) -> Result<CopyProof> {
        let tables = self.copy_plan(target).await?;
        let (mine, theirs) = (
            self.table_digests(&tables).await?,
            target.table_digests(&tables).await?,
        );
        let differs = |m: String| Err(Error::new(ErrorKind::DataLoss, m));
        let mut counts = Vec::with_capacity(tables.len());
        for ((t, (n, d)), (tn, td)) in tables.iter().zip(&mine).zip(&theirs) {
            if n != tn {
                return differs(format!(
                    "table {}: {n} rows in the source, {tn} in the copy",
                    t.name
                ));
            }
            if d != td {
                return differs(format!(
                    "table {}: the rows differ from the source's",
                    t.name
                ));
            }
            counts.push(TableCopy {
                table: t.name.clone(),
                rows: *n,
            });
        }
        let (src_tree, dst_tree) = (self.log_tree().await?, target.log_tree().await?);
        if src_tree.len() != dst_tree.len() || src_tree.root() != dst_tree.root() {
            return differs(format!(
                "the log differs: {} leaves with root {} in the source, {} with root {} in the copy",
                src_tree.len(),
                hex(&src_tree.root()),
                dst_tree.len(),
                hex(&dst_tree.root())
            ));
        }
        let checkpoints = target.checkpoints(u32::MAX).await?;
        for cp in &checkpoints {
            match dst_tree.root_at(cp.tree_size) {
                Ok(root) if root == cp.root => {}
                _ => {
                    return differs(format!(
                        "checkpoint {} (size {}) does not match the copied log",
                        cp.id, cp.tree_size
                    ));
                }
            }
        }
        let (mut chains, mut segments) = (0, 0u64);
        for cam in target.cameras_with_segments().await? {
            let segs = target.chain_segments(cam, 1, u32::MAX).await?;
            roeh_evidence::verify_chain(&segs).map_err(|e| {
                Error::new(
                    ErrorKind::DataLoss,
                    format!("the chain of camera {cam} does not verify in the copy: {e:?}"),
                )
            })?;
            let theirs = segs.last().map(|s| s.chain);
            let mine = self
                .chain_segments(cam, 1, u32::MAX)
                .await?
                .last()
                .map(|s| s.chain);
            if mine != theirs {
                return differs(format!(
                    "the chain of camera {cam} ends elsewhere in the copy"
                ));
            }
            chains += 1;
            segments += segs.len() as u64;
        }
        Ok(CopyProof {
            tables: counts,
            log_size: dst_tree.len(),
            root: dst_tree.root(),
            checkpoints: checkpoints.len(),
            chains,
            segments,
        })
    }

    /// The whole evidence log as a Merkle tree, read in pages.
    async fn log_tree(&self) -> Result<roeh_evidence::merkle::MerkleTree> {
        let mut tree = roeh_evidence::merkle::MerkleTree::new();
        loop {
            let page = self.leaf_hashes_from(tree.len(), 10_000).await?;
            if page.is_empty() {
                break;
            }
            for h in page {
                tree.push(h);
            }
        }
        Ok(tree)
    }
}

/// Inserts `batch` with statement `sql` (one tuple per row) and empties it.
async fn insert_batch(
    conn: &mut sqlx::Transaction<'static, Db>,
    sql: &str,
    batch: &mut Vec<Vec<Value>>,
) -> Result<()> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_string()));
    for row in batch.drain(..) {
        for v in row {
            q = match v {
                Value::Int(v) => q.bind(v),
                Value::Float(v) => q.bind(v),
                Value::Bool(v) => q.bind(v),
                Value::Text(v) => q.bind(v),
                Value::Bytes(v) => q.bind(v),
            };
        }
    }
    q.execute(&mut **conn)
        .await
        .map_err(db("writing copied rows"))?;
    Ok(())
}

/// Lower-case hex of a hash.
fn hex(h: &[u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tests::{camera, new_user, next_segment};
    use roeh_domain::{GapReason, WallTime};
    use roeh_evidence::{SegmentLinkInput, chain_link};

    /// A SQLite site with footage (a real hash chain), a disabled camera, a gap, a custody
    /// event, a site key, a checkpoint over the log and a user.
    async fn sqlite_site(dir: &std::path::Path, key: &crate::CredentialKey) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.join("roeh.db").display());
        let store = Store::open(&url).await.unwrap();
        store.set_credential_key(key.clone()).unwrap();
        let cam = camera("Promenade north");
        store.insert_camera(&cam, WallTime(0)).await.unwrap();
        let mut off = camera("Bus station");
        off.enabled = false;
        off.credentials = None;
        store.insert_camera(&off, WallTime(1)).await.unwrap();
        let mut prev = None;
        for i in 0..3 {
            let (mut s, index) = next_segment(cam.id, prev.as_ref(), 1_000_000 + i * 600_000);
            s.chain = chain_link(&s.prev_chain, &SegmentLinkInput::from(&s));
            s.id = store.insert_segment(&s, &index).await.unwrap();
            prev = Some(s);
        }
        let g = store
            .open_gap(cam.id, WallTime(9_000_000), GapReason::Stall, "no frames")
            .await
            .unwrap();
        store.close_gap(g, WallTime(9_500_000)).await.unwrap();
        store
            .register_key(
                "k1",
                &[7; 32],
                WallTime(2),
                "key_created",
                serde_json::json!({}),
            )
            .await
            .unwrap();
        store
            .record_event(
                WallTime(3),
                "export",
                Some(cam.id),
                serde_json::json!({"case": "PD-1"}),
            )
            .await
            .unwrap();
        let tree = store.log_tree().await.unwrap();
        store
            .insert_checkpoint(&crate::CheckpointRow {
                id: 0,
                tree_size: tree.len(),
                root: tree.root(),
                time: WallTime(4),
                key_id: "k1".into(),
                text: "checkpoint".into(),
                signature: vec![9; 64],
            })
            .await
            .unwrap();
        store
            .create_user(&new_user("dana", "operator"), WallTime(5))
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn a_sqlite_site_copies_to_postgresql_and_the_copy_is_proved() {
        assert!(roeh_testkit::postgres::have_postgres("transfer"));
        let dir = tempfile::tempdir().unwrap();
        let key = crate::CredentialKey::generate().unwrap();
        let source = sqlite_site(dir.path(), &key).await;
        let cluster = roeh_testkit::postgres::Cluster::start(dir.path()).unwrap();
        let target = Store::open(&cluster.create_database("site").unwrap())
            .await
            .unwrap();

        let copied = source.copy_site_to(&target).await.unwrap();
        let rows = |t: &str| copied.iter().find(|c| c.table == t).unwrap().rows;
        assert_eq!(rows("cameras"), 2);
        assert_eq!(rows("segments"), 3);
        assert_eq!(rows("checkpoints"), 1);
        assert_eq!(rows("log_head"), 1);
        // Parents come before the tables that name them.
        let at = |t: &str| copied.iter().position(|c| c.table == t).unwrap();
        assert!(at("cameras") < at("segments"));
        assert!(at("site_keys") < at("checkpoints"));

        let proof = source.prove_copy(&target).await.unwrap();
        assert_eq!(proof.tables, copied);
        assert_eq!(proof.log_size, source.log_size().await.unwrap());
        assert_eq!(proof.log_size, target.log_size().await.unwrap());
        assert_eq!(proof.checkpoints, 1);
        assert_eq!((proof.chains, proof.segments), (1, 3));

        // The copy reads as the source does: the disabled camera, the password (same key).
        target.set_credential_key(key).unwrap();
        let mut cams = target.list_cameras().await.unwrap();
        cams.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(cams[0].name, "Bus station");
        assert!(!cams[0].enabled);
        assert!(cams[1].enabled);
        assert_eq!(
            cams[1].credentials.as_ref().unwrap().password.expose(),
            "s3cret"
        );

        // The copy goes on where the source stopped: ids and log indices continue.
        let user = target
            .create_user(&new_user("yossi", "operator"), WallTime(6))
            .await
            .unwrap();
        let ids: Vec<i64> = target
            .list_users()
            .await
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect();
        assert!(ids.iter().filter(|i| **i == user).count() == 1 && ids.len() == 2);
        let ev = target
            .record_event(WallTime(7), "download", None, serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(ev.log_index, proof.log_size);

        // Now it differs from the source, and the proof says where.
        let err = source.prove_copy(&target).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DataLoss);
        assert!(err.to_string().contains("table "), "{err}");

        // A target that holds a site is refused, by table, and left as it was.
        let again = source.copy_site_to(&target).await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::FailedPrecondition);
        assert!(again.to_string().contains("not empty"), "{again}");
        assert_eq!(target.log_size().await.unwrap(), proof.log_size + 1);

        // A changed row in a copy is found, by table.
        let fresh = Store::open(&cluster.create_database("other").unwrap())
            .await
            .unwrap();
        source.copy_site_to(&fresh).await.unwrap();
        cluster
            .psql(
                "other",
                "UPDATE cameras SET name = 'Bus station 2' WHERE name = 'Bus station'",
            )
            .unwrap();
        let err = source.prove_copy(&fresh).await.unwrap_err();
        assert!(err.to_string().contains("table cameras"), "{err}");

        // Only SQLite to PostgreSQL.
        let wrong = target.copy_site_to(&fresh).await.unwrap_err();
        assert_eq!(wrong.kind(), ErrorKind::InvalidArgument);
        for s in [source, target, fresh] {
            s.close().await;
        }
    }
}
