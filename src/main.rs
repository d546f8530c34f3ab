use clap::Parser;
use portcullis::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The server logs at info; administrative commands keep stdout for their
    // output and only warn on stderr.
    let default_level = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter =
        EnvFilter::try_from_env("PORTCULLIS_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let format = cli
        .log_format
        .clone()
        .or_else(|| std::env::var("PORTCULLIS_LOG_FORMAT").ok());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.as_deref() {
        Some("json") => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        Some("text") | None => logs.init(),
        Some(other) => {
            eprintln!("error: invalid setting PORTCULLIS_LOG_FORMAT: expected text or json, got `{other}`");
            return std::process::ExitCode::FAILURE;
        }
    }

    match actix_web::rt::System::new().block_on(cli.run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
