//! `portcullis user …`.

use clap::Subcommand;

use super::{human_time, print_table, read_secret, CliError};
use crate::accounts::{self, factors, NewUser};
use crate::clock::Clock;
use crate::store::{users, Db};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for, or read from stdin.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user and revoke its refresh tokens.
    Disable { username: String },
    /// Set a user's password (revokes its refresh tokens).
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// A user's second factors: list them, or reset them all.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// The user's authenticator app, passkeys and recovery codes left.
    List {
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove every second factor and recovery code (for someone who lost
    /// them); the user signs in with the password alone until they enrol again.
    Reset { username: String },
}

pub fn run(command: &UserCommand, db: &Db) -> Result<(), CliError> {
    let mut conn = db.conn()?;
    let now = Clock::system().now();
    match command {
        UserCommand::Add {
            username,
            email,
            name,
            password_stdin,
        } => {
            let password = read_secret("password", *password_stdin)?;
            let user = accounts::create_user(
                &mut conn,
                &NewUser {
                    username,
                    email: email.as_deref(),
                    name: name.as_deref(),
                    password: &password,
                },
                "cli",
                now,
            )?;
            println!("created user {} (sub {})", user.username, user.id);
        }
        UserCommand::List { json } => {
            let list = users::list(&mut conn)?;
            if *json {
                let out: Vec<_> = list.iter().map(accounts::user_summary).collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|u| {
                        vec![
                            u.username.clone(),
                            u.id.clone(),
                            u.email.clone().unwrap_or_else(|| "-".into()),
                            if u.disabled { "disabled" } else { "active" }.into(),
                            human_time(Some(u.created_at)),
                        ]
                    })
                    .collect();
                print_table(&["USERNAME", "SUB", "EMAIL", "STATUS", "CREATED"], &rows);
            }
        }
        UserCommand::Disable { username } => {
            let revoked = accounts::disable_user(&mut conn, username, "cli", now)?;
            println!("disabled user {username}; {revoked} refresh token(s) revoked");
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            if users::find_by_username(&mut conn, username)?.is_none() {
                return Err(CliError(format!("no user named {username}")));
            }
            let password = read_secret("password", *password_stdin)?;
            accounts::set_password(&mut conn, username, &password, "cli", now)?;
            println!("password of {username} changed; its refresh tokens were revoked");
        }
        UserCommand::Mfa { command } => mfa(command, &mut conn, now)?,
    }
    Ok(())
}

fn mfa(
    command: &MfaCommand,
    conn: &mut crate::store::DbConnection,
    now: i64,
) -> Result<(), CliError> {
    let username = match command {
        MfaCommand::List { username, .. } | MfaCommand::Reset { username } => username,
    };
    let user = users::find_by_username(conn, username)?
        .ok_or_else(|| CliError(format!("no user named {username}")))?;
    match command {
        MfaCommand::List { json, .. } => {
            let listing = factors::listing(conn, &user.id)?;
            if *json {
                let out = serde_json::json!({"username": user.username, "factors": listing});
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            let mut rows = Vec::new();
            if let Some(since) = listing.totp_since {
                rows.push(vec![
                    "totp".into(),
                    "authenticator app".into(),
                    human_time(Some(since)),
                    "-".into(),
                ]);
            }
            for p in &listing.passkeys {
                rows.push(vec![
                    "passkey".into(),
                    p.name.clone(),
                    human_time(Some(p.created_at)),
                    human_time(p.last_used_at),
                ]);
            }
            print_table(&["KIND", "NAME", "CREATED", "LAST USED"], &rows);
            println!("{} recovery code(s) left", listing.recovery_codes_left);
        }
        MfaCommand::Reset { .. } => {
            let before = factors::reset(conn, &user.id, "cli", now)?;
            println!(
                "second factors of {username} reset: {} authenticator app, {} passkey(s) and {} recovery code(s) removed",
                u8::from(before.totp),
                before.passkeys,
                before.recovery_codes_left
            );
        }
    }
    Ok(())
}
