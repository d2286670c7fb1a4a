//! What a job reports: the service's statuses and each step's outputs and usage.

use codeexec_sandbox::{Limit, Outcome, Status};

/// How a job ended, in the service's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// The program ran and exited with code 0.
    Ok,
    /// A compile step failed; the compiler's messages say why.
    CompileError,
    /// The program exited with a non-zero code.
    RuntimeError,
    /// The program was killed by a signal of its own doing (SIGSEGV, abort …).
    Signaled,
    /// Wall-clock or CPU time ran out (in the compile or the run step).
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    /// codeexec itself failed; never the program's fault.
    InternalError,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Ok => "ok",
            JobStatus::CompileError => "compile_error",
            JobStatus::RuntimeError => "runtime_error",
            JobStatus::Signaled => "signaled",
            JobStatus::TimeLimit => "time_limit",
            JobStatus::MemoryLimit => "memory_limit",
            JobStatus::OutputLimit => "output_limit",
            JobStatus::InternalError => "internal_error",
        }
    }

    /// The status a limit maps to, when a step was ended by one.
    pub(crate) fn of_limit(limit: Limit) -> JobStatus {
        match limit {
            Limit::WallTime | Limit::CpuTime => JobStatus::TimeLimit,
            Limit::Memory => JobStatus::MemoryLimit,
            Limit::Output => JobStatus::OutputLimit,
            // The kernel sent SIGXFSZ: the program's own write went too far.
            Limit::FileSize => JobStatus::Signaled,
        }
    }
}

/// One step (a compile step or the run) as it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// The limit that ended the step (`wall_time`, `memory` …), if one did.
    pub limit: Option<&'static str>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout and stderr merged in the order they arrived.
    pub merged: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub wall_time_ms: u64,
    pub cpu_time_ms: u64,
    pub memory_kb: Option<u64>,
    /// The step was not run: an identical earlier compile's result was reused
    /// (its times are then this job's, spent restoring the compiled files).
    pub cached: bool,
}

impl StepResult {
    pub(crate) fn new(outcome: Outcome, merged: Vec<u8>) -> StepResult {
        StepResult {
            exit_code: outcome.exit_code,
            signal: outcome.signal,
            limit: outcome.limit.map(Limit::as_str),
            stdout: outcome.stdout.bytes,
            stderr: outcome.stderr.bytes,
            merged,
            stdout_truncated: outcome.stdout.truncated,
            stderr_truncated: outcome.stderr.truncated,
            wall_time_ms: outcome.wall_time.as_millis() as u64,
            cpu_time_ms: outcome.cpu_time.as_millis() as u64,
            memory_kb: outcome.memory_peak_bytes.map(|b| b / 1024),
            cached: false,
        }
    }

    /// The status this step alone implies.
    pub(crate) fn status_of(outcome: &Outcome) -> JobStatus {
        match outcome.status {
            Status::Exited if outcome.exit_code == Some(0) => JobStatus::Ok,
            Status::Exited => JobStatus::RuntimeError,
            Status::Signaled => JobStatus::Signaled,
            Status::LimitExceeded => outcome
                .limit
                .map_or(JobStatus::InternalError, JobStatus::of_limit),
        }
    }
}

/// Everything a job produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    pub status: JobStatus,
    /// The compile steps' results merged into one (outputs concatenated, usage
    /// summed); `None` for interpreted languages.
    pub compile: Option<StepResult>,
    /// `None` when the job ended before the program ran.
    pub run: Option<StepResult>,
    /// What went wrong inside codeexec, for `internal_error`.
    pub internal_error: Option<String>,
}

impl JobResult {
    pub(crate) fn internal(message: String, compile: Option<StepResult>) -> JobResult {
        JobResult {
            status: JobStatus::InternalError,
            compile,
            run: None,
            internal_error: Some(message),
        }
    }
}
