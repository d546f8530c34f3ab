//! The Portcullis server under test: `portcullis serve` on a fresh database
//! in a temporary directory, and the same binary run as the CLI that
//! provisions it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;

use crate::http::Conn;
use crate::options::Options;

/// The server under test, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    /// `PORTCULLIS_ISSUER`: a host name, not an address, so that the server
    /// offers passkeys (WebAuthn needs an RP ID that is a domain).
    pub issuer: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
    binary: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port free right now, for a server to bind.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18080)
}

impl Server {
    /// The server's own temporary directory (its database, its KEK).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The server's process, whose CPU time is read around each scenario.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs the server's binary as the CLI, with the server's environment
    /// (same database, same key file); returns its stdout.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        use std::io::Write;
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        if let Some(mut pipe) = child.stdin.take() {
            if let Some(input) = stdin {
                pipe.write_all(input.as_bytes())
                    .map_err(|e| e.to_string())?;
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "portcullis {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Starts `portcullis serve` on a fresh database (SQLite in a temporary
/// directory unless `--database-url`); it may not be ready yet.
pub fn start_server(o: &Options) -> Result<Server, String> {
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port();
    let issuer = format!("http://localhost:{port}");
    let database_url = o
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
    let env: Vec<(String, String)> = [
        ("PORTCULLIS_DATABASE_URL", database_url),
        ("PORTCULLIS_KEK_FILE", dir.join("kek").display().to_string()),
        ("PORTCULLIS_BIND", format!("127.0.0.1:{port}")),
        ("PORTCULLIS_ISSUER", issuer.clone()),
        ("PORTCULLIS_LOG", "warn".into()),
        // The benchmark logs in thousands of times with the right password;
        // the brute-force counters would only see successes, but keep them out.
        ("PORTCULLIS_LOGIN_MAX_FAILURES", "0".into()),
        ("PORTCULLIS_LOGIN_SLOW_AFTER", "0".into()),
        // The registration scenario: /register open, and no per-address
        // limit (every request comes from 127.0.0.1). Open registration
        // also names registration_endpoint in the discovery document.
        ("PORTCULLIS_REGISTRATION", "open".into()),
        ("PORTCULLIS_REGISTRATION_RATE_LIMIT", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut cmd = Command::new(&o.binary);
    cmd.arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start {}: {e} (run `cargo build --release` first)",
            o.binary.display()
        )
    })?;
    Ok(Server {
        child,
        port,
        issuer,
        dir,
        env,
        binary: o.binary.clone(),
    })
}

/// Waits for `/readyz` to answer 200, for at most 60 s.
pub async fn wait_ready(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut c) = Conn::open(port).await {
            if let Ok(r) = c.send(Method::GET, "/readyz", &[], None).await {
                if r.status == 200 {
                    return Ok(());
                }
            }
        }
        if Instant::now() > deadline {
            return Err("the server did not become ready in 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
