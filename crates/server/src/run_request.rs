//! A run request, from a GET query or a POST JSON body, checked field by field so that
//! every refusal names the field at fault.

use codeexec_catalog::split_raw;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::files::{check_files, FileEntry};

/// Per-request limits: each may only lower the job's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestedLimits {
    pub time_limit_ms: Option<u64>,
    pub cpu_time_limit_ms: Option<u64>,
    pub compile_time_limit_ms: Option<u64>,
    pub memory_limit_mb: Option<u64>,
    pub output_limit_kb: Option<u64>,
}

/// A run request, parsed and checked (but not yet resolved against the catalogue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRequest {
    /// A language, alias or compiler name; empty when only `compiler` is given.
    pub language: String,
    pub compiler: Option<String>,
    pub code: String,
    pub stdin: String,
    /// Switch names.
    pub options: Vec<String>,
    /// Runtime arguments, one per element.
    pub args: Vec<String>,
    /// Raw compiler options, one per element.
    pub compiler_options: Vec<String>,
    pub save: bool,
    pub files: Vec<FileEntry>,
    pub limits: RequestedLimits,
}

/// Fields of `GET /v1/run` (others are ignored, as cache-busting parameters are).
pub const QUERY_FIELDS: [&str; 8] = [
    "language",
    "code",
    "stdin",
    "options",
    "compiler",
    "args",
    "save",
    "compiler_options",
];

/// Fields of `POST /v1/run` (others are refused, to catch misspellings).
pub const BODY_FIELDS: &[&str] = &[
    "language",
    "code",
    "stdin",
    "options",
    "compiler",
    "args",
    "save",
    "compiler_options",
    "files",
    "time_limit_ms",
    "cpu_time_limit_ms",
    "compile_time_limit_ms",
    "memory_limit_mb",
    "output_limit_kb",
];

impl RunRequest {
    /// From `GET /v1/run`'s query pairs.
    pub fn from_query(
        pairs: Vec<(String, String)>,
        config: &ServerConfig,
    ) -> Result<Self, ApiError> {
        let mut fields: Map<String, Value> = Map::new();
        for (name, value) in pairs {
            if !QUERY_FIELDS.contains(&name.as_str()) {
                continue;
            }
            if fields.contains_key(&name) {
                return Err(ApiError::invalid(name, "given more than once"));
            }
            fields.insert(name, Value::String(value));
        }
        RunRequest::from_fields(fields, config)
    }

    /// From `POST /v1/run`'s body.
    pub fn from_json(body: &[u8], config: &ServerConfig) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadJson(
                "the body is empty; send a JSON object such as {\"language\": \"python\", \"code\": \"print(1)\"}".into(),
            ));
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| ApiError::BadJson(e.to_string()))?;
        let Value::Object(fields) = value else {
            return Err(ApiError::BadJson(
                "the body must be a JSON object".to_owned(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !BODY_FIELDS.contains(&k.as_str())) {
            return Err(ApiError::UnknownField {
                field: unknown.clone(),
                known: BODY_FIELDS,
            });
        }
        RunRequest::from_fields(fields, config)
    }

    fn from_fields(mut f: Map<String, Value>, config: &ServerConfig) -> Result<Self, ApiError> {
        let language = optional_string(&mut f, "language")?.unwrap_or_default();
        check_name("language", &language)?;
        let compiler = optional_string(&mut f, "compiler")?.filter(|c| !c.trim().is_empty());
        if let Some(c) = &compiler {
            check_name("compiler", c)?;
        }
        if language.trim().is_empty() && compiler.is_none() {
            return Err(ApiError::MissingField {
                field: "language",
                hint: " (a language such as python, or give `compiler`; see /v1/languages)",
            });
        }
        let code = optional_string(&mut f, "code")?.ok_or(ApiError::MissingField {
            field: "code",
            hint: "",
        })?;
        check_size("code", code.len(), config.max_code_bytes)?;
        let stdin = optional_string(&mut f, "stdin")?.unwrap_or_default();
        check_size("stdin", stdin.len(), config.max_stdin_bytes)?;
        let files = match f.remove("files") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => check_files(v, config.max_files)?,
        };
        let total = code.len() + files.iter().map(|f| f.content.len()).sum::<usize>();
        check_size("files", total, config.max_code_bytes)?;
        let options = list(&mut f, "options", |s| {
            s.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect()
        })?;
        check_options(&options)?;
        let args = list(&mut f, "args", split_raw)?;
        check_arguments("args", &args)?;
        let compiler_options = list(&mut f, "compiler_options", split_raw)?;
        check_arguments("compiler_options", &compiler_options)?;
        Ok(RunRequest {
            language,
            compiler,
            code,
            stdin,
            options,
            args,
            compiler_options,
            save: flag(&mut f, "save")?,
            files,
            limits: RequestedLimits {
                time_limit_ms: positive(&mut f, "time_limit_ms")?,
                cpu_time_limit_ms: positive(&mut f, "cpu_time_limit_ms")?,
                compile_time_limit_ms: positive(&mut f, "compile_time_limit_ms")?,
                memory_limit_mb: positive(&mut f, "memory_limit_mb")?,
                output_limit_kb: positive(&mut f, "output_limit_kb")?,
            },
        })
    }
}

/// Longest language or compiler name (real ones are short; a long one would only make
/// the search for close matches slow).
const MAX_NAME_BYTES: usize = 128;
/// Most switch names in `options`.
const MAX_OPTIONS: usize = 64;
/// Most arguments in `args` or `compiler_options`, and the longest one (the kernel
/// refuses single arguments over 128 KiB).
const MAX_ARGUMENTS: usize = 1024;
const MAX_ARGUMENT_BYTES: usize = 64 << 10;

fn check_name(field: &'static str, name: &str) -> Result<(), ApiError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid(
            field,
            format!(
                "is {} bytes long; names are at most {MAX_NAME_BYTES}",
                name.len()
            ),
        ));
    }
    Ok(())
}

fn check_options(options: &[String]) -> Result<(), ApiError> {
    if options.len() > MAX_OPTIONS {
        return Err(ApiError::invalid(
            "options",
            format!("{} given; at most {MAX_OPTIONS}", options.len()),
        ));
    }
    for (i, o) in options.iter().enumerate() {
        check_name("options", o).map_err(|_| {
            ApiError::invalid(format!("options[{i}]"), "is too long to be an option name")
        })?;
    }
    Ok(())
}

/// Arguments end up in an argv: no NUL bytes, none too long, not too many.
fn check_arguments(field: &'static str, args: &[String]) -> Result<(), ApiError> {
    if args.len() > MAX_ARGUMENTS {
        return Err(ApiError::invalid(
            field,
            format!("{} arguments given; at most {MAX_ARGUMENTS}", args.len()),
        ));
    }
    for (i, a) in args.iter().enumerate() {
        if a.contains('\0') {
            return Err(ApiError::invalid(
                format!("{field}[{i}]"),
                "contains a NUL character, which no argument can hold",
            ));
        }
        if a.len() > MAX_ARGUMENT_BYTES {
            return Err(ApiError::invalid(
                format!("{field}[{i}]"),
                format!(
                    "is {} bytes; an argument is at most {MAX_ARGUMENT_BYTES}",
                    a.len()
                ),
            ));
        }
    }
    Ok(())
}

fn check_size(field: &'static str, size: usize, limit: usize) -> Result<(), ApiError> {
    if size > limit {
        return Err(ApiError::TooLarge { field, size, limit });
    }
    Ok(())
}

fn optional_string(f: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match f.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::invalid(
            name,
            format!("must be a string, not {}", kind(&other)),
        )),
    }
}

/// A list given as one string (split by `split`) or as an array of strings.
fn list(
    f: &mut Map<String, Value>,
    name: &str,
    split: impl Fn(&str) -> Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match f.remove(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(split(&s)),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s),
                other => Err(ApiError::invalid(
                    format!("{name}[{i}]"),
                    format!("must be a string, not {}", kind(&other)),
                )),
            })
            .collect(),
        Some(other) => Err(ApiError::invalid(
            name,
            format!(
                "must be a string or an array of strings, not {}",
                kind(&other)
            ),
        )),
    }
}

/// `true`/`false`, or their usual spellings in a query string.
fn flag(f: &mut Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match f.remove(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            _ => Err(ApiError::invalid(
                name,
                format!("{s:?} is not a boolean; use true or false"),
            )),
        },
        Some(other) => Err(ApiError::invalid(
            name,
            format!("must be true or false, not {}", kind(&other)),
        )),
    }
}

/// A whole number ≥ 1.
fn positive(f: &mut Map<String, Value>, name: &'static str) -> Result<Option<u64>, ApiError> {
    match f.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v >= 1 => Ok(Some(v)),
            _ => Err(ApiError::invalid(
                name,
                format!("{n} is not a whole number of at least 1"),
            )),
        },
        Some(other) => Err(ApiError::invalid(
            name,
            format!("must be a number, not {}", kind(&other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ServerConfig {
        ServerConfig::default()
    }

    fn post(body: &str) -> Result<RunRequest, ApiError> {
        RunRequest::from_json(body.as_bytes(), &cfg())
    }

    #[test]
    fn query_fields_split_as_the_spec_says() {
        let pairs = [
            ("language", "c"),
            ("code", "int main(){}"),
            ("options", "warning, optimize"),
            ("args", "a\nb c\n"),
            ("compiler_options", "-lm"),
            ("save", "true"),
            ("_", "123"),
        ];
        let r = RunRequest::from_query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            &cfg(),
        )
        .unwrap();
        assert_eq!(r.options, ["warning", "optimize"]);
        assert_eq!(r.args, ["a", "b c"]);
        assert_eq!(r.compiler_options, ["-lm"]);
        assert!(r.save);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |body: &str| post(body).unwrap_err().field();
        assert_eq!(field(r#"{"code":"x"}"#).as_deref(), Some("language"));
        assert_eq!(field(r#"{"language":"c"}"#).as_deref(), Some("code"));
        assert_eq!(
            field(r#"{"language":"c","code":5}"#).as_deref(),
            Some("code")
        );
        assert_eq!(
            field(r#"{"language":"c","code":"","langauge":"c"}"#).as_deref(),
            Some("langauge")
        );
        assert_eq!(
            field(r#"{"language":"c","code":"","save":"maybe"}"#).as_deref(),
            Some("save")
        );
        assert_eq!(
            field(r#"{"language":"c","code":"","time_limit_ms":0}"#).as_deref(),
            Some("time_limit_ms")
        );
        assert_eq!(
            field(r#"{"language":"c","code":"","args":["a",1]}"#).as_deref(),
            Some("args[1]")
        );
        assert_eq!(
            field(r#"{"language":"c","code":"","args":"a\nb\u0000c"}"#).as_deref(),
            Some("args[1]")
        );
        let long = "x".repeat(200);
        assert_eq!(
            field(&format!(r#"{{"language":"{long}","code":""}}"#)).as_deref(),
            Some("language")
        );
        assert!(matches!(post("[1]"), Err(ApiError::BadJson(_))));
        assert!(matches!(post("{"), Err(ApiError::BadJson(_))));
        assert!(matches!(post(""), Err(ApiError::BadJson(_))));
    }

    #[test]
    fn sizes_are_checked() {
        let mut c = cfg();
        c.max_code_bytes = 4;
        let e = RunRequest::from_json(br#"{"language":"c","code":"12345"}"#, &c).unwrap_err();
        assert_eq!(e.field().as_deref(), Some("code"));
        assert_eq!(e.status().as_u16(), 413);
        let e = RunRequest::from_json(
            br#"{"language":"c","code":"12","files":[{"name":"a.h","content":"345"}]}"#,
            &c,
        )
        .unwrap_err();
        assert_eq!(e.field().as_deref(), Some("files"));
    }
}
