//! SQLite's writer: one thread owns the write connection and runs write
//! jobs in arrival order; a second thread checkpoints beside it.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2;
use diesel::RunQueryDsl;

use super::{DbConnection, Manager, StoreError};

type WriteJob = Box<dyn FnOnce(Result<&mut DbConnection, StoreError>) + Send>;

/// The thread that owns SQLite's write connection and runs write jobs one
/// after another, in arrival order. A FIFO channel is fairer than waiting on
/// a one-connection pool (whose waiters wake in any order) and saves a
/// blocking-pool hand-off per write.
///
/// Checkpoints stay off the write path. SQLite's automatic checkpoint runs
/// inside whichever commit crosses 1,000 WAL pages — every few dozen
/// refreshes under load — and, with `synchronous = NORMAL`, syncs the WAL
/// and the database file there, while every write queued behind it waits.
/// So the writer has `wal_autocheckpoint = 0`, and a second thread runs
/// PASSIVE checkpoints every [`CHECKPOINT_INTERVAL`] beside it (they do not
/// block writers). Under a steady stream of commits such a checkpoint never
/// catches up with the end of the WAL, so the WAL could not restart and
/// would grow without bound: past [`WAL_RESTART_PAGES`] the checkpointer
/// queues one checkpoint on the writer itself, which finds nearly every page
/// already copied and lets the next commit restart the WAL.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: std::sync::mpsc::Sender<WriteJob>,
    /// Dropped with the last handle, which stops the checkpointer (and then
    /// the writer, whose queue the checkpointer also holds).
    _checkpointer: std::sync::mpsc::Sender<()>,
}

const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(25);
const WAL_RESTART_PAGES: i64 = 16_384;

#[derive(diesel::QueryableByName)]
struct CheckpointResult {
    /// Pages in the WAL.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
}

fn checkpoint(conn: &mut DbConnection) -> Result<i64, diesel::result::Error> {
    let result: CheckpointResult =
        diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?;
    Ok(result.log)
}

fn connect_writer(manager: &Manager) -> Result<DbConnection, r2d2::Error> {
    let mut conn = manager.open()?;
    conn.batch_execute("PRAGMA wal_autocheckpoint = 0")
        .map_err(r2d2::Error::QueryError)?;
    Ok(conn)
}

impl Writer {
    pub(super) fn start(manager: Manager) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
        // Connect once up front so a bad path fails at startup.
        let first = connect_writer(&manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut background = manager
            .open()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (checkpointer, stop) = std::sync::mpsc::channel::<()>();
        let writer_jobs = jobs.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let restart_queued = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let mut failures = 0u32;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stop.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    let pages = match checkpoint(&mut background) {
                        Ok(pages) => {
                            failures = 0;
                            pages
                        }
                        Err(e) => {
                            // Another process's checkpoint (a CLI command, a
                            // second server on the same file) is normal; only
                            // a failure that lasts (~5 s) is worth a warning.
                            failures += 1;
                            if failures % 200 == 0 {
                                tracing::warn!(error = %e, failures, "WAL checkpoints keep failing");
                            } else {
                                tracing::debug!(error = %e, "WAL checkpoint failed");
                            }
                            continue;
                        }
                    };
                    use std::sync::atomic::Ordering::SeqCst;
                    if pages > WAL_RESTART_PAGES && !restart_queued.swap(true, SeqCst) {
                        let done = restart_queued.clone();
                        let _ = writer_jobs.send(Box::new(move |conn| {
                            if let Ok(conn) = conn {
                                let _ = checkpoint(conn);
                            }
                            done.store(false, SeqCst);
                        }));
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpointer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let mut conn = Some(first);
                // Ends when the last `Db` handle is dropped.
                for job in queue {
                    if conn.is_none() {
                        conn = connect_writer(&manager).ok();
                    }
                    let outcome = match conn.as_mut() {
                        Some(c) => {
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(c))))
                        }
                        None => {
                            job(Err(StoreError::Unavailable(
                                "cannot open the SQLite database for writing".into(),
                            )));
                            Ok(())
                        }
                    };
                    // A job that panicked may have left a transaction open;
                    // so may one that failed half-way (the pool's rule too).
                    let broken = conn
                        .as_mut()
                        .is_some_and(diesel::r2d2::R2D2Connection::is_broken);
                    if outcome.is_err() || broken {
                        conn = None;
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Writer {
            jobs,
            _checkpointer: checkpointer,
        })
    }

    pub(super) async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => work(conn),
                Err(e) => Err(e.into()),
            };
            let _ = reply.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Task("a database write failed unexpectedly".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DatabaseUrl, Db, PoolWrites};

    fn sqlite_db(dir: &tempfile::TempDir) -> Db {
        let url = DatabaseUrl::Sqlite(dir.path().join("w.db"));
        let db = Db::connect(&url, 2).unwrap();
        db.migrate().unwrap();
        db
    }

    #[tokio::test]
    async fn the_writer_outlives_a_panicking_job() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(&dir);
        let panicked = db
            .write(|conn| -> Result<(), StoreError> {
                diesel::sql_query("BEGIN IMMEDIATE").execute(conn)?;
                diesel::sql_query("CREATE TABLE seen (n INTEGER)").execute(conn)?;
                panic!("a bug in a write job, inside a transaction")
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Task(_))));
        // The next job gets a fresh connection: no transaction left open,
        // the half-done one rolled back.
        let created = db
            .write(|conn| {
                diesel::sql_query("CREATE TABLE seen (n INTEGER)").execute(conn)?;
                diesel::sql_query("INSERT INTO seen VALUES (7)").execute(conn)?;
                Ok::<_, StoreError>(())
            })
            .await;
        assert!(created.is_ok(), "{created:?}");
        #[derive(diesel::QueryableByName)]
        struct Seen {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let seen: Seen = db
            .run(|conn| {
                Ok::<_, StoreError>(diesel::sql_query("SELECT n FROM seen").get_result(conn)?)
            })
            .await
            .unwrap();
        assert_eq!(seen.n, 7);
    }

    /// The server's pool cannot write on SQLite: a write that skipped the
    /// writer fails at once (and every API test runs against such a pool).
    #[tokio::test]
    async fn the_servers_pool_refuses_writes_and_the_writer_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("s.db"));
        let db = Db::connect_server(&url, 2).unwrap();
        db.migrate().unwrap();
        let create = |conn: &mut DbConnection| {
            diesel::sql_query("CREATE TABLE IF NOT EXISTS t (n INTEGER)").execute(conn)?;
            diesel::sql_query("INSERT INTO t VALUES (1)").execute(conn)?;
            Ok::<_, StoreError>(())
        };
        let refused = db.run(create).await;
        assert!(
            matches!(&refused, Err(StoreError::Query(e)) if e.to_string().contains("readonly")),
            "{refused:?}"
        );
        db.write(create).await.unwrap();
        let count: i64 = db
            .run(|conn| {
                Ok::<_, StoreError>(
                    diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                        "(SELECT COUNT(*) FROM t)",
                    ))
                    .get_result(conn)?,
                )
            })
            .await
            .unwrap();
        assert_eq!(count, 1);
    }

    /// A pool's connections open at the same moment. On a fresh file, once
    /// one connection has turned on WAL (`Db::connect` opens the writer's
    /// first), they all succeed; without that first one, some fail at once
    /// with "database is locked" (seen as a server that did not start in CI).
    #[test]
    fn after_the_first_connection_the_rest_open_at_once() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let url = DatabaseUrl::Sqlite(dir.path().join("fresh.db"));
            let manager = std::sync::Arc::new(Manager::new(&url, PoolWrites::Allowed));
            // What `Db::connect` does first: one connection turns on WAL.
            let _first = manager.open().unwrap();
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    let (manager, start) = (manager.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        manager.open().map(|_| ()).map_err(|e| e.to_string())
                    })
                })
                .collect();
            for result in opened {
                let result = result.join().unwrap();
                assert!(result.is_ok(), "{result:?}");
            }
        }
    }
}
