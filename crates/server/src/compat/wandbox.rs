//! Wandbox's API: `POST /api/compile.json`, `POST /api/compile.ndjson`,
//! `GET /api/list.json`, `GET /api/permlink/{id}`, `POST /api/permlink` and
//! `GET /api/template/{name}`.
//!
//! Both compile routes are one streamed run: `compile.ndjson` writes each event as the
//! program produces it; `compile.json` collects the same events and merges them into
//! one result exactly as Wandbox does (`status` from `ExitCode`, `signal` from
//! `Signal`, `*_message` as output and errors in arrival order), every field present
//! and a string.
//!
//! Events, in order: `Control: Start`; the compiler's output as `CompilerMessageS`
//! (stdout) / `CompilerMessageE` (stderr); the program's as `StdOut` / `StdErr`; when
//! a limit ended the step, `Control: Killed` (output limit) or `Control: Timeout`
//! (wall-clock or CPU time); then `Signal` (glibc's text, `Killed`) followed by
//! `ExitCode` 128+n when a signal ended it, else `ExitCode`; `Control: Finish` last.
//! A failed compile ends with its `ExitCode`; a failure inside codeexec mid-stream is
//! `Control: SystemError: …`. Output is text: a UTF-8 sequence split across two reads
//! waits for its end, invalid bytes become U+FFFD.
//!
//! Errors are a plain-text body with an HTTP error code, as Wandbox's own server
//! answers (400 for an unknown compiler, with the nearest names we have).

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use codeexec_catalog::{split_raw, CompilerInfo, Recipe};
use codeexec_engine::{Job, JobResult, Step, StreamEvent};
use codeexec_sandbox::Stream;
use codeexec_store::{is_valid_permlink_id, new_permlink_id, Permlink};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::{json_response, nearest_compilers, resolve_message, RunningJob, Unenveloped};
use super::{signal_number, signal_text, Utf8Chunks};
use crate::auth::Caller;
use crate::clock::unix_now;
use crate::error::ApiError;
use crate::files::check_files;
use crate::routes::run::{body_bytes, job_of, permlink_base};
use crate::run_request::{RequestedLimits, RunRequest};
use crate::run_result::RunResult;
use crate::state::AppState;

/// Longest `title` and `description` (the limits of Wandbox's original server).
const MAX_TITLE_BYTES: usize = 400;
const MAX_DESCRIPTION_BYTES: usize = 4000;
/// Most events a `POST /api/permlink` may store.
const MAX_RESULTS: usize = 100_000;

/// A string that may also be given as `null` (then empty).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or_default())
}

fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// An extra source file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    #[serde(default, deserialize_with = "lenient_string")]
    pub file: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: String,
}

/// The body of `compile.json` and `compile.ndjson` (unknown fields are ignored, as
/// Wandbox ignores them: clients send `login`, `github_user` …).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CompileParameter {
    #[serde(default, deserialize_with = "lenient_string")]
    pub compiler: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: String,
    #[serde(default, deserialize_with = "lenient_list")]
    pub codes: Vec<Code>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub options: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub stdin: String,
    #[serde(
        rename = "compiler-option-raw",
        default,
        deserialize_with = "lenient_string"
    )]
    pub compiler_option_raw: String,
    #[serde(
        rename = "runtime-option-raw",
        default,
        deserialize_with = "lenient_string"
    )]
    pub runtime_option_raw: String,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub save: bool,
    #[serde(default, deserialize_with = "lenient_string")]
    pub title: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: String,
}

/// The body of `POST /api/permlink`: a finished run, as the client saw it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PostPermlink {
    #[serde(flatten)]
    pub parameter: CompileParameter,
    #[serde(default, deserialize_with = "lenient_list")]
    pub results: Vec<NdEvent>,
}

/// One line of `compile.ndjson`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NdEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub data: String,
}

impl NdEvent {
    fn new(kind: &str, data: impl Into<String>) -> NdEvent {
        NdEvent {
            kind: kind.to_owned(),
            data: data.into(),
        }
    }

    fn control(data: &str) -> NdEvent {
        NdEvent::new("Control", data)
    }

    /// The event as one line of NDJSON.
    fn line(&self) -> Bytes {
        let mut text = serde_json::to_string(self).unwrap_or_default();
        text.push('\n');
        Bytes::from(text)
    }
}

/// The answer of `compile.json`: every field always present, every value a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompileResult {
    pub status: String,
    pub signal: String,
    pub compiler_output: String,
    pub compiler_error: String,
    pub compiler_message: String,
    pub program_output: String,
    pub program_error: String,
    pub program_message: String,
    pub permlink: String,
    pub url: String,
}

/// The events merged into one result, as Wandbox merges them.
pub fn merge(events: &[NdEvent]) -> CompileResult {
    let mut r = CompileResult::default();
    for e in events {
        let d = e.data.as_str();
        match e.kind.as_str() {
            "CompilerMessageS" => {
                r.compiler_output.push_str(d);
                r.compiler_message.push_str(d);
            }
            "CompilerMessageE" => {
                r.compiler_error.push_str(d);
                r.compiler_message.push_str(d);
            }
            "StdOut" => {
                r.program_output.push_str(d);
                r.program_message.push_str(d);
            }
            "StdErr" => {
                r.program_error.push_str(d);
                r.program_message.push_str(d);
            }
            "ExitCode" => r.status.push_str(d),
            "Signal" => r.signal.push_str(d),
            _ => {}
        }
    }
    r
}

/// Turns the engine's events into Wandbox's, text decoded per stream.
#[derive(Debug, Default)]
struct Translator {
    /// Compile stdout, compile stderr, run stdout, run stderr.
    decoders: [Utf8Chunks; 4],
}

const KINDS: [&str; 4] = ["CompilerMessageS", "CompilerMessageE", "StdOut", "StdErr"];

impl Translator {
    fn translate(&mut self, event: StreamEvent) -> Vec<NdEvent> {
        match event {
            StreamEvent::Started(Step::Run) => self.flush(0..2),
            StreamEvent::Started(Step::Compile) => Vec::new(),
            StreamEvent::Output(step, stream, bytes) => {
                let i = match (step, stream) {
                    (Step::Compile, Stream::Stdout) => 0,
                    (Step::Compile, Stream::Stderr) => 1,
                    (Step::Run, Stream::Stdout) => 2,
                    (Step::Run, Stream::Stderr) => 3,
                };
                let text = self.decoders[i].push(&bytes);
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![NdEvent::new(KINDS[i], text)]
                }
            }
        }
    }

    fn flush(&mut self, which: std::ops::Range<usize>) -> Vec<NdEvent> {
        which
            .filter_map(|i| {
                let text = self.decoders[i].finish();
                (!text.is_empty()).then(|| NdEvent::new(KINDS[i], text))
            })
            .collect()
    }

    /// The events after the last output: how the job ended, then `Finish`.
    fn tail(&mut self, result: &Result<JobResult, ApiError>) -> Vec<NdEvent> {
        let mut out = self.flush(0..4);
        match result {
            Ok(r) => {
                // The step that decided the end: the run, or a compile that failed.
                if let Some(step) = r.run.as_ref().or(r.compile.as_ref()) {
                    match step.limit {
                        Some("output") => out.push(NdEvent::control("Killed")),
                        Some("wall_time" | "cpu_time") => out.push(NdEvent::control("Timeout")),
                        _ => {}
                    }
                    if let Some(signal) = step.signal {
                        out.push(NdEvent::new("Signal", signal_text(signal)));
                        out.push(NdEvent::new("ExitCode", (128 + signal).to_string()));
                    } else if let Some(code) = step.exit_code {
                        out.push(NdEvent::new("ExitCode", code.to_string()));
                    }
                }
            }
            Err(e) => out.push(NdEvent::control(&format!("SystemError: {e}"))),
        }
        out.push(NdEvent::control("Finish"));
        out
    }
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::Other {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "the body is empty; send a JSON object such as {\"compiler\": \"gcc-12.2.0\", \"code\": \"…\"}",
        ));
    }
    serde_json::from_slice(body).map_err(|e| bad(format!("the body is not valid JSON: {e}")))
}

/// The message for a compiler we do not have.
fn unknown_compiler(state: &AppState, name: &str) -> ApiError {
    let nearest = nearest_compilers(state.catalog(), name);
    let hint = if nearest.is_empty() {
        String::new()
    } else {
        format!(" The nearest compilers here: {}.", nearest.join(", "))
    };
    bad(format!(
        "Unknown compiler `{name}`: this server does not have it.{hint} All of them: GET /api/list.json"
    ))
}

/// A request checked and resolved: what to run, and the request in `/v1`'s shape (for
/// permlinks, which both APIs share).
struct Prepared {
    recipe: Recipe,
    job: Job,
    request: RunRequest,
}

fn check_size(field: &'static str, size: usize, limit: usize) -> Result<(), ApiError> {
    if size > limit {
        return Err(ApiError::TooLarge { field, size, limit });
    }
    Ok(())
}

/// The `/v1` run request a Wandbox parameter stands for (checked, not yet resolved).
fn run_request(state: &AppState, p: &CompileParameter) -> Result<RunRequest, ApiError> {
    let config = state.config();
    let compiler = p.compiler.trim();
    if compiler.is_empty() {
        return Err(bad(
            "`compiler` is required: one of the names listed by GET /api/list.json",
        ));
    }
    if compiler.len() > 128 {
        return Err(bad("`compiler` is too long to be a compiler name"));
    }
    check_size("code", p.code.len(), config.max_code_bytes)?;
    check_size("stdin", p.stdin.len(), config.max_stdin_bytes)?;
    check_size("title", p.title.len(), MAX_TITLE_BYTES)?;
    check_size("description", p.description.len(), MAX_DESCRIPTION_BYTES)?;
    let files = if p.codes.is_empty() {
        Vec::new()
    } else {
        let value = Value::Array(
            p.codes
                .iter()
                .map(|c| json!({ "name": c.file, "content": c.code }))
                .collect(),
        );
        // The checks of `/v1`'s `files`, reworded for Wandbox's `codes[i].file`.
        check_files(value, config.max_files).map_err(|e| {
            bad(e
                .to_string()
                .replace("`files", "`codes")
                .replace(".name`", ".file`"))
        })?
    };
    let total = p.code.len() + files.iter().map(|f| f.content.len()).sum::<usize>();
    check_size("codes", total, config.max_code_bytes)?;
    let options: Vec<String> = p
        .options
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    if options.len() > 64 {
        return Err(bad("`options` names more than 64 switches"));
    }
    let compiler_options = split_raw(&p.compiler_option_raw);
    let args = split_raw(&p.runtime_option_raw);
    for (field, list) in [
        ("compiler-option-raw", &compiler_options),
        ("runtime-option-raw", &args),
    ] {
        if list.len() > 1024 || list.iter().any(|a| a.len() > 64 << 10) {
            return Err(bad(format!(
                "`{field}` has too many or too long lines (at most 1024 of 64 KiB)"
            )));
        }
        if list.iter().any(|a| a.contains('\0')) {
            return Err(bad(format!("`{field}` contains a NUL character")));
        }
    }
    Ok(RunRequest {
        language: String::new(),
        compiler: Some(config.aliased(compiler).to_owned()),
        code: p.code.clone(),
        stdin: p.stdin.clone(),
        options,
        args,
        compiler_options,
        save: p.save,
        files,
        limits: RequestedLimits::default(),
    })
}

fn prepare(state: &AppState, p: &CompileParameter) -> Result<Prepared, ApiError> {
    let mut request = run_request(state, p)?;
    let name = request.compiler.clone().unwrap_or_default();
    if state.catalog().compiler(&name).is_none() {
        return Err(unknown_compiler(state, p.compiler.trim()));
    }
    let recipe = state
        .catalog()
        .resolve(
            "",
            Some(&name),
            &request.options,
            &request.compiler_options,
            &request.args,
        )
        .map_err(|e| bad(resolve_message(&e)))?;
    for (i, f) in request.files.iter().enumerate() {
        let main = &recipe.source_file;
        if f.name == *main
            || main.starts_with(&format!("{}/", f.name))
            || f.name.starts_with(&format!("{main}/"))
        {
            return Err(bad(format!(
                "`codes[{i}].file`: {:?} is the name of the main source of {}; put the main program in `code`",
                f.name, recipe.compiler
            )));
        }
    }
    request.compiler = Some(recipe.compiler.clone());
    let job = job_of(state, &recipe, &request)?;
    Ok(Prepared {
        recipe,
        job,
        request,
    })
}

/// The Wandbox-only parts of a run, kept with a permlink beside the `/v1` request.
fn wandbox_extras(p: &CompileParameter, results: &[NdEvent], from_client: bool) -> Value {
    json!({
        "title": p.title,
        "description": p.description,
        "options": p.options,
        "compiler-option-raw": p.compiler_option_raw,
        "runtime-option-raw": p.runtime_option_raw,
        "codes": p.codes,
        "results": results,
        "results_from_client": from_client,
    })
}

/// Saves a permlink and returns its id and Wandbox `url`.
async fn save_permlink(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    request: Value,
    result: impl FnOnce(&str, Option<String>) -> Value,
    compiler: &str,
    language: &str,
) -> Result<(String, String), ApiError> {
    let id = new_permlink_id()?;
    let base = permlink_base(state, headers);
    let result = result(&id, base.as_ref().map(|b| format!("{b}/v1/permlinks/{id}")));
    let url = base
        .map(|b| format!("{b}/api/permlink/{id}"))
        .unwrap_or_default();
    let permlink = Permlink {
        id: id.clone(),
        created_at: unix_now(),
        key_id: caller.key.as_ref().map(|k| k.id),
        compiler: compiler.to_owned(),
        language: language.to_owned(),
        request_json: request.to_string(),
        result_json: result.to_string(),
    };
    state.store(move |s| s.save_permlink(&permlink)).await?;
    Ok((id, url))
}

fn with_extras(request: &RunRequest, extras: Value) -> Value {
    let mut value = serde_json::to_value(request).unwrap_or_else(|_| json!({}));
    value["wandbox"] = extras;
    value
}

/// `POST /api/compile.json`.
pub async fn compile_json(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(&state, body)?;
    let p: CompileParameter = parse(&body)?;
    let prepared = prepare(&state, &p)?;
    let mut job = RunningJob::start(&state, &prepared.recipe.language, prepared.job).await?;
    let mut translator = Translator::default();
    let mut events = vec![NdEvent::control("Start")];
    while let Some(event) = job.next_event().await {
        events.extend(translator.translate(event));
    }
    let result = job.finish().await;
    events.extend(translator.tail(&result));
    // A failure inside codeexec is a 5xx here, not a result.
    let result = result?;
    let mut answer = merge(&events);
    if p.save {
        let view = RunResult::new(&prepared.recipe, &result);
        let (id, url) = save_permlink(
            &state,
            &caller,
            &headers,
            with_extras(&prepared.request, wandbox_extras(&p, &events, false)),
            |id, v1_url| {
                let mut view = view;
                view.permlink = Some(id.to_owned());
                view.permlink_url = v1_url;
                serde_json::to_value(&view).unwrap_or_default()
            },
            &prepared.recipe.compiler,
            &prepared.recipe.language,
        )
        .await?;
        answer.permlink = id;
        answer.url = url;
    }
    Ok(json_response(
        StatusCode::OK,
        &serde_json::to_value(&answer).unwrap_or_default(),
    ))
}

/// The state of a `compile.ndjson` body being written.
struct NdStream {
    job: RunningJob,
    translator: Translator,
    queue: VecDeque<NdEvent>,
    done: bool,
}

/// `POST /api/compile.ndjson`: the same run, each event written as it happens. (`save`
/// is ignored here, as on Wandbox: clients save with `POST /api/permlink`.)
pub async fn compile_ndjson(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(&state, body)?;
    let p: CompileParameter = parse(&body)?;
    let prepared = prepare(&state, &p)?;
    let job = RunningJob::start(&state, &prepared.recipe.language, prepared.job).await?;
    let start = NdStream {
        job,
        translator: Translator::default(),
        queue: VecDeque::from([NdEvent::control("Start")]),
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut st| async move {
        loop {
            if let Some(event) = st.queue.pop_front() {
                return Some((Ok::<Bytes, Infallible>(event.line()), st));
            }
            if st.done {
                return None;
            }
            match st.job.next_event().await {
                Some(event) => {
                    let events = st.translator.translate(event);
                    st.queue.extend(events);
                }
                None => {
                    let result = st.job.finish().await;
                    let events = st.translator.tail(&result);
                    st.queue.extend(events);
                    st.done = true;
                }
            }
        }
    });
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response();
    response.extensions_mut().insert(Unenveloped);
    Ok(response)
}

/// `GET /api/list.json`: every installed compiler in Wandbox's shape.
pub async fn list_json(State(state): State<AppState>) -> Response {
    let list = serde_json::to_value(state.catalog().compiler_infos()).unwrap_or_default();
    json_response(StatusCode::OK, &list)
}

/// `GET /api/template/{name}`: the hello-world of a compiler (or language).
pub async fn template(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let name = path.map(|Path(n)| n).unwrap_or_default();
    let code = state
        .catalog()
        .template(state.config().aliased(&name))
        .ok_or_else(|| ApiError::Other {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "Template not found: `{name}` (templates are named after the compilers of GET /api/list.json)"
            ),
        })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "name": name, "code": code }),
    ))
}

fn not_found(id: &str) -> ApiError {
    ApiError::Other {
        status: StatusCode::NOT_FOUND,
        message: format!("Permlink not found: `{id}`"),
    }
}

/// `GET /api/permlink/{id}`: a saved run (made through either API) in Wandbox's shape.
pub async fn permlink_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path.map(|Path(id)| id).unwrap_or_default();
    if !is_valid_permlink_id(&id) {
        return Err(not_found(&id));
    }
    let lookup = id.clone();
    let permlink = state
        .store(move |s| s.get_permlink(&lookup))
        .await?
        .ok_or_else(|| not_found(&id))?;
    let request: Value = serde_json::from_str(&permlink.request_json).unwrap_or_default();
    let result: Value = serde_json::from_str(&permlink.result_json).unwrap_or_default();
    let extras = request.get("wandbox");
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let joined = |key: &str, sep: &str| -> String {
        match request.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(sep),
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        }
    };
    let extra = |key: &str, otherwise: String| match extras.and_then(|w| w.get(key)) {
        Some(Value::String(s)) => s.clone(),
        _ => otherwise,
    };
    let compiler = request
        .get("compiler")
        .and_then(Value::as_str)
        .unwrap_or(&permlink.compiler)
        .to_owned();
    let codes = match extras.and_then(|w| w.get("codes")) {
        Some(codes @ Value::Array(_)) => codes.clone(),
        _ => Value::Array(
            request
                .get("files")
                .and_then(Value::as_array)
                .map(|files| {
                    files
                        .iter()
                        .map(|f| json!({ "file": f["name"], "code": f["content"] }))
                        .collect()
                })
                .unwrap_or_default(),
        ),
    };
    let info = state
        .catalog()
        .compiler(&compiler)
        .map(CompilerInfo::of)
        .map(|i| serde_json::to_value(i).unwrap_or_default())
        .unwrap_or_else(|| {
            json!({
                "name": compiler, "version": "", "language": permlink.language,
                "display-name": compiler, "templates": [], "compiler-option-raw": false,
                "runtime-option-raw": false, "display-compile-command": "", "switches": [],
            })
        });
    let results: Vec<NdEvent> = match extras.and_then(|w| w.get("results")) {
        Some(r @ Value::Array(_)) => serde_json::from_value(r.clone()).unwrap_or_default(),
        _ => events_of_v1_result(&result),
    };
    let mut merged = merge(&results);
    merged.permlink = id.clone();
    merged.url = permlink_base(&state, &headers)
        .map(|b| format!("{b}/api/permlink/{id}"))
        .unwrap_or_default();
    let parameter = json!({
        "compiler": compiler,
        "code": text(request.get("code")),
        "codes": codes,
        "options": extra("options", joined("options", ",")),
        "stdin": text(request.get("stdin")),
        "compiler-option-raw": extra("compiler-option-raw", joined("compiler_options", "\n")),
        "runtime-option-raw": extra("runtime-option-raw", joined("args", "\n")),
        "github_user": "",
        "title": extra("title", String::new()),
        "description": extra("description", String::new()),
        "save": false,
        "created_at": permlink.created_at,
        "is_private": false,
        "compiler-info": info,
    });
    Ok(json_response(
        StatusCode::OK,
        &json!({ "parameter": parameter, "results": results, "result": merged }),
    ))
}

/// Wandbox events for a run saved through `/v1` (whose output was kept per stream).
fn events_of_v1_result(r: &Value) -> Vec<NdEvent> {
    let text = |key: &str| r.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut out = vec![NdEvent::control("Start")];
    for (key, kind) in [
        ("compiler_output", "CompilerMessageS"),
        ("compiler_error", "CompilerMessageE"),
        ("stdout", "StdOut"),
        ("stderr", "StdErr"),
    ] {
        let t = text(key);
        if !t.is_empty() {
            out.push(NdEvent::new(kind, t));
        }
    }
    match (
        r.get("signal")
            .and_then(Value::as_str)
            .and_then(signal_number),
        r.get("exit_code").and_then(Value::as_i64),
    ) {
        (Some(signal), _) => {
            out.push(NdEvent::new("Signal", signal_text(signal)));
            out.push(NdEvent::new("ExitCode", (128 + signal).to_string()));
        }
        (None, Some(code)) => out.push(NdEvent::new("ExitCode", code.to_string())),
        (None, None) => {}
    }
    out.push(NdEvent::control("Finish"));
    out
}

/// `POST /api/permlink`: saves a run the client already has (Wandbox's way of sharing
/// a `compile.ndjson` run); answers `{permlink, url}`.
pub async fn permlink_post(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(&state, body)?;
    let post: PostPermlink = parse(&body)?;
    let request = run_request(&state, &post.parameter)?;
    let name = request.compiler.clone().unwrap_or_default();
    let compiler = state
        .catalog()
        .compiler(&name)
        .ok_or_else(|| unknown_compiler(&state, post.parameter.compiler.trim()))?;
    if post.results.len() > MAX_RESULTS {
        return Err(bad(format!(
            "`results` has {} events; at most {MAX_RESULTS}",
            post.results.len()
        )));
    }
    let (compiler_name, language) = (compiler.name.clone(), compiler.language.clone());
    let merged = merge(&post.results);
    let mut request = request;
    request.compiler = Some(compiler_name.clone());
    let (id, url) = save_permlink(
        &state,
        &caller,
        &headers,
        with_extras(
            &request,
            wandbox_extras(&post.parameter, &post.results, true),
        ),
        |_, _| {
            let mut value = serde_json::to_value(&merged).unwrap_or_default();
            if let Value::Object(map) = &mut value {
                map.insert("results_from_client".into(), Value::Bool(true));
            }
            value
        },
        &compiler_name,
        &language,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "permlink": id, "url": url }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use codeexec_engine::StepResult;

    fn step(
        exit_code: Option<i32>,
        signal: Option<i32>,
        limit: Option<&'static str>,
    ) -> StepResult {
        StepResult {
            exit_code,
            signal,
            limit,
            stdout: Vec::new(),
            stderr: Vec::new(),
            merged: Vec::new(),
            stdout_truncated: false,
            stderr_truncated: false,
            wall_time_ms: 1,
            cpu_time_ms: 1,
            memory_kb: None,
            cached: false,
        }
    }

    fn kinds(events: &[NdEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| format!("{}:{}", e.kind, e.data))
            .collect()
    }

    #[test]
    fn events_in_wandbox_order_and_merged_as_wandbox_merges() {
        let mut t = Translator::default();
        let mut events = vec![NdEvent::control("Start")];
        events.extend(t.translate(StreamEvent::Started(Step::Compile)));
        events.extend(t.translate(StreamEvent::Output(
            Step::Compile,
            Stream::Stderr,
            b"warning\n".to_vec(),
        )));
        events.extend(t.translate(StreamEvent::Started(Step::Run)));
        events.extend(t.translate(StreamEvent::Output(
            Step::Run,
            Stream::Stdout,
            b"out \xe4\xb8".to_vec(),
        )));
        events.extend(t.translate(StreamEvent::Output(
            Step::Run,
            Stream::Stderr,
            b"err\n".to_vec(),
        )));
        events.extend(t.translate(StreamEvent::Output(
            Step::Run,
            Stream::Stdout,
            b"\x96\n".to_vec(),
        )));
        let result = JobResult {
            status: codeexec_engine::JobStatus::Signaled,
            compile: Some(step(Some(0), None, None)),
            run: Some(step(None, Some(9), Some("output"))),
            internal_error: None,
        };
        events.extend(t.tail(&Ok(result)));
        assert_eq!(
            kinds(&events),
            [
                "Control:Start",
                "CompilerMessageE:warning\n",
                "StdOut:out ",
                "StdErr:err\n",
                "StdOut:世\n",
                "Control:Killed",
                "Signal:Killed",
                "ExitCode:137",
                "Control:Finish",
            ]
        );
        let r = merge(&events);
        assert_eq!(r.compiler_message, "warning\n");
        assert_eq!(r.compiler_error, "warning\n");
        assert_eq!(r.compiler_output, "");
        assert_eq!(r.program_output, "out 世\n");
        assert_eq!(r.program_error, "err\n");
        assert_eq!(r.program_message, "out err\n世\n");
        assert_eq!(r.signal, "Killed");
        assert_eq!(r.status, "137");
    }

    #[test]
    fn a_failed_compile_ends_with_its_exit_code() {
        let mut t = Translator::default();
        let result = JobResult {
            status: codeexec_engine::JobStatus::CompileError,
            compile: Some(step(Some(1), None, None)),
            run: None,
            internal_error: None,
        };
        assert_eq!(
            kinds(&t.tail(&Ok(result))),
            ["ExitCode:1", "Control:Finish"]
        );
        let e: Result<JobResult, ApiError> = Err(ApiError::ShuttingDown);
        assert!(kinds(&t.tail(&e))[0].starts_with("Control:SystemError: "));
    }
}
