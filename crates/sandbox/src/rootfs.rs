//! The host side of the boxes' filesystems: this process's instance directory and
//! the read-only root every box starts from.
//!
//! Layout under the state directory (`/run/codeexec`):
//! ```text
//! <id>.lock          flock held for the life of the instance
//! <id>/              private tmpfs: nothing below propagates to other namespaces
//!     root/          the template root (read-only tmpfs with read-only binds)
//!     boxes/<n>/     one tmpfs per box: work/ (→ /box), tmp/ (→ /tmp), shm/
//! ```
//! An instance whose lock is free belongs to a dead process; its tree is detached
//! and removed at the next start.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::{SandboxConfig, BOX_UID};
use crate::error::{Result, SandboxError};
use crate::sys;

/// Host directories bound read-only at the same place in every box, when present.
const SYSTEM_DIRS: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Device nodes every box gets: (name, major, minor).
const DEVICES: [(&str, u32, u32); 5] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
];

pub(crate) struct Instance {
    pub id: String,
    pub dir: PathBuf,
    pub root: PathBuf,
    pub boxes: PathBuf,
    lock_path: PathBuf,
    _lock: OwnedFd,
}

impl Instance {
    /// Claims a fresh instance directory, after removing those of dead instances.
    pub(crate) fn create(config: &SandboxConfig) -> Result<Instance> {
        let state = &config.state_dir;
        fs::create_dir_all(state)
            .map_err(|e| SandboxError::io(format!("mkdir {}", state.display()), e))?;
        fs::set_permissions(state, fs::Permissions::from_mode(0o700))
            .map_err(|e| SandboxError::io(format!("chmod {}", state.display()), e))?;
        remove_stale_instances(state);

        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let id = format!("i{}-{:08x}", std::process::id(), nanos);
        // The lock is taken under a name cleanup ignores, then renamed into place:
        // no other process ever sees this instance's lock file unlocked.
        let lock_path = state.join(format!("{id}.lock"));
        let pending = state.join(format!("{id}.new"));
        let lock = sys::try_lock(&pending)?
            .ok_or_else(|| SandboxError::InvalidRequest(format!("instance lock {id} is taken")))?;
        fs::rename(&pending, &lock_path)
            .map_err(|e| SandboxError::io(format!("rename {}", pending.display()), e))?;
        let dir = state.join(&id);
        fs::create_dir(&dir)
            .map_err(|e| SandboxError::io(format!("mkdir {}", dir.display()), e))?;
        sys::mount(
            Some(Path::new("tmpfs")),
            &dir,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some("size=1m,mode=0700"),
        )?;
        sys::mount(None, &dir, None, libc::MS_PRIVATE, None)?;
        let root = dir.join("root");
        let boxes = dir.join("boxes");
        for d in [&root, &boxes] {
            fs::create_dir(d).map_err(|e| SandboxError::io(format!("mkdir {}", d.display()), e))?;
        }
        let instance = Instance {
            id,
            dir,
            root,
            boxes,
            lock_path,
            _lock: lock,
        };
        build_template(&instance.root, config)?;
        Ok(instance)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = sys::unmount_tree(&self.dir);
        let _ = fs::remove_dir(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// The instance id a lock file belongs to, if `name` is one.
pub(crate) fn instance_of_lock(name: &str) -> Option<&str> {
    name.strip_suffix(".lock").filter(|id| id.starts_with('i'))
}

fn remove_stale_instances(state: &Path) {
    let Ok(entries) = fs::read_dir(state) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = instance_of_lock(&name.to_string_lossy()).map(str::to_owned) else {
            continue;
        };
        // A lock we can take belongs to a dead process.
        if let Ok(Some(_lock)) = sys::try_lock_existing(&entry.path()) {
            let dir = state.join(&id);
            let _ = sys::unmount_tree(&dir);
            let _ = fs::remove_dir(&dir);
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether an instance with this id is still alive (its lock file exists and is held).
pub(crate) fn instance_alive(state: &Path, id: &str) -> bool {
    matches!(
        sys::try_lock_existing(&state.join(format!("{id}.lock"))),
        Ok(None)
    )
}

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let context = format!("{what} {}", path.display());
    move |e| SandboxError::io(context, e)
}

fn mkdir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(io_err("mkdir", path))
}

/// Binds a host path read-only (and nosuid, nodev) onto `target`.
fn bind_read_only(source: &Path, target: &Path) -> Result<()> {
    sys::mount(
        Some(source),
        target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    sys::mount(
        None,
        target,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        None,
    )
}

/// Mirrors a host path into the template: symlinks are copied, directories and files
/// are bound read-only over an empty stand-in.
fn mirror(host: &Path, target: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(host) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if meta.file_type().is_symlink() {
        let link = fs::read_link(host).map_err(io_err("readlink", host))?;
        return symlink(&link, target).map_err(io_err("symlink", target));
    }
    if meta.is_dir() {
        mkdir(target)?;
    } else {
        fs::write(target, b"").map_err(io_err("create", target))?;
    }
    bind_read_only(host, target)
}

impl SandboxConfig {
    /// The bound host path that makes `path` readable inside every box, if any:
    /// a system directory, a curated /etc entry or one of `read_only_paths`.
    /// Give `path` canonical (symlinks resolved). Private data (the compile cache)
    /// must not live there.
    pub fn visible_in_boxes(&self, path: &Path) -> Option<PathBuf> {
        let system = SYSTEM_DIRS.iter().map(|d| Path::new("/").join(d));
        let etc = fs::read_dir("/etc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                self.etc_entries.iter().any(|p| glob_match(p, &name))
            })
            .map(|entry| entry.path());
        system
            .chain(etc)
            .chain(self.read_only_paths.iter().cloned())
            .find(|bound| path.starts_with(bound))
    }
}

/// Does `name` match `pattern`, where `*` stands for any run of characters?
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_match(rest, &tail[i..]))
        }
    }
}

/// The files of the curated /etc that are written, not bound from the host.
fn generated_etc() -> Vec<(&'static str, String)> {
    vec![
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\n\
                 box:x:{BOX_UID}:{BOX_UID}:box:/box:/bin/sh\n\
                 nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
            ),
        ),
        (
            "group",
            format!("root:x:0:\nbox:x:{BOX_UID}:\nnogroup:x:65534:\n"),
        ),
        ("hosts", "127.0.0.1 localhost box\n::1 localhost\n".into()),
        ("hostname", "box\n".into()),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files\n".into(),
        ),
        ("resolv.conf", String::new()),
    ]
}

fn build_template(root: &Path, config: &SandboxConfig) -> Result<()> {
    sys::mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        libc::MS_NOSUID,
        Some("size=4m,mode=0755"),
    )?;
    for name in SYSTEM_DIRS {
        mirror(&Path::new("/").join(name), &root.join(name))?;
    }
    for dir in ["box", "tmp", "proc", "dev", ".old", "etc"] {
        mkdir(&root.join(dir))?;
    }

    let etc = root.join("etc");
    for (name, content) in generated_etc() {
        let path = etc.join(name);
        fs::write(&path, content).map_err(io_err("write", &path))?;
    }
    let host_etc = fs::read_dir("/etc").map_err(io_err("read", Path::new("/etc")))?;
    let mut names: Vec<String> = host_etc
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        if config.etc_entries.iter().any(|p| glob_match(p, &name)) {
            mirror(&Path::new("/etc").join(&name), &etc.join(&name))?;
        }
    }

    let dev = root.join("dev");
    for (name, major, minor) in DEVICES {
        sys::mknod_char(&dev.join(name), major, minor)?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(name)).map_err(io_err("symlink", &dev.join(name)))?;
    }
    mkdir(&dev.join("shm"))?;

    for path in &config.read_only_paths {
        if !path.is_absolute() {
            return Err(SandboxError::InvalidPath {
                path: path.clone(),
                reason: "read-only paths must be absolute",
            });
        }
        let target = root.join(path.strip_prefix("/").unwrap_or(path));
        // Already visible through a system directory (or listed twice).
        if fs::symlink_metadata(&target).is_ok() {
            continue;
        }
        if let Some(parent) = target.parent() {
            mkdir(parent)?;
        }
        mirror(path, &target)?;
    }

    sys::mount(
        None,
        root,
        None,
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_paths_are_told_from_bound_ones() {
        let config = SandboxConfig::default();
        assert_eq!(
            config.visible_in_boxes(Path::new("/usr/lib/x")),
            Some(PathBuf::from("/usr"))
        );
        assert_eq!(
            config.visible_in_boxes(Path::new("/opt/codeexec/cache")),
            Some(PathBuf::from("/opt/codeexec"))
        );
        assert_eq!(
            config.visible_in_boxes(Path::new("/var/lib/codeexec")),
            None
        );
        assert_eq!(config.visible_in_boxes(Path::new("/usrx")), None);
    }

    #[test]
    fn glob_matches_stars_within_names() {
        assert!(glob_match("java-*-openjdk", "java-17-openjdk"));
        assert!(glob_match("ruby*", "ruby3.1"));
        assert!(glob_match("ssl", "ssl"));
        assert!(!glob_match("ssl", "ssl2"));
        assert!(!glob_match("java-*-openjdk", "java-17-openjdk-extra"));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn lock_names_map_to_instances() {
        assert_eq!(instance_of_lock("i123-abc.lock"), Some("i123-abc"));
        assert_eq!(instance_of_lock("uids"), None);
        assert_eq!(instance_of_lock("other.lock"), None);
    }
}
