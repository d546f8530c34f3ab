//! A real headless Chromium over WebDriver (chromedriver), for the browser
//! tests: a session, navigation, typing, clicks, screenshots, the WebDriver
//! virtual authenticator, and a callback server for the client. Needs
//! Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::free_port;

const ELEMENT: &str = "element-6066-11e4-a52f-4a4e-9c5a-0e7a8e1ccbb3";

/// A chromedriver process, killed on drop.
pub struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    pub session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> Driver {
        Self::start_sized(820, 720).await
    }

    /// A browser whose window is `width` × `height` (a tall one shows a
    /// whole page in a screenshot).
    pub async fn start_sized(width: u32, height: u32) -> Driver {
        let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("chromedriver not found: apt-get install chromium chromium-driver");
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let profile = tempfile::tempdir().unwrap();
        let mut driver = Driver {
            child,
            base,
            http,
            session: String::new(),
            _profile: profile,
        };
        for _ in 0..100 {
            if driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--disable-quic", format!("--window-size={width},{height}"),
                         format!("--user-data-dir={}", driver._profile.path().display())]
            }
        }}});
        let session = driver.call("POST", "/session", Some(capabilities)).await;
        driver.session = session["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        driver
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "POST" => self.http.post(&url).json(&body.unwrap_or(json!({}))),
            "DELETE" => self.http.delete(&url),
            _ => self.http.get(&url),
        };
        let res: Value = req
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .unwrap();
        assert!(
            res["value"].get("error").is_none(),
            "WebDriver {method} {path}: {res}"
        );
        res["value"].clone()
    }

    pub async fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn current_url(&self) -> String {
        let v = self.session_call("GET", "/url", None).await;
        v.as_str().unwrap_or_else(|| panic!("url: {v}")).to_owned()
    }

    pub async fn find(&self, css: &str) -> String {
        let el = self
            .session_call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        // The W3C element reference: the one member of the returned object.
        el.get(ELEMENT)
            .or_else(|| el.as_object().and_then(|o| o.values().next()))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {el}"))
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.session_call(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.session_call("POST", &format!("/element/{el}/click"), None)
            .await;
    }

    pub async fn page_source(&self) -> String {
        self.session_call("GET", "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The page source once it contains `needle`. A click returns when the
    /// browser has sent the form, not necessarily when the answer (an
    /// Argon2id verification away, on a busy machine) has rendered.
    pub async fn wait_for_source(&self, needle: &str) -> String {
        let mut source = String::new();
        for _ in 0..200 {
            source = self.page_source().await;
            if source.contains(needle) {
                return source;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page never showed {needle:?}; it shows:\n{source}");
    }

    /// A WebDriver virtual authenticator (W3C WebAuthn §11.3): CTAP2, a
    /// platform authenticator with resident keys and user verification
    /// that always says yes. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let v = self
            .session_call(
                "POST",
                "/webauthn/authenticator",
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserConsenting": true,
                    "isUserVerified": true
                })),
            )
            .await;
        v.as_str().expect("an authenticator id").to_owned()
    }

    /// The credentials a virtual authenticator holds.
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        self.session_call(
            "GET",
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            None,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Waits until the browser's URL starts with `prefix`.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let mut url = String::new();
        for _ in 0..100 {
            url = self.current_url().await;
            if url.starts_with(prefix) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser never reached {prefix}; it is at {url}");
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        let png = self.session_call("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap()
    }
}

/// The client's callback: a tiny HTTP server that answers every request
/// with a plain page.
pub async fn serve_callback() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let body = "<!doctype html><title>Callback</title><p>Back at the application.</p>";
                let res = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(res.as_bytes()).await;
            });
        }
    });
    port
}
