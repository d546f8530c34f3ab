//! One measured window per scenario: the virtual users connect and set up
//! uncounted, then all start together, repeat the scenario's request until
//! the window closes, and their latencies, errors and the CPU accounting
//! around the window become one [`Outcome`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cpu::{cpu_ticks, process_tree_ticks, CpuShare, CLOCK_TICKS_PER_SECOND};
use crate::fixture::{first_refresh_token, Fixture};
use crate::http::Conn;
use crate::peers::Target;
use crate::scenarios::{iteration, prepare, Answers, Kind, Scenario, VuState};

/// One scenario's figures on one server.
pub struct Outcome {
    pub server: Target,
    pub name: String,
    pub concurrency: usize,
    pub ok: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// The good answers by kind, where a scenario has several (device
    /// polls: `authorization_pending`, `slow_down`).
    pub answers: Answers,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The whole machine's CPU over the measured window, when the OS says.
    pub cpu: Option<CpuShare>,
    /// CPU time the server's processes spent per counted request, in µs
    /// (Linux). Unlike requests/s it barely moves when the hypervisor
    /// steals time, so it compares builds on a noisy host.
    pub server_cpu_us: Option<f64>,
    /// With `--trace`, every counted request: user, start (µs after the
    /// clock started) and latency (µs); empty otherwise.
    pub trace: Vec<(usize, u32, u32)>,
}

/// How long each scenario is measured, and whether every request's timing
/// is kept (`--trace`).
#[derive(Clone, Copy)]
pub struct Window {
    pub duration: Duration,
    pub keep_trace: bool,
}

/// Measures scenario `s` with `concurrency` virtual users, each on its own
/// connection, for the window's duration.
pub async fn run_scenario(
    s: &Scenario,
    concurrency: usize,
    window: Window,
    f: Arc<Fixture>,
) -> Outcome {
    let Window {
        duration,
        keep_trace,
    } = window;
    // What the users share (a token to exchange, device codes to poll) is
    // made before the clock starts, like their own setup below.
    let prepared = match prepare(s.kind, &f, duration).await {
        Ok(p) => Arc::new(p),
        Err(e) => return Outcome::not_run(s, concurrency, f.target, e),
    };
    // The clock starts once every user is connected and holds its first
    // refresh token: the password grants that buy them (Argon2id, 20 ms
    // each) would otherwise share the first fraction of a second with the
    // measured requests and land in their p99.
    let ready = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let epoch = Instant::now();
    let micros = |d: Duration| d.as_micros().min(u32::MAX as u128) as u32;
    let mut tasks = Vec::with_capacity(concurrency);
    for vu in 0..concurrency {
        let f = f.clone();
        let ready = ready.clone();
        let prepared = prepared.clone();
        // With while_hashing, even-numbered users hash passwords, uncounted.
        let background = s.while_hashing && vu % 2 == 0;
        let kind = if background { Kind::Password } else { s.kind };
        tasks.push(tokio::spawn(async move {
            // (start after `epoch`, latency), in µs.
            let mut latencies: Vec<(u32, u32)> = Vec::with_capacity(1 << 14);
            let (mut errors, mut first_error) = (0u64, None);
            let mut state = VuState {
                prepared,
                ..VuState::default()
            };
            let setup = async {
                let mut conn = Conn::open(f.port).await?;
                if let Kind::Refresh { es256, openid } = kind {
                    state.refresh_token = first_refresh_token(&mut conn, &f, es256, openid).await?;
                }
                Ok::<_, String>(conn)
            }
            .await;
            ready.wait().await;
            let mut conn = match setup {
                Ok(c) => c,
                Err(e) => return (latencies, 1, Some(e), state.answers),
            };
            let deadline = Instant::now() + duration;
            while Instant::now() < deadline {
                let started = Instant::now();
                match iteration(kind, &mut conn, &f, &mut state).await {
                    Ok(()) => latencies.push((micros(started - epoch), micros(started.elapsed()))),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        // A broken chain or connection: start again cleanly.
                        match Conn::open(f.port).await {
                            Ok(c) => conn = c,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                        if let Kind::Refresh { es256, openid } = kind {
                            if let Ok(t) = first_refresh_token(&mut conn, &f, es256, openid).await {
                                state.refresh_token = t;
                            }
                        }
                    }
                }
            }
            if background {
                return (Vec::new(), errors, first_error, Answers::default());
            }
            (latencies, errors, first_error, state.answers)
        }));
    }
    ready.wait().await;
    let started = Instant::now();
    let cpu_before = cpu_ticks();
    let server_before = process_tree_ticks(f.pid);
    let clock_start = micros(started - epoch);
    let mut all = Vec::new();
    let mut trace = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    let mut answers = Answers::default();
    for (vu, t) in tasks.into_iter().enumerate() {
        if let Ok((lat, e, fe, a)) = t.await {
            answers.merge(&a);
            all.extend(lat.iter().map(|&(_, latency)| latency));
            if keep_trace {
                trace.extend(
                    lat.iter()
                        .map(|&(start, latency)| (vu, start.saturating_sub(clock_start), latency)),
                );
            }
            errors += e;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    let elapsed = started.elapsed().max(duration).as_secs_f64();
    let cpu = cpu_before
        .zip(cpu_ticks())
        .and_then(|(b, a)| a.share_since(b));
    let server_cpu_us = server_before
        .zip(process_tree_ticks(f.pid))
        .filter(|_| !all.is_empty())
        .map(|(b, a)| a.saturating_sub(b) as f64 * 1e6 / CLOCK_TICKS_PER_SECOND / all.len() as f64);
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|v| *v as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    Outcome {
        server: f.target,
        name: s.name.to_owned(),
        concurrency,
        ok: all.len() as u64,
        errors,
        first_error,
        answers,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        cpu,
        server_cpu_us,
        trace,
    }
}

impl Outcome {
    /// A scenario whose setup failed: no requests, one error, and why.
    fn not_run(s: &Scenario, concurrency: usize, server: Target, why: String) -> Outcome {
        Outcome {
            server,
            name: s.name.to_owned(),
            concurrency,
            ok: 0,
            errors: 1,
            first_error: Some(format!("setup: {why}")),
            answers: Answers::default(),
            rps: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            cpu: None,
            server_cpu_us: None,
            trace: Vec::new(),
        }
    }
}
