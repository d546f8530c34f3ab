//! Peers measured beside Portcullis in the same run: node `oidc-provider`
//! and Django REST Framework + simplejwt. Their code is never committed:
//! `bench/peers/*` holds only our configuration, and the packages come from
//! npm and PyPI into `target/bench-peers` the first time they are needed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyper::Method;

use crate::fixture::PASSWORD;
use crate::http::Conn;
use crate::server::free_port;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    Portcullis,
    OidcProvider,
    Django,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::Portcullis => "Portcullis",
            Target::OidcProvider => "oidc-provider",
            Target::Django => "Django+simplejwt",
        }
    }

    pub fn parse(name: &str) -> Result<Target, String> {
        match name {
            "oidc-provider" => Ok(Target::OidcProvider),
            "django" => Ok(Target::Django),
            other => Err(format!(
                "unknown peer {other} (known: oidc-provider, django)"
            )),
        }
    }

    /// The Portcullis scenarios this peer has an equivalent of, and the
    /// factor Portcullis must be ahead by, if one is set: JWKS and
    /// client_credentials ES256 at least 4× oidc-provider, RS256 1.5×,
    /// refresh 10× Django+simplejwt (the targets BENCHMARKS.md measures).
    pub fn comparisons(self) -> &'static [(&'static str, Option<f64>)] {
        match self {
            Target::Portcullis => &[],
            Target::OidcProvider => &[
                ("jwks", Some(4.0)),
                ("discovery", None),
                ("client_credentials-ES256", Some(4.0)),
                ("client_credentials-RS256", Some(1.5)),
                ("introspection", None),
            ],
            // simplejwt's refresh signs one token: like for like with the
            // OAuth refresh; the OIDC one signs an ID token as well.
            Target::Django => &[
                ("refresh_token-RS256-oauth", Some(10.0)),
                ("refresh_token-RS256", Some(10.0)),
                ("password", None),
            ],
        }
    }

    /// The secret a peer's configuration gives client `id`
    /// (`bench/peers/oidc-provider/server.mjs`).
    pub fn client_secret(self, id: &str) -> String {
        format!("{id}-secret-0123456789abcdef0123456789abcdef")
    }
}

/// A running peer, stopped on drop.
pub struct Peer {
    child: Child,
    pub port: u16,
    data: PathBuf,
}

impl Peer {
    /// The process the benchmark started (gunicorn's master, or node).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGTERM first: gunicorn's master then stops its workers.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Where the peers' packages are installed, kept between runs:
/// `bench-peers` in the cargo target directory.
pub fn cache_dir() -> Result<PathBuf, String> {
    let cache = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("bench-peers");
    // Absolute: the Django script runs from its data directory.
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    cache
        .canonicalize()
        .map_err(|e| format!("{}: {e}", cache.display()))
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Installs (first time only) and starts a peer on a free port; returns when
/// it answers.
pub async fn start(target: Target, cache: &Path) -> Result<Peer, String> {
    let port = free_port();
    let data = std::env::temp_dir().join(format!(
        "portcullis-bench-peer-{}-{}",
        target.label(),
        std::process::id()
    ));
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let child = match target {
        Target::Portcullis => return Err("Portcullis is not a peer".into()),
        Target::OidcProvider => {
            let app = cache.join("oidc-provider");
            std::fs::create_dir_all(&app).map_err(|e| e.to_string())?;
            let source = peers_dir().join("oidc-provider");
            for file in ["package.json", "server.mjs"] {
                std::fs::copy(source.join(file), app.join(file))
                    .map_err(|e| format!("{file}: {e}"))?;
            }
            if !app.join("node_modules/oidc-provider").exists() {
                eprintln!("installing oidc-provider from npm into {}", app.display());
                run(
                    Command::new("npm")
                        .args(["install", "--no-audit", "--no-fund", "--silent"])
                        .current_dir(&app),
                    "npm install",
                )?;
            }
            Command::new("node")
                .arg("server.mjs")
                .arg(port.to_string())
                .env("NODE_ENV", "production")
                .current_dir(&app)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start node: {e}"))?
        }
        Target::Django => {
            eprintln!("starting Django (first run: a virtualenv from PyPI)");
            Command::new("bash")
                .arg(peers_dir().join("django/start.sh"))
                .arg(port.to_string())
                .arg(PASSWORD)
                .env("PEER_CACHE", cache)
                .env("PEER_DATA_DIR", &data)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("cannot start the Django peer: {e}"))?
        }
    };
    let mut peer = Peer { child, port, data };
    let probe = match target {
        Target::Django => "/api/token/",
        _ => "/jwks",
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(mut c) = Conn::open(port).await {
            if let Ok(r) = c.send(Method::GET, probe, &[], None).await {
                // Django's token view answers GET with 405: it is up.
                if r.status == 200 || r.status == 405 {
                    return Ok(peer);
                }
            }
        }
        if let Ok(Some(status)) = peer.child.try_wait() {
            return Err(format!("{} exited: {status}", target.label()));
        }
        if Instant::now() > deadline {
            return Err(format!("{} did not answer in 600 s", target.label()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
