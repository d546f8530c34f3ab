//! Builds the server: database, keys, background tasks, HTTP listener.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::State;
use crate::keys::{KeyError, KeyManager};
use crate::oauth::Context;
use crate::store::{self, Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Outbound(#[from] crate::remote::SetupError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    ctx: Arc<Context>,
}

impl Application {
    /// Binds `settings.server.bind` and prepares everything the server needs.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener =
            TcpListener::bind(settings.server.bind).map_err(|source| StartupError::Bind {
                addr: settings.server.bind.to_string(),
                source,
            })?;
        Self::from_listener(settings, listener, Clock::system()).await
    }

    /// Serves on an already bound listener (tests bind port 0 first, so the
    /// issuer can name the real port), with `clock` as its time (tests give
    /// one they can move).
    pub async fn from_listener(
        settings: Settings,
        listener: TcpListener,
        clock: Clock,
    ) -> Result<Self, StartupError> {
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.server.bind.to_string(),
                source,
            })?
            .port();
        let settings = Arc::new(settings);
        let db = Db::connect_server(&settings.database.url, settings.database.pool_size)?;
        let migrate_db = db.clone();
        let applied = tokio::task::spawn_blocking(move || migrate_db.migrate())
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        tokio::task::spawn_blocking(crate::accounts::password::warm_up)
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let keys = KeyManager::start(
            db.clone(),
            settings.keys.kek_file.clone(),
            settings.schedule(),
            clock.clone(),
        )
        .await?;
        // Replicas share the KEK, so they derive the same nonce key.
        let keys_secret = keys.derive_secret("portcullis dpop nonce");
        let refresh_every = Duration::from_secs(settings.keys.refresh_interval as u64);
        tokio::spawn(keys.clone().follow_database(refresh_every));
        tokio::spawn(housekeeping(db.clone(), clock.clone()));

        let outbound = Arc::new(crate::remote::Outbound::new(settings.outbound)?);
        let passkeys =
            crate::accounts::webauthn::RelyingParty::from_issuer(&settings.server.issuer);
        match &passkeys {
            Ok(rp) => tracing::info!(rp_id = rp.rp_id(), "passkeys available"),
            // Said once, here; the account page says it too.
            Err(why) => {
                tracing::warn!(issuer = %settings.server.issuer, "{why}: set an issuer with a host name (http://localhost works) to offer them")
            }
        }
        let ctx = Arc::new(Context {
            passkeys,
            protocol: settings.protocol(),
            db,
            keys,
            clients: Default::default(),
            limiter: crate::oauth::limiter::RateLimiter::new(settings.tokens.rate_limit),
            registration_limiter: crate::oauth::registration::limiter(
                settings.registration.rate_limit,
            ),
            metrics: crate::metrics::Metrics::default(),
            clock,
            events: Default::default(),
            dpop_nonces: settings
                .tokens
                .dpop_nonce
                .then(|| crate::oauth::dpop::Nonces::new(&keys_secret)),
            client_jwks: crate::remote::jwks::JwksCache::new(
                outbound.clone(),
                crate::oauth::client_auth::jwk::usable,
            ),
            outbound,
        });
        let data = web::Data::new(State::new(
            ctx.clone(),
            settings.secure_cookies(),
            settings.keys.jwks_max_age,
        ));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(crate::http::access_log))
                .app_data(data.clone())
                .configure(crate::http::routes)
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: format!("port {port}"),
            source,
        })?
        .run();
        Ok(Application { port, server, ctx })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The context the server runs with (tests use it to seed data).
    pub fn context(&self) -> Arc<Context> {
        self.ctx.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Deletes expired refresh tokens, sessions, codes, pending requests and
/// spent initial access tokens once an hour.
async fn housekeeping(db: Db, clock: Clock) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    loop {
        ticker.tick().await;
        let now = clock.now();
        let result = db
            .write(move |conn| {
                Ok::<_, StoreError>(
                    store::refresh_tokens::delete_expired(conn, now)?
                        + store::sessions::delete_expired(conn, now)?
                        + store::authorization::delete_expired(conn, now)?
                        + store::device_codes::delete_expired(conn, now)?
                        + store::revoked_tokens::delete_expired(conn, now)?
                        + store::seen_jtis::delete_expired(conn, now)?
                        + store::pushed_requests::delete_expired(conn, now)?
                        + store::login_challenges::delete_expired(conn, now)?
                        + store::throttle::delete_stale(conn, now - 86_400)?
                        + store::registration_tokens::delete_spent(conn, now)?,
                )
            })
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired rows removed"),
            Err(e) => tracing::warn!(error = %e, "clean-up failed"),
        }
    }
}
