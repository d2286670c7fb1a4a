//! Drop-in compatible APIs: Wandbox's (`/api/compile.json` …) and Piston's
//! (`/api/v2/execute` …, WebSocket `/api/v2/connect`), on the same engine, keys, plans
//! and limits as `/v1`. A client of either service changes only its base URL.
//!
//! These routes answer in their API's own format, not in the `/v1` envelope: successes
//! as the original service sends them, errors as Wandbox does (a plain-text body with
//! an HTTP error code) or as Piston does (`{"message": "…"}`). Refusals raised before a
//! handler runs (a missing key, the rate limit, the quota) are rewritten into that
//! format by [`errors_in_api_format`], keeping their status and headers.

pub mod openapi;
pub mod piston;
pub mod wandbox;
pub mod ws;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use codeexec_catalog::{Catalog, ResolveError};
use codeexec_engine::{Job, JobResult, StreamEvent};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::envelope::Pending;
use crate::error::ApiError;
use crate::routes::run::run_on_engine_with_stdin;
use crate::state::AppState;

/// Which compatible API a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Wandbox,
    Piston,
}

impl Api {
    /// The API of `path`: `/api/v2/…` is Piston's, any other `/api/…` Wandbox's.
    pub fn of_path(path: &str) -> Option<Api> {
        if path.starts_with("/api/v2/") || path == "/api/v2" {
            Some(Api::Piston)
        } else if path.starts_with("/api/") || path == "/api" {
            Some(Api::Wandbox)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::Wandbox => "Wandbox",
            Api::Piston => "Piston",
        }
    }

    /// An error response in this API's format.
    pub fn error(self, status: StatusCode, message: &str) -> Response {
        let mut response = match self {
            Api::Wandbox => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{message}\n"),
            )
                .into_response(),
            Api::Piston => (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                json!({ "message": message }).to_string(),
            )
                .into_response(),
        };
        response.extensions_mut().insert(Unenveloped);
        response
    }

    /// `e` in this API's format, with its status and headers (Retry-After …).
    pub fn render(self, e: ApiError) -> Response {
        let response = e.into_response();
        self.rewrite(response, None)
    }

    /// `response` (an error raised anywhere on a route of this API) in this API's
    /// format; `text` is its message if it carries no [`Pending`] envelope.
    fn rewrite(self, response: Response, text: Option<String>) -> Response {
        let message = match response.extensions().get::<Pending>() {
            Some(p) => p.message().to_owned(),
            None => text.unwrap_or_else(|| {
                response
                    .status()
                    .canonical_reason()
                    .unwrap_or("request failed")
                    .to_owned()
            }),
        };
        let (parts, _) = response.into_parts();
        let mut out = self.error(parts.status, &message);
        for (name, value) in &parts.headers {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                out.headers_mut().insert(name.clone(), value.clone());
            }
        }
        out
    }
}

/// Marks a response that must reach the client as it is (not rewritten into the
/// `/v1` envelope).
#[derive(Debug, Clone, Copy)]
pub struct Unenveloped;

/// Largest bare error body read to recover a message from.
const MAX_BARE_BODY: usize = 16 << 10;

/// Middleware on every compatible route: errors leave in the API's own format.
pub async fn errors_in_api_format(request: Request, next: Next) -> Response {
    let Some(api) = Api::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let mut response = next.run(request).await;
    let failed = response.status().is_client_error() || response.status().is_server_error();
    if response.extensions().get::<Unenveloped>().is_some() {
        return response;
    }
    if response.extensions().get::<Pending>().is_some() {
        return api.rewrite(response, None);
    }
    if failed {
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, MAX_BARE_BODY)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .unwrap_or_default();
        let rebuilt = Response::from_parts(parts, Body::empty());
        return api.rewrite(rebuilt, Some(text).filter(|t| !t.is_empty()));
    }
    response.extensions_mut().insert(Unenveloped);
    response
}

/// A JSON body with the right content type, never enveloped.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response();
    response.extensions_mut().insert(Unenveloped);
    response
}

/// A resolve error as text naming the field in the catalogue's (Wandbox's) spelling.
pub fn resolve_message(e: &ResolveError) -> String {
    format!("{}: {e}", e.field())
}

/// Up to five installed compiler names nearest to `name`: close spellings first, then
/// compilers of the same family (`gcc-13.2.0` → our `gcc-…`), then of the language a
/// Wandbox name suffix implies (`…-c` → C).
pub fn nearest_compilers(catalog: &Catalog, name: &str) -> Vec<String> {
    let mut out: Vec<String> = match catalog.resolve("", Some(name), &[], &[], &[]) {
        Err(ResolveError::UnknownCompiler { suggestions, .. }) => suggestions,
        _ => Vec::new(),
    };
    let lower = name.to_ascii_lowercase();
    let family: String = lower
        .split('-')
        .take_while(|part| !part.starts_with(|c: char| c.is_ascii_digit()) && *part != "head")
        .collect::<Vec<_>>()
        .join("-");
    let suffix = lower.rsplit('-').next().unwrap_or("");
    let same_language = |c: &codeexec_catalog::Compiler| match suffix {
        "c" => c.language_id == "c",
        "pp" => c.language_id.contains("preprocessor"),
        _ => false,
    };
    let candidates = catalog.installed();
    let by_family = candidates.iter().filter(|c| {
        !family.is_empty()
            && c.name
                .to_ascii_lowercase()
                .starts_with(&format!("{family}-"))
    });
    let by_language = candidates.iter().filter(|c| same_language(c));
    for c in by_family.chain(by_language) {
        if out.len() >= 5 {
            break;
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&c.name)) {
            out.push(c.name.clone());
        }
    }
    out.truncate(5);
    out
}

/// `Killed` for 9 and so on: the text of glibc's `strsignal`, which Wandbox reports.
pub fn signal_text(signal: i32) -> String {
    let text = match signal {
        1 => "Hangup",
        2 => "Interrupt",
        3 => "Quit",
        4 => "Illegal instruction",
        5 => "Trace/breakpoint trap",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        10 => "User defined signal 1",
        11 => "Segmentation fault",
        12 => "User defined signal 2",
        13 => "Broken pipe",
        14 => "Alarm clock",
        15 => "Terminated",
        16 => "Stack fault",
        17 => "Child exited",
        18 => "Continued",
        19 => "Stopped (signal)",
        20 => "Stopped",
        21 => "Stopped (tty input)",
        22 => "Stopped (tty output)",
        23 => "Urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "File size limit exceeded",
        26 => "Virtual timer expired",
        27 => "Profiling timer expired",
        28 => "Window changed",
        29 => "I/O possible",
        30 => "Power failure",
        31 => "Bad system call",
        n if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) => {
            return format!("Real-time signal {}", n - libc::SIGRTMIN());
        }
        n => return format!("Unknown signal {n}"),
    };
    text.to_owned()
}

/// The number of a signal named as [`crate::signal_name`] names it.
pub fn signal_number(name: &str) -> Option<i32> {
    (1..=64).find(|&n| crate::signal_name(n) == name)
}

/// Turns output chunks into text without ever splitting a UTF-8 sequence across two
/// chunks (an incomplete tail waits for the next chunk); invalid bytes become U+FFFD.
#[derive(Debug, Default)]
pub struct Utf8Chunks {
    pending: Vec<u8>,
}

impl Utf8Chunks {
    /// The complete text of what came so far.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push('\u{FFFD}');
                            rest = &after[n..];
                        }
                        // An incomplete sequence at the end: keep it for later.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// Whatever is left (an incomplete sequence becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// A job running on the engine in a task of its own, its output events arriving as
/// they are produced. Dropping it cancels the job.
pub struct RunningJob {
    events: mpsc::UnboundedReceiver<StreamEvent>,
    first: Option<StreamEvent>,
    task: Option<JoinHandle<Result<JobResult, ApiError>>>,
    /// The result, when the job ended before [`RunningJob::start`] returned.
    done: Option<JobResult>,
}

fn joined(
    result: Result<Result<JobResult, ApiError>, tokio::task::JoinError>,
) -> Result<JobResult, ApiError> {
    result.map_err(|e| ApiError::Internal(format!("the job's task failed: {e}")))?
}

impl RunningJob {
    /// Submits `job` and waits until it runs (its first event) or ends, so that a full
    /// queue or a failure to start is still an HTTP error, not part of a stream.
    pub async fn start(state: &AppState, language: &str, job: Job) -> Result<RunningJob, ApiError> {
        Self::start_with_stdin(state, language, job, None).await
    }

    /// Like [`start`](Self::start); with `input`, chunks sent on its first channel
    /// reach the program's stdin while it runs, and signals on its second reach the
    /// program.
    pub async fn start_with_stdin(
        state: &AppState,
        language: &str,
        job: Job,
        input: Option<(
            mpsc::UnboundedReceiver<Vec<u8>>,
            mpsc::UnboundedReceiver<i32>,
        )>,
    ) -> Result<RunningJob, ApiError> {
        let (tx, mut events) = mpsc::unbounded_channel();
        let task_state = state.clone();
        let language = language.to_owned();
        let mut task = tokio::spawn(async move {
            run_on_engine_with_stdin(&task_state, &language, job, Some(tx), input).await
        });
        let mut running = RunningJob {
            events: mpsc::unbounded_channel().1,
            first: None,
            task: None,
            done: None,
        };
        tokio::select! {
            event = events.recv() => {
                running.first = event;
                running.task = Some(task);
            }
            result = &mut task => running.done = Some(joined(result)?),
        }
        running.events = events;
        Ok(running)
    }

    /// The next output event; `None` once the job has ended.
    pub async fn next_event(&mut self) -> Option<StreamEvent> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        self.events.recv().await
    }

    /// The job's result (call after [`next_event`](Self::next_event) returned `None`).
    pub async fn finish(&mut self) -> Result<JobResult, ApiError> {
        if let Some(done) = self.done.take() {
            return Ok(done);
        }
        match self.task.take() {
            Some(task) => joined(task.await),
            None => Err(ApiError::Internal(
                "the job's result was taken twice".into(),
            )),
        }
    }
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_belong_to_their_api() {
        assert_eq!(Api::of_path("/api/v2/execute"), Some(Api::Piston));
        assert_eq!(Api::of_path("/api/compile.json"), Some(Api::Wandbox));
        assert_eq!(Api::of_path("/v1/run"), None);
        assert_eq!(Api::of_path("/apis"), None);
    }

    #[test]
    fn signal_texts_are_strsignals() {
        assert_eq!(signal_text(9), "Killed");
        assert_eq!(signal_text(11), "Segmentation fault");
        assert_eq!(signal_text(6), "Aborted");
        assert_eq!(signal_number("SIGSEGV"), Some(11));
        assert_eq!(signal_number("SIGNOPE"), None);
    }

    #[test]
    fn utf8_sequences_are_never_split() {
        let mut d = Utf8Chunks::default();
        let text = "héllo → 世界";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(1) {
            out.push_str(&d.push(chunk));
        }
        out.push_str(&d.finish());
        assert_eq!(out, text);
        // Invalid bytes become U+FFFD, valid ones around them stay.
        assert_eq!(d.push(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(d.push(b"\xe4\xb8"), "");
        assert_eq!(d.finish(), "\u{FFFD}");
    }
}
