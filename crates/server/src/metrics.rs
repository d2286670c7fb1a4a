//! Prometheus metrics, kept in memory and rendered as text: requests by route, method
//! and status code; runs by status and language; the engine's queue; run durations.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use codeexec_engine::{CacheStats, QueueStats};

use crate::state::AppState;

/// Upper bounds (seconds) of the run duration histogram's buckets.
const DURATION_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Observations at or below each bucket's bound (not cumulative yet).
    counts: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        if let Some(i) = DURATION_BUCKETS.iter().position(|&b| secs <= b) {
            self.counts[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<(String, String, u16), u64>,
    runs: BTreeMap<(String, String), u64>,
    run_seconds: Histogram,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<Counters>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            counters: Mutex::default(),
            started: Instant::now(),
        }
    }
}

impl Metrics {
    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_request(&self, route: &str, method: &str, code: u16) {
        *self
            .counters()
            .requests
            .entry((route.to_owned(), method.to_owned(), code))
            .or_default() += 1;
    }

    /// A job that ran (or failed inside codeexec), with how long the engine took.
    pub fn record_run(&self, status: &str, language: &str, took: Duration) {
        let mut c = self.counters();
        *c.runs
            .entry((status.to_owned(), language.to_owned()))
            .or_default() += 1;
        c.run_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition format (version 0.0.4).
    /// `cache` is `None` when the compile cache is off.
    pub fn render(&self, queue: QueueStats, cache: Option<CacheStats>) -> String {
        let c = self.counters();
        let mut out = String::new();
        family(
            &mut out,
            "codeexec_http_requests_total",
            "counter",
            "HTTP requests answered, by route, method and status code.",
        );
        for ((route, method, code), n) in &c.requests {
            let _ = writeln!(
                out,
                "codeexec_http_requests_total{{route=\"{}\",method=\"{}\",code=\"{code}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        family(
            &mut out,
            "codeexec_runs_total",
            "counter",
            "Jobs run, by result status and language.",
        );
        for ((status, language), n) in &c.runs {
            let _ = writeln!(
                out,
                "codeexec_runs_total{{status=\"{}\",language=\"{}\"}} {n}",
                escape(status),
                escape(language)
            );
        }
        family(
            &mut out,
            "codeexec_run_duration_seconds",
            "histogram",
            "Time from submitting a job to its result, queueing included.",
        );
        let mut cumulative = 0;
        for (bound, n) in DURATION_BUCKETS.iter().zip(c.run_seconds.counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "codeexec_run_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let h = &c.run_seconds;
        let _ = writeln!(
            out,
            "codeexec_run_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "codeexec_run_duration_seconds_sum {}", h.sum);
        let _ = writeln!(out, "codeexec_run_duration_seconds_count {}", h.count);
        let uptime = self.started.elapsed().as_secs() as usize;
        for (name, help, value) in [
            (
                "codeexec_jobs_running",
                "Jobs running in a sandbox slot now.",
                queue.running,
            ),
            (
                "codeexec_jobs_waiting",
                "Jobs waiting for a slot now.",
                queue.waiting,
            ),
            ("codeexec_slots", "Sandbox slots.", queue.slots),
            (
                "codeexec_queue_limit",
                "Jobs allowed to wait for a slot before new ones get a 503.",
                queue.queue_limit,
            ),
            (
                "codeexec_uptime_seconds",
                "Seconds since the server started.",
                uptime,
            ),
        ] {
            family(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        if let Some(cache) = cache {
            render_cache(&mut out, cache);
        }
        out
    }
}

fn render_cache(out: &mut String, cache: CacheStats) {
    for (name, kind, help, value) in [
        (
            "codeexec_compile_cache_hits_total",
            "counter",
            "Compiles answered from the compile cache.",
            cache.hits,
        ),
        (
            "codeexec_compile_cache_misses_total",
            "counter",
            "Compiles looked up and not found.",
            cache.misses,
        ),
        (
            "codeexec_compile_cache_stores_total",
            "counter",
            "Compiles kept.",
            cache.stores,
        ),
        (
            "codeexec_compile_cache_refused_total",
            "counter",
            "Compiles not kept (too big, or not plain files and directories).",
            cache.refused,
        ),
        (
            "codeexec_compile_cache_evictions_total",
            "counter",
            "Entries removed to stay within the size budget.",
            cache.evictions,
        ),
        (
            "codeexec_compile_cache_entries",
            "gauge",
            "Entries in the compile cache.",
            cache.entries,
        ),
        (
            "codeexec_compile_cache_bytes",
            "gauge",
            "Size of the compile cache's entries.",
            cache.bytes,
        ),
    ] {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

/// The HELP and TYPE lines of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A method as a label: the standard ones by name, anything else as `other` (so
/// clients cannot grow the label set without bound).
fn method_label(method: &Method) -> &'static str {
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|m| *m == method)
        .map_or("other", |m| m.as_str())
}

/// Middleware: counts the request by route (its pattern, not its path, so ids do not
/// explode the label set) and logs it.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let code = response.status().as_u16();
    state
        .metrics()
        .record_request(&route, method_label(&method), code);
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info!(
        %method,
        path = ?path,
        code,
        ms = started.elapsed().as_millis() as u64,
        request_id,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.record_request("/v1/run", "GET", 200);
        m.record_request("/v1/run", "GET", 200);
        m.record_run("ok", "Python", Duration::from_millis(30));
        m.record_run("time_limit", "C \"weird\"", Duration::from_secs(90));
        let text = m.render(
            QueueStats {
                running: 1,
                waiting: 2,
                slots: 2,
                queue_limit: 32,
            },
            Some(CacheStats {
                hits: 3,
                ..CacheStats::default()
            }),
        );
        assert!(text.contains(
            "codeexec_http_requests_total{route=\"/v1/run\",method=\"GET\",code=\"200\"} 2"
        ));
        assert!(text.contains("codeexec_runs_total{status=\"ok\",language=\"Python\"} 1"));
        assert!(text.contains("language=\"C \\\"weird\\\"\""));
        assert!(text.contains("codeexec_run_duration_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("codeexec_run_duration_seconds_bucket{le=\"60\"} 1"));
        assert!(text.contains("codeexec_run_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("codeexec_jobs_waiting 2"));
        assert!(text.contains("codeexec_compile_cache_hits_total 3"));
    }
}
