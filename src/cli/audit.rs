//! `portcullis audit …`.

use clap::Subcommand;

use super::{human_time, parse_duration, print_table, CliError};
use crate::clock::Clock;
use crate::store::{audit as rows, Db};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, oldest first.
    List {
        /// Only events since this moment: RFC 3339 (2026-11-22T08:00:00Z) or
        /// a duration back from now (90s, 15m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

/// Parses `--since`: a timestamp or a duration back from `now`.
pub fn parse_since(value: &str, now: i64) -> Result<i64, CliError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(t.timestamp());
    }
    let seconds = parse_duration(value).ok_or_else(|| {
        CliError(format!(
            "--since: expected an RFC 3339 time or a duration such as 15m, 24h or 7d, got `{value}`"
        ))
    })?;
    Ok(now - seconds)
}

pub fn run(command: &AuditCommand, db: &Db) -> Result<(), CliError> {
    let AuditCommand::List { since, limit, json } = command;
    let since = match since {
        Some(s) => parse_since(s, Clock::system().now())?,
        None => 0,
    };
    let mut conn = db.conn()?;
    let events = rows::list_since(&mut conn, since, (*limit).clamp(1, 100_000))?;
    if *json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        let table: Vec<Vec<String>> = events
            .iter()
            .map(|e| {
                vec![
                    human_time(Some(e.at)),
                    e.actor.clone(),
                    e.action.clone(),
                    e.subject.clone(),
                    e.detail.clone(),
                ]
            })
            .collect();
        print_table(&["TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL"], &table);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_and_durations() {
        assert_eq!(parse_since("90s", 1000).unwrap(), 910);
        assert_eq!(parse_since("2h", 10_000).unwrap(), 2800);
        assert_eq!(parse_since("1970-01-01T00:01:00Z", 0).unwrap(), 60);
        assert!(parse_since("soon", 0).is_err());
        assert!(parse_since("5w", 0).is_err());
    }
}
