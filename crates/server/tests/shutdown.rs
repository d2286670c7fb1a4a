//! Graceful shutdown: running jobs finish within the grace period, later ones are
//! cancelled, and the server stops accepting.

mod common;

use std::time::{Duration, Instant};

use common::{config, TestServer};
use serde_json::json;

fn slow_job(s: &TestServer, seconds: f64) -> tokio::task::JoinHandle<common::Answer> {
    let client = s.client().clone();
    let url = s.url("/v1/run");
    let key = s.key.clone();
    let code = format!("import time\ntime.sleep({seconds})\nprint('finished')");
    tokio::spawn(async move {
        let r = client
            .post(url)
            .header("x-api-key", key)
            .json(&json!({"language": "python", "code": code}))
            .send()
            .await
            .unwrap();
        common::answer(r).await
    })
}

async fn wait_running(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.get("/healthz").await.data()["running"] != 1 {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_running_job_finishes_during_the_grace_period() {
    let mut s = TestServer::start(config()).await;
    let job = slow_job(&s, 1.0);
    wait_running(&s).await;
    let base = s.base.clone();
    s.stop().await.unwrap();
    let a = job.await.unwrap();
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["stdout"], "finished\n");
    // No longer accepting.
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}

#[tokio::test]
async fn jobs_past_the_grace_period_are_cancelled() {
    let mut cfg = config();
    cfg.shutdown_grace = Duration::from_millis(300);
    let mut s = TestServer::start(cfg).await;
    let job = slow_job(&s, 30.0);
    wait_running(&s).await;
    let started = Instant::now();
    s.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let a = job.await.unwrap();
    assert_eq!(a.status, 503, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "shutting_down");
}
