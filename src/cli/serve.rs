//! `portcullis serve`.

use clap::Args;

use super::CliError;
use crate::config::{Overrides, Settings};
use crate::startup::Application;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address, IP:PORT [env: PORTCULLIS_BIND]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Public base URL, the `iss` of every token [env: PORTCULLIS_ISSUER]
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Access and ID token lifetime in seconds [env: PORTCULLIS_ACCESS_TOKEN_TTL]
    #[arg(long, value_name = "SECONDS")]
    pub access_token_ttl: Option<String>,
    /// Refresh token lifetime in seconds [env: PORTCULLIS_REFRESH_TOKEN_TTL]
    #[arg(long, value_name = "SECONDS")]
    pub refresh_token_ttl: Option<String>,
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        let pairs = [
            ("bind", &self.bind),
            ("issuer", &self.issuer),
            ("access_token_ttl", &self.access_token_ttl),
            ("refresh_token_ttl", &self.refresh_token_ttl),
        ];
        for (key, value) in pairs {
            if let Some(v) = value {
                o.0.insert(key, v.clone());
            }
        }
        o
    }
}

pub async fn run(settings: Settings) -> Result<(), CliError> {
    let issuer = settings.server.issuer.clone();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), issuer = %issuer, "portcullis listening");
    app.run_until_stopped().await?;
    Ok(())
}
