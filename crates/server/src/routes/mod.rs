//! The routes: one table ([`ROUTES`]) that the router, `/v1/meta` and the OpenAPI
//! document are all built from, so none of them can list a route the others lack.

mod catalog;
mod meta;
mod permlinks;
pub(crate) mod run;
mod usage;

use axum::http::{Method, Uri};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{require_counted_key, require_key, Access};
use crate::compat::{self, piston, wandbox, ws, Api};
use crate::error::ApiError;
use crate::state::AppState;

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    /// In axum's syntax (`/v1/permlinks/{id}`), which is also OpenAPI's.
    pub path: &'static str,
    pub access: Access,
    /// Also the `message` of a successful answer.
    pub summary: &'static str,
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        summary,
    }
}

/// Every route the server answers.
pub const ROUTES: &[RouteSpec] = &[
    route("GET", "/v1/run", Access::Counted, "Compile + run code"),
    route("POST", "/v1/run", Access::Counted, "Compile + run code"),
    route("GET", "/v1/compilers", Access::Counted, "Compiler list"),
    route(
        "GET",
        "/v1/languages",
        Access::Counted,
        "Supported languages",
    ),
    route("GET", "/v1/meta", Access::Counted, "Meta"),
    route("GET", "/v1/usage", Access::Key, "Usage"),
    route("GET", "/v1/permlinks/{id}", Access::Public, "Permlink"),
    route(
        "DELETE",
        "/v1/permlinks/{id}",
        Access::Counted,
        "Permlink deleted",
    ),
    route(
        "GET",
        "/v1/openapi.json",
        Access::Public,
        "OpenAPI document",
    ),
    route("GET", "/healthz", Access::Public, "Healthy"),
    route("GET", "/metrics", Access::Public, "Prometheus metrics"),
    // Wandbox's API (compatible: its clients change only the base URL).
    route(
        "POST",
        "/api/compile.json",
        Access::Counted,
        "Wandbox: compile + run",
    ),
    route(
        "POST",
        "/api/compile.ndjson",
        Access::Counted,
        "Wandbox: compile + run, streamed",
    ),
    route("GET", "/api/list.json", Access::Key, "Wandbox: compilers"),
    route(
        "GET",
        "/api/permlink/{id}",
        Access::Public,
        "Wandbox: a saved run",
    ),
    route("POST", "/api/permlink", Access::Key, "Wandbox: save a run"),
    route(
        "GET",
        "/api/template/{name}",
        Access::Key,
        "Wandbox: a template",
    ),
    // Piston's v2 API (compatible likewise).
    route(
        "POST",
        "/api/v2/execute",
        Access::Counted,
        "Piston: execute",
    ),
    route("GET", "/api/v2/runtimes", Access::Key, "Piston: runtimes"),
    route(
        "GET",
        "/api/v2/connect",
        Access::Counted,
        "Piston: interactive run (WebSocket)",
    ),
];

impl RouteSpec {
    /// The compatible API this route belongs to (`None` for codeexec's own routes).
    pub fn compat(&self) -> Option<Api> {
        Api::of_path(self.path)
    }
}

/// The summary of a route, for its success message.
pub(crate) fn summary(method: &str, path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|r| r.method == method && r.path == path)
        .map_or("ok", |r| r.summary)
}

/// The handler of a route in [`ROUTES`].
fn handler(spec: &RouteSpec) -> MethodRouter<AppState> {
    match (spec.method, spec.path) {
        ("GET", "/v1/run") => get(run::run_get),
        ("POST", "/v1/run") => post(run::run_post),
        ("GET", "/v1/compilers") => get(catalog::compilers),
        ("GET", "/v1/languages") => get(catalog::languages),
        ("GET", "/v1/meta") => get(meta::meta),
        ("GET", "/v1/usage") => get(usage::usage),
        ("GET", "/v1/permlinks/{id}") => get(permlinks::read),
        ("DELETE", "/v1/permlinks/{id}") => delete(permlinks::remove),
        ("GET", "/v1/openapi.json") => get(meta::openapi),
        ("GET", "/healthz") => get(meta::healthz),
        ("GET", "/metrics") => get(meta::metrics),
        ("POST", "/api/compile.json") => post(wandbox::compile_json),
        ("POST", "/api/compile.ndjson") => post(wandbox::compile_ndjson),
        ("GET", "/api/list.json") => get(wandbox::list_json),
        ("GET", "/api/permlink/{id}") => get(wandbox::permlink_get),
        ("POST", "/api/permlink") => post(wandbox::permlink_post),
        ("GET", "/api/template/{name}") => get(wandbox::template),
        ("POST", "/api/v2/execute") => post(piston::execute),
        ("GET", "/api/v2/runtimes") => get(piston::runtimes),
        ("GET", "/api/v2/connect") => get(ws::connect),
        (method, path) => unreachable!("route {method} {path} has no handler"),
    }
}

/// The routes of [`ROUTES`], each behind its access check, with envelope fallbacks
/// for unknown routes and methods.
pub(crate) fn api(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for spec in ROUTES {
        let mut method_router = match spec.access {
            Access::Public => handler(spec),
            Access::Key => {
                handler(spec).route_layer(from_fn_with_state(state.clone(), require_key))
            }
            Access::Counted => {
                handler(spec).route_layer(from_fn_with_state(state.clone(), require_counted_key))
            }
        };
        if spec.compat().is_some() {
            // Errors (the key checks' too) in the API's own format, panics included.
            method_router = method_router
                .route_layer(CatchPanicLayer::new())
                .route_layer(from_fn(compat::errors_in_api_format));
        }
        router = router.route(spec.path, method_router);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// `e`, in the format of the compatible API `uri` is under, if any.
fn in_format_of(uri: &Uri, e: ApiError) -> Response {
    match Api::of_path(uri.path()) {
        Some(api) => api.render(e),
        None => e.into_response(),
    }
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let e = ApiError::RouteNotFound {
        method: method.to_string(),
        path: uri.path().to_owned(),
    };
    in_format_of(&uri, e)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let e = ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    };
    in_format_of(&uri, e)
}
