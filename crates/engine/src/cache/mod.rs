//! The compile cache: identical compiles (same compiler and toolchain files, same
//! expanded compile commands, environment, sources and compile limits) run once.
//! The compiler's result and the working directory it left are kept on the host,
//! content-addressed, in a size-bounded directory that no box can see, and later
//! identical jobs start their run step from a copy of them. Running the program is
//! never cached.
//!
//! How the working directory leaves the box: the host never reads a box's files
//! after untrusted input went through it. Instead a trusted archiver from the
//! read-only root (GNU tar) runs in the box right after the compile and writes a
//! ustar stream to its stdout; the host parses that stream strictly (plain files
//! and directories only, see [`ustar`]) and refuses to cache anything else.
//! Entries are written by a thread of their own, off the request's path (until
//! then a pending entry is served from memory), to a temporary file renamed into
//! place (atomic), sealed with a checksum (a damaged entry is a miss, so no fsync
//! is needed: a crash can only leave entries that fail the check), and evicted
//! least recently used first when the cache outgrows its budget.

mod data;
mod entry;
mod key;
pub(crate) mod ustar;

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::SystemTime;

pub(crate) use data::{Data, Mapping};
pub(crate) use entry::Compiled;
pub(crate) use key::CacheKey;

/// The archiver run in a box after a compile (from the box's read-only root).
pub(crate) const ARCHIVER: &str = "/usr/bin/tar";

/// Where the cache lives and how big it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileCacheConfig {
    /// A host directory no box can see (made 0700 if missing).
    pub dir: PathBuf,
    /// Total size of all entries; the least recently used go first beyond it.
    pub max_bytes: u64,
    /// Compiles whose working directory archive is larger are not kept.
    pub max_entry_bytes: u64,
}

impl CompileCacheConfig {
    /// A 1 GiB cache in `dir`, entries up to 64 MiB.
    pub fn in_dir(dir: impl Into<PathBuf>) -> CompileCacheConfig {
        CompileCacheConfig {
            dir: dir.into(),
            max_bytes: 1 << 30,
            max_entry_bytes: 64 << 20,
        }
    }
}

/// Counters since the cache was opened, and its current size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub stores: u64,
    pub evictions: u64,
    /// Compiles that could not be kept (too big, links in the directory …).
    pub refused: u64,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot use {path} for the compile cache: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the compile cache needs GNU tar at {ARCHIVER} (Debian package `tar`)")]
    NoArchiver,
}

struct Slot {
    size: u64,
    /// Larger is more recent.
    used: u64,
}

#[derive(Default)]
struct Index {
    entries: HashMap<CacheKey, Slot>,
    total: u64,
    clock: u64,
}

impl Index {
    fn touch(&mut self, key: CacheKey, size: u64) {
        self.clock += 1;
        let slot = Slot {
            size,
            used: self.clock,
        };
        if let Some(old) = self.entries.insert(key, slot) {
            self.total -= old.size;
        }
        self.total += size;
    }

    fn forget(&mut self, key: &CacheKey) -> bool {
        match self.entries.remove(key) {
            Some(slot) => {
                self.total -= slot.size;
                true
            }
            None => false,
        }
    }
}

/// Entries handed to the writer and not yet on disk; bounded, so a slow disk
/// costs entries, never memory or latency.
const MAX_PENDING: usize = 4;

/// What the cache's users and its writer thread share.
struct Shared {
    config: CompileCacheConfig,
    index: Mutex<Index>,
    pending: Mutex<HashMap<CacheKey, Arc<Compiled>>>,
    /// Signalled whenever a pending entry is done with.
    written: Condvar,
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    evictions: AtomicU64,
    refused: AtomicU64,
    temp_counter: AtomicU64,
}

pub struct CompileCache {
    shared: Arc<Shared>,
    writer: Option<mpsc::SyncSender<(CacheKey, Arc<Compiled>)>>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Is `name` a temporary file of a process that no longer runs?
fn abandoned_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(".tmp-") else {
        return false;
    };
    let pid: i32 = rest
        .split('-')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: kill with signal 0 only checks whether the process exists.
    pid <= 0
        || (unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH))
}

impl CompileCache {
    /// Opens (creating) the cache directory, removes temporary files that dead
    /// processes left, indexes the entries by their last use, trims the cache to
    /// its budget and starts the writer thread.
    pub fn open(config: CompileCacheConfig) -> Result<CompileCache, CacheError> {
        if !Path::new(ARCHIVER).is_file() {
            return Err(CacheError::NoArchiver);
        }
        let dir = config.dir.clone();
        let io = |source| CacheError::Io {
            path: dir.clone(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.dir)
            .map_err(io)?;
        let mut found = Vec::new();
        for dirent in fs::read_dir(&config.dir).map_err(io)? {
            let dirent = dirent.map_err(io)?;
            let name = dirent.file_name().to_string_lossy().into_owned();
            if abandoned_temp(&name) {
                let _ = fs::remove_file(dirent.path());
                continue;
            }
            let (Some(key), Ok(meta)) = (CacheKey::from_hex(&name), dirent.metadata()) else {
                continue;
            };
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            found.push((used, key, meta.len()));
        }
        found.sort_by_key(|(used, _, _)| *used);
        let mut index = Index::default();
        for (_, key, size) in found {
            index.touch(key, size);
        }
        let shared = Arc::new(Shared {
            config,
            index: Mutex::new(index),
            pending: Mutex::new(HashMap::new()),
            written: Condvar::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stores: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
        });
        shared.trim(&mut lock(&shared.index));
        let (writer, queue) = mpsc::sync_channel::<(CacheKey, Arc<Compiled>)>(MAX_PENDING);
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("codeexec-cache-writer".into())
                .spawn(move || {
                    for (key, compiled) in queue {
                        shared.store(&key, &compiled);
                        lock(&shared.pending).remove(&key);
                        shared.written.notify_all();
                    }
                })
                .map_err(io)?
        };
        Ok(CompileCache {
            shared,
            writer: Some(writer),
            thread: Some(thread),
        })
    }

    pub fn config(&self) -> &CompileCacheConfig {
        &self.shared.config
    }

    pub fn stats(&self) -> CacheStats {
        let s = &self.shared;
        let index = lock(&s.index);
        CacheStats {
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            stores: s.stores.load(Ordering::Relaxed),
            evictions: s.evictions.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            entries: index.entries.len() as u64,
            bytes: index.total,
        }
    }

    /// Waits until every entry handed over so far is on disk (or dropped).
    pub fn flush(&self) {
        let mut pending = lock(&self.shared.pending);
        while !pending.is_empty() {
            pending = self
                .shared
                .written
                .wait(pending)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The entry for `key`, if one is kept (or being written) and intact.
    pub(crate) fn get(&self, key: &CacheKey) -> Option<Arc<Compiled>> {
        let s = &self.shared;
        if let Some(compiled) = lock(&s.pending).get(key).cloned() {
            s.hits.fetch_add(1, Ordering::Relaxed);
            return Some(compiled);
        }
        let path = s.path_of(key);
        let found = fs::File::open(&path)
            .and_then(|file| Mapping::of(&file))
            .ok()
            .and_then(|mapping| {
                let size = mapping.len() as u64;
                Some((entry::decode(key, Data::Mapped(mapping))?, size))
            });
        match found {
            Some((compiled, size)) => {
                s.hits.fetch_add(1, Ordering::Relaxed);
                // The file's mtime records the use, for the order after a restart.
                if let Ok(file) = fs::File::options().write(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
                // Another process sharing the directory may have written it.
                lock(&s.index).touch(*key, size);
                Some(Arc::new(compiled))
            }
            None => {
                s.misses.fetch_add(1, Ordering::Relaxed);
                if lock(&s.index).forget(key) {
                    // Damaged or removed behind our back.
                    let _ = fs::remove_file(&path);
                }
                None
            }
        }
    }

    /// Counts a compile that could not be kept.
    pub(crate) fn refuse(&self) {
        self.shared.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The largest working-directory archive worth reading out of a box.
    pub(crate) fn max_entry_bytes(&self) -> u64 {
        self.shared.config.max_entry_bytes
    }

    /// Hands `compiled` to the writer thread; until it is on disk, [`get`] serves
    /// it from memory. When the writer is behind, the entry is dropped instead.
    pub(crate) fn put(&self, key: &CacheKey, compiled: Compiled) {
        let compiled = Arc::new(compiled);
        let mut pending = lock(&self.shared.pending);
        let Some(writer) = &self.writer else { return };
        match writer.try_send((*key, compiled.clone())) {
            Ok(()) => {
                pending.insert(*key, compiled);
            }
            Err(_) => self.refuse(),
        }
    }
}

impl Drop for CompileCache {
    /// Finishes the writes already handed over, then stops the writer.
    fn drop(&mut self) {
        drop(self.writer.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn path_of(&self, key: &CacheKey) -> PathBuf {
        self.config.dir.join(key.hex())
    }

    /// Writes one entry to a temporary file and renames it into place; errors
    /// only cost the entry.
    fn store(&self, key: &CacheKey, compiled: &Compiled) {
        let temp = self.config.dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|file| {
                let mut out = BufWriter::with_capacity(256 << 10, file);
                let size = entry::write(&mut out, key, compiled)?;
                out.flush()?;
                Ok(size)
            });
        let size = match written {
            Ok(size) if size <= self.config.max_entry_bytes && size <= self.config.max_bytes => {
                size
            }
            _ => {
                let _ = fs::remove_file(&temp);
                self.refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if fs::rename(&temp, self.path_of(key)).is_err() {
            let _ = fs::remove_file(&temp);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.stores.fetch_add(1, Ordering::Relaxed);
        let mut index = lock(&self.index);
        index.touch(*key, size);
        self.trim(&mut index);
    }

    /// Removes the least recently used entries until the cache fits its budget.
    fn trim(&self, index: &mut Index) {
        while index.total > self.config.max_bytes {
            let Some((&key, _)) = index.entries.iter().min_by_key(|(_, slot)| slot.used) else {
                break;
            };
            index.forget(&key);
            let _ = fs::remove_file(self.path_of(&key));
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }
}
