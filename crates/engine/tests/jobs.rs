//! Jobs end to end: the real catalogue, real compilers, the real sandbox (as root).

use std::sync::OnceLock;
use std::time::Duration;

use codeexec_catalog::{Catalog, Definitions, DetectOptions};
use codeexec_engine::*;
use codeexec_sandbox::{Sandbox, SandboxConfig};

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let defs = Definitions::load_dir(&codeexec_catalog::source_catalog_dir()).unwrap();
        Catalog::detect(&defs, &DetectOptions::default())
    })
}

fn sandbox() -> Sandbox {
    Sandbox::new(sandbox_config_for(catalog(), SandboxConfig::default())).unwrap()
}

fn job(language: &str, code: &str) -> Job {
    let recipe = catalog().resolve(language, None, &[], &[], &[]).unwrap();
    Job::new(recipe, code)
}

fn run(sb: &Sandbox, job: &Job) -> JobResult {
    run_job(sb, job, &mut |_| {})
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn python_reads_stdin_and_arguments() {
    let sb = sandbox();
    let mut j = job(
        "python",
        "import sys\nprint(sys.argv[1:], sys.stdin.read().upper())",
    );
    j.stdin = b"abc".to_vec();
    j.args = vec!["one".into(), "two words".into()];
    let r = run(&sb, &j);
    assert_eq!(r.status, JobStatus::Ok, "{r:?}");
    assert!(r.compile.is_none());
    assert_eq!(text(&r.run.unwrap().stdout), "['one', 'two words'] ABC\n");
}

#[test]
fn c_compiles_then_runs() {
    let sb = sandbox();
    let r = run(
        &sb,
        &job(
            "c",
            "#include <stdio.h>\nint main(void){puts(\"compiled\");return 0;}\n",
        ),
    );
    assert_eq!(r.status, JobStatus::Ok, "{r:?}");
    let compile = r.compile.unwrap();
    assert_eq!(compile.exit_code, Some(0));
    assert_eq!(text(&r.run.unwrap().stdout), "compiled\n");
}

#[test]
fn a_compile_error_carries_the_compiler_message() {
    let sb = sandbox();
    let r = run(
        &sb,
        &job("c", "int main(void) { return undeclared_name; }\n"),
    );
    assert_eq!(r.status, JobStatus::CompileError, "{r:?}");
    assert!(r.run.is_none());
    let compile = r.compile.unwrap();
    assert_ne!(compile.exit_code, Some(0));
    assert!(
        text(&compile.merged).contains("undeclared_name"),
        "{compile:?}"
    );
}

#[test]
fn statuses_follow_what_the_program_did() {
    let sb = sandbox();
    let r = run(&sb, &job("python", "import sys\nsys.exit(3)"));
    assert_eq!(r.status, JobStatus::RuntimeError);
    assert_eq!(r.run.unwrap().exit_code, Some(3));

    let r = run(&sb, &job("python", "import os\nos.abort()"));
    assert_eq!(r.status, JobStatus::Signaled);
    assert_eq!(r.run.unwrap().signal, Some(libc_sigabrt()));

    let mut j = job("python", "while True: pass");
    j.limits.run_cpu = Duration::from_millis(300);
    let r = run(&sb, &j);
    assert_eq!(r.status, JobStatus::TimeLimit);
    assert_eq!(r.run.unwrap().limit, Some("cpu_time"));

    let mut j = job("python", "x = bytearray(1 << 30)\nprint(len(x))");
    j.limits.memory_bytes = 64 << 20;
    let r = run(&sb, &j);
    assert!(
        matches!(r.status, JobStatus::MemoryLimit | JobStatus::RuntimeError),
        "{r:?}"
    );
    if r.status == JobStatus::RuntimeError {
        // CPython may fail the allocation itself (MemoryError) before the OOM killer.
        assert!(text(&r.run.unwrap().stderr).contains("MemoryError"));
    }

    let mut j = job("python", "while True: print('y' * 1000)");
    j.limits.output_bytes = 10_000;
    let r = run(&sb, &j);
    assert_eq!(r.status, JobStatus::OutputLimit);
    let out = r.run.unwrap();
    assert!(out.stdout_truncated && out.stdout.len() == 10_000);
}

fn libc_sigabrt() -> i32 {
    6
}

#[test]
fn output_streams_in_arrival_order() {
    let sb = sandbox();
    let j = job(
        "python",
        // Pauses between writes: two pipes have no common clock, so "arrival order"
        // is only defined for writes that do not race each other.
        "import sys, time\nprint('out1', flush=True)\ntime.sleep(0.1)\nprint('err1', file=sys.stderr, flush=True)\ntime.sleep(0.1)\nprint('out2', flush=True)",
    );
    let mut events = Vec::new();
    let r = run_job(&sb, &j, &mut |e| {
        if let Event::Output { bytes, .. } = e {
            events.push(text(bytes));
        }
    });
    let run = r.run.unwrap();
    assert_eq!(text(&run.merged), "out1\nerr1\nout2\n");
    assert_eq!(events.concat(), "out1\nerr1\nout2\n");
}

#[test]
fn extra_files_are_staged_and_traversal_refused() {
    let sb = sandbox();
    let mut j = job("python", "import helper\nprint(helper.VALUE)");
    j.files.push(SourceFile {
        name: "helper.py".into(),
        content: b"VALUE = 42\n".to_vec(),
    });
    let r = run(&sb, &j);
    assert_eq!(text(&r.run.unwrap().stdout), "42\n");

    let mut j = job("python", "print(1)");
    j.files.push(SourceFile {
        name: "../escape.py".into(),
        content: b"".to_vec(),
    });
    let r = run(&sb, &j);
    assert_eq!(r.status, JobStatus::InternalError);
    assert!(r.internal_error.unwrap().contains("escape.py"));
}

/// Polls `condition` until it holds (at most 10 s, for a loaded CI machine).
async fn wait_until(condition: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "condition never held"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once() {
    let engine = Engine::new(
        sandbox(),
        EngineConfig {
            slots: 1,
            queue_limit: 1,
        },
    );
    let slow = || job("python", "import time\ntime.sleep(1)\nprint('done')");
    let first = tokio::spawn({
        let e = engine.clone();
        let j = slow();
        async move { e.run(j).await }
    });
    wait_until(|| engine.stats().running == 1).await;
    let second = tokio::spawn({
        let e = engine.clone();
        let j = slow();
        async move { e.run(j).await }
    });
    wait_until(|| engine.stats().waiting == 1).await;
    assert_eq!(engine.stats().running, 1);
    let started = std::time::Instant::now();
    let third = engine.run(slow()).await;
    assert_eq!(third, Err(EngineError::QueueFull { waiting: 1 }));
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(first.await.unwrap().unwrap().status, JobStatus::Ok);
    assert_eq!(second.await.unwrap().unwrap().status, JobStatus::Ok);
    assert_eq!(engine.stats().waiting, 0);
    assert_eq!(engine.stats().running, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_request_cancels_its_job() {
    let engine = Engine::new(sandbox(), EngineConfig::default());
    let task = tokio::spawn({
        let e = engine.clone();
        let j = job("python", "import time\ntime.sleep(5)");
        async move { e.run(j).await }
    });
    wait_until(|| engine.stats().running == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    let started = std::time::Instant::now();
    while engine.stats().running > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the job kept running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_job_answers_input_given_while_it_runs() {
    let engine = Engine::new(sandbox(), EngineConfig::default());
    let mut j = job(
        "python",
        "name = input('name? ')\nprint('hello', name, flush=True)\nage = input()\nprint('age', age)",
    );
    j.stdin = b"ada\n".to_vec();
    let (events_tx, mut events_rx) = tokio::sync::mpsc::unbounded_channel();
    let (stdin_tx, stdin_rx) = tokio::sync::mpsc::unbounded_channel();
    let (_signal_tx, signal_rx) = tokio::sync::mpsc::unbounded_channel();
    let run = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .run_interactive(j, events_tx, stdin_rx, signal_rx)
                .await
        }
    });
    // Answer only after the program has greeted: a real round trip.
    let mut seen = String::new();
    while !seen.contains("hello ada") {
        match tokio::time::timeout(Duration::from_secs(10), events_rx.recv()).await {
            Ok(Some(StreamEvent::Output(_, _, bytes))) => seen.push_str(&text(&bytes)),
            Ok(Some(_)) => {}
            other => panic!("no greeting: {other:?} after {seen:?}"),
        }
    }
    stdin_tx.send(b"36\n".to_vec()).unwrap();
    drop(stdin_tx);
    let r = run.await.unwrap().unwrap();
    assert_eq!(r.status, JobStatus::Ok, "{r:?}");
    assert_eq!(text(&r.run.unwrap().stdout), "name? hello ada\nage 36\n");
}
