//! What a run reports back.

use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The program exited by itself; see [`Outcome::exit_code`].
    Exited,
    /// The program was killed by a signal it did not get from us; see [`Outcome::signal`].
    Signaled,
    /// A limit ended the run; see [`Outcome::limit`].
    LimitExceeded,
}

/// Which limit ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    WallTime,
    CpuTime,
    /// The box's memory cgroup ran out and the kernel's OOM killer fired.
    Memory,
    /// stdout or stderr passed its cap.
    Output,
    /// A file grew past RLIMIT_FSIZE (the program got SIGXFSZ).
    FileSize,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::WallTime => "wall_time",
            Limit::CpuTime => "cpu_time",
            Limit::Memory => "memory",
            Limit::Output => "output",
            Limit::FileSize => "file_size",
        }
    }
}

/// Bytes a program wrote to one stream, capped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// The program wrote more than the cap; `bytes` holds the first `cap` bytes.
    pub truncated: bool,
}

impl std::fmt::Debug for Captured {
    /// Shows the bytes as (lossy) text, shortened: outcomes are read by people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 300;
        let text = String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(SHOWN)]);
        let more = self.bytes.len().saturating_sub(SHOWN);
        write!(f, "{text:?}")?;
        if more > 0 {
            write!(f, " (+{more} bytes)")?;
        }
        if self.truncated {
            write!(f, " (truncated)")?;
        }
        Ok(())
    }
}

/// The result of one run in a box.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// Exit code when the program exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended the program (also set when we killed it for a limit).
    pub signal: Option<i32>,
    /// The limit that ended the run, if one did.
    pub limit: Option<Limit>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// From the start of the box's first process to the death of its last.
    pub wall_time: Duration,
    /// CPU time of every process and thread of the run together (cgroup accounting).
    pub cpu_time: Duration,
    /// Peak memory of the whole process tree, where the cgroup version reports it.
    pub memory_peak_bytes: Option<u64>,
}

impl Outcome {
    /// True when the program exited with code 0 and no limit was hit.
    pub fn success(&self) -> bool {
        self.status == Status::Exited && self.exit_code == Some(0)
    }
}

/// Which output stream a chunk came from (for streaming observers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}
