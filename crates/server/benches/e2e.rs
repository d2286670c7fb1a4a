//! End-to-end latency through HTTP (issue 6, table 2): the hello world of each
//! language through `GET /v1/run` and `POST /v1/run` on a real server (real engine,
//! sandbox, SQLite, `--no-auth`), next to the bare compile+run of the same program with
//! the same toolchain on the same machine, interleaved run by run. Every compiled
//! request carries a source of its own (a numbered comment), so the compile cache
//! misses and the compile really runs; "engine" runs the same job on an engine in
//! this process (no HTTP, no compile cache); a last column sends the same source
//! again and again: the compile cache's hit. Run as root:
//! `cargo bench -p codeexec-server --bench e2e [-- --runs N]`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeexec_catalog::{Catalog, Definitions, DetectOptions, Recipe};
use codeexec_engine::{run_job, sandbox_config_for, Job, JobStatus};
use codeexec_sandbox::{Sandbox, SandboxConfig};
use codeexec_server::{build_engine, serve_on, ServerConfig};
use codeexec_store::{SqliteStore, Store};

const LANGUAGES: [&str; 7] = ["python", "javascript", "c", "c++", "java", "go", "rust"];

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[((samples.len() * 99).div_ceil(100)).saturating_sub(1)]
}

/// `template` with a comment numbered `n` appended (a new cache key, same program).
fn numbered(recipe: &Recipe, template: &str, n: usize) -> String {
    let comment = if recipe.language_id == "python" {
        "#"
    } else {
        "//"
    };
    format!("{template}\n{comment} request {n}\n")
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// Compiles and runs the template on the host, in a fresh directory that also holds
/// HOME, TMPDIR and every cache the recipe points into /tmp (a box starts empty too).
fn bare(recipe: &Recipe, source: &str) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(&recipe.source_file), source).unwrap();
    let env: Vec<(String, String)> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
        ("HOME", d.display().to_string()),
        ("TMPDIR", d.display().to_string()),
        ("LANG", "C.UTF-8".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(recipe.env.iter().map(|(k, v)| {
        let v = match v.strip_prefix("/tmp") {
            Some(rest) => format!("{}{rest}", d.display()),
            None => v.clone(),
        };
        (k.clone(), v)
    }))
    .collect();
    let run = |argv: &[String], cwd: &Path| {
        let ok = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(cwd)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "bare {argv:?} failed");
    };
    let started = Instant::now();
    for step in &recipe.compile {
        run(step, d);
    }
    run(&recipe.run, d);
    started.elapsed()
}

type Stop = tokio::sync::oneshot::Sender<()>;
type Running = tokio::task::JoinHandle<Result<(), codeexec_server::ServeError>>;

/// A server (`--no-auth`) on a free loopback port with a compile cache of
/// `cache_bytes` (0: none); its base URL, stop switch, task and data directory.
async fn start_server(
    catalog: &Catalog,
    cache_bytes: u64,
) -> (String, Stop, Running, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        auth: false,
        data_dir: data.path().to_owned(),
        compile_cache_bytes: cache_bytes,
        ..ServerConfig::default()
    };
    let engine = build_engine(&config, catalog).expect("a working sandbox (run as root)");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_dir(data.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(
        listener,
        config,
        catalog.clone(),
        engine,
        store,
        async {
            let _ = stopped.await;
        },
    ));
    (base, stop, server, data)
}

/// Sends `request` and waits for the whole answer, which must be a successful run
/// that printed the greeting.
async fn timed(request: reqwest::RequestBuilder) -> Duration {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let ok = response.status().is_success();
    let body = response.text().await.unwrap();
    let took = started.elapsed();
    assert!(
        ok && body.contains("Hello, world!"),
        "the run did not print Hello, world!: {body}"
    );
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);

    // `--only c,rust`: just those languages.
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_string).collect());

    let defs = Definitions::load_dir(&codeexec_catalog::source_catalog_dir()).unwrap();
    let catalog = Catalog::detect(&defs, &DetectOptions::default());
    let (base, stop, server, _data) = start_server(&catalog, 1 << 30).await;
    // The same server without a compile cache: what caching costs a miss.
    let (base_off, stop_off, server_off, _data_off) = start_server(&catalog, 0).await;
    let client = reqwest::Client::new();
    let sandbox = Sandbox::new(sandbox_config_for(&catalog, SandboxConfig::default()))
        .expect("a working sandbox (run as root)");

    println!("runs per cell: {runs} (compiled languages: fewer, see the n column); ms\n");
    println!("| language | compiler | n | bare compile+run | GET median | GET p99 | POST median | POST p99 | GET − bare | GET / bare | GET cache off | engine, no HTTP, no cache | GET cached compile |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for language in LANGUAGES {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|l| l == language))
        {
            continue;
        }
        let Ok(recipe) = catalog.resolve(language, None, &[], &[], &[]) else {
            println!("| {language} | not installed | | | | | | | | | | | |");
            continue;
        };
        let template = catalog
            .compiler(&recipe.compiler)
            .map(|c| c.template.clone())
            .unwrap();
        let n = if recipe.compile.is_empty() {
            runs
        } else {
            (runs / 4).max(3)
        };
        let compiled = !recipe.compile.is_empty();
        let (mut b, mut g, mut p, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut off, mut direct) = (Vec::new(), Vec::new());
        let get_from = |base: &str, source: String| {
            let request = client
                .get(format!("{base}/v1/run"))
                .query(&[("compiler", recipe.compiler.as_str()), ("code", &source)]);
            timed(request)
        };
        let get = |source: String| get_from(&base, source);
        let post = |source: String| {
            let request = client
                .post(format!("{base}/v1/run"))
                .json(&serde_json::json!({"compiler": recipe.compiler, "code": source}));
            timed(request)
        };
        for i in 0..n + 1 {
            // Interpreted languages have nothing to cache: the template every time.
            let source = |k: usize| {
                if compiled {
                    numbered(&recipe, &template, 5 * i + k)
                } else {
                    template.clone()
                }
            };
            let bare_t = bare(&recipe, &source(0));
            let get_t = get(source(1)).await;
            let post_t = post(source(2)).await;
            let off_t = get_from(&base_off, source(3)).await;
            // The same job straight on an engine in this process: what HTTP adds.
            let job = Job::new(recipe.clone(), source(4));
            let direct_t = tokio::task::block_in_place(|| {
                let started = Instant::now();
                let result = run_job(&sandbox, &job, &mut |_| {});
                assert_eq!(result.status, JobStatus::Ok, "{result:?}");
                started.elapsed()
            });
            let cached_t = if compiled {
                Some(get(template.clone()).await)
            } else {
                None
            };
            if i > 0 {
                // The first round warms caches for everyone (and fills the
                // compile cache with the template).
                b.push(bare_t);
                g.push(get_t);
                p.push(post_t);
                off.push(off_t);
                direct.push(direct_t);
                c.extend(cached_t);
            }
        }
        let (bm, gm) = (median(&mut b), median(&mut g));
        let cached = if c.is_empty() {
            "—".to_string()
        } else {
            ms(median(&mut c))
        };
        println!(
            "| {} | {} | {n} | {} | {} | {} | {} | {} | {:+.1} | {:.2}x | {} | {} | {cached} |",
            recipe.language,
            recipe.compiler,
            ms(bm),
            ms(gm),
            ms(p99(&mut g)),
            ms(median(&mut p)),
            ms(p99(&mut p)),
            (gm.as_secs_f64() - bm.as_secs_f64()) * 1e3,
            gm.as_secs_f64() / bm.as_secs_f64(),
            ms(median(&mut off)),
            ms(median(&mut direct)),
        );
    }
    for (stop, server) in [(stop, server), (stop_off, server_off)] {
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    }
}
