//! `--trace`: every counted request's timing, one CSV per scenario.

use std::path::Path;

use crate::measure::Outcome;
use crate::peers::Target;

/// One CSV per scenario and server, for looking at the latency distribution
/// beyond p50 and p99 (per user, over time).
pub fn write_traces(dir: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    use std::fmt::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for o in outcomes {
        let mut csv = String::from("user,start_us,latency_us\n");
        for (user, start, latency) in &o.trace {
            let _ = writeln!(csv, "{user},{start},{latency}");
        }
        let server = match o.server {
            Target::Portcullis => String::new(),
            peer => format!("{}-", peer.label()),
        };
        let path = dir.join(format!("{server}{}.csv", o.name));
        std::fs::write(&path, csv).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
