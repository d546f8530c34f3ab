//! `client_secret_basic` and `client_secret_post`: the shared secret,
//! stored only as its SHA-256 and compared in constant time.

use crate::oauth::clients::Client;
use crate::secrets;

/// Whether `given` is the client's secret. A public client has none, so
/// any secret it sends is wrong.
pub fn matches(client: &Client, given: &str) -> bool {
    client
        .secret_hash()
        .is_some_and(|stored| secrets::constant_time_eq(stored, &secrets::sha256_hex(given)))
}
