/* Tries every kind of call the seccomp filter must refuse and prints name=errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long r) {
    printf("%s=%s\n", name, r < 0 ? (errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : "OTHER") : "ALLOWED");
}
static char stack[65536];
static int child(void *arg) { (void)arg; return 0; }

int main(void) {
    errno = 0; report("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
    errno = 0; report("ptrace_attach", ptrace(PTRACE_ATTACH, 1, 0, 0));
    errno = 0; report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    errno = 0; report("umount", umount2("/proc", MNT_DETACH));
    errno = 0; report("unshare_user", unshare(CLONE_NEWUSER));
    errno = 0; report("unshare_net", unshare(CLONE_NEWNET));
    errno = 0; report("unshare_ns", unshare(CLONE_NEWNS));
    errno = 0; report("setns", setns(0, 0));
    errno = 0; report("clone_newuser", clone(child, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, NULL));
    errno = 0; report("clone3", syscall(SYS_clone3, NULL, 0));
    errno = 0; report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    errno = 0; report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    errno = 0; report("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, 0, 0));
    errno = 0; report("add_key", syscall(SYS_add_key, "user", "x", "y", 1, 0));
    errno = 0; report("userfaultfd", syscall(SYS_userfaultfd, 0));
    errno = 0; report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    errno = 0; report("chroot", chroot("/tmp"));
    errno = 0; report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
    errno = 0; report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
    errno = 0; report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    errno = 0; report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    errno = 0; report("swapon", syscall(SYS_swapon, "/tmp/x", 0));
    errno = 0; report("acct", syscall(SYS_acct, NULL));
    errno = 0; report("open_by_handle_at", syscall(SYS_open_by_handle_at, 0, NULL, 0));
    errno = 0; report("process_vm_readv", syscall(SYS_process_vm_readv, 1, NULL, 0, NULL, 0, 0));
    /* An ordinary fork still works. */
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    report("fork", pid);
    return 0;
}
