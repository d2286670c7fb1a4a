//! Controlling a run from another thread: cancel it (a client that went away) or send
//! its program a signal (an interactive client's Ctrl-C). An eventfd the supervisor
//! polls alongside the box makes either as prompt as an exit.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use crate::error::{Result, SandboxError};

#[derive(Debug)]
struct Inner {
    wake: OwnedFd,
    cancelled: AtomicBool,
    /// A signal waiting to be delivered to the program (0: none).
    signal: AtomicI32,
}

/// A handle on a run, shared between the thread running the box and others.
#[derive(Clone, Debug)]
pub struct RunControl {
    inner: Arc<Inner>,
}

/// What the supervisor is asked to do when woken.
pub(crate) struct Requests {
    pub cancel: bool,
    pub signal: Option<i32>,
}

impl RunControl {
    pub fn new() -> Result<RunControl> {
        // SAFETY: eventfd creates a new descriptor; no memory is involved.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(SandboxError::last_os("eventfd"));
        }
        Ok(RunControl {
            inner: Arc::new(Inner {
                // SAFETY: fresh descriptor owned by nobody else.
                wake: unsafe { OwnedFd::from_raw_fd(fd) },
                cancelled: AtomicBool::new(false),
                signal: AtomicI32::new(0),
            }),
        })
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd we own.
        unsafe { libc::write(self.inner.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Asks the run (current or next) to stop: its processes are killed and the run
    /// returns [`SandboxError::Cancelled`].
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        self.wake();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Sends `signal` to the program (the run's first process) as soon as the
    /// supervisor wakes; a later signal replaces one not yet delivered.
    pub fn signal(&self, signal: i32) -> Result<()> {
        if !(1..=64).contains(&signal) {
            return Err(SandboxError::InvalidRequest(format!(
                "{signal} is not a signal number"
            )));
        }
        self.inner.signal.store(signal, Ordering::SeqCst);
        self.wake();
        Ok(())
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.inner.wake.as_raw_fd()
    }

    /// Empties the eventfd and takes what was asked for.
    pub(crate) fn take_requests(&self) -> Requests {
        let mut counter = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from an eventfd we own.
        unsafe {
            libc::read(
                self.inner.wake.as_raw_fd(),
                (&mut counter as *mut u64).cast(),
                8,
            )
        };
        let signal = self.inner.signal.swap(0, Ordering::SeqCst);
        Requests {
            cancel: self.is_cancelled(),
            signal: (signal != 0).then_some(signal),
        }
    }
}
