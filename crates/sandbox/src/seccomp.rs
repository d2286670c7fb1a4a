//! The seccomp filter every boxed program runs under.
//!
//! A deny list, decided on the system call number wherever possible so the kernel's
//! seccomp action cache can skip the filter for every other call. Only `clone` looks
//! at an argument (its namespace flags). `clone3` passes its flags in memory the filter
//! cannot read, so it answers ENOSYS, which makes libc fall back to `clone`.
//! Foreign architectures (i386 via `int 0x80`) and the x32 ABI are refused outright:
//! their call numbers differ and would slip past the list.

use libc::sock_filter;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets into `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;

/// Every `CLONE_NEW*` flag that `clone(2)` accepts.
const CLONE_NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// System calls a boxed program gets EPERM for.
pub const DENIED: &[(i64, &str)] = &[
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_mount, "mount"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_chroot, "chroot"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_request_key, "request_key"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_unshare, "unshare"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_quotactl_fd, "quotactl_fd"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_syslog, "syslog"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_settimeofday, "settimeofday"),
    (libc::SYS_clock_settime, "clock_settime"),
    (libc::SYS_clock_adjtime, "clock_adjtime"),
    (libc::SYS_adjtimex, "adjtimex"),
    (libc::SYS_vhangup, "vhangup"),
    (libc::SYS_uselib, "uselib"),
    (libc::SYS_fanotify_init, "fanotify_init"),
    (libc::SYS_pidfd_getfd, "pidfd_getfd"),
    (libc::SYS_kcmp, "kcmp"),
    (libc::SYS_lookup_dcookie, "lookup_dcookie"),
    (libc::SYS__sysctl, "_sysctl"),
    // Obsolete calls libc no longer names; x86_64 numbers from the kernel's table.
    (174, "create_module"),
    (177, "get_kernel_syms"),
    (178, "query_module"),
    (libc::SYS_nfsservctl, "nfsservctl"),
];

#[derive(Clone, Copy)]
enum Target {
    Eperm,
    Enosys,
    CloneCheck,
}

/// A compiled filter, built once per host and loaded by every boxed child.
pub struct Filter {
    program: Vec<sock_filter>,
}

impl Filter {
    pub fn build() -> Filter {
        let mut code: Vec<(sock_filter, Option<Target>)> = Vec::new();
        let stmt = |code: u32, k: u32| sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        };
        let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
        let ret = libc::BPF_RET | libc::BPF_K;
        let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;

        // Architecture check: anything but native x86_64 dies.
        code.push((stmt(ld, OFFSET_ARCH), None));
        code.push((
            sock_filter {
                code: jeq as u16,
                jt: 1,
                jf: 0,
                k: AUDIT_ARCH_X86_64,
            },
            None,
        ));
        code.push((stmt(ret, libc::SECCOMP_RET_KILL_PROCESS), None));
        code.push((stmt(ld, OFFSET_NR), None));
        code.push((
            stmt(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, X32_SYSCALL_BIT),
            Some(Target::Eperm),
        ));
        code.push((stmt(jeq, libc::SYS_clone as u32), Some(Target::CloneCheck)));
        code.push((stmt(jeq, libc::SYS_clone3 as u32), Some(Target::Enosys)));
        for &(nr, _) in DENIED {
            code.push((stmt(jeq, nr as u32), Some(Target::Eperm)));
        }
        code.push((stmt(ret, libc::SECCOMP_RET_ALLOW), None));
        let clone_at = code.len();
        code.push((stmt(ld, OFFSET_ARG0_LOW), None));
        code.push((
            stmt(
                libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K,
                CLONE_NAMESPACE_FLAGS,
            ),
            Some(Target::Eperm),
        ));
        let allow2_at = code.len();
        code.push((stmt(ret, libc::SECCOMP_RET_ALLOW), None));
        let eperm_at = code.len();
        code.push((
            stmt(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
            None,
        ));
        let enosys_at = code.len();
        code.push((
            stmt(ret, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
            None,
        ));

        // Resolve the forward jumps: a conditional jump's true branch goes to its
        // target, its false branch falls through (the clone check's false branch
        // goes to the allow right after it, which is the fall-through too).
        let program = code
            .iter()
            .enumerate()
            .map(|(at, (insn, target))| {
                let mut insn = *insn;
                if let Some(target) = target {
                    let dest = match target {
                        Target::Eperm => eperm_at,
                        Target::Enosys => enosys_at,
                        Target::CloneCheck => clone_at,
                    };
                    let offset = dest - at - 1;
                    insn.jt = u8::try_from(offset).expect("seccomp jump fits in 8 bits");
                }
                insn
            })
            .collect();
        debug_assert_eq!(allow2_at, clone_at + 2);
        Filter { program }
    }

    /// The `sock_fprog` to hand to `seccomp(2)`. It borrows `self`.
    pub fn as_fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut sock_filter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny classic-BPF interpreter, enough to check the filter's decisions.
    fn decide(filter: &Filter, arch: u32, nr: u32, arg0: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[16..24].copy_from_slice(&arg0.to_ne_bytes());
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = filter.program[pc];
            let code = insn.code as u32;
            match code & 0x07 {
                0x00 => {
                    let k = insn.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                0x05 => {
                    let taken = match code & 0xf0 {
                        0x10 => acc == insn.k,
                        0x30 => acc >= insn.k,
                        0x40 => acc & insn.k != 0,
                        _ => panic!("unexpected jump"),
                    };
                    pc += 1 + if taken { insn.jt } else { insn.jf } as usize;
                }
                0x06 => return insn.k,
                _ => panic!("unexpected instruction class"),
            }
        }
    }

    #[test]
    fn allows_ordinary_calls_and_plain_clone() {
        let f = Filter::build();
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_execve,
            libc::SYS_fork,
        ] {
            assert_eq!(
                decide(&f, AUDIT_ARCH_X86_64, nr as u32, 0),
                libc::SECCOMP_RET_ALLOW
            );
        }
        let thread_flags = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(
            decide(&f, AUDIT_ARCH_X86_64, libc::SYS_clone as u32, thread_flags),
            libc::SECCOMP_RET_ALLOW
        );
    }

    #[test]
    fn refuses_every_denied_call_and_namespace_clones() {
        let f = Filter::build();
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        for &(nr, name) in DENIED {
            assert_eq!(decide(&f, AUDIT_ARCH_X86_64, nr as u32, 0), eperm, "{name}");
        }
        for flag in [libc::CLONE_NEWUSER, libc::CLONE_NEWNS, libc::CLONE_NEWNET] {
            assert_eq!(
                decide(&f, AUDIT_ARCH_X86_64, libc::SYS_clone as u32, flag as u64),
                eperm
            );
        }
        assert_eq!(
            decide(&f, AUDIT_ARCH_X86_64, libc::SYS_clone3 as u32, 0),
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(decide(&f, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 1, 0), eperm);
    }

    #[test]
    fn kills_foreign_architectures() {
        let f = Filter::build();
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        assert_eq!(
            decide(&f, AUDIT_ARCH_I386, 1, 0),
            libc::SECCOMP_RET_KILL_PROCESS
        );
    }
}
