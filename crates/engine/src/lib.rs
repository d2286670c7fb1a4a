//! # codeexec-engine
//!
//! Turns a resolved request (a catalogue [`Recipe`] plus sources, stdin and
//! arguments) into a job: a fresh sandbox box, the sources staged, the compile steps
//! and the run step executed one after another with the recipe's limits, the box
//! destroyed, and a [`JobResult`] that says what happened in the service's terms.
//!
//! Jobs run on a fixed number of slots; up to a bounded number wait for one, and any
//! more are refused at once ([`EngineError::QueueFull`]) so that latency stays bounded
//! under load instead of collapsing.

mod admission;
mod cache;
mod job;
mod result;

pub use admission::{Engine, EngineConfig, EngineError, QueueStats, StreamEvent};
pub use cache::{CacheError, CacheStats, CompileCache, CompileCacheConfig};
pub use codeexec_catalog::Recipe;
pub use job::{
    run_job, run_job_cached, run_job_interactive, run_job_with, Event, Job, JobLimits, SourceFile,
    Step,
};
pub use result::{JobResult, JobStatus, StepResult};

/// `base` plus every host path the catalogue's installed toolchains need bound
/// read-only into boxes (their configuration under /etc, package databases …).
pub fn sandbox_config_for(
    catalog: &codeexec_catalog::Catalog,
    mut base: codeexec_sandbox::SandboxConfig,
) -> codeexec_sandbox::SandboxConfig {
    for path in catalog.host_paths() {
        if !base.read_only_paths.contains(&path) {
            base.read_only_paths.push(path);
        }
    }
    base
}
