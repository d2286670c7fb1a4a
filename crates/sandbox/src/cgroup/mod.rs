//! Per-run control groups: memory (no swap), process count and CPU accounting over the
//! whole process tree. Hosts have either cgroup v1 (one hierarchy per controller) or a
//! pure cgroup v2 tree; both are detected at start-up and driven through one type.

mod spares;
mod v1;
mod v2;

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Result, SandboxError};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Which cgroup interface this host offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The cgroups under which this host's runs are created.
pub struct Cgroups {
    version: CgroupVersion,
    /// v1: one parent per controller (memory, pids, cpuacct); v2: one parent.
    parents: Vec<PathBuf>,
    spares: spares::Spares,
}

/// Memory and process limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct CgroupLimits {
    pub memory_bytes: u64,
    pub max_processes: u32,
}

/// The cgroup (v2) or cgroups (v1) of one run. Removed by [`RunCgroup::remove`].
#[derive(Debug)]
pub struct RunCgroup {
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
    /// v1: the `tasks` files, open for writing; the payload writes "0" to each.
    pub(crate) task_fds: Vec<OwnedFd>,
    /// v2: directory fd the payload is cloned into (`clone3(CLONE_INTO_CGROUP)`).
    pub(crate) dir_fd: Option<OwnedFd>,
}

impl Cgroups {
    /// Detects the cgroup version and prepares the parent cgroup `name`. Run cgroups
    /// are named `<prefix>-c<n>`; `spare_count` of them are kept made in advance.
    pub fn detect(name: &str, prefix: &str, spare_count: usize) -> Result<Cgroups> {
        let root = Path::new(CGROUP_ROOT);
        let (version, parents) = if root.join("cgroup.controllers").exists() {
            (CgroupVersion::V2, vec![v2::prepare(root, name)?])
        } else if root.join("memory").join("memory.limit_in_bytes").exists() {
            (CgroupVersion::V1, v1::prepare(root, name)?)
        } else {
            return Err(SandboxError::Unsupported {
                what: format!(
                    "no usable cgroup hierarchy at {CGROUP_ROOT} (neither a cgroup v2 tree \
                     nor a cgroup v1 memory controller)"
                ),
                fix: "mount cgroup2 at /sys/fs/cgroup (or the v1 memory, pids and cpuacct \
                      controllers under it) and enable the memory controller"
                    .into(),
            });
        };
        let spares = spares::Spares::start(parents.clone(), prefix.to_string(), spare_count);
        Ok(Cgroups {
            version,
            parents,
            spares,
        })
    }

    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// A fresh cgroup (one per controller on v1) for one run, with its limits set.
    pub fn create_run(&self, limits: CgroupLimits) -> Result<RunCgroup> {
        let name = self.spares.take().map_err(|e| {
            SandboxError::io(
                format!("create a cgroup below {}", self.parents[0].display()),
                e,
            )
        })?;
        let dirs: Vec<PathBuf> = self.parents.iter().map(|p| p.join(&name)).collect();
        let mut run = RunCgroup {
            version: self.version,
            dirs,
            task_fds: Vec::new(),
            dir_fd: None,
        };
        let set = match self.version {
            CgroupVersion::V1 => v1::configure(&mut run, limits),
            CgroupVersion::V2 => v2::configure(&mut run, limits),
        };
        if let Err(e) = set {
            run.remove();
            return Err(e);
        }
        Ok(run)
    }

    /// Removes empty cgroups for which `is_stale` says their owner is gone.
    pub fn remove_stale(&self, is_stale: impl Fn(&str) -> bool) {
        for parent in &self.parents {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if entry.path().is_dir() && is_stale(&name.to_string_lossy()) {
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
    }
}

impl RunCgroup {
    /// CPU time used by every process and thread of the run so far.
    pub fn cpu_usage(&self) -> io::Result<Duration> {
        match self.version {
            CgroupVersion::V1 => v1::cpu_usage(&self.dirs),
            CgroupVersion::V2 => v2::cpu_usage(&self.dirs[0]),
        }
    }

    /// Peak memory of the run, where the kernel reports it.
    pub fn memory_peak(&self) -> Option<u64> {
        match self.version {
            CgroupVersion::V1 => v1::memory_peak(&self.dirs),
            CgroupVersion::V2 => v2::memory_peak(&self.dirs[0]),
        }
    }

    /// How many processes the OOM killer ended in this run.
    pub fn oom_kills(&self) -> u64 {
        match self.version {
            CgroupVersion::V1 => v1::oom_kills(&self.dirs),
            CgroupVersion::V2 => v2::oom_kills(&self.dirs[0]),
        }
    }

    /// Kills every process in the cgroup. The pid namespace already guarantees this
    /// when the box's init dies; this is the second line.
    pub fn kill_all(&self) {
        match self.version {
            CgroupVersion::V1 => v1::kill_all(&self.dirs),
            CgroupVersion::V2 => v2::kill_all(&self.dirs[0]),
        }
    }

    /// Removes the cgroup directories, waiting briefly for exiting processes to leave.
    pub fn remove(self) {
        for dir in &self.dirs {
            for attempt in 0..200 {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(_) if attempt < 199 => {
                        if attempt == 20 {
                            self.kill_all();
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

/// Writes a value to a cgroup control file.
fn write_control(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    fs::write(&path, value)
        .map_err(|e| SandboxError::io(format!("write {value:?} to {}", path.display()), e))
}

/// Reads `key N` from a flat-keyed cgroup file (`memory.events`, `cpu.stat`, …).
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    parse_keyed(&text, key)
}

fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends SIGKILL to every pid listed in a `cgroup.procs` file until it is empty.
fn kill_listed(procs: &Path) {
    for _ in 0..100 {
        let Ok(text) = fs::read_to_string(procs) else {
            return;
        };
        let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: kill(2) with a pid read from the cgroup; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_keyed;

    #[test]
    fn parses_flat_keyed_files() {
        let events = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_keyed(events, "oom_kill"), Some(2));
        assert_eq!(parse_keyed(events, "oom"), Some(3));
        assert_eq!(parse_keyed(events, "missing"), None);
        let control = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        assert_eq!(parse_keyed(control, "oom_kill"), Some(1));
        let stat = "usage_usec 1523\nuser_usec 1000\nsystem_usec 523\n";
        assert_eq!(parse_keyed(stat, "usage_usec"), Some(1523));
    }
}
