//! RFC 6238 codes computed apart from the server (RustCrypto's HMAC-SHA-1,
//! not the server's aws-lc), and seeding a person's authenticator app.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::TestApp;

/// RFC 4648 base32 (no padding), as the enrolment page shows the secret.
pub fn base32_decode(text: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The 6-digit code of `secret` (base32) at Unix time `at`.
pub fn code(secret: &str, at: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&((at / 30) as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0xf) as usize;
    let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{n:06}")
}

/// The text of `<code id="totp-secret">…</code>` on an enrolment page.
pub fn secret_on_page(html: &str) -> String {
    let marker = "<code id=\"totp-secret\">";
    let start = html.find(marker).expect("a TOTP secret on the page") + marker.len();
    html[start..].split('<').next().unwrap().to_owned()
}

impl TestApp {
    /// Sets up an authenticator app for `user_id` as the account page
    /// would; returns its secret (base32) and the recovery codes.
    pub async fn enrol_totp(&self, user_id: &str) -> (String, Vec<String>) {
        use portcullis::accounts::factors;
        let ctx = &self.ctx;
        let setup = factors::begin_totp(&ctx.db, &ctx.keys, user_id, "alice", "test", self.now())
            .await
            .unwrap();
        // A step before now, so the code a test computes for now is fresh.
        let at = self.now() - 30;
        let codes = factors::confirm_totp(
            &ctx.db,
            &ctx.keys,
            user_id,
            &code(&setup.secret, at),
            self.now(),
        )
        .await
        .unwrap()
        .expect("the first factor comes with recovery codes");
        (setup.secret, codes)
    }
}
