//! `portcullis client …`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::{human_time, parse_duration, print_table, read_secret, CliError};
use crate::clock::Clock;
use crate::keys::SigningAlg;
use crate::oauth::clients::{self, profile, AuthMethod, Client, GrantType, NewClient, Profile};
use crate::oauth::registration::initial_tokens;
use crate::remote;
use crate::store::Db;

// Parsed once per process: the size of `Add` costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. A client authenticating with a secret gets a
    /// generated one, printed once, unless --secret-stdin gives one.
    Add {
        client_id: String,
        /// Display name (defaults to the client id).
        #[arg(long)]
        name: Option<String>,
        /// A public client (no secret: native and browser apps); the same
        /// as --auth-method none.
        #[arg(long)]
        public: bool,
        /// How it authenticates: client_secret_basic, client_secret_post,
        /// none, or private_key_jwt (with --jwks or --jwks-uri)
        /// [default: none with --public, else client_secret_basic]
        #[arg(long, value_name = "METHOD")]
        auth_method: Option<AuthMethod>,
        /// A file holding the client's public keys as a JWK Set (private_key_jwt).
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// Where the client publishes its JWK Set, fetched when needed (private_key_jwt).
        #[arg(long, value_name = "URL")]
        jwks_uri: Option<String>,
        /// Comma-separated grant types: authorization_code, refresh_token,
        /// password, client_credentials, device_code, token_exchange
        /// [default: authorization_code,refresh_token with a --redirect-uri,
        /// else password,refresh_token]
        #[arg(long, value_delimiter = ',')]
        grant_types: Vec<GrantType>,
        /// A redirect URI (repeatable); matched exactly, character for character.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Where the client may send users after logout (repeatable).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A third-party client: users see a consent page before it gets their data.
        #[arg(long)]
        consent: bool,
        /// Scopes the client may ask for (space-separated).
        #[arg(long, default_value = clients::DEFAULT_SCOPE)]
        scope: String,
        /// `aud` of its access tokens (default: the issuer).
        #[arg(long)]
        audience: Option<String>,
        /// What its access and ID tokens are signed with: RS256, PS256, ES256
        /// or EdDSA (any case) [default: RS256; PS256 under --profile fapi2]
        #[arg(long)]
        signing_alg: Option<SigningAlg>,
        /// A resource URI (RFC 8707) its access tokens may be for (repeatable).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// An audience token exchange may issue tokens for (repeatable).
        #[arg(long = "exchange-audience", value_name = "AUD")]
        exchange_audiences: Vec<String>,
        /// Token exchange without an actor token: the new token acts as the
        /// user, with no record of who asked (impersonation).
        #[arg(long)]
        exchange_impersonation: bool,
        /// Authorization requests must be pushed to /par (RFC 9126).
        #[arg(long)]
        require_par: bool,
        /// Access tokens must be DPoP-bound (RFC 9449): token requests
        /// without a DPoP proof are refused.
        #[arg(long)]
        require_dpop: bool,
        /// Every login for this client needs a second factor (a person
        /// without one sets one up first); the password grant is refused.
        #[arg(long)]
        require_mfa: bool,
        /// Hold the client to a security profile: fapi2 (the FAPI 2.0
        /// Security Profile: private_key_jwt, PAR, PKCE, DPoP, not RS256).
        #[arg(long)]
        profile: Option<Profile>,
        /// Read the client secret (at least 32 characters) from standard input.
        #[arg(long)]
        secret_stdin: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a client and every refresh token issued to it.
    Remove { client_id: String },
    /// Initial access tokens for dynamic client registration (RFC 7591 §3).
    RegistrationToken {
        #[command(subcommand)]
        command: RegistrationTokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistrationTokenCommand {
    /// Mint an initial access token for `POST /register` (with
    /// `registration = "token"`). It is printed once; only its hash is stored.
    Create {
        /// How long it is valid: 90s, 15m, 24h, 7d [default: until deleted]
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<i64>,
        /// How many registrations it allows [default: any number]
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        uses: Option<i64>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_expiry(value: &str) -> Result<i64, String> {
    parse_duration(value)
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("expected a duration such as 15m, 24h or 7d, got `{value}`"))
}

/// Reads a JWK Set file (`--jwks`); its keys are checked with the rest.
fn read_jwks(path: &Path) -> Result<serde_json::Value, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError(format!("{} is not JSON: {e}", path.display())))
}

/// `outbound` is the server's outbound policy, which a `--jwks-uri` must
/// be fetchable under.
pub fn run(command: &ClientCommand, db: &Db, outbound: remote::Policy) -> Result<(), CliError> {
    let mut conn = db.conn()?;
    let now = Clock::system().now();
    match command {
        ClientCommand::Add {
            client_id,
            name,
            public,
            auth_method,
            jwks,
            jwks_uri,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
            consent,
            scope,
            audience,
            signing_alg,
            resources,
            exchange_audiences,
            exchange_impersonation,
            require_par,
            require_dpop,
            require_mfa,
            profile,
            secret_stdin,
            json,
        } => {
            let grant_types = if grant_types.is_empty() {
                NewClient::default_grant_types(redirect_uris)
            } else {
                grant_types.clone()
            };
            let secret = if *secret_stdin {
                Some(read_secret("client secret", true)?)
            } else {
                None
            };
            let jwks = jwks.as_deref().map(read_jwks).transpose()?;
            let registered = clients::register(
                &mut conn,
                NewClient {
                    client_id: client_id.clone(),
                    name: name.clone(),
                    public: *public,
                    grant_types,
                    redirect_uris: redirect_uris.clone(),
                    scope: scope.clone(),
                    audience: audience.clone(),
                    signing_alg: signing_alg.unwrap_or(profile::default_signing_alg(*profile)),
                    secret,
                    consent: *consent,
                    post_logout_redirect_uris: post_logout_redirect_uris.clone(),
                    resources: resources.clone(),
                    exchange_audiences: exchange_audiences.clone(),
                    exchange_impersonation: *exchange_impersonation,
                    require_par: *require_par,
                    require_dpop: *require_dpop,
                    require_mfa: *require_mfa,
                    profile: *profile,
                    auth_method: *auth_method,
                    jwks,
                    jwks_uri: jwks_uri.clone(),
                    ..NewClient::default()
                },
                outbound,
                "cli",
                now,
            )?;
            let generated = registered.secret.filter(|_| !*secret_stdin);
            if *json {
                let mut out = registered.client.summary();
                if let Some(secret) = &generated {
                    out["client_secret"] = json!(secret);
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let kind = if registered.client.is_public() {
                    "public"
                } else {
                    "confidential"
                };
                println!(
                    "created {kind} client {} ({})",
                    registered.client.client_id, registered.client.auth_method
                );
                if let Some(secret) = generated {
                    println!("client_secret: {secret}");
                    println!("(shown once: only its hash is stored)");
                }
            }
        }
        ClientCommand::List { json } => {
            let list = clients::list(&mut conn)?;
            if *json {
                let out: Vec<_> = list.iter().map(Client::summary).collect();
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|c| {
                        let grants: Vec<&str> =
                            c.grant_types.iter().map(|g| g.short_name()).collect();
                        vec![
                            c.client_id.clone(),
                            if c.is_public() {
                                "public"
                            } else {
                                "confidential"
                            }
                            .into(),
                            grants.join(","),
                            c.signing_alg.to_string(),
                            if c.dynamic { "yes" } else { "no" }.into(),
                            c.auth_method.to_string(),
                            c.scope.to_string(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "CLIENT_ID",
                        "TYPE",
                        "GRANT_TYPES",
                        "ALG",
                        "DYNAMIC",
                        "AUTH_METHOD",
                        "SCOPE",
                    ],
                    &rows,
                );
            }
        }
        ClientCommand::Remove { client_id } => {
            if !clients::remove(&mut conn, client_id, "cli", now)? {
                return Err(CliError(format!("no client named {client_id}")));
            }
            println!("removed client {client_id}");
        }
        ClientCommand::RegistrationToken {
            command:
                RegistrationTokenCommand::Create {
                    expires,
                    uses,
                    json,
                },
        } => {
            let minted = initial_tokens::create(&mut conn, *expires, *uses, "cli", now)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&minted)?);
            } else {
                let uses = minted
                    .uses
                    .map_or("any number of".into(), |n| n.to_string());
                let expires = match minted.expires_at {
                    Some(_) => format!("until {}", human_time(minted.expires_at)),
                    None => "until deleted".into(),
                };
                println!(
                    "created initial access token {} ({uses} registration(s), {expires})",
                    minted.id
                );
                println!("token: {}", minted.token);
                println!("(shown once: only its hash is stored)");
            }
        }
    }
    Ok(())
}
