//! Running a host command with an argv, a clean environment, a timeout and bounded
//! output capture. Used for version commands and for `check` (never for user code: that
//! runs in the sandbox).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a command did.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The command was killed at the timeout (`status` is then the kill's).
    pub timed_out: bool,
}

/// Runs `argv` in `cwd` with only PATH=/usr/bin:/bin, HOME=`home`, TMPDIR=`home`,
/// LANG=C.UTF-8 and `env`, stdin from /dev/null. At most `max_output` bytes of each
/// stream are kept (the rest is read and dropped so the command never blocks). On
/// timeout the command's whole process group is killed.
pub fn run(
    argv: &[String],
    env: &BTreeMap<String, String>,
    cwd: &Path,
    home: &Path,
    timeout: Duration,
    max_output: usize,
) -> Result<Output, String> {
    let program = argv.first().ok_or("empty argv")?;
    let mut cmd = Command::new(program);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("TMPDIR", home)
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that a wrapper script and the JVM it starts can be
    // killed together on timeout.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    let pipes: [(bool, Option<Box<dyn Read + Send>>); 2] = [
        (
            false,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ];
    for (is_err, pipe) in pipes {
        let Some(mut pipe) = pipe else { continue };
        let tx = tx.clone();
        // Not scoped: if a grandchild escaped the process group and holds the pipe
        // open, this thread may outlive the call; it ends when the pipe closes.
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = max_output.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
            let _ = tx.send((is_err, kept));
        });
    }
    drop(tx);

    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                kill_group(child.id());
                let _ = child.kill();
                match child.wait() {
                    Ok(status) => break status,
                    Err(e) => return Err(format!("wait failed: {e}")),
                }
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait failed: {e}")),
        }
    };
    // The direct child is gone; give its pipes a moment to drain, then make sure no
    // straggler of its group keeps them open.
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let grace = Instant::now() + Duration::from_millis(500);
    for _ in 0..2 {
        let left = grace.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((false, b)) => stdout = b,
            Ok((true, b)) => stderr = b,
            Err(_) => {
                kill_group(child.id());
                break;
            }
        }
    }
    Ok(Output {
        status,
        stdout,
        stderr,
        timed_out,
    })
}

/// Sends SIGKILL to a process group through the `kill` program (this crate has no
/// `unsafe`, so no direct syscall).
fn kill_group(pgid: u32) {
    let _ = Command::new("/bin/kill")
        .args(["-s", "KILL", "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
