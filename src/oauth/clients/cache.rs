//! Registered clients, kept in memory for a few seconds: every token request
//! authenticates its client, and clients change rarely. A removed client, or
//! a changed one, takes effect within `CLIENT_CACHE_TTL` on every replica.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::{find, Client};
use crate::store::{Db, StoreError};

pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

pub struct ClientCache {
    entries: RwLock<HashMap<String, (Instant, Client)>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        ClientCache {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl ClientCache {
    /// The client, from memory when it was read in the last
    /// `CLIENT_CACHE_TTL`, else from the database.
    pub async fn get_or_load(
        &self,
        db: &Db,
        client_id: &str,
    ) -> Result<Option<Client>, StoreError> {
        if let Some(client) = self.get(client_id) {
            return Ok(Some(client));
        }
        let lookup_id = client_id.to_owned();
        let found = db.run(move |conn| find(conn, &lookup_id)).await?;
        if let Some(client) = &found {
            self.put(client.clone());
        }
        Ok(found)
    }

    fn get(&self, client_id: &str) -> Option<Client> {
        let entries = self.entries.read().ok()?;
        entries
            .get(client_id)
            .filter(|(at, _)| at.elapsed() < CLIENT_CACHE_TTL)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, client: Client) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() > 10_000 {
                entries.retain(|_, (at, _)| at.elapsed() < CLIENT_CACHE_TTL);
            }
            entries.insert(client.client_id.clone(), (Instant::now(), client));
        }
    }

    /// Forgets a client at once (this replica), after a change made here.
    pub fn forget(&self, client_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(client_id);
        }
    }
}
