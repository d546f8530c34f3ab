//! One deployment of real `portcullis serve` processes: a database, a KEK,
//! an issuer, and replicas serving them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::browser::CALLBACK;
use super::{drop_postgres_database, free_port, fresh_database_url, run_with_stdin, PASSWORD};

/// One deployment: a database, a KEK, an issuer, and replicas serving them.
pub struct Cluster {
    pub database_url: String,
    kek_file: std::path::PathBuf,
    pub issuer: String,
    env: Vec<(String, String)>,
    pub replicas: Vec<Replica>,
    dir: tempfile::TempDir,
}

pub struct Replica {
    pub child: Child,
    pub address: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.replicas.clear();
        drop_postgres_database(&self.database_url);
    }
}

impl Cluster {
    pub fn new(env: &[(&str, &str)]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database_url(dir.path());
        Self::with(dir, database_url, env)
    }

    /// A cluster on a database the test made itself (one behind a proxy,
    /// say): the cluster neither creates nor drops a database of its own.
    pub fn on_database(database_url: &str, env: &[(&str, &str)]) -> Cluster {
        Self::with(tempfile::tempdir().unwrap(), database_url.to_owned(), env)
    }

    fn with(dir: tempfile::TempDir, database_url: String, env: &[(&str, &str)]) -> Cluster {
        let kek_file = dir.path().join("kek");
        // The address a load balancer would have; every replica names it as issuer.
        let issuer = format!("http://127.0.0.1:{}", free_port());
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Cluster {
            database_url,
            kek_file,
            issuer,
            env,
            replicas: Vec::new(),
            dir,
        }
    }

    /// The cluster's own temporary directory (it holds the KEK file).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(args)
            .env("PORTCULLIS_DATABASE_URL", &self.database_url)
            .env("PORTCULLIS_KEK_FILE", &self.kek_file)
            .env("PORTCULLIS_ISSUER", &self.issuer)
            .env("PORTCULLIS_KEY_REFRESH_INTERVAL", "1")
            .env("PORTCULLIS_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the CLI against the cluster's database; returns stdout.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = run_with_stdin(self.command(args), stdin);
        assert!(
            out.status.success(),
            "portcullis {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts one more replica and waits until it answers.
    pub async fn start_replica(&mut self) -> usize {
        self.start_replica_logging_to(None).await
    }

    /// Starts a replica whose logs (stderr) go to `log`, if given.
    pub async fn start_replica_logging_to(&mut self, log: Option<&std::path::Path>) -> usize {
        let mut replica = self.spawn_replica(log);
        replica.wait_until_serving().await.unwrap();
        self.replicas.push(replica);
        self.replicas.len() - 1
    }

    /// Starts a `serve` process without waiting for it.
    pub fn spawn_replica(&self, log: Option<&std::path::Path>) -> Replica {
        let port = free_port();
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let child = self
            .command(&["serve"])
            .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Replica {
            child,
            address: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn at(&self, i: usize) -> &str {
        &self.replicas[i].address
    }
}

impl Replica {
    /// Waits until the replica serves its JWKS; an error if it exits first
    /// or takes longer than a minute.
    pub async fn wait_until_serving(&mut self) -> Result<(), String> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = http
                .get(format!("{}/.well-known/jwks.json", self.address))
                .send()
                .await
            {
                if res.status() == 200 {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("replica on {} exited: {status}", self.address));
            }
            if Instant::now() > deadline {
                return Err(format!("replica on {} did not start", self.address));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A token request to the replica at `at`, authenticated with HTTP Basic;
/// returns the status and the JSON body, success or error.
pub async fn token(
    http: &reqwest::Client,
    at: &str,
    form: &[(&str, &str)],
    client: (&str, &str),
) -> (u16, Value) {
    let res = http
        .post(format!("{at}/token"))
        .basic_auth(client.0, Some(client.1))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Adds the user alice and the confidential client `app` (password,
/// refresh and code grants, ES256, redirecting to [`CALLBACK`]) with the
/// CLI; returns the client's secret.
pub fn provision(cluster: &Cluster) -> String {
    cluster.cli(
        &["user", "add", "alice", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let out = cluster.cli(
        &[
            "client",
            "add",
            "app",
            "--grant-types",
            "password,refresh_token,authorization_code",
            "--redirect-uri",
            CALLBACK,
            "--signing-alg",
            "ES256",
            "--json",
        ],
        None,
    );
    let created: Value = serde_json::from_str(&out).unwrap();
    created["client_secret"].as_str().unwrap().to_owned()
}
