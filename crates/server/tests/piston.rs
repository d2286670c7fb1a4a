//! Piston's v2 API over HTTP and WebSocket against the real server and real compilers:
//! runtimes, every field of execute, semver selectors, file encodings, limits, keys,
//! errors as `{"message"}`, and the interactive WebSocket with its close codes.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use codeexec_server::LimitCaps;
use common::{catalog, config, default_compiler, Answer, TestServer};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const STAGE_FIELDS: [&str; 10] = [
    "stdout",
    "stderr",
    "output",
    "code",
    "signal",
    "message",
    "status",
    "cpu_time",
    "wall_time",
    "memory",
];

#[track_caller]
fn assert_stage(stage: &Value) {
    let obj = stage
        .as_object()
        .unwrap_or_else(|| panic!("not a stage: {stage}"));
    for f in STAGE_FIELDS {
        assert!(obj.contains_key(f), "no `{f}` in {stage}");
    }
    for f in ["stdout", "stderr", "output"] {
        assert!(stage[f].is_string(), "{f} in {stage}");
    }
}

/// An error in Piston's format: `{"message": "…"}`, no envelope.
#[track_caller]
fn assert_message(a: &Answer, status: u16, needle: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    let obj = a
        .body
        .as_object()
        .unwrap_or_else(|| panic!("not JSON: {}", a.text));
    assert_eq!(obj.len(), 1, "{}", a.text);
    let message = obj["message"].as_str().expect("a message");
    assert!(message.contains(needle), "no {needle:?} in {message:?}");
}

fn python_version() -> String {
    let c = default_compiler("python");
    catalog().compiler(&c).unwrap().version.clone()
}

async fn execute(s: &TestServer, body: Value) -> Answer {
    s.post("/api/v2/execute", body).await
}

#[tokio::test]
async fn runtimes_list_every_compiler() {
    let s = TestServer::start(config()).await;
    let a = s.get("/api/v2/runtimes").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let list = a.body.as_array().expect("an array");
    assert_eq!(list.len(), catalog().installed().len());
    let py = list
        .iter()
        .find(|r| r["runtime"] == default_compiler("python").as_str())
        .expect("python");
    assert_eq!(py["language"], "python");
    assert_eq!(py["version"], python_version());
    assert!(py["aliases"].as_array().unwrap().iter().any(|x| x == "py"));
    let cpp = list
        .iter()
        .find(|r| r["runtime"] == default_compiler("c++").as_str())
        .unwrap();
    assert_eq!(cpp["language"], "c++");
    for r in list {
        let v = r["version"].as_str().unwrap();
        assert_eq!(v.split('.').count(), 3, "not semver: {r}");
        assert!(
            v.split('.').all(|p| p.parse::<u64>().is_ok()),
            "not semver: {r}"
        );
    }
}

#[tokio::test]
async fn execute_python_fills_every_field() {
    let s = TestServer::start(config()).await;
    let helper =
        base64::engine::general_purpose::STANDARD.encode("def shout(s):\n    return s.upper()\n");
    let code = "import sys, time, helper\nprint(helper.shout(input()), sys.argv[1:], flush=True)\ntime.sleep(0.1)\nprint('err', file=sys.stderr, flush=True)\ntime.sleep(0.1)\nprint('end')\n";
    let a = execute(
        &s,
        json!({
            "language": "py",
            "version": "3.x",
            "files": [
                {"name": "main.py", "content": code},
                {"name": "helper.py", "content": helper, "encoding": "base64"},
            ],
            "stdin": "hello\n",
            "args": ["one", "two words"],
            "compile_timeout": 10000,
            "run_timeout": 3000,
            "compile_cpu_time": 10000,
            "run_cpu_time": 3000,
            "compile_memory_limit": -1,
            "run_memory_limit": -1,
        }),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.body.get("data").is_none(), "enveloped: {}", a.text);
    assert_eq!(a.body["language"], "python");
    assert_eq!(a.body["version"], python_version());
    assert!(
        a.body.get("compile").is_none(),
        "python has no compile stage: {}",
        a.text
    );
    let run = &a.body["run"];
    assert_stage(run);
    assert_eq!(run["stdout"], "HELLO ['one', 'two words']\nend\n");
    assert_eq!(run["stderr"], "err\n");
    assert_eq!(run["output"], "HELLO ['one', 'two words']\nerr\nend\n");
    assert_eq!(run["code"], 0);
    assert_eq!(run["signal"], Value::Null);
    assert_eq!(run["message"], Value::Null);
    assert_eq!(run["status"], Value::Null);
    assert!(run["wall_time"].as_u64().unwrap() >= 200, "{run}");
    assert!(run["cpu_time"].as_u64().is_some(), "{run}");
    assert!(
        run["memory"].is_null() || run["memory"].as_u64().unwrap() > 1024,
        "{run}"
    );
    assert_eq!(a.header("x-quota-limit"), Some("235000"));
}

#[tokio::test]
async fn execute_c_has_a_compile_stage_and_takes_hex_files() {
    let s = TestServer::start(config()).await;
    let header: String = "#define ANSWER 42\n"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let code = "#include <stdio.h>\n#include \"answer.h\"\nint main(int argc, char **argv){printf(\"%d %s\\n\", ANSWER, argv[1]); return 7;}\n";
    let a = execute(
        &s,
        json!({
            "language": "c",
            "version": "*",
            "files": [{"content": code}, {"name": "answer.h", "content": header, "encoding": "hex"}],
            "args": ["x"],
        }),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let compile = &a.body["compile"];
    assert_stage(compile);
    assert_eq!(compile["code"], 0);
    assert_eq!(compile["status"], Value::Null);
    let run = &a.body["run"];
    assert_stage(run);
    assert_eq!(run["stdout"], "42 x\n");
    assert_eq!(run["code"], 7);
    assert_eq!(run["status"], "RE");
    assert_eq!(run["message"], "Exited with error status 7");
    let c = catalog().compiler(&default_compiler("c")).unwrap().clone();
    assert_eq!(a.body["version"], c.version);

    // A compile error: compile says why, and run is a copy of it.
    let a = execute(
        &s,
        json!({"language": "c", "version": "*", "files": [{"content": "int main(void) { return nope; }"}]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["compile"]["code"], 1);
    assert_eq!(a.body["compile"]["status"], "RE");
    assert!(a.body["compile"]["stderr"]
        .as_str()
        .unwrap()
        .contains("nope"));
    assert_eq!(a.body["run"], a.body["compile"]);
}

#[tokio::test]
async fn versions_are_semver_ranges() {
    let s = TestServer::start(config()).await;
    let v = python_version();
    let major = v.split('.').next().unwrap();
    let file = json!([{"content": "print('ok')"}]);
    for range in [
        v.as_str(),
        &format!("{major}.x"),
        "*",
        &format!(">={major}"),
    ] {
        let a = execute(
            &s,
            json!({"language": "python", "version": range, "files": file}),
        )
        .await;
        assert_eq!(a.status, 200, "{range}: {}", a.text);
        assert_eq!(a.body["run"]["stdout"], "ok\n");
    }
    // A compiler name works as a language too (Piston's `runtime`).
    let a = execute(
        &s,
        json!({"language": default_compiler("python"), "version": "*", "files": file}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = execute(
        &s,
        json!({"language": "python", "version": "99.x", "files": file}),
    )
    .await;
    assert_message(&a, 400, "python-99.x runtime is unknown");
    assert!(
        a.text.contains(&v),
        "the installed versions are listed: {}",
        a.text
    );
    let a = execute(
        &s,
        json!({"language": "python", "version": "three", "files": file}),
    )
    .await;
    assert_message(&a, 400, "not a semver range");
    let a = execute(
        &s,
        json!({"language": "klingon", "version": "*", "files": file}),
    )
    .await;
    assert_message(&a, 400, "runtime is unknown");
}

#[tokio::test]
async fn limits_through_piston() {
    let mut cfg = config();
    cfg.limit_caps = LimitCaps {
        output_kb: Some(4),
        ..LimitCaps::default()
    };
    let s = TestServer::start(cfg).await;
    let run = |code: &str, extra: Value| {
        let mut body = json!({"language": "python", "version": "*", "files": [{"content": code}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let started = Instant::now();
    let a = execute(
        &s,
        run("import time\ntime.sleep(30)", json!({"run_timeout": 500})),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let r = &a.body["run"];
    assert_eq!(r["status"], "TO", "{r}");
    assert_eq!(r["signal"], "SIGKILL");
    assert_eq!(r["code"], Value::Null);
    assert!(r["message"].as_str().unwrap().contains("wall"), "{r}");

    let a = execute(&s, run("while True: pass", json!({"run_cpu_time": 300}))).await;
    assert_eq!(a.body["run"]["status"], "TO", "{}", a.text);

    let a = execute(
        &s,
        run(
            "x = bytearray(400 * 1024 * 1024)\nprint(len(x))",
            json!({"run_memory_limit": 64_000_000}),
        ),
    )
    .await;
    let r = &a.body["run"];
    assert_eq!(r["status"], "SG", "{r}");
    assert!(r["message"].as_str().unwrap().contains("Memory"), "{r}");

    // The compile step has its own memory limit: far too little for gcc.
    let a = execute(
        &s,
        json!({"language": "c", "version": "*", "compile_memory_limit": 2_000_000,
               "files": [{"content": "int main(void) { return 0; }"}]}),
    )
    .await;
    let c = &a.body["compile"];
    assert!(c["code"] != json!(0), "{}", a.text);
    assert!(
        a.body["run"] == *c,
        "a failed compile is copied into run: {}",
        a.text
    );

    let a = execute(&s, run("while True: print('x' * 100)", json!({}))).await;
    assert_eq!(a.body["run"]["status"], "OL", "{}", a.text);
    assert!(a.body["run"]["stdout"].as_str().unwrap().len() <= 4 << 10);
    let a = execute(
        &s,
        run(
            "import sys\nwhile True: sys.stderr.write('x' * 100)",
            json!({}),
        ),
    )
    .await;
    assert_eq!(a.body["run"]["status"], "EL", "{}", a.text);

    let a = execute(&s, run("import os\nos.abort()", json!({}))).await;
    let r = &a.body["run"];
    assert_eq!(
        (r["status"].as_str(), r["signal"].as_str()),
        (Some("SG"), Some("SIGABRT")),
        "{r}"
    );

    // Above this server's maximum: 400 with `message`, as on Piston.
    let a = execute(&s, run("print(1)", json!({"run_timeout": 100_000_000}))).await;
    assert_message(&a, 400, "run_timeout cannot exceed the configured limit of");
    let a = execute(
        &s,
        run("print(1)", json!({"compile_memory_limit": 1u64 << 50})),
    )
    .await;
    assert_message(&a, 400, "compile_memory_limit cannot exceed");
    let a = execute(&s, run("print(1)", json!({"run_cpu_time": "fast"}))).await;
    assert_message(&a, 400, "run_cpu_time must be a number");
    let a = execute(&s, run("print(1)", json!({"run_timeout": 0}))).await;
    assert_message(&a, 400, "run_timeout");
}

#[tokio::test]
async fn errors_are_messages_and_keys_work_as_on_v1() {
    let s = TestServer::start(config()).await;
    let a = execute(&s, json!({"version": "*", "files": [{"content": "1"}]})).await;
    assert_message(&a, 400, "language is required");
    let a = execute(
        &s,
        json!({"language": "python", "files": [{"content": "1"}]}),
    )
    .await;
    assert_message(&a, 400, "version is required");
    let a = execute(&s, json!({"language": "python", "version": "*"})).await;
    assert_message(&a, 400, "files is required");
    let a = execute(&s, json!({"language": "python", "version": "*", "files": [{"content": "!", "encoding": "base64"}]})).await;
    assert_message(&a, 400, "base64");
    let a = execute(&s, json!({"language": "python", "version": "*", "files": [{"content": "1"}, {"name": "../x", "content": ""}]})).await;
    assert_message(&a, 400, "files[1].name");
    let a = s
        .post_raw("/api/v2/execute", Some(("x-api-key", &s.key)), "not json")
        .await;
    assert_message(&a, 400, "not valid JSON");

    let body = json!({"language": "python", "version": "*", "files": [{"content": "print(2)"}]});
    let a = s
        .call(Method::POST, "/api/v2/execute", None, Some(body.clone()))
        .await;
    assert_message(&a, 401, "API key");
    // Piston's clients send the key bare in Authorization.
    let a = s
        .call(
            Method::POST,
            "/api/v2/execute",
            Some(("authorization", &s.key)),
            Some(body.clone()),
        )
        .await;
    assert_eq!(a.body["run"]["stdout"], "2\n", "{}", a.text);
    let a = s
        .call(
            Method::GET,
            "/api/v2/packages",
            Some(("x-api-key", &s.key)),
            None,
        )
        .await;
    assert_message(&a, 404, "no route");
}

// ---------------------------------------------------------------------------------------
// The WebSocket.

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(s: &TestServer, key: Option<&str>) -> Socket {
    let url = format!("{}/api/v2/connect", s.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    if let Some(key) = key {
        request
            .headers_mut()
            .insert("x-api-key", key.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connected")
        .0
}

/// Everything the server sends until it closes: messages (with when they came) and
/// the close code and reason.
async fn drain(
    ws: &mut Socket,
    started: Instant,
) -> (Vec<(Value, Duration)>, Option<(u16, String)>) {
    let mut messages = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Err(_) => panic!("no close after {messages:?}"),
            Ok(None) | Ok(Some(Err(_))) => return (messages, None),
            Ok(Some(Ok(Message::Text(t)))) => {
                messages.push((serde_json::from_str(t.as_str()).unwrap(), started.elapsed()))
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let frame = frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned()));
                return (messages, frame);
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

fn types(messages: &[(Value, Duration)]) -> Vec<String> {
    messages
        .iter()
        .map(|(m, _)| {
            let t = m["type"].as_str().unwrap();
            match t {
                "stage" => format!("stage:{}", m["stage"].as_str().unwrap()),
                "data" => format!("data:{}", m["stream"].as_str().unwrap()),
                "exit" => format!("exit:{}", m["stage"].as_str().unwrap()),
                other => other.to_owned(),
            }
        })
        .fold(Vec::new(), |mut acc: Vec<String>, t| {
            if acc.last() != Some(&t) || !t.starts_with("data:") {
                acc.push(t);
            }
            acc
        })
}

fn data_of(messages: &[(Value, Duration)], stream: &str) -> String {
    messages
        .iter()
        .filter(|(m, _)| m["type"] == "data" && m["stream"] == stream)
        .map(|(m, _)| m["data"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn websocket_runs_a_program_and_streams_its_output() {
    let s = TestServer::start(config()).await;
    let mut ws = connect(&s, Some(&s.key)).await;
    let started = Instant::now();
    let code = "import sys, time\nprint('got', input(), flush=True)\ntime.sleep(1)\nprint('oops', file=sys.stderr, flush=True)\nsys.exit(2)\n";
    send(
        &mut ws,
        json!({"type": "init", "language": "python", "version": "*", "files": [{"content": code}], "stdin": "up front\n"}),
    )
    .await;
    let (messages, close) = drain(&mut ws, started).await;
    assert_eq!(close, Some((4999, "Job Completed".to_owned())));
    assert_eq!(
        types(&messages),
        [
            "runtime",
            "stage:run",
            "data:stdout",
            "data:stderr",
            "exit:run"
        ],
        "{messages:?}"
    );
    assert_eq!(messages[0].0["language"], "python");
    assert_eq!(messages[0].0["version"], python_version());
    assert_eq!(data_of(&messages, "stdout"), "got up front\n");
    assert_eq!(data_of(&messages, "stderr"), "oops\n");
    let exit = &messages.last().unwrap().0;
    assert_eq!(
        (exit["code"].clone(), exit["signal"].clone()),
        (json!(2), Value::Null)
    );
    // The first output came as it was printed, a second before the end.
    let first = messages
        .iter()
        .find(|(m, _)| m["type"] == "data")
        .unwrap()
        .1;
    let end = messages.last().unwrap().1;
    eprintln!("websocket: first data after {first:?}, exit after {end:?}");
    assert!(
        end - first >= Duration::from_millis(700),
        "{first:?} vs {end:?}"
    );
}

#[tokio::test]
async fn websocket_compile_stage_and_limits() {
    let s = TestServer::start(config()).await;
    let mut ws = connect(&s, Some(&s.key)).await;
    let code = "#include <stdio.h>\n#include <unistd.h>\nint main(void){puts(\"hi\"); fflush(stdout); sleep(30); return 0;}\n";
    send(
        &mut ws,
        json!({"type": "init", "language": "c", "version": "*", "files": [{"content": code}], "run_timeout": 700}),
    )
    .await;
    let (messages, close) = drain(&mut ws, Instant::now()).await;
    assert_eq!(close.map(|c| c.0), Some(4999));
    assert_eq!(
        types(&messages),
        [
            "runtime",
            "stage:compile",
            "exit:compile",
            "stage:run",
            "data:stdout",
            "exit:run"
        ],
        "{messages:?}"
    );
    let exit = &messages.last().unwrap().0;
    assert_eq!(exit["signal"], "SIGKILL", "{exit}");
    assert_eq!(exit["code"], Value::Null);
    assert_eq!(exit["status"], "TO");
}

#[tokio::test]
async fn websocket_close_codes() {
    let s = TestServer::start(config()).await;
    let init = json!({"type": "init", "language": "python", "version": "*", "files": [{"content": "import time\nprint('up', flush=True)\ntime.sleep(30)"}]});

    // No init within a second.
    let mut ws = connect(&s, Some(&s.key)).await;
    let (_, close) = drain(&mut ws, Instant::now()).await;
    assert_eq!(close, Some((4001, "Initialization Timeout".to_owned())));

    // Data before init.
    let mut ws = connect(&s, Some(&s.key)).await;
    send(
        &mut ws,
        json!({"type": "data", "stream": "stdin", "data": "x"}),
    )
    .await;
    let (_, close) = drain(&mut ws, Instant::now()).await;
    assert_eq!(close.map(|c| c.0), Some(4003));

    // A bad init: an error message, then 4002.
    let mut ws = connect(&s, Some(&s.key)).await;
    send(
        &mut ws,
        json!({"type": "init", "language": "klingon", "version": "*", "files": [{"content": ""}]}),
    )
    .await;
    let (messages, close) = drain(&mut ws, Instant::now()).await;
    assert_eq!(close, Some((4002, "Notified Error".to_owned())));
    assert_eq!(messages[0].0["type"], "error");
    assert!(messages[0].0["message"]
        .as_str()
        .unwrap()
        .contains("runtime is unknown"));

    // A second init, output on a stream other than stdin, an unknown signal.
    for (message, code) in [
        (init.clone(), 4000),
        (
            json!({"type": "data", "stream": "stdout", "data": "x"}),
            4004,
        ),
        (json!({"type": "signal", "signal": "SIGNOPE"}), 4005),
    ] {
        let mut ws = connect(&s, Some(&s.key)).await;
        send(&mut ws, init.clone()).await;
        // Wait until it runs.
        loop {
            let m = ws.next().await.unwrap().unwrap();
            if m.to_text().unwrap().contains("\"data\"") {
                break;
            }
        }
        send(&mut ws, message).await;
        let (_, close) = drain(&mut ws, Instant::now()).await;
        assert_eq!(close.map(|c| c.0), Some(code));
    }

    // A signal reaches the program: it dies of SIGTERM, then 4999, long before its 30 s.
    let started = Instant::now();
    let mut ws = connect(&s, Some(&s.key)).await;
    send(&mut ws, init.clone()).await;
    loop {
        let m = ws.next().await.unwrap().unwrap();
        if m.to_text().unwrap().contains("\"data\"") {
            break;
        }
    }
    send(&mut ws, json!({"type": "signal", "signal": "SIGTERM"})).await;
    let (messages, close) = drain(&mut ws, started).await;
    assert_eq!(close.map(|c| c.0), Some(4999));
    let exit = &messages.last().unwrap().0;
    assert_eq!(
        (exit["type"].as_str(), exit["signal"].as_str()),
        (Some("exit"), Some("SIGTERM"))
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Without a key on a keyed server: refused before the upgrade.
    let url = format!("{}/api/v2/connect", s.base.replacen("http", "ws", 1));
    let e = tokio_tungstenite::connect_async(url).await.unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
}

/// A program that reads a line, answers, and reads again: its stdin is fed while it
/// runs.
#[tokio::test]
async fn websocket_interactive_stdin_round_trips() {
    let s = TestServer::start(config()).await;
    let mut ws = connect(&s, Some(&s.key)).await;
    let code = "print('name?', flush=True)\nn = input()\nprint('hello', n, flush=True)\nprint('age?', flush=True)\na = input()\nprint(n, 'is', a, flush=True)\n";
    send(
        &mut ws,
        json!({"type": "init", "language": "python", "version": "*", "files": [{"content": code}]}),
    )
    .await;
    let mut seen = String::new();
    for (question, answer) in [("name?", "Ada\n"), ("age?", "36\n")] {
        while !seen.contains(question) {
            let m = ws.next().await.unwrap().unwrap();
            let v: Value = serde_json::from_str(m.to_text().unwrap()).unwrap();
            if v["type"] == "data" {
                seen.push_str(v["data"].as_str().unwrap());
            }
        }
        send(
            &mut ws,
            json!({"type": "data", "stream": "stdin", "data": answer}),
        )
        .await;
    }
    let (messages, close) = drain(&mut ws, Instant::now()).await;
    assert_eq!(close.map(|c| c.0), Some(4999));
    seen.push_str(&data_of(&messages, "stdout"));
    assert!(
        seen.contains("hello Ada") && seen.contains("Ada is 36"),
        "{seen}"
    );
}

#[tokio::test]
async fn no_auth_server_needs_no_key_on_any_path() {
    let mut cfg = config();
    cfg.auth = false;
    let s = TestServer::start(cfg).await;
    let a = s
        .call(
            Method::POST,
            "/api/v2/execute",
            None,
            Some(json!({"language": "python", "version": "*", "files": [{"content": "print(3)"}]})),
        )
        .await;
    assert_eq!(a.body["run"]["stdout"], "3\n", "{}", a.text);
    let mut ws = connect(&s, None).await;
    send(&mut ws, json!({"type": "init", "language": "python", "version": "*", "files": [{"content": "print(4)"}]})).await;
    let (messages, close) = drain(&mut ws, Instant::now()).await;
    assert_eq!(close.map(|c| c.0), Some(4999));
    assert_eq!(data_of(&messages, "stdout"), "4\n");
}
