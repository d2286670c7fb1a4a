//! The embedded SQLite backend: one file in the service's data directory.
//!
//! ## Durability: WAL with `synchronous = FULL`
//! Usage counts and permlinks are written before the HTTP response is sent, and the
//! promise is that nothing acknowledged is lost, on a process crash *or* a power cut or
//! kernel crash. In WAL mode `synchronous = NORMAL` survives a process crash but may lose
//! the last commits on a power cut (the WAL is fsynced only at checkpoints); `FULL` fsyncs
//! the WAL at every commit, which costs one fsync per call — well within budget at the
//! plans' rates (at most 50 requests per second per key), and the price of "a restart
//! loses no counts" meaning what it says.
//!
//! ## Concurrency: one connection behind a mutex
//! SQLite lets one writer in at a time, and nearly every request writes (its usage
//! count), so a pool of connections would only queue on SQLite's lock instead of on ours,
//! and turn lock waits into `SQLITE_BUSY` retries. One connection behind a
//! [`std::sync::Mutex`] serialises this process's calls cheaply; each call holds it for
//! well under a millisecond plus the commit's fsync. Other processes (the `codeexec keys`
//! command while the server runs) are handled by SQLite's own locking: writes take the
//! lock up front (`BEGIN IMMEDIATE`), and a `busy_timeout` makes them wait for it rather
//! than fail. WAL lets readers in other processes proceed while we write.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};

use crate::error::{QuotaExceeded, Result, StoreError};
use crate::migrations::{migrate, MIGRATIONS};
use crate::model::{KeyRecord, Permlink};
use crate::month::{unix_now, Month};
use crate::secret::{hash_secret, is_valid_permlink_id, new_secret, SECRET_PREFIX};
use crate::store::Store;

/// How long a write waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts at a key whose 8-character prefix is not taken yet (a clash is a 1 in 2^32
/// event per existing key; more than one in a row means something else is wrong).
const PREFIX_ATTEMPTS: usize = 5;
/// Longest key name accepted.
const MAX_KEY_NAME_BYTES: usize = 200;

const KEY_COLUMNS: &str = "id, name, prefix, plan, created_at, revoked_at";
const PERMLINK_COLUMNS: &str =
    "id, created_at, key_id, compiler, language, request_json, result_json";

/// The SQLite store. See the module documentation for its durability and locking.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The database's file name inside the data directory.
    pub const DEFAULT_FILE_NAME: &'static str = "codeexec.db";

    /// Opens (creating if needed) `<data_dir>/codeexec.db`.
    pub fn open_in_dir(data_dir: impl AsRef<Path>) -> Result<SqliteStore> {
        SqliteStore::open(data_dir.as_ref().join(Self::DEFAULT_FILE_NAME))
    }

    /// Opens the database file at `path`, creating it and its directory if needed, and
    /// brings its schema up to date. Errors name the path.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = Connection::open(&path).map_err(|e| open_error(&path, e))?;
        configure(&conn, &path).map_err(|e| open_error(&path, e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| open_error(&path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NoWal { path, mode });
        }
        migrate(&mut conn, &path, MIGRATIONS).map_err(|e| match e {
            StoreError::Database(source) => match source.downcast::<rusqlite::Error>() {
                Ok(e) => open_error(&path, *e),
                Err(source) => StoreError::Open {
                    path: path.clone(),
                    source,
                },
            },
            other => other,
        })?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The highest migration applied to this database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?)
    }

    /// The connection. A panic while it was held cannot have left a transaction open
    /// (rusqlite rolls back a dropped transaction), so a poisoned lock is still usable.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Connection settings, applied before anything touches the schema.
fn configure(conn: &Connection, path: &Path) -> rusqlite::Result<()> {
    // First, so that everything after it waits for other processes' locks.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some(format!("{} opened read-only", path.display())),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => StoreError::NotWritable {
            path: path.to_owned(),
        },
        _ => StoreError::Open {
            path: path.to_owned(),
            source: Box::new(e),
        },
    }
}

fn is_constraint(e: &rusqlite::Error, extended: std::ffi::c_int) -> bool {
    e.sqlite_extended_error_code() == Some(extended)
}

fn foreign_key_violation(e: &rusqlite::Error) -> bool {
    is_constraint(e, rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        prefix: r.get(2)?,
        plan: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

fn permlink_from_row(r: &Row<'_>) -> rusqlite::Result<Permlink> {
    Ok(Permlink {
        id: r.get(0)?,
        created_at: r.get(1)?,
        key_id: r.get(2)?,
        compiler: r.get(3)?,
        language: r.get(4)?,
        request_json: r.get(5)?,
        result_json: r.get(6)?,
    })
}

/// Counts are never negative (a CHECK constraint says so).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn check_plan(plan: &str) -> Result<()> {
    if plan.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "plan",
            reason: "a plan name is required".into(),
        });
    }
    Ok(())
}

/// The one key `given` names: an id, or a prefix (with or without `cx_live_`).
fn resolve_key(conn: &Connection, given: &str) -> Result<KeyRecord> {
    let trimmed = given.trim();
    let id: Option<i64> = trimmed.parse().ok();
    let prefix = trimmed.strip_prefix(SECRET_PREFIX).unwrap_or(trimmed);
    let mut st = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1 OR prefix = ?2 ORDER BY id"
    ))?;
    let mut found: Vec<KeyRecord> = st
        .query_map(params![id, prefix], key_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    match found.len() {
        0 => Err(StoreError::UnknownKey(given.to_owned())),
        1 => Ok(found.remove(0)),
        _ => Err(StoreError::AmbiguousKey {
            given: given.to_owned(),
            ids: found.iter().map(|k| k.id).collect(),
        }),
    }
}

fn key_by_id(conn: &Connection, id: i64) -> Result<KeyRecord> {
    let mut st =
        conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"))?;
    st.query_row([id], key_from_row)
        .optional()?
        .ok_or_else(|| StoreError::UnknownKey(id.to_string()))
}

fn calls_in(conn: &Connection, key_id: i64, month: Month) -> Result<u64> {
    let mut st =
        conn.prepare_cached("SELECT calls FROM monthly_usage WHERE key_id = ?1 AND month = ?2")?;
    let n: Option<i64> = st
        .query_row(params![key_id, month.to_string()], |r| r.get(0))
        .optional()?;
    Ok(n.map_or(0, count))
}

impl Store for SqliteStore {
    fn create_key(&self, name: &str, plan: &str) -> Result<(KeyRecord, String)> {
        check_plan(plan)?;
        if name.len() > MAX_KEY_NAME_BYTES {
            return Err(StoreError::Invalid {
                field: "key name",
                reason: format!("longer than {MAX_KEY_NAME_BYTES} bytes"),
            });
        }
        let conn = self.conn();
        let now = unix_now();
        for _ in 0..PREFIX_ATTEMPTS {
            let fresh = new_secret()?;
            let mut st = conn.prepare_cached(&format!(
                "INSERT INTO api_keys (name, prefix, secret_hash, plan, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {KEY_COLUMNS}"
            ))?;
            match st.query_row(
                params![name, fresh.prefix, fresh.hash, plan, now],
                key_from_row,
            ) {
                Ok(key) => return Ok((key, fresh.secret)),
                Err(e) if is_constraint(&e, rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Database(
            format!("no free key prefix after {PREFIX_ATTEMPTS} attempts").into(),
        ))
    }

    fn find_key(&self, secret: &str) -> Result<Option<KeyRecord>> {
        let hash = hash_secret(secret);
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?1"
        ))?;
        Ok(st.query_row([hash], key_from_row).optional()?)
    }

    fn get_key(&self, id_or_prefix: &str) -> Result<KeyRecord> {
        resolve_key(&self.conn(), id_or_prefix)
    }

    fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"))?;
        let keys = st
            .query_map([], key_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    fn revoke_key(&self, id_or_prefix: &str) -> Result<KeyRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = resolve_key(&tx, id_or_prefix)?;
        tx.execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
            params![key.id, unix_now()],
        )?;
        let key = key_by_id(&tx, key.id)?;
        tx.commit()?;
        Ok(key)
    }

    fn set_plan(&self, id_or_prefix: &str, plan: &str) -> Result<KeyRecord> {
        check_plan(plan)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = resolve_key(&tx, id_or_prefix)?;
        tx.execute(
            "UPDATE api_keys SET plan = ?2 WHERE id = ?1",
            params![key.id, plan],
        )?;
        let key = key_by_id(&tx, key.id)?;
        tx.commit()?;
        Ok(key)
    }

    fn key_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?;
        Ok(count(n))
    }

    fn record_call(&self, key_id: i64, at_unix: i64) -> Result<u64> {
        let month = Month::from_unix(at_unix);
        let conn = self.conn();
        // One statement, so atomic on its own (autocommit).
        let mut st = conn.prepare_cached(
            "INSERT INTO monthly_usage (key_id, month, calls) VALUES (?1, ?2, 1)
             ON CONFLICT (key_id, month) DO UPDATE SET calls = monthly_usage.calls + 1
             RETURNING calls",
        )?;
        match st.query_row(params![key_id, month.to_string()], |r| r.get::<_, i64>(0)) {
            Ok(n) => Ok(count(n)),
            Err(e) if foreign_key_violation(&e) => Err(StoreError::UnknownKey(key_id.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    fn try_record_call(&self, key_id: i64, now_unix: i64, quota: u64) -> Result<u64> {
        let month = Month::from_unix(now_unix);
        let month_text = month.to_string();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The quota test is inside the UPSERT itself (`WHERE calls < quota`): a row that is
        // already at the quota is left alone and nothing is returned. The statement is
        // atomic in any SQL database that has UPSERT, and the surrounding transaction
        // makes the read of the refused count below consistent with it.
        let counted: Option<i64> = if quota == 0 {
            key_by_id(&tx, key_id)?; // nothing can be counted, but an unknown key is still an error
            None
        } else {
            let mut st = tx.prepare_cached(
                "INSERT INTO monthly_usage (key_id, month, calls) VALUES (?1, ?2, 1)
                 ON CONFLICT (key_id, month) DO UPDATE SET calls = monthly_usage.calls + 1
                 WHERE monthly_usage.calls < ?3
                 RETURNING calls",
            )?;
            let quota = i64::try_from(quota).unwrap_or(i64::MAX);
            match st
                .query_row(params![key_id, month_text, quota], |r| r.get(0))
                .optional()
            {
                Ok(n) => n,
                Err(e) if foreign_key_violation(&e) => {
                    return Err(StoreError::UnknownKey(key_id.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
        };
        match counted {
            Some(n) => {
                tx.commit()?;
                Ok(count(n))
            }
            None => {
                let used = calls_in(&tx, key_id, month)?;
                Err(StoreError::QuotaExceeded(QuotaExceeded {
                    used,
                    quota,
                    month,
                    resets_at_unix: month.next_start_unix(),
                }))
            }
        }
    }

    fn usage(&self, key_id: i64, month: Month) -> Result<u64> {
        calls_in(&self.conn(), key_id, month)
    }

    fn save_permlink(&self, p: &Permlink) -> Result<()> {
        if !is_valid_permlink_id(&p.id) {
            return Err(StoreError::Invalid {
                field: "permlink id",
                reason: format!("{:?} is not 16 or more characters of A-Z, a-z, 0-9", p.id),
            });
        }
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "INSERT INTO permlinks ({PERMLINK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ))?;
        let inserted = st.execute(params![
            p.id,
            p.created_at,
            p.key_id,
            p.compiler,
            p.language,
            p.request_json,
            p.result_json
        ]);
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if is_constraint(&e, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
                Err(StoreError::PermlinkExists(p.id.clone()))
            }
            Err(e) if foreign_key_violation(&e) => Err(StoreError::UnknownKey(
                p.key_id.map_or_else(String::new, |k| k.to_string()),
            )),
            Err(e) => Err(e.into()),
        }
    }

    fn get_permlink(&self, id: &str) -> Result<Option<Permlink>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {PERMLINK_COLUMNS} FROM permlinks WHERE id = ?1"
        ))?;
        Ok(st.query_row([id], permlink_from_row).optional()?)
    }

    fn delete_permlink(&self, id: &str, key_id: Option<i64>) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let owner: Option<Option<i64>> = tx
            .query_row("SELECT key_id FROM permlinks WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match owner {
            None => Ok(false),
            Some(owner) if owner != key_id => Err(StoreError::NotPermlinkOwner(id.to_owned())),
            Some(_) => {
                tx.execute("DELETE FROM permlinks WHERE id = ?1", [id])?;
                tx.commit()?;
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_settings_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_dir(dir.path()).unwrap();
        let conn = store.conn();
        let text = |pragma: &str| -> String {
            conn.query_row(&format!("PRAGMA {pragma}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(text("journal_mode"), "wal");
        assert_eq!(text("synchronous"), "2", "FULL");
        assert_eq!(text("foreign_keys"), "1");
        assert_eq!(text("busy_timeout"), "5000");
    }
}
