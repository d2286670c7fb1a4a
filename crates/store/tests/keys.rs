//! API keys: creation, lookup by secret, listing, revocation, plan changes.

mod common;

use codeexec_store::{Store, StoreError, KEY_PREFIX_LEN, SECRET_PREFIX};
use common::{all_database_bytes, contains, TempStore};
use sha2::{Digest, Sha256};

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn create_then_find_by_secret() {
    let t = TempStore::new();
    let (key, secret) = t.store.create_key("alice's IDE", "starter").unwrap();

    let body = secret.strip_prefix(SECRET_PREFIX).expect("cx_live_ prefix");
    assert_eq!(body.len(), 64, "32 random bytes in hex");
    assert!(body.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(key.prefix, body[..KEY_PREFIX_LEN]);
    assert_eq!(key.name, "alice's IDE");
    assert_eq!(key.plan, "starter");
    assert_eq!(key.revoked_at, None);
    let now = codeexec_store::unix_now();
    assert!(
        (now - 5..=now).contains(&key.created_at),
        "{}",
        key.created_at
    );

    assert_eq!(t.store.find_key(&secret).unwrap(), Some(key.clone()));
    // Anything else, including near misses, finds nothing.
    let mut wrong = secret.clone();
    wrong.pop();
    wrong.push(if secret.ends_with('0') { '1' } else { '0' });
    assert_eq!(t.store.find_key(&wrong).unwrap(), None);
    assert_eq!(t.store.find_key(&key.prefix).unwrap(), None);
    assert_eq!(t.store.find_key("").unwrap(), None);
    assert_eq!(t.store.find_key(&format!("{secret} ")).unwrap(), None);
}

#[test]
fn secrets_are_stored_only_as_hashes() {
    let t = TempStore::new();
    let secrets: Vec<String> = (0..3)
        .map(|i| t.store.create_key(&format!("k{i}"), "free").unwrap().1)
        .collect();
    for s in &secrets {
        assert!(t.store.find_key(s).unwrap().is_some());
    }

    let check = |bytes: &[u8], when: &str| {
        for s in &secrets {
            // The test reads where the keys really are: their hashes are there ...
            assert!(
                contains(bytes, &sha256_hex(s)),
                "{when}: hash of {s} not found"
            );
            // ... and no secret, nor its part beyond the public prefix, is.
            assert!(!contains(bytes, s), "{when}: secret stored in clear");
            let hidden = &s[SECRET_PREFIX.len() + KEY_PREFIX_LEN..];
            assert!(
                !contains(bytes, hidden),
                "{when}: secret body stored in clear"
            );
        }
    };
    let path = t.path();
    check(&all_database_bytes(&path), "while open (WAL)");
    drop(t.store);
    check(&all_database_bytes(&path), "after close (checkpointed)");
}

#[test]
fn every_secret_and_prefix_is_distinct() {
    let t = TempStore::new();
    let made: Vec<_> = (0..50)
        .map(|i| t.store.create_key(&format!("k{i}"), "free").unwrap())
        .collect();
    let secrets: std::collections::HashSet<_> = made.iter().map(|(_, s)| s).collect();
    let prefixes: std::collections::HashSet<_> = made.iter().map(|(k, _)| &k.prefix).collect();
    let ids: std::collections::HashSet<_> = made.iter().map(|(k, _)| k.id).collect();
    assert_eq!((secrets.len(), prefixes.len(), ids.len()), (50, 50, 50));
    assert_eq!(t.store.key_count().unwrap(), 50);
}

#[test]
fn list_revoke_and_set_plan() {
    let t = TempStore::new();
    assert!(t.store.list_keys().unwrap().is_empty());
    let (a, secret_a) = t.store.create_key("a", "free").unwrap();
    let (b, _) = t.store.create_key("b", "pro").unwrap();
    assert_eq!(t.store.list_keys().unwrap(), [a.clone(), b.clone()]);

    // By prefix, by prefix written with cx_live_, and by id.
    assert_eq!(t.store.get_key(&a.prefix).unwrap(), a);
    assert_eq!(
        t.store.get_key(&format!("cx_live_{}", b.prefix)).unwrap(),
        b
    );
    assert_eq!(t.store.get_key(&b.id.to_string()).unwrap(), b);

    let revoked = t.store.revoke_key(&a.prefix).unwrap();
    let when = revoked.revoked_at.expect("revoked_at set");
    assert!(revoked.is_revoked());
    assert_eq!(revoked.id, a.id);
    // Revoked keys are still found (so the server can answer 403, not 401) and listed.
    assert_eq!(t.store.find_key(&secret_a).unwrap(), Some(revoked.clone()));
    assert_eq!(t.store.list_keys().unwrap().len(), 2);
    assert_eq!(t.store.key_count().unwrap(), 2);
    // Revoking again keeps the first time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        t.store.revoke_key(&a.id.to_string()).unwrap().revoked_at,
        Some(when)
    );
    assert!(!t.store.get_key(&b.prefix).unwrap().is_revoked(), "only a");

    let moved = t.store.set_plan(&b.id.to_string(), "mega").unwrap();
    assert_eq!(moved.plan, "mega");
    assert_eq!(t.store.get_key(&b.prefix).unwrap().plan, "mega");
    assert_eq!(t.store.get_key(&a.prefix).unwrap().plan, "free", "only b");
}

#[test]
fn unknown_and_invalid_inputs_are_refused() {
    let t = TempStore::new();
    let (a, _) = t.store.create_key("a", "free").unwrap();
    for missing in ["nope", "999", "", "cx_live_"] {
        let err = t.store.revoke_key(missing).unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownKey(_)),
            "{missing:?}: {err:?}"
        );
        let err = t.store.set_plan(missing, "pro").unwrap_err();
        assert!(
            matches!(err, StoreError::UnknownKey(_)),
            "{missing:?}: {err:?}"
        );
    }
    let err = t.store.set_plan(&a.prefix, " ").unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "plan", .. }),
        "{err:?}"
    );
    assert_eq!(t.store.get_key(&a.prefix).unwrap().plan, "free");
    let err = t.store.create_key("x", "").unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid { field: "plan", .. }),
        "{err:?}"
    );
    let err = t.store.create_key(&"n".repeat(201), "free").unwrap_err();
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert_eq!(t.store.key_count().unwrap(), 1);
}

#[test]
fn an_id_that_is_also_a_prefix_is_ambiguous() {
    let t = TempStore::new();
    let (a, _) = t.store.create_key("a", "free").unwrap();
    let (b, _) = t.store.create_key("b", "free").unwrap();
    // Prefixes are hex, so one can be all digits; force b's to read as a's id.
    let conn = rusqlite::Connection::open(t.path()).unwrap();
    conn.execute(
        "UPDATE api_keys SET prefix = ?1 WHERE id = ?2",
        rusqlite::params![a.id.to_string(), b.id],
    )
    .unwrap();
    drop(conn);
    match t.store.revoke_key(&a.id.to_string()).unwrap_err() {
        StoreError::AmbiguousKey { ids, .. } => assert_eq!(ids, [a.id, b.id]),
        other => panic!("{other:?}"),
    }
    assert!(t.store.list_keys().unwrap().iter().all(|k| !k.is_revoked()));
}
