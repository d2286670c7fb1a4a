//! Opening a database: migrations from an empty file, re-opening, bad paths.

mod common;

use std::sync::{Arc, Barrier};

use codeexec_store::{unix_now, Month, Plan, SqliteStore, Store, StoreError};
use common::TempStore;

fn table_names(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migrates_an_empty_file_and_reopens_without_reapplying() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codeexec.db");
    std::fs::write(&path, b"").unwrap(); // an empty file is a valid, empty database

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 1);
    assert_eq!(store.key_count().unwrap(), 0);
    drop(store);
    assert_eq!(
        table_names(&path),
        [
            "api_keys",
            "monthly_usage",
            "permlinks",
            "schema_migrations"
        ]
    );

    for _ in 0..3 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "each migration recorded once");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "wal",
        "WAL is a property of the file, kept across opens"
    );
}

#[test]
fn creates_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a/b/data");
    let store = SqliteStore::open_in_dir(&data).unwrap();
    assert_eq!(store.path(), data.join(SqliteStore::DEFAULT_FILE_NAME));
    assert!(store.path().is_file());
}

#[test]
fn everything_survives_close_and_reopen() {
    let t = TempStore::new();
    let (key, secret) = t.store.create_key("ci", "pro").unwrap();
    let (other, _) = t.store.create_key("old", "free").unwrap();
    t.store.revoke_key(&other.prefix).unwrap();
    let now = unix_now();
    for _ in 0..7 {
        t.store.record_call(key.id, now).unwrap();
    }
    let id = codeexec_store::new_permlink_id().unwrap();
    let permlink = codeexec_store::Permlink {
        id: id.clone(),
        created_at: now,
        key_id: Some(key.id),
        compiler: "gcc-13.2.0-c".into(),
        language: "C".into(),
        request_json: r#"{"code":"int main(){}"}"#.into(),
        result_json: r#"{"exit_code":0}"#.into(),
    };
    t.store.save_permlink(&permlink).unwrap();

    let t = t.reopen();
    assert_eq!(t.store.find_key(&secret).unwrap(), Some(key.clone()));
    assert!(t.store.get_key(&other.prefix).unwrap().is_revoked());
    assert_eq!(t.store.usage(key.id, Month::from_unix(now)).unwrap(), 7);
    assert_eq!(t.store.try_record_call(key.id, now, 1_000).unwrap(), 8);
    assert_eq!(t.store.get_permlink(&id).unwrap(), Some(permlink));
    assert_eq!(t.store.key_count().unwrap(), 2);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("codeexec.db");
    std::fs::write(&path, vec![0x5a; 4096]).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn an_unusable_data_directory_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let err = SqliteStore::open_in_dir(not_a_dir.join("data")).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&not_a_dir.display().to_string()),
        "{err}"
    );

    // A path that is a directory cannot be the database file.
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let t = TempStore::new();
    let path = t.path();
    drop(t.store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew {
                found: 99,
                known: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn many_connections_opening_a_new_file_at_once_migrate_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("codeexec.db"));
    let start = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (path, start) = (Arc::clone(&path), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let store = SqliteStore::open(&*path).unwrap();
                store.schema_version().unwrap()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 1);
    }
    let conn = rusqlite::Connection::open(&*path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn the_trait_is_object_safe_and_shareable() {
    let t = TempStore::new();
    let shared: Arc<dyn Store> = Arc::new(t.store);
    let worker = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || shared.create_key("from a thread", Plan::DEFAULT_NAME))
    };
    let (key, _) = worker.join().unwrap().unwrap();
    assert_eq!(shared.list_keys().unwrap(), [key]);
}
