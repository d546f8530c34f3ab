//! `portcullis-bench`: starts `portcullis serve` on a fresh database,
//! provisions users and clients through the CLI, drives keep-alive load over
//! loopback, checks every response, and prints one table (with the share of
//! the machine's CPU that was idle or stolen by the hypervisor per scenario,
//! and the server's CPU time per request).
//!
//! ```text
//! cargo build --release && cargo run --release -p portcullis-bench -- [options]
//!   --duration SECS       per scenario (default 10)
//!   --concurrency N       virtual users, one keep-alive connection each (default 16)
//!   --scenarios a,b,…     subset to run (default: all; see --list)
//!   --database-url URL    a fresh PostgreSQL database instead of SQLite
//!   --binary PATH         the server (default target/release/portcullis)
//!   --report DIR          write results.json, results.md and chart.svg there
//!   --trace DIR           write every request's start and latency, one CSV
//!                         per scenario (user,start_us,latency_us)
//!   --smoke               2 s per scenario at concurrency 4; exit 1 on any error
//!   --peers a,b           also measure oidc-provider and/or django on the
//!                         scenarios they share, in the same run (npm, PyPI)
//! ```

mod cpu;
mod fixture;
mod http;
mod measure;
mod options;
mod peers;
mod report;
mod scenarios;
mod server;

use std::sync::Arc;

use measure::{run_scenario, Window};
use peers::Target;
use report::{
    machine, print_outcome, side_by_side, table, targets_table, verdicts, write_report,
    write_traces,
};
use scenarios::scenarios;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(clean) if clean => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, String> {
    let o = options::parse_args()?;
    let server = server::start_server(&o)?;
    server::wait_ready(server.port).await?;
    let fixture = Arc::new(fixture::portcullis_fixture(&server).await?);

    let backend = if o.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let header = format!(
        "Machine: {}. Backend: {backend}. {} s per scenario, load generator on the same machine (keep-alive HTTP/1.1, one connection per virtual user).",
        machine(),
        o.duration.as_secs_f64()
    );
    println!("{header}");
    let window = Window {
        duration: o.duration,
        keep_trace: o.trace.is_some(),
    };
    let mut outcomes = Vec::new();
    for s in scenarios() {
        if o.only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|n| n == s.name))
        {
            continue;
        }
        let concurrency = if o.smoke {
            o.concurrency
        } else {
            s.concurrency.unwrap_or(o.concurrency)
        };
        let outcome = run_scenario(&s, concurrency, window, fixture.clone()).await;
        print_outcome(&outcome);
        outcomes.push(outcome);
    }
    // The peers get the machine to themselves too.
    drop(server);
    for &target in &o.peers {
        let cache = peers::cache_dir()?;
        let peer = peers::start(target, &cache).await?;
        let fixture = Arc::new(fixture::peer_fixture(target, peer.port, peer.pid()).await?);
        for s in scenarios() {
            let Some(ours) = outcomes
                .iter()
                .find(|o| o.server == Target::Portcullis && o.name == s.name)
            else {
                continue;
            };
            if !target.comparisons().iter().any(|(name, _)| *name == s.name) {
                continue;
            }
            let concurrency = ours.concurrency;
            let outcome = run_scenario(&s, concurrency, window, fixture.clone()).await;
            print_outcome(&outcome);
            outcomes.push(outcome);
        }
    }
    println!("\n{}", table(&outcomes));
    let verdicts = verdicts(&outcomes, o.database_url.is_none());
    if !verdicts.is_empty() {
        if o.smoke {
            println!(
                "Targets (a smoke run is too short and narrow to tell; they do not fail it):\n"
            );
        } else {
            println!("Targets:\n");
        }
        println!("{}", targets_table(&verdicts));
    }
    if !o.peers.is_empty() {
        println!("{}", side_by_side(&outcomes));
    }
    if let Some(dir) = &o.report {
        write_report(dir, &outcomes, &verdicts, &header)?;
    }
    if let Some(dir) = &o.trace {
        write_traces(dir, &outcomes)?;
    }
    let clean = outcomes.iter().all(|o| o.errors == 0 && o.ok > 0);
    Ok(clean || !o.smoke)
}
