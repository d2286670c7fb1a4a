//! Box life cycle: runs, statuses, errors, teardown and concurrency.

mod common;

use std::time::Duration;

use codeexec_sandbox::*;
use common::*;

#[test]
fn compile_then_run_in_one_box() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    bx.stage_file(
        "src/main.c",
        b"#include <stdio.h>\nint main(int c, char **v){char b[64]; if(!fgets(b,64,stdin)) return 3; printf(\"%s|%s\", v[1], b); return 0;}\n",
        false,
    )
    .unwrap();
    let compile = bx
        .run(&RunSpec::new(["gcc", "-o", "prog", "src/main.c"]).limits(limits(20_000, 20_000, 512)))
        .unwrap();
    assert!(compile.success(), "{}", stderr(&compile));
    let run = bx
        .run(&RunSpec::new(["./prog", "arg"]).stdin("line\n"))
        .unwrap();
    assert!(run.success(), "{run:?}");
    assert_eq!(stdout(&run), "arg|line\n");
    assert!(run.memory_peak_bytes.is_some());
    assert!(run.wall_time > Duration::ZERO);
}

#[test]
fn exit_codes_and_signals_are_reported() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx.run(&sh("exit 42")).unwrap();
    assert_eq!(
        (o.status, o.exit_code, o.signal),
        (Status::Exited, Some(42), None)
    );
    let o = bx.run(&sh("kill -SEGV $$")).unwrap();
    assert_eq!(
        (o.status, o.exit_code, o.signal),
        (Status::Signaled, None, Some(libc::SIGSEGV))
    );
    assert_eq!(o.limit, None);
}

#[test]
fn file_size_limit_is_reported() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let spec = sh("exec head -c 2000000 /dev/zero > /box/f").limits(Limits {
        file_size_bytes: 1 << 20,
        ..Limits::default()
    });
    let o = bx.run(&spec).unwrap();
    assert_eq!(o.limit, Some(Limit::FileSize), "{o:?}");
}

#[test]
fn a_missing_program_is_an_exec_error() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let err = bx.run(&RunSpec::new(["no-such-program-xyz"])).unwrap_err();
    assert!(matches!(err, SandboxError::Exec { .. }), "{err}");
    assert!(err.to_string().contains("no-such-program-xyz"), "{err}");
    // The box is still usable.
    assert!(bx.run(&sh("true")).unwrap().success());
}

#[test]
fn bad_requests_are_clear_errors() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let empty = RunSpec::new(Vec::<String>::new());
    assert!(matches!(
        bx.run(&empty),
        Err(SandboxError::InvalidRequest(_))
    ));
    assert!(matches!(
        bx.run(&RunSpec::new(["a\0b"])),
        Err(SandboxError::NulByte { .. })
    ));
    let mut relative = sh("true");
    relative.cwd = "box".into();
    assert!(matches!(
        bx.run(&relative),
        Err(SandboxError::InvalidPath { .. })
    ));
}

#[test]
fn destroying_a_box_leaves_no_mount_cgroup_or_file() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    bx.stage_file("x", b"data", false).unwrap();
    let o = bx.run(&sh("sleep 0.05 & echo hi > /box/y")).unwrap();
    assert!(o.success());
    let dir = bx.host_dir().to_path_buf();
    assert!(dir.exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(mounts.contains(dir.to_str().unwrap()));
    bx.destroy().unwrap();
    assert!(!dir.exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(dir.to_str().unwrap()));
    // What remains of this instance are spare cgroups made ahead of time: never used.
    let prefix = format!("{}-c", sb.instance_id());
    let mut seen = 0;
    for (controller, counter) in [
        ("cpuacct", "cpuacct.usage"),
        ("memory", "memory.max_usage_in_bytes"),
    ] {
        let parent = std::path::Path::new("/sys/fs/cgroup")
            .join(controller)
            .join("codeexec");
        for e in std::fs::read_dir(&parent).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) {
                seen += 1;
                let used = std::fs::read_to_string(e.path().join(counter)).unwrap();
                assert_eq!(used.trim(), "0", "used cgroup {name} was left behind");
            }
        }
    }
    assert!(seen > 0, "spare cgroups are expected (cgroup v1 test host)");
}

#[test]
fn many_boxes_run_concurrently() {
    let sb = sandbox();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let sb = sb.clone();
            std::thread::spawn(move || {
                let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
                let o = bx.run(&sh(&format!("echo box {i}; id -u"))).unwrap();
                (bx.host_uid(), stdout(&o))
            })
        })
        .collect();
    let mut uids = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        let (uid, out) = h.join().unwrap();
        assert_eq!(out, format!("box {i}\n1000\n"));
        uids.push(uid);
    }
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), 8, "each live box has its own host uid");
}

#[test]
fn streaming_observer_sees_output_as_it_comes() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let started = std::time::Instant::now();
    let mut first_chunk_at = None;
    let mut chunks = Vec::new();
    let o = bx
        .run_observed(
            &sh("echo first; sleep 0.3; echo second >&2"),
            &mut |s, b| {
                first_chunk_at.get_or_insert(started.elapsed());
                chunks.push((s, b.to_vec()));
            },
        )
        .unwrap();
    assert!(o.success());
    assert_eq!(
        chunks,
        [
            (Stream::Stdout, b"first\n".to_vec()),
            (Stream::Stderr, b"second\n".to_vec())
        ]
    );
    assert!(first_chunk_at.unwrap() < Duration::from_millis(250));
}

#[test]
fn a_cancelled_run_stops_at_once_and_leaves_nothing() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let uid = bx.host_uid();
    let token = RunControl::new().unwrap();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            token.cancel();
        })
    };
    let started = std::time::Instant::now();
    let result = bx.run_with(&sh("sleep 10 & sleep 10"), &mut |_, _| {}, Some(&token));
    assert!(matches!(result, Err(SandboxError::Cancelled)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    canceller.join().unwrap();
    assert_eq!(processes_of(uid), Vec::<u32>::new());
    assert!(token.is_cancelled());
}

#[test]
fn standard_streams_can_be_reopened_by_path() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx
        .run(&sh("cat /dev/stdin > /dev/stdout; echo err > /dev/stderr").stdin("in\n"))
        .unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(stdout(&o), "in\n");
    assert_eq!(stderr(&o), "err\n");
}

#[test]
fn stdin_can_be_fed_while_the_program_runs() {
    use std::io::{BufRead, BufReader, Write};
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let (reader, mut writer) = std::io::pipe().unwrap();
    let (answers_tx, answers_rx) = std::sync::mpsc::channel::<String>();
    // The feeder answers each line the program prints: a real round trip.
    let feeder = std::thread::spawn(move || {
        writer.write_all(b"first\n").unwrap();
        let line = answers_rx.recv().unwrap();
        writer
            .write_all(format!("after {}", line).as_bytes())
            .unwrap();
        // Dropping the writer ends the program's input.
    });
    let script = "read a; echo \"got $a\"; read b; echo \"then $b\"; cat; echo done";
    let mut pending = String::new();
    let o = bx
        .run_with_stdin(
            &sh(script),
            reader.into(),
            &mut |_, bytes| {
                pending.push_str(&String::from_utf8_lossy(bytes));
                for line in BufReader::new(pending.as_bytes())
                    .lines()
                    .map_while(Result::ok)
                {
                    if line == "got first" {
                        let _ = answers_tx.send(format!("{line}\n"));
                    }
                }
                pending.clear();
            },
            None,
        )
        .unwrap();
    feeder.join().unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(stdout(&o), "got first\nthen after got first\ndone\n");
}

#[test]
fn a_signal_reaches_the_program_while_it_runs() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let control = RunControl::new().unwrap();
    let script = "trap 'echo got INT; exit 5' INT; echo ready; while :; do sleep 0.05; done";
    let o = bx
        .run_with(
            &sh(script),
            &mut |_, bytes| {
                if bytes.starts_with(b"ready") {
                    control.signal(libc::SIGINT).unwrap();
                }
            },
            Some(&control),
        )
        .unwrap();
    assert_eq!(stdout(&o), "ready\ngot INT\n", "{o:?}");
    assert_eq!(o.exit_code, Some(5));
    assert!(control.signal(0).is_err());
}

#[test]
fn a_memory_limit_below_the_floor_is_refused() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let mut spec = RunSpec::new(["/bin/true"]);
    spec.limits.memory_bytes = codeexec_sandbox::MIN_MEMORY_BYTES - 1;
    match bx.run(&spec) {
        Err(SandboxError::InvalidRequest(message)) => {
            assert!(message.contains("at least 8 MiB"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    spec.limits.memory_bytes = codeexec_sandbox::MIN_MEMORY_BYTES;
    assert_eq!(bx.run(&spec).unwrap().exit_code, Some(0));
}

#[test]
fn stdout_can_go_to_a_memory_file_bounded_by_the_file_size_limit() {
    use std::io::Read;
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let mut spec = RunSpec::new(["/bin/sh", "-c", "printf hello; printf oops >&2"]);
    let (outcome, mut file) = bx.run_to_memory_file(&spec, None).unwrap();
    assert_eq!(outcome.exit_code, Some(0));
    assert!(outcome.stdout.bytes.is_empty());
    assert_eq!(outcome.stderr.bytes, b"oops");
    let mut written = String::new();
    file.read_to_string(&mut written).unwrap();
    assert_eq!(written, "hello");

    spec = RunSpec::new(["/usr/bin/head", "-c", "100000", "/dev/zero"]);
    spec.limits.file_size_bytes = 4096;
    let (outcome, file) = bx.run_to_memory_file(&spec, None).unwrap();
    assert_ne!(outcome.exit_code, Some(0), "{outcome:?}");
    assert!(file.metadata().unwrap().len() <= 4096);
}

#[test]
fn an_open_files_limit_above_the_hosts_is_bounded_by_it() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let mut spec = RunSpec::new(["/bin/sh", "-c", "ulimit -Hn"]);
    spec.limits.open_files = u64::from(u32::MAX);
    let o = bx.run(&spec).unwrap();
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    let mut host = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut host) };
    let inside: u64 = String::from_utf8_lossy(&o.stdout.bytes)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(inside, host.rlim_max);
}
