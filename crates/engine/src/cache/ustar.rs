//! Reads the ustar stream a box's archiver wrote to its stdout: the working
//! directory after a compile, as plain files and directories.
//!
//! The stream comes out of a box whose compiler ran on untrusted input, so it is
//! checked strictly: only regular files and directories with plain relative names
//! are accepted. Anything else (links, devices, FIFOs, `..`, absolute names, sizes
//! past the end) makes the whole archive unusable, and the compile is not cached.

use std::ops::Range;
use std::path::{Component, Path};

/// One entry of the working directory. A file's content is a range of the buffer
/// it was read from (the archive, or a cache entry), so big binaries are not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artefact {
    Dir {
        path: String,
    },
    File {
        path: String,
        executable: bool,
        content: Range<usize>,
    },
}

impl Artefact {
    pub fn path(&self) -> &str {
        match self {
            Artefact::Dir { path } | Artefact::File { path, .. } => path,
        }
    }
}

/// Why an archive cannot be cached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("the archive ends inside a header or a file")]
    Truncated,
    #[error("a header's checksum does not match")]
    Checksum,
    #[error("a header field is not an octal number")]
    Number,
    #[error("`{0}` is not a plain relative name")]
    Name(String),
    #[error("`{path}` is a kind of entry the cache does not keep ({kind})")]
    Kind { path: String, kind: char },
}

const BLOCK: usize = 512;

/// Parses a whole ustar archive (as GNU tar writes with `--format=ustar`); file
/// contents are ranges of `archive`.
pub fn read(archive: &[u8]) -> Result<Vec<Artefact>, ArchiveError> {
    let mut entries = Vec::new();
    let mut at = 0;
    loop {
        let header = archive.get(at..at + BLOCK).ok_or(ArchiveError::Truncated)?;
        if header.iter().all(|&b| b == 0) {
            // Two zero blocks end the archive; one is enough to know we are done.
            return Ok(entries);
        }
        verify_checksum(header)?;
        let size = usize::try_from(octal(&header[124..136])?).map_err(|_| ArchiveError::Number)?;
        let mode = octal(&header[100..108])?;
        let path = name_of(header)?;
        at += BLOCK;
        let kind = header[156];
        match kind {
            b'0' | 0 => {
                let end = at.checked_add(size).ok_or(ArchiveError::Truncated)?;
                if end > archive.len() {
                    return Err(ArchiveError::Truncated);
                }
                entries.push(Artefact::File {
                    path,
                    executable: mode & 0o111 != 0,
                    content: at..end,
                });
                at = end.div_ceil(BLOCK) * BLOCK;
            }
            b'5' => {
                if !path.is_empty() {
                    entries.push(Artefact::Dir { path });
                }
            }
            other => {
                return Err(ArchiveError::Kind {
                    path,
                    kind: char::from(other),
                })
            }
        }
    }
}

/// The entry's name (ustar prefix + name), without GNU tar's leading `./` or a
/// directory's trailing `/`; empty for the archive's root.
fn name_of(header: &[u8]) -> Result<String, ArchiveError> {
    let field = |range: std::ops::Range<usize>| {
        let bytes = &header[range];
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        &bytes[..end]
    };
    let name = field(0..100);
    let prefix = if &header[257..263] == b"ustar\0" {
        field(345..500)
    } else {
        &[][..]
    };
    let mut full = Vec::with_capacity(prefix.len() + 1 + name.len());
    if !prefix.is_empty() {
        full.extend_from_slice(prefix);
        full.push(b'/');
    }
    full.extend_from_slice(name);
    let text = String::from_utf8(full)
        .map_err(|e| ArchiveError::Name(String::from_utf8_lossy(e.as_bytes()).into_owned()))?;
    let trimmed = text.trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(String::new());
    }
    let plain = Path::new(trimmed)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !plain || trimmed.contains('\\') {
        return Err(ArchiveError::Name(text));
    }
    Ok(trimmed.to_string())
}

/// A NUL- or space-terminated octal field.
fn octal(field: &[u8]) -> Result<u64, ArchiveError> {
    let digits: &[u8] = {
        let start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
        let rest = &field[start..];
        let end = rest
            .iter()
            .position(|&b| b == 0 || b == b' ')
            .unwrap_or(rest.len());
        &rest[..end]
    };
    if digits.is_empty() {
        return Ok(0);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !(b'0'..=b'7').contains(&d) {
            return Err(ArchiveError::Number);
        }
        n.checked_mul(8)
            .map(|n| n + u64::from(d - b'0'))
            .ok_or(ArchiveError::Number)
    })
}

/// The sum of a header's bytes with its checksum field counted as spaces.
fn header_sum(header: &[u8]) -> u64 {
    header
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum()
}

fn verify_checksum(header: &[u8]) -> Result<(), ArchiveError> {
    if header_sum(header) == octal(&header[148..156])? {
        Ok(())
    } else {
        Err(ArchiveError::Checksum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header as GNU tar writes it.
    fn header(name: &str, mode: u32, size: usize, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(format!("{mode:07o}\0").as_bytes());
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        seal(&mut h);
        h
    }

    /// Writes the checksum field as GNU tar does.
    fn seal(h: &mut [u8]) {
        let sum = header_sum(h);
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    fn file(name: &str, mode: u32, content: &[u8]) -> Vec<u8> {
        let mut out = header(name, mode, content.len(), b'0');
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    fn end() -> Vec<u8> {
        vec![0u8; 2 * BLOCK]
    }

    #[test]
    fn files_and_directories_are_read_with_their_modes() {
        let archive = [
            header("./", 0o755, 0, b'5'),
            file("./prog.exe", 0o755, b"\x7fELF binary"),
            header("./pkg/", 0o755, 0, b'5'),
            file("./pkg/Main.class", 0o644, &[7u8; 700]),
            end(),
        ]
        .concat();
        let entries = read(&archive).unwrap();
        let contents: Vec<(&str, bool, &[u8])> = entries
            .iter()
            .map(|e| match e {
                Artefact::Dir { path } => (path.as_str(), false, &b"(dir)"[..]),
                Artefact::File {
                    path,
                    executable,
                    content,
                } => (path.as_str(), *executable, &archive[content.clone()]),
            })
            .collect();
        assert_eq!(
            contents,
            vec![
                ("prog.exe", true, &b"\x7fELF binary"[..]),
                ("pkg", false, &b"(dir)"[..]),
                ("pkg/Main.class", false, &[7u8; 700][..]),
            ]
        );
    }

    #[test]
    fn links_and_special_files_make_the_archive_unusable() {
        for kind in [b'1', b'2', b'3', b'4', b'6', b'x', b'g', b'L'] {
            let archive = [header("./evil", 0o777, 0, kind), end()].concat();
            assert!(
                matches!(read(&archive), Err(ArchiveError::Kind { .. })),
                "kind {}",
                char::from(kind)
            );
        }
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        for name in ["../x", "/etc/passwd", "a/../../b", "./a/./b\\c"] {
            let archive = [file(name, 0o644, b"x"), end()].concat();
            assert!(
                matches!(read(&archive), Err(ArchiveError::Name(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn damaged_archives_are_refused() {
        let good = [file("./a", 0o644, &[1u8; 600]), end()].concat();
        assert!(read(&good).is_ok());
        assert_eq!(read(&good[..700]), Err(ArchiveError::Truncated));
        assert_eq!(read(&good[..100]), Err(ArchiveError::Truncated));
        let mut bad_sum = good.clone();
        bad_sum[0] = b'b';
        assert_eq!(read(&bad_sum), Err(ArchiveError::Checksum));
        // A size pointing far past the end.
        let mut huge = header("./a", 0o644, 0, b'0');
        huge[124..136].copy_from_slice(b"77777777777\0");
        seal(&mut huge);
        assert_eq!(read(&[huge, end()].concat()), Err(ArchiveError::Truncated));
        assert_eq!(read(&[]), Err(ArchiveError::Truncated));
    }
}
