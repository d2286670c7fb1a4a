//! The catalogue, meta, health, metrics and OpenAPI endpoints; unknown routes and
//! methods; CORS.

mod common;

use std::collections::BTreeSet;

use codeexec_server::ROUTES;
use common::{config, TestServer};
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn languages_lists_installed_languages() {
    let s = TestServer::start(config()).await;
    let a = s.get("/v1/languages").await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.body["message"], "Supported languages");
    let langs = a.data()["languages"].as_array().unwrap();
    assert_eq!(a.data()["count"].as_u64().unwrap() as usize, langs.len());
    let python = langs
        .iter()
        .find(|l| l["id"] == "python")
        .expect("python is installed");
    assert_eq!(python["language"], "Python");
    assert!(python["versions"].as_u64().unwrap() >= 1);
    assert!(python["default_compiler"]
        .as_str()
        .unwrap()
        .starts_with("cpython-"));
    assert!(python["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "py"));
}

#[tokio::test]
async fn compilers_lists_and_filters() {
    let s = TestServer::start(config()).await;
    let all = s.get("/v1/compilers").await;
    assert_eq!(all.status, 200, "{}", all.text);
    all.assert_envelope();
    let count = all.data()["count"].as_u64().unwrap();
    assert!(count >= 2);
    let c = &all.data()["compilers"][0];
    for f in [
        "name",
        "version",
        "language",
        "display_name",
        "display_compile_command",
        "switches",
        "compiler_option_raw",
        "runtime_option_raw",
    ] {
        assert!(c.get(f).is_some(), "no `{f}` in {c}");
    }

    let py = s.get("/v1/compilers?language=py").await;
    assert_eq!(py.status, 200, "{}", py.text);
    let list = py.data()["compilers"].as_array().unwrap();
    assert!(!list.is_empty());
    assert!(
        list.iter().all(|c| c["language"] == "Python"),
        "{}",
        py.text
    );
    assert!((list.len() as u64) < count);

    let gcc = s.get("/v1/compilers?language=c").await;
    let gcc = gcc.data()["compilers"].as_array().unwrap().clone();
    let warning = gcc[0]["switches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sw| sw["name"] == "warning")
        .expect("C has a warning switch")
        .clone();
    assert_eq!(warning["type"], "single");
    assert_eq!(warning["default"], true);

    let bad = s.get("/v1/compilers?language=pyhton").await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    bad.assert_envelope();
    assert_eq!(bad.error(), "unknown_language");
    assert_eq!(bad.data()["field"], "language");
    assert!(
        bad.data()["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().eq_ignore_ascii_case("python")),
        "{}",
        bad.text
    );
}

#[tokio::test]
async fn meta_describes_the_service() {
    let s = TestServer::start(config()).await;
    let a = s.get("/v1/meta").await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.body["message"], "Meta");
    let d = a.data();
    assert_eq!(d["name"], "codeexec");
    assert!(d["note"].as_str().unwrap().contains("save=true"));
    assert!(d["auth"].as_str().unwrap().contains("x-api-key"));
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["endpoints"].as_array().unwrap().len(), ROUTES.len());
    assert_eq!(d["limits"]["max_code_bytes"], 256 << 10);
    assert_eq!(d["limits"]["slots"], 2);
    assert!(d["limits"]["job_defaults"]["run_time_ms"]
        .as_u64()
        .is_some());
}

#[tokio::test]
async fn health_and_metrics() {
    let s = TestServer::start(config()).await;
    let h = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(h.status, 200, "{}", h.text);
    h.assert_envelope();
    assert_eq!(h.data()["healthy"], true);

    let run = s.get("/v1/run?language=python&code=print(1)").await;
    assert_eq!(run.data()["status"], "ok", "{}", run.text);
    let m = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    assert!(m.header("x-request-id").is_some());
    for needle in [
        "codeexec_http_requests_total{route=\"/v1/run\",method=\"GET\",code=\"200\"} 1",
        "codeexec_http_requests_total{route=\"/healthz\",method=\"GET\",code=\"200\"} 1",
        "codeexec_runs_total{status=\"ok\",language=\"Python\"} 1",
        "codeexec_run_duration_seconds_count 1",
        "codeexec_run_duration_seconds_bucket{le=\"+Inf\"} 1",
        "codeexec_jobs_running 0",
        "codeexec_jobs_waiting 0",
        "# TYPE codeexec_run_duration_seconds histogram",
    ] {
        assert!(m.text.contains(needle), "no {needle:?} in\n{}", m.text);
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_enveloped() {
    let s = TestServer::start(config()).await;
    let a = s.get("/v2/nothing").await;
    assert_eq!(a.status, 404, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "route_not_found");

    let a = s.call(Method::PUT, "/v1/run", None, None).await;
    assert_eq!(a.status, 405, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "method_not_allowed");

    let a = s.call(Method::PATCH, "/v1/permlinks/abc", None, None).await;
    assert_eq!(a.status, 405, "{}", a.text);
    a.assert_envelope();

    let a = s.call(Method::GET, "/v1/permlinks/short", None, None).await;
    assert_eq!(a.status, 404, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "permlink_not_found");
}

#[tokio::test]
async fn cors_allows_browser_ides() {
    let s = TestServer::start(config()).await;
    let pre = s
        .client()
        .request(Method::OPTIONS, s.url("/v1/run"))
        .header("origin", "https://ide.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap(),
        "*"
    );
    let a = s
        .client()
        .get(s.url("/v1/languages"))
        .header("origin", "https://ide.example")
        .header("x-api-key", &s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        a.headers()["access-control-allow-origin"].to_str().unwrap(),
        "*"
    );
    // Errors carry CORS headers too, so a browser can read them.
    let a = s
        .client()
        .get(s.url("/v1/languages"))
        .header("origin", "https://ide.example")
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 401);
    assert_eq!(
        a.headers()["access-control-allow-origin"].to_str().unwrap(),
        "*"
    );
}

/// (method, path) of every operation in an OpenAPI document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    ops
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_no_other() {
    let s = TestServer::start(config()).await;
    let a = s.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.header("x-request-id").is_some());
    let doc = &a.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented = operations(doc);
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routed);

    // Every documented operation is really served: none answers "no such route" or
    // "method not allowed", and every other method on its path does.
    let all_methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
    ];
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let concrete = path.replace("{id}", "AAAAAAAAAAAAAAAAAAAAAA");
        for method in &all_methods {
            let a = s
                .call(method.clone(), &concrete, Some(("x-api-key", &s.key)), None)
                .await;
            let is_documented = documented.contains(&(method.to_string(), path.clone()));
            if is_documented {
                assert!(
                    !["route_not_found", "method_not_allowed"].contains(&a.error()),
                    "{method} {path} is documented but not served: {}",
                    a.text
                );
                let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
                // A WebSocket route answers 101 Switching Protocols instead.
                let ok = &op["responses"];
                assert!(
                    ok["200"].is_object() || ok["101"].is_object(),
                    "{method} {path}"
                );
                assert!(op["summary"].is_string(), "{method} {path}");
            } else {
                assert_eq!(
                    a.status, 405,
                    "{method} {path} is served but not documented: {}",
                    a.text
                );
            }
        }
    }
    // A path not in the document is not served.
    assert_eq!(s.get("/v1/admin").await.status, 404);
    // Every schema reference resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}
