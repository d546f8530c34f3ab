//! Outbound HTTP: the one client the server fetches other parties'
//! documents with (a client's JWK Set from its `jwks_uri` now, federation
//! metadata later), and the rules every such fetch obeys.
//!
//! Whoever registers a URL chooses what the server connects to, so a fetch
//! could be aimed at the server's own network (server-side request forgery:
//! a metadata service, an admin port on localhost). Unless the operator
//! allows it ([`Policy::allow_private_addresses`]), a fetch:
//! - is `https` only;
//! - never connects to a private, loopback, link-local, unique-local,
//!   shared (CGNAT), multicast, unspecified or otherwise non-global address:
//!   an IP-literal host is checked before anything is sent, and a name is
//!   resolved by [`GuardedResolver`], so the addresses checked are the very
//!   ones connected to (a second lookup that "rebinds" the name to a
//!   private address never happens);
//! - follows no redirect (the target of a redirect would escape the check),
//!   goes through no proxy (the proxy, not we, would resolve the name), and
//!   keeps no connection pool;
//! - reads at most [`Limits::max_bytes`] of body, counted as it arrives,
//!   within [`Limits::timeout`] for the whole exchange.
//!
//! `jwks.rs` is the cache of client JWK Sets built on it.

pub mod jwks;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, USER_AGENT};
use http::HeaderMap;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use url::{Host, Url};

/// What the operator allows outbound fetches to reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Fetch from any address, and over plain `http` too: for a deployment
    /// whose clients live on its own private network, and for tests.
    pub allow_private_addresses: bool,
}

/// How much one fetch may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    /// For everything: resolving, connecting, TLS, the answer and its body.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    BadUrl(String),
    /// The host is an address the policy refuses (or a name that resolves
    /// only to such addresses).
    #[error("refused: {0}")]
    Forbidden(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("answered with a redirect ({0}), which is not followed")]
    Redirect(u16),
    #[error("answered with status {0}")]
    Status(u16),
    #[error("{0}")]
    Transport(String),
    #[error("{0}")]
    Malformed(String),
    /// A cache's fetch failed less than this many seconds ago.
    #[error("the last fetch failed less than {0} s ago; not retried yet")]
    RecentlyFailed(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("outbound TLS: {0}")]
    Tls(String),
}

/// A successful answer: its headers and its whole body.
#[derive(Debug)]
pub struct Fetched {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Fetched {
    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    HttpsConnector<HttpConnector<GuardedResolver>>,
    Empty<Bytes>,
>;

/// The outbound client. Cheap to share (`Arc`); built once at start.
pub struct Outbound {
    client: HttpClient,
    policy: Policy,
}

const USER_AGENT_VALUE: &str = concat!("portcullis/", env!("CARGO_PKG_VERSION"));

impl Outbound {
    pub fn new(policy: Policy) -> Result<Self, SetupError> {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { policy });
        // The scheme is the TLS layer's to check (and `check_url`'s).
        http.enforce_http(false);
        let tls = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls_config()?);
        let tls = if policy.allow_private_addresses {
            tls.https_or_http()
        } else {
            tls.https_only()
        };
        let connector = tls.enable_http1().wrap_connector(http);
        // Fetches are rare (their results are cached): a pool would save
        // little, and its idle connections would belong to the runtime of
        // whichever worker opened them.
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Outbound { client, policy })
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// GETs `url` under the policy and `limits`; a 2xx answer's body.
    /// Redirects are not followed: their target would escape the checks.
    pub async fn get(
        &self,
        url: &str,
        accept: &str,
        limits: Limits,
    ) -> Result<Fetched, FetchError> {
        let url = check_url(url, self.policy)?;
        let request = http::Request::get(url.as_str())
            .header(ACCEPT, accept)
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::BadUrl(format!("`{url}`: {e}")))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(transport)?;
            let status = response.status();
            if status.is_redirection() {
                return Err(FetchError::Redirect(status.as_u16()));
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let announced = response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(0);
            if announced > limits.max_bytes as u64 {
                return Err(FetchError::TooLarge(limits.max_bytes));
            }
            let (parts, mut body) = response.into_parts();
            let mut bytes = Vec::with_capacity(announced as usize);
            // Counted frame by frame: a body without a length (or with a
            // false one) is cut off at the limit, not read to its end.
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(transport)?;
                if let Some(data) = frame.data_ref() {
                    if bytes.len() + data.len() > limits.max_bytes {
                        return Err(FetchError::TooLarge(limits.max_bytes));
                    }
                    bytes.extend_from_slice(data);
                }
            }
            Ok(Fetched {
                headers: parts.headers,
                body: bytes,
            })
        };
        tokio::time::timeout(limits.timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout(limits.timeout))?
    }
}

/// Checks a URL the server is asked to fetch from (at registration, and
/// again before each fetch): absolute `https` (or `http` where the policy
/// allows private addresses), no credentials in it, and an IP-literal host
/// must be an address the policy allows. A name is checked when resolved.
pub fn check_url(url: &str, policy: Policy) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::BadUrl(format!("`{url}`: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_private_addresses => {}
        _ => {
            return Err(FetchError::BadUrl(format!(
            "`{url}` must be an https URL (plain http only with outbound_allow_private_addresses)"
        )))
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FetchError::BadUrl(format!(
            "`{url}` must not carry credentials"
        )));
    }
    if parsed.fragment().is_some() {
        return Err(FetchError::BadUrl(format!(
            "`{url}` must not have a fragment"
        )));
    }
    let ip = match parsed.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(name)) if !name.is_empty() => return Ok(parsed),
        _ => return Err(FetchError::BadUrl(format!("`{url}` has no host"))),
    };
    if !policy.allow_private_addresses {
        if let Some(kind) = non_global(ip) {
            return Err(FetchError::Forbidden(format!("{ip} is a {kind} address")));
        }
    }
    Ok(parsed)
}

/// What kind of non-global address `ip` is, or `None` for an address on
/// the public Internet. Everything IANA's special-purpose registries mark
/// as not globally reachable is refused, not only the well-known private
/// ranges; IPv6 forms that embed an IPv4 address are judged by it.
pub fn non_global(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_global_v4(v4),
        IpAddr::V6(v6) => non_global_v6(v6),
    }
}

fn non_global_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT, 100.64.0.0/10)",
        (169, 254, _) => "link-local",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (192, 88, 99) => "deprecated 6to4 relay",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved (240.0.0.0/4, broadcast)",
        _ => return None,
    })
}

fn non_global_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_global_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address
    // they embed.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_global_v4(Ipv4Addr::from(ip.to_bits() as u32));
    }
    if s[0] == 0x2002 {
        let embedded = ((s[1] as u32) << 16) | s[2] as u32;
        return non_global_v4(Ipv4Addr::from(embedded));
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "unique-local",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local (deprecated)",
        0xff00..=0xffff => "multicast",
        // IPv4-compatible (deprecated), 64:ff9b:1::/48 and the rest of ::/8.
        0x0000..=0x00ff => "reserved (::/8)",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only (100::/64)",
        0x2001 if s[1] == 0x0db8 => "documentation",
        // Teredo tunnels, benchmarking, ORCHID and the other IETF
        // assignments in 2001::/23 (AMT's 2001:3::/32 is global).
        0x2001 if s[1] < 0x0200 && s[1] != 0x0003 => "IETF protocol assignment (2001::/23)",
        0x3fff if s[1] < 0x1000 => "documentation",
        0x5f00 => "segment routing (5f00::/16)",
        _ => return None,
    })
}

/// Resolves names for the outbound client and keeps only the addresses the
/// policy allows: the connector connects to exactly what this returns, so
/// a name cannot pass one lookup and connect by another.
#[derive(Clone)]
struct GuardedResolver {
    policy: Policy,
}

/// The error a name with no allowed address resolves to.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to refused addresses ({kinds})")]
struct ResolvedToForbidden {
    name: String,
    kinds: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if policy.allow_private_addresses {
                return Ok(found.into_iter());
            }
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|addr| non_global(addr.ip()).is_none());
            if allowed.is_empty() {
                let mut kinds: Vec<&str> = refused
                    .iter()
                    .filter_map(|addr| non_global(addr.ip()))
                    .collect();
                kinds.dedup();
                return Err(Box::new(ResolvedToForbidden {
                    name,
                    kinds: kinds.join(", "),
                }) as BoxError);
            }
            Ok(allowed.into_iter())
        })
    }
}

/// A transport error, told apart when the resolver refused the name; with
/// its causes (the outermost alone says little: "client error (Connect)").
fn transport(e: impl std::error::Error + 'static) -> FetchError {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<ResolvedToForbidden>() {
            return FetchError::Forbidden(refused.to_string());
        }
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    FetchError::Transport(text)
}

/// rustls with aws-lc-rs (the tree's one cryptography library) and the
/// system's root certificates, which the operator manages (and may extend
/// with a private CA for clients on an internal network).
fn tls_config() -> Result<rustls::ClientConfig, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "a system root certificate could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!(
            ignored,
            "no system root certificates: outbound https fetches will fail (install ca-certificates)"
        );
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_non_global_range_is_refused_and_public_addresses_pass() {
        for refused in [
            "0.0.0.0",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(
                non_global(ip(refused)).is_some(),
                "{refused} must be refused"
            );
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.1.1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2001:3::1",
        ] {
            assert_eq!(non_global(ip(public)), None, "{public} is global");
        }
    }

    #[test]
    fn urls_are_https_without_credentials_and_literal_hosts_are_checked() {
        let strict = Policy::default();
        let open = Policy {
            allow_private_addresses: true,
        };
        assert!(check_url("https://client.example.com/jwks.json", strict).is_ok());
        assert!(check_url("https://8.8.8.8/jwks", strict).is_ok());
        for bad in [
            "http://client.example.com/jwks.json",
            "ftp://client.example.com/jwks.json",
            "https://user:pw@client.example.com/jwks",
            "https://client.example.com/jwks#frag",
            "not a url",
        ] {
            assert!(
                matches!(check_url(bad, strict), Err(FetchError::BadUrl(_))),
                "{bad}"
            );
        }
        // Every spelling of an address is the address (WHATWG host parsing).
        for literal in [
            "https://127.0.0.1/jwks",
            "https://2130706433/jwks",
            "https://0x7f.1/jwks",
            "https://[::1]/jwks",
            "https://[::ffff:169.254.169.254]/jwks",
            "https://169.254.169.254/latest/meta-data",
        ] {
            assert!(
                matches!(check_url(literal, strict), Err(FetchError::Forbidden(_))),
                "{literal}"
            );
            assert!(check_url(literal, open).is_ok(), "{literal} when allowed");
        }
        assert!(check_url("http://127.0.0.1:8080/jwks", open).is_ok());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_when_fetched() {
        let outbound = Outbound::new(Policy::default()).unwrap();
        let limits = Limits {
            max_bytes: 1024,
            timeout: Duration::from_secs(3),
        };
        let err = outbound
            .get("https://localhost:1/jwks", "application/json", limits)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Forbidden(_)), "{err}");
    }
}
