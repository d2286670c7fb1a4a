//! `/v1/run` over HTTP: results, statuses, limits and every refusal.

mod common;

use std::time::{Duration, Instant};

use codeexec_engine::EngineConfig;
use common::{config, enc, TestServer};
use reqwest::Method;
use serde_json::json;

/// Every field of the spec's example, plus ours, always present.
const RESULT_FIELDS: [&str; 21] = [
    "compiler",
    "language",
    "status",
    "exit_code",
    "signal",
    "stdout",
    "stderr",
    "compiler_output",
    "compiler_error",
    "compiler_message",
    "permlink",
    "permlink_url",
    "time_ms",
    "cpu_time_ms",
    "memory_kb",
    "compile_time_ms",
    "stdout_truncated",
    "stderr_truncated",
    "compiler_message_truncated",
    "limit",
    "options",
];

#[track_caller]
fn assert_result_fields(data: &serde_json::Value) {
    for f in RESULT_FIELDS {
        assert!(data.get(f).is_some(), "no `{f}` in {data}");
    }
}

#[tokio::test]
async fn the_specs_get_example_prints_45() {
    let s = TestServer::start(config()).await;
    let a = s
        .get(&format!(
            "/v1/run?language=python&code={}",
            enc("print(sum(range(10)))")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.body["message"], "Compile + run code");
    let d = a.data();
    assert_result_fields(d);
    assert_eq!(d["stdout"], "45\n");
    assert_eq!(d["stderr"], "");
    assert_eq!(d["status"], "ok");
    assert_eq!(d["exit_code"], 0);
    assert_eq!(d["signal"], serde_json::Value::Null);
    assert_eq!(d["language"], "Python");
    assert!(d["compiler"].as_str().unwrap().starts_with("cpython-"));
    assert_eq!(d["compiler_message"], "");
    assert_eq!(d["permlink"], serde_json::Value::Null);
    assert_eq!(d["compile_time_ms"], serde_json::Value::Null);
    assert!(d["time_ms"].as_u64().is_some());
    // The quota headers of a counted call.
    assert_eq!(a.header("x-quota-limit"), Some("235000"));
    assert_eq!(a.header("x-ratelimit-limit"), Some("20"));
}

#[tokio::test]
async fn post_takes_stdin_args_files_and_options() {
    let s = TestServer::start(config()).await;
    let a = s
        .post(
            "/v1/run",
            json!({
                "language": "python",
                "code": "import sys, helper\nprint(helper.shout(sys.stdin.read()), sys.argv[1:])",
                "stdin": "hello",
                "args": "one\ntwo words",
                "options": ["python-warnings"],
                "files": [{"name": "helper.py", "content": "def shout(s):\n    return s.upper()\n"}],
            }),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.data()["stdout"], "HELLO ['one', 'two words']\n");
    assert_eq!(a.data()["options"], json!(["python-warnings"]));
}

#[tokio::test]
async fn c_compiles_with_options_and_raw_compiler_options() {
    let s = TestServer::start(config()).await;
    let code = "#include <stdio.h>\nint main(void){printf(\"%d\\n\", X * 2);return 0;}\n";
    let a = s
        .get(&format!(
            "/v1/run?language=c&code={}&options={}&compiler_options={}",
            enc(code),
            enc("warning,c11"),
            enc("-DX=21\n-O1")
        ))
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let d = a.data();
    assert_result_fields(d);
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["stdout"], "42\n");
    assert!(d["compiler"].as_str().unwrap().starts_with("gcc-"), "{d}");
    assert!(d["compile_time_ms"].as_u64().is_some());
}

#[tokio::test]
async fn a_c_compile_error_carries_the_compilers_messages() {
    let s = TestServer::start(config()).await;
    let a = s
        .post(
            "/v1/run",
            json!({"language": "c", "code": "int main(void) { return undeclared_name; }\n"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.assert_envelope();
    let d = a.data();
    assert_result_fields(d);
    assert_eq!(d["status"], "compile_error");
    assert_ne!(d["exit_code"], 0);
    assert!(d["compiler_error"]
        .as_str()
        .unwrap()
        .contains("undeclared_name"));
    assert!(d["compiler_message"]
        .as_str()
        .unwrap()
        .contains("undeclared_name"));
    assert_eq!(d["stdout"], "");
    assert_eq!(d["time_ms"], serde_json::Value::Null);
}

#[tokio::test]
async fn runtime_errors_and_signals() {
    let s = TestServer::start(config()).await;
    let a = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "import sys\nprint('partial')\nsys.exit(3)"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["status"], "runtime_error");
    assert_eq!(a.data()["exit_code"], 3);
    assert_eq!(a.data()["stdout"], "partial\n");

    let a = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["status"], "signaled");
    assert_eq!(a.data()["signal"], "SIGSEGV");
    assert_eq!(a.data()["exit_code"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_small_time_limit_ends_an_endless_loop() {
    let s = TestServer::start(config()).await;
    let started = Instant::now();
    let a = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "while True:\n    pass\n", "time_limit_ms": 500}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.data()["status"], "time_limit", "{}", a.data());
    assert!(a.data()["limit"].as_str().unwrap().contains("time"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn invalid_utf8_output_does_not_break_the_json() {
    let s = TestServer::start(config()).await;
    let a = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "import sys\nsys.stdout.buffer.write(b'a\\xff\\xfeb\\n')\nsys.stderr.buffer.write(b'\\xc3')"}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.data()["stdout"], "a\u{FFFD}\u{FFFD}b\n");
    assert_eq!(a.data()["stderr"], "\u{FFFD}");
}

#[tokio::test]
async fn missing_and_invalid_fields_are_named() {
    let s = TestServer::start(config()).await;
    let cases = [
        (json!({"code": "print(1)"}), "language", "missing_field"),
        (json!({"language": "python"}), "code", "missing_field"),
        (
            json!({"language": "python", "code": 5}),
            "code",
            "invalid_field",
        ),
        (
            json!({"language": "python", "code": "", "langauge": "c"}),
            "langauge",
            "unknown_field",
        ),
        (
            json!({"language": "python", "code": "", "save": "perhaps"}),
            "save",
            "invalid_field",
        ),
        (
            json!({"language": "python", "code": "", "files": [{"name": "../../etc/cron.d/x", "content": "y"}]}),
            "files[0].name",
            "invalid_field",
        ),
        (
            json!({"language": "python", "code": "", "files": [{"name": "prog.py", "content": "y"}]}),
            "files[0].name",
            "invalid_field",
        ),
        (
            json!({"language": "python", "code": "", "time_limit_ms": 3_600_000}),
            "time_limit_ms",
            "limit_above_max",
        ),
        (
            json!({"language": "python", "code": "", "memory_limit_mb": 0}),
            "memory_limit_mb",
            "invalid_field",
        ),
        (
            json!({"language": "pyton", "code": ""}),
            "language",
            "unknown_language",
        ),
        (
            json!({"compiler": "gcc-0.0", "code": ""}),
            "compiler",
            "unknown_compiler",
        ),
        (
            json!({"language": "c", "code": "", "options": "warning,O9"}),
            "options",
            "unknown_option",
        ),
    ];
    for (body, field, code) in cases {
        let a = s.post("/v1/run", body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.text);
        a.assert_envelope();
        assert_eq!(a.data()["field"], field, "{body}: {}", a.text);
        assert_eq!(a.error(), code, "{body}: {}", a.text);
        assert!(
            a.body["message"]
                .as_str()
                .unwrap()
                .contains(field.split('[').next().unwrap()),
            "{body}: {}",
            a.text
        );
    }
    // Close matches and valid options come with the error.
    let a = s
        .post("/v1/run", json!({"language": "pyton", "code": ""}))
        .await;
    assert!(
        a.data()["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().eq_ignore_ascii_case("python")),
        "{}",
        a.text
    );
    assert!(a.body["message"].as_str().unwrap().contains("did you mean"));
    let a = s
        .post(
            "/v1/run",
            json!({"language": "c", "code": "", "options": "O9"}),
        )
        .await;
    assert!(
        a.data()["valid"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "warning"),
        "{}",
        a.text
    );
    // Bad JSON, a GET without code, a duplicated query parameter.
    let a = s
        .client()
        .post(s.url("/v1/run"))
        .header("x-api-key", &s.key)
        .body("{\"language\": ")
        .send()
        .await
        .unwrap();
    let a = common::answer(a).await;
    assert_eq!(a.status, 400);
    a.assert_envelope();
    assert_eq!(a.error(), "invalid_json");
    let a = s.get("/v1/run?language=python").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.data()["field"], "code");
    let a = s.get("/v1/run?language=python&code=1&code=2").await;
    assert_eq!(a.status, 400);
    assert_eq!(a.data()["field"], "code");
}

#[tokio::test]
async fn oversized_code_stdin_and_body_get_413() {
    let mut cfg = config();
    cfg.max_code_bytes = 1000;
    cfg.max_stdin_bytes = 1000;
    cfg.max_body_bytes = 4000;
    let s = TestServer::start(cfg).await;
    let big = "x".repeat(1001);
    let a = s
        .post("/v1/run", json!({"language": "python", "code": big}))
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.data()["field"], "code");
    let a = s
        .get(&format!("/v1/run?language=python&code=1&stdin={big}"))
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert_eq!(a.data()["field"], "stdin");
    let a = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "", "files": [{"name": "a.py", "content": big}]}),
        )
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert_eq!(a.data()["field"], "files");
    let a = s
        .post(
            "/v1/run",
            json!({"language": "python", "code": "x".repeat(5000)}),
        )
        .await;
    assert_eq!(a.status, 413, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "too_large");
}

#[tokio::test]
async fn a_full_queue_answers_503_at_once() {
    let mut cfg = config();
    cfg.engine = EngineConfig {
        slots: 1,
        queue_limit: 0,
    };
    let s = TestServer::start(cfg).await;
    let slow = {
        let client = s.client().clone();
        let url = s.url("/v1/run");
        let key = s.key.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .header("x-api-key", key)
                .json(&json!({"language": "python", "code": "import time\ntime.sleep(2)\nprint('done')"}))
                .send()
                .await
                .unwrap()
        })
    };
    // Wait until the slow job holds the only slot.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = s.get("/healthz").await;
        if h.data()["running"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the slow job never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let a = s
        .post("/v1/run", json!({"language": "python", "code": "print(1)"}))
        .await;
    assert_eq!(a.status, 503, "{}", a.text);
    a.assert_envelope();
    assert_eq!(a.error(), "queue_full");
    assert_eq!(a.header("retry-after"), Some("1"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let done = common::answer(slow.await.unwrap()).await;
    assert_eq!(done.data()["stdout"], "done\n", "{}", done.text);
}

#[tokio::test]
async fn a_client_that_disconnects_cancels_its_job() {
    let s = TestServer::start(config()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let sent = client
        .post(s.url("/v1/run"))
        .header("x-api-key", &s.key)
        .json(&json!({"language": "python", "code": "import time\ntime.sleep(20)"}))
        .send()
        .await;
    assert!(sent.is_err(), "the request should have timed out");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let h = s.get("/healthz").await;
        if h.data()["running"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job went on after its client left: {}",
            h.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = s.call(Method::GET, "/metrics", None, None).await;
    assert!(m.text.contains("codeexec_jobs_running 0"), "{}", m.text);
}
