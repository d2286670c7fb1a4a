//! Keys, rate limits, monthly quotas and usage over HTTP.

mod common;

use std::sync::Arc;

use codeexec_server::bootstrap_key;
use codeexec_store::{SqliteStore, Store};
use common::{config, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn all_three_header_spellings_work() {
    let s = TestServer::start(config()).await;
    let bearer = format!("Bearer {}", s.key);
    for (name, value) in [
        ("x-api-key", s.key.as_str()),
        ("x-oanor-key", s.key.as_str()),
        ("authorization", bearer.as_str()),
    ] {
        let a = s
            .call(Method::GET, "/v1/languages", Some((name, value)), None)
            .await;
        assert_eq!(a.status, 200, "{name}: {}", a.text);
        a.assert_envelope();
    }
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_are_refused() {
    let s = TestServer::start(config()).await;
    let a = s.call(Method::GET, "/v1/meta", None, None).await;
    assert_eq!(a.status, 401, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "missing_key");
    assert!(a.body["message"].as_str().unwrap().contains("x-api-key"));

    let a = s
        .call(
            Method::GET,
            "/v1/meta",
            Some(("x-api-key", "cx_live_0000000000000000")),
            None,
        )
        .await;
    assert_eq!(a.status, 401, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "unknown_key");

    let doomed = s.key_on("free");
    let record = s.store.find_key(&doomed).unwrap().unwrap();
    s.store.revoke_key(&record.id.to_string()).unwrap();
    let a = s
        .call(
            Method::POST,
            "/v1/run",
            Some(("x-oanor-key", &doomed)),
            Some(json!({})),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "revoked_key");
}

#[tokio::test]
async fn the_per_second_rate_limit_answers_429_with_headers() {
    let s = TestServer::start(config()).await;
    let key = s.key_on("slow"); // 1 request per second
    let first = s
        .call(Method::GET, "/v1/usage", Some(("x-api-key", &key)), None)
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("0"));
    let second = s
        .call(Method::GET, "/v1/usage", Some(("x-api-key", &key)), None)
        .await;
    assert_eq!(second.status, 429, "{}", second.text);
    second.assert_envelope();
    assert_eq!(second.error(), "rate_limited");
    assert_eq!(second.header("retry-after"), Some("1"));
    assert_eq!(second.header("x-ratelimit-limit"), Some("1"));
    assert_eq!(second.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(second.header("x-ratelimit-reset"), Some("1"));
    // Another key is unaffected.
    assert_eq!(s.get("/v1/usage").await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let later = s
        .call(Method::GET, "/v1/usage", Some(("x-api-key", &key)), None)
        .await;
    assert_eq!(later.status, 200, "{}", later.text);
}

#[tokio::test]
async fn the_monthly_quota_answers_429_and_usage_still_reports() {
    let s = TestServer::start(config()).await;
    let key = s.key_on("tiny"); // 2 calls a month
    for left in ["1", "0"] {
        let a = s
            .call(
                Method::GET,
                "/v1/languages",
                Some(("x-api-key", &key)),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.header("x-quota-limit"), Some("2"));
        assert_eq!(a.header("x-quota-remaining"), Some(left));
    }
    let a = s
        .call(
            Method::GET,
            "/v1/languages",
            Some(("x-api-key", &key)),
            None,
        )
        .await;
    assert_eq!(a.status, 429, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "quota_exceeded");
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=31 * 86_400).contains(&retry), "{retry}");
    assert_eq!(a.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(a.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        a.header("x-ratelimit-reset"),
        Some(retry.to_string().as_str())
    );

    // /v1/usage is not counted, so it still answers.
    let u = s
        .call(Method::GET, "/v1/usage", Some(("x-api-key", &key)), None)
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    u.assert_envelope();
    let d = u.data();
    assert_eq!(d["plan"]["name"], "tiny");
    assert_eq!(d["plan"]["monthly_quota"], 2);
    assert_eq!(d["calls_used"], 2);
    assert_eq!(d["calls_remaining"], 0);
    assert!(d["resets_at"].as_str().unwrap().ends_with("-01T00:00:00Z"));
}

#[tokio::test]
async fn usage_survives_a_restart() {
    let s = TestServer::start(config()).await;
    let key = s.key.clone();
    for _ in 0..3 {
        assert_eq!(s.get("/v1/languages").await.status, 200);
    }
    let before = s.get("/v1/usage").await;
    assert_eq!(before.data()["calls_used"], 3, "{}", before.text);
    let dir = s.data_dir.clone();
    let tmp = s.stop_keeping_data().await;

    let s2 = TestServer::start_in(config(), &dir).await;
    let after = s2
        .call(Method::GET, "/v1/usage", Some(("x-api-key", &key)), None)
        .await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(after.data()["calls_used"], 3, "{}", after.text);
    drop(s2);
    drop(tmp);
}

#[tokio::test]
async fn without_auth_no_key_is_needed() {
    let mut cfg = config();
    cfg.auth = false;
    let s = TestServer::start(cfg).await;
    let a = s
        .call(
            Method::GET,
            "/v1/run?language=python&code=print(7)",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["stdout"], "7\n");
    let u = s.call(Method::GET, "/v1/usage", None, None).await;
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(u.data()["auth"], false);
    assert_eq!(u.data()["plan"], serde_json::Value::Null);
}

#[test]
fn the_first_key_is_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_dir(dir.path()).unwrap());
    let secret = bootstrap_key(store.as_ref(), "free")
        .unwrap()
        .expect("a key");
    assert!(secret.starts_with("cx_live_"));
    let key = store.find_key(&secret).unwrap().unwrap();
    assert_eq!(key.plan, "free");
    assert_eq!(bootstrap_key(store.as_ref(), "free").unwrap(), None);
}
