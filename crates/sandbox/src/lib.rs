//! # codeexec-sandbox
//!
//! Runs commands for untrusted code in short-lived, isolated Linux boxes and reports
//! what happened. A [`Sandbox`] is set up once per host process; it makes
//! [`BoxHandle`]s, each an isolated filesystem and process world in which files are
//! staged and commands run one after another (a compile step, then a run step).
//!
//! Every run gets: its own pid, mount, ipc, uts and cgroup namespaces; a pooled
//! network namespace with no route anywhere; a user namespace in which it is uid 1000,
//! mapped to a host uid leased by its box; a new root of read-only system directories,
//! a curated `/etc`, a minimal `/dev`, a fresh `/proc` and the box's tmpfs; no
//! capabilities, `no_new_privs` and a seccomp deny list; its own cgroup for memory,
//! process count and CPU accounting; rlimits for files, stack and core dumps; and a
//! precise wall clock. When a run ends every process of it is dead.
//!
//! ```no_run
//! use codeexec_sandbox::{Sandbox, SandboxConfig, BoxLimits, RunSpec};
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let mut bx = sandbox.create_box(&BoxLimits::default())?;
//! bx.stage_file("hello.py", b"print('hi')", false)?;
//! let outcome = bx.run(&RunSpec::new(["python3", "hello.py"]))?;
//! assert_eq!(outcome.stdout.bytes, b"hi\n");
//! # Ok::<(), codeexec_sandbox::SandboxError>(())
//! ```

mod boxfs;
mod cgroup;
mod child;
mod config;
mod control;
mod error;
mod netns;
mod outcome;
mod preflight;
mod raw;
mod rootfs;
mod seccomp;
mod supervise;
mod sys;
mod uids;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use boxfs::checked_relative;
pub use cgroup::CgroupVersion;
pub use config::{default_env, BoxLimits, Limits, RunSpec, SandboxConfig, BOX_DIR, BOX_UID};
pub use control::RunControl;
pub use error::{Result, SandboxError};
pub use outcome::{Captured, Limit, Outcome, Status, Stream};
pub use preflight::check_host;
pub use seccomp::DENIED as DENIED_SYSCALLS;
pub use supervise::MIN_MEMORY_BYTES;

use cgroup::{CgroupLimits, Cgroups};
use netns::NetnsPool;
use rootfs::Instance;
use uids::{UidLease, UidPool};

/// The sandbox host: set up once, shared by every box (cheap to clone).
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    config: SandboxConfig,
    cgroups: Cgroups,
    seccomp: seccomp::Filter,
    netns: NetnsPool,
    uids: UidPool,
    next_box: AtomicU64,
    cpus: u32,
    // Dropped last: unmounts everything of this instance.
    instance: Instance,
}

impl Sandbox {
    /// Checks the host, removes leftovers of dead instances, builds the template root
    /// and (unless disabled) runs `/bin/true` in a box to prove it all works.
    pub fn new(config: SandboxConfig) -> Result<Sandbox> {
        check_host()?;
        let instance = Instance::create(&config)?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let cgroups = Cgroups::detect(&config.cgroup_parent, &instance.id, 2 * cpus as usize)?;
        let state = config.state_dir.clone();
        cgroups.remove_stale(|name| {
            name.rsplit_once("-c")
                .is_some_and(|(id, _)| id != instance.id && !rootfs::instance_alive(&state, id))
        });
        let uids = UidPool::new(&config.state_dir, config.uid_base, config.uid_count)?;
        let sandbox = Sandbox {
            inner: Arc::new(Inner {
                cgroups,
                seccomp: seccomp::Filter::build(),
                netns: NetnsPool::default(),
                uids,
                next_box: AtomicU64::new(0),
                cpus,
                instance,
                config,
            }),
        };
        if sandbox.inner.config.self_test {
            sandbox.self_test()?;
        }
        Ok(sandbox)
    }

    fn self_test(&self) -> Result<()> {
        let mut bx = self.create_box(&BoxLimits::default())?;
        let outcome = bx.run(&RunSpec::new(["/bin/true"]))?;
        if !outcome.success() {
            return Err(SandboxError::Unsupported {
                what: format!("/bin/true did not succeed in a box: {outcome:?}"),
                fix: "run `codeexec doctor` for details".into(),
            });
        }
        bx.destroy()
    }

    pub fn cgroup_version(&self) -> CgroupVersion {
        self.inner.cgroups.version()
    }

    /// The id of this sandbox instance (it prefixes its cgroups and state files).
    pub fn instance_id(&self) -> &str {
        &self.inner.instance.id
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Creates an empty box.
    pub fn create_box(&self, limits: &BoxLimits) -> Result<BoxHandle> {
        let inner = &self.inner;
        let id = inner.next_box.fetch_add(1, Ordering::Relaxed);
        let uid = inner.uids.lease()?;
        let netns = inner.netns.take()?;
        let fs = boxfs::BoxFs::create(inner.instance.boxes.join(id.to_string()), uid.uid, limits)?;
        Ok(BoxHandle {
            sandbox: self.inner.clone(),
            fs: Some(fs),
            uid,
            netns: Some(netns),
            has_run: false,
        })
    }
}

/// One box: its filesystem, uid and network namespace. Destroyed on drop.
pub struct BoxHandle {
    sandbox: Arc<Inner>,
    fs: Option<boxfs::BoxFs>,
    uid: UidLease,
    netns: Option<OwnedFd>,
    has_run: bool,
}

impl BoxHandle {
    /// Writes a file below the box's working directory (`/box`). Only before the
    /// first run: afterwards the box's contents are untrusted.
    pub fn stage_file(
        &mut self,
        path: impl AsRef<Path>,
        contents: &[u8],
        executable: bool,
    ) -> Result<()> {
        if self.has_run {
            return Err(SandboxError::StagingAfterRun);
        }
        self.fs()?.stage(path.as_ref(), contents, executable)
    }

    /// Creates a directory (with its parents) below the box's working directory.
    /// Only before the first run, like [`stage_file`](Self::stage_file).
    pub fn stage_dir(&mut self, path: impl AsRef<Path>) -> Result<()> {
        if self.has_run {
            return Err(SandboxError::StagingAfterRun);
        }
        self.fs()?.stage_dir(path.as_ref())
    }

    /// Runs one command and waits for it, collecting its output.
    pub fn run(&mut self, spec: &RunSpec) -> Result<Outcome> {
        self.run_observed(spec, &mut |_, _| {})
    }

    /// Like [`run`](Self::run), and also hands each chunk of output to `observer` as
    /// it arrives (for streaming).
    pub fn run_observed(
        &mut self,
        spec: &RunSpec,
        observer: &mut dyn FnMut(Stream, &[u8]),
    ) -> Result<Outcome> {
        self.run_with(spec, observer, None)
    }

    /// Like [`run_observed`](Self::run_observed), and stops early (killing every
    /// process of the run) when `cancel` fires: then the result is
    /// [`SandboxError::Cancelled`].
    pub fn run_with(
        &mut self,
        spec: &RunSpec,
        observer: &mut dyn FnMut(Stream, &[u8]),
        cancel: Option<&RunControl>,
    ) -> Result<Outcome> {
        self.run_inner(spec, None, None, observer, cancel)
    }

    /// Like [`run_with`](Self::run_with), with the program's stdin read from
    /// `stdin` (say, the read end of a pipe another thread feeds while the program
    /// runs: interactive input) instead of `spec.stdin`, which must be empty.
    pub fn run_with_stdin(
        &mut self,
        spec: &RunSpec,
        stdin: OwnedFd,
        observer: &mut dyn FnMut(Stream, &[u8]),
        cancel: Option<&RunControl>,
    ) -> Result<Outcome> {
        self.run_inner(spec, Some(stdin), None, observer, cancel)
    }

    /// Like [`run_with`](Self::run_with), with the program's stdout written to a
    /// new memory file instead of collected (the outcome's stdout stays empty);
    /// returns the file (at its start), which the host may read: it is a descriptor, not a path
    /// in the box, and every process that could write it is gone. Its size is
    /// bounded by `spec.limits.file_size_bytes` (past it the program gets SIGXFSZ)
    /// and its pages count against the run's memory limit.
    pub fn run_to_memory_file(
        &mut self,
        spec: &RunSpec,
        cancel: Option<&RunControl>,
    ) -> Result<(Outcome, std::fs::File)> {
        let file = sys::memfd(c"stdout", 0)?;
        let for_program = file
            .try_clone()
            .map_err(|e| SandboxError::io("dup a memory file", e))?;
        let outcome = self.run_inner(spec, None, Some(for_program), &mut |_, _| {}, cancel)?;
        // The program moved the offset both descriptors share: back to the start.
        let mut file = std::fs::File::from(file);
        std::io::Seek::rewind(&mut file)
            .map_err(|e| SandboxError::io("rewind a memory file", e))?;
        Ok((outcome, file))
    }

    fn run_inner(
        &mut self,
        spec: &RunSpec,
        stdin: Option<OwnedFd>,
        stdout: Option<OwnedFd>,
        observer: &mut dyn FnMut(Stream, &[u8]),
        cancel: Option<&RunControl>,
    ) -> Result<Outcome> {
        let inner = self.sandbox.clone();
        let cgroup = inner.cgroups.create_run(CgroupLimits {
            memory_bytes: spec.limits.memory_bytes,
            max_processes: spec.limits.max_processes,
        })?;
        self.has_run = true;
        let fs = self.fs()?;
        let ctx = supervise::RunContext {
            root: &inner.instance.root,
            work: &fs.work,
            tmp: &fs.tmp,
            shm: &fs.shm,
            netns: self.netns.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            host_uid: self.uid.uid,
            seccomp: inner.seccomp.as_fprog(),
            cgroup: &cgroup,
            cpus: inner.cpus,
            control: cancel,
        };
        let result = supervise::run(&ctx, spec, stdin, stdout, observer);
        cgroup.remove();
        result
    }

    /// The host uid this box's programs run as.
    pub fn host_uid(&self) -> u32 {
        self.uid.uid
    }

    /// The host directory holding the box's tmpfs mount (for diagnostics; the host
    /// must not look inside it once a run has happened).
    pub fn host_dir(&self) -> &Path {
        self.fs
            .as_ref()
            .map_or(Path::new(""), |fs| fs.dir.as_path())
    }

    fn fs(&self) -> Result<&boxfs::BoxFs> {
        self.fs
            .as_ref()
            .ok_or_else(|| SandboxError::InvalidRequest("the box was destroyed".into()))
    }

    /// Unmounts and removes the box's filesystem and returns its network namespace
    /// to the pool. Nothing of the box remains on the host.
    pub fn destroy(mut self) -> Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        if let Some(mut fs) = self.fs.take() {
            fs.destroy()?;
        }
        if let Some(netns) = self.netns.take() {
            self.sandbox.netns.give_back(netns);
        }
        Ok(())
    }
}

impl Drop for BoxHandle {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}
