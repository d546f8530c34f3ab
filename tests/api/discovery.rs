use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn discovery_documents_describe_what_is_implemented() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["issuer"], app.address.as_str());
        assert_eq!(doc["token_endpoint"], format!("{}/token", app.address));
        assert_eq!(
            doc["jwks_uri"],
            format!("{}/.well-known/jwks.json", app.address)
        );
        let grants: Vec<&str> = doc["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            grants,
            [
                "authorization_code",
                "password",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ]
        );
        assert_eq!(
            doc["device_authorization_endpoint"],
            format!("{}/device_authorization", app.address)
        );
        for field in [
            "id_token_signing_alg_values_supported",
            "access_token_signing_alg_values_supported",
        ] {
            assert_eq!(
                doc[field],
                serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"]),
                "{field}"
            );
        }
        let auth = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert_eq!(auth.len(), 4);
        assert!(auth.contains(&Value::from("private_key_jwt")));
        for endpoint in ["token", "introspection", "revocation"] {
            assert_eq!(
                doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
                serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"]),
                "{endpoint}"
            );
        }
        assert!(doc["introspection_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("private_key_jwt")));

        // Every endpoint the document names answers.
        let jwks = app
            .http
            .get(doc["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(jwks.status(), 200);
        let token = app
            .http
            .post(doc["token_endpoint"].as_str().unwrap())
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap();
        assert_ne!(token.status(), 404);
    }
}

#[tokio::test]
async fn jwks_publishes_public_keys_only_with_caching_headers() {
    let app = spawn_app().await;
    let url = format!("{}/.well-known/jwks.json", app.address);
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.starts_with("public, max-age="), "{cache}");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let doc: Value = res.json().await.unwrap();
    let keys = doc["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 4, "one active key per algorithm");
    let mut algs = std::collections::BTreeSet::new();
    let mut kids = std::collections::HashSet::new();
    for key in keys {
        assert!(
            kids.insert(key["kid"].as_str().unwrap().to_owned()),
            "kids are unique"
        );
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
        let alg = key["alg"].as_str().unwrap();
        algs.insert(alg.to_owned());
        match key["kty"].as_str().unwrap() {
            "RSA" => {
                assert!(alg == "RS256" || alg == "PS256", "{alg}");
                assert!(key["n"].is_string() && key["e"].is_string());
            }
            "EC" => {
                assert_eq!(alg, "ES256");
                assert_eq!(key["crv"], "P-256");
                assert!(key["x"].is_string() && key["y"].is_string());
            }
            // RFC 8037 §2: an Ed25519 public key is `x` alone.
            "OKP" => {
                assert_eq!(alg, "EdDSA");
                assert_eq!(key["crv"], "Ed25519");
                assert!(key["x"].is_string() && key.get("y").is_none());
            }
            other => panic!("unexpected kty {other}"),
        }
    }
    assert_eq!(algs.len(), 4, "{algs:?}");
    // The set parses as a jsonwebtoken JwkSet, and each key as a DecodingKey.
    let set = app.jwks().await;
    for jwk in &set.keys {
        jsonwebtoken::DecodingKey::from_jwk(jwk).expect("usable public key");
    }

    let res = app
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    let res = app
        .http
        .get(&url)
        .header("if-none-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn unknown_paths_get_a_readable_404_page() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/nope", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("Not found"));
    let res = app
        .http
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
