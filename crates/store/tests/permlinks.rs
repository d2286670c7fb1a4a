//! Permlinks: save, read, delete by their owner only.

mod common;

use std::collections::HashSet;

use codeexec_store::{
    is_valid_permlink_id, new_permlink_id, Permlink, Store, StoreError, PERMLINK_ID_LEN,
};
use common::TempStore;

fn permlink(key_id: Option<i64>) -> Permlink {
    Permlink {
        id: new_permlink_id().unwrap(),
        created_at: 1_796_083_199,
        key_id,
        compiler: "cpython-3.12.7".into(),
        language: "Python".into(),
        request_json: r#"{"language":"python","code":"print(\"héllo\")\n","stdin":""}"#.into(),
        result_json: r#"{"exit_code":0,"stdout":"héllo\n","signal":null}"#.into(),
    }
}

#[test]
fn save_then_get_returns_it_unchanged() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    let mine = permlink(Some(k.id));
    let anonymous = permlink(None);
    t.store.save_permlink(&mine).unwrap();
    t.store.save_permlink(&anonymous).unwrap();
    assert_eq!(t.store.get_permlink(&mine.id).unwrap(), Some(mine.clone()));
    assert_eq!(
        t.store.get_permlink(&anonymous.id).unwrap(),
        Some(anonymous)
    );
    assert_eq!(
        t.store.get_permlink(&new_permlink_id().unwrap()).unwrap(),
        None
    );
    assert_eq!(t.store.get_permlink("").unwrap(), None);
    assert_eq!(
        t.store.get_permlink("'; DROP TABLE permlinks; --").unwrap(),
        None
    );
    assert_eq!(t.store.get_permlink(&mine.id).unwrap(), Some(mine));
}

#[test]
fn only_the_key_that_made_it_may_delete_it() {
    let t = TempStore::new();
    let (owner, _) = t.store.create_key("owner", "free").unwrap();
    let (other, _) = t.store.create_key("other", "free").unwrap();
    let p = permlink(Some(owner.id));
    t.store.save_permlink(&p).unwrap();

    for wrong in [Some(other.id), None] {
        let err = t.store.delete_permlink(&p.id, wrong).unwrap_err();
        assert!(
            matches!(err, StoreError::NotPermlinkOwner(ref id) if *id == p.id),
            "{err:?}"
        );
        assert!(
            t.store.get_permlink(&p.id).unwrap().is_some(),
            "still there"
        );
    }
    assert!(t.store.delete_permlink(&p.id, Some(owner.id)).unwrap());
    assert_eq!(t.store.get_permlink(&p.id).unwrap(), None);
    assert!(
        !t.store.delete_permlink(&p.id, Some(owner.id)).unwrap(),
        "already gone"
    );
}

#[test]
fn a_permlink_made_without_a_key_is_deleted_without_one() {
    let t = TempStore::new();
    let (k, _) = t.store.create_key("k", "free").unwrap();
    let p = permlink(None);
    t.store.save_permlink(&p).unwrap();
    let err = t.store.delete_permlink(&p.id, Some(k.id)).unwrap_err();
    assert!(matches!(err, StoreError::NotPermlinkOwner(_)), "{err:?}");
    assert!(t.store.delete_permlink(&p.id, None).unwrap());
    assert_eq!(t.store.get_permlink(&p.id).unwrap(), None);
}

#[test]
fn bad_saves_are_refused() {
    let t = TempStore::new();
    let p = permlink(None);
    t.store.save_permlink(&p).unwrap();

    let mut again = permlink(None);
    again.id = p.id.clone();
    let err = t.store.save_permlink(&again).unwrap_err();
    assert!(
        matches!(err, StoreError::PermlinkExists(ref id) if *id == p.id),
        "{err:?}"
    );
    assert_eq!(
        t.store.get_permlink(&p.id).unwrap(),
        Some(p),
        "first one kept"
    );

    for id in ["short", "has/slash/in/it/0123", "with space 0123456789", ""] {
        let mut bad = permlink(None);
        bad.id = id.into();
        let err = t.store.save_permlink(&bad).unwrap_err();
        assert!(matches!(err, StoreError::Invalid { .. }), "{id:?}: {err:?}");
    }

    let err = t.store.save_permlink(&permlink(Some(999))).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownKey(ref k) if k == "999"),
        "{err:?}"
    );
}

#[test]
fn new_ids_are_unique_and_url_safe() {
    let ids: HashSet<String> = (0..5_000).map(|_| new_permlink_id().unwrap()).collect();
    assert_eq!(ids.len(), 5_000);
    for id in &ids {
        assert_eq!(id.len(), PERMLINK_ID_LEN);
        assert!(id.len() >= 16);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert!(is_valid_permlink_id(id));
    }
}
