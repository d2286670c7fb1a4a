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
//! Entries are written to a temporary file and renamed into place (atomic), sealed
//! with a hash (a damaged entry is a miss), and evicted least recently used first
//! when the cache outgrows its budget.

mod entry;
mod key;
pub(crate) mod ustar;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

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

pub struct CompileCache {
    config: CompileCacheConfig,
    index: Mutex<Index>,
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    evictions: AtomicU64,
    refused: AtomicU64,
    temp_counter: AtomicU64,
}

impl CompileCache {
    /// Opens (creating) the cache directory, removes temporary files a crashed
    /// process left, indexes the entries by their last use, and trims the cache to
    /// its budget.
    pub fn open(config: CompileCacheConfig) -> Result<CompileCache, CacheError> {
        if !Path::new(ARCHIVER).is_file() {
            return Err(CacheError::NoArchiver);
        }
        let io = |source| CacheError::Io {
            path: config.dir.clone(),
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
            if name.starts_with(".tmp-") {
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
            index.clock += 1;
            index.total += size;
            index.entries.insert(
                key,
                Slot {
                    size,
                    used: index.clock,
                },
            );
        }
        let cache = CompileCache {
            config,
            index: Mutex::new(index),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stores: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            temp_counter: AtomicU64::new(0),
        };
        cache.trim(&mut cache.index.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(cache)
    }

    pub fn config(&self) -> &CompileCacheConfig {
        &self.config
    }

    pub fn stats(&self) -> CacheStats {
        let index = self.lock();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            stores: self.stores.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            entries: index.entries.len() as u64,
            bytes: index.total,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path_of(&self, key: &CacheKey) -> PathBuf {
        self.config.dir.join(key.hex())
    }

    /// The entry for `key`, if one is kept and intact.
    pub(crate) fn get(&self, key: &CacheKey) -> Option<Compiled> {
        let path = self.path_of(key);
        let found = fs::read(&path)
            .ok()
            .and_then(|bytes| Some((entry::decode(key, &bytes)?, bytes.len() as u64)));
        if found.is_some() {
            // The file's mtime records the use, for the order after a restart.
            if let Ok(file) = fs::File::options().write(true).open(&path) {
                let _ = file.set_modified(SystemTime::now());
            }
        }
        let mut index = self.lock();
        match found {
            Some((compiled, size)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                index.clock += 1;
                let used = index.clock;
                // Another process sharing the directory may have written it.
                if let Some(old) = index.entries.insert(*key, Slot { size, used }) {
                    index.total -= old.size;
                }
                index.total += size;
                Some(compiled)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                if let Some(slot) = index.entries.remove(key) {
                    // Damaged or removed behind our back: forget it.
                    index.total -= slot.size;
                    let _ = fs::remove_file(&path);
                }
                None
            }
        }
    }

    /// Counts a compile that could not be kept.
    pub(crate) fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The largest working-directory archive worth reading out of a box.
    pub(crate) fn max_entry_bytes(&self) -> u64 {
        self.config.max_entry_bytes
    }

    /// Keeps `compiled` under `key`: written to a temporary file, synced, renamed
    /// into place. Errors only cost the entry.
    pub(crate) fn put(&self, key: &CacheKey, compiled: &Compiled) {
        let bytes = entry::encode(key, compiled);
        let size = bytes.len() as u64;
        if size > self.config.max_entry_bytes || size > self.config.max_bytes {
            self.refuse();
            return;
        }
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
            .and_then(|mut file| {
                file.write_all(&bytes)?;
                file.sync_data()
            })
            .and_then(|()| fs::rename(&temp, self.path_of(key)));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
            self.refuse();
            return;
        }
        self.stores.fetch_add(1, Ordering::Relaxed);
        let mut index = self.lock();
        index.clock += 1;
        let used = index.clock;
        if let Some(old) = index.entries.insert(*key, Slot { size, used }) {
            index.total -= old.size;
        }
        index.total += size;
        self.trim(&mut index);
    }

    /// Removes the least recently used entries until the cache fits its budget.
    fn trim(&self, index: &mut Index) {
        while index.total > self.config.max_bytes {
            let Some((&key, _)) = index.entries.iter().min_by_key(|(_, slot)| slot.used) else {
                break;
            };
            let slot = index.entries.remove(&key).expect("the key was just found");
            index.total -= slot.size;
            let _ = fs::remove_file(self.path_of(&key));
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }
}
