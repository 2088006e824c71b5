//! RFC 3161 timestamps of signed checkpoints (`checkpoints.tsa_response`, migration 0006).
//!
//! Invariants: a checkpoint's timestamp response is set at most once and never replaced or
//! cleared; the bytes are stored exactly as given (the custody service checks them before).

use crate::{Error, Result, Store, db, execute};
use roeh_domain::ErrorKind;

impl Store {
    /// Stores the DER `TimeStampResp` of checkpoint `id`. Fails with `NotFound` when there is no
    /// such checkpoint and `AlreadyExists` when it has a response already (which is kept).
    #[tracing::instrument(skip_all)]
    pub async fn set_checkpoint_tsa(&self, id: i64, response: &[u8]) -> Result<()> {
        let q = sqlx::query(
            "UPDATE checkpoints SET tsa_response = $1 WHERE id = $2 AND tsa_response IS NULL",
        )
        .bind(response)
        .bind(id);
        if execute(&self.pool, q, "storing checkpoint timestamp").await? == 1 {
            return Ok(());
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM checkpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("storing checkpoint timestamp"))?;
        Err(match exists {
            Some(_) => Error::new(
                ErrorKind::AlreadyExists,
                format!("checkpoint {id} has a timestamp already"),
            ),
            None => Error::new(ErrorKind::NotFound, format!("no checkpoint {id}")),
        })
    }

    /// The DER `TimeStampResp` of checkpoint `id`; `None` when it has none (or there is no such
    /// checkpoint).
    #[tracing::instrument(skip_all)]
    pub async fn checkpoint_tsa(&self, id: i64) -> Result<Option<Vec<u8>>> {
        let r: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT tsa_response FROM checkpoints WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading checkpoint timestamp"))?;
        Ok(r.flatten())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{CheckpointRow, Store};
    use roeh_domain::{ErrorKind, WallTime};

    #[tokio::test]
    async fn a_timestamp_is_set_once_and_read_back() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let now = WallTime(1_800_000_000_000_000);
        store
            .register_key(
                "0123456789abcdef",
                &[1; 32],
                now,
                "key_created",
                serde_json::json!({}),
            )
            .await
            .unwrap();
        let row = CheckpointRow {
            id: 0,
            tree_size: 1,
            root: [2; 32],
            time: now,
            key_id: "0123456789abcdef".into(),
            text: "text\n".into(),
            signature: vec![3; 64],
        };
        let id = store.insert_checkpoint(&row).await.unwrap();
        let id2 = store.insert_checkpoint(&row).await.unwrap();
        assert_eq!(store.checkpoint_tsa(id).await.unwrap(), None);

        store.set_checkpoint_tsa(id, b"\x30\x03tsr").await.unwrap();
        assert_eq!(
            store.checkpoint_tsa(id).await.unwrap().as_deref(),
            Some(&b"\x30\x03tsr"[..])
        );
        // Only that checkpoint has it.
        assert_eq!(store.checkpoint_tsa(id2).await.unwrap(), None);
        // Never replaced.
        let e = store.set_checkpoint_tsa(id, b"other").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        assert_eq!(
            store.checkpoint_tsa(id).await.unwrap().as_deref(),
            Some(&b"\x30\x03tsr"[..])
        );
        // Unknown checkpoints.
        let e = store.set_checkpoint_tsa(id2 + 100, b"x").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(store.checkpoint_tsa(id2 + 100).await.unwrap(), None);
        // The checkpoint rows themselves are unchanged.
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(latest.id, id2);
        assert_eq!(latest.text, "text\n");
    }
}
