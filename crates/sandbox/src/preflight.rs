//! Start-up checks: find out at once, with one clear sentence, when this host cannot
//! sandbox, instead of failing at the first run.

use std::fs;

use crate::error::{Result, SandboxError};

fn unsupported(what: &str, fix: &str) -> SandboxError {
    SandboxError::Unsupported {
        what: what.into(),
        fix: fix.into(),
    }
}

/// Checks privileges, namespaces, seccomp and the kernel interfaces the sandbox uses.
/// cgroups are checked when they are set up (`Cgroups::detect`).
pub fn check_host() -> Result<()> {
    if !cfg!(target_arch = "x86_64") {
        return Err(unsupported(
            "the seccomp filter is written for x86_64 only",
            "run codeexec on an x86_64 host",
        ));
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(unsupported(
            "the sandbox is not running as root (it creates namespaces, mounts and cgroups)",
            "start codeexec as root, e.g. with sudo or as a systemd service",
        ));
    }
    let max_userns = fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if max_userns == Some(0) {
        return Err(unsupported(
            "user namespaces are disabled (user.max_user_namespaces = 0)",
            "sysctl -w user.max_user_namespaces=10000",
        ));
    }
    for ns in ["user", "pid", "net", "mnt", "ipc", "uts", "cgroup"] {
        if fs::symlink_metadata(format!("/proc/self/ns/{ns}")).is_err() {
            return Err(unsupported(
                &format!("the kernel has no {ns} namespaces"),
                "use a kernel built with CONFIG_NAMESPACES and all namespace types",
            ));
        }
    }
    // SAFETY: PR_GET_SECCOMP only reads this thread's seccomp mode.
    if unsafe { libc::prctl(libc::PR_GET_SECCOMP) } < 0 {
        return Err(unsupported(
            "seccomp is not available in this kernel",
            "use a kernel built with CONFIG_SECCOMP_FILTER",
        ));
    }
    let actions = fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
    if !actions.contains("errno") || !actions.contains("kill_process") {
        return Err(unsupported(
            "the kernel's seccomp lacks the errno or kill_process action",
            "use Linux 4.14 or newer",
        ));
    }
    if fs::metadata("/proc/self/ns/cgroup").is_err() {
        return Err(unsupported(
            "cgroup namespaces are missing",
            "use Linux 4.6 or newer",
        ));
    }
    Ok(())
}
