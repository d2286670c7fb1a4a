//! A pool of empty network namespaces, each holding only a loopback device that is
//! down. A box takes one for its lifetime and `setns`es every run into it, which costs
//! far less than creating a namespace per run and scales better in parallel. No two
//! live boxes ever share one, so they cannot meet on loopback or abstract sockets.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Mutex;

use crate::error::{Result, SandboxError};

#[derive(Default)]
pub(crate) struct NetnsPool {
    free: Mutex<Vec<OwnedFd>>,
}

impl NetnsPool {
    pub(crate) fn take(&self) -> Result<OwnedFd> {
        if let Some(fd) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(fd);
        }
        create()
    }

    /// Returns a namespace once every process of its box is dead.
    pub(crate) fn give_back(&self, fd: OwnedFd) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(fd);
    }
}

/// Creates a network namespace on a short-lived thread (namespaces are per thread
/// for `unshare(CLONE_NEWNET)`, so the host's other threads are untouched) and keeps
/// it alive by an open descriptor.
fn create() -> Result<OwnedFd> {
    std::thread::spawn(|| -> Result<OwnedFd> {
        // SAFETY: unshare only changes this thread's network namespace; the thread
        // ends right after.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
            return Err(SandboxError::last_os("unshare(CLONE_NEWNET)"));
        }
        // SAFETY: NUL-terminated static path.
        let fd = unsafe {
            libc::open(
                c"/proc/thread-self/ns/net".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(SandboxError::last_os("open /proc/thread-self/ns/net"));
        }
        // SAFETY: fresh descriptor owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })
    .join()
    .unwrap_or_else(|_| {
        Err(SandboxError::InvalidRequest(
            "network namespace thread panicked".into(),
        ))
    })
}
