//! The `codeexec` binary as a user runs it (as root: it uses the sandbox).

use std::process::{Command, Output};

fn codeexec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codeexec"))
        .args(args)
        .output()
        .expect("run codeexec")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn all_toolchains_required() -> bool {
    std::env::var_os("CODEEXEC_REQUIRE_ALL_TOOLCHAINS").is_some_and(|v| v == "1")
}

#[test]
fn run_prints_the_programs_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.py");
    std::fs::write(&file, "import sys\nprint('Hello from', sys.argv[1])\n").unwrap();
    let out = codeexec(&["run", file.to_str().unwrap(), "--", "codeexec"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Hello from codeexec\n");
    assert!(
        text(&out.stderr).contains("status=ok"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_takes_the_language_from_a_flag_and_reports_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prog.txt");
    std::fs::write(&file, "int main(void) { return 7; }\n").unwrap();
    let out = codeexec(&["run", file.to_str().unwrap(), "--language", "c"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("status=runtime_error"));

    let out = codeexec(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--language"),
        "{}",
        text(&out.stderr)
    );

    let out = codeexec(&["run", file.to_str().unwrap(), "--language", "pyhton"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("python"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn languages_and_compilers_list_the_catalogue() {
    let out = codeexec(&["languages"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains("Python"), "{listing}");
    let languages: usize = listing
        .lines()
        .last()
        .and_then(|l| l.strip_suffix(" languages"))
        .and_then(|n| n.parse().ok())
        .expect("a count line");

    let out = codeexec(&["compilers"]);
    let listing = text(&out.stdout);
    let compilers: usize = listing
        .lines()
        .last()
        .and_then(|l| l.strip_suffix(" compilers"))
        .and_then(|n| n.parse().ok())
        .expect("a count line");
    assert!(compilers >= languages && languages >= 1);
    if all_toolchains_required() {
        assert!(languages >= 45, "{languages} languages");
        assert!(compilers >= 80, "{compilers} compilers");
    }

    let out = codeexec(&["compilers", "--language", "python", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["language"] == "Python"));
}

#[test]
fn toolchains_list_says_what_is_missing_and_why() {
    let out = codeexec(&["toolchains", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(
        rows.len() >= 80,
        "the catalogue defines {} compilers",
        rows.len()
    );
    for row in rows {
        assert!(!row["detail"].as_str().unwrap().is_empty(), "{row}");
    }
    let plan = codeexec(&["toolchains", "install", "--dry-run", "--all"]);
    assert!(plan.status.success(), "{}", text(&plan.stderr));
}
