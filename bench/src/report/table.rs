//! The table of Portcullis's own figures, one row per scenario.

use super::cell;
use crate::measure::Outcome;
use crate::peers::Target;

/// Markdown: printed at the end of a run and the body of results.md.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from("| scenario | concurrency | requests/s | p50 ms | p99 ms | errors | CPU idle % | CPU stolen % | server CPU µs/request |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for o in outcomes.iter().filter(|o| o.server == Target::Portcullis) {
        let idle = cell(o.cpu.map(|c| c.idle_pct), 1);
        let stolen = cell(o.cpu.map(|c| c.stolen_pct), 1);
        let server_cpu = cell(o.server_cpu_us, 0);
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {idle} | {stolen} | {server_cpu} |\n",
            o.name, o.concurrency, o.rps, o.p50_ms, o.p99_ms, o.errors
        ));
    }
    out
}
