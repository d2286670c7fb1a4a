//! Storage for the codeexec HTTP gateway: API keys (stored hashed), the plan name of each
//! key, monthly usage counts and saved runs (permlinks).
//!
//! [`Store`] is the interface; [`SqliteStore`] is the embedded default, a single file in
//! the service's data directory. A PostgreSQL backend for several hosts will implement the
//! same trait. Plans themselves live in configuration ([`Plan::defaults`] are the spec's);
//! the store keeps only the plan's name per key.
//!
//! All operations are synchronous and may block on disk: call them from async code through
//! `spawn_blocking`.
//!
//! ```no_run
//! use codeexec_store::{unix_now, Plan, SqliteStore, Store, StoreError};
//!
//! let store = SqliteStore::open_in_dir("/var/lib/codeexec")?;
//! let (key, secret) = store.create_key("ci", "pro")?;
//! println!("your key (shown once): {secret}");
//! let plans = Plan::defaults();
//! let plan = Plan::find(&plans, &key.plan).expect("configured plan");
//! match store.try_record_call(key.id, unix_now(), plan.monthly_quota) {
//!     Ok(used) => println!("call {used} of {} this month", plan.monthly_quota),
//!     Err(StoreError::QuotaExceeded(q)) => println!("429 until {}", q.resets_at_unix),
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), StoreError>(())
//! ```

#![forbid(unsafe_code)]

mod error;
mod migrations;
mod model;
mod month;
mod secret;
mod sqlite;
mod store;

pub use error::{BackendError, QuotaExceeded, Result, StoreError};
pub use model::{KeyRecord, Permlink, Plan};
pub use month::{unix_now, Month, ParseMonthError};
pub use secret::{
    is_valid_permlink_id, new_permlink_id, KEY_PREFIX_LEN, PERMLINK_ID_LEN, PERMLINK_ID_MIN_LEN,
    SECRET_PREFIX,
};
pub use sqlite::SqliteStore;
pub use store::Store;
