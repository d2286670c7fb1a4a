//! The host side of one run: clone the box's init, watch its output, clocks and
//! cgroup, enforce the limits, reap it and say what happened.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroup::RunCgroup;
use crate::child::{self, ChildPlan, Step, RECORD_LEN, TAG_WAIT_STATUS};
use crate::config::{RunSpec, BOX_DIR, BOX_UID};
use crate::control::RunControl;
use crate::error::{Result, SandboxError};
use crate::outcome::{Captured, Limit, Outcome, Status, Stream};
use crate::raw::{self, Stack};
use crate::sys;

/// The parts of a box a run needs.
pub(crate) struct RunContext<'a> {
    pub root: &'a Path,
    pub work: &'a Path,
    pub tmp: &'a Path,
    pub shm: &'a Path,
    pub netns: RawFd,
    pub host_uid: u32,
    pub seccomp: libc::sock_fprog,
    pub cgroup: &'a RunCgroup,
    pub cpus: u32,
    /// Cancels the run or signals its program from another thread.
    pub control: Option<&'a RunControl>,
}

/// The smallest memory limit of a run. Until it executes the program, the payload
/// shares the host's memory while in the run's cgroup, and a memory cgroup's OOM
/// killer kills every process sharing its victim's memory: what it charges there
/// before its own address space exists (kernel objects, the new program's
/// arguments, at most about 2 MiB) must never reach the limit.
pub const MIN_MEMORY_BYTES: u64 = 8 << 20;

/// Shortest pause between two reads of the cgroup's CPU counter.
const MIN_CPU_CHECK: Duration = Duration::from_millis(2);

fn c(bytes: &[u8], what: &'static str) -> Result<CString> {
    CString::new(bytes).map_err(|_| SandboxError::NulByte { what })
}

fn cpath(base: &Path, inside: &str) -> Result<CString> {
    sys::cstring(&base.join(inside.trim_start_matches('/')))
}

/// Where `argv[0]` may be: itself if it names a path, else each `PATH` entry.
fn exec_candidates(program: &OsStr, env: &[(OsString, OsString)]) -> Result<Vec<CString>> {
    let bytes = program.as_bytes();
    if bytes.contains(&b'/') {
        return Ok(vec![c(bytes, "program path")?]);
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes())
        .unwrap_or(b"/usr/bin:/bin");
    path.split(|&b| b == b':')
        .map(|dir| {
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend_from_slice(bytes);
            c(&full, "PATH entry")
        })
        .collect()
}

/// This process's hard limit of open files, which its boxes inherit (read once:
/// nothing in the service changes it).
fn host_hard_nofile() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        // SAFETY: rlimit is plain data, and getrlimit fills the one we pass.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return u64::MAX;
            }
            limit.rlim_max
        }
    })
}

fn rlimit(resource: u32, value: u64) -> (libc::c_int, libc::rlimit) {
    (
        resource as libc::c_int,
        libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        },
    )
}

struct Prepared {
    plan: ChildPlan,
    // Storage the plan's raw pointers point into.
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    init_stack: Stack,
    _payload_stack: Stack,
}

/// Stack of each of the box's processes until the payload executes the program
/// (they run only the straight-line code of child.rs).
const CHILD_STACK_LEN: usize = 64 * 1024;

fn prepare(ctx: &RunContext<'_>, spec: &RunSpec, fds: [RawFd; 4]) -> Result<Prepared> {
    if spec.argv.is_empty() {
        return Err(SandboxError::InvalidRequest("argv is empty".into()));
    }
    if !spec.cwd.is_absolute() {
        return Err(SandboxError::InvalidPath {
            path: spec.cwd.clone(),
            reason: "the working directory must be absolute",
        });
    }
    let argv: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| c(a.as_bytes(), "an argument"))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(SandboxError::InvalidRequest(format!(
                    "bad environment variable name {k:?}"
                )));
            }
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            c(&entry, "an environment variable")
        })
        .collect::<Result<_>>()?;
    let pointers = |v: &Vec<CString>| {
        let mut p: Vec<*const libc::c_char> = v.iter().map(|s| s.as_ptr()).collect();
        p.push(std::ptr::null());
        p
    };
    let stack = || Stack::new(CHILD_STACK_LEN).map_err(|e| SandboxError::io("map a stack", e));
    let (init_stack, payload_stack) = (stack()?, stack()?);
    let limits = &spec.limits;
    let cpu_seconds = limits.cpu_time.as_secs() + 2;
    let plan = ChildPlan {
        report_fd: fds[0],
        stdin_fd: fds[1],
        stdout_fd: fds[2],
        stderr_fd: fds[3],
        netns_fd: ctx.netns,
        cgroup_task_fds: {
            let mut fds = [-1; 3];
            for (slot, fd) in fds.iter_mut().zip(&ctx.cgroup.task_fds) {
                *slot = fd.as_raw_fd();
            }
            fds
        },
        cgroup_fd: ctx.cgroup.dir_fd.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
        hostname: c(b"box", "hostname")?,
        binds: vec![
            (sys::cstring(ctx.work)?, cpath(ctx.root, BOX_DIR)?),
            (sys::cstring(ctx.tmp)?, cpath(ctx.root, "tmp")?),
            (sys::cstring(ctx.shm)?, cpath(ctx.root, "dev/shm")?),
        ],
        proc_dir: cpath(ctx.root, "proc")?,
        new_root: sys::cstring(ctx.root)?,
        put_old: cpath(ctx.root, ".old")?,
        put_old_inside: c(b"/.old", "path")?,
        uid_map: c(format!("{BOX_UID} {} 1\n", ctx.host_uid).as_bytes(), "map")?,
        gid_map: c(format!("{BOX_UID} {} 1\n", ctx.host_uid).as_bytes(), "map")?,
        rlimits: vec![
            rlimit(libc::RLIMIT_CORE, 0),
            rlimit(libc::RLIMIT_FSIZE, limits.file_size_bytes),
            // A user namespace cannot raise a hard limit above the host's: beyond
            // it the run would fail to start, so the host's bounds it.
            rlimit(
                libc::RLIMIT_NOFILE,
                limits.open_files.min(host_hard_nofile()),
            ),
            rlimit(libc::RLIMIT_STACK, limits.stack_bytes),
            // Second lines behind the cgroup's pids.max and the CPU clock below.
            rlimit(libc::RLIMIT_NPROC, u64::from(limits.max_processes)),
            rlimit(libc::RLIMIT_CPU, cpu_seconds),
            rlimit(libc::RLIMIT_MSGQUEUE, 0),
        ],
        cwd: c(spec.cwd.as_os_str().as_bytes(), "working directory")?,
        inner_id: BOX_UID,
        exec_candidates: exec_candidates(&spec.argv[0], &spec.env)?,
        argv: pointers(&argv),
        envp: pointers(&envp),
        seccomp: ctx.seccomp,
        payload_stack: payload_stack.bounds(),
    };
    Ok(Prepared {
        plan,
        _argv: argv,
        _envp: envp,
        init_stack,
        _payload_stack: payload_stack,
    })
}

/// Clones the box's init with its namespaces, sharing this process's memory (no
/// page tables copied, no copy-on-write faults afterwards) on its own stack.
/// Returns its pidfd and host pid. The caller must keep `prepared` alive and
/// unchanged until the init is reaped.
fn spawn(prepared: &Prepared) -> Result<(OwnedFd, libc::pid_t)> {
    let mut pidfd: RawFd = -1;
    let flags = (libc::CLONE_VM
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_PIDFD) as u64;
    // SAFETY: clone_args is plain data; zeroed is a valid value for every field.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags;
    args.pidfd = &mut pidfd as *mut RawFd as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    (args.stack, args.stack_size) = prepared.init_stack.bounds();
    // The child starts with every signal blocked, so no host signal handler can run
    // on its stack before it resets them all to their defaults.
    // SAFETY: sigset_t is plain data, filled by sigfillset; pthread_sigmask only
    // changes this thread's mask, restored right after the clone.
    let saved = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut saved: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut saved);
        saved
    };
    // SAFETY: `box_init_entry` keeps to its own stack (a guarded mapping in
    // `prepared`) and reads only `prepared.plan`, which the caller keeps alive and
    // unchanged until the child is reaped; it never returns.
    let pid = unsafe {
        raw::clone3_on_stack(
            &mut args,
            child::box_init_entry,
            &prepared.plan as *const ChildPlan as usize,
        )
    };
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut()) };
    if pid < 0 {
        return Err(SandboxError::io(
            "clone3 of the box's init",
            io::Error::from_raw_os_error(-pid as i32),
        ));
    }
    // SAFETY: the kernel stored a fresh pidfd for us (CLONE_PIDFD).
    Ok((unsafe { OwnedFd::from_raw_fd(pidfd) }, pid as libc::pid_t))
}

/// Kills and reaps the box's init when dropped unless disarmed: it shares this
/// process's memory, so it must be gone before the plan and stacks it uses are
/// freed, whatever way `run` leaves (an error, a panicking observer).
struct ReapOnDrop(Option<RawFd>);

impl ReapOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        if let Some(pidfd) = self.0 {
            sys::pidfd_kill(pidfd);
            let _ = sys::pidfd_reap(pidfd);
        }
    }
}

/// One output stream being collected.
struct Collector {
    fd: Option<OwnedFd>,
    stream: Stream,
    cap: usize,
    captured: Captured,
}

impl Collector {
    /// Reads what is available. Returns true when the cap was passed.
    fn drain(&mut self, buf: &mut [u8], observer: &mut dyn FnMut(Stream, &[u8])) -> bool {
        let Some(fd) = &self.fd else { return false };
        loop {
            // SAFETY: reads into a live buffer from a descriptor we own.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                self.fd = None;
                return false;
            }
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if e.kind() != io::ErrorKind::WouldBlock {
                    self.fd = None;
                }
                return false;
            }
            let chunk = &buf[..n as usize];
            let room = self.cap - self.captured.bytes.len();
            let kept = &chunk[..chunk.len().min(room)];
            if !kept.is_empty() {
                observer(self.stream, kept);
                self.captured.bytes.extend_from_slice(kept);
            }
            if chunk.len() > room {
                self.captured.truncated = true;
                return true;
            }
        }
    }
}

/// Runs `spec` in the box described by `ctx`.
pub(crate) fn run(
    ctx: &RunContext<'_>,
    spec: &RunSpec,
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    observer: &mut dyn FnMut(Stream, &[u8]),
) -> Result<Outcome> {
    let limits = &spec.limits;
    if limits.wall_time.is_zero() || limits.cpu_time.is_zero() {
        return Err(SandboxError::InvalidRequest(
            "time limits must be positive".into(),
        ));
    }
    if limits.memory_bytes < MIN_MEMORY_BYTES {
        return Err(SandboxError::InvalidRequest(format!(
            "the memory limit must be at least {} MiB",
            MIN_MEMORY_BYTES >> 20
        )));
    }
    let stdin = match stdin {
        Some(_) if !spec.stdin.is_empty() => {
            return Err(SandboxError::InvalidRequest(
                "give stdin either as bytes in the run spec or as a descriptor, not both".into(),
            ))
        }
        Some(fd) => fd,
        None => sys::memfd_with(&spec.stdin)?,
    };
    // Given a descriptor for stdout, the program writes there and nothing of its
    // stdout is collected.
    let (out_r, out_w) = match stdout {
        Some(fd) => (None, fd),
        None => {
            let (r, w) = sys::pipe()?;
            sys::set_nonblocking(&r)?;
            (Some(r), w)
        }
    };
    let (err_r, err_w) = sys::pipe()?;
    let (rep_r, rep_w) = sys::pipe()?;
    for fd in [&err_r, &rep_r] {
        sys::set_nonblocking(fd)?;
    }
    // The program may reopen its standard streams by path (/dev/stdout is
    // /proc/self/fd/1); that opens the pipe or memfd anew, which its owner must allow.
    for fd in [&stdin, &out_w, &err_w] {
        sys::give_to(fd, ctx.host_uid)?;
    }
    let prepared = prepare(
        ctx,
        spec,
        [
            rep_w.as_raw_fd(),
            stdin.as_raw_fd(),
            out_w.as_raw_fd(),
            err_w.as_raw_fd(),
        ],
    )?;

    let started = Instant::now();
    let (pidfd, init_pid) = spawn(&prepared)?;
    let mut reaper = ReapOnDrop(Some(pidfd.as_raw_fd()));
    drop((out_w, err_w, rep_w, stdin));

    let mut collectors = [
        Collector {
            fd: out_r,
            stream: Stream::Stdout,
            cap: limits.stdout_bytes,
            captured: Captured::default(),
        },
        Collector {
            fd: Some(err_r),
            stream: Stream::Stderr,
            cap: limits.stderr_bytes,
            captured: Captured::default(),
        },
    ];
    let mut reports = Vec::new();
    let mut killed_for = None;
    let mut cancelled = false;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = started + limits.wall_time;
    let mut next_cpu_check = started + (limits.cpu_time / ctx.cpus).max(MIN_CPU_CHECK);

    loop {
        let now = Instant::now();
        if now >= deadline {
            killed_for = Some(Limit::WallTime);
            break;
        }
        if now >= next_cpu_check {
            let used = ctx.cgroup.cpu_usage().unwrap_or_default();
            if used >= limits.cpu_time {
                killed_for = Some(Limit::CpuTime);
                break;
            }
            // The soonest the budget could run out, with every CPU busy.
            next_cpu_check = now + ((limits.cpu_time - used) / ctx.cpus).max(MIN_CPU_CHECK);
        }
        let wake = deadline.min(next_cpu_check);
        let timeout = wake.saturating_duration_since(Instant::now());
        let mut pollfds = vec![
            libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: ctx.control.map_or(-1, RunControl::raw_fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        for col in &collectors {
            if let Some(fd) = &col.fd {
                pollfds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: ppoll over a live array of pollfds with a valid timespec.
        let r = unsafe {
            libc::ppoll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(SandboxError::io("ppoll", e));
        }
        let mut over_cap = false;
        for col in collectors.iter_mut() {
            over_cap |= col.drain(&mut buf, observer);
        }
        read_reports(&rep_r, &mut reports);
        if over_cap {
            killed_for = Some(Limit::Output);
            break;
        }
        if let Some(control) = ctx.control.filter(|_| pollfds[1].revents != 0) {
            let requests = control.take_requests();
            if requests.cancel {
                cancelled = true;
                break;
            }
            if let Some(signal) = requests.signal {
                signal_program(init_pid, signal);
            }
        }
        if pollfds[0].revents != 0 {
            break;
        }
    }

    // The init's death makes the kernel kill every process in the box's pid
    // namespace; waitid returns once they are all gone.
    sys::pidfd_kill(pidfd.as_raw_fd());
    sys::pidfd_reap(pidfd.as_raw_fd())?;
    reaper.disarm();
    let wall_time = started.elapsed();
    if cancelled {
        return Err(SandboxError::Cancelled);
    }
    if killed_for != Some(Limit::Output) {
        for col in collectors.iter_mut() {
            if col.drain(&mut buf, observer) {
                killed_for.get_or_insert(Limit::Output);
            }
        }
    }
    read_reports(&rep_r, &mut reports);
    let [stdout, stderr] = collectors.map(|c| c.captured);

    let cpu_time = ctx.cgroup.cpu_usage().unwrap_or_default();
    let memory_peak_bytes = ctx.cgroup.memory_peak();
    let oom_kills = ctx.cgroup.oom_kills();

    let mut wait_status = None;
    for &(tag, value) in &reports {
        if tag == TAG_WAIT_STATUS {
            wait_status = Some(value);
        } else if let Some(step) = Step::from_tag(tag) {
            let source = io::Error::from_raw_os_error(value);
            return Err(if step == Step::Exec {
                SandboxError::Exec {
                    program: spec.argv[0].to_string_lossy().into_owned(),
                    source,
                }
            } else {
                SandboxError::Setup {
                    step: step.name(),
                    source,
                }
            });
        }
    }

    let (exit_code, signal) = match wait_status {
        Some(s) if libc::WIFEXITED(s) => (Some(libc::WEXITSTATUS(s)), None),
        Some(s) if libc::WIFSIGNALED(s) => (None, Some(libc::WTERMSIG(s))),
        _ => (None, None),
    };
    let limit = killed_for.or_else(|| {
        if oom_kills > 0 {
            Some(Limit::Memory)
        } else if signal == Some(libc::SIGXFSZ) {
            Some(Limit::FileSize)
        } else if signal == Some(libc::SIGXCPU) || cpu_time >= limits.cpu_time && signal.is_some() {
            Some(Limit::CpuTime)
        } else {
            None
        }
    });
    let (status, signal) = match (limit, exit_code, signal) {
        (Some(_), _, s) => (Status::LimitExceeded, s.or(Some(libc::SIGKILL))),
        (None, Some(_), _) => (Status::Exited, None),
        (None, None, Some(s)) => (Status::Signaled, Some(s)),
        (None, None, None) => {
            return Err(SandboxError::InvalidRequest(
                "the box's init died without reporting the program's status".into(),
            ))
        }
    };
    Ok(Outcome {
        status,
        exit_code: if limit.is_some() { None } else { exit_code },
        signal,
        limit,
        stdout,
        stderr,
        wall_time,
        cpu_time,
        memory_peak_bytes,
    })
}

fn read_reports(fd: &OwnedFd, out: &mut Vec<(u32, i32)>) {
    let mut record = [0u8; RECORD_LEN];
    loop {
        // SAFETY: reads one record into a live stack buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), record.as_mut_ptr().cast(), RECORD_LEN) };
        if n != RECORD_LEN as isize {
            return;
        }
        let tag = u32::from_ne_bytes(record[..4].try_into().expect("4 bytes"));
        let value = i32::from_ne_bytes(record[4..].try_into().expect("4 bytes"));
        out.push((tag, value));
    }
}

/// Sends `signal` to the box's program: the child of the box's init that is pid 2 in
/// the box (the init's first child). Found through the host's /proc (kernel state, not
/// the box's files) and signalled through a pidfd, so a recycled pid is never hit.
/// Does nothing once the program is gone.
fn signal_program(init_pid: libc::pid_t, signal: i32) {
    let children = std::fs::read_to_string(format!("/proc/{init_pid}/task/{init_pid}/children"))
        .unwrap_or_default();
    for child in children
        .split_whitespace()
        .filter_map(|p| p.parse::<libc::pid_t>().ok())
    {
        // SAFETY: pidfd_open returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child, 0) } as RawFd;
        if fd < 0 {
            continue;
        }
        // SAFETY: fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
        let is_program = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|pids| pids.split_whitespace().last())
            == Some("2");
        if is_program {
            // SAFETY: pidfd_send_signal with a null siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            return;
        }
    }
}
