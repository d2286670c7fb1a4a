//! Helpers shared by the sandbox's integration tests (run as root).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use codeexec_sandbox::*;

pub fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default()).expect("sandbox set-up (tests run as root)")
}

/// Compiles `tests/hostile/<name>.c` with the host's gcc, once per test process.
pub fn hostile(name: &str) -> Vec<u8> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("codeexec-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let out = dir.join(name);
    if !out.exists() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/hostile")
            .join(format!("{name}.c"));
        let status = Command::new("gcc")
            .args(["-O1", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc is installed");
        assert!(status.success(), "compiling {name}.c");
    }
    std::fs::read(&out).unwrap()
}

/// A box with the hostile program `name` staged as `/box/<name>`.
pub fn box_with(sb: &Sandbox, name: &str) -> BoxHandle {
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    bx.stage_file(name, &hostile(name), true).unwrap();
    bx
}

pub fn limits(wall_ms: u64, cpu_ms: u64, memory_mb: u64) -> Limits {
    Limits {
        wall_time: Duration::from_millis(wall_ms),
        cpu_time: Duration::from_millis(cpu_ms),
        memory_bytes: memory_mb << 20,
        ..Limits::default()
    }
}

pub fn sh(script: &str) -> RunSpec {
    RunSpec::new(["/bin/sh", "-c", script])
}

pub fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout.bytes).into_owned()
}

pub fn stderr(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stderr.bytes).into_owned()
}

/// Host pids of every process running as `uid`.
pub fn processes_of(uid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let uid_line = status.lines().find(|l| l.starts_with("Uid:"));
        if uid_line.is_some_and(|l| l.split_whitespace().nth(1) == Some(&uid.to_string())) {
            found.push(pid);
        }
    }
    found
}

/// The host and the sandbox are unharmed: nothing of the box's uid runs, and a
/// fresh box still runs a program normally.
pub fn assert_host_unharmed(sb: &Sandbox, uid: u32) {
    assert_eq!(
        processes_of(uid),
        Vec::<u32>::new(),
        "processes of the box survived"
    );
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx.run(&sh("echo still fine")).unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(stdout(&o), "still fine\n");
}
