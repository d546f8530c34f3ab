//! Micro-benchmarks: the physical limits the server is measured against.
//! `cargo bench --bench crypto` (one core; the numbers are per core).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::accounts::{hash_password, verify_password};
use portcullis::keys::material::generate;
use portcullis::keys::{Signer, SigningAlg};
use serde_json::json;

fn claims() -> serde_json::Value {
    json!({
        "iss": "https://id.example.com", "sub": "d86dd893-2172-44df-a830-966cd2b04b8e",
        "aud": "https://api.example.com", "client_id": "webapp", "scope": "openid profile email",
        "iat": 1_795_334_923, "exp": 1_795_335_223, "jti": "cw4eqHKaLF2cubvTj3t_MA",
    })
}

fn signing(c: &mut Criterion) {
    for alg in SigningAlg::ALL {
        let key = generate(alg).expect("key");
        let signer = Signer::new(key.kid.clone(), alg, 0, &key.private_der).expect("signer");
        let claims = claims();
        c.bench_function(
            &format!("sign {alg} (cached key pair: claims -> JWT)"),
            |b| b.iter(|| signer.sign("at+jwt", black_box(&claims)).expect("sign")),
        );
        // What jsonwebtoken::encode costs: it rebuilds the signer from DER per call.
        let encoding = alg.encoding_key(&key.private_der);
        let mut header = jsonwebtoken::Header::new(alg.jwt_algorithm());
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        c.bench_function(
            &format!("jsonwebtoken::encode {alg} (key parsed per call)"),
            |b| {
                b.iter(|| {
                    jsonwebtoken::encode(&header, black_box(&claims), &encoding).expect("encode")
                })
            },
        );
    }
}

/// What a `private_key_jwt` assertion costs the server to verify, beside
/// what signing a token costs it.
fn verifying(c: &mut Criterion) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let key = generate(SigningAlg::Es256).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &key.private_der,
    )
    .expect("pair");
    let point = pair.public_key().as_ref().to_vec();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-256", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    }))
    .expect("jwk");
    let claims = json!({"iss": "svc", "sub": "svc", "aud": "https://id.example.com",
                        "exp": 1_795_335_223, "jti": "cw4eqHKaLF2cubvTj3t_MA"});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &SigningAlg::Es256.encoding_key(&key.private_der),
    )
    .expect("encode");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    c.bench_function(
        "verify ES256 assertion (jsonwebtoken::decode, key from its JWK per call)",
        |b| {
            b.iter(|| {
                let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("key");
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &decoding, &validation)
                    .expect("verifies")
            })
        },
    );
    let (input, signature) = token.rsplit_once('.').expect("a JWS");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    c.bench_function("verify ECDSA P-256 (aws-lc-rs, the signature alone)", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .verify(black_box(input.as_bytes()), &signature)
                .expect("verifies")
        })
    });
}

fn passwords(c: &mut Criterion) {
    let hash = hash_password("correct horse battery staple").expect("hash");
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("verify (m=19 MiB, t=2, p=1)", |b| {
        b.iter(|| verify_password(Some(black_box(&hash)), "correct horse battery staple"))
    });
    // The server hashes on every core at once; memory bandwidth is shared,
    // so this, not the single-core figure, is its limit. One thread per core
    // verifies the whole batch, as the server's hashing threads do (each
    // keeps its Argon2 memory); the time is per round of `cores` hashes.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    group.bench_function(format!("verify, {cores} at once (one per core)"), |b| {
        b.iter_custom(|rounds| {
            let started = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..cores {
                    s.spawn(|| {
                        for _ in 0..rounds {
                            verify_password(Some(black_box(&hash)), "correct horse battery staple");
                        }
                    });
                }
            });
            started.elapsed()
        })
    });
    group.finish();
}

fn hashing(c: &mut Criterion) {
    let token = portcullis::secrets::random_token(32);
    c.bench_function("refresh token SHA-256", |b| {
        b.iter(|| portcullis::secrets::sha256_hex(black_box(&token)))
    });
}

/// The RSA-2048 PKCS#1 v1.5 signers usable for RS256, on the same key and
/// the same signing input: aws-lc-rs (jsonwebtoken's backend) and, with
/// `--features compare-openssl` (needs libssl-dev), the system OpenSSL. Both
/// blind the private-key operation and use constant-time modular
/// exponentiation (the `rsa` crate does not: see RUSTSEC-2023-0071).
fn rsa_signers(c: &mut Criterion) {
    let key = generate(SigningAlg::Rs256).expect("key");
    let input =
        b"eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkLmV4YW1wbGUuY29tIn0";
    let aws = aws_lc_rs::signature::RsaKeyPair::from_der(&key.private_der).expect("aws-lc key");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut group = c.benchmark_group("RSA-2048 sign");
    group.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            let mut sig = vec![0u8; aws.public_modulus_len()];
            aws.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                black_box(input),
                &mut sig,
            )
            .expect("sign");
            sig
        })
    });
    #[cfg(feature = "compare-openssl")]
    {
        let pkey = openssl::pkey::PKey::from_rsa(
            openssl::rsa::Rsa::private_key_from_der(&key.private_der).expect("openssl key"),
        )
        .expect("pkey");
        group.bench_function("OpenSSL", |b| {
            b.iter(|| {
                let mut signer =
                    openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
                        .expect("signer");
                signer.sign_oneshot_to_vec(black_box(input)).expect("sign")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, signing, verifying, rsa_signers, passwords, hashing);
criterion_main!(benches);
