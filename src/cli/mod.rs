//! The command line: one file per command group, each a clap struct plus `run`.

pub mod audit;
pub mod client;
pub mod keys;
pub mod serve;
pub mod user;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Overrides, Settings};
use crate::keys::Keyring;
use crate::store::Db;

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "An OAuth 2.0 / OpenID Connect authorization server"
)]
pub struct Cli {
    /// TOML settings file (keys as in the README's configuration table).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [env: PORTCULLIS_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format on stderr: text or json [env: PORTCULLIS_LOG_FORMAT]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Key-encryption key file [env: PORTCULLIS_KEK_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub kek_file: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Manage OAuth clients.
    Client {
        #[command(subcommand)]
        command: client::ClientCommand,
    },
    /// Manage signing keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Read the audit trail.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
}

/// A CLI failure: one line for a person, and exit code 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! cli_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self { CliError(e.to_string()) }
        }
    )*};
}
cli_error_from!(
    crate::config::ConfigError,
    crate::store::StoreError,
    crate::keys::KeyError,
    crate::accounts::AccountError,
    crate::oauth::clients::RegistrationError,
    crate::startup::StartupError,
    std::io::Error,
    serde_json::Error
);

impl Cli {
    /// Settings from every layer, with this command line's flags on top.
    pub fn settings(&self, mut flags: Overrides) -> Result<Settings, CliError> {
        if let Some(url) = &self.database_url {
            flags.0.insert("database_url", url.clone());
        }
        if let Some(kek) = &self.kek_file {
            flags.0.insert("kek_file", kek.clone());
        }
        Ok(Settings::load(
            self.config.as_deref(),
            |k| std::env::var(k).ok(),
            &flags,
        )?)
    }

    pub async fn run(self) -> Result<(), CliError> {
        match &self.command {
            Command::Serve(args) => serve::run(self.settings(args.overrides())?).await,
            Command::Migrate => {
                let settings = self.settings(Overrides::default())?;
                let db = Db::connect(&settings.database.url, 1)?;
                let applied = db.migrate()?;
                println!("{applied} migration(s) applied");
                Ok(())
            }
            Command::User { command } => {
                user::run(command, &open_db(&self.settings(Overrides::default())?)?)
            }
            Command::Client { command } => {
                let settings = self.settings(Overrides::default())?;
                client::run(command, &open_db(&settings)?, settings.outbound)
            }
            Command::Audit { command } => {
                audit::run(command, &open_db(&self.settings(Overrides::default())?)?)
            }
            Command::Keys { command } => {
                let settings = self.settings(Overrides::default())?;
                let db = open_db(&settings)?;
                keys::run(command, &db, &settings, || {
                    Ok(Keyring::load_or_create(&settings.keys.kek_file)?)
                })
            }
        }
    }
}

/// Opens the database for an administrative command, migrating it first so
/// that `user add` works on a fresh install before the first `serve`.
fn open_db(settings: &Settings) -> Result<Db, CliError> {
    let db = Db::connect(&settings.database.url, 2)?;
    db.migrate()?;
    Ok(db)
}

/// Reads a password or secret: from standard input when asked to or when it
/// is not a terminal, else from a hidden prompt typed twice.
pub fn read_secret(what: &str, from_stdin: bool) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let value = line.trim_end_matches(['\n', '\r']).to_owned();
        if value.is_empty() {
            return Err(CliError(format!("no {what} on standard input")));
        }
        return Ok(value);
    }
    let first = rpassword::prompt_password(format!("{what}: "))?;
    let second = rpassword::prompt_password(format!("{what} (again): "))?;
    if first != second {
        return Err(CliError(format!("the two {what}s differ")));
    }
    Ok(first)
}

/// A duration as people type it: `90s` (or `90`), `15m`, `24h`, `7d`; in
/// seconds.
pub fn parse_duration(value: &str) -> Option<i64> {
    let (digits, unit) = value.split_at(
        value
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .len(),
    );
    let n: i64 = digits.parse().ok()?;
    let unit = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// Formats a Unix time for people.
pub fn human_time(t: Option<i64>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// Prints rows as aligned columns under a header.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("5w"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("99999999999999999d"), None);
    }

    #[test]
    fn a_kid_starting_with_a_dash_is_an_argument_not_a_flag() {
        let cli = Cli::try_parse_from(["portcullis", "keys", "revoke", "-Vx3_abc"]).unwrap();
        assert!(
            matches!(cli.command, Command::Keys { command: keys::KeysCommand::Revoke { ref kid } } if kid == "-Vx3_abc")
        );
    }
}
