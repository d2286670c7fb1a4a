//! `codeexec serve` and `codeexec keys` as an operator uses them (as root).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn codeexec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_codeexec"))
}

/// A plain HTTP/1.1 GET; returns the status line and the body.
fn get(port: u16, path: &str, key: Option<&str>) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let auth = key
        .map(|k| format!("x-api-key: {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default().to_string();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Kills the server if the test fails before stopping it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_prints_a_first_key_answers_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = codeexec()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(server);
    let server = &mut guard.0;

    let started = Instant::now();
    let health = loop {
        if let Ok(r) = get(port, "/healthz", None) {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(health.0.contains("200"), "{health:?}");

    // The key made at first start works; a request without one is refused.
    let listed = codeexec()
        .args(["keys", "list", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("first key"));
    let (status, body) = get(port, "/v1/languages", None).unwrap();
    assert!(status.contains("401"), "{status} {body}");

    let term = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no clean exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut stdout = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let key = stdout
        .split_whitespace()
        .find(|w| w.starts_with("cx_live_"))
        .expect("the first key is printed");
    assert_eq!(key.len(), "cx_live_".len() + 64);
}

#[test]
fn keys_are_created_listed_moved_and_revoked() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = codeexec()
            .arg("keys")
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, secret, _) = run(&["create", "--plan", "pro", "--name", "ci"]);
    assert!(ok);
    let secret = secret.trim();
    assert!(secret.starts_with("cx_live_"));
    let (_, listing, _) = run(&["list"]);
    assert!(
        listing.contains("pro") && listing.contains("ci"),
        "{listing}"
    );
    assert!(!listing.contains(secret), "the secret is never listed");

    let (ok, moved, _) = run(&["set-plan", "1", "mega"]);
    assert!(ok && moved.contains("mega"), "{moved}");
    let (ok, _, err) = run(&["set-plan", "1", "platinum"]);
    assert!(!ok && err.contains("unknown plan"), "{err}");
    let (ok, revoked, _) = run(&["revoke", "1"]);
    assert!(ok && revoked.contains("revoked"), "{revoked}");
    let (_, listing, _) = run(&["list"]);
    assert!(listing.contains("REVOKED"), "{listing}");
}
