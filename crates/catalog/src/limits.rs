//! Effective resource limits of one job: the service defaults merged with a compiler's
//! overrides.

use serde::Serialize;

use crate::model::LimitOverrides;

/// Limits for both steps of a job. The sandbox enforces memory and processes through
/// cgroups (never RLIMIT_AS, which breaks the JVM, Go and V8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Memory of the whole process tree, in MiB.
    pub memory_mb: u64,
    /// Processes and threads of the whole tree.
    pub processes: u32,
    pub open_files: u32,
    /// Largest file the program may write, in MiB.
    pub file_size_mb: u64,
    /// Wall-clock limit of the compile step(s), in ms.
    pub compile_time_ms: u64,
    /// Wall-clock limit of the run step, in ms.
    pub run_time_ms: u64,
    /// CPU time of each step, in ms.
    pub cpu_time_ms: u64,
    /// Output kept per stream and step, in KiB (then the step is killed).
    pub output_kb: u64,
}

impl Default for Limits {
    /// The service defaults: close to Wandbox's per-phase limits, but tighter run time
    /// and a real memory limit.
    fn default() -> Self {
        Limits {
            memory_mb: 512,
            processes: 64,
            open_files: 256,
            file_size_mb: 20,
            compile_time_ms: 30_000,
            run_time_ms: 10_000,
            cpu_time_ms: 10_000,
            output_kb: 128,
        }
    }
}

impl Limits {
    /// These limits with a compiler's overrides applied.
    pub fn merged(self, o: &LimitOverrides) -> Limits {
        Limits {
            memory_mb: o.memory_mb.unwrap_or(self.memory_mb),
            processes: o.processes.unwrap_or(self.processes),
            open_files: o.open_files.unwrap_or(self.open_files),
            file_size_mb: o.file_size_mb.unwrap_or(self.file_size_mb),
            compile_time_ms: o.compile_time_ms.unwrap_or(self.compile_time_ms),
            run_time_ms: o.run_time_ms.unwrap_or(self.run_time_ms),
            cpu_time_ms: o.cpu_time_ms.unwrap_or(self.cpu_time_ms),
            output_kb: o.output_kb.unwrap_or(self.output_kb),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let o = LimitOverrides {
            memory_mb: Some(2048),
            processes: Some(256),
            ..LimitOverrides::default()
        };
        let m = Limits::default().merged(&o);
        assert_eq!(m.memory_mb, 2048);
        assert_eq!(m.processes, 256);
        assert_eq!(m.run_time_ms, Limits::default().run_time_ms);
        assert_eq!(m.output_kb, Limits::default().output_kb);
    }
}
