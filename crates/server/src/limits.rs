//! The limits a job runs under: the catalogue's for its compiler, lowered to the
//! server's caps, then to what the request asked for. A request can only lower them.

use std::time::Duration;

use codeexec_engine::JobLimits;

use crate::config::LimitCaps;
use crate::error::ApiError;
use crate::run_request::RequestedLimits;

/// One limit: its value now (in the request's unit), the server's cap, the request's.
fn lower(
    field: &'static str,
    current: u64,
    cap: Option<u64>,
    requested: Option<u64>,
) -> Result<u64, ApiError> {
    let max = cap.map_or(current, |c| c.min(current));
    match requested {
        Some(given) if given > max => Err(ApiError::LimitAboveMax { field, given, max }),
        Some(given) => Ok(given),
        None => Ok(max),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Applies `caps` and then `requested` to `limits`.
pub fn apply(
    limits: &mut JobLimits,
    requested: &RequestedLimits,
    caps: &LimitCaps,
) -> Result<(), ApiError> {
    let run_wall = lower(
        "time_limit_ms",
        millis(limits.run_wall),
        caps.run_time_ms,
        requested.time_limit_ms,
    )?;
    let run_cpu = lower(
        "cpu_time_limit_ms",
        millis(limits.run_cpu),
        caps.cpu_time_ms,
        requested.cpu_time_limit_ms,
    )?;
    let old_compile = millis(limits.compile_wall).max(1);
    let compile_wall = lower(
        "compile_time_limit_ms",
        old_compile,
        caps.compile_time_ms,
        requested.compile_time_limit_ms,
    )?;
    let memory_mb = lower(
        "memory_limit_mb",
        limits.memory_bytes >> 20,
        caps.memory_mb,
        requested.memory_limit_mb,
    )?;
    let min_mb = codeexec_sandbox::MIN_MEMORY_BYTES >> 20;
    if memory_mb < min_mb {
        return Err(ApiError::LimitBelowMin {
            field: "memory_limit_mb",
            given: memory_mb,
            min: min_mb,
        });
    }
    let output_kb = lower(
        "output_limit_kb",
        (limits.output_bytes >> 10) as u64,
        caps.output_kb,
        requested.output_limit_kb,
    )?;
    // The compile step's CPU allowance keeps its ratio to its wall clock (threads).
    let cpu_ratio = (millis(limits.compile_cpu) / old_compile).max(1);
    limits.run_wall = Duration::from_millis(run_wall);
    limits.run_cpu = Duration::from_millis(run_cpu);
    limits.compile_wall = Duration::from_millis(compile_wall);
    limits.compile_cpu = Duration::from_millis(compile_wall.saturating_mul(cpu_ratio));
    // A request's memory limit is the program's; the compile step keeps the
    // catalogue's (compilers need their own), under the server's cap.
    limits.memory_bytes = memory_mb << 20;
    if let Some(cap) = caps.memory_mb {
        limits.compile_memory_bytes = limits.compile_memory_bytes.min(cap << 20);
    }
    limits.output_bytes = usize::try_from(output_kb << 10).unwrap_or(usize::MAX);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> JobLimits {
        JobLimits {
            compile_wall: Duration::from_secs(30),
            compile_cpu: Duration::from_secs(60),
            run_wall: Duration::from_secs(10),
            run_cpu: Duration::from_secs(10),
            memory_bytes: 512 << 20,
            compile_memory_bytes: 512 << 20,
            processes: 64,
            open_files: 256,
            file_size_bytes: 20 << 20,
            output_bytes: 128 << 10,
            disk_bytes: 256 << 20,
        }
    }

    #[test]
    fn requests_lower_and_caps_bind() {
        let mut l = base();
        let req = RequestedLimits {
            time_limit_ms: Some(500),
            compile_time_limit_ms: Some(5_000),
            memory_limit_mb: Some(64),
            ..RequestedLimits::default()
        };
        let caps = LimitCaps {
            output_kb: Some(16),
            ..LimitCaps::default()
        };
        apply(&mut l, &req, &caps).unwrap();
        assert_eq!(l.run_wall, Duration::from_millis(500));
        assert_eq!(l.run_cpu, Duration::from_secs(10));
        assert_eq!(l.compile_wall, Duration::from_secs(5));
        assert_eq!(l.compile_cpu, Duration::from_secs(10));
        assert_eq!(l.memory_bytes, 64 << 20);
        assert_eq!(l.output_bytes, 16 << 10);
    }

    #[test]
    fn above_the_maximum_is_refused_with_the_field() {
        let caps = LimitCaps {
            run_time_ms: Some(2_000),
            ..LimitCaps::default()
        };
        let req = RequestedLimits {
            time_limit_ms: Some(3_000),
            ..RequestedLimits::default()
        };
        let e = apply(&mut base(), &req, &caps).unwrap_err();
        assert_eq!(e.field().as_deref(), Some("time_limit_ms"));
        assert!(e.to_string().contains("maximum of 2000"), "{e}");
        let req = RequestedLimits {
            memory_limit_mb: Some(513),
            ..RequestedLimits::default()
        };
        assert!(apply(&mut base(), &req, &LimitCaps::default()).is_err());
    }

    #[test]
    fn below_the_sandbox_minimum_is_refused_with_the_field() {
        let req = RequestedLimits {
            memory_limit_mb: Some(2),
            ..RequestedLimits::default()
        };
        let e = apply(&mut base(), &req, &LimitCaps::default()).unwrap_err();
        assert_eq!(e.field().as_deref(), Some("memory_limit_mb"));
        assert_eq!(e.code(), "limit_below_min");
        assert!(e.to_string().contains("minimum of 8"), "{e}");
    }
}
