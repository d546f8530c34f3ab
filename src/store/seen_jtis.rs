//! `seen_jtis` rows: JWT ids (client assertions, RFC 7523 §3; DPoP proofs,
//! RFC 9449 §11.1) accepted once. The primary key makes the first insert win
//! at every replica; a row lives as long as its JWT could still be accepted.

use diesel::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::schema::seen_jtis as seen;
use super::{on_backend, Db, DbConnection, StoreError};

/// Records `jti_hash` until `expires_at`; `false` when it was seen already
/// (and has not expired: a purged row was past any JWT's acceptance window).
pub fn first_use(
    conn: &mut DbConnection,
    jti_hash: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let inserted = on_backend!(conn, |c| {
        diesel::insert_into(seen::table)
            .values((seen::jti_hash.eq(jti_hash), seen::expires_at.eq(expires_at)))
            .on_conflict_do_nothing()
            .execute(c)
    })?;
    Ok(inserted == 1)
}

/// Most first-use checks written in one transaction.
const MAX_BATCH: usize = 256;

type Ask = (String, i64, oneshot::Sender<Result<bool, StoreError>>);

/// [`first_use`] for a running server, with group commit: the checks that
/// arrive while one batch is being written go together in the next write,
/// one transaction for all. Each caller still waits for its own row to be
/// in the database, so a jti is never accepted twice, at any replica; what
/// is saved is a commit (SQLite's writer, or a PostgreSQL round trip) per
/// request.
#[derive(Clone)]
pub struct SeenJtis {
    asks: mpsc::UnboundedSender<Ask>,
}

impl SeenJtis {
    /// Starts the batching task on the current runtime.
    pub fn start(db: Db) -> Self {
        let (asks, mut queue) = mpsc::unbounded_channel::<Ask>();
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(ask) => batch.push(ask),
                        Err(_) => break,
                    }
                }
                let rows: Vec<(String, i64)> =
                    batch.iter().map(|(h, e, _)| (h.clone(), *e)).collect();
                let outcome = db
                    .write(move |conn| {
                        conn.transaction(|c| {
                            rows.iter()
                                .map(|(hash, exp)| first_use(c, hash, *exp))
                                .collect::<Result<Vec<bool>, StoreError>>()
                        })
                    })
                    .await;
                match outcome {
                    Ok(firsts) => {
                        for ((_, _, answer), first) in batch.into_iter().zip(firsts) {
                            let _ = answer.send(Ok(first));
                        }
                    }
                    Err(e) => {
                        // Every check of the batch fails alike; an outage
                        // stays an outage (503) for each of them.
                        for (_, _, answer) in batch {
                            let shared = match &e {
                                StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
                                other => StoreError::Task(other.to_string()),
                            };
                            let _ = answer.send(Err(shared));
                        }
                    }
                }
            }
        });
        SeenJtis { asks }
    }

    /// Records `jti_hash` until `expires_at`; `false` when it was seen already.
    pub async fn first_use(&self, jti_hash: String, expires_at: i64) -> Result<bool, StoreError> {
        let (answer, answered) = oneshot::channel();
        self.asks
            .send((jti_hash, expires_at, answer))
            .map_err(|_| StoreError::Task("the jti recorder has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Task("the jti recorder dropped a check".into()))?
    }
}

pub fn delete_expired(conn: &mut DbConnection, now: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(seen::table.filter(seen::expires_at.le(now))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DatabaseUrl, Db};

    #[tokio::test]
    async fn a_jti_is_accepted_once_until_it_is_purged() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DatabaseUrl::Sqlite(dir.path().join("jti.db")), 2).unwrap();
        db.migrate().unwrap();
        let outcome = db
            .write(|conn| {
                let first = first_use(conn, "h1", 100)?;
                let again = first_use(conn, "h1", 100)?;
                let other = first_use(conn, "h2", 100)?;
                let purged = delete_expired(conn, 100)?;
                let after = first_use(conn, "h1", 200)?;
                Ok::<_, StoreError>((first, again, other, purged, after))
            })
            .await
            .unwrap();
        assert_eq!(outcome, (true, false, true, 2, true));
    }

    #[tokio::test]
    async fn concurrent_checks_of_one_jti_let_exactly_one_through() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DatabaseUrl::Sqlite(dir.path().join("jti.db")), 2).unwrap();
        db.migrate().unwrap();
        let seen = SeenJtis::start(db);
        let checks: Vec<_> = (0..64)
            .map(|i| {
                let seen = seen.clone();
                // Eight jtis, each asked for eight times at once.
                tokio::spawn(async move { seen.first_use(format!("h{}", i % 8), 100).await })
            })
            .collect();
        let mut firsts = 0;
        for check in checks {
            if check.await.unwrap().unwrap() {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 8);
        assert!(!seen.first_use("h3".into(), 100).await.unwrap());
    }
}
