//! Per-key request rate, in memory: a token bucket per key that holds up to one
//! second's worth of requests and refills continuously at the plan's rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before full (idle) ones are dropped.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// What a check decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Let through; `remaining` requests may follow at once, and the bucket is full
    /// again after `reset_secs`.
    Allowed {
        limit: u32,
        remaining: u32,
        reset_secs: u64,
    },
    /// Refused; a token is back after `retry_after_secs` (at least 1).
    Limited { limit: u32, retry_after_secs: u64 },
}

/// The buckets of every key that called recently.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<i64, Bucket>>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// Takes one token from `key`'s bucket if it has one. A `rate` of 0 means no limit.
    pub fn check(&self, key: i64, rate: u32, now: Instant) -> Decision {
        if rate == 0 {
            return Decision::Allowed {
                limit: 0,
                remaining: u32::MAX,
                reset_secs: 0,
            };
        }
        let capacity = f64::from(rate);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * capacity
                    < capacity
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * capacity).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision::Allowed {
                limit: rate,
                remaining: bucket.tokens.floor() as u32,
                reset_secs: ((capacity - bucket.tokens) / capacity).ceil() as u64,
            }
        } else {
            Decision::Limited {
                limit: rate,
                retry_after_secs: (((1.0 - bucket.tokens) / capacity).ceil() as u64).max(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_the_rate_then_refusal_then_refill() {
        let rl = RateLimiter::new();
        let t = Instant::now();
        for left in (0..2).rev() {
            match rl.check(7, 2, t) {
                Decision::Allowed { remaining, .. } => assert_eq!(remaining, left),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            rl.check(7, 2, t),
            Decision::Limited {
                limit: 2,
                retry_after_secs: 1
            }
        );
        // Another key is not affected.
        assert!(matches!(rl.check(8, 2, t), Decision::Allowed { .. }));
        // Half a second later one token is back.
        let later = t + Duration::from_millis(500);
        assert!(matches!(rl.check(7, 2, later), Decision::Allowed { .. }));
        assert!(matches!(rl.check(7, 2, later), Decision::Limited { .. }));
        assert!(matches!(rl.check(7, 0, later), Decision::Allowed { .. }));
    }
}
