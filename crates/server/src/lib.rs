//! # codeexec-server
//!
//! The HTTP API of codeexec (`/v1/run`, the catalogue, meta, usage, permlinks, OpenAPI,
//! health and metrics) over the engine, the catalogue and the store. The `codeexec`
//! binary calls [`serve`]; tests build the same [`router`] around their own state.
//!
//! Every response is the envelope `{data, meta: {timestamp, request_id}, status,
//! message, success}` (but `/metrics` and `/v1/openapi.json`, whose formats are fixed by
//! their consumers), and carries an `x-request-id` header.
//!
//! Beside `/v1`, the server speaks Wandbox's API (`/api/compile.json`,
//! `/api/compile.ndjson`, `/api/list.json`, `/api/permlink`, `/api/template`) and
//! Piston's (`/api/v2/execute`, `/api/v2/runtimes`, WebSocket `/api/v2/connect`) on the
//! same engine, keys, plans and limits, each in its own formats (see `compat`), so that
//! their clients work against codeexec by changing only their base URL.

#![forbid(unsafe_code)]

mod auth;
pub mod clock;
mod compat;
mod config;
mod envelope;
mod error;
mod files;
mod limits;
mod metrics;
mod openapi;
mod ratelimit;
mod routes;
mod run_request;
mod run_result;
mod serve;
mod state;

pub use auth::{presented_key, Access, Caller, KEY_HEADERS};
pub use config::{LimitCaps, ServerConfig};
pub use error::ApiError;
pub use openapi::document as openapi_document;
pub use routes::{RouteSpec, ROUTES};
pub use run_result::{signal_name, RunResult};
pub use serve::{
    bootstrap_key, build_engine, router, serve, serve_on, with_compile_cache, EngineSetupError,
    ServeError,
};
pub use state::AppState;
