//! Configuration of the sandbox host and of single runs.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Per-run limits. Every one is enforced by the kernel over the whole process tree
/// (cgroups, rlimits, the pid namespace), except the wall clock, which the supervisor
/// keeps with a precise timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub wall_time: Duration,
    /// CPU time of all processes and threads together.
    pub cpu_time: Duration,
    /// Memory of the whole tree (no swap).
    pub memory_bytes: u64,
    /// Processes and threads together.
    pub max_processes: u32,
    pub stdout_bytes: usize,
    pub stderr_bytes: usize,
    /// Largest file a process may write (RLIMIT_FSIZE).
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub stack_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall_time: Duration::from_secs(10),
            cpu_time: Duration::from_secs(5),
            memory_bytes: 512 << 20,
            max_processes: 64,
            stdout_bytes: 1 << 20,
            stderr_bytes: 1 << 20,
            file_size_bytes: 64 << 20,
            open_files: 256,
            stack_bytes: 64 << 20,
        }
    }
}

/// Limits of a box's filesystem (its working directory, `/tmp` and `/dev/shm` share
/// one tmpfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxLimits {
    pub disk_bytes: u64,
    pub inodes: u64,
}

impl Default for BoxLimits {
    fn default() -> Self {
        BoxLimits {
            disk_bytes: 256 << 20,
            inodes: 16 * 1024,
        }
    }
}

/// How the host runs boxes.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Host directory for this service's mounts and leases (`/run/codeexec`).
    pub state_dir: PathBuf,
    /// Name of the cgroup under which every run gets its own child cgroup.
    pub cgroup_parent: String,
    /// Extra host paths (directories or files) bound read-only at the same place in
    /// every box: the toolchains root, and what the catalogue's toolchains need
    /// (`/var/lib/ghc`, `/etc/ldc2.conf` …). Missing ones are skipped.
    pub read_only_paths: Vec<PathBuf>,
    /// Entries of the host's `/etc` bound read-only into the box's curated `/etc`.
    /// A `*` matches any run of characters within one name (`java-*-openjdk`).
    pub etc_entries: Vec<String>,
    /// First host uid of the range boxes run as; each live box leases one uid.
    pub uid_base: u32,
    pub uid_count: u32,
    /// Run `/bin/true` in a box at start-up, so a broken host fails at once.
    pub self_test: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            state_dir: PathBuf::from("/run/codeexec"),
            cgroup_parent: "codeexec".to_string(),
            read_only_paths: vec![PathBuf::from("/opt/codeexec")],
            etc_entries: [
                "alternatives",
                "ld.so.cache",
                "ld.so.conf",
                "ld.so.conf.d",
                "localtime",
                "ssl",
                "mime.types",
                "java-*-openjdk",
                "mono",
                "php",
                "R",
                "gprolog",
                "fpc.cfg",
                "fpc-*.cfg",
                "gnat",
                "perl",
                "ruby*",
                "racket",
                "octave",
                "vim",
                "emacs",
                "fonts",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            uid_base: 1_900_000_000,
            uid_count: 8192,
            self_test: true,
        }
    }
}

/// One command to run in a box.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// `argv[0]` is looked up in the `PATH` of `env` unless it contains a `/`.
    pub argv: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// Working directory inside the box (absolute).
    pub cwd: PathBuf,
    pub stdin: Vec<u8>,
    pub limits: Limits,
}

/// The working directory of every box, as boxed programs see it.
pub const BOX_DIR: &str = "/box";

/// The uid and gid boxed programs see themselves as (mapped to the box's host uid).
pub const BOX_UID: u32 = 1000;

impl RunSpec {
    /// A run of `argv` in the box's working directory with a minimal environment
    /// and default limits.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        RunSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            env: default_env(),
            cwd: PathBuf::from(BOX_DIR),
            stdin: Vec::new(),
            limits: Limits::default(),
        }
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets or replaces one environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }
}

/// The environment a run gets unless the caller says otherwise.
pub fn default_env() -> Vec<(OsString, OsString)> {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", BOX_DIR),
        ("LANG", "C.UTF-8"),
        ("TMPDIR", "/tmp"),
        ("USER", "box"),
    ]
    .iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect()
}
