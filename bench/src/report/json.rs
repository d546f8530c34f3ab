//! results.json: one object per scenario and server, every figure of the
//! table, for tools that compare runs.

use serde_json::Value;

use super::Verdict;
use crate::measure::Outcome;
use crate::peers::Target;

/// Pretty-printed, one row per scenario and server; a scenario with a
/// target also has `target` and `target_met` (null: not measurable in this
/// run), one with several kinds of good answer `answers`.
pub fn results(outcomes: &[Outcome], verdicts: &[Verdict]) -> Result<String, String> {
    let rows: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            let mut row = serde_json::json!({
                "server": o.server.label(), "scenario": o.name, "concurrency": o.concurrency,
                "requests_per_second": o.rps, "p50_ms": o.p50_ms, "p99_ms": o.p99_ms,
                "ok": o.ok, "errors": o.errors,
                "cpu_idle_pct": o.cpu.map(|c| c.idle_pct), "cpu_stolen_pct": o.cpu.map(|c| c.stolen_pct),
                "server_cpu_us_per_request": o.server_cpu_us,
            });
            if !o.answers.0.is_empty() {
                let answers: serde_json::Map<String, Value> = o
                    .answers
                    .0
                    .iter()
                    .map(|(kind, n)| ((*kind).to_owned(), Value::from(*n)))
                    .collect();
                row["answers"] = answers.into();
            }
            if let Some(v) = verdicts
                .iter()
                .find(|v| o.server == Target::Portcullis && v.scenario == o.name)
            {
                row["target"] = v.target.clone().into();
                row["target_met"] = v.met.into();
            }
            row
        })
        .collect();
    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())
}
