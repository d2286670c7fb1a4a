//! Numbered schema migrations, applied when the database is opened.
//!
//! Applied versions are rows of `schema_migrations` (a table rather than SQLite's
//! `PRAGMA user_version`, so a PostgreSQL backend can keep the same numbering and the same
//! bookkeeping). Each migration runs in its own `BEGIN IMMEDIATE` transaction that first
//! checks whether the version is already recorded: opening the same file from several
//! processes at once applies each migration exactly once, and a migration that fails
//! leaves nothing half-done behind. Migrations are append-only: never edit a released one,
//! add the next number.
//!
//! The SQL sticks to what SQLite and PostgreSQL share (TEXT, INTEGER, primary and foreign
//! keys, UNIQUE, CHECK); only `INTEGER PRIMARY KEY` as an auto-assigned rowid is SQLite's,
//! which a PostgreSQL migration spells `BIGINT GENERATED ALWAYS AS IDENTITY`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{Result, StoreError};
use crate::month::unix_now;

#[derive(Clone, Copy)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration this build knows, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "api keys, monthly usage, permlinks",
    sql: "
        CREATE TABLE api_keys (
            id          INTEGER PRIMARY KEY,
            name        TEXT    NOT NULL,
            prefix      TEXT    NOT NULL UNIQUE,
            secret_hash TEXT    NOT NULL UNIQUE,
            plan        TEXT    NOT NULL,
            created_at  INTEGER NOT NULL,
            revoked_at  INTEGER
        );
        CREATE TABLE monthly_usage (
            key_id INTEGER NOT NULL REFERENCES api_keys (id),
            month  TEXT    NOT NULL,
            calls  INTEGER NOT NULL CHECK (calls >= 0),
            PRIMARY KEY (key_id, month)
        );
        CREATE TABLE permlinks (
            id           TEXT    PRIMARY KEY,
            created_at   INTEGER NOT NULL,
            key_id       INTEGER REFERENCES api_keys (id),
            compiler     TEXT    NOT NULL,
            language     TEXT    NOT NULL,
            request_json TEXT    NOT NULL,
            result_json  TEXT    NOT NULL
        );
        CREATE INDEX permlinks_by_key ON permlinks (key_id);
    ",
}];

/// Brings the database up to the last of `migrations`; returns the versions it applied
/// (empty when the schema was already current).
pub(crate) fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<Vec<i64>> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        )",
    )?;
    let known = migrations.last().map_or(0, |m| m.version);
    let found: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    if found > known {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            known,
        });
    }

    let mut applied = Vec::new();
    for m in migrations {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = tx
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [m.version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if done {
            continue; // dropping `tx` ends the read-only transaction
        }
        let failed = |e: rusqlite::Error| StoreError::Migration {
            version: m.version,
            name: m.name,
            source: Box::new(e),
        };
        tx.execute_batch(m.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, unix_now()],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied_versions(conn: &Connection) -> Vec<i64> {
        let mut st = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn table_exists(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            == 1
    }

    const EXTRA: Migration = Migration {
        version: 2,
        name: "test: extra table",
        sql: "CREATE TABLE extra (x INTEGER)",
    };

    #[test]
    fn versions_are_strictly_increasing_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
    }

    #[test]
    fn applies_only_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();

        assert_eq!(migrate(&mut conn, &path, &MIGRATIONS[..1]).unwrap(), [1]);
        assert_eq!(
            migrate(&mut conn, &path, &MIGRATIONS[..1]).unwrap(),
            [0i64; 0]
        );
        let both = [MIGRATIONS[0], EXTRA];
        assert_eq!(migrate(&mut conn, &path, &both).unwrap(), [2]);
        assert_eq!(migrate(&mut conn, &path, &both).unwrap(), [0i64; 0]);
        assert_eq!(applied_versions(&conn), [1, 2]);
        assert!(table_exists(&conn, "extra"));
    }

    #[test]
    fn refuses_a_database_from_a_newer_build() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        let both = [MIGRATIONS[0], EXTRA];
        migrate(&mut conn, &path, &both).unwrap();
        let err = migrate(&mut conn, &path, &MIGRATIONS[..1]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::SchemaTooNew {
                    found: 2,
                    known: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("m.db"), "{err}");
    }

    #[test]
    fn a_failing_migration_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        let broken = [
            MIGRATIONS[0],
            Migration {
                version: 2,
                name: "test: broken",
                sql: "CREATE TABLE half (x INTEGER); THIS IS NOT SQL",
            },
        ];
        let err = migrate(&mut conn, &path, &broken).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err}"
        );
        assert_eq!(applied_versions(&conn), [1]);
        assert!(!table_exists(&conn, "half"));
        assert!(table_exists(&conn, "api_keys"));
    }
}
