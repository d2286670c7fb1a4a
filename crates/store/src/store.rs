//! The storage interface the HTTP gateway and the `keys` commands use.

use crate::error::Result;
use crate::model::{KeyRecord, Permlink};
use crate::month::Month;

/// Keys, usage and permlinks, whatever the database.
///
/// The trait is object-safe (`Arc<dyn Store>` is how the server holds it) and `Send +
/// Sync`. Its methods are **blocking**: they may wait on disk (every write is flushed
/// before it returns) or on another process holding the database's write lock. Async
/// callers run them through `tokio::task::spawn_blocking` (or their runtime's equivalent),
/// never directly on a runtime worker thread.
///
/// Times are unix seconds (`i64`), passed in by the caller so that tests, and a server
/// deciding "now" once per request, control them; [`crate::unix_now`] reads the clock.
///
/// Keys are named by `id_or_prefix`: the numeric id, or the 8-character prefix shown in
/// listings (a leading `cx_live_` is ignored). A string that is both one key's id and
/// another key's prefix is refused as ambiguous.
pub trait Store: Send + Sync {
    /// Makes a key on `plan` and returns it with its secret. The secret is returned only
    /// here: only its SHA-256 is stored. `plan` is not checked against any plan list;
    /// the caller knows the configured plans.
    fn create_key(&self, name: &str, plan: &str) -> Result<(KeyRecord, String)>;

    /// The key whose secret is `secret`, revoked or not (the caller answers 403 for a
    /// revoked key and 401 for `None`).
    fn find_key(&self, secret: &str) -> Result<Option<KeyRecord>>;

    /// The key named by `id_or_prefix`, or [`crate::StoreError::UnknownKey`].
    fn get_key(&self, id_or_prefix: &str) -> Result<KeyRecord>;

    /// Every key, revoked ones included, oldest first.
    fn list_keys(&self) -> Result<Vec<KeyRecord>>;

    /// Marks a key revoked (it is kept, with `revoked_at`). Revoking a revoked key changes
    /// nothing and returns it as it is.
    fn revoke_key(&self, id_or_prefix: &str) -> Result<KeyRecord>;

    /// Moves a key to another plan (by name; not checked, as in [`Store::create_key`]).
    fn set_plan(&self, id_or_prefix: &str, plan: &str) -> Result<KeyRecord>;

    /// How many keys exist, revoked ones included (so a server whose keys were all revoked
    /// does not quietly make a fresh one at start-up).
    fn key_count(&self) -> Result<u64>;

    /// Counts one call by `key_id` in the calendar month (UTC) of `at_unix`, with no quota,
    /// and returns that month's count including this call.
    fn record_call(&self, key_id: i64, at_unix: i64) -> Result<u64>;

    /// Counts one call by `key_id` in the month of `now_unix` if fewer than `quota` calls
    /// are counted already, and returns the new count; otherwise counts nothing and fails
    /// with [`crate::StoreError::QuotaExceeded`]. Check and increment are one atomic step:
    /// concurrent callers, in this process or another, never push the count past `quota`.
    fn try_record_call(&self, key_id: i64, now_unix: i64, quota: u64) -> Result<u64>;

    /// Calls counted for `key_id` in `month` (0 if none).
    fn usage(&self, key_id: i64, month: Month) -> Result<u64>;

    /// Stores a permlink under its id (make one with [`crate::new_permlink_id`]). The id
    /// must be 16+ characters of `[A-Za-z0-9]`; an id already used is refused with
    /// [`crate::StoreError::PermlinkExists`].
    fn save_permlink(&self, permlink: &Permlink) -> Result<()>;

    /// The permlink `id`, if there is one.
    fn get_permlink(&self, id: &str) -> Result<Option<Permlink>>;

    /// Deletes permlink `id` on behalf of `key_id`: `Ok(true)` if deleted, `Ok(false)` if
    /// there is no such permlink, [`crate::StoreError::NotPermlinkOwner`] if it belongs to
    /// someone else.
    ///
    /// Ownership is plain equality of the permlink's `key_id` and the one given. So a
    /// server with authentication passes the caller's key id and can delete only what that
    /// key made; a server in no-auth mode passes `None` and can delete only permlinks made
    /// without a key (by anyone, as nobody has a key there). Whether to allow a delete at
    /// all is the caller's decision.
    fn delete_permlink(&self, id: &str, key_id: Option<i64>) -> Result<bool>;
}
