//! User codes (RFC 8628 §6.1): eight characters from twenty consonants —
//! no vowels, so no words, and nothing that reads as a digit — shown as
//! `XXXX-XXXX`, typed in any case, with or without the dash. 20^8 ≈ 2^34.6
//! codes; with the per-address and per-session throttle and a ten-minute
//! life that is far more than an attacker can try.

use rand_core::{OsRng, RngCore};

pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const LENGTH: usize = 8;

/// A fresh code, canonical form (upper case, no dash).
pub fn generate() -> String {
    let mut out = String::with_capacity(LENGTH);
    let mut byte = [0u8; 1];
    while out.len() < LENGTH {
        OsRng.fill_bytes(&mut byte);
        // 240 = 12 × 20: below it every letter is equally likely.
        if byte[0] < 240 {
            out.push(ALPHABET[usize::from(byte[0]) % ALPHABET.len()] as char);
        }
    }
    out
}

/// `XXXX-XXXX`, as a person reads it.
pub fn display(code: &str) -> String {
    match code.get(..LENGTH / 2).zip(code.get(LENGTH / 2..)) {
        Some((a, b)) => format!("{a}-{b}"),
        None => code.to_owned(),
    }
}

/// What a person typed, in canonical form; `None` if it cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_consonants_shown_with_a_dash() {
        for _ in 0..200 {
            let code = generate();
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
            let shown = display(&code);
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
        }
    }

    #[test]
    fn typing_is_forgiving_about_case_and_dashes_only() {
        assert_eq!(normalize("wdjb-mjht").as_deref(), Some("WDJBMJHT"));
        assert_eq!(normalize("WDJBMJHT").as_deref(), Some("WDJBMJHT"));
        assert_eq!(normalize(" wdjb mjht ").as_deref(), Some("WDJBMJHT"));
        for bad in [
            "",
            "WDJB-MJH",
            "WDJB-MJHTX",
            "WDJB-MJH1",
            "AEIO-UBCD",
            "WDJB_MJHT",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
