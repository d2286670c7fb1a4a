//! API key secrets and permlink ids: made from the operating system's random source.
//!
//! ## Why SHA-256 and not a slow password hash
//! A key secret is 32 bytes from the OS random generator (256 bits). Slow KDFs (argon2,
//! bcrypt, scrypt) exist because human passwords are guessable, so each guess must be made
//! expensive. Nobody can enumerate 2^224 candidates (the 32 bits of the shown prefix
//! aside) however fast one hash is, so a leaked database yields no secrets, and a fast hash
//! lets every request look its key up cheaply through an index.
//!
//! ## Why no constant-time comparison
//! A key is found by `WHERE secret_hash = ?`, never by comparing a secret byte by byte. What
//! a timing side channel could leak is how much of the *hash* of a guess matched a stored
//! hash, and steering a guess toward a chosen hash prefix is a preimage search on SHA-256.

use sha2::{Digest, Sha256};

use crate::error::Result;

/// What every secret starts with, so it is recognisable (and greppable by secret scanners).
pub const SECRET_PREFIX: &str = "cx_live_";
/// Random bytes in a secret; hex-encoded after [`SECRET_PREFIX`].
const SECRET_RANDOM_BYTES: usize = 32;
/// How many characters after [`SECRET_PREFIX`] are kept in clear as the key's prefix.
pub const KEY_PREFIX_LEN: usize = 8;

/// Characters in a permlink id made by [`new_permlink_id`] (62^22 ≈ 2^131 possibilities).
pub const PERMLINK_ID_LEN: usize = 22;
/// The shortest id [`crate::Store::save_permlink`] accepts.
pub const PERMLINK_ID_MIN_LEN: usize = 16;
const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A freshly made secret: the text to show once, and what is stored instead of it.
pub(crate) struct NewSecret {
    pub secret: String,
    pub prefix: String,
    pub hash: String,
}

/// `cx_live_` followed by 64 hex digits of fresh randomness.
pub(crate) fn new_secret() -> Result<NewSecret> {
    let mut bytes = [0u8; SECRET_RANDOM_BYTES];
    getrandom::fill(&mut bytes)?;
    let body = hex(&bytes);
    let secret = format!("{SECRET_PREFIX}{body}");
    Ok(NewSecret {
        prefix: body[..KEY_PREFIX_LEN].to_owned(),
        hash: hash_secret(&secret),
        secret,
    })
}

/// What is stored for a secret: SHA-256 of its full text, lower-case hex.
pub(crate) fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// A new unguessable permlink id: [`PERMLINK_ID_LEN`] characters from `[A-Za-z0-9]`,
/// uniformly distributed.
pub fn new_permlink_id() -> Result<String> {
    let mut id = String::with_capacity(PERMLINK_ID_LEN);
    let mut buf = [0u8; 32];
    while id.len() < PERMLINK_ID_LEN {
        getrandom::fill(&mut buf)?;
        // Rejection sampling: 248 = 4 * 62, so bytes below it map onto the alphabet evenly;
        // plain `b % 62` would favour the first 8 characters.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if id.len() == PERMLINK_ID_LEN {
                break;
            }
            id.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
        }
    }
    Ok(id)
}

/// Whether `id` could be a permlink id: at least [`PERMLINK_ID_MIN_LEN`] characters, all
/// ASCII letters or digits (so it is safe in a URL path as is).
pub fn is_valid_permlink_id(id: &str) -> bool {
    id.len() >= PERMLINK_ID_MIN_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn secrets_have_the_documented_shape() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a.secret, b.secret);
        for s in [&a, &b] {
            let body = s.secret.strip_prefix(SECRET_PREFIX).expect("prefix");
            assert_eq!(body.len(), 64);
            assert!(body.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
            assert_eq!(s.prefix, body[..8]);
            assert_eq!(s.hash, hash_secret(&s.secret));
            assert!(!s.hash.contains(body));
        }
    }

    #[test]
    fn hash_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn permlink_ids_are_unique_alphanumeric_and_use_the_whole_alphabet() {
        let ids: Vec<String> = (0..10_000).map(|_| new_permlink_id().unwrap()).collect();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        let mut counts = std::collections::HashMap::new();
        for id in &ids {
            assert_eq!(id.len(), PERMLINK_ID_LEN);
            assert!(is_valid_permlink_id(id), "{id}");
            for b in id.bytes() {
                *counts.entry(b).or_insert(0u32) += 1;
            }
        }
        // 220,000 characters drawn: every one of the 62 must have come up, about 3,548
        // times each (sd ≈ 60). A plain `byte % 62` would draw 8 of them 25% more often.
        assert_eq!(counts.len(), 62);
        let max = f64::from(*counts.values().max().unwrap());
        let min = f64::from(*counts.values().min().unwrap());
        assert!(max / min < 1.15, "skewed: min {min}, max {max}");
    }

    #[test]
    fn permlink_id_validation() {
        assert!(is_valid_permlink_id("abcdefghABCDEFGH"));
        assert!(!is_valid_permlink_id("abcdefghABCDEFG"), "15 chars");
        assert!(!is_valid_permlink_id("abcdefgh/../ABCDEFGH"));
        assert!(!is_valid_permlink_id("abcdefghABCDEFGHé"));
        assert!(!is_valid_permlink_id(""));
    }
}
