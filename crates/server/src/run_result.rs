//! The run result as the API returns it: every field of the spec's example, always
//! present, plus status, usage and truncation flags. Output is untrusted bytes, turned
//! into text lossily (invalid UTF-8 becomes U+FFFD) so it can never break the JSON.

use codeexec_engine::{JobResult, Recipe, StepResult};
use serde::Serialize;

/// `data` of a successful `/v1/run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunResult {
    pub compiler: String,
    pub language: String,
    pub version: String,
    /// ok, compile_error, runtime_error, signaled, time_limit, memory_limit,
    /// output_limit.
    pub status: &'static str,
    /// The program's exit code, or the compiler's when it did not get to run.
    pub exit_code: Option<i32>,
    /// The signal that ended it (`"SIGKILL"`), if one did.
    pub signal: Option<String>,
    /// The limit that ended it (`wall_time`, `cpu_time`, `memory`, `output`, `file_size`).
    pub limit: Option<&'static str>,
    pub stdout: String,
    pub stderr: String,
    /// The compiler's stdout.
    pub compiler_output: String,
    /// The compiler's stderr.
    pub compiler_error: String,
    /// The compiler's stdout and stderr merged in arrival order.
    pub compiler_message: String,
    pub permlink: Option<String>,
    pub permlink_url: Option<String>,
    /// The program's wall-clock time, CPU time and peak memory (null if it did not run).
    pub time_ms: Option<u64>,
    pub cpu_time_ms: Option<u64>,
    pub memory_kb: Option<u64>,
    /// The compile step(s)' wall-clock time (null for interpreted languages).
    pub compile_time_ms: Option<u64>,
    /// The compile was not run again: an identical earlier compile was reused from
    /// the compile cache (then `compile_time_ms` is the time spent restoring it).
    pub compile_cached: bool,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    pub compiler_message_truncated: bool,
    /// The switches in effect.
    pub options: Vec<String>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl RunResult {
    /// The view of a finished job (not an internal error: that is a 5xx).
    pub fn new(recipe: &Recipe, result: &JobResult) -> RunResult {
        let compile = result.compile.as_ref();
        let run = result.run.as_ref();
        let last: Option<&StepResult> = run.or(compile);
        RunResult {
            compiler: recipe.compiler.clone(),
            language: recipe.language.clone(),
            version: recipe.version.clone(),
            status: result.status.as_str(),
            exit_code: last.and_then(|s| s.exit_code),
            signal: last.and_then(|s| s.signal).map(signal_name),
            limit: last.and_then(|s| s.limit),
            stdout: run.map(|s| text(&s.stdout)).unwrap_or_default(),
            stderr: run.map(|s| text(&s.stderr)).unwrap_or_default(),
            compiler_output: compile.map(|s| text(&s.stdout)).unwrap_or_default(),
            compiler_error: compile.map(|s| text(&s.stderr)).unwrap_or_default(),
            compiler_message: compile.map(|s| text(&s.merged)).unwrap_or_default(),
            permlink: None,
            permlink_url: None,
            time_ms: run.map(|s| s.wall_time_ms),
            cpu_time_ms: run.map(|s| s.cpu_time_ms),
            memory_kb: run.and_then(|s| s.memory_kb),
            compile_time_ms: compile.map(|s| s.wall_time_ms),
            compile_cached: compile.is_some_and(|s| s.cached),
            stdout_truncated: run.is_some_and(|s| s.stdout_truncated),
            stderr_truncated: run.is_some_and(|s| s.stderr_truncated),
            compiler_message_truncated: compile
                .is_some_and(|s| s.stdout_truncated || s.stderr_truncated),
            options: recipe.options.clone(),
        }
    }
}

/// `"SIGSEGV"` for 11 and so on; real-time signals as `SIGRTMIN+n`.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGSYS => "SIGSYS",
        n if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) => {
            return format!("SIGRTMIN+{}", n - libc::SIGRTMIN());
        }
        n => return format!("SIG{n}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(6), "SIGABRT");
        assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(signal_name(200), "SIG200");
    }
}
