//! Thin, checked wrappers around the host-side system calls the sandbox needs.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Result, SandboxError};

pub(crate) fn cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SandboxError::NulByte { what: "path" })
}

fn check(context: impl FnOnce() -> String, result: libc::c_int) -> Result<()> {
    if result < 0 {
        Err(SandboxError::last_os(context()))
    } else {
        Ok(())
    }
}

/// mount(2) with optional source, fstype and data.
pub(crate) fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<()> {
    let source = source.map(cstring).transpose()?;
    let target_c = cstring(target)?;
    let fstype = fstype.map(|s| CString::new(s).expect("static fstype"));
    let data = data.map(|s| CString::new(s).expect("mount options have no NUL"));
    // SAFETY: every pointer is either null or a NUL-terminated string that outlives
    // the call.
    let r = unsafe {
        libc::mount(
            source.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target_c.as_ptr(),
            fstype.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr().cast()),
        )
    };
    check(|| format!("mount on {}", target.display()), r)
}

/// Lazily unmounts `target` and everything below it, without following a symlink
/// in its last component.
pub(crate) fn unmount_tree(target: &Path) -> Result<()> {
    let t = cstring(target)?;
    // SAFETY: NUL-terminated path that outlives the call.
    let r = unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
    check(|| format!("unmount {}", target.display()), r)
}

pub(crate) fn mknod_char(path: &Path, major: u32, minor: u32) -> Result<()> {
    let p = cstring(path)?;
    // SAFETY: NUL-terminated path; makedev is pure arithmetic.
    let r = unsafe {
        libc::mknod(
            p.as_ptr(),
            libc::S_IFCHR | 0o666,
            libc::makedev(major, minor),
        )
    };
    check(|| format!("mknod {}", path.display()), r)?;
    // mknod honours the umask; device nodes must be usable by the box user.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .map_err(|e| SandboxError::io(format!("chmod {}", path.display()), e))
}

/// A pipe whose ends are both close-on-exec: (read, write).
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 fills the two-element array.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    check(|| "pipe2".into(), r)?;
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Makes `uid` own the file behind `fd` (a pipe or memfd handed to a box).
pub(crate) fn give_to(fd: &OwnedFd, uid: u32) -> Result<()> {
    // SAFETY: fchown on a descriptor we own.
    let r = unsafe { libc::fchown(fd.as_raw_fd(), uid, uid) };
    check(|| "fchown".into(), r)
}

pub(crate) fn set_nonblocking(fd: &OwnedFd) -> Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let r = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
    };
    check(|| "fcntl O_NONBLOCK".into(), r)
}

/// A sealed, read-only-in-effect memory file holding `bytes`, positioned at 0:
/// the program's stdin. A file instead of a pipe means no writer that could block.
pub(crate) fn memfd_with(bytes: &[u8]) -> Result<OwnedFd> {
    let fd = memfd(c"stdin", libc::MFD_ALLOW_SEALING)?;
    let mut written = 0;
    while written < bytes.len() {
        // SAFETY: writes from a live slice.
        let n = unsafe {
            libc::write(
                fd.as_raw_fd(),
                bytes[written..].as_ptr().cast(),
                bytes.len() - written,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(SandboxError::io("write stdin memfd", e));
        }
        written += n as usize;
    }
    // SAFETY: fcntl/lseek on a descriptor we own.
    unsafe {
        libc::fcntl(
            fd.as_raw_fd(),
            libc::F_ADD_SEALS,
            libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL,
        );
        libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_SET);
    }
    Ok(fd)
}

/// A new, empty, writable memory file.
pub(crate) fn memfd(name: &std::ffi::CStr, flags: libc::c_uint) -> Result<OwnedFd> {
    // SAFETY: a NUL-terminated name; the flags are plain bits.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | flags) };
    if fd < 0 {
        return Err(SandboxError::last_os("memfd_create"));
    }
    // SAFETY: fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends SIGKILL through a pidfd (no pid reuse race).
pub(crate) fn pidfd_kill(pidfd: RawFd) {
    // SAFETY: pidfd_send_signal with a null siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Reaps the process behind a pidfd, blocking until it is gone.
pub(crate) fn pidfd_reap(pidfd: RawFd) -> Result<()> {
    loop {
        // SAFETY: waitid fills a zeroed siginfo_t we own.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PIDFD,
                pidfd as libc::id_t,
                &mut info,
                libc::WEXITED | libc::__WALL,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(SandboxError::io("waitid on the box's init", e));
        }
    }
}

/// Takes an exclusive, non-blocking flock on `path` (created if needed).
/// `Ok(None)` when another holder has it.
pub(crate) fn try_lock(path: &Path) -> Result<Option<OwnedFd>> {
    lock_file(path, libc::O_CREAT)
}

/// Like [`try_lock`], but fails with NotFound instead of creating the file.
pub(crate) fn try_lock_existing(path: &Path) -> Result<Option<OwnedFd>> {
    lock_file(path, 0)
}

fn lock_file(path: &Path, create: libc::c_int) -> Result<Option<OwnedFd>> {
    let p = cstring(path)?;
    // SAFETY: NUL-terminated path.
    let fd = unsafe {
        libc::open(
            p.as_ptr(),
            libc::O_RDWR | create | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o600,
        )
    };
    if fd < 0 {
        return Err(SandboxError::last_os(format!("open {}", path.display())));
    }
    // SAFETY: fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: flock on a descriptor we own.
    let r = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        Ok(Some(fd))
    } else {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Ok(None)
        } else {
            Err(SandboxError::io(format!("flock {}", path.display()), e))
        }
    }
}
