//! Several real `portcullis serve` processes on one database behave as one
//! server: tokens, refresh rotation, reuse detection, sessions and
//! scheduled key rotation hold across them.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::helpers::browser::{location, query_param, Browser, CALLBACK};
use crate::helpers::cluster::{provision, token, Cluster, Replica};
use crate::helpers::PASSWORD;

async fn jwks_of(http: &reqwest::Client, at: &str) -> (JwkSet, u64) {
    let res = http
        .get(format!("{at}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let max_age = res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .split("max-age=")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("a max-age");
    (res.json().await.unwrap(), max_age)
}

fn verify(token: &str, jwks: &JwkSet, issuer: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} is not in the cached JWKS"))?;
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[issuer]);
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn two_replicas_on_one_database_behave_as_one_server() {
    let mut cluster = Cluster::new(&[]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    let (a, b) = (cluster.start_replica().await, cluster.start_replica().await);
    let http = reqwest::Client::new();
    let client = ("app", secret.as_str());
    let login = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("scope", "openid"),
    ];

    // A token issued by A verifies with B's JWKS.
    let (s, first) = token(&http, cluster.at(a), &login, client).await;
    assert_eq!(s, 200);
    let (jwks_b, _) = jwks_of(&http, cluster.at(b)).await;
    verify(
        first["access_token"].as_str().unwrap(),
        &jwks_b,
        &cluster.issuer,
    )
    .expect("A's token verifies with B's keys");

    // A refresh token issued at A rotates at B; replaying it at A is reuse.
    let r1 = first["refresh_token"].as_str().unwrap();
    let (s, second) = token(
        &http,
        cluster.at(b),
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        client,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = token(
        &http,
        cluster.at(a),
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
        client,
    )
    .await;
    assert_eq!(s, 400);
    let r2 = second["refresh_token"].as_str().unwrap();
    let (s, _) = token(
        &http,
        cluster.at(b),
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
        client,
    )
    .await;
    assert_eq!(s, 400, "reuse at A revoked the family B had rotated");

    // The concurrent-refresh race has exactly one winner across replicas.
    for round in 0..3 {
        let (_, fresh) = token(&http, cluster.at(a), &login, client).await;
        let r = fresh["refresh_token"].as_str().unwrap().to_owned();
        let attempts = (0..12).map(|i| {
            let at = cluster.at(i % 2).to_owned();
            let (http, r) = (http.clone(), r.clone());
            async move {
                token(
                    &http,
                    &at,
                    &[("grant_type", "refresh_token"), ("refresh_token", &r)],
                    client,
                )
                .await
                .0
            }
        });
        let statuses = futures::future::join_all(attempts).await;
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 400),
            "{statuses:?}"
        );
    }

    // A login session made at A is valid at B (cookies are per host, not per port).
    let browser = Browser::new();
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let authorize = |at: &str| {
        format!(
            "{at}/authorize?response_type=code&client_id=app&redirect_uri={CALLBACK}&scope=openid&code_challenge={}&code_challenge_method=S256",
            challenge.as_str()
        )
    };
    let login_url = location(&browser.get(&authorize(cluster.at(a))).await);
    let login_url = login_url.replace(&cluster.issuer, cluster.at(a));
    let html = browser.get(&login_url).await.text().await.unwrap();
    let res = browser
        .submit_login(cluster.at(a), &html, "alice", PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
    let at_b = location(
        &browser
            .get(&(authorize(cluster.at(b)) + "&prompt=none"))
            .await,
    );
    let code = query_param(&at_b, "code")
        .unwrap_or_else(|| panic!("B knows the session made at A: {at_b}"));
    let (s, _) = token(
        &http,
        cluster.at(a),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.secret()),
        ],
        client,
    )
    .await;
    assert_eq!(s, 200, "a code issued at B is redeemed at A");
}

/// Counts the keys of each algorithm in each state.
fn key_states(cluster: &Cluster) -> HashMap<(String, String), usize> {
    let list: Vec<Value> =
        serde_json::from_str(&cluster.cli(&["keys", "list", "--json"], None)).unwrap();
    let mut counts = HashMap::new();
    for key in list {
        let k = (
            key["alg"].as_str().unwrap().to_owned(),
            key["state"].as_str().unwrap().to_owned(),
        );
        *counts.entry(k).or_default() += 1;
    }
    counts
}

fn assert_consistent(cluster: &Cluster) {
    let states = key_states(cluster);
    for alg in portcullis::keys::SigningAlg::ALL.map(|a| a.as_str()) {
        let n = |state: &str| {
            states
                .get(&(alg.to_owned(), state.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(n("active"), 1, "{alg}: exactly one active key: {states:?}");
        assert!(n("next") <= 1, "{alg}: at most one next key: {states:?}");
    }
}

#[tokio::test]
async fn scheduled_rotation_never_strands_a_relying_party_that_caches_the_jwks() {
    // Rotate every 4 s; the JWKS may be cached 2 s; replicas reload every 1 s.
    let mut cluster = Cluster::new(&[
        ("PORTCULLIS_KEY_ROTATION_PERIOD", "4"),
        ("PORTCULLIS_JWKS_MAX_AGE", "2"),
    ]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    cluster.start_replica().await;
    cluster.start_replica().await;
    let http = reqwest::Client::new();
    let login = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let (_, first) = token(&http, cluster.at(0), &login, ("app", &secret)).await;
    let mut refresh = first["refresh_token"].as_str().unwrap().to_owned();

    // The relying party: fetches the JWKS, keeps it for max-age, and never
    // refetches early — not even for an unknown kid.
    let mut cache: Option<(JwkSet, Instant, u64)> = None;
    let mut kids = HashSet::new();
    let mut verified = 0;
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(14) {
        i += 1;
        let at = cluster.at(i % 2).to_owned();
        if cache
            .as_ref()
            .is_none_or(|(_, fetched, max_age)| fetched.elapsed() >= Duration::from_secs(*max_age))
        {
            let (set, max_age) = jwks_of(&http, &at).await;
            cache = Some((set, Instant::now(), max_age));
        }
        let (s, tokens) = token(
            &http,
            &at,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            ("app", &secret),
        )
        .await;
        assert_eq!(s, 200, "{tokens}");
        refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let access = tokens["access_token"].as_str().unwrap();
        kids.insert(jsonwebtoken::decode_header(access).unwrap().kid.unwrap());
        let (set, _, _) = cache.as_ref().unwrap();
        verify(access, set, &cluster.issuer)
            .unwrap_or_else(|e| panic!("after {:?}: {e}", started.elapsed()));
        verified += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        kids.len() >= 3,
        "the keys rotated at least twice in 14 s: {kids:?}"
    );
    assert!(verified > 50);
    assert_consistent(&cluster);
    let trail = cluster.cli(&["audit", "list", "--json"], None);
    assert!(trail.contains("\"actor\": \"scheduler\""));
}

#[tokio::test]
async fn a_replica_killed_during_rotations_leaves_a_consistent_key_set() {
    let mut cluster = Cluster::new(&[
        ("PORTCULLIS_KEY_ROTATION_PERIOD", "1"),
        ("PORTCULLIS_JWKS_MAX_AGE", "0"),
    ]);
    cluster.cli(&["migrate"], None);
    let secret = provision(&cluster);
    cluster.start_replica().await;
    cluster.start_replica().await;
    // Kill one replica with SIGKILL at varying moments while both rotate
    // keys every second, and start it again.
    for round in 0..6u64 {
        tokio::time::sleep(Duration::from_millis(700 + 230 * round)).await;
        let mut victim = cluster.replicas.remove(0);
        victim.child.kill().unwrap(); // SIGKILL
        victim.child.wait().unwrap();
        cluster.start_replica().await;
    }
    for replica in &mut cluster.replicas {
        replica.child.kill().unwrap();
        replica.child.wait().unwrap();
    }
    cluster.replicas.clear();
    assert_consistent(&cluster);
    // And a fresh replica serves and signs with that set.
    let at = cluster.start_replica().await;
    let http = reqwest::Client::new();
    let (s, tokens) = token(
        &http,
        cluster.at(at),
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
        ("app", &secret),
    )
    .await;
    assert_eq!(s, 200);
    let (jwks, _) = jwks_of(&http, cluster.at(at)).await;
    verify(
        tokens["access_token"].as_str().unwrap(),
        &jwks,
        &cluster.issuer,
    )
    .unwrap();
    let rotations = cluster
        .cli(&["audit", "list", "--json"], None)
        .matches("key.activated")
        .count();
    assert!(
        rotations >= 4,
        "keys kept rotating through the kills ({rotations} activations)"
    );
}

/// A rolling deploy's first day: replicas started at the same moment on a
/// new database (and a KEK file none of them has made yet) all come up,
/// because migrations run one process at a time.
#[tokio::test]
async fn replicas_started_at_once_on_a_new_database_all_come_up() {
    let cluster = Cluster::new(&[]);
    let logs: Vec<_> = (0..4)
        .map(|i| cluster.dir().join(format!("replica-{i}.log")))
        .collect();
    let mut replicas: Vec<Replica> = logs
        .iter()
        .map(|log| cluster.spawn_replica(Some(log)))
        .collect();
    for (replica, log) in replicas.iter_mut().zip(&logs) {
        if let Err(e) = replica.wait_until_serving().await {
            panic!("{e}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
    }
    // They share one key set: a token from one verifies with another's JWKS.
    let http = reqwest::Client::new();
    let kids = |set: JwkSet| {
        set.keys
            .into_iter()
            .filter_map(|k| k.common.key_id)
            .collect::<HashSet<_>>()
    };
    crate::helpers::eventually("every replica publishes the same keys", || async {
        let mut sets = Vec::new();
        for replica in &replicas {
            sets.push(kids(jwks_of(&http, &replica.address).await.0));
        }
        sets.windows(2).all(|w| w[0] == w[1])
    })
    .await;
}
