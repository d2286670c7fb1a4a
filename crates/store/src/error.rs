//! The one error type of the store, whatever the backend.
//!
//! Variants are chosen so the HTTP layer can map them without looking inside:
//! [`StoreError::QuotaExceeded`] is a 429, [`StoreError::UnknownKey`] and
//! [`StoreError::AmbiguousKey`] are a caller's mistake, [`StoreError::NotPermlinkOwner`]
//! is a 403, and everything else is the service's own failure (5xx, or a start-up error).

use std::path::PathBuf;

use crate::month::Month;

/// What a backend error is carried as, so the trait does not name `rusqlite` (or, later,
/// a PostgreSQL client) in its signature.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A call refused because the key has used its whole monthly quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// Calls counted this month (never more than `quota`, unless the quota was lowered).
    pub used: u64,
    /// The quota the call was checked against.
    pub quota: u64,
    /// The month the call fell in.
    pub month: Month,
    /// When the count starts again from zero: the first second of the next month, UTC.
    pub resets_at_unix: i64,
}

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: BackendError,
    },

    #[error("the database {path} is not writable (check the file's and its directory's permissions, and that the disk is not full or read-only)")]
    NotWritable { path: PathBuf },

    #[error("the database {path} could not be switched to WAL mode (journal mode stayed {mode:?}); keep the data directory on a local file system")]
    NoWal { path: PathBuf, mode: String },

    #[error("the database {path} has schema version {found}, newer than this build knows ({known}); run a newer codeexec")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error("database migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: BackendError,
    },

    #[error("no API key matches {0:?}")]
    UnknownKey(String),

    #[error("{given:?} matches more than one API key (ids {ids:?}); give the numeric id")]
    AmbiguousKey { given: String, ids: Vec<i64> },

    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    #[error("a permlink with id {0:?} already exists")]
    PermlinkExists(String),

    #[error("permlink {0:?} was made by another key; only the key that made it may delete it")]
    NotPermlinkOwner(String),

    #[error("monthly quota of {} calls used up for {}; it resets at unix time {}", .0.quota, .0.month, .0.resets_at_unix)]
    QuotaExceeded(QuotaExceeded),

    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),

    #[error("database error: {0}")]
    Database(#[source] BackendError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(Box::new(e))
    }
}

impl From<getrandom::Error> for StoreError {
    fn from(e: getrandom::Error) -> Self {
        StoreError::Random(e)
    }
}

/// The result type of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
