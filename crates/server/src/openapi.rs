//! The OpenAPI 3 document of the API, built from the route table so that it lists
//! exactly the routes the router serves; each route's details are written out below.

use serde_json::{json, Map, Value};

use crate::auth::Access;
use crate::compat;
use crate::config::ServerConfig;
use crate::routes::{RouteSpec, ROUTES};

/// The whole document.
pub fn document(config: &ServerConfig) -> Value {
    let mut paths = Map::new();
    for spec in ROUTES {
        let item = paths
            .entry(spec.path.to_owned())
            .or_insert_with(|| json!({}));
        item[spec.method.to_ascii_lowercase()] = operation(spec, config.auth);
    }
    let mut servers = Vec::new();
    if let Some(base) = &config.public_base_url {
        servers.push(json!({ "url": base.trim_end_matches('/') }));
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "codeexec",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Compile and run untrusted code in a sandbox behind an HTTP API. Every response but /metrics, this document and the compatible routes (tag compat: Wandbox's and Piston's APIs, in their own formats) is an envelope: {data, meta: {timestamp, request_id}, status, message, success}.",
            "license": { "name": "Apache-2.0" },
        },
        "servers": servers,
        "tags": [compat::openapi::tag()],
        "paths": paths,
        "components": components(),
    })
}

/// The operation object of one route.
pub fn operation(spec: &RouteSpec, auth: bool) -> Value {
    if let Some(api) = spec.compat() {
        return compat::openapi::operation(spec, api, auth);
    }
    let (id, description, parameters, body, data) = details(spec);
    let mut responses = Map::new();
    responses.insert("200".into(), envelope_response(spec.summary, data));
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if spec.access != Access::Public && auth {
        errors.extend([
            ("401", "Missing or unknown API key"),
            ("403", "Revoked key"),
            (
                "429",
                "Rate limit or monthly quota exceeded (Retry-After, X-RateLimit-*)",
            ),
        ]);
    }
    match (spec.method, spec.path) {
        ("GET" | "POST", "/v1/run") => errors.extend([
            (
                "400",
                "A missing or invalid field, an unknown language, compiler or option",
            ),
            (
                "413",
                "code, stdin or the body over this server's size limit",
            ),
            (
                "500",
                "codeexec failed internally (never the program's fault)",
            ),
            ("503", "The run queue is full (Retry-After)"),
        ]),
        ("GET", "/v1/compilers") => errors.push(("400", "Unknown language")),
        ("GET", "/v1/permlinks/{id}") => errors.push(("404", "No such permlink")),
        ("DELETE", "/v1/permlinks/{id}") => {
            errors.extend([("404", "No such permlink"), ("403", "Made by another key")])
        }
        _ => {}
    }
    for (code, text) in errors {
        let mut response = error_response(text);
        match code {
            "429" => response["headers"] = rate_limit_headers(),
            "503" => response["headers"] = json!({ "Retry-After": retry_after() }),
            _ => {}
        }
        responses.insert(code.into(), response);
    }
    let mut op = json!({
        "operationId": id,
        "summary": spec.summary,
        "description": description,
        "parameters": parameters,
        "responses": responses,
        "security": security(spec.access, auth),
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

fn security(access: Access, auth: bool) -> Value {
    if access == Access::Public || !auth {
        json!([])
    } else {
        json!([{ "ApiKey": [] }, { "OanorKey": [] }, { "Bearer": [] }])
    }
}

fn query(name: &str, required: bool, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "required": required,
        "schema": { "type": "string" },
        "description": description,
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn envelope_response(summary: &str, data: Value) -> Value {
    json!({
        "description": summary,
        "content": { "application/json": { "schema": {
            "allOf": [
                schema_ref("Envelope"),
                { "type": "object", "properties": { "data": data } },
            ],
        } } },
    })
}

fn retry_after() -> Value {
    json!({ "description": "Seconds to wait before retrying", "schema": { "type": "integer" } })
}

/// The headers of a 429: for the per-second rate, or for the monthly quota (then
/// Limit is the quota and Reset the seconds until the month ends, UTC).
fn rate_limit_headers() -> Value {
    let int = |d: &str| json!({ "description": d, "schema": { "type": "integer" } });
    json!({
        "Retry-After": retry_after(),
        "X-RateLimit-Limit": int("Requests per second of the plan (or its monthly quota)"),
        "X-RateLimit-Remaining": int("Requests left in the window (0 on a 429)"),
        "X-RateLimit-Reset": int("Seconds until the window is full again"),
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": {
            "allOf": [
                schema_ref("Envelope"),
                { "type": "object", "properties": { "data": schema_ref("ErrorData") } },
            ],
        } } },
    })
}

type Details = (&'static str, &'static str, Value, Option<Value>, Value);

/// operationId, description, parameters, request body and the schema of `data`.
fn details(spec: &RouteSpec) -> Details {
    let id_param = json!([{
        "name": "id", "in": "path", "required": true,
        "schema": { "type": "string" }, "description": "The permlink id",
    }]);
    match (spec.method, spec.path) {
        ("GET", "/v1/run") => (
            "runGet",
            "Compiles and runs `code`. `options` is comma-separated; `args` and `compiler_options` are newline-separated.",
            json!([
                query("language", true, "A language, alias or compiler name (python, c++, gcc-12.2.0-c); optional when compiler is given"),
                query("code", true, "Source code"),
                query("stdin", false, "Standard input"),
                query("options", false, "Switch names, comma-separated (see /v1/compilers)"),
                query("compiler", false, "An explicit compiler name (must belong to language, if both are given)"),
                query("args", false, "Runtime arguments, newline-separated"),
                query("compiler_options", false, "Raw compiler options, newline-separated"),
                query("save", false, "true: also save the run and return a permlink"),
            ]),
            None,
            schema_ref("RunResult"),
        ),
        ("POST", "/v1/run") => (
            "runPost",
            "Like GET /v1/run with the fields in a JSON body, plus extra `files` and per-request limits (which may only lower this server's).",
            json!([]),
            Some(json!({
                "required": true,
                "content": { "application/json": { "schema": schema_ref("RunRequest") } },
            })),
            schema_ref("RunResult"),
        ),
        ("GET", "/v1/compilers") => (
            "listCompilers",
            "Installed compilers, optionally of one language.",
            json!([query("language", false, "Only compilers of this language")]),
            None,
            schema_ref("CompilerList"),
        ),
        ("GET", "/v1/languages") => (
            "listLanguages",
            "Languages with at least one installed compiler.",
            json!([]),
            None,
            schema_ref("LanguageList"),
        ),
        ("GET", "/v1/meta") => (
            "meta",
            "What this service is: name, note, endpoints, auth scheme, version and this host's limits.",
            json!([]),
            None,
            json!({ "type": "object" }),
        ),
        ("GET", "/v1/usage") => (
            "usage",
            "The caller's plan, limits and calls this month. Not counted against the quota.",
            json!([]),
            None,
            schema_ref("Usage"),
        ),
        ("GET", "/v1/permlinks/{id}") => (
            "getPermlink",
            "A saved run: its request and result. Readable without a key by anyone with the id.",
            id_param,
            None,
            schema_ref("Permlink"),
        ),
        ("DELETE", "/v1/permlinks/{id}") => (
            "deletePermlink",
            "Deletes a saved run; only the key that made it may.",
            id_param,
            None,
            json!({ "type": "object", "properties": {
                "id": { "type": "string" }, "deleted": { "type": "boolean" },
            } }),
        ),
        ("GET", "/v1/openapi.json") => (
            "openapi",
            "This document (not enveloped).",
            json!([]),
            None,
            json!({ "type": "object" }),
        ),
        ("GET", "/healthz") => (
            "healthz",
            "Liveness, with the engine's queue.",
            json!([]),
            None,
            json!({ "type": "object", "properties": {
                "healthy": { "type": "boolean" },
                "running": { "type": "integer" },
                "waiting": { "type": "integer" },
                "slots": { "type": "integer" },
                "queue_limit": { "type": "integer" },
            } }),
        ),
        ("GET", "/metrics") => (
            "metrics",
            "Prometheus text format (not enveloped): requests by route and code, runs by status and language, queue depth, run durations.",
            json!([]),
            None,
            json!({ "type": "string" }),
        ),
        _ => (
            "undocumented",
            "",
            json!([]),
            None,
            json!({}),
        ),
    }
}

fn components() -> Value {
    let mut doc = own_components();
    if let Some(Value::Object(schemas)) = doc.get_mut("schemas") {
        schemas.extend(compat::openapi::schemas());
    }
    doc
}

fn own_components() -> Value {
    let string = json!({ "type": "string" });
    let nullable_string = json!({ "type": "string", "nullable": true });
    let nullable_int = json!({ "type": "integer", "nullable": true });
    let boolean = json!({ "type": "boolean" });
    let string_or_list = json!({ "oneOf": [
        { "type": "string" },
        { "type": "array", "items": { "type": "string" } },
    ] });
    let limit = json!({ "type": "integer", "minimum": 1 });
    json!({
        "securitySchemes": {
            "ApiKey": { "type": "apiKey", "in": "header", "name": "x-api-key" },
            "OanorKey": { "type": "apiKey", "in": "header", "name": "x-oanor-key" },
            "Bearer": { "type": "http", "scheme": "bearer" },
        },
        "schemas": {
            "Envelope": {
                "type": "object",
                "required": ["data", "meta", "status", "message", "success"],
                "properties": {
                    "data": {},
                    "meta": {
                        "type": "object",
                        "properties": {
                            "timestamp": { "type": "string", "format": "date-time" },
                            "request_id": { "type": "string", "format": "uuid" },
                        },
                    },
                    "status": { "type": "string", "enum": ["ok", "error"] },
                    "message": string,
                    "success": boolean,
                },
            },
            "ErrorData": {
                "type": "object",
                "properties": {
                    "error": { "type": "string", "description": "missing_field, invalid_field, unknown_language, unknown_option, too_large, rate_limited, quota_exceeded, queue_full, …" },
                    "field": nullable_string,
                    "suggestions": { "type": "array", "items": string },
                    "valid": { "type": "array", "items": string },
                },
            },
            "RunRequest": {
                "type": "object",
                "required": ["code"],
                "properties": {
                    "language": string,
                    "compiler": string,
                    "code": string,
                    "stdin": string,
                    "options": string_or_list,
                    "args": string_or_list,
                    "compiler_options": string_or_list,
                    "save": { "oneOf": [boolean, string] },
                    "files": { "type": "array", "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": { "name": string, "content": string },
                    } },
                    "time_limit_ms": limit,
                    "cpu_time_limit_ms": limit,
                    "compile_time_limit_ms": limit,
                    "memory_limit_mb": limit,
                    "output_limit_kb": limit,
                },
            },
            "RunResult": {
                "type": "object",
                "properties": {
                    "compiler": string,
                    "language": string,
                    "version": string,
                    "status": { "type": "string", "enum": [
                        "ok", "compile_error", "runtime_error", "signaled",
                        "time_limit", "memory_limit", "output_limit",
                    ] },
                    "exit_code": nullable_int,
                    "signal": nullable_string,
                    "limit": nullable_string,
                    "stdout": string,
                    "stderr": string,
                    "compiler_output": string,
                    "compiler_error": string,
                    "compiler_message": string,
                    "permlink": nullable_string,
                    "permlink_url": nullable_string,
                    "time_ms": nullable_int,
                    "cpu_time_ms": nullable_int,
                    "memory_kb": nullable_int,
                    "compile_time_ms": nullable_int,
                    "compile_cached": boolean,
                    "stdout_truncated": boolean,
                    "stderr_truncated": boolean,
                    "compiler_message_truncated": boolean,
                    "options": { "type": "array", "items": string },
                },
            },
            "CompilerList": {
                "type": "object",
                "properties": {
                    "count": { "type": "integer" },
                    "compilers": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "name": string,
                            "version": string,
                            "language": string,
                            "display_name": string,
                            "display_compile_command": string,
                            "switches": { "type": "array", "items": { "type": "object" } },
                            "compiler_option_raw": boolean,
                            "runtime_option_raw": boolean,
                        },
                    } },
                },
            },
            "LanguageList": {
                "type": "object",
                "properties": {
                    "count": { "type": "integer" },
                    "languages": { "type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "language": string,
                            "id": string,
                            "versions": { "type": "integer" },
                            "default_compiler": string,
                            "aliases": { "type": "array", "items": string },
                            "compilers": { "type": "array", "items": string },
                            "extensions": { "type": "array", "items": string },
                        },
                    } },
                },
            },
            "Usage": {
                "type": "object",
                "properties": {
                    "auth": boolean,
                    "key": { "type": "object", "nullable": true },
                    "plan": { "type": "object", "nullable": true },
                    "month": string,
                    "calls_used": nullable_int,
                    "calls_remaining": nullable_int,
                    "resets_at": { "type": "string", "format": "date-time" },
                    "resets_in_seconds": { "type": "integer" },
                },
            },
            "Permlink": {
                "type": "object",
                "properties": {
                    "id": string,
                    "created_at": { "type": "string", "format": "date-time" },
                    "language": string,
                    "compiler": string,
                    "request": { "type": "object" },
                    "result": schema_ref("RunResult"),
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_in_detail() {
        for spec in ROUTES {
            let op = operation(spec, true);
            assert_ne!(op["operationId"], "undocumented", "{spec:?}");
        }
        let doc = document(&ServerConfig::default());
        let ops: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(ops, ROUTES.len());
    }
}
