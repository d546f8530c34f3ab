//! A fixed pool of threads for CPU-heavy work (Argon2id), fed from one
//! shared FIFO queue.
//!
//! One queue for all the pool's threads means no core sits idle while work
//! waits behind another thread; a fixed number of threads means a burst
//! cannot start more CPU-bound work at once than there are cores; and a job
//! that panics costs its caller an answer, not the pool a thread.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

pub struct CpuPool {
    jobs: Sender<Job>,
}

impl CpuPool {
    /// Starts one thread per core, named `{name}-{i}`, at the given nice
    /// value (Linux; 0 keeps the process's priority).
    pub fn start(name: &str, nice: i32) -> CpuPool {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    if nice != 0 {
                        set_nice(nice);
                    }
                    work(&queue);
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, pool = name, "cannot start a worker thread");
            }
        }
        CpuPool { jobs }
    }

    /// Runs `job` on the pool; `None` when the pool lost it (no thread left,
    /// or the job panicked).
    pub async fn run<T, F>(&self, job: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = reply.send(job());
        });
        self.jobs.send(job).ok()?;
        answer.await.ok()
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // A panicking job drops its reply sender (its caller sees `None`);
        // the thread goes on serving the queue.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
    }
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) {
    // On Linux, PRIO_PROCESS with who = 0 sets the calling thread's nice value.
    // SAFETY: setpriority has no memory-safety preconditions.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc != 0 {
        tracing::debug!(nice, "could not change the priority of a worker thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_nice: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panicking_job_does_not_take_a_thread_down() {
        let pool = CpuPool::start("test", 0);
        assert_eq!(pool.run(|| 6 * 7).await, Some(42));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // More panics than threads: every thread survives its panic.
        for _ in 0..threads + 1 {
            let lost: Option<()> = pool.run(|| panic!("a bug in a job")).await;
            assert_eq!(lost, None);
        }
        assert_eq!(pool.run(|| "still serving").await, Some("still serving"));
    }
}
