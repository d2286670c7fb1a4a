//! Cancelling a run from another thread (a client that went away): an eventfd the
//! supervisor polls alongside the box, so cancellation is as prompt as an exit.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::error::{Result, SandboxError};

/// A cancellation signal shared between the thread running a box and others.
#[derive(Clone, Debug)]
pub struct CancelToken {
    fd: Arc<OwnedFd>,
}

impl CancelToken {
    pub fn new() -> Result<CancelToken> {
        // SAFETY: eventfd creates a new descriptor; no memory is involved.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(SandboxError::last_os("eventfd"));
        }
        // SAFETY: fresh descriptor owned by nobody else.
        Ok(CancelToken {
            fd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
        })
    }

    /// Asks the run (current or next) to stop: its processes are killed and the run
    /// returns [`SandboxError::Cancelled`].
    pub fn cancel(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn is_cancelled(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polls one live pollfd without waiting.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
