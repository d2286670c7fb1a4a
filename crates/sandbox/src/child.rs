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
//! Both run in a child cloned from a multi-threaded host: another thread may have held
//! the allocator's lock at clone time, so nothing here allocates, panics or takes a
//! lock. Everything the children need is prepared by the host in a [`ChildPlan`];
//! the code below makes only raw system calls and reports failure as a fixed-size
//! record on the report pipe.

use std::ffi::CString;
use std::os::fd::RawFd;

use libc::{c_char, c_int};

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
    /// cgroup v1: `tasks` files `box_init` writes itself into.
    pub cgroup_procs: Vec<CString>,
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
    /// Stack of the payload process until it executes the program.
    pub payload_stack: *mut u8,
    pub payload_stack_len: usize,
}

fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// Writes one record to the report pipe. Short writes cannot happen: records are
/// far below PIPE_BUF, so pipe writes of them are atomic.
fn report(fd: RawFd, tag: u32, value: i32) {
    let mut record = [0u8; RECORD_LEN];
    record[..4].copy_from_slice(&tag.to_ne_bytes());
    record[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: writes 8 bytes from a live stack buffer.
    unsafe { libc::write(fd, record.as_ptr().cast(), RECORD_LEN) };
}

fn fail(fd: RawFd, step: Step) -> ! {
    report(fd, step as u32, errno());
    // SAFETY: _exit ends this process at once, without running host atexit handlers.
    unsafe { libc::_exit(127) }
}

/// Checks a raw system call result; on failure reports the step and exits.
fn check(fd: RawFd, step: Step, result: c_int) {
    if result < 0 {
        fail(fd, step);
    }
}

/// Closes every descriptor except those in `keep`.
fn close_all_but(keep: &mut [RawFd]) -> c_int {
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
            let r = unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0) };
            if r < 0 {
                return -1;
            }
        }
        first = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0) as c_int }
}

/// Writes `data` to the file at the NUL-terminated `path` (a control file in /proc or
/// /sys).
fn write_file(path: *const libc::c_char, data: &[u8]) -> c_int {
    // SAFETY: plain open/write/close on a NUL-terminated path and a live buffer.
    unsafe {
        let fd = libc::open(path, libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return -1;
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        if n == data.len() as isize {
            0
        } else {
            -1
        }
    }
}

/// Formats `/proc/<pid>/<file>` into `buf` without allocating; returns a C string.
fn proc_path<'a>(buf: &'a mut [u8; 64], pid: libc::pid_t, file: &[u8]) -> &'a [u8] {
    let mut digits = [0u8; 12];
    let mut n = pid as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut at = 0;
    for &b in b"/proc/" {
        buf[at] = b;
        at += 1;
    }
    for i in (0..len).rev() {
        buf[at] = digits[i];
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

fn write_proc_file(pid: libc::pid_t, file: &[u8], data: &[u8]) -> c_int {
    let mut buf = [0u8; 64];
    write_file(proc_path(&mut buf, pid, file).as_ptr().cast(), data)
}

/// The box's first process. Never returns.
///
/// # Safety
/// Must be called only in the child of `clone3` made by the supervisor, with a plan
/// whose pointers are valid (the child has a copy of the host's memory).
pub(crate) unsafe fn box_init(plan: &ChildPlan) -> ! {
    let rep = plan.report_fd;
    check(rep, Step::Session, libc::setsid());
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    // Not dumpable: the host's memory, copied into this process, is not readable
    // through /proc/1 by the program.
    libc::prctl(libc::PR_SET_DUMPABLE, 0);

    let mut keep = [
        plan.report_fd,
        plan.stdin_fd,
        plan.stdout_fd,
        plan.stderr_fd,
        plan.netns_fd,
    ];
    check(rep, Step::CloseFds, close_all_but(&mut keep));

    for procs in &plan.cgroup_procs {
        check(rep, Step::JoinCgroup, write_file(procs.as_ptr(), b"0"));
    }
    check(
        rep,
        Step::NetworkNamespace,
        libc::setns(plan.netns_fd, libc::CLONE_NEWNET),
    );
    libc::close(plan.netns_fd);
    check(
        rep,
        Step::CgroupNamespace,
        libc::unshare(libc::CLONE_NEWCGROUP),
    );
    let host = plan.hostname.as_bytes();
    check(
        rep,
        Step::Hostname,
        libc::sethostname(plan.hostname.as_ptr(), host.len()),
    );

    // Nothing mounted from here on may propagate back to the host.
    check(
        rep,
        Step::PrivateMounts,
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ),
    );
    for (source, target) in &plan.binds {
        check(
            rep,
            Step::BindBoxDirs,
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ),
        );
    }
    check(
        rep,
        Step::MountProc,
        libc::mount(
            c"proc".as_ptr(),
            plan.proc_dir.as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ),
    );
    check(
        rep,
        Step::PivotRoot,
        libc::syscall(
            libc::SYS_pivot_root,
            plan.new_root.as_ptr(),
            plan.put_old.as_ptr(),
        ) as c_int,
    );
    check(rep, Step::PivotRoot, libc::chdir(c"/".as_ptr()));
    check(
        rep,
        Step::DetachOldRoot,
        libc::umount2(plan.put_old_inside.as_ptr(), libc::MNT_DETACH),
    );

    // The payload starts in a user namespace of its own and waits on `go` until its
    // id maps are written.
    let mut go = [-1; 2];
    check(
        rep,
        Step::ForkPayload,
        libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC),
    );
    let start = PayloadStart { plan, go: go[0] };
    // CLONE_VM: the payload shares this process's memory (itself a private copy of
    // the host's) until it executes the program, so no page tables are copied. It
    // runs on its own stack, prepared by the host; this process only waits meanwhile.
    let stack_top = plan.payload_stack.add(plan.payload_stack_len) as usize & !15;
    let pid = libc::clone(
        payload_entry,
        stack_top as *mut libc::c_void,
        libc::CLONE_VM | libc::CLONE_NEWUSER | libc::SIGCHLD,
        (&start as *const PayloadStart).cast_mut().cast(),
    );
    if pid < 0 {
        fail(rep, Step::ForkPayload);
    }
    libc::close(go[0]);

    // Map the box uid to the host uid (this process has the host privilege to).
    let ok = write_proc_file(pid, b"uid_map", plan.uid_map.as_bytes()) == 0
        && write_proc_file(pid, b"gid_map", plan.gid_map.as_bytes()) == 0;
    if ok {
        let byte = 1u8;
        libc::write(go[1], (&byte as *const u8).cast(), 1);
    } else {
        report(rep, Step::IdMaps as u32, errno());
        libc::kill(pid, libc::SIGKILL);
    }
    libc::close(go[1]);

    loop {
        let mut status: c_int = 0;
        let reaped = libc::waitpid(-1, &mut status, libc::__WALL);
        if reaped == pid {
            report(rep, TAG_WAIT_STATUS, status);
            libc::_exit(0);
        }
        if reaped < 0 && errno() != libc::EINTR {
            libc::_exit(0);
        }
    }
}

/// What the payload's entry point gets from `box_init`.
struct PayloadStart<'a> {
    plan: &'a ChildPlan,
    go: RawFd,
}

extern "C" fn payload_entry(arg: *mut libc::c_void) -> c_int {
    // SAFETY: `arg` points at the PayloadStart on box_init's stack, which stays
    // alive (box_init never returns) and is shared with us through CLONE_VM.
    unsafe {
        let start = &*(arg as *const PayloadStart<'_>);
        box_payload(start.plan, start.go)
    }
}

/// The program's process. Never returns.
///
/// # Safety
/// Called only through `payload_entry` in the payload process cloned by `box_init`.
unsafe fn box_payload(plan: &ChildPlan, go: RawFd) -> ! {
    let rep = plan.report_fd;

    // The host may ignore or block signals (SIGPIPE, for one); the program must not
    // inherit that.
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    for signal in 1..libc::SIGRTMAX() {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            libc::signal(signal, libc::SIG_DFL);
        }
    }

    // Wait until box_init has written this user namespace's id maps.
    let mut answer = 0u8;
    if libc::read(go, (&mut answer as *mut u8).cast(), 1) != 1 {
        libc::_exit(127);
    }

    check(rep, Step::Stdio, libc::dup2(plan.stdin_fd, 0));
    check(rep, Step::Stdio, libc::dup2(plan.stdout_fd, 1));
    check(rep, Step::Stdio, libc::dup2(plan.stderr_fd, 2));
    let mut keep = [0, 1, 2, rep];
    check(rep, Step::CloseFds, close_all_but(&mut keep));

    for (resource, limit) in &plan.rlimits {
        check(
            rep,
            Step::Rlimits,
            libc::setrlimit(*resource as libc::__rlimit_resource_t, limit),
        );
    }

    // Raw system calls, not glibc's wrappers: those broadcast the change to every
    // thread glibc believes the process has, and a child cloned from a
    // multi-threaded host inherits that belief, so they would wait forever.
    let id = plan.inner_id;
    check(
        rep,
        Step::DropPrivileges,
        libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) as c_int,
    );
    check(
        rep,
        Step::DropPrivileges,
        libc::syscall(libc::SYS_setresgid, id, id, id) as c_int,
    );
    check(
        rep,
        Step::DropPrivileges,
        libc::syscall(libc::SYS_setresuid, id, id, id) as c_int,
    );
    check(rep, Step::WorkingDirectory, libc::chdir(plan.cwd.as_ptr()));

    check(
        rep,
        Step::NoNewPrivs,
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
    );
    check(
        rep,
        Step::Seccomp,
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &plan.seccomp as *const libc::sock_fprog,
        ) as c_int,
    );

    // The report pipe is close-on-exec: a successful execve closes it, which tells
    // the host the program started.
    let mut last_error = libc::ENOENT;
    for candidate in &plan.exec_candidates {
        libc::execve(candidate.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
        let e = errno();
        if e != libc::ENOENT && e != libc::ENOTDIR {
            last_error = e;
        }
    }
    *libc::__errno_location() = last_error;
    fail(rep, Step::Exec)
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
