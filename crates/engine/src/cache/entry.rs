//! One cache entry as bytes: the compile's result and the working directory it
//! left, sealed with a SHA-256 so that a damaged file reads as a miss.
//!
//! Layout: magic, key, then length-prefixed fields (little-endian), then the hash
//! of everything before it.

use sha2::{Digest, Sha256};

use super::key::CacheKey;
use super::ustar::Artefact;
use crate::result::StepResult;

const MAGIC: &[u8] = b"codeexec compile cache entry 1\n";

/// What a compile produced: its result and, when it succeeded, the working
/// directory the run starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub step: StepResult,
    pub artefacts: Vec<Artefact>,
}

pub fn encode(key: &CacheKey, compiled: &Compiled) -> Vec<u8> {
    let mut out = Writer(Vec::new());
    out.0.extend_from_slice(MAGIC);
    out.0.extend_from_slice(&key.0);
    let step = &compiled.step;
    out.number(step.exit_code.map_or(u64::MAX, |c| c as u32 as u64));
    out.number(u64::from(step.stdout_truncated) | u64::from(step.stderr_truncated) << 1);
    out.number(step.wall_time_ms);
    out.number(step.cpu_time_ms);
    out.number(step.memory_kb.unwrap_or(u64::MAX));
    out.bytes(&step.stdout);
    out.bytes(&step.stderr);
    out.bytes(&step.merged);
    out.number(compiled.artefacts.len() as u64);
    for artefact in &compiled.artefacts {
        match artefact {
            Artefact::Dir { path } => {
                out.number(0);
                out.bytes(path.as_bytes());
            }
            Artefact::File {
                path,
                executable,
                content,
            } => {
                out.number(1 + u64::from(*executable));
                out.bytes(path.as_bytes());
                out.bytes(content);
            }
        }
    }
    let seal = Sha256::digest(&out.0);
    out.0.extend_from_slice(&seal);
    out.0
}

/// The entry in `bytes`, if it is whole, sealed and made for `key`.
pub fn decode(key: &CacheKey, bytes: &[u8]) -> Option<Compiled> {
    let (body, seal) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if Sha256::digest(body).as_slice() != seal {
        return None;
    }
    let mut r = Reader(body);
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
                content: r.bytes()?.to_vec(),
            },
            _ => return None,
        });
    }
    if !r.0.is_empty() {
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
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn number(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.number(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn number(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.number()?).ok()?;
        self.take(len)
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
                    content: vec![0x7f, b'E', b'L', b'F'],
                },
            ],
        }
    }

    #[test]
    fn entries_round_trip() {
        let key = CacheKey([3; 32]);
        let bytes = encode(&key, &sample());
        assert_eq!(decode(&key, &bytes), Some(sample()));
    }

    #[test]
    fn damaged_or_foreign_entries_read_as_misses() {
        let key = CacheKey([3; 32]);
        let bytes = encode(&key, &sample());
        assert_eq!(decode(&CacheKey([4; 32]), &bytes), None);
        for i in [0, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1;
            assert_eq!(decode(&key, &flipped), None, "byte {i}");
        }
        assert_eq!(decode(&key, &bytes[..bytes.len() - 5]), None);
        assert_eq!(decode(&key, b""), None);
    }
}
