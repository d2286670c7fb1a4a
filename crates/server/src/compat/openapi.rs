//! The OpenAPI operations of the compatible routes (tag `compat`): not enveloped, their
//! errors in each API's own format.

use serde_json::{json, Map, Value};

use super::Api;
use crate::auth::Access;
use crate::routes::RouteSpec;

/// The tag of every compatible route.
pub const TAG: &str = "compat";

pub fn tag() -> Value {
    json!({
        "name": TAG,
        "description": "Drop-in compatible APIs: Wandbox's (/api/…) and Piston's v2 (/api/v2/…), on the same engine, keys, plans and limits. A client of either changes only its base URL. Answers are in each API's own format, not the envelope; errors are a text/plain body (Wandbox) or {\"message\"} (Piston) with the HTTP status.",
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name, "in": "path", "required": true,
        "schema": { "type": "string" }, "description": description,
    })
}

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn ok(description: &str, media: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { media: { "schema": schema } } })
}

fn error(api: Api, description: &str) -> Value {
    match api {
        Api::Wandbox => ok(description, "text/plain", json!({ "type": "string" })),
        Api::Piston => ok(description, "application/json", schema_ref("PistonError")),
    }
}

type Details = (&'static str, &'static str, Vec<Value>, Option<Value>, Value);

fn details(spec: &RouteSpec) -> Details {
    match (spec.method, spec.path) {
        ("POST", "/api/compile.json") => (
            "wandboxCompile",
            "Wandbox's compile: compiles and runs, and answers with every field of Wandbox's result, each a string (`status` the exit code, `signal` glibc's text such as `Killed`). `save: true` also saves a permlink.",
            vec![],
            Some(json_body(schema_ref("WandboxCompileRequest"))),
            ok("The result", "application/json", schema_ref("WandboxResult")),
        ),
        ("POST", "/api/compile.ndjson") => (
            "wandboxCompileNdjson",
            "Wandbox's streamed compile: one JSON event per line, written as the program produces output: Control Start, CompilerMessageS/E, StdOut, StdErr, (Control Killed or Timeout after a limit), Signal and/or ExitCode, Control Finish.",
            vec![],
            Some(json_body(schema_ref("WandboxCompileRequest"))),
            ok("Events, one per line", "application/x-ndjson", schema_ref("WandboxEvent")),
        ),
        ("GET", "/api/list.json") => (
            "wandboxList",
            "Every installed compiler in Wandbox's format (switches, templates, raw-option flags, display-compile-command).",
            vec![],
            None,
            ok("Compilers", "application/json", json!({ "type": "array", "items": schema_ref("WandboxCompiler") })),
        ),
        ("GET", "/api/permlink/{id}") => (
            "wandboxPermlink",
            "A saved run (made through either API): {parameter, results, result}.",
            vec![path_param("id", "The permlink id")],
            None,
            ok("The saved run", "application/json", json!({ "type": "object", "properties": {
                "parameter": { "type": "object" },
                "results": { "type": "array", "items": schema_ref("WandboxEvent") },
                "result": schema_ref("WandboxResult"),
            } })),
        ),
        ("POST", "/api/permlink") => (
            "wandboxSavePermlink",
            "Saves a run the client already has (the request fields and its `results` events); answers {permlink, url}.",
            vec![],
            Some(json_body(json!({ "allOf": [
                schema_ref("WandboxCompileRequest"),
                { "type": "object", "properties": { "results": { "type": "array", "items": schema_ref("WandboxEvent") } } },
            ] }))),
            ok("The permlink", "application/json", json!({ "type": "object", "properties": {
                "permlink": { "type": "string" }, "url": { "type": "string" },
            } })),
        ),
        ("GET", "/api/template/{name}") => (
            "wandboxTemplate",
            "The hello-world program of a compiler (or a language).",
            vec![path_param("name", "A compiler name from /api/list.json")],
            None,
            ok("The template", "application/json", json!({ "type": "object", "properties": {
                "name": { "type": "string" }, "code": { "type": "string" },
            } })),
        ),
        ("POST", "/api/v2/execute") => (
            "pistonExecute",
            "Piston's execute: `language` (or alias, or a compiler name), `version` as a semver range, `files` (utf8/base64/hex), `stdin`, `args` and six limits that may only lower this server's (above them: 400).",
            vec![],
            Some(json_body(schema_ref("PistonExecuteRequest"))),
            ok("The result", "application/json", schema_ref("PistonResult")),
        ),
        ("GET", "/api/v2/runtimes") => (
            "pistonRuntimes",
            "Every installed compiler as a Piston runtime.",
            vec![],
            None,
            ok("Runtimes", "application/json", json!({ "type": "array", "items": schema_ref("PistonRuntime") })),
        ),
        ("GET", "/api/v2/connect") => (
            "pistonConnect",
            "Piston's interactive run over a WebSocket: send {type: init, …execute fields…}; receive runtime, stage, data {stream, data}, exit {stage, code, signal} and error messages; close codes 4000–4005, 4999 when the job is done. The program's stdin is the init message's `stdin` (input sent while it runs cannot reach it yet).",
            vec![],
            None,
            json!({ "description": "Switching Protocols: the WebSocket is open" }),
        ),
        _ => ("undocumented", "", vec![], None, json!({})),
    }
}

/// The operation object of a compatible route.
pub fn operation(spec: &RouteSpec, api: Api, auth: bool) -> Value {
    let (id, description, parameters, body, success) = details(spec);
    let mut responses = Map::new();
    let ok_code = if spec.path == "/api/v2/connect" {
        "101"
    } else {
        "200"
    };
    responses.insert(ok_code.into(), success);
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if spec.access != Access::Public && auth {
        errors.extend([
            (
                "401",
                "Missing or unknown API key (x-api-key, x-oanor-key or Authorization)",
            ),
            ("403", "Revoked key"),
            ("429", "Rate limit or monthly quota exceeded (Retry-After)"),
        ]);
    }
    match (spec.method, spec.path) {
        ("POST", _) => errors.extend([
            ("400", "A missing or invalid field, an unknown compiler or runtime (with the nearest we have), a limit above this server's"),
            ("413", "The body, code or stdin over this server's size limit"),
        ]),
        ("GET", "/api/permlink/{id}") | ("GET", "/api/template/{name}") => {
            errors.push(("404", "No such permlink or template"))
        }
        ("GET", "/api/v2/connect") => errors.push(("400", "Not a WebSocket upgrade")),
        _ => {}
    }
    if matches!(
        spec.path,
        "/api/compile.json" | "/api/compile.ndjson" | "/api/v2/execute"
    ) {
        errors.extend([
            ("500", "codeexec failed internally"),
            ("503", "The run queue is full (Retry-After)"),
        ]);
    }
    for (code, text) in errors {
        responses.insert(code.into(), error(api, text));
    }
    let security = if spec.access == Access::Public || !auth {
        json!([])
    } else {
        json!([{ "ApiKey": [] }, { "OanorKey": [] }, { "Bearer": [] }])
    };
    let mut op = json!({
        "operationId": id,
        "summary": spec.summary,
        "description": description,
        "tags": [TAG],
        "parameters": parameters,
        "responses": responses,
        "security": security,
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

/// The schemas the compatible operations refer to.
pub fn schemas() -> Map<String, Value> {
    let string = json!({ "type": "string" });
    let nullable_string = json!({ "type": "string", "nullable": true });
    let nullable_int = json!({ "type": "integer", "nullable": true });
    let limit = json!({ "type": "number", "description": "-1: this server's maximum" });
    let value = json!({
        "WandboxCompileRequest": { "type": "object", "required": ["compiler"], "properties": {
            "compiler": string, "code": string,
            "codes": { "type": "array", "items": { "type": "object", "properties": { "file": string, "code": string } } },
            "options": { "type": "string", "description": "Switch names, comma-separated" },
            "stdin": string,
            "compiler-option-raw": { "type": "string", "description": "One argument per line" },
            "runtime-option-raw": { "type": "string", "description": "One argument per line" },
            "save": { "type": "boolean" }, "title": string, "description": string,
        } },
        "WandboxResult": { "type": "object", "properties": {
            "status": string, "signal": string, "compiler_output": string, "compiler_error": string,
            "compiler_message": string, "program_output": string, "program_error": string,
            "program_message": string, "permlink": string, "url": string,
        } },
        "WandboxEvent": { "type": "object", "properties": {
            "type": { "type": "string", "enum": ["Control", "CompilerMessageS", "CompilerMessageE", "StdOut", "StdErr", "ExitCode", "Signal"] },
            "data": string,
        } },
        "WandboxCompiler": { "type": "object", "properties": {
            "name": string, "version": string, "language": string, "display-name": string,
            "templates": { "type": "array", "items": string },
            "compiler-option-raw": { "type": "boolean" }, "runtime-option-raw": { "type": "boolean" },
            "display-compile-command": string,
            "switches": { "type": "array", "items": { "type": "object" } },
        } },
        "PistonExecuteRequest": { "type": "object", "required": ["language", "version", "files"], "properties": {
            "language": string,
            "version": { "type": "string", "description": "A semver range: 3.11.2, 3.x, *" },
            "files": { "type": "array", "items": { "type": "object", "required": ["content"], "properties": {
                "name": string, "content": string,
                "encoding": { "type": "string", "enum": ["utf8", "base64", "hex"] },
            } } },
            "stdin": string, "args": { "type": "array", "items": string },
            "compile_timeout": limit, "run_timeout": limit, "compile_cpu_time": limit,
            "run_cpu_time": limit, "compile_memory_limit": limit, "run_memory_limit": limit,
        } },
        "PistonStage": { "type": "object", "properties": {
            "stdout": string, "stderr": string, "output": string, "code": nullable_int,
            "signal": nullable_string, "message": nullable_string,
            "status": { "type": "string", "nullable": true, "enum": ["RE", "SG", "TO", "OL", "EL", "XX"] },
            "cpu_time": nullable_int, "wall_time": nullable_int,
            "memory": { "type": "integer", "nullable": true, "description": "Bytes" },
        } },
        "PistonResult": { "type": "object", "properties": {
            "language": string, "version": string,
            "run": schema_ref("PistonStage"), "compile": schema_ref("PistonStage"),
        } },
        "PistonRuntime": { "type": "object", "properties": {
            "language": string, "version": string, "aliases": { "type": "array", "items": string },
            "runtime": string,
        } },
        "PistonError": { "type": "object", "properties": { "message": string } },
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
