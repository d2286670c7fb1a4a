//! The compile cache through the API: a repeated compile is reused (and says so),
//! survives a restart, shows in /metrics, can be turned off, and is refused where
//! boxes could read it.

mod common;

use codeexec_server::{build_engine, EngineSetupError};
use common::*;
use reqwest::Method;

const CPP_HELLO: &str = "#include <iostream>\nint main(){std::string s;std::getline(std::cin,s);std::cout<<\"hi \"<<s<<std::endl;}\n";

async fn run_cpp(s: &TestServer, stdin: &str) -> serde_json::Value {
    let a = s
        .get(&format!(
            "/v1/run?language=cpp&code={}&stdin={}",
            enc(CPP_HELLO),
            enc(stdin)
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.data().clone()
}

#[tokio::test]
async fn a_repeated_compile_is_reused_across_requests_and_restarts() {
    let s = TestServer::start(config()).await;
    let first = run_cpp(&s, "one").await;
    assert_eq!(first["status"], "ok", "{first}");
    assert_eq!(first["compile_cached"], false);
    assert_eq!(first["stdout"], "hi one\n");

    let second = run_cpp(&s, "two").await;
    assert_eq!(second["status"], "ok", "{second}");
    assert_eq!(second["compile_cached"], true, "{second}");
    assert_eq!(second["stdout"], "hi two\n", "the program must run live");
    assert_eq!(second["compiler_message"], first["compiler_message"]);

    let metrics = s.call(Method::GET, "/metrics", None, None).await.text;
    assert!(
        metrics.contains("codeexec_compile_cache_hits_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("codeexec_compile_cache_misses_total 1"),
        "{metrics}"
    );

    // The cache lives in the data directory and outlives the process.
    let data = s.stop_keeping_data().await.expect("a temporary data dir");
    let s = TestServer::start_in(config(), data.path()).await;
    let third = run_cpp(&s, "three").await;
    assert_eq!(third["compile_cached"], true, "{third}");
    assert_eq!(third["stdout"], "hi three\n");
}

#[tokio::test]
async fn the_cache_can_be_turned_off() {
    let mut cfg = config();
    cfg.compile_cache_bytes = 0;
    let s = TestServer::start(cfg).await;
    for stdin in ["a", "b"] {
        let d = run_cpp(&s, stdin).await;
        assert_eq!(d["compile_cached"], false, "{d}");
    }
    let metrics = s.call(Method::GET, "/metrics", None, None).await.text;
    assert!(!metrics.contains("compile_cache"), "{metrics}");
    assert!(!s.data_dir.join("compile-cache").exists());
}

#[test]
fn a_cache_that_boxes_could_read_is_refused() {
    // /opt/codeexec is bound read-only into every box.
    std::fs::create_dir_all("/opt/codeexec").unwrap();
    let data = tempfile::tempdir_in("/opt/codeexec").unwrap();
    let mut cfg = config();
    cfg.data_dir = data.path().to_owned();
    match build_engine(&cfg, &catalog()) {
        Err(e @ EngineSetupError::CacheVisible { .. }) => {
            let message = e.to_string();
            assert!(message.contains("/opt/codeexec"), "{message}");
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a cache visible in boxes was accepted"),
    }
    cfg.compile_cache_bytes = 0;
    assert!(build_engine(&cfg, &catalog()).is_ok());
}
