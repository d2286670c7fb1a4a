//! Permlinks over HTTP: saved with the run, readable without a key, deleted only by
//! the key that made them.

mod common;

use common::{config, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn save_read_and_delete() {
    let mut cfg = config();
    cfg.public_base_url = Some("https://run.example.org/".into());
    let s = TestServer::start(cfg).await;
    let run = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "print(input()[::-1])", "stdin": "abc", "save": true}),
        )
        .await;
    assert_eq!(run.status, 200, "{}", run.text);
    let d = run.data();
    let id = d["permlink"].as_str().expect("a permlink").to_owned();
    assert!(id.len() >= 16 && id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(
        d["permlink_url"],
        format!("https://run.example.org/v1/permlinks/{id}")
    );

    // Readable without any key.
    let path = format!("/v1/permlinks/{id}");
    let read = s.call(Method::GET, &path, None, None).await;
    assert_eq!(read.status, 200, "{}", read.text);
    read.assert_envelope();
    let p = read.data();
    assert_eq!(p["id"], id);
    assert_eq!(p["language"], "Python");
    assert_eq!(p["request"]["code"], "print(input()[::-1])");
    assert_eq!(p["request"]["stdin"], "abc");
    assert_eq!(p["result"]["stdout"], "cba\n");
    assert_eq!(p["result"]["permlink"], id);
    assert!(p["created_at"].as_str().unwrap().ends_with('Z'));

    // Another key may not delete it; without a key, nobody may.
    let other = s.key_on("free");
    let refused = s
        .call(Method::DELETE, &path, Some(("x-api-key", &other)), None)
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    refused.assert_envelope();
    assert_eq!(refused.error(), "not_owner");
    let anonymous = s.call(Method::DELETE, &path, None, None).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);

    // Its maker may.
    let deleted = s
        .call(
            Method::DELETE,
            &path,
            Some(("authorization", &format!("Bearer {}", s.key))),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    deleted.assert_envelope();
    assert_eq!(deleted.data()["deleted"], true);
    let gone = s.call(Method::GET, &path, None, None).await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    gone.assert_envelope();
    assert_eq!(gone.error(), "permlink_not_found");
    let again = s
        .call(Method::DELETE, &path, Some(("x-api-key", &s.key)), None)
        .await;
    assert_eq!(again.status, 404, "{}", again.text);
}

#[tokio::test]
async fn get_with_save_uses_the_host_when_no_base_url_is_set() {
    let s = TestServer::start(config()).await;
    let run = s.get("/v1/run?language=python&code=print(2)&save=1").await;
    assert_eq!(run.status, 200, "{}", run.text);
    let id = run.data()["permlink"].as_str().unwrap();
    assert_eq!(
        run.data()["permlink_url"],
        format!("{}/v1/permlinks/{id}", s.base)
    );
    let unsaved = s
        .get("/v1/run?language=python&code=print(2)&save=false")
        .await;
    assert_eq!(unsaved.data()["permlink"], serde_json::Value::Null);
    assert_eq!(unsaved.data()["permlink_url"], serde_json::Value::Null);
}
