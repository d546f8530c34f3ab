//! Portcullis against the peers, scenario by scenario.

use super::cell;
use crate::measure::Outcome;
use crate::peers::Target;

/// Portcullis beside each peer on the scenarios they share, with the
/// factor it is ahead by and the factor it must be ahead by, where one is
/// set (`Target::comparisons`): JWKS and client_credentials ES256 at least
/// 4× oidc-provider, RS256 1.5×, refresh at least 10× Django+simplejwt.
pub fn side_by_side(outcomes: &[Outcome]) -> String {
    let stolen = |o: &Outcome| cell(o.cpu.map(|c| c.stolen_pct), 1);
    let mut out = String::from("| scenario | Portcullis req/s (p99 ms) | peer | peer req/s (p99 ms) | ratio | target | CPU stolen % (ours / peer) | server CPU µs/request (ours / peer) |\n|---|---:|---|---:|---:|---:|---:|---:|\n");
    for peer in outcomes.iter().filter(|o| o.server != Target::Portcullis) {
        let Some(ours) = outcomes
            .iter()
            .find(|o| o.server == Target::Portcullis && o.name == peer.name)
        else {
            continue;
        };
        let target = peer
            .server
            .comparisons()
            .iter()
            .find(|(name, _)| *name == peer.name)
            .and_then(|(_, t)| *t);
        let ratio = if peer.rps > 0.0 {
            ours.rps / peer.rps
        } else {
            f64::INFINITY
        };
        out.push_str(&format!(
            "| {} | {:.0} ({:.2}) | {} | {:.0} ({:.2}){} | {:.1}× | {} | {} / {} | {} / {} |\n",
            peer.name,
            ours.rps,
            ours.p99_ms,
            peer.server.label(),
            peer.rps,
            peer.p99_ms,
            if peer.errors > 0 {
                format!(", {} errors", peer.errors)
            } else {
                String::new()
            },
            ratio,
            target
                .map(|t| format!("≥ {t}×"))
                .unwrap_or_else(|| "—".into()),
            stolen(ours),
            stolen(peer),
            cell(ours.server_cpu_us, 0),
            cell(peer.server_cpu_us, 0),
        ));
    }
    out
}
