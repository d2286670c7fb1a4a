//! The bytes behind a cache entry's files: in memory, or a read-only mapping of
//! a file (the archiver's memory file, or an entry on disk). Mapping instead of
//! reading spares the copy into fresh memory, which on a VM costs more than the
//! copy itself (every new page is faulted in and zeroed): ≈ 7 ms for a 12 MB Rust
//! binary on the bench machine.

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;

#[derive(Debug)]
pub enum Data {
    Owned(Vec<u8>),
    Mapped(Mapping),
}

impl Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Data::Owned(bytes) => bytes,
            Data::Mapped(mapping) => mapping,
        }
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        **self == **other
    }
}

impl Eq for Data {}

/// A private read-only mapping of a whole file, unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; sharing `&[u8]`
// views of it between threads is as safe as sharing a `Vec<u8>`'s.
unsafe impl Send for Mapping {}
// SAFETY: as above; nothing mutates the mapping through `&Mapping`.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `file` as it is now. The caller guarantees that nobody changes the
    /// file's size or contents while the mapping lives: an archiver's memory file
    /// after every process of its box is gone, or a cache entry, which this
    /// service only ever creates by rename and removes by unlink.
    pub fn of(file: &File) -> io::Result<Mapping> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large to map"))?;
        if len == 0 {
            return Ok(Mapping {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh private read-only mapping of a descriptor we hold; the
        // kernel picks the address. See the guarantee above for its contents.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }
}

impl Deref for Mapping {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes until drop (see `of`).
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the region `of` mapped, once.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_mapped_file_reads_as_its_bytes() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"compiled bytes").unwrap();
        let mapped = Data::Mapped(Mapping::of(&file).unwrap());
        assert_eq!(&*mapped, b"compiled bytes");
        assert_eq!(mapped, Data::Owned(b"compiled bytes".to_vec()));
        let empty = Mapping::of(&tempfile::tempfile().unwrap()).unwrap();
        assert!(empty.is_empty());
    }
}
