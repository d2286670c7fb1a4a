//! Helpers shared by the integration tests: real SQLite files in temporary directories.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use codeexec_store::SqliteStore;

pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
}

impl TempStore {
    pub fn new() -> TempStore {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_dir(dir.path()).unwrap();
        TempStore { dir, store }
    }

    pub fn path(&self) -> PathBuf {
        self.store.path().to_owned()
    }

    /// Closes the store and opens the same file again, as a restarted server would.
    pub fn reopen(self) -> TempStore {
        let TempStore { dir, store } = self;
        drop(store);
        let store = SqliteStore::open_in_dir(dir.path()).unwrap();
        TempStore { dir, store }
    }
}

/// The bytes of the database and of its WAL and shared-memory files, whichever exist:
/// everything SQLite has written.
pub fn all_database_bytes(db: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// 2026-11-30T23:59:59Z and the second after it.
pub const LAST_SECOND_OF_NOV_2026: i64 = 1_796_083_199;
pub const FIRST_SECOND_OF_DEC_2026: i64 = 1_796_083_200;
