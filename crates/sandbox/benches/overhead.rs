//! Sandbox overhead: the same programs bare, in a codeexec box and under bubblewrap
//! (and firejail) when installed, measured in one run. Prints medians and ratios as a
//! Markdown table. Run as root: `cargo bench -p codeexec-sandbox --bench overhead`
//! (`-- --runs N` to change the number of runs per cell; default 200).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codeexec_sandbox::{BoxLimits, RunSpec, Sandbox, SandboxConfig};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

type Contender<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Times every contender `runs` times, interleaved (one run of each in turn), so
/// that whatever else loads the machine weighs on all of them alike. A few warm-up
/// runs first fill caches (page cache, dentries) for every contender.
fn race(runs: usize, contenders: &mut [Contender<'_>]) -> Vec<Duration> {
    for (_, f) in contenders.iter_mut() {
        for _ in 0..5 {
            f();
        }
    }
    let mut samples = vec![Vec::with_capacity(runs); contenders.len()];
    for _ in 0..runs {
        for (i, (_, f)) in contenders.iter_mut().enumerate() {
            let t = Instant::now();
            f();
            samples[i].push(t.elapsed());
        }
    }
    samples.into_iter().map(median).collect()
}

fn bare<'a>(argv: &'a [&'a str]) -> impl FnMut() + 'a {
    move || {
        let status = Command::new(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("spawn");
        assert!(status.success());
    }
}

fn bwrap_argv(argv: &[&str], workdir: &Path) -> Vec<String> {
    let mut v: Vec<String> = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--ro-bind",
        "/etc/ld.so.cache",
        "/etc/ld.so.cache",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--bind",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(workdir.display().to_string());
    v.push("/box".into());
    v.push("--chdir".into());
    v.push("/box".into());
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}

fn firejail_argv(argv: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "firejail",
        "--quiet",
        "--noprofile",
        "--net=none",
        "--private",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(argv.iter().map(|s| s.to_string()));
    v
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);

    let work = tempfile::tempdir().expect("tempdir");
    let hello_c = work.path().join("hello.c");
    std::fs::write(
        &hello_c,
        "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
    )
    .unwrap();
    let hello = work.path().join("hello");
    let ok = Command::new("gcc")
        .arg("-O2")
        .arg("-o")
        .arg(&hello)
        .arg(&hello_c)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "gcc is needed for the C hello world");
    let hello_bytes = std::fs::read(&hello).unwrap();

    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox (run as root)");
    let with_bwrap = installed("bwrap");
    let with_firejail = installed("firejail");

    let hello_path = hello.display().to_string();
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("/bin/true", vec!["/bin/true"], vec!["/bin/true"]),
        (
            "python3 -c pass",
            vec!["/usr/bin/python3", "-c", "pass"],
            vec!["/usr/bin/python3", "-c", "pass"],
        ),
        ("C hello world", vec![hello_path.as_str()], vec!["./hello"]),
    ];

    println!(
        "runs per cell: {runs}; cgroup {:?}; median ms per run\n",
        sandbox.cgroup_version()
    );
    println!(
        "| program | bare | codeexec run | ratio | overhead | codeexec box+run+destroy | bwrap | bwrap ratio | firejail |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, host_argv, box_argv) in &cases {
        let spec = RunSpec::new(box_argv.clone());
        let mut bx = sandbox.create_box(&BoxLimits::default()).unwrap();
        bx.stage_file("hello", &hello_bytes, true).unwrap();
        std::fs::copy(&hello, work.path().join("hello-box")).unwrap();
        let bwrap_full = bwrap_argv(
            &box_argv
                .iter()
                .map(|a| if *a == "./hello" { "./hello-box" } else { a })
                .collect::<Vec<_>>(),
            work.path(),
        );
        let bwrap_full: Vec<&str> = bwrap_full.iter().map(String::as_str).collect();
        let firejail_full = firejail_argv(host_argv);
        let firejail_full: Vec<&str> = firejail_full.iter().map(String::as_str).collect();

        let mut contenders: Vec<Contender<'_>> = vec![
            ("bare", Box::new(bare(host_argv))),
            (
                "codeexec run",
                Box::new(|| {
                    let o = bx.run(&spec).unwrap();
                    assert!(o.success(), "{o:?}");
                }),
            ),
            (
                "codeexec box+run+destroy",
                Box::new(|| {
                    let mut fresh = sandbox.create_box(&BoxLimits::default()).unwrap();
                    fresh.stage_file("hello", &hello_bytes, true).unwrap();
                    let o = fresh.run(&spec).unwrap();
                    assert!(o.success(), "{o:?}");
                    fresh.destroy().unwrap();
                }),
            ),
        ];
        if with_bwrap {
            contenders.push(("bwrap", Box::new(bare(&bwrap_full))));
        }
        if with_firejail {
            contenders.push(("firejail", Box::new(bare(&firejail_full))));
        }
        let medians = race(runs, &mut contenders);
        drop(contenders);
        let bare_t = medians[0];
        let run_t = medians[1];
        let cycle_t = medians[2];
        let bwrap_t = with_bwrap.then(|| medians[3]);
        let firejail_t = with_firejail.then(|| medians[medians.len() - 1]);

        let ratio = |t: Duration| format!("{:.2}x", t.as_secs_f64() / bare_t.as_secs_f64());
        println!(
            "| {name} | {} | {} | {} | +{} | {} | {} | {} | {} |",
            ms(bare_t),
            ms(run_t),
            ratio(run_t),
            ms(run_t.saturating_sub(bare_t)),
            ms(cycle_t),
            bwrap_t.map_or("n/a".into(), ms),
            bwrap_t.map_or("n/a".into(), ratio),
            firejail_t.map_or("n/a".into(), ms),
        );
    }
}
