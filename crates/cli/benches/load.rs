//! Load on the real `codeexec serve` process (issue 6, tables 3–5), as root:
//!
//!     cargo bench -p codeexec --bench load [-- --runs N --seconds S]
//!
//! 3. Throughput: Python hello world through `GET /v1/run` with 8 and 64 clients
//!    at once, next to the bare spawn rate of the same program at the same
//!    parallelism (`xargs -P`), interleaved, median of three rounds.
//! 4. Memory: the server's resident set before any request, at its peak under the
//!    load of (3), and idle again afterwards.
//! 5. Scaling: clients 1 → 256 against the default slots and queue, each for a few
//!    seconds: completed runs per second, latency of the completed ones, and how
//!    many got 503 (clients wait the Retry-After and try again, as well-behaved
//!    clients do).
//!
//! The load generator runs in this process on the same 2 cores as the server, as
//! xargs and its children do for the bare figure.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HELLO: &str = "print(\"Hello, world!\")\n";

struct Options {
    /// Runs per throughput measurement.
    runs: usize,
    /// Length of each scaling step.
    seconds: u64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Options {
        runs: value("--runs").unwrap_or(400) as usize,
        seconds: value("--seconds").unwrap_or(5),
    }
}

/// A `codeexec serve` child on a free loopback port, with a fresh data directory.
struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_codeexec"))
            .args(["serve", "--no-auth", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data.path())
            .args(extra)
            .env("CODEEXEC_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start codeexec serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Resident set size and its high-water mark, in KiB, from /proc.
    fn memory_kb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        (status_kb(&status, "VmRSS:"), status_kb(&status, "VmHWM:"))
    }
}

/// A `Name:   123 kB` field of /proc/<pid>/status, in KiB (0 if absent).
fn status_kb(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) so far of a process itself and of its reaped
/// children, from /proc/<pid>/stat.
fn cpu_of(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<u64> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf only reads a configuration value.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let secs = |ticks: u64| Duration::from_secs_f64(ticks as f64 / tick);
    // utime, stime, cutime, cstime are fields 14–17 of stat(5); index 0 here is 3.
    (secs(fields[11] + fields[12]), secs(fields[13] + fields[14]))
}

/// CPU time of this process's reaped children (xargs and its pythons).
fn children_cpu() -> Duration {
    rusage(libc::RUSAGE_CHILDREN)
}

/// CPU time of this process (the load generator).
fn own_cpu() -> Duration {
    rusage(libc::RUSAGE_SELF)
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// What one batch of requests did.
#[derive(Default)]
struct Tally {
    ok: usize,
    busy: usize,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// One request; `Some(latency)` when it ran the program, `None` for a 503.
async fn one(client: &reqwest::Client, url: &str) -> Option<Duration> {
    let started = Instant::now();
    let response = client
        .get(url)
        .query(&[("language", "python"), ("code", HELLO)])
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let body = response.text().await.unwrap();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    assert!(
        status.is_success() && body.contains("Hello, world!"),
        "{status}: {body}"
    );
    Some(started.elapsed())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// `runs` requests from `clients` concurrent clients; runs per second.
async fn server_rate(server: &Server, clients: usize, runs: usize) -> f64 {
    let url = Arc::new(format!("{}/v1/run", server.base));
    let left = Arc::new(AtomicUsize::new(runs));
    let client = client();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, left) = (client.clone(), url.clone(), left.clone());
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    assert!(
                        one(&client, &url).await.is_some(),
                        "503 in the throughput test: raise --queue-limit"
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    runs as f64 / started.elapsed().as_secs_f64()
}

/// `runs` bare `python3 prog.py` spawned by `xargs -P clients`; runs per second.
fn bare_rate(clients: usize, runs: usize, program: &std::path::Path) -> f64 {
    let input: String = (0..runs).map(|i| format!("{i}\n")).collect();
    let started = Instant::now();
    let mut xargs = Command::new("xargs")
        .args(["-P", &clients.to_string(), "-n", "1", "/usr/bin/python3"])
        .arg(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("xargs");
    xargs
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(xargs.wait().unwrap().success());
    runs as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn throughput_and_memory(opts: &Options) {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("prog.py");
    std::fs::write(&program, HELLO).unwrap();
    // Room for every client in the queue: this table is about throughput, not 503s.
    let server = Server::start(&["--queue-limit", "1024"]);
    let (start_rss, _) = server.memory_kb();

    // Sample the resident set while the load runs.
    let sampling = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, peak) = (sampling.clone(), peak.clone());
        let path = format!("/proc/{}/status", server.child.id());
        std::thread::spawn(move || {
            while sampling.load(Ordering::SeqCst) {
                if let Ok(status) = std::fs::read_to_string(&path) {
                    peak.fetch_max(status_kb(&status, "VmRSS:"), Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // Warm-up: page cache, the server's first connections.
    server_rate(&server, 8, 40).await;
    bare_rate(8, 40, &program);

    let mut rows = Vec::new();
    let pid = server.child.id();
    let per_run = |d: Duration, rounds: usize| d.as_secs_f64() * 1e3 / (rounds * opts.runs) as f64;
    for clients in [8, 64] {
        let (mut bare, mut ours) = (Vec::new(), Vec::new());
        let (mut bare_cpu, mut server_cpu, mut box_cpu) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..3 {
            let before = children_cpu();
            bare.push(bare_rate(clients, opts.runs, &program));
            bare_cpu += children_cpu() - before;
            let (own, children) = cpu_of(pid);
            ours.push(server_rate(&server, clients, opts.runs).await);
            let (own_after, children_after) = cpu_of(pid);
            server_cpu += own_after - own;
            box_cpu += children_after - children;
        }
        rows.push((
            clients,
            median(bare),
            median(ours),
            per_run(bare_cpu, 3),
            per_run(server_cpu, 3),
            per_run(box_cpu, 3),
        ));
    }
    sampling.store(false, Ordering::SeqCst);
    sampler.join().unwrap();
    let (_, hwm) = server.memory_kb();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (idle_rss, _) = server.memory_kb();

    println!(
        "## Throughput: Python hello world, {} runs per cell, median of 3 interleaved rounds\n",
        opts.runs
    );
    println!("| clients | bare `xargs -P` runs/s | codeexec GET /v1/run runs/s | ratio | bare CPU ms/run | server CPU ms/run | boxes CPU ms/run |");
    println!("|---|---|---|---|---|---|---|");
    for (clients, bare, ours, bare_cpu, server_cpu, box_cpu) in rows {
        println!(
            "| {clients} | {bare:.0} | {ours:.0} | {:.0} % | {bare_cpu:.1} | {server_cpu:.1} | {box_cpu:.1} |",
            ours / bare * 100.0
        );
    }
    println!("\n## Server memory (resident set of the `codeexec serve` process)\n");
    println!("| moment | RSS MiB |");
    println!("|---|---|");
    println!(
        "| started, before any request | {:.1} |",
        start_rss as f64 / 1024.0
    );
    println!(
        "| peak under the load above (sampled every 20 ms) | {:.1} |",
        peak.load(Ordering::SeqCst) as f64 / 1024.0
    );
    println!("| high-water mark (VmHWM) | {:.1} |", hwm as f64 / 1024.0);
    println!(
        "| idle again, 2 s after the load | {:.1} |",
        idle_rss as f64 / 1024.0
    );
}

/// Each client loops for `seconds`: a request; on 503 it waits the Retry-After.
/// Only answers that arrive within the window count, so the rate is per second of
/// the window (clients still waiting at its end do not stretch it).
async fn scaling_step(server: &Server, clients: usize, seconds: u64) -> (f64, Tally) {
    let url = Arc::new(format!("{}/v1/run", server.base));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let client = client();
    let until = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, tally) = (client.clone(), url.clone(), tally.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let answer = one(&client, &url).await;
                    if Instant::now() > until {
                        break;
                    }
                    match answer {
                        Some(latency) => {
                            let mut t = tally.lock().unwrap();
                            t.ok += 1;
                            t.latencies.push(latency);
                        }
                        None => {
                            tally.lock().unwrap().busy += 1;
                            let left = until.saturating_duration_since(Instant::now());
                            tokio::time::sleep(left.min(Duration::from_secs(1))).await;
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = seconds as f64;
    let mut tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    tally.latencies.sort();
    (tally.ok as f64 / elapsed, tally)
}

async fn scaling(opts: &Options) {
    let server = Server::start(&[]);
    scaling_step(&server, 2, 1).await;
    println!(
        "\n## Scaling: clients 1 → 256, {} s each, default slots and queue\n",
        opts.seconds
    );
    println!("| clients | runs/s | median ms | p99 ms | max ms | 503s | share 503 | CPU: server | boxes | load generator |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let pid = server.child.id();
    for clients in [1, 2, 4, 8, 16, 32, 64, 128, 256] {
        let ((server_before, boxes_before), client_before) = (cpu_of(pid), own_cpu());
        let (rate, t) = scaling_step(&server, clients, opts.seconds).await;
        let ((server_after, boxes_after), client_after) = (cpu_of(pid), own_cpu());
        // Shares of the machine's CPU time during the step.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let share = |d: Duration| d.as_secs_f64() * 100.0 / (opts.seconds as f64 * cores);
        let total = (t.ok + t.busy).max(1);
        println!(
            "| {clients} | {rate:.0} | {} | {} | {} | {} | {:.0} % | {:.0} % | {:.0} % | {:.0} % |",
            ms(percentile(&t.latencies, 50)),
            ms(percentile(&t.latencies, 99)),
            ms(t.latencies.last().copied().unwrap_or_default()),
            t.busy,
            t.busy as f64 * 100.0 / total as f64,
            share(server_after - server_before),
            share(boxes_after - boxes_before),
            share(client_after - client_before),
        );
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let opts = options();
    throughput_and_memory(&opts).await;
    scaling(&opts).await;
}
