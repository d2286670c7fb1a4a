//! Piston's v2 API: `POST /api/v2/execute` and `GET /api/v2/runtimes` (the WebSocket
//! `/api/v2/connect` is in [`super::ws`]).
//!
//! Every installed compiler is a runtime: `language` is its language's id (`python`,
//! `c`, `c++` …), `version` its version as semver (`3.11.2`; a version with more or
//! other parts keeps its first three numbers, `3.9-v7.3.11` → `3.9.0`), `runtime` its
//! compiler name (which also works as a `language`). A request's `version` is a node
//! semver range (`3.11.2`, `3.x`, `^3.10`, `>=3.8 <4`, `*`); of the compilers that
//! match, the language's default compiler wins, else the highest version.
//!
//! The six limit fields may only lower the limits this server applies (`-1` means "the
//! server's maximum"); above the maximum is a 400 with `message`, as on Piston.
//! `compile_memory_limit` and `run_memory_limit` bound each step's memory.
//!
//! When the compile step fails, `run` is a copy of `compile` (as older Piston servers
//! send it) so that clients which always read `run` keep working.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use codeexec_catalog::{Catalog, Compiler, Recipe};
use codeexec_engine::{Job, JobResult, SourceFile, StepResult};
use serde_json::{json, Map, Value};

use super::{json_response, resolve_message};
use crate::error::ApiError;
use crate::files::name_problem;
use crate::limits;
use crate::routes::run::{body_bytes, run_on_engine};
use crate::run_request::RequestedLimits;
use crate::state::AppState;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::Other {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

/// Piston's name of a language: our id, but `c++` for C++ (as Piston calls it).
pub fn language_name(language_id: &str) -> String {
    match language_id {
        "cpp" => "c++".to_owned(),
        id => id.to_owned(),
    }
}

/// A version as (major, minor, patch): its first run of dotted numbers, missing parts 0.
pub fn semver_of(version: &str) -> (u64, u64, u64) {
    let start = version
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(version.len());
    let mut parts = version[start..]
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// The semver of a compiler, as text.
pub fn version_text(version: &str) -> String {
    let (a, b, c) = semver_of(version);
    format!("{a}.{b}.{c}")
}

type Version = (u64, u64, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pred {
    Ge(Version),
    Gt(Version),
    Le(Version),
    Lt(Version),
    Never,
}

impl Pred {
    fn holds(self, v: Version) -> bool {
        match self {
            Pred::Ge(x) => v >= x,
            Pred::Gt(x) => v > x,
            Pred::Le(x) => v <= x,
            Pred::Lt(x) => v < x,
            Pred::Never => false,
        }
    }
}

/// A partial version (`3`, `3.11`, `3.x`, `*`): its numbers up to the first wildcard.
fn partial(text: &str) -> Option<Vec<u64>> {
    let text = text.trim_start_matches(['v', 'V', '=']);
    // Pre-release and build tags are ignored.
    let core = text.split(['-', '+']).next().unwrap_or("");
    let mut numbers = Vec::new();
    if core.is_empty() {
        return Some(numbers);
    }
    for (i, part) in core.split('.').enumerate() {
        if i >= 3 {
            return None;
        }
        match part {
            "*" | "x" | "X" => return Some(numbers),
            p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                numbers.push(p.parse().ok()?);
            }
            _ => return None,
        }
    }
    Some(numbers)
}

/// The lowest version a partial stands for, and the first one above it at its precision.
fn bounds(n: &[u64]) -> (Version, Option<Version>) {
    let get = |i: usize| n.get(i).copied().unwrap_or(0);
    let low = (get(0), get(1), get(2));
    let next = match n.len() {
        0 | 3 => None,
        1 => Some((low.0 + 1, 0, 0)),
        _ => Some((low.0, low.1 + 1, 0)),
    };
    (low, next)
}

fn comparator(op: &str, n: &[u64]) -> Vec<Pred> {
    let (low, next) = bounds(n);
    let exact = n.len() == 3;
    match op {
        "" | "=" => match next {
            _ if n.is_empty() => vec![],
            None => vec![Pred::Ge(low), Pred::Le(low)],
            Some(next) => vec![Pred::Ge(low), Pred::Lt(next)],
        },
        ">" if n.is_empty() => vec![Pred::Never],
        ">" if exact => vec![Pred::Gt(low)],
        ">" => vec![Pred::Ge(next.unwrap_or(low))],
        ">=" => vec![Pred::Ge(low)],
        "<" if n.is_empty() => vec![Pred::Never],
        "<" => vec![Pred::Lt(low)],
        "<=" if n.is_empty() => vec![],
        "<=" => match next {
            None => vec![Pred::Le(low)],
            Some(next) => vec![Pred::Lt(next)],
        },
        "~" | "~>" => match n.len() {
            0 => vec![],
            1 => vec![Pred::Ge(low), Pred::Lt((low.0 + 1, 0, 0))],
            _ => vec![Pred::Ge(low), Pred::Lt((low.0, low.1 + 1, 0))],
        },
        "^" => {
            let upper = if n.is_empty() {
                return vec![];
            } else if low.0 > 0 || n.len() == 1 {
                (low.0 + 1, 0, 0)
            } else if low.1 > 0 || n.len() == 2 {
                (0, low.1 + 1, 0)
            } else {
                (0, 0, low.2 + 1)
            };
            vec![Pred::Ge(low), Pred::Lt(upper)]
        }
        _ => vec![Pred::Never],
    }
}

/// Whether `version` satisfies the node-semver range `range`; `None` if `range` is
/// not one.
pub fn satisfies(version: Version, range: &str) -> Option<bool> {
    let mut any = false;
    for set in range.split("||") {
        let tokens: Vec<&str> = set.split_whitespace().collect();
        let mut preds = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            // `A - B`.
            if tokens.get(i + 1) == Some(&"-") {
                let low = partial(token)?;
                let high = partial(tokens.get(i + 2)?)?;
                preds.push(Pred::Ge(bounds(&low).0));
                if !high.is_empty() {
                    preds.extend(comparator("<=", &high));
                }
                i += 3;
                continue;
            }
            let op_len = token
                .find(|c: char| !matches!(c, '<' | '>' | '=' | '~' | '^'))
                .unwrap_or(token.len());
            let (op, mut rest) = token.split_at(op_len);
            if rest.is_empty() && !op.is_empty() {
                // `>= 3.8`: the operator and its version apart.
                i += 1;
                rest = tokens.get(i)?;
            }
            if !["", "=", ">", ">=", "<", "<=", "~", "~>", "^"].contains(&op) {
                return None;
            }
            preds.extend(comparator(op, &partial(rest)?));
            i += 1;
        }
        if preds.iter().all(|p| p.holds(version)) {
            any = true;
        }
    }
    Some(any)
}

/// `GET /api/v2/runtimes`.
pub async fn runtimes(State(state): State<AppState>) -> Response {
    let catalog = state.catalog();
    let list: Vec<Value> = catalog
        .installed()
        .iter()
        .map(|c| {
            let name = language_name(&c.language_id);
            let mut aliases: Vec<String> = Vec::new();
            if let Some(l) = catalog.language(&c.language_id) {
                for a in std::iter::once(&l.id).chain(l.aliases.iter()) {
                    if *a != name && !aliases.contains(a) {
                        aliases.push(a.clone());
                    }
                }
            }
            json!({
                "language": name,
                "version": version_text(&c.version),
                "aliases": aliases,
                "runtime": c.name,
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

/// The compiler a Piston request names: `language` (a language, alias or compiler
/// name) and a `version` range.
fn pick<'a>(
    catalog: &'a Catalog,
    state: &AppState,
    language: &str,
    range: &str,
) -> Result<&'a Compiler, ApiError> {
    let language = language.trim();
    let (candidates, default): (Vec<&Compiler>, Option<&Compiler>) =
        match catalog.language(language) {
            Some(l) => (
                catalog.compilers_of(l).collect(),
                catalog.default_compiler_of(l),
            ),
            None => match catalog.compiler(state.config().aliased(language)) {
                Some(c) => (vec![c], Some(c)),
                None => (Vec::new(), None),
            },
        };
    let range = range.trim();
    let mut matching = Vec::new();
    for c in &candidates {
        let fits = satisfies(semver_of(&c.version), range).ok_or_else(|| {
            bad(format!(
                "version `{range}` is not a semver range (try `3.11.2`, `3.x` or `*`)"
            ))
        })?;
        if fits {
            matching.push(*c);
        }
    }
    if let Some(d) = default.filter(|d| matching.iter().any(|m| m.name == d.name)) {
        return Ok(d);
    }
    if let Some(best) = matching.iter().max_by_key(|c| semver_of(&c.version)) {
        return Ok(best);
    }
    let available: Vec<String> = if candidates.is_empty() {
        Vec::new()
    } else {
        candidates
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    language_name(&c.language_id),
                    version_text(&c.version)
                )
            })
            .collect()
    };
    let hint = if available.is_empty() {
        " (see GET /api/v2/runtimes)".to_owned()
    } else {
        format!(" (installed: {})", available.join(", "))
    };
    Err(bad(format!("{language}-{range} runtime is unknown{hint}")))
}

/// A request checked and resolved.
pub struct Prepared {
    pub language: String,
    pub version: String,
    pub recipe: Recipe,
    pub job: Job,
}

fn string_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

/// A file's content as bytes, decoded as its `encoding` says.
fn decode(i: usize, content: &str, encoding: &str) -> Result<Vec<u8>, ApiError> {
    match encoding {
        "utf8" | "utf-8" => Ok(content.as_bytes().to_vec()),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(content.trim())
            .map_err(|e| bad(format!("files[{i}].content is not valid base64: {e}"))),
        "hex" => {
            let digits: Vec<u8> = content
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            if !digits.len().is_multiple_of(2) {
                return Err(bad(format!(
                    "files[{i}].content is not valid hex: odd length"
                )));
            }
            digits
                .chunks(2)
                .map(|pair| {
                    std::str::from_utf8(pair)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                        .ok_or_else(|| bad(format!("files[{i}].content is not valid hex")))
                })
                .collect()
        }
        other => Err(bad(format!(
            "files[{i}].encoding `{other}` is not one of utf8, base64, hex"
        ))),
    }
}

/// One of the six limits: `None` if absent, the server's maximum for `-1`.
fn limit(body: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if v == -1.0 {
                Ok(Some(-1))
            } else if v.is_finite() && v > 0.0 {
                Ok(Some(v.ceil().min(i64::MAX as f64) as i64))
            } else {
                Err(bad(format!(
                    "{key} must be a positive number or -1, not {n}"
                )))
            }
        }
        Some(_) => Err(bad(format!("{key} must be a number"))),
    }
}

/// Lowers `current` to the request's value, refusing one above it.
fn lower(key: &str, current: u64, requested: Option<i64>) -> Result<u64, ApiError> {
    match requested {
        None | Some(-1) => Ok(current),
        Some(v) if v as u64 > current => Err(bad(format!(
            "{key} cannot exceed the configured limit of {current}"
        ))),
        Some(v) => Ok(v as u64),
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Checks and resolves an execute request (also the `init` message of the WebSocket).
pub fn prepare(state: &AppState, body: &Value) -> Result<Prepared, ApiError> {
    let config = state.config();
    let Value::Object(body) = body else {
        return Err(bad("the body must be a JSON object"));
    };
    let language = string_field(body, "language")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad("language is required as a string"))?;
    let version =
        string_field(body, "version")?.ok_or_else(|| bad("version is required as a string"))?;
    let Some(Value::Array(files)) = body.get("files") else {
        return Err(bad("files is required as an array"));
    };
    if files.is_empty() {
        return Err(bad("files must hold at least the main file"));
    }
    if files.len() > config.max_files + 1 {
        return Err(bad(format!(
            "files has {} entries; this server takes at most {}",
            files.len(),
            config.max_files + 1
        )));
    }
    let mut decoded: Vec<(Option<String>, Vec<u8>)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let Value::Object(f) = f else {
            return Err(bad(format!("files[{i}] must be an object with `content`")));
        };
        let content = match f.get("content") {
            Some(Value::String(s)) => s.as_str(),
            _ => return Err(bad(format!("files[{i}].content is required as a string"))),
        };
        let encoding = match f.get("encoding") {
            None | Some(Value::Null) => "utf8",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(bad(format!("files[{i}].encoding must be a string"))),
        };
        let name = match f.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(bad(format!("files[{i}].name must be a string"))),
        };
        decoded.push((name, decode(i, content, encoding)?));
    }
    let total: usize = decoded.iter().map(|(_, c)| c.len()).sum();
    if total > config.max_code_bytes {
        return Err(ApiError::TooLarge {
            field: "files",
            size: total,
            limit: config.max_code_bytes,
        });
    }
    let stdin = string_field(body, "stdin")?.unwrap_or("");
    if stdin.len() > config.max_stdin_bytes {
        return Err(ApiError::TooLarge {
            field: "stdin",
            size: stdin.len(),
            limit: config.max_stdin_bytes,
        });
    }
    let args: Vec<String> = match body.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|a| match a {
                Value::String(s) if !s.contains('\0') && s.len() <= 64 << 10 => Ok(s.clone()),
                // Piston's clients send numbers too; they mean their text.
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad("args must be an array of strings")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("args must be an array of strings")),
    };
    if args.len() > 1024 {
        return Err(bad("args has more than 1024 arguments"));
    }
    let limits_given: Vec<(&str, Option<i64>)> = [
        "compile_timeout",
        "run_timeout",
        "compile_cpu_time",
        "run_cpu_time",
        "compile_memory_limit",
        "run_memory_limit",
    ]
    .into_iter()
    .map(|k| limit(body, k).map(|v| (k, v)))
    .collect::<Result<_, _>>()?;
    let given = |key: &str| {
        limits_given
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| *v)
    };

    let catalog = state.catalog();
    let compiler = pick(catalog, state, language, version)?;
    let recipe = catalog
        .resolve("", Some(&compiler.name), &[], &[], &args)
        .map_err(|e| {
            bad(resolve_message(&e)
                .replace("runtime-option-raw", "args")
                .replace("raw runtime options", "program arguments"))
        })?;

    let mut files = decoded.into_iter();
    let (_, main) = files.next().unwrap_or_default();
    let mut job = Job::new(recipe.clone(), main);
    for (i, (name, content)) in files.enumerate() {
        let i = i + 1;
        let name = name.unwrap_or_else(|| format!("file{i}.code"));
        if let Some(problem) = name_problem(&name) {
            return Err(bad(format!("files[{i}].name {name:?} {problem}")));
        }
        if name == recipe.source_file
            || job.files.iter().any(|f| f.name == name)
            || recipe.source_file.starts_with(&format!("{name}/"))
        {
            return Err(bad(format!(
                "files[{i}].name {name:?} is taken (by the main file, saved as {}, or another file)",
                recipe.source_file
            )));
        }
        job.files.push(SourceFile { name, content });
    }
    job.stdin = stdin.as_bytes().to_vec();
    limits::apply(
        &mut job.limits,
        &RequestedLimits::default(),
        &config.limit_caps,
    )?;
    let l = &mut job.limits;
    let ms = std::time::Duration::from_millis;
    l.compile_wall = ms(lower(
        "compile_timeout",
        millis(l.compile_wall),
        given("compile_timeout"),
    )?);
    l.run_wall = ms(lower(
        "run_timeout",
        millis(l.run_wall),
        given("run_timeout"),
    )?);
    l.compile_cpu = ms(lower(
        "compile_cpu_time",
        millis(l.compile_cpu),
        given("compile_cpu_time"),
    )?);
    l.run_cpu = ms(lower(
        "run_cpu_time",
        millis(l.run_cpu),
        given("run_cpu_time"),
    )?);
    l.compile_memory_bytes = lower(
        "compile_memory_limit",
        l.compile_memory_bytes,
        given("compile_memory_limit"),
    )?;
    l.memory_bytes = lower(
        "run_memory_limit",
        l.memory_bytes,
        given("run_memory_limit"),
    )?;
    for (key, bytes) in [
        ("compile_memory_limit", l.compile_memory_bytes),
        ("run_memory_limit", l.memory_bytes),
    ] {
        if bytes < codeexec_sandbox::MIN_MEMORY_BYTES {
            return Err(bad(format!(
                "{key} is {bytes}, below the minimum of {} bytes",
                codeexec_sandbox::MIN_MEMORY_BYTES
            )));
        }
    }

    Ok(Prepared {
        language: language_name(&recipe.language_id),
        version: version_text(&recipe.version),
        recipe,
        job,
    })
}

/// Piston's `status` and `message` of a step.
pub fn status_of(s: &StepResult) -> (Option<&'static str>, Option<String>) {
    match (s.limit, s.signal, s.exit_code) {
        (Some("wall_time"), ..) => (Some("TO"), Some("Time limit exceeded (wall clock)".into())),
        (Some("cpu_time"), ..) => (Some("TO"), Some("Time limit exceeded (CPU time)".into())),
        (Some("output"), ..) if s.stdout_truncated => {
            (Some("OL"), Some("stdout length exceeded".into()))
        }
        (Some("output"), ..) => (Some("EL"), Some("stderr length exceeded".into())),
        (Some("memory"), ..) => (
            Some("SG"),
            Some("Memory limit exceeded (killed by SIGKILL)".into()),
        ),
        (_, Some(signal), _) => (
            Some("SG"),
            Some(format!(
                "Killed by signal {} ({})",
                crate::signal_name(signal),
                super::signal_text(signal)
            )),
        ),
        (_, None, Some(0)) => (None, None),
        (_, None, Some(code)) => (Some("RE"), Some(format!("Exited with error status {code}"))),
        (_, None, None) => (
            Some("XX"),
            Some("The step ended without an exit status".into()),
        ),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A stage of the response.
pub fn stage_json(s: &StepResult) -> Value {
    let (status, message) = status_of(s);
    json!({
        "stdout": text(&s.stdout),
        "stderr": text(&s.stderr),
        "output": text(&s.merged),
        "code": if s.signal.is_some() { None } else { s.exit_code },
        "signal": s.signal.map(crate::signal_name),
        "message": message,
        "status": status,
        "cpu_time": s.cpu_time_ms,
        "wall_time": s.wall_time_ms,
        "memory": s.memory_kb.map(|kb| kb * 1024),
    })
}

/// The stage of a job that failed inside codeexec (`XX`).
pub fn internal_stage(message: &str) -> Value {
    json!({
        "stdout": "", "stderr": "", "output": "", "code": null, "signal": null,
        "message": message, "status": "XX", "cpu_time": null, "wall_time": null, "memory": null,
    })
}

/// The response of a finished job.
pub fn response_json(language: &str, version: &str, compiled: bool, r: &JobResult) -> Value {
    let mut out = json!({ "language": language, "version": version });
    let compile = r.compile.as_ref().map(stage_json);
    let run = r.run.as_ref().map(stage_json).or_else(|| compile.clone());
    out["run"] = run.unwrap_or_else(|| internal_stage("the job ended before the program ran"));
    if compiled {
        if let Some(compile) = compile {
            out["compile"] = compile;
        }
    }
    out
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(
            "the body is empty; send a JSON object with language, version and files",
        ));
    }
    serde_json::from_slice(body).map_err(|e| bad(format!("the body is not valid JSON: {e}")))
}

/// `POST /api/v2/execute`.
pub async fn execute(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(&state, body)?;
    let prepared = prepare(&state, &parse_body(&body)?)?;
    let compiled = !prepared.recipe.compile.is_empty();
    match run_on_engine(&state, &prepared.recipe.language, prepared.job, None).await {
        Ok(result) => Ok(json_response(
            StatusCode::OK,
            &response_json(&prepared.language, &prepared.version, compiled, &result),
        )),
        // Piston reports its own failures as a run with status XX.
        Err(ApiError::Internal(message)) => Ok(json_response(
            StatusCode::OK,
            &json!({
                "language": prepared.language,
                "version": prepared.version,
                "run": internal_stage(&message),
            }),
        )),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_semver() {
        assert_eq!(semver_of("3.11.2"), (3, 11, 2));
        assert_eq!(semver_of("3.9-v7.3.11"), (3, 9, 0));
        assert_eq!(semver_of("jdk-17.0.2+8"), (17, 0, 2));
        assert_eq!(semver_of("head"), (0, 0, 0));
        assert_eq!(version_text("12"), "12.0.0");
    }

    #[test]
    fn node_semver_ranges() {
        let v = (3, 11, 2);
        let yes = [
            "*",
            "",
            "x",
            "3",
            "3.x",
            "3.11",
            "3.11.x",
            "3.11.2",
            "=3.11.2",
            "v3.11.2",
            "^3.10",
            "^3.11.2",
            "~3.11",
            "~3.11.0",
            ">=3.8",
            ">= 3.8",
            ">3.10",
            ">3.11.1",
            "<4",
            "<=3.11",
            "<=3.11.2",
            ">=3.8 <4",
            "2.x || 3.x",
            "3.10 - 3.12",
            "3.11.2-rc1",
        ];
        for r in yes {
            assert_eq!(satisfies(v, r), Some(true), "{r}");
        }
        let no = [
            "3.10",
            "3.10.0",
            "2.x",
            "^3.12",
            "~3.10",
            ">3.11",
            ">3.11.2",
            "<3.11",
            "<3.11.2",
            "<=3.10",
            ">*",
            "4 - 5",
            "^2",
            "1.x || 2.x",
        ];
        for r in no {
            assert_eq!(satisfies(v, r), Some(false), "{r}");
        }
        assert_eq!(satisfies((0, 2, 5), "^0.2.3"), Some(true));
        assert_eq!(satisfies((0, 3, 0), "^0.2.3"), Some(false));
        assert_eq!(satisfies((0, 0, 4), "^0.0.3"), Some(false));
        for bad in ["three", "3.a", "1.2.3.4", "!3", ">=", "1 -"] {
            assert_eq!(satisfies(v, bad), None, "{bad}");
        }
    }

    #[test]
    fn statuses_say_why_a_step_ended() {
        let mut s = StepResult {
            exit_code: Some(0),
            signal: None,
            limit: None,
            stdout: b"a".to_vec(),
            stderr: b"b".to_vec(),
            merged: b"ab".to_vec(),
            stdout_truncated: false,
            stderr_truncated: false,
            wall_time_ms: 5,
            cpu_time_ms: 3,
            memory_kb: Some(2),
            cached: false,
        };
        let j = stage_json(&s);
        assert_eq!(j["status"], Value::Null);
        assert_eq!(j["output"], "ab");
        assert_eq!(j["memory"], 2048);
        s.exit_code = Some(3);
        assert_eq!(status_of(&s).0, Some("RE"));
        s.exit_code = None;
        s.signal = Some(11);
        assert_eq!(status_of(&s).0, Some("SG"));
        assert_eq!(stage_json(&s)["signal"], "SIGSEGV");
        assert_eq!(stage_json(&s)["code"], Value::Null);
        s.signal = Some(9);
        s.limit = Some("wall_time");
        assert_eq!(status_of(&s).0, Some("TO"));
        s.limit = Some("output");
        s.stderr_truncated = true;
        assert_eq!(status_of(&s).0, Some("EL"));
        s.stdout_truncated = true;
        assert_eq!(status_of(&s).0, Some("OL"));
    }
}
