//! cgroup v1: the memory, pids and cpuacct controllers, each in its own hierarchy.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{kill_listed, read_keyed, read_number, write_control, CgroupLimits, RunCgroup};
use crate::error::{Result, SandboxError};

/// Controllers used, in the order of `RunCgroup::dirs`.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpuacct"];
const MEMORY: usize = 0;
const PIDS: usize = 1;
const CPUACCT: usize = 2;

pub(super) fn prepare(root: &Path, name: &str) -> Result<Vec<PathBuf>> {
    CONTROLLERS
        .iter()
        .map(|controller| {
            let hierarchy = root.join(controller);
            if !hierarchy.join("cgroup.procs").exists() {
                return Err(SandboxError::Unsupported {
                    what: format!("the cgroup v1 `{controller}` controller is not mounted"),
                    fix: format!(
                        "mount it: mkdir -p {0} && mount -t cgroup -o {controller} cgroup {0}",
                        hierarchy.display()
                    ),
                });
            }
            let parent = hierarchy.join(name);
            fs::create_dir_all(&parent)
                .map_err(|e| SandboxError::io(format!("mkdir {}", parent.display()), e))?;
            Ok(parent)
        })
        .collect()
}

pub(super) fn configure(run: &mut RunCgroup, limits: CgroupLimits) -> Result<()> {
    let memory = &run.dirs[MEMORY];
    let bytes = limits.memory_bytes.to_string();
    write_control(memory, "memory.limit_in_bytes", &bytes)?;
    // Memory+swap, where swap accounting exists: no swap at all beyond the limit.
    if memory.join("memory.memsw.limit_in_bytes").exists() {
        write_control(memory, "memory.memsw.limit_in_bytes", &bytes)?;
    }
    let _ = write_control(memory, "memory.swappiness", "0");
    write_control(
        &run.dirs[PIDS],
        "pids.max",
        &limits.max_processes.to_string(),
    )?;
    // The payload joins by writing "0" to `tasks` through descriptors opened here
    // (the kernel checks the opener's credentials), not to `cgroup.procs` and not
    // by pid: moving only the calling thread skips the global threadgroup rwsem,
    // whose write side otherwise waits a whole RCU grace period (~13 ms here)
    // whenever no other attach happened recently.
    run.task_fds = run
        .dirs
        .iter()
        .map(|d| {
            let tasks = d.join("tasks");
            fs::OpenOptions::new()
                .write(true)
                .open(&tasks)
                .map(OwnedFd::from)
                .map_err(|e| SandboxError::io(format!("open {}", tasks.display()), e))
        })
        .collect::<Result<_>>()?;
    Ok(())
}

pub(super) fn cpu_usage(dirs: &[PathBuf]) -> std::io::Result<Duration> {
    let text = fs::read_to_string(dirs[CPUACCT].join("cpuacct.usage"))?;
    let ns: u64 = text
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other("unreadable cpuacct.usage"))?;
    Ok(Duration::from_nanos(ns))
}

pub(super) fn memory_peak(dirs: &[PathBuf]) -> Option<u64> {
    read_number(&dirs[MEMORY].join("memory.max_usage_in_bytes"))
}

pub(super) fn oom_kills(dirs: &[PathBuf]) -> u64 {
    read_keyed(&dirs[MEMORY].join("memory.oom_control"), "oom_kill").unwrap_or(0)
}

pub(super) fn kill_all(dirs: &[PathBuf]) {
    kill_listed(&dirs[PIDS].join("cgroup.procs"));
}
