use portcullis::store::{DatabaseUrl, Db};

use crate::helpers::{drop_postgres_database, fresh_database_url};

#[test]
fn migrations_apply_revert_and_apply_again() {
    let dir = tempfile::tempdir().unwrap();
    let raw = fresh_database_url(dir.path());
    let url = DatabaseUrl::parse(&raw).unwrap();
    let db = Db::connect(&url, 1).unwrap();
    assert!(db.migrate().unwrap() >= 1);
    assert_eq!(db.migrate().unwrap(), 0, "nothing left to apply");
    db.revert_all().unwrap();
    assert!(db.migrate().unwrap() >= 1);
    drop(db);
    drop_postgres_database(&raw);
}
