//! `GET /v1/meta`, `/v1/openapi.json`, `/healthz` and `/metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::Access;
use crate::envelope::Reply;
use crate::openapi;
use crate::routes::ROUTES;
use crate::state::AppState;

/// How a client authenticates, in words.
pub fn auth_scheme(auth: bool) -> &'static str {
    if auth {
        "API key in the x-api-key header (x-oanor-key and Authorization: Bearer also work)"
    } else {
        "none: this server runs without keys"
    }
}

fn access_name(a: Access) -> &'static str {
    match a {
        Access::Public => "public",
        Access::Key => "key",
        Access::Counted => "key, counted against the monthly quota",
    }
}

pub async fn meta(State(state): State<AppState>) -> Reply {
    let config = state.config();
    let catalog = state.catalog();
    let stats = state.engine().stats();
    let endpoints: Vec<_> = ROUTES
        .iter()
        .map(|r| {
            json!({
                "method": r.method,
                "path": r.path,
                "summary": r.summary,
                "auth": access_name(r.access),
            })
        })
        .collect();
    let languages = catalog.languages().count();
    Reply::new(
        super::summary("GET", "/v1/meta"),
        json!({
            "name": "codeexec",
            "note": format!(
                "Compile and run code in {languages} languages. Pass ?language= (e.g. python, c++, go, rust, java) or an explicit ?compiler= (see /v1/compilers), with code, optional stdin, options, compiler_options and args; POST /v1/run takes the same as JSON plus files and per-request limits. Returns exit_code, stdout, stderr and compiler messages. Set save=true for a shareable permlink. Execution is live and never cached."
            ),
            "version": env!("CARGO_PKG_VERSION"),
            "auth": auth_scheme(config.auth),
            "source": "codeexec: self-hosted sandbox (namespaces, seccomp, cgroups) on this host",
            "endpoints": endpoints,
            "endpoint_count": ROUTES.len(),
            "languages": languages,
            "compilers": catalog.installed().len(),
            "plans": config.plans,
            "limits": {
                "max_code_bytes": config.max_code_bytes,
                "max_stdin_bytes": config.max_stdin_bytes,
                "max_body_bytes": config.max_body_bytes,
                "max_files": config.max_files,
                "job_defaults": catalog.default_limits(),
                "job_caps": config.limit_caps,
                "slots": stats.slots,
                "queue_limit": stats.queue_limit,
            },
        }),
    )
}

pub async fn healthz(State(state): State<AppState>) -> Reply {
    let stats = state.engine().stats();
    Reply::new(
        super::summary("GET", "/healthz"),
        json!({
            "healthy": true,
            "running": stats.running,
            "waiting": stats.waiting,
            "slots": stats.slots,
            "queue_limit": stats.queue_limit,
        }),
    )
}

/// Prometheus text; not enveloped, as scrapers expect the bare format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics().render(
        state.engine().stats(),
        state.engine().compile_cache().map(|c| c.stats()),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The OpenAPI document; not enveloped, so OpenAPI tools can load it as is.
pub async fn openapi(State(state): State<AppState>) -> Response {
    let doc = openapi::document(state.config());
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}
