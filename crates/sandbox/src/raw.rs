//! System calls for the box's processes before they execute the program, made
//! without libc, and the `clone3` that starts them on a stack of their own.
//!
//! The box's init and the payload share the host's memory (`CLONE_VM`) until the
//! payload executes the program: no page tables are copied and the host takes no
//! copy-on-write faults afterwards (both cost about a third of the server's CPU
//! per run when the init was a fork-style copy). Sharing memory also means sharing
//! the cloning thread's thread-local storage, and libc's wrappers write `errno`
//! there, under the feet of the host thread that keeps running. So the children
//! make their system calls here: the result is returned, negative errno on
//! failure, and nothing else is written.

use std::io;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("the box's processes are written for x86_64 (see preflight.rs)");

/// A system call with up to six arguments; `-errno` on failure.
///
/// # Safety
/// The call and its arguments must be valid for the calling process: pointers must
/// point at live memory of the sizes the call expects.
#[inline(always)]
pub(crate) unsafe fn syscall(number: libc::c_long, args: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 Linux system call convention; the kernel clobbers only
    // rcx and r11 and returns in rax. Memory effects are the caller's contract.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as isize => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// `syscall` with fewer arguments, zero-filled.
macro_rules! sys {
    ($n:expr) => { $crate::raw::syscall($n, [0; 6]) };
    ($n:expr, $($a:expr),+ $(,)?) => {{
        let given = [$(($a) as isize as usize),+];
        let mut args = [0usize; 6];
        args[..given.len()].copy_from_slice(&given);
        $crate::raw::syscall($n, args)
    }};
}
pub(crate) use sys;

/// Ends the calling process at once (no libc exit handlers: they belong to the host).
pub(crate) fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes an int and does not return.
        unsafe { sys!(libc::SYS_exit_group, code) };
    }
}

/// The entry point of a child started by [`clone3_on_stack`]: it gets the argument
/// and must never return.
pub(crate) type Entry = unsafe extern "C" fn(usize) -> !;

/// `clone3` with `args` (whose `stack` and `stack_size` must be set when `CLONE_VM`
/// is): the child starts in `entry(arg)` on its new stack; the parent gets the
/// child's pid or `-errno`.
///
/// # Safety
/// `args` must be valid for clone3. With `CLONE_VM`, `entry` must keep to its own
/// stack and to memory the parent does not free or change while the child can run,
/// and the stack must be 16-byte aligned at its top.
pub(crate) unsafe fn clone3_on_stack(
    args: &mut libc::clone_args,
    entry: Entry,
    arg: usize,
) -> isize {
    let ret: isize;
    // SAFETY: in the parent this is a plain clone3 system call. In the child (rax =
    // 0), the kernel has already switched to the new stack: the child clears the
    // frame pointer, calls `entry(arg)` (which never returns) and never comes back
    // to code that would use the parent's stack. r12 and r13 survive `syscall`.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") args as *mut libc::clone_args,
            in("rsi") std::mem::size_of::<libc::clone_args>(),
            in("r12") arg,
            in("r13") entry as usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// A stack for a child sharing the host's memory: its own mapping with a guard page
/// below it, so an overflow faults instead of writing over host memory. Unmapped on
/// drop, which the caller must not let happen while the child can still run.
pub(crate) struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

const PAGE: usize = 4096;

impl Stack {
    pub(crate) fn new(usable: usize) -> io::Result<Stack> {
        let len = usable.div_ceil(PAGE) * PAGE + PAGE;
        // SAFETY: a fresh anonymous private mapping; the kernel picks the address.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Stack { base, len };
        // SAFETY: the lowest page of the mapping we own becomes the guard page.
        if unsafe { libc::mprotect(base, PAGE, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// What clone3 wants: the lowest address and the size.
    pub(crate) fn bounds(&self) -> (u64, u64) {
        (self.base as u64, self.len as u64)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made, once.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

// SAFETY: the mapping is owned by this value alone; moving it between threads moves
// only the right to unmap it.
unsafe impl Send for Stack {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_calls_return_negative_errno_and_leave_errno_alone() {
        // SAFETY: close on a descriptor number nobody uses.
        unsafe { *libc::__errno_location() = 0 };
        let r = unsafe { sys!(libc::SYS_close, 1_000_000) };
        assert_eq!(r, -(libc::EBADF as isize));
        assert_eq!(unsafe { *libc::__errno_location() }, 0);
        let pid = unsafe { sys!(libc::SYS_getpid) };
        assert_eq!(pid, std::process::id() as isize);
    }

    #[test]
    fn stacks_are_aligned_with_a_guard_page() {
        let stack = Stack::new(60 * 1024).unwrap();
        let (low, size) = stack.bounds();
        // The top (where the stack starts, growing down) is page-aligned.
        assert_eq!((low + size) % 4096, 0);
        // 60 KiB usable rounded to pages, plus the guard page.
        assert_eq!(size, 64 * 1024);
    }
}
