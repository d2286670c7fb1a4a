//! A real server for the tests: the detected catalogue, the real sandbox and engine,
//! SQLite in a temporary directory, listening on 127.0.0.1 on a free port, called
//! with a real HTTP client.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use codeexec_catalog::{Catalog, Definitions, DetectOptions};
use codeexec_engine::EngineConfig;
use codeexec_server::{build_engine, serve_on, ServeError, ServerConfig};
use codeexec_store::{Plan, SqliteStore, Store};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The catalogue, detected once per test binary.
pub fn catalog() -> Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let dir = codeexec_catalog::source_catalog_dir();
            let defs = Definitions::load_dir(&dir)
                .unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()));
            Catalog::detect(&defs, &DetectOptions::default())
        })
        .clone()
}

/// The spec's plans plus small ones to hit limits with.
pub fn test_plans() -> Vec<Plan> {
    let mut plans = Plan::defaults();
    plans.push(Plan {
        name: "tiny".into(),
        monthly_quota: 2,
        rate_per_second: 100,
    });
    plans.push(Plan {
        name: "slow".into(),
        monthly_quota: 1_000,
        rate_per_second: 1,
    });
    plans
}

/// A server configuration for tests (change fields before [`TestServer::start`]).
pub fn config() -> ServerConfig {
    ServerConfig {
        plans: test_plans(),
        engine: EngineConfig {
            slots: 2,
            queue_limit: 8,
        },
        shutdown_grace: Duration::from_secs(10),
        ..ServerConfig::default()
    }
}

pub struct TestServer {
    pub base: String,
    pub store: Arc<SqliteStore>,
    /// A key on the pro plan, made before start so no first-start key is printed.
    pub key: String,
    pub data_dir: std::path::PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    client: reqwest::Client,
}

/// An answer: status, headers and the JSON body (Null when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// The error code of a failed answer.
    pub fn error(&self) -> &str {
        self.body["data"]["error"].as_str().unwrap_or("")
    }

    /// Asserts the envelope's shape, that `success` is what `status` implies, and that
    /// the `x-request-id` header is the envelope's request id.
    #[track_caller]
    pub fn assert_envelope(&self) -> &Self {
        let b = &self.body;
        let obj = b
            .as_object()
            .unwrap_or_else(|| panic!("not a JSON object: {:?}", self.text));
        for field in ["data", "meta", "status", "message", "success"] {
            assert!(obj.contains_key(field), "no `{field}` in {b}");
        }
        let ok = self.status.is_success();
        assert_eq!(b["success"], Value::Bool(ok), "{b}");
        assert_eq!(b["status"], if ok { "ok" } else { "error" }, "{b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
        let ts = b["meta"]["timestamp"].as_str().expect("timestamp");
        assert!(is_rfc3339_millis(ts), "timestamp {ts}");
        let id = b["meta"]["request_id"].as_str().expect("request_id");
        assert!(is_uuid_v4(id), "request id {id}");
        assert_eq!(self.header("x-request-id"), Some(id));
        assert!(self
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")));
        self
    }
}

fn is_rfc3339_millis(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        && parts[2].starts_with('4')
}

impl TestServer {
    /// A server with a fresh data directory and the given configuration.
    pub async fn start(config: ServerConfig) -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let mut server = TestServer::start_in(config, &dir).await;
        server._tmp = Some(tmp);
        server
    }

    /// A server on an existing data directory (a restart).
    pub async fn start_in(mut config: ServerConfig, dir: &std::path::Path) -> TestServer {
        config.data_dir = dir.to_owned();
        let store = Arc::new(SqliteStore::open_in_dir(dir).unwrap());
        let key = store.create_key("tests", "pro").unwrap().1;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let catalog = catalog();
        let engine = build_engine(&config, &catalog).expect("a working sandbox (run as root)");
        let (stop, stopped) = oneshot::channel::<()>();
        let dyn_store: Arc<dyn Store> = store.clone();
        let task = tokio::spawn(serve_on(
            listener,
            config,
            catalog,
            engine,
            dyn_store,
            async {
                let _ = stopped.await;
            },
        ));
        TestServer {
            base: format!("http://{addr}"),
            store,
            key,
            data_dir: dir.to_owned(),
            _tmp: None,
            stop: Some(stop),
            task: Some(task),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// A new key on `plan`.
    pub fn key_on(&self, plan: &str) -> String {
        self.store.create_key("another", plan).unwrap().1
    }

    /// Sends the shutdown signal and waits for `serve` to return.
    pub async fn stop(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("the server task panicked"),
            None => Ok(()),
        }
    }

    /// Shuts down and keeps the data directory (for a restart on it).
    pub async fn stop_keeping_data(mut self) -> Option<tempfile::TempDir> {
        self.stop().await.unwrap();
        self._tmp.take()
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with this server's key in `x-api-key`.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(("x-api-key", &self.key)), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(
            Method::POST,
            path,
            Some(("x-api-key", &self.key)),
            Some(body),
        )
        .await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        header: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("the request was sent")).await
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

/// `s` percent-encoded for a query string.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The default compiler of a language (by id or alias), as installed here.
pub fn default_compiler(language: &str) -> String {
    let catalog = catalog();
    let l = catalog
        .language(language)
        .unwrap_or_else(|| panic!("no language {language}"));
    catalog
        .default_compiler_of(l)
        .unwrap_or_else(|| panic!("no compiler for {language} is installed"))
        .name
        .clone()
}

impl TestServer {
    /// A POST of `body` as it is (JSON or not), with `header` if given.
    pub async fn post_raw(&self, path: &str, header: Option<(&str, &str)>, body: &str) -> Answer {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        answer(request.send().await.expect("the request was sent")).await
    }
}
