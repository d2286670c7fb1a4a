//! Host uids for boxes. Each live box leases one uid from a configured range, across
//! every codeexec process on the host: a flock on `<state>/uids/<uid>` that the kernel
//! drops when its holder dies, so a crash never leaks a uid.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Result, SandboxError};
use crate::sys;

pub(crate) struct UidPool {
    dir: PathBuf,
    base: u32,
    count: u32,
    next: AtomicU32,
}

/// A leased host uid, released on drop.
pub(crate) struct UidLease {
    pub uid: u32,
    _lock: OwnedFd,
}

impl UidPool {
    pub(crate) fn new(state_dir: &Path, base: u32, count: u32) -> Result<UidPool> {
        if count == 0 || base == 0 || base.checked_add(count).is_none() {
            return Err(SandboxError::InvalidRequest(format!(
                "bad box uid range {base}+{count}"
            )));
        }
        let dir = state_dir.join("uids");
        std::fs::create_dir_all(&dir)
            .map_err(|e| SandboxError::io(format!("mkdir {}", dir.display()), e))?;
        // Start where other processes are unlikely to be looking.
        let start = std::process::id().wrapping_mul(2654435761) % count;
        Ok(UidPool {
            dir,
            base,
            count,
            next: AtomicU32::new(start),
        })
    }

    pub(crate) fn lease(&self) -> Result<UidLease> {
        for _ in 0..self.count {
            let offset = self.next.fetch_add(1, Ordering::Relaxed) % self.count;
            let uid = self.base + offset;
            if let Some(lock) = sys::try_lock(&self.dir.join(uid.to_string()))? {
                return Ok(UidLease { uid, _lock: lock });
            }
        }
        Err(SandboxError::InvalidRequest(format!(
            "all {} box uids are in use",
            self.count
        )))
    }
}
