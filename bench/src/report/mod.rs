//! What a run prints and writes: a line per scenario as it finishes, the
//! table at the end (beside the peers' figures when they ran) and the
//! scenarios' targets, met or missed; with `--report` the same as
//! results.json, results.md and chart.svg; with `--trace` one CSV per
//! scenario.

mod chart;
mod json;
mod side_by_side;
mod table;
mod targets;
mod traces;

use std::path::Path;

use crate::measure::Outcome;
use crate::peers::Target;

pub use side_by_side::side_by_side;
pub use table::table;
pub use targets::{targets_table, verdicts, Verdict};
pub use traces::write_traces;

/// The machine in the table's header line: results from different
/// machines are not comparable.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

/// A table cell: the value to `decimals` places, or a dash where the OS
/// gave none.
fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

/// One line per scenario, printed as soon as it is measured.
pub fn print_outcome(outcome: &Outcome) {
    let name = match outcome.server {
        Target::Portcullis => outcome.name.clone(),
        peer => format!("{} {}", peer.label(), outcome.name),
    };
    println!(
        "{:<40} c={:<3} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}{}{}{}",
        name,
        outcome.concurrency,
        outcome.rps,
        outcome.p50_ms,
        outcome.p99_ms,
        outcome.errors,
        outcome
            .answers
            .0
            .iter()
            .map(|(kind, n)| format!("  {kind} {n}"))
            .collect::<String>(),
        outcome
            .cpu
            .map(|c| format!(
                "  CPU idle {:.1} %, stolen {:.1} %",
                c.idle_pct, c.stolen_pct
            ))
            .unwrap_or_default(),
        outcome
            .server_cpu_us
            .map(|us| format!("  server CPU {us:.0} µs/req"))
            .unwrap_or_default(),
        outcome
            .first_error
            .as_deref()
            .map(|e| format!("  (first: {e})"))
            .unwrap_or_default()
    );
}

/// `--report`: results.json for tools, results.md (the printed tables
/// under the header line) and chart.svg for people.
pub fn write_report(
    dir: &Path,
    outcomes: &[Outcome],
    verdicts: &[Verdict],
    header: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("results.json"), json::results(outcomes, verdicts)?)
        .map_err(|e| e.to_string())?;
    let mut md = format!("{header}\n\n{}", table(outcomes));
    if !verdicts.is_empty() {
        md.push_str(&format!("\nTargets:\n\n{}", targets_table(verdicts)));
    }
    if outcomes.iter().any(|o| o.server != Target::Portcullis) {
        md.push_str(&format!(
            "\nSide by side, same run, same load generator:\n\n{}",
            side_by_side(outcomes)
        ));
    }
    std::fs::write(dir.join("results.md"), md).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("chart.svg"), chart::chart(outcomes)).map_err(|e| e.to_string())
}
