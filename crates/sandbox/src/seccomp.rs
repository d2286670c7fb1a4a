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

/// Where a jump goes, resolved to an offset once the program is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Next,
    Allow,
    Eperm,
    Enosys,
    CloneCheck,
    At(usize),
}

#[derive(Clone, Copy)]
struct Insn {
    code: u32,
    k: u32,
    jt: Label,
    jf: Label,
}

const LD_ABS: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const RET: u32 = libc::BPF_RET | libc::BPF_K;
const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGE: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const JSET: u32 = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;
const JA: u32 = libc::BPF_JMP | libc::BPF_JA;

fn stmt(code: u32, k: u32) -> Insn {
    Insn {
        code,
        k,
        jt: Label::Next,
        jf: Label::Next,
    }
}

fn jump(code: u32, k: u32, jt: Label) -> Insn {
    Insn {
        code,
        k,
        jt,
        jf: Label::Next,
    }
}

/// Emits a binary search over `rules` (sorted by number). A balanced tree keeps
/// every path short, which matters twice: for each call the program runs, and when
/// the filter is loaded, since the kernel then evaluates it once per system call
/// number to fill its action cache (a linear list of 60 checks costs ~100 µs there).
fn emit_tree(out: &mut Vec<Insn>, rules: &[(u32, Label)]) {
    if rules.len() <= 3 {
        for &(nr, target) in rules {
            out.push(jump(JEQ, nr, target));
        }
        out.push(stmt(JA, 0));
        out.last_mut().expect("just pushed").jt = Label::Allow;
        return;
    }
    let mid = rules.len() / 2;
    let branch = out.len();
    out.push(jump(JGE, rules[mid].0, Label::Next));
    emit_tree(out, &rules[..mid]);
    out[branch].jt = Label::At(out.len());
    emit_tree(out, &rules[mid..]);
}

/// A compiled filter, built once per host and loaded by every boxed child.
pub struct Filter {
    program: Vec<sock_filter>,
}

impl Filter {
    pub fn build() -> Filter {
        let mut rules: Vec<(u32, Label)> = DENIED
            .iter()
            .map(|&(nr, _)| (nr as u32, Label::Eperm))
            .collect();
        rules.push((libc::SYS_clone as u32, Label::CloneCheck));
        rules.push((libc::SYS_clone3 as u32, Label::Enosys));
        rules.sort_by_key(|&(nr, _)| nr);

        // Architecture check first: anything but native x86_64 dies.
        let mut code = vec![
            stmt(LD_ABS, OFFSET_ARCH),
            Insn {
                code: JEQ,
                k: AUDIT_ARCH_X86_64,
                jt: Label::At(3),
                jf: Label::Next,
            },
            stmt(RET, libc::SECCOMP_RET_KILL_PROCESS),
            stmt(LD_ABS, OFFSET_NR),
            // The x32 ABI shares the architecture but numbers calls differently.
            jump(JGE, X32_SYSCALL_BIT, Label::Eperm),
        ];
        emit_tree(&mut code, &rules);

        let mut labels = Vec::new();
        labels.push((Label::Allow, code.len()));
        code.push(stmt(RET, libc::SECCOMP_RET_ALLOW));
        labels.push((Label::CloneCheck, code.len()));
        code.push(stmt(LD_ABS, OFFSET_ARG0_LOW));
        code.push(jump(JSET, CLONE_NAMESPACE_FLAGS, Label::Eperm));
        code.push(stmt(RET, libc::SECCOMP_RET_ALLOW));
        labels.push((Label::Eperm, code.len()));
        code.push(stmt(RET, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32));
        labels.push((Label::Enosys, code.len()));
        code.push(stmt(RET, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32));

        let resolve = |label: Label, at: usize| -> usize {
            let dest = match label {
                Label::Next => at + 1,
                Label::At(i) => i,
                other => labels
                    .iter()
                    .find(|(l, _)| *l == other)
                    .map(|&(_, i)| i)
                    .expect("every label is placed"),
            };
            assert!(dest > at, "seccomp jumps only go forward");
            dest - at - 1
        };
        let program = code
            .iter()
            .enumerate()
            .map(|(at, insn)| {
                if insn.code == JA {
                    return sock_filter {
                        code: JA as u16,
                        jt: 0,
                        jf: 0,
                        k: resolve(insn.jt, at) as u32,
                    };
                }
                let offset = |l| u8::try_from(resolve(l, at)).expect("seccomp jump fits in 8 bits");
                let is_jump = insn.code & 0x07 == libc::BPF_JMP;
                sock_filter {
                    code: insn.code as u16,
                    jt: if is_jump { offset(insn.jt) } else { 0 },
                    jf: if is_jump { offset(insn.jf) } else { 0 },
                    k: insn.k,
                }
            })
            .collect();
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
        run(filter, arch, nr, arg0).0
    }

    /// The filter's answer and how many instructions it took to reach it.
    fn run(filter: &Filter, arch: u32, nr: u32, arg0: u64) -> (u32, usize) {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[16..24].copy_from_slice(&arg0.to_ne_bytes());
        let mut acc = 0u32;
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            steps += 1;
            let insn = filter.program[pc];
            let code = insn.code as u32;
            match code & 0x07 {
                0x00 => {
                    let k = insn.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                0x05 if code & 0xf0 == 0x00 => pc += 1 + insn.k as usize,
                0x05 => {
                    let taken = match code & 0xf0 {
                        0x10 => acc == insn.k,
                        0x30 => acc >= insn.k,
                        0x40 => acc & insn.k != 0,
                        _ => panic!("unexpected jump"),
                    };
                    pc += 1 + if taken { insn.jt } else { insn.jf } as usize;
                }
                0x06 => return (insn.k, steps),
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
    fn every_number_is_decided_in_a_few_steps() {
        // A binary search: short paths for every number keep both running the filter
        // and loading it (the kernel evaluates it per number to fill its cache) cheap.
        let f = Filter::build();
        let longest = (0..512u32)
            .map(|nr| run(&f, AUDIT_ARCH_X86_64, nr, 0).1)
            .max()
            .unwrap();
        assert!(longest <= 16, "longest path {longest}");
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
