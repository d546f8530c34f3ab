//! results.json: one object per scenario and server, every figure of the
//! table, for tools that compare runs.

use serde_json::Value;

use crate::measure::Outcome;

/// Pretty-printed, one row per scenario and server.
pub fn results(outcomes: &[Outcome]) -> Result<String, String> {
    let rows: Vec<Value> = outcomes
        .iter()
        .map(|o| serde_json::json!({"server": o.server.label(), "scenario": o.name, "concurrency": o.concurrency, "requests_per_second": o.rps,
                                   "p50_ms": o.p50_ms, "p99_ms": o.p99_ms, "ok": o.ok, "errors": o.errors,
                                   "cpu_idle_pct": o.cpu.map(|c| c.idle_pct), "cpu_stolen_pct": o.cpu.map(|c| c.stolen_pct),
                                   "server_cpu_us_per_request": o.server_cpu_us}))
        .collect();
    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())
}
