//! Monthly usage: counting, month boundaries, quotas, concurrency, restarts.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use codeexec_store::{Month, QuotaExceeded, SqliteStore, Store, StoreError};
use common::{TempStore, FIRST_SECOND_OF_DEC_2026, LAST_SECOND_OF_NOV_2026};

fn month(s: &str) -> Month {
    s.parse().unwrap()
}

fn quota_error(r: codeexec_store::Result<u64>) -> QuotaExceeded {
    match r {
        Err(StoreError::QuotaExceeded(q)) => q,
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

#[test]
fn calls_count_per_key_and_month() {
    let t = TempStore::new();
    let (a, _) = t.store.create_key("a", "free").unwrap();
    let (b, _) = t.store.create_key("b", "free").unwrap();
    let at = LAST_SECOND_OF_NOV_2026;
    assert_eq!(t.store.usage(a.id, month("2026-11")).unwrap(), 0);
    assert_eq!(t.store.record_call(a.id, at).unwrap(), 1);
    assert_eq!(t.store.record_call(a.id, at - 86_400).unwrap(), 2);
    assert_eq!(t.store.record_call(b.id, at).unwrap(), 1);
    assert_eq!(t.store.usage(a.id, month("2026-11")).unwrap(), 2);
    assert_eq!(t.store.usage(b.id, month("2026-11")).unwrap(), 1);
}

#[test]
fn the_last_and_first_second_of_a_month_count_in_different_months() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    assert_eq!(
        t.store.record_call(k.id, LAST_SECOND_OF_NOV_2026).unwrap(),
        1
    );
    assert_eq!(
        t.store.record_call(k.id, FIRST_SECOND_OF_DEC_2026).unwrap(),
        1
    );
    assert_eq!(t.store.usage(k.id, month("2026-11")).unwrap(), 1);
    assert_eq!(t.store.usage(k.id, month("2026-12")).unwrap(), 1);

    // The quota, too, starts again in the new month.
    let q = quota_error(t.store.try_record_call(k.id, LAST_SECOND_OF_NOV_2026, 1));
    assert_eq!(q.month, month("2026-11"));
    assert_eq!(q.resets_at_unix, FIRST_SECOND_OF_DEC_2026);
    assert_eq!(
        t.store
            .try_record_call(k.id, FIRST_SECOND_OF_DEC_2026, 2)
            .unwrap(),
        2
    );
}

#[test]
fn leap_day_and_year_end() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    // 2024-02-29T23:59:59Z is February of a leap year; the next second is March.
    let leap_day_end = 1_709_251_199;
    t.store.record_call(k.id, leap_day_end).unwrap();
    t.store.record_call(k.id, leap_day_end + 1).unwrap();
    assert_eq!(t.store.usage(k.id, month("2024-02")).unwrap(), 1);
    assert_eq!(t.store.usage(k.id, month("2024-03")).unwrap(), 1);
    let q = quota_error(t.store.try_record_call(k.id, leap_day_end, 1));
    assert_eq!(q.resets_at_unix, leap_day_end + 1);

    // 2100 is not a leap year: 2100-02-28T23:59:59Z is February's last second.
    let feb_2100_end = 4_107_542_399;
    let q = quota_error(t.store.try_record_call(k.id, feb_2100_end, 0));
    assert_eq!(
        (q.month, q.resets_at_unix),
        (month("2100-02"), feb_2100_end + 1)
    );

    // December resets on 1 January of the next year (2027-01-01T00:00:00Z).
    let q = quota_error(t.store.try_record_call(k.id, FIRST_SECOND_OF_DEC_2026, 0));
    assert_eq!(q.resets_at_unix, 1_798_761_600);
}

#[test]
fn try_record_call_stops_at_the_quota_and_counts_nothing_more() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    let now = LAST_SECOND_OF_NOV_2026;
    for i in 1..=3 {
        assert_eq!(t.store.try_record_call(k.id, now, 3).unwrap(), i);
    }
    for _ in 0..3 {
        let q = quota_error(t.store.try_record_call(k.id, now, 3));
        assert_eq!(
            q,
            QuotaExceeded {
                used: 3,
                quota: 3,
                month: month("2026-11"),
                resets_at_unix: FIRST_SECOND_OF_DEC_2026
            }
        );
    }
    assert_eq!(t.store.usage(k.id, month("2026-11")).unwrap(), 3);
    // A bigger plan lets the key go on from where it was.
    assert_eq!(t.store.try_record_call(k.id, now, 4).unwrap(), 4);
    // A quota of zero refuses the first call.
    let (z, _) = t.store.create_key("z", "free").unwrap();
    assert_eq!(quota_error(t.store.try_record_call(z.id, now, 0)).used, 0);
    assert_eq!(t.store.usage(z.id, month("2026-11")).unwrap(), 0);
    // A huge quota does not overflow anything.
    assert_eq!(t.store.try_record_call(z.id, now, u64::MAX).unwrap(), 1);
}

#[test]
fn calls_by_unknown_keys_are_refused() {
    let t = TempStore::new();
    for r in [
        t.store.record_call(42, 0),
        t.store.try_record_call(42, 0, 10),
        t.store.try_record_call(42, 0, 0),
    ] {
        assert!(
            matches!(r, Err(StoreError::UnknownKey(ref k)) if k == "42"),
            "{r:?}"
        );
    }
}

/// Runs `attempts` calls of `try_record_call` with quota `quota` spread over 8 threads;
/// `store_for_thread` gives each thread its store. Returns the counts that succeeded.
fn race(
    store_for_thread: impl Fn() -> Arc<dyn Store>,
    key_id: i64,
    quota: u64,
    attempts: usize,
) -> Vec<u64> {
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let store = store_for_thread();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut ok = Vec::new();
                for _ in 0..attempts / THREADS {
                    match store.try_record_call(key_id, LAST_SECOND_OF_NOV_2026, quota) {
                        Ok(n) => ok.push(n),
                        Err(StoreError::QuotaExceeded(q)) => {
                            assert_eq!((q.used, q.quota), (quota, quota))
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                ok
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

#[test]
fn concurrent_callers_sharing_a_store_never_exceed_the_quota() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    let shared: Arc<dyn Store> = Arc::new(t.store);
    let ok = race(|| Arc::clone(&shared), k.id, 100, 200);
    assert_eq!(ok.len(), 100);
    // Each success saw a different count: 1, 2, …, 100.
    assert_eq!(ok.into_iter().collect::<BTreeSet<_>>(), (1..=100).collect());
    assert_eq!(shared.usage(k.id, month("2026-11")).unwrap(), 100);
}

#[test]
fn concurrent_callers_on_separate_connections_never_exceed_the_quota() {
    // One connection per thread, as separate server processes on one file would have:
    // here SQLite's locking, not our mutex, is what keeps the count right.
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    let path = t.path();
    let ok = race(
        || Arc::new(SqliteStore::open(&path).unwrap()),
        k.id,
        100,
        200,
    );
    assert_eq!(ok.len(), 100);
    assert_eq!(ok.into_iter().collect::<BTreeSet<_>>(), (1..=100).collect());
    assert_eq!(t.store.usage(k.id, month("2026-11")).unwrap(), 100);
}

#[test]
fn usage_survives_a_restart() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    for _ in 0..5 {
        t.store
            .try_record_call(k.id, LAST_SECOND_OF_NOV_2026, 6)
            .unwrap();
    }
    let t = t.reopen();
    assert_eq!(t.store.usage(k.id, month("2026-11")).unwrap(), 5);
    assert_eq!(
        t.store
            .try_record_call(k.id, LAST_SECOND_OF_NOV_2026, 6)
            .unwrap(),
        6
    );
    assert!(t
        .store
        .try_record_call(k.id, LAST_SECOND_OF_NOV_2026, 6)
        .is_err());
}

const CRASH_CHILD_ENV: &str = "CODEEXEC_STORE_TEST_CRASH_DB";

/// Counts calls and then dies without closing anything, as a crashed server would: every
/// count that `try_record_call` returned must be in the file afterwards.
#[test]
fn usage_survives_a_killed_process() {
    if let Ok(path) = std::env::var(CRASH_CHILD_ENV) {
        // The child: count 25 calls, then abort (no destructors, no checkpoint).
        let store = SqliteStore::open(&path).unwrap();
        let key = store.get_key("1").unwrap();
        for i in 1..=25 {
            assert_eq!(
                store
                    .try_record_call(key.id, LAST_SECOND_OF_NOV_2026, 100)
                    .unwrap(),
                i
            );
        }
        std::process::abort();
    }

    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    assert_eq!(k.id, 1);
    let path = t.path();
    drop(t.store);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "usage_survives_a_killed_process",
            "--exact",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child should have aborted");
    assert!(
        path.with_extension("db-wal").exists(),
        "the child left its WAL behind, as a crash does"
    );
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.usage(k.id, month("2026-11")).unwrap(), 25);
}
