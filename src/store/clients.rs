//! `clients` rows and their queries. List-valued columns hold
//! space-separated values (grant types, redirect URIs, scopes), which keeps
//! the schema identical on both backends.

use diesel::prelude::*;

use super::schema::clients;
use super::{DbConnection, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub grant_types: String,
    pub redirect_uris: String,
    pub scope: String,
    pub audience: Option<String>,
    pub signing_alg: String,
    pub created_at: i64,
    pub consent: bool,
    pub post_logout_redirect_uris: String,
}

pub fn insert(conn: &mut DbConnection, row: &ClientRow) -> Result<(), StoreError> {
    diesel::insert_into(clients::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| StoreError::conflict_on_unique(e, "client"))
}

pub fn find(conn: &mut DbConnection, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
    Ok(clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ClientRow>, StoreError> {
    Ok(clients::table
        .order(clients::client_id.asc())
        .select(ClientRow::as_select())
        .load(conn)?)
}

/// Returns whether the client existed. Its refresh tokens go with it (FK cascade).
pub fn delete(conn: &mut DbConnection, client_id: &str) -> Result<bool, StoreError> {
    let n = diesel::delete(clients::table.find(client_id)).execute(conn)?;
    Ok(n == 1)
}
