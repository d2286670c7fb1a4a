//! `GET` and `POST /v1/run`: resolve, run on the engine, answer with the result, and
//! save a permlink first when asked.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Extension;
use codeexec_engine::{EngineError, Job, JobResult, JobStatus, Recipe, SourceFile, StreamEvent};
use codeexec_store::{new_permlink_id, Permlink};

use crate::auth::Caller;
use crate::clock::unix_now;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::files::check_against_main;
use crate::limits;
use crate::run_request::RunRequest;
use crate::run_result::RunResult;
use crate::state::AppState;
use tokio::sync::mpsc;

pub async fn run_get(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Reply, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let request = RunRequest::from_query(pairs, state.config())?;
    execute(&state, &caller, &headers, request).await
}

pub async fn run_post(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let body = body_bytes(&state, body)?;
    let request = RunRequest::from_json(&body, state.config())?;
    execute(&state, &caller, &headers, request).await
}

/// The request body, or why it could not be read (too large …).
pub(crate) fn body_bytes(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status().as_u16() {
        413 => ApiError::BodyTooLarge {
            limit: state.config().max_body_bytes,
        },
        _ => ApiError::Other {
            status: e.status(),
            message: e.body_text(),
        },
    })
}

/// The job a request asks for, with its limits settled.
pub(crate) fn job_of(
    state: &AppState,
    recipe: &Recipe,
    request: &RunRequest,
) -> Result<Job, ApiError> {
    check_against_main(&request.files, &recipe.source_file)?;
    let mut job = Job::new(recipe.clone(), request.code.as_bytes());
    job.files.extend(request.files.iter().map(|f| SourceFile {
        name: f.name.clone(),
        content: f.content.as_bytes().to_vec(),
    }));
    job.stdin = request.stdin.as_bytes().to_vec();
    limits::apply(&mut job.limits, &request.limits, &state.config().limit_caps)?;
    Ok(job)
}

async fn execute(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    request: RunRequest,
) -> Result<Reply, ApiError> {
    let recipe = state.catalog().resolve(
        &request.language,
        request.compiler.as_deref(),
        &request.options,
        &request.compiler_options,
        &request.args,
    )?;
    let job = job_of(state, &recipe, &request)?;
    let result = run_on_engine(state, &recipe.language, job, None).await?;

    let mut view = RunResult::new(&recipe, &result);
    if request.save {
        save_permlink(state, caller, headers, &request, &mut view).await?;
    }
    Ok(Reply::new(super::summary("GET", "/v1/run"), &view))
}

/// Runs `job` on the engine (sending output to `events` as it comes, if given) and
/// counts it in the metrics. Shared by `/v1/run` and the compatible APIs.
///
/// Dropping the returned future cancels the job: when the client disconnects (hyper
/// drops the handler), and when a shutdown's grace period runs out.
pub(crate) async fn run_on_engine(
    state: &AppState,
    language: &str,
    job: Job,
    events: Option<mpsc::UnboundedSender<StreamEvent>>,
) -> Result<JobResult, ApiError> {
    run_on_engine_with_stdin(state, language, job, events, None).await
}

/// Like [`run_on_engine`]; with `input`, the program reads chunks sent on its first
/// channel while it runs (after `job.stdin`), until the sender is dropped, and gets
/// the signals sent on its second.
pub(crate) async fn run_on_engine_with_stdin(
    state: &AppState,
    language: &str,
    job: Job,
    events: Option<mpsc::UnboundedSender<StreamEvent>>,
    input: Option<(
        mpsc::UnboundedReceiver<Vec<u8>>,
        mpsc::UnboundedReceiver<i32>,
    )>,
) -> Result<JobResult, ApiError> {
    let started = Instant::now();
    let engine = state.engine();
    let run = async move {
        match input {
            Some((chunks, signals)) => {
                let events = events.unwrap_or_else(|| mpsc::unbounded_channel().0);
                engine.run_interactive(job, events, chunks, signals).await
            }
            None => engine.run_streamed(job, events).await,
        }
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = state.hard_stopped() => return Err(ApiError::ShuttingDown),
    };
    let result = match outcome {
        Ok(result) => result,
        Err(EngineError::QueueFull { waiting }) => {
            return Err(ApiError::QueueFull {
                waiting,
                retry_after: state.config().queue_retry_after.as_secs().max(1),
            })
        }
        Err(EngineError::ShuttingDown) => return Err(ApiError::ShuttingDown),
    };
    state
        .metrics()
        .record_run(result.status.as_str(), language, started.elapsed());
    if result.status == JobStatus::InternalError {
        return Err(ApiError::Internal(format!(
            "the job failed inside codeexec, not in your program: {}",
            result.internal_error.as_deref().unwrap_or("unknown cause")
        )));
    }
    Ok(result)
}

/// Stores the run under a new id (before the response is sent) and fills in
/// `permlink` and `permlink_url`.
async fn save_permlink(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    request: &RunRequest,
    view: &mut RunResult,
) -> Result<(), ApiError> {
    let id = new_permlink_id()?;
    view.permlink_url =
        permlink_base(state, headers).map(|base| format!("{base}/v1/permlinks/{id}"));
    view.permlink = Some(id.clone());
    let encode = |e: serde_json::Error| ApiError::Internal(format!("encoding a permlink: {e}"));
    let permlink = Permlink {
        id,
        created_at: unix_now(),
        key_id: caller.key.as_ref().map(|k| k.id),
        compiler: view.compiler.clone(),
        language: view.language.clone(),
        request_json: serde_json::to_string(request).map_err(encode)?,
        result_json: serde_json::to_string(view).map_err(encode)?,
    };
    state.store(move |s| s.save_permlink(&permlink)).await?;
    Ok(())
}

/// The configured public base URL, else `http://` and the request's `Host`.
pub(crate) fn permlink_base(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(base) = &state.config().public_base_url {
        return Some(base.trim_end_matches('/').to_owned());
    }
    let host = headers.get("host")?.to_str().ok()?;
    let plausible = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plausible.then(|| format!("http://{host}"))
}
