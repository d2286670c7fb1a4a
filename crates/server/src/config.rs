//! What the server is configured with: where it listens, where its data lives, plans,
//! the engine's slots, size limits and caps on per-request limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use codeexec_engine::{CompileCacheConfig, EngineConfig};
use codeexec_store::Plan;
use serde::Serialize;

/// The configuration of one server. `Default` is a working local setup: port 8080 on
/// the loopback interface, keys required, the spec's plans.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where the SQLite database lives (the binary opens the store there).
    pub data_dir: PathBuf,
    /// Base of `permlink_url` (`https://run.example.org`); when unset, the request's
    /// `Host` header with `http://` is used.
    pub public_base_url: Option<String>,
    /// `false` (`--no-auth`): no key needed, no rate limit, no quota.
    pub auth: bool,
    /// Plans by name; every key's plan must be one of them.
    pub plans: Vec<Plan>,
    /// Slots and queue bound; [`crate::build_engine`] builds the engine from it.
    pub engine: EngineConfig,
    /// Largest `code`, and largest `code` plus all `files` together, in bytes.
    pub max_code_bytes: usize,
    pub max_stdin_bytes: usize,
    /// Largest request body (POST /v1/run), in bytes.
    pub max_body_bytes: usize,
    /// Most extra `files` in one run.
    pub max_files: usize,
    /// Upper bounds on every job's limits, over the catalogue's (a request may only
    /// lower its limits, down from the smaller of the two).
    pub limit_caps: LimitCaps,
    /// After the shutdown signal: how long running jobs may go on before they are
    /// cancelled.
    pub shutdown_grace: Duration,
    /// The `Retry-After` of a 503 for a full queue.
    pub queue_retry_after: Duration,
    /// Compiler names of other services (Wandbox's `gcc-13.2.0`) that the compatible
    /// APIs run on one of ours (`gcc-12.2.0`); keys are matched without regard to case.
    /// Names neither installed nor aliased get an error listing the nearest we have.
    pub compiler_aliases: BTreeMap<String, String>,
    /// Size budget of the compile cache in `data_dir/compile-cache`; 0 turns it off.
    pub compile_cache_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("/var/lib/codeexec"),
            public_base_url: None,
            auth: true,
            plans: Plan::defaults(),
            engine: EngineConfig::default(),
            max_code_bytes: 256 << 10,
            max_stdin_bytes: 1 << 20,
            max_body_bytes: 2 << 20,
            max_files: 32,
            limit_caps: LimitCaps::default(),
            shutdown_grace: Duration::from_secs(30),
            queue_retry_after: Duration::from_secs(1),
            compiler_aliases: BTreeMap::new(),
            compile_cache_bytes: 1 << 30,
        }
    }
}

impl ServerConfig {
    /// The plan called `name`, if configured.
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        Plan::find(&self.plans, name)
    }

    /// The compiler `name` stands for: ours by an alias, else `name` itself.
    pub fn aliased<'a>(&'a self, name: &'a str) -> &'a str {
        self.compiler_aliases
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(name.trim()))
            .map_or(name, |(_, to)| to.as_str())
    }

    /// Where the compile cache lives, if it is on.
    pub fn compile_cache(&self) -> Option<CompileCacheConfig> {
        (self.compile_cache_bytes > 0).then(|| CompileCacheConfig {
            max_bytes: self.compile_cache_bytes,
            ..CompileCacheConfig::in_dir(self.data_dir.join("compile-cache"))
        })
    }

    /// The plan a key made at first start gets: `free` if configured, else the first.
    pub fn bootstrap_plan(&self) -> &str {
        self.plan(Plan::DEFAULT_NAME)
            .or_else(|| self.plans.first())
            .map_or(Plan::DEFAULT_NAME, |p| p.name.as_str())
    }
}

/// Server-wide ceilings on job limits; `None` leaves the catalogue's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LimitCaps {
    /// Wall clock of the run step.
    pub run_time_ms: Option<u64>,
    /// CPU time of the run step.
    pub cpu_time_ms: Option<u64>,
    /// Wall clock of the compile step(s).
    pub compile_time_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// Output kept per stream.
    pub output_kb: Option<u64>,
}
