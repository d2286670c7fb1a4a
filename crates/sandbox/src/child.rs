//! The two processes that live inside a box, from `clone3` to `execve`.
//!
//! `box_init` is the first process of the box: pid 1 of a new pid namespace, still
//! root on the host, in the run's cgroup. It finishes the isolation (network
//! namespace, mounts, new root, /proc), then forks `box_payload`, writes its user
//! namespace's id maps, waits for it, reports how it ended and exits. Its exit makes
//! the kernel kill every other process left in the pid namespace, which is what tears
//! down double-forked daemons, stopped processes and signal-ignoring ones.
//!
//! `box_payload` starts in a fresh user namespace, drops to the box uid, sets the rlimits,
//! `no_new_privs` and the seccomp filter, and executes the program.
//!
//! Both share the memory of a multi-threaded host (`CLONE_VM`, see raw.rs) until the
//! payload executes the program: nothing here allocates, panics, takes a lock or
//! writes anything but its own stack, and system calls go through `raw` (libc's
//! wrappers would write `errno` into the host thread's storage). Everything the
//! children need is prepared by the host in a [`ChildPlan`]; failures are reported
//! as a fixed-size record on the report pipe.

use std::ffi::CString;
use std::os::fd::RawFd;

use libc::{c_char, c_int};

use crate::raw::{self, sys};

/// Steps that can fail inside the box, reported as `(step, errno)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    Session = 1,
    CloseFds,
    JoinCgroup,
    NetworkNamespace,
    CgroupNamespace,
    Hostname,
    PrivateMounts,
    BindBoxDirs,
    MountProc,
    PivotRoot,
    DetachOldRoot,
    ForkPayload,
    IdMaps,
    Stdio,
    Rlimits,
    DropPrivileges,
    WorkingDirectory,
    NoNewPrivs,
    Seccomp,
    Exec,
}

impl Step {
    const ALL: [Step; 20] = [
        Step::Session,
        Step::CloseFds,
        Step::JoinCgroup,
        Step::NetworkNamespace,
        Step::CgroupNamespace,
        Step::Hostname,
        Step::PrivateMounts,
        Step::BindBoxDirs,
        Step::MountProc,
        Step::PivotRoot,
        Step::DetachOldRoot,
        Step::ForkPayload,
        Step::IdMaps,
        Step::Stdio,
        Step::Rlimits,
        Step::DropPrivileges,
        Step::WorkingDirectory,
        Step::NoNewPrivs,
        Step::Seccomp,
        Step::Exec,
    ];

    pub(crate) fn from_tag(tag: u32) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| *s as u32 == tag)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::Session => "new session",
            Step::CloseFds => "close inherited file descriptors",
            Step::JoinCgroup => "join the run's cgroup",
            Step::NetworkNamespace => "enter the network namespace",
            Step::CgroupNamespace => "new cgroup namespace",
            Step::Hostname => "set the hostname",
            Step::PrivateMounts => "make mounts private",
            Step::BindBoxDirs => "bind the box's directories",
            Step::MountProc => "mount /proc",
            Step::PivotRoot => "pivot_root into the box root",
            Step::DetachOldRoot => "detach the host's root",
            Step::ForkPayload => "fork the program's process",
            Step::IdMaps => "write uid and gid maps",
            Step::Stdio => "set up stdin, stdout, stderr",
            Step::Rlimits => "set rlimits",
            Step::DropPrivileges => "drop to the box's uid and gid",
            Step::WorkingDirectory => "enter the working directory",
            Step::NoNewPrivs => "set no_new_privs",
            Step::Seccomp => "load the seccomp filter",
            Step::Exec => "execve",
        }
    }
}

/// `CLONE_INTO_CGROUP` (libc's constant is an overflowing `c_int`).
pub(crate) const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Tag of the record `box_init` writes with the program's wait status.
pub(crate) const TAG_WAIT_STATUS: u32 = 0x100;
/// Size of one record on the report pipe: a tag and a value.
pub(crate) const RECORD_LEN: usize = 8;

/// Everything the box's processes need, prepared by the host before `clone3`.
/// Raw pointers in `argv`/`envp` point into the `CString`s kept alongside.
pub(crate) struct ChildPlan {
    pub report_fd: RawFd,
    pub stdin_fd: RawFd,
    pub stdout_fd: RawFd,
    pub stderr_fd: RawFd,
    pub netns_fd: RawFd,
    /// cgroup v1: the run's `tasks` files (-1 where unused), which the payload
    /// joins by writing "0".
    pub cgroup_task_fds: [RawFd; 3],
    /// cgroup v2: the run's cgroup, which the payload is cloned into; -1 on v1.
    pub cgroup_fd: RawFd,
    pub hostname: CString,
    /// (source, target) bind mounts of the box's own directories into the new root.
    pub binds: Vec<(CString, CString)>,
    pub proc_dir: CString,
    pub new_root: CString,
    pub put_old: CString,
    pub put_old_inside: CString,
    /// `/proc/` and the map contents for the payload's user namespace.
    pub uid_map: CString,
    pub gid_map: CString,
    pub rlimits: Vec<(c_int, libc::rlimit)>,
    pub cwd: CString,
    pub inner_id: libc::uid_t,
    /// Candidate paths for argv[0] (a PATH search done by the host).
    pub exec_candidates: Vec<CString>,
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    pub seccomp: libc::sock_fprog,
    /// Stack of the payload process until it executes the program, as clone3
    /// wants it: lowest address and size.
    pub payload_stack: (u64, u64),
}

/// Writes one record to the report pipe. Short writes cannot happen: records are
/// far below PIPE_BUF, so pipe writes of them are atomic.
fn report(fd: RawFd, tag: u32, value: i32) {
    let mut record = [0u8; RECORD_LEN];
    record[..4].copy_from_slice(&tag.to_ne_bytes());
    record[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: writes 8 bytes from a live stack buffer.
    unsafe { sys!(libc::SYS_write, fd, record.as_ptr(), RECORD_LEN) };
}

fn fail(fd: RawFd, step: Step, errno: i32) -> ! {
    report(fd, step as u32, errno);
    raw::exit(127)
}

/// Checks a raw system call result (`-errno` on failure); on failure reports the
/// step and exits.
fn check(fd: RawFd, step: Step, result: isize) -> isize {
    if result < 0 {
        fail(fd, step, -result as i32);
    }
    result
}

/// Closes every descriptor except those in `keep`.
fn close_all_but(keep: &mut [RawFd]) -> isize {
    keep.sort_unstable();
    let mut first: u32 = 0;
    for &fd in keep.iter() {
        if fd < 0 {
            continue;
        }
        let fd = fd as u32;
        if fd > first {
            // SAFETY: close_range only closes descriptors; none of them are in use by
            // Rust objects in this child, which never returns to the caller.
            let r = unsafe { sys!(libc::SYS_close_range, first, fd - 1, 0) };
            if r < 0 {
                return r;
            }
        }
        first = fd + 1;
    }
    // SAFETY: as above.
    unsafe { sys!(libc::SYS_close_range, first, u32::MAX, 0) }
}

/// Writes `data` to the file at the NUL-terminated `path` (a control file in /proc or
/// /sys).
fn write_file(path: *const c_char, data: &[u8]) -> isize {
    // SAFETY: plain open/write/close on a NUL-terminated path and a live buffer.
    unsafe {
        let fd = sys!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path,
            libc::O_WRONLY | libc::O_CLOEXEC
        );
        if fd < 0 {
            return fd;
        }
        let n = sys!(libc::SYS_write, fd, data.as_ptr(), data.len());
        sys!(libc::SYS_close, fd);
        match n {
            n if n < 0 => n,
            n if n as usize == data.len() => 0,
            _ => -(libc::EIO as isize),
        }
    }
}

/// `n` in decimal, written into the end of `buf` without allocating.
fn decimal(buf: &mut [u8; 12], mut n: u32) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[start..]
}

/// Formats `/proc/<pid>/<file>` into `buf` without allocating; returns a C string.
fn proc_path<'a>(buf: &'a mut [u8; 64], pid: libc::pid_t, file: &[u8]) -> &'a [u8] {
    let mut digits = [0u8; 12];
    let mut at = 0;
    for &b in b"/proc/" {
        buf[at] = b;
        at += 1;
    }
    for &b in decimal(&mut digits, pid as u32) {
        buf[at] = b;
        at += 1;
    }
    buf[at] = b'/';
    at += 1;
    for &b in file {
        buf[at] = b;
        at += 1;
    }
    buf[at] = 0;
    &buf[..=at]
}

fn write_proc_file(pid: libc::pid_t, file: &[u8], data: &[u8]) -> isize {
    let mut buf = [0u8; 64];
    write_file(proc_path(&mut buf, pid, file).as_ptr().cast(), data)
}

/// The kernel's `struct sigaction` on x86_64 (not libc's, whose mask is larger).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Every signal back to its default action, then none blocked. The host blocked
/// them all around the clone, so no host handler (they write to host descriptors
/// and data) can run in this process first.
fn default_signals() {
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for signal in 1..=64 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: rt_sigaction with a live kernel-layout struct and no old one.
            unsafe {
                sys!(
                    libc::SYS_rt_sigaction,
                    signal,
                    &default as *const KernelSigaction,
                    0,
                    8
                )
            };
        }
    }
    let none: u64 = 0;
    // SAFETY: rt_sigprocmask with a live 8-byte set and no old one.
    unsafe {
        sys!(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &none as *const u64,
            0,
            8
        )
    };
}

/// Where `box_init` starts: `arg` is the address of the host's [`ChildPlan`].
///
/// # Safety
/// Only as the entry of the clone made by the supervisor, with `arg` pointing at a
/// plan that stays alive, unchanged, until this process is reaped.
pub(crate) unsafe extern "C" fn box_init_entry(arg: usize) -> ! {
    // SAFETY: the caller's contract.
    unsafe { box_init(&*(arg as *const ChildPlan)) }
}

/// The box's first process. Never returns.
///
/// # Safety
/// Must be called only in the child cloned by the supervisor (sharing the host's
/// memory, on its own stack), with a plan that outlives it.
unsafe fn box_init(plan: &ChildPlan) -> ! {
    let rep = plan.report_fd;
    default_signals();
    // SAFETY (this block): raw system calls on plan data that stays alive (see the
    // function's contract) and on this stack's buffers.
    unsafe {
        check(rep, Step::Session, sys!(libc::SYS_setsid));
        sys!(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The program cannot read this process's memory (the host's) through
        // /proc/1/mem: it runs under another uid in a user namespace of its own,
        // with no capability over this one.

        let mut keep = [
            plan.report_fd,
            plan.stdin_fd,
            plan.stdout_fd,
            plan.stderr_fd,
            plan.netns_fd,
            plan.cgroup_fd,
            plan.cgroup_task_fds[0],
            plan.cgroup_task_fds[1],
            plan.cgroup_task_fds[2],
        ];
        check(rep, Step::CloseFds, close_all_but(&mut keep));
        check(
            rep,
            Step::NetworkNamespace,
            sys!(libc::SYS_setns, plan.netns_fd, libc::CLONE_NEWNET),
        );
        sys!(libc::SYS_close, plan.netns_fd);
        let host = plan.hostname.as_bytes();
        check(
            rep,
            Step::Hostname,
            sys!(libc::SYS_sethostname, plan.hostname.as_ptr(), host.len()),
        );

        // Nothing mounted from here on may propagate back to the host.
        check(
            rep,
            Step::PrivateMounts,
            sys!(
                libc::SYS_mount,
                0,
                c"/".as_ptr(),
                0,
                libc::MS_REC | libc::MS_PRIVATE,
                0
            ),
        );
        for (source, target) in &plan.binds {
            check(
                rep,
                Step::BindBoxDirs,
                sys!(
                    libc::SYS_mount,
                    source.as_ptr(),
                    target.as_ptr(),
                    0,
                    libc::MS_BIND,
                    0
                ),
            );
        }
        check(
            rep,
            Step::MountProc,
            sys!(
                libc::SYS_mount,
                c"proc".as_ptr(),
                plan.proc_dir.as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                0
            ),
        );
        check(
            rep,
            Step::PivotRoot,
            sys!(
                libc::SYS_pivot_root,
                plan.new_root.as_ptr(),
                plan.put_old.as_ptr()
            ),
        );
        check(rep, Step::PivotRoot, sys!(libc::SYS_chdir, c"/".as_ptr()));
        check(
            rep,
            Step::DetachOldRoot,
            sys!(
                libc::SYS_umount2,
                plan.put_old_inside.as_ptr(),
                libc::MNT_DETACH
            ),
        );

        // The payload starts in a user namespace of its own and waits on `go` until
        // its id maps are written.
        let mut go: [c_int; 2] = [-1; 2];
        check(
            rep,
            Step::ForkPayload,
            sys!(libc::SYS_pipe2, go.as_mut_ptr(), libc::O_CLOEXEC),
        );
        let start = PayloadStart { plan, go: go[0] };
        // CLONE_VM: the payload shares this memory (the host's) until it executes
        // the program, on its own stack prepared by the host; this process only
        // waits meanwhile.
        //
        // Only the payload and what it starts are in the run's cgroup, not this
        // process: a memory cgroup's OOM killer kills every process sharing its
        // victim's memory, and this one shares the host's.
        let mut args: libc::clone_args = std::mem::zeroed();
        args.flags = (libc::CLONE_VM | libc::CLONE_NEWUSER) as u64;
        if plan.cgroup_fd >= 0 {
            args.flags |= CLONE_INTO_CGROUP;
            args.cgroup = plan.cgroup_fd as u64;
        }
        args.exit_signal = libc::SIGCHLD as u64;
        (args.stack, args.stack_size) = plan.payload_stack;
        let pid = check(
            rep,
            Step::ForkPayload,
            raw::clone3_on_stack(
                &mut args,
                payload_entry,
                &start as *const PayloadStart as usize,
            ),
        ) as libc::pid_t;
        sys!(libc::SYS_close, go[0]);

        // Map the box uid to the host uid (this process has the host privilege to).
        let maps = match write_proc_file(pid, b"uid_map", plan.uid_map.as_bytes()) {
            0 => write_proc_file(pid, b"gid_map", plan.gid_map.as_bytes()),
            error => error,
        };
        if maps == 0 {
            let byte = 1u8;
            sys!(libc::SYS_write, go[1], &byte as *const u8, 1);
        } else {
            report(rep, Step::IdMaps as u32, -maps as i32);
            sys!(libc::SYS_kill, pid, libc::SIGKILL);
        }
        sys!(libc::SYS_close, go[1]);

        loop {
            let mut status: c_int = 0;
            let reaped = sys!(
                libc::SYS_wait4,
                -1,
                &mut status as *mut c_int,
                libc::__WALL,
                0
            );
            if reaped == pid as isize {
                report(rep, TAG_WAIT_STATUS, status);
                raw::exit(0);
            }
            if reaped < 0 && reaped != -(libc::EINTR as isize) {
                raw::exit(0);
            }
        }
    }
}

/// What the payload's entry point gets from `box_init`.
struct PayloadStart<'a> {
    plan: &'a ChildPlan,
    go: RawFd,
}

unsafe extern "C" fn payload_entry(arg: usize) -> ! {
    // SAFETY: `arg` points at the PayloadStart on box_init's stack, which stays
    // alive (box_init never returns) and is shared with us through CLONE_VM.
    unsafe {
        let start = &*(arg as *const PayloadStart<'_>);
        box_payload(start.plan, start.go)
    }
}

/// The program's process. Never returns.
///
/// Its signal dispositions and mask are `box_init`'s: all default, none blocked.
///
/// # Safety
/// Called only through `payload_entry` in the payload process cloned by `box_init`.
unsafe fn box_payload(plan: &ChildPlan, go: RawFd) -> ! {
    let rep = plan.report_fd;
    // SAFETY (this block): raw system calls on plan data that outlives this process
    // and on this stack's buffers.
    unsafe {
        // Wait until box_init has written this user namespace's id maps.
        let mut answer = 0u8;
        if sys!(libc::SYS_read, go, &mut answer as *mut u8, 1) != 1 {
            raw::exit(127);
        }

        // cgroup v1: join the run's cgroups (on v2 the clone put us there), then
        // see only them: a cgroup namespace rooted here.
        for fd in plan.cgroup_task_fds {
            if fd >= 0 {
                let joined = sys!(libc::SYS_write, fd, b"0".as_ptr(), 1);
                check(rep, Step::JoinCgroup, joined.min(0));
            }
        }
        check(
            rep,
            Step::CgroupNamespace,
            sys!(libc::SYS_unshare, libc::CLONE_NEWCGROUP),
        );

        check(rep, Step::Stdio, sys!(libc::SYS_dup2, plan.stdin_fd, 0));
        check(rep, Step::Stdio, sys!(libc::SYS_dup2, plan.stdout_fd, 1));
        check(rep, Step::Stdio, sys!(libc::SYS_dup2, plan.stderr_fd, 2));
        let mut keep = [0, 1, 2, rep];
        check(rep, Step::CloseFds, close_all_but(&mut keep));

        for (resource, limit) in &plan.rlimits {
            check(
                rep,
                Step::Rlimits,
                sys!(
                    libc::SYS_prlimit64,
                    0,
                    *resource,
                    limit as *const libc::rlimit,
                    0
                ),
            );
        }

        let id = plan.inner_id;
        check(rep, Step::DropPrivileges, sys!(libc::SYS_setgroups, 0, 0));
        check(
            rep,
            Step::DropPrivileges,
            sys!(libc::SYS_setresgid, id, id, id),
        );
        check(
            rep,
            Step::DropPrivileges,
            sys!(libc::SYS_setresuid, id, id, id),
        );
        check(
            rep,
            Step::WorkingDirectory,
            sys!(libc::SYS_chdir, plan.cwd.as_ptr()),
        );

        check(
            rep,
            Step::NoNewPrivs,
            sys!(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        );
        check(
            rep,
            Step::Seccomp,
            sys!(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &plan.seccomp as *const libc::sock_fprog
            ),
        );

        // The report pipe is close-on-exec: a successful execve closes it, which
        // tells the host the program started.
        let mut last_error = libc::ENOENT;
        for candidate in &plan.exec_candidates {
            let e = -sys!(
                libc::SYS_execve,
                candidate.as_ptr(),
                plan.argv.as_ptr(),
                plan.envp.as_ptr()
            ) as i32;
            if e != libc::ENOENT && e != libc::ENOTDIR {
                last_error = e;
            }
        }
        fail(rep, Step::Exec, last_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_proc_paths_without_allocating() {
        let mut buf = [0u8; 64];
        assert_eq!(proc_path(&mut buf, 1, b"uid_map"), b"/proc/1/uid_map\0");
        let mut buf = [0u8; 64];
        assert_eq!(
            proc_path(&mut buf, 4_194_304, b"gid_map"),
            b"/proc/4194304/gid_map\0"
        );
    }

    #[test]
    fn step_tags_round_trip() {
        for step in Step::ALL {
            assert_eq!(Step::from_tag(step as u32), Some(step));
        }
        assert_eq!(Step::from_tag(TAG_WAIT_STATUS), None);
    }
}
