//! `portcullis keys …`.

use clap::Subcommand;

use super::{human_time, print_table, CliError};
use crate::clock::Clock;
use crate::config::Settings;
use crate::keys::kek::{self, sibling};
use crate::keys::{lifecycle, Keyring, SigningAlg};
use crate::store::{keys as rows, Db};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a new active key (every algorithm unless --alg) and retire the old one.
    /// Running servers pick it up within PORTCULLIS_KEY_REFRESH_INTERVAL.
    Rotate {
        /// RS256, PS256, ES256 or EdDSA (any case).
        #[arg(long)]
        alg: Option<SigningAlg>,
    },
    /// Re-seal every private key under a new key-encryption key (kids unchanged).
    /// The old KEK is kept as KEK_FILE.previous until you delete it.
    Rewrap,
    /// Remove a key from the JWKS at once; tokens it signed stop verifying.
    Revoke {
        /// A kid may start with '-' (base64url), so it is never read as a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub fn run(
    command: &KeysCommand,
    db: &Db,
    settings: &Settings,
    kek: impl Fn() -> Result<Keyring, CliError>,
) -> Result<(), CliError> {
    let mut conn = db.conn()?;
    let now = Clock::system().now();
    match command {
        KeysCommand::List { json } => {
            let list = rows::list(&mut conn)?;
            let published = |k: &rows::SigningKeyRow| lifecycle::is_published(k, now);
            if *json {
                let out: Vec<_> = list
                    .iter()
                    .map(|k| lifecycle::key_summary(k, now))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let table: Vec<Vec<String>> = list
                    .iter()
                    .map(|k| {
                        vec![
                            k.kid.clone(),
                            k.alg.to_string(),
                            k.state.to_string(),
                            if published(k) { "yes" } else { "no" }.into(),
                            human_time(Some(k.created_at)),
                            human_time(k.publish_until),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "KID",
                        "ALG",
                        "STATE",
                        "PUBLISHED",
                        "CREATED",
                        "PUBLISHED_UNTIL",
                    ],
                    &table,
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let kek = kek()?;
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![*a],
                None => SigningAlg::ALL.to_vec(),
            };
            for alg in algs {
                let kid = lifecycle::rotate(
                    &mut conn,
                    &kek,
                    alg,
                    settings.retired_key_grace(),
                    "cli",
                    now,
                    &mut None,
                )?;
                println!("{alg}: new active key {kid}");
            }
        }
        KeysCommand::Rewrap => {
            let old = kek()?;
            let path = &settings.keys.kek_file;
            let (next_path, previous_path) = (sibling(path, ".next"), sibling(path, ".previous"));
            if previous_path.exists() || next_path.exists() {
                return Err(CliError(format!(
                    "{} or {} exists: an earlier rewrap is not finished; delete {} once every server has reloaded, then run again",
                    previous_path.display(),
                    next_path.display(),
                    previous_path.display()
                )));
            }
            // The new KEK is on disk (as .next, which every server also reads)
            // before any row is sealed under it: no step can strand a key.
            let new = kek::generate();
            new.save_new(&next_path)?;
            let count = lifecycle::rewrap(&mut conn, &old, &Keyring::single(new), "cli", now)?;
            std::fs::rename(path, &previous_path)?;
            std::fs::rename(&next_path, path)?;
            println!(
                "re-sealed {count} signing key(s) under a new key-encryption key in {}",
                path.display()
            );
            println!(
                "the old one is kept at {}: delete it once every server has reloaded",
                previous_path.display()
            );
        }
        KeysCommand::Revoke { kid } => {
            let kek = kek()?;
            let revoked = lifecycle::revoke(&mut conn, &kek, kid, "cli", now, &mut None)?;
            println!("revoked {} key {}", revoked.alg, revoked.kid);
            if let Some(new) = revoked.replaced_by {
                println!("{}: new active key {new}", revoked.alg);
            }
        }
    }
    Ok(())
}
