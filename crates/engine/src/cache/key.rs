//! The cache key: a SHA-256 of everything that can change what a compile produces.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use sha2::{Digest, Sha256};

use crate::job::Job;

/// Changes whenever the key's inputs or the entry format change, so older entries
/// simply stop matching.
const KEY_VERSION: &[u8] = b"codeexec compile cache key 1";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    /// The key of `job`'s compile steps run with `env`:
    /// - the compiler (public name, catalogue id, detected version) and, for each
    ///   step, the program's host file identity (device, inode, size, mtime), so an
    ///   upgraded toolchain never reuses an older artefact;
    /// - every compile step's expanded argv (switches and raw options included);
    /// - the environment of the steps;
    /// - every source file's name and bytes, in order;
    /// - the compile limits that can turn a success into a compiler's own error
    ///   (memory, processes, open files, file size, disk).
    ///
    /// Every field is length-prefixed, so no two different inputs share an encoding.
    pub fn of(job: &Job, env: &[(OsString, OsString)]) -> CacheKey {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        field(KEY_VERSION);
        let recipe = &job.recipe;
        field(recipe.compiler.as_bytes());
        field(recipe.compiler_id.as_bytes());
        field(recipe.version.as_bytes());
        field(&(recipe.compile.len() as u64).to_le_bytes());
        for argv in &recipe.compile {
            field(&program_identity(argv.first().map_or("", String::as_str)));
            field(&(argv.len() as u64).to_le_bytes());
            for arg in argv {
                field(arg.as_bytes());
            }
        }
        field(&(env.len() as u64).to_le_bytes());
        for (key, value) in env {
            field(key.as_bytes());
            field(value.as_bytes());
        }
        field(&(job.files.len() as u64).to_le_bytes());
        for file in &job.files {
            field(file.name.as_bytes());
            field(&file.content);
        }
        let l = &job.limits;
        for n in [
            l.compile_memory_bytes,
            u64::from(l.processes),
            l.open_files,
            l.file_size_bytes,
            l.disk_bytes,
            l.output_bytes as u64,
        ] {
            field(&n.to_le_bytes());
        }
        CacheKey(hash.finalize().into())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key a file name (as [`hex`](Self::hex) writes it) stands for.
    pub fn from_hex(name: &str) -> Option<CacheKey> {
        if name.len() != 64 {
            return None;
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(name.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(CacheKey(key))
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.hex())
    }
}

/// The host file behind a compile step's program (symlinks followed); empty when
/// it cannot be read (the step will fail anyway, and failures of that kind are
/// never stored).
fn program_identity(program: &str) -> Vec<u8> {
    match std::fs::metadata(program) {
        Ok(meta) => [
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
        ]
        .iter()
        .flat_map(|n| n.to_le_bytes())
        .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_names_round_trip() {
        let key = CacheKey([0xab; 32]);
        assert_eq!(CacheKey::from_hex(&key.hex()), Some(key));
        assert_eq!(CacheKey::from_hex("ab"), None);
        assert_eq!(CacheKey::from_hex(&"zz".repeat(32)), None);
    }
}
