//! One cache entry as bytes: the compile's result and the working directory it
//! left, sealed with a CRC-32 so that a damaged file reads as a miss.
//!
//! Layout: magic, key, then length-prefixed fields (little-endian), then the CRC of
//! everything before it. The seal is against damage (a crash between writing and
//! flushing, a bad disk), not against forgery: only the service's own user can
//! write the cache directory, and a fast checksum keeps hits on big binaries cheap.

use std::io::{self, Write};

use super::data::Data;
use super::key::CacheKey;
use super::ustar::Artefact;
use crate::result::StepResult;

const MAGIC: &[u8] = b"codeexec compile cache entry 2\n";

/// What a compile produced: its result and, when it succeeded, the working
/// directory the run starts from. File contents are ranges of `data`.
#[derive(Debug, PartialEq, Eq)]
pub struct Compiled {
    pub step: StepResult,
    pub artefacts: Vec<Artefact>,
    pub data: Data,
}

impl Compiled {
    /// A compile that left nothing to keep but its result (a compile error).
    pub fn result_only(step: StepResult) -> Compiled {
        Compiled {
            step,
            artefacts: Vec::new(),
            data: Data::Owned(Vec::new()),
        }
    }
}

/// Writes the entry for `compiled` to `out`, checksumming as it goes (file
/// contents are written straight from `compiled.data`). Returns the bytes written.
pub fn write(out: &mut impl Write, key: &CacheKey, compiled: &Compiled) -> io::Result<u64> {
    let mut w = Sealed {
        out,
        crc: crc32fast::Hasher::new(),
        written: 0,
    };
    w.raw(MAGIC)?;
    w.raw(&key.0)?;
    let step = &compiled.step;
    w.number(step.exit_code.map_or(u64::MAX, |c| c as u32 as u64))?;
    w.number(u64::from(step.stdout_truncated) | u64::from(step.stderr_truncated) << 1)?;
    w.number(step.wall_time_ms)?;
    w.number(step.cpu_time_ms)?;
    w.number(step.memory_kb.unwrap_or(u64::MAX))?;
    w.bytes(&step.stdout)?;
    w.bytes(&step.stderr)?;
    w.bytes(&step.merged)?;
    w.number(compiled.artefacts.len() as u64)?;
    for artefact in &compiled.artefacts {
        match artefact {
            Artefact::Dir { path } => {
                w.number(0)?;
                w.bytes(path.as_bytes())?;
            }
            Artefact::File {
                path,
                executable,
                content,
            } => {
                w.number(1 + u64::from(*executable))?;
                w.bytes(path.as_bytes())?;
                let bytes = compiled.data.get(content.clone()).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "content outside the data")
                })?;
                w.bytes(bytes)?;
            }
        }
    }
    let seal = w.crc.clone().finalize().to_le_bytes();
    w.out.write_all(&seal)?;
    Ok(w.written + seal.len() as u64)
}

/// The entry in `bytes`, if it is whole, sealed and made for `key`; its file
/// contents stay in `bytes` (which becomes the entry's data).
pub fn decode(key: &CacheKey, bytes: Data) -> Option<Compiled> {
    let body_len = bytes.len().checked_sub(4)?;
    let (body, seal) = bytes.split_at(body_len);
    if crc32fast::hash(body).to_le_bytes() != seal {
        return None;
    }
    let mut r = Reader { bytes: body, at: 0 };
    if r.take(MAGIC.len())? != MAGIC || r.take(32)? != key.0 {
        return None;
    }
    let exit_code = match r.number()? {
        u64::MAX => None,
        code => Some(code as u32 as i32),
    };
    let flags = r.number()?;
    let wall_time_ms = r.number()?;
    let cpu_time_ms = r.number()?;
    let memory_kb = match r.number()? {
        u64::MAX => None,
        kb => Some(kb),
    };
    let stdout = r.bytes()?.to_vec();
    let stderr = r.bytes()?.to_vec();
    let merged = r.bytes()?.to_vec();
    let count = r.number()?;
    let mut artefacts = Vec::new();
    for _ in 0..count {
        let kind = r.number()?;
        let path = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        artefacts.push(match kind {
            0 => Artefact::Dir { path },
            1 | 2 => Artefact::File {
                path,
                executable: kind == 2,
                content: r.range()?,
            },
            _ => return None,
        });
    }
    if r.at != body.len() {
        return None;
    }
    Some(Compiled {
        step: StepResult {
            exit_code,
            signal: None,
            limit: None,
            stdout,
            stderr,
            merged,
            stdout_truncated: flags & 1 != 0,
            stderr_truncated: flags & 2 != 0,
            wall_time_ms,
            cpu_time_ms,
            memory_kb,
            cached: false,
        },
        artefacts,
        data: bytes,
    })
}

/// A writer that checksums and counts what passes through.
struct Sealed<'a, W: Write> {
    out: &'a mut W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Sealed<'_, W> {
    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn number(&mut self, n: u64) -> io::Result<()> {
        self.raw(&n.to_le_bytes())
    }

    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.number(bytes.len() as u64)?;
        self.raw(bytes)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let range = self.at..self.at.checked_add(n)?;
        let slice = self.bytes.get(range.clone())?;
        self.at = range.end;
        Some(slice)
    }

    fn number(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A length-prefixed field, as the range it occupies.
    fn range(&mut self) -> Option<std::ops::Range<usize>> {
        let len = usize::try_from(self.number()?).ok()?;
        let start = self.at;
        self.take(len)?;
        Some(start..self.at)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let range = self.range()?;
        self.bytes.get(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Compiled {
        Compiled {
            step: StepResult {
                exit_code: Some(0),
                signal: None,
                limit: None,
                stdout: b"out".to_vec(),
                stderr: b"warning: x".to_vec(),
                merged: b"outwarning: x".to_vec(),
                stdout_truncated: false,
                stderr_truncated: true,
                wall_time_ms: 250,
                cpu_time_ms: 240,
                memory_kb: Some(51_200),
                cached: false,
            },
            artefacts: vec![
                Artefact::Dir { path: "d".into() },
                Artefact::File {
                    path: "prog.exe".into(),
                    executable: true,
                    content: 2..6,
                },
            ],
            data: Data::Owned(b"..\x7fELF..".to_vec()),
        }
    }

    fn encode(key: &CacheKey, compiled: &Compiled) -> Vec<u8> {
        let mut out = Vec::new();
        let n = write(&mut out, key, compiled).unwrap();
        assert_eq!(n, out.len() as u64);
        out
    }

    /// The entry's files as (path, executable, bytes).
    fn files(c: &Compiled) -> Vec<(String, bool, Vec<u8>)> {
        c.artefacts
            .iter()
            .filter_map(|a| match a {
                Artefact::File {
                    path,
                    executable,
                    content,
                } => Some((path.clone(), *executable, c.data[content.clone()].to_vec())),
                Artefact::Dir { .. } => None,
            })
            .collect()
    }

    #[test]
    fn entries_round_trip() {
        let key = CacheKey([3; 32]);
        let back = decode(&key, Data::Owned(encode(&key, &sample()))).unwrap();
        assert_eq!(back.step, sample().step);
        assert_eq!(
            files(&back),
            vec![("prog.exe".into(), true, b"\x7fELF".to_vec())]
        );
        assert_eq!(back.artefacts[0], Artefact::Dir { path: "d".into() });
    }

    #[test]
    fn damaged_or_foreign_entries_read_as_misses() {
        let key = CacheKey([3; 32]);
        let bytes = encode(&key, &sample());
        assert_eq!(decode(&CacheKey([4; 32]), Data::Owned(bytes.clone())), None);
        for i in [0, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1;
            assert_eq!(decode(&key, Data::Owned(flipped)), None, "byte {i}");
        }
        assert_eq!(
            decode(&key, Data::Owned(bytes[..bytes.len() - 5].to_vec())),
            None
        );
        assert_eq!(decode(&key, Data::Owned(Vec::new())), None);
    }
}
