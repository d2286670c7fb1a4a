//! cgroup v2: one unified tree; the run's cgroup is entered atomically at clone time
//! (`CLONE_INTO_CGROUP`), so no process of the box ever runs outside it.

use std::fs;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{kill_listed, read_keyed, read_number, write_control, CgroupLimits, RunCgroup};
use crate::error::{Result, SandboxError};

const NEEDED: [&str; 2] = ["memory", "pids"];

pub(super) fn prepare(root: &Path, name: &str) -> Result<PathBuf> {
    let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    for controller in NEEDED {
        if !available.split_whitespace().any(|c| c == controller) {
            return Err(SandboxError::Unsupported {
                what: format!("the cgroup v2 `{controller}` controller is not available"),
                fix: format!(
                    "enable it for {}: it must be listed in cgroup.controllers",
                    root.display()
                ),
            });
        }
    }
    enable_controllers(root)?;
    let parent = root.join(name);
    fs::create_dir_all(&parent)
        .map_err(|e| SandboxError::io(format!("mkdir {}", parent.display()), e))?;
    enable_controllers(&parent)?;
    Ok(parent)
}

/// Lets children of `dir` use the memory and pids controllers (and cpu where present).
fn enable_controllers(dir: &Path) -> Result<()> {
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for controller in NEEDED {
        if enabled.split_whitespace().any(|c| c == controller) {
            continue;
        }
        write_control(dir, "cgroup.subtree_control", &format!("+{controller}")).map_err(|e| {
            SandboxError::Unsupported {
                what: format!(
                    "cannot delegate the `{controller}` controller below {} ({e})",
                    dir.display()
                ),
                fix: "run the service in its own leaf cgroup (systemd: Delegate=yes) or \
                      point cgroup_parent at a delegated subtree"
                    .into(),
            }
        })?;
    }
    Ok(())
}

pub(super) fn configure(run: &mut RunCgroup, limits: CgroupLimits) -> Result<()> {
    let dir = run.dirs[0].clone();
    write_control(&dir, "memory.max", &limits.memory_bytes.to_string())?;
    if dir.join("memory.swap.max").exists() {
        write_control(&dir, "memory.swap.max", "0")?;
    }
    // One OOM kill takes the whole box down, so no half-dead tree keeps running.
    if dir.join("memory.oom.group").exists() {
        write_control(&dir, "memory.oom.group", "1")?;
    }
    write_control(&dir, "pids.max", &limits.max_processes.to_string())?;
    let path =
        std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| SandboxError::NulByte {
            what: "cgroup path",
        })?;
    // SAFETY: open(2) on a NUL-terminated path we own; the fd is wrapped at once.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(SandboxError::last_os(format!("open {}", dir.display())));
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    run.dir_fd = Some(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

pub(super) fn cpu_usage(dir: &Path) -> io::Result<Duration> {
    read_keyed(&dir.join("cpu.stat"), "usage_usec")
        .map(Duration::from_micros)
        .ok_or_else(|| io::Error::other("unreadable cpu.stat"))
}

pub(super) fn memory_peak(dir: &Path) -> Option<u64> {
    read_number(&dir.join("memory.peak"))
}

pub(super) fn oom_kills(dir: &Path) -> u64 {
    read_keyed(&dir.join("memory.events"), "oom_kill").unwrap_or(0)
}

pub(super) fn kill_all(dir: &Path) {
    if write_control(dir, "cgroup.kill", "1").is_err() {
        kill_listed(&dir.join("cgroup.procs"));
    }
}
