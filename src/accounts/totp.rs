//! TOTP (RFC 6238) as authenticator apps take it: a 160-bit secret,
//! HMAC-SHA-1, 6 digits, 30-second steps. A code is accepted one step
//! early or late (clock skew) and never twice: the last step accepted is
//! kept, and no step at or before it is accepted again.

use aws_lc_rs::hmac;
use qrcode::render::svg;
use qrcode::QrCode;
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::secrets;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
pub const SECRET_BYTES: usize = 20;
/// Steps accepted either side of the current one.
const SKEW_STEPS: i64 = 1;

/// The hash of the HMAC; authenticator apps expect SHA-1 (RFC 6238's
/// default, and what Google Authenticator assumes when none is named).
#[derive(Debug, Clone, Copy)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    fn algorithm(self) -> hmac::Algorithm {
        match self {
            // SHA-1's collision weakness does not touch HMAC; RFC 6238 and
            // every authenticator app use it.
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// A new random secret.
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; SECRET_BYTES]);
    OsRng.fill_bytes(&mut secret);
    secret
}

/// The time step `now` falls in.
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECONDS)
}

/// RFC 4226 §5.3's dynamic truncation of HMAC(secret, step), `digits` long.
pub fn code(secret: &[u8], step: i64, digits: u32, hash: Hash) -> String {
    let key = hmac::Key::new(hash.algorithm(), secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    let value = binary % 10u32.pow(digits);
    format!("{value:0width$}", width = digits as usize)
}

/// The step a `given` code belongs to, if it is right for a step within the
/// skew around `now` that is later than `last_step` (the last one accepted).
pub fn verify(secret: &[u8], given: &str, now: i64, last_step: i64) -> Option<i64> {
    let given: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    // Every candidate is computed, so the time taken says nothing of which matched.
    let mut found = None;
    for step in current - SKEW_STEPS..=current + SKEW_STEPS {
        let right = secrets::constant_time_eq(&code(secret, step, DIGITS, Hash::Sha1), &given);
        if right && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The Key URI an authenticator app scans (the de-facto `otpauth` format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    // The label's `:` separates issuer and account; spaces as %20, not `+`.
    let label = format!("{}:{}", enc(issuer), enc(account)).replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(secret),
        enc(issuer).replace('+', "%20"),
    )
}

/// The URI as a QR code, an inline SVG element (no external service, no
/// script): `None` if the URI is too long for a QR code.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The renderer writes a standalone document; a page wants the element.
    let start = image.find("<svg")?;
    Some(image[start..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the secrets are ASCII "1234567890" repeated to
    /// the hash's length; the codes are 8 digits.
    const VECTORS: &[(i64, &str, &str, &str)] = &[
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];

    fn rfc_secret(len: usize) -> Vec<u8> {
        b"1234567890".iter().copied().cycle().take(len).collect()
    }

    #[test]
    fn rfc_6238_appendix_b_vectors() {
        for &(time, sha1, sha256, sha512) in VECTORS {
            let step = step_at(time);
            assert_eq!(code(&rfc_secret(20), step, 8, Hash::Sha1), sha1, "{time}");
            assert_eq!(
                code(&rfc_secret(32), step, 8, Hash::Sha256),
                sha256,
                "{time}"
            );
            assert_eq!(
                code(&rfc_secret(64), step, 8, Hash::Sha512),
                sha512,
                "{time}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = rfc_secret(20);
        let now = 1_700_000_015;
        let at = |t: i64| code(&secret, step_at(t), DIGITS, Hash::Sha1);
        assert_eq!(verify(&secret, &at(now), now, 0), Some(step_at(now)));
        assert!(verify(&secret, &at(now - 30), now, 0).is_some());
        assert!(verify(&secret, &at(now + 30), now, 0).is_some());
        assert_eq!(verify(&secret, &at(now - 60), now, 0), None);
        assert_eq!(verify(&secret, &at(now + 60), now, 0), None);
    }

    #[test]
    fn a_used_step_or_an_earlier_one_is_refused() {
        let secret = rfc_secret(20);
        let now = 1_700_000_015;
        let code_now = code(&secret, step_at(now), DIGITS, Hash::Sha1);
        let used = verify(&secret, &code_now, now, 0).unwrap_or(0);
        assert_eq!(verify(&secret, &code_now, now, used), None);
        let earlier = code(&secret, step_at(now) - 1, DIGITS, Hash::Sha1);
        assert_eq!(verify(&secret, &earlier, now, used), None);
        let later = code(&secret, step_at(now) + 1, DIGITS, Hash::Sha1);
        assert!(verify(&secret, &later, now + 30, used).is_some());
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret(20);
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(verify(&secret, bad, 1_700_000_000, 0), None, "{bad}");
        }
        let now = 1_700_000_015;
        let spaced = code(&secret, step_at(now), DIGITS, Hash::Sha1);
        let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
        assert!(verify(&secret, &spaced, now, 0).is_some());
    }

    #[test]
    fn base32_and_the_key_uri() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(&rfc_secret(20)), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let uri = otpauth_uri("Acme SSO", "alice@example.com", &rfc_secret(20));
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20SSO:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20SSO&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri).unwrap_or_default();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}
