//! Wandbox's API over HTTP against the real server and real compilers: every field of
//! compile.json, the events of compile.ndjson (order and timing), list.json,
//! templates, permlinks, limits, keys and errors in Wandbox's format.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use codeexec_server::LimitCaps;
use common::{config, default_compiler, Answer, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// Every field of Wandbox's compile.json result, always present, always a string.
const RESULT_FIELDS: [&str; 10] = [
    "status",
    "signal",
    "compiler_output",
    "compiler_error",
    "compiler_message",
    "program_output",
    "program_error",
    "program_message",
    "permlink",
    "url",
];

#[track_caller]
fn assert_wandbox_result(a: &Answer) -> &Value {
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let obj = a.body.as_object().expect("a JSON object");
    for f in RESULT_FIELDS {
        assert!(
            obj.get(f).is_some_and(Value::is_string),
            "`{f}` not a string in {}",
            a.text
        );
    }
    // Not the /v1 envelope.
    assert!(
        obj.get("data").is_none() && obj.get("success").is_none(),
        "{}",
        a.text
    );
    &a.body
}

/// An error in Wandbox's format: a plain-text body, no envelope.
#[track_caller]
fn assert_text_error(a: &Answer, status: u16, needle: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert!(
        a.header("content-type").unwrap().starts_with("text/plain"),
        "{:?}",
        a.headers
    );
    assert_eq!(a.body, Value::Null, "not plain text: {}", a.text);
    assert!(a.text.contains(needle), "no {needle:?} in {:?}", a.text);
}

async fn compile(s: &TestServer, body: Value) -> Answer {
    s.post("/api/compile.json", body).await
}

#[tokio::test]
async fn compile_json_python_fills_every_field_as_strings() {
    let s = TestServer::start(config()).await;
    // Pauses between writes to the two streams, so their order is the order written.
    let code = "import sys, time\nprint('out', sys.argv[1:], flush=True)\ntime.sleep(0.1)\nsys.stderr.write('err\\n')\nsys.stderr.flush()\ntime.sleep(0.1)\nprint(input())\n";
    let a = compile(
        &s,
        json!({
            "compiler": default_compiler("python"),
            "code": code,
            "stdin": "from stdin",
            "runtime-option-raw": "one\ntwo words\n",
            "options": "",
            "save": false,
            "login": false,
            "github_user": null,
        }),
    )
    .await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["status"], "0");
    assert_eq!(r["signal"], "");
    assert_eq!(
        r["program_output"],
        "out ['one', 'two words']\nfrom stdin\n"
    );
    assert_eq!(r["program_error"], "err\n");
    assert_eq!(
        r["program_message"],
        "out ['one', 'two words']\nerr\nfrom stdin\n"
    );
    for f in [
        "compiler_output",
        "compiler_error",
        "compiler_message",
        "permlink",
        "url",
    ] {
        assert_eq!(r[f], "", "{f}");
    }
    // A counted call, like /v1/run.
    assert_eq!(a.header("x-quota-limit"), Some("235000"));
}

#[tokio::test]
async fn compile_json_c_takes_codes_options_and_raw_options() {
    let s = TestServer::start(config()).await;
    let c = default_compiler("c");
    let code = "#include <stdio.h>\n#include \"twice.h\"\nint main(void){int unused; printf(\"%d\\n\", twice(X)); return 0;}\n";
    let a = compile(
        &s,
        json!({
            "compiler": c,
            "code": code,
            "codes": [{"file": "twice.h", "code": "static int twice(int x) { return 2 * x; }\n"}],
            "options": "warning",
            "compiler-option-raw": "-DX=21\n-O1",
        }),
    )
    .await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["status"], "0", "{r}");
    assert_eq!(r["program_output"], "42\n");
    let warnings = r["compiler_error"].as_str().unwrap();
    assert!(warnings.contains("unused"), "{r}");
    assert_eq!(r["compiler_message"], r["compiler_error"]);
    assert_eq!(r["compiler_output"], "");

    // A compile error: the compiler's exit code, no program output.
    let a = compile(
        &s,
        json!({"compiler": c, "code": "int main(void) { return nope; }"}),
    )
    .await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["status"], "1", "{r}");
    assert!(
        r["compiler_error"].as_str().unwrap().contains("nope"),
        "{r}"
    );
    assert_eq!(r["program_output"], "");
    assert_eq!(r["program_message"], "");
}

#[tokio::test]
async fn exit_codes_and_signals_as_wandbox_reports_them() {
    let s = TestServer::start(config()).await;
    let py = default_compiler("python");
    let a = compile(
        &s,
        json!({"compiler": py, "code": "import sys\nsys.exit(3)"}),
    )
    .await;
    let r = assert_wandbox_result(&a);
    assert_eq!(
        (r["status"].as_str(), r["signal"].as_str()),
        (Some("3"), Some(""))
    );

    let code =
        "import os, signal\nprint('before', flush=True)\nos.kill(os.getpid(), signal.SIGSEGV)\n";
    let a = compile(&s, json!({"compiler": py, "code": code})).await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["signal"], "Segmentation fault", "{r}");
    assert_eq!(r["status"], "139", "{r}");
    assert_eq!(r["program_output"], "before\n");

    let c = default_compiler("c");
    let code = "#include <stdlib.h>\nint main(void){abort();}\n";
    let a = compile(&s, json!({"compiler": c, "code": code})).await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["signal"], "Aborted", "{r}");
    assert_eq!(r["status"], "134", "{r}");
}

/// The events of a compile.ndjson response, each with when it arrived.
async fn ndjson(s: &TestServer, body: Value) -> Vec<(Value, Duration)> {
    let started = Instant::now();
    let mut response = s
        .client()
        .post(s.url("/api/compile.ndjson"))
        .header("x-api-key", &s.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let mut events = Vec::new();
    let mut buffer = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        let at = started.elapsed();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let event: Value = serde_json::from_slice(&line).expect("one JSON object per line");
            events.push((event, at));
        }
    }
    assert!(buffer.is_empty(), "a line without its newline");
    events
}

/// `type:data` of each event, output events of one type in a row joined (a program's
/// output may come in any number of chunks).
fn kinds(events: &[(Value, Duration)]) -> Vec<String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (e, _) in events {
        let (kind, data) = (e["type"].as_str().unwrap(), e["data"].as_str().unwrap());
        match out.last_mut() {
            Some((k, d)) if k == kind && kind != "Control" => d.push_str(data),
            _ => out.push((kind.to_owned(), data.to_owned())),
        }
    }
    out.into_iter().map(|(k, d)| format!("{k}:{d}")).collect()
}

#[tokio::test]
async fn ndjson_writes_each_event_as_the_program_produces_it() {
    let s = TestServer::start(config()).await;
    let code = "import time\nprint('first')\ntime.sleep(1)\nprint('second')\n";
    let events = ndjson(
        &s,
        json!({"compiler": default_compiler("python"), "code": code}),
    )
    .await;
    assert_eq!(
        kinds(&events),
        [
            "Control:Start",
            "StdOut:first\nsecond\n",
            "ExitCode:0",
            "Control:Finish"
        ]
    );
    assert_eq!(events[1].0["type"], "StdOut");
    assert!(events[1].0["data"].as_str().unwrap().starts_with("first"));
    let first = events[1].1;
    let end = events.last().unwrap().1;
    eprintln!("first StdOut after {first:?}, Finish after {end:?}");
    assert!(
        end - first >= Duration::from_millis(700),
        "the first line came {first:?}, only {:?} before the end",
        end - first
    );
}

#[tokio::test]
async fn ndjson_orders_compiler_messages_program_output_and_exit() {
    let s = TestServer::start(config()).await;
    let code = "#include <stdio.h>\nint main(void){int unused; puts(\"out\"); fflush(stdout); fputs(\"err\\n\", stderr); return 5;}\n";
    let events = ndjson(
        &s,
        json!({"compiler": default_compiler("c"), "code": code, "options": "warning"}),
    )
    .await;
    let k = kinds(&events);
    assert_eq!(k.first().map(String::as_str), Some("Control:Start"));
    assert!(k[1].starts_with("CompilerMessageE:"), "{k:?}");
    let tail: Vec<&str> = k[k.len() - 4..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "StdOut:out\n",
            "StdErr:err\n",
            "ExitCode:5",
            "Control:Finish"
        ]
    );
    // A failed compile ends with the compiler's exit code.
    let events = ndjson(
        &s,
        json!({"compiler": default_compiler("c"), "code": "nope"}),
    )
    .await;
    let k = kinds(&events);
    assert_eq!(&k[k.len() - 2..], ["ExitCode:1", "Control:Finish"], "{k:?}");
    assert!(!k.iter().any(|e| e.starts_with("StdOut")));
}

#[tokio::test]
async fn limits_end_runs_as_wandbox_says() {
    let mut cfg = config();
    cfg.limit_caps = LimitCaps {
        run_time_ms: Some(1_000),
        output_kb: Some(4),
        ..LimitCaps::default()
    };
    let s = TestServer::start(cfg).await;
    let py = default_compiler("python");
    let started = Instant::now();
    let events = ndjson(
        &s,
        json!({"compiler": py, "code": "import time\nprint('up', flush=True)\ntime.sleep(30)"}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        kinds(&events),
        [
            "Control:Start",
            "StdOut:up\n",
            "Control:Timeout",
            "Signal:Killed",
            "ExitCode:137",
            "Control:Finish"
        ]
    );
    let a = compile(
        &s,
        json!({"compiler": py, "code": "while True: print('x' * 100)"}),
    )
    .await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["signal"], "Killed", "{r}");
    let out = r["program_output"].as_str().unwrap();
    assert!(
        out.len() <= 4 << 10 && out.len() > 1000,
        "{} bytes",
        out.len()
    );
    let events = ndjson(
        &s,
        json!({"compiler": py, "code": "while True: print('x' * 100)"}),
    )
    .await;
    let k = kinds(&events);
    assert_eq!(
        &k[k.len() - 4..],
        [
            "Control:Killed",
            "Signal:Killed",
            "ExitCode:137",
            "Control:Finish"
        ]
    );
}

#[tokio::test]
async fn list_json_and_templates() {
    let s = TestServer::start(config()).await;
    let a = s.get("/api/list.json").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let list = a.body.as_array().expect("an array");
    let c = default_compiler("c");
    let gcc = list
        .iter()
        .find(|x| x["name"] == c.as_str())
        .expect("the C compiler");
    for f in [
        "name",
        "version",
        "language",
        "display-name",
        "display-compile-command",
    ] {
        assert!(gcc[f].is_string(), "{f} in {gcc}");
    }
    for f in ["compiler-option-raw", "runtime-option-raw"] {
        assert!(gcc[f].is_boolean(), "{f} in {gcc}");
    }
    assert_eq!(gcc["language"], "C");
    assert_eq!(gcc["templates"], json!([c]));
    let switches = gcc["switches"].as_array().unwrap();
    let warning = switches.iter().find(|w| w["name"] == "warning").unwrap();
    assert_eq!(warning["type"], "single");
    assert!(warning["display-flags"].as_str().unwrap().contains("-Wall"));
    assert!(warning["default"].is_boolean());
    let select = switches
        .iter()
        .find(|w| w["type"] == "select")
        .expect("a select switch");
    assert!(select["default"].is_string());
    let option = &select["options"][0];
    for f in ["name", "display-name", "display-flags"] {
        assert!(option[f].is_string(), "{f} in {select}");
    }

    let t = s.get(&format!("/api/template/{c}")).await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["name"], c.as_str());
    assert!(t.body["code"].as_str().unwrap().contains("main"));
    // The template compiles and runs as it is.
    let a = compile(&s, json!({"compiler": c, "code": t.body["code"]})).await;
    assert_eq!(assert_wandbox_result(&a)["status"], "0");

    let t = s.get("/api/template/no-such-compiler").await;
    assert_text_error(&t, 404, "Template not found");
}

#[tokio::test]
async fn save_and_read_permlinks_through_both_apis() {
    let s = TestServer::start(config()).await;
    let py = default_compiler("python");
    let a = compile(
        &s,
        json!({
            "compiler": py,
            "code": "import helper\nprint(helper.X, input())",
            "codes": [{"file": "helper.py", "code": "X = 42\n"}],
            "stdin": "in",
            "save": true,
            "title": "a title",
            "description": "a description",
        }),
    )
    .await;
    let r = assert_wandbox_result(&a).clone();
    assert_eq!(r["program_output"], "42 in\n");
    let id = r["permlink"].as_str().unwrap().to_owned();
    assert!(
        id.len() >= 16 && id.chars().all(|c| c.is_ascii_alphanumeric()),
        "{id}"
    );
    assert_eq!(r["url"], format!("{}/api/permlink/{id}", s.base));

    // Anyone with the id may read it, no key needed.
    let p = s
        .call(Method::GET, &format!("/api/permlink/{id}"), None, None)
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    let parameter = &p.body["parameter"];
    assert_eq!(parameter["compiler"], py.as_str());
    assert_eq!(parameter["code"], "import helper\nprint(helper.X, input())");
    assert_eq!(
        parameter["codes"],
        json!([{"file": "helper.py", "code": "X = 42\n"}])
    );
    assert_eq!(parameter["stdin"], "in");
    assert_eq!(parameter["title"], "a title");
    assert_eq!(parameter["description"], "a description");
    assert!(parameter["created_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(parameter["compiler-info"]["name"], py.as_str());
    let results = p.body["results"].as_array().unwrap();
    assert_eq!(results[0], json!({"type": "Control", "data": "Start"}));
    assert_eq!(
        results.last().unwrap(),
        &json!({"type": "Control", "data": "Finish"})
    );
    assert_eq!(p.body["result"], r);

    // The same run through /v1.
    let v1 = s.get(&format!("/v1/permlinks/{id}")).await;
    assert_eq!(v1.status, 200, "{}", v1.text);
    assert_eq!(v1.data()["result"]["stdout"], "42 in\n");

    // A run saved through /v1 reads through Wandbox's API.
    let run = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "print('v1')", "save": true}),
        )
        .await;
    let v1_id = run.data()["permlink"].as_str().unwrap().to_owned();
    let p = s.get(&format!("/api/permlink/{v1_id}")).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["result"]["program_output"], "v1\n");
    assert_eq!(p.body["result"]["status"], "0");

    // POST /api/permlink saves what a client got from compile.ndjson.
    let events = json!([
        {"type": "Control", "data": "Start"},
        {"type": "StdOut", "data": "hi\n"},
        {"type": "ExitCode", "data": "0"},
        {"type": "Control", "data": "Finish"},
    ]);
    let saved = s
        .post(
            "/api/permlink",
            json!({"compiler": py, "code": "print('hi')", "results": events, "login": false}),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let id = saved.body["permlink"].as_str().unwrap();
    assert_eq!(saved.body["url"], format!("{}/api/permlink/{id}", s.base));
    let p = s.get(&format!("/api/permlink/{id}")).await;
    assert_eq!(p.body["results"], events);
    assert_eq!(p.body["result"]["program_output"], "hi\n");
    assert_eq!(p.body["result"]["permlink"], id);

    let missing = s.get("/api/permlink/AAAAAAAAAAAAAAAAAAAAAA").await;
    assert_text_error(&missing, 404, "Permlink not found");
}

#[tokio::test]
async fn errors_are_plain_text_with_an_http_code() {
    let s = TestServer::start(config()).await;
    // A Wandbox compiler we do not have: the nearest ones we do.
    let a = compile(
        &s,
        json!({"compiler": "gcc-13.2.0", "code": "int main(){}"}),
    )
    .await;
    assert_text_error(&a, 400, "gcc-13.2.0");
    assert!(a.text.contains("gcc-12.2.0"), "{}", a.text);
    let a = compile(
        &s,
        json!({"compiler": "gcc-13.2.0-c", "code": "int main(){}"}),
    )
    .await;
    assert_text_error(&a, 400, "nearest");
    assert!(a.text.contains(&default_compiler("c")), "{}", a.text);

    let a = s
        .post_raw("/api/compile.json", Some(("x-api-key", &s.key)), "{")
        .await;
    assert_text_error(&a, 400, "not valid JSON");
    let a = compile(&s, json!({"code": "x"})).await;
    assert_text_error(&a, 400, "compiler");
    let a = compile(
        &s,
        json!({"compiler": default_compiler("c"), "code": "", "options": "warning,no-such-switch"}),
    )
    .await;
    assert_text_error(&a, 400, "no-such-switch");
    let a = compile(
        &s,
        json!({"compiler": default_compiler("python"), "code": "", "codes": [{"file": "../../etc/x", "code": "y"}]}),
    )
    .await;
    assert_text_error(&a, 400, "codes[0].file");
    let a = compile(
        &s,
        json!({"compiler": default_compiler("python"), "code": "", "title": "t".repeat(401)}),
    )
    .await;
    assert_text_error(&a, 413, "title");

    // Keys: the same headers as /v1, refusals in Wandbox's format.
    let body = json!({"compiler": default_compiler("python"), "code": "print(1)"});
    let a = s
        .call(Method::POST, "/api/compile.json", None, Some(body.clone()))
        .await;
    assert_text_error(&a, 401, "API key");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let bearer = format!("Bearer {}", s.key);
    let a = s
        .call(
            Method::POST,
            "/api/compile.json",
            Some(("authorization", &bearer)),
            Some(body.clone()),
        )
        .await;
    assert_wandbox_result(&a);
    let a = s
        .call(
            Method::GET,
            "/api/list.json",
            Some(("x-oanor-key", &s.key)),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    // Unknown routes and methods under /api answer in text too.
    let a = s.get("/api/nothing.json").await;
    assert_text_error(&a, 404, "no route");
    let a = s.call(Method::DELETE, "/api/list.json", None, None).await;
    assert_text_error(&a, 405, "not allowed");
}

#[tokio::test]
async fn runs_count_against_the_quota_and_rate_like_v1() {
    let s = TestServer::start(config()).await;
    let body = json!({"compiler": default_compiler("python"), "code": "print(1)"});
    let tiny = s.key_on("tiny");
    for remaining in ["1", "0"] {
        let a = s
            .call(
                Method::POST,
                "/api/compile.json",
                Some(("x-api-key", &tiny)),
                Some(body.clone()),
            )
            .await;
        assert_wandbox_result(&a);
        assert_eq!(a.header("x-quota-remaining"), Some(remaining));
    }
    let a = s
        .call(
            Method::POST,
            "/api/compile.ndjson",
            Some(("x-api-key", &tiny)),
            Some(body.clone()),
        )
        .await;
    assert_text_error(&a, 429, "quota");
    assert!(a.header("retry-after").is_some());
    let usage = s
        .call(Method::GET, "/v1/usage", Some(("x-api-key", &tiny)), None)
        .await;
    assert_eq!(usage.data()["calls_used"], 2);

    let slow = s.key_on("slow");
    let first = s
        .call(
            Method::GET,
            "/api/list.json",
            Some(("x-api-key", &slow)),
            None,
        )
        .await;
    assert_eq!(first.status, 200);
    let second = s
        .call(
            Method::GET,
            "/api/list.json",
            Some(("x-api-key", &slow)),
            None,
        )
        .await;
    assert_text_error(&second, 429, "rate limit");
}

#[tokio::test]
async fn aliases_and_no_auth() {
    let mut cfg = config();
    cfg.auth = false;
    cfg.compiler_aliases = BTreeMap::from([("gcc-13.2.0-c".to_owned(), default_compiler("c"))]);
    let s = TestServer::start(cfg).await;
    let a = s
        .call(
            Method::POST,
            "/api/compile.json",
            None,
            Some(json!({"compiler": "gcc-13.2.0-c", "code": "#include <stdio.h>\nint main(void){puts(\"aliased\");}"})),
        )
        .await;
    let r = assert_wandbox_result(&a);
    assert_eq!(r["program_output"], "aliased\n");
    let t = s
        .call(Method::GET, "/api/template/gcc-13.2.0-c", None, None)
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
}

#[tokio::test]
async fn metrics_count_compat_routes() {
    let s = TestServer::start(config()).await;
    let a = compile(
        &s,
        json!({"compiler": default_compiler("python"), "code": "print(1)"}),
    )
    .await;
    assert_wandbox_result(&a);
    let m = s.call(Method::GET, "/metrics", None, None).await;
    for needle in [
        "codeexec_http_requests_total{route=\"/api/compile.json\",method=\"POST\",code=\"200\"} 1",
        "codeexec_runs_total{status=\"ok\",language=\"Python\"} 1",
    ] {
        assert!(m.text.contains(needle), "no {needle:?} in\n{}", m.text);
    }
}
