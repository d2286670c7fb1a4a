//! A box's own filesystem: one size-limited tmpfs on the host, holding the working
//! directory (`/box` inside), `/tmp` and `/dev/shm`.
//!
//! The host writes into it only while staging, before the first run: after untrusted
//! code has run, any path below could be a planted symlink (Judge0's CVE-2024-28185).
//! Destroying a box unmounts the tmpfs as a whole (no path inside is resolved) and
//! removes the empty mount point, which lives in the host-owned instance directory.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::config::BoxLimits;
use crate::error::{Result, SandboxError};
use crate::sys;

pub(crate) struct BoxFs {
    pub dir: PathBuf,
    pub work: PathBuf,
    pub tmp: PathBuf,
    pub shm: PathBuf,
    uid: u32,
    mounted: bool,
}

impl BoxFs {
    pub(crate) fn create(dir: PathBuf, uid: u32, limits: &BoxLimits) -> Result<BoxFs> {
        fs::create_dir(&dir)
            .map_err(|e| SandboxError::io(format!("mkdir {}", dir.display()), e))?;
        let mut boxfs = BoxFs {
            work: dir.join("work"),
            tmp: dir.join("tmp"),
            shm: dir.join("shm"),
            dir,
            uid,
            mounted: false,
        };
        let options = format!(
            "size={},nr_inodes={},mode=0755",
            limits.disk_bytes.max(4096),
            limits.inodes.max(16)
        );
        sys::mount(
            Some(Path::new("tmpfs")),
            &boxfs.dir,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some(&options),
        )?;
        boxfs.mounted = true;
        for (path, mode) in [
            (&boxfs.work, 0o755),
            (&boxfs.tmp, 0o1777),
            (&boxfs.shm, 0o1777),
        ] {
            fs::create_dir(path)
                .and_then(|()| chown(path, Some(uid), Some(uid)))
                .and_then(|()| fs::set_permissions(path, fs::Permissions::from_mode(mode)))
                .map_err(|e| SandboxError::io(format!("prepare {}", path.display()), e))?;
        }
        Ok(boxfs)
    }

    /// Writes a file below the working directory, creating parent directories, all
    /// owned by the box user. Only valid before the first run (checked by the caller).
    pub(crate) fn stage(&self, relative: &Path, contents: &[u8], executable: bool) -> Result<()> {
        let target = self.work.join(checked_relative(relative)?);
        if let Some(parent) = relative.parent() {
            self.make_dirs(parent)?;
        }
        let mode = if executable { 0o755 } else { 0o644 };
        fs::write(&target, contents)
            .and_then(|()| chown(&target, Some(self.uid), Some(self.uid)))
            .and_then(|()| fs::set_permissions(&target, fs::Permissions::from_mode(mode)))
            .map_err(|e| SandboxError::io(format!("stage {}", relative.display()), e))
    }

    /// Creates a directory (and its parents) below the working directory, owned by
    /// the box user. Only valid before the first run (checked by the caller).
    pub(crate) fn stage_dir(&self, relative: &Path) -> Result<()> {
        self.make_dirs(checked_relative(relative)?)
    }

    fn make_dirs(&self, relative: &Path) -> Result<()> {
        let mut dir = self.work.clone();
        for component in relative.components() {
            dir.push(component);
            match fs::create_dir(&dir) {
                Ok(()) => chown(&dir, Some(self.uid), Some(self.uid))
                    .map_err(|e| SandboxError::io(format!("chown {}", dir.display()), e))?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                Err(e) => return Err(SandboxError::io(format!("mkdir {}", dir.display()), e)),
            }
        }
        Ok(())
    }

    /// Unmounts the tmpfs (freeing everything in it) and removes the mount point.
    pub(crate) fn destroy(&mut self) -> Result<()> {
        if self.mounted {
            sys::unmount_tree(&self.dir)?;
            self.mounted = false;
        }
        match fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SandboxError::io(format!("rmdir {}", self.dir.display()), e)),
        }
    }
}

impl Drop for BoxFs {
    fn drop(&mut self) {
        let _ = self.destroy();
    }
}

/// Accepts only plain relative paths: no root, no `..`, no `.`, not empty.
pub fn checked_relative(path: &Path) -> Result<&Path> {
    let invalid = |reason| SandboxError::InvalidPath {
        path: path.to_path_buf(),
        reason,
    };
    if path.as_os_str().is_empty() {
        return Err(invalid("empty path"));
    }
    if path.as_os_str().len() > 1024 {
        return Err(invalid("longer than 1024 bytes"));
    }
    for component in path.components() {
        match component {
            Component::Normal(_) => {}
            Component::ParentDir => return Err(invalid("`..` is not allowed")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid("must be relative to the box's working directory"))
            }
            Component::CurDir => return Err(invalid("`.` components are not allowed")),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::checked_relative;
    use std::path::Path;

    #[test]
    fn refuses_traversal_and_absolute_paths() {
        assert!(checked_relative(Path::new("main.c")).is_ok());
        assert!(checked_relative(Path::new("src/lib/util.c")).is_ok());
        for bad in ["", "../etc/passwd", "/etc/passwd", "a/../../b", "./x"] {
            assert!(checked_relative(Path::new(bad)).is_err(), "{bad:?}");
        }
    }
}
