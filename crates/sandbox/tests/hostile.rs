//! The hostile suite: programs that try to hurt the host, escape the box or outlive
//! their run. Each asserts the run's status and that the host and the next run are
//! unharmed. Run as root (`cargo test`, as CI does).

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use codeexec_sandbox::*;
use common::*;

#[test]
fn fork_bomb_is_contained_by_the_process_limit() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "forkbomb");
    let spec = RunSpec::new(["./forkbomb"]).limits(Limits {
        max_processes: 32,
        ..limits(1500, 1000, 128)
    });
    let o = bx.run(&spec).unwrap();
    assert_eq!(o.status, Status::LimitExceeded, "{o:?}");
    assert!(
        matches!(o.limit, Some(Limit::WallTime | Limit::CpuTime)),
        "{o:?}"
    );
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn memory_bomb_is_reported_as_memory_limit() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "membomb");
    let o = bx
        .run(&RunSpec::new(["./membomb"]).limits(limits(5000, 5000, 64)))
        .unwrap();
    assert_eq!(o.status, Status::LimitExceeded, "{o:?}");
    assert_eq!(o.limit, Some(Limit::Memory), "{o:?}");
    assert_eq!(o.signal, Some(libc::SIGKILL));
    let peak = o.memory_peak_bytes.expect("peak memory is reported");
    assert!((60 << 20..=65 << 20).contains(&peak), "peak {peak}");
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

/// The box's init shares the host's memory, and a memory cgroup's OOM killer kills
/// every process sharing its victim's memory: only the program may be a candidate.
/// At the smallest limit, with big arguments charged before the program's own
/// address space exists, the host (this test process) must survive.
#[test]
fn the_oom_killer_never_picks_a_process_sharing_the_hosts_memory() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "membomb");
    let big_argument = "x".repeat(120_000);
    let mut spec = RunSpec::new(["./membomb".to_string(), big_argument.clone(), big_argument]);
    spec.limits = limits(5000, 5000, codeexec_sandbox::MIN_MEMORY_BYTES >> 20);
    for _ in 0..5 {
        let o = bx.run(&spec).unwrap();
        assert_eq!(o.limit, Some(Limit::Memory), "{o:?}");
    }
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn cpu_spin_hits_the_cpu_limit_precisely() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "spin");
    let o = bx
        .run(&RunSpec::new(["./spin"]).limits(limits(5000, 300, 64)))
        .unwrap();
    assert_eq!(o.limit, Some(Limit::CpuTime), "{o:?}");
    assert!(o.cpu_time >= Duration::from_millis(300), "{o:?}");
    // The clock is re-read at most every few ms: a small overshoot, never a large one.
    assert!(o.cpu_time < Duration::from_millis(450), "{o:?}");
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn sleep_past_the_wall_limit_is_stopped_on_time() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx
        .run(&RunSpec::new(["sleep", "10"]).limits(limits(250, 1000, 64)))
        .unwrap();
    assert_eq!(o.limit, Some(Limit::WallTime), "{o:?}");
    assert!(o.wall_time >= Duration::from_millis(250), "{o:?}");
    // Precise to milliseconds; the margin is for a loaded 2-core CI machine.
    assert!(o.wall_time < Duration::from_millis(400), "{o:?}");
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn stdout_flood_is_capped_and_killed() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let spec = RunSpec::new(["yes"]).limits(Limits {
        stdout_bytes: 100_000,
        ..limits(5000, 5000, 64)
    });
    let o = bx.run(&spec).unwrap();
    assert_eq!(o.limit, Some(Limit::Output), "{o:?}");
    assert!(o.stdout.truncated);
    assert_eq!(o.stdout.bytes.len(), 100_000);
    assert!(o.stdout.bytes.chunks(2).all(|c| c == b"y\n"));
    assert!(o.wall_time < Duration::from_secs(2));
}

#[test]
fn stderr_flood_is_capped_and_killed() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let spec = sh("yes error >&2").limits(Limits {
        stderr_bytes: 50_000,
        ..limits(5000, 5000, 64)
    });
    let o = bx.run(&spec).unwrap();
    assert_eq!(o.limit, Some(Limit::Output), "{o:?}");
    assert!(o.stderr.truncated && o.stderr.bytes.len() == 50_000);
    assert!(o.stdout.bytes.is_empty() && !o.stdout.truncated);
}

#[test]
fn disk_fill_stops_at_the_box_size() {
    let sb = sandbox();
    let mut bx = sb
        .create_box(&BoxLimits {
            disk_bytes: 8 << 20,
            inodes: 1024,
        })
        .unwrap();
    let o = bx
        .run(&sh("dd if=/dev/zero of=/box/big bs=1M count=100; dd if=/dev/zero of=/tmp/big bs=1M count=100; du -sk /box /tmp"))
        .unwrap();
    assert_eq!(o.status, Status::Exited, "{o:?}");
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
    let used_kb: u64 = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(used_kb <= 8 * 1024, "used {used_kb} KiB");
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn a_million_tiny_files_hit_the_inode_limit() {
    let sb = sandbox();
    let mut bx = sb
        .create_box(&BoxLimits {
            disk_bytes: 64 << 20,
            inodes: 4096,
        })
        .unwrap();
    bx.stage_file("tinyfiles", &hostile("tinyfiles"), true)
        .unwrap();
    let o = bx
        .run(&RunSpec::new(["./tinyfiles"]).limits(limits(20_000, 20_000, 256)))
        .unwrap();
    assert!(o.success(), "{o:?}");
    let out = stdout(&o);
    let made: u32 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(made < 4096, "{out}");
    assert!(out.contains("No space left on device"), "{out}");
}

#[test]
fn network_reaches_neither_host_loopback_nor_outside() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let sb = sandbox();
    let mut bx = box_with(&sb, "net");
    let o = bx
        .run(&RunSpec::new(["./net", "127.0.0.1", &port]))
        .unwrap();
    assert!(stdout(&o).starts_with("failed:"), "{}", stdout(&o));
    // TEST-NET-1 (RFC 5737): never routed; the box has no route at all anyway.
    let o = bx.run(&RunSpec::new(["./net", "192.0.2.1", "80"])).unwrap();
    assert!(stdout(&o).starts_with("failed:"), "{}", stdout(&o));
    assert!(
        listener.accept().is_err(),
        "the box reached the host's listener"
    );
    let o = bx.run(&sh("cat /proc/net/dev | tail -n +3")).unwrap();
    let interfaces: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split(':').next().unwrap().trim().to_string())
        .collect();
    assert_eq!(interfaces, ["lo"], "only a loopback device");
}

#[test]
fn host_files_outside_the_box_are_invisible() {
    let secret_dir = tempfile::tempdir_in("/root").unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "top secret").unwrap();
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let script = format!(
        "cat {} /etc/shadow 2>&1; for d in /root /home /work /var/lib /run/codeexec /sys /opt/secret; do \
         ls $d >/dev/null 2>&1 && echo \"visible $d\"; done; echo end",
        secret.display()
    );
    let o = bx.run(&sh(&script)).unwrap();
    let out = stdout(&o);
    assert!(!out.contains("top secret"), "{out}");
    assert!(!out.contains("visible"), "{out}");
    assert!(out.ends_with("end\n"), "{out}");
}

#[test]
fn kill_minus_one_hurts_only_the_box() {
    let sb = sandbox();
    let mut neighbour = sb.create_box(&BoxLimits::default()).unwrap();
    let other = std::thread::spawn(move || neighbour.run(&sh("sleep 0.5; echo survived")).unwrap());
    std::thread::sleep(Duration::from_millis(100));
    let mut bx = box_with(&sb, "killall");
    let o = bx
        .run(&sh("sleep 5 & sleep 5 & ./killall; wait; echo after"))
        .unwrap();
    // The shell itself may be among the victims: either way only the box suffered.
    assert!(
        o.status == Status::Signaled || stdout(&o).contains("kill(-1)=0"),
        "{o:?}"
    );
    let o2 = other.join().unwrap();
    assert_eq!(stdout(&o2), "survived\n", "{o2:?}");
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn a_program_that_stops_itself_is_killed_at_the_wall_limit() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx
        .run(&sh("kill -STOP $$; echo resumed").limits(limits(300, 1000, 64)))
        .unwrap();
    assert_eq!(o.limit, Some(Limit::WallTime), "{o:?}");
    let uid = bx.host_uid();
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn a_stopped_child_does_not_outlive_the_run() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let uid = bx.host_uid();
    let o = bx
        .run(&sh(
            "sleep 100 & kill -STOP $!; trap '' TERM HUP; echo parent exits",
        ))
        .unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(processes_of(uid), Vec::<u32>::new());
    drop(bx);
    assert_host_unharmed(&sb, uid);
}

#[test]
fn a_double_forked_setsid_daemon_dies_with_the_run() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let uid = bx.host_uid();
    let o = bx
        .run(&sh(
            "(setsid sh -c 'trap \"\" TERM HUP INT; sleep 0.4; echo escaped > /box/escaped' &) ; echo parent done",
        ))
        .unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(stdout(&o), "parent done\n");
    assert_eq!(processes_of(uid), Vec::<u32>::new(), "the daemon survived");
    std::thread::sleep(Duration::from_millis(700));
    let o = bx.run(&sh("ls /box")).unwrap();
    assert!(!stdout(&o).contains("escaped"), "{}", stdout(&o));
}

#[test]
fn dangerous_system_calls_are_refused() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "syscalls");
    let o = bx.run(&RunSpec::new(["./syscalls"])).unwrap();
    assert!(o.success(), "{o:?}");
    let out = stdout(&o);
    for line in out.lines() {
        let (name, result) = line.split_once('=').unwrap();
        let expected = match name {
            "clone3" => "ENOSYS",
            "fork" => "ALLOWED",
            _ => "EPERM",
        };
        assert_eq!(result, expected, "{name}: {out}");
    }
    assert_eq!(out.lines().count(), 26, "{out}");
}

#[test]
fn the_program_has_no_privileges_and_no_inherited_fds() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx
        .run(&sh(
            "id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; ls /proc/self/fd; ls /proc | grep -c '^[0-9]'",
        ))
        .unwrap();
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1000");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000000"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    // ls sees its own fds 0, 1, 2 and the one it opened for /proc/self/fd.
    let fd_lines: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| !l.starts_with("Seccomp"))
        .skip(1)
        .take(4)
        .collect();
    assert_eq!(fd_lines, ["0", "1", "2", "3"], "{out}");
    // Only the box's own processes: init, sh, ls/grep.
    let count: u32 = lines.last().unwrap().parse().unwrap();
    assert!(count <= 4, "{out}");
}

#[test]
fn a_planted_symlink_does_not_make_destroy_touch_host_files() {
    let dir = tempfile::tempdir_in("/root").unwrap();
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let script = format!(
        "ln -s {t} /box/link; ln -s {t} /tmp/link; ln -s {d} /box/dir; ln -s / /box/root; ls -la /box",
        t = target.display(),
        d = dir.path().display()
    );
    let o = bx.run(&sh(&script)).unwrap();
    assert!(o.success(), "{o:?}");
    bx.destroy().unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn staging_after_a_run_is_refused() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    bx.stage_file("a.txt", b"a", false).unwrap();
    bx.run(&sh("true")).unwrap();
    assert!(matches!(
        bx.stage_file("b.txt", b"b", false),
        Err(SandboxError::StagingAfterRun)
    ));
    for bad in ["../escape", "/etc/x", "a/../../x"] {
        let mut fresh = sb.create_box(&BoxLimits::default()).unwrap();
        assert!(matches!(
            fresh.stage_file(bad, b"x", false),
            Err(SandboxError::InvalidPath { .. })
        ));
    }
}

#[test]
fn files_in_tmp_and_dev_shm_do_not_reach_the_next_box() {
    let sb = sandbox();
    let mut first = sb.create_box(&BoxLimits::default()).unwrap();
    let o = first
        .run(&sh(
            "echo x > /tmp/left; echo y > /dev/shm/left; ls /tmp /dev/shm",
        ))
        .unwrap();
    assert!(o.success(), "{o:?}");
    // Same box, next run: still there (compile then run share them).
    let o = first.run(&sh("cat /tmp/left /dev/shm/left")).unwrap();
    assert_eq!(stdout(&o), "x\ny\n");
    let mut second = sb.create_box(&BoxLimits::default()).unwrap();
    let o = second
        .run(&sh("ls -A /tmp /dev/shm /box; cat /tmp/left 2>&1"))
        .unwrap();
    assert!(!stdout(&o).contains("left\n"), "{}", stdout(&o));
    assert!(stdout(&o).contains("No such file"), "{}", stdout(&o));
}

#[test]
fn two_boxes_at_once_cannot_see_each_other() {
    let sb = sandbox();
    let mut a = sb.create_box(&BoxLimits::default()).unwrap();
    let mut b = sb.create_box(&BoxLimits::default()).unwrap();
    assert_ne!(a.host_uid(), b.host_uid());
    let server = std::thread::spawn(move || {
        let script = "import socket,time\n\
                      s=socket.socket(socket.AF_UNIX)\n\
                      s.bind('\\0codeexec-meet')\n\
                      s.listen()\n\
                      s.settimeout(1.5)\n\
                      try:\n    s.accept(); print('met')\n\
                      except OSError: print('alone')\n";
        a.run(&RunSpec::new(["python3", "-c", script]).env("MARKER", "box-a-marker"))
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(400));
    let client = "import socket,os,glob\n\
                  s=socket.socket(socket.AF_UNIX)\n\
                  try:\n    s.connect('\\0codeexec-meet'); print('connected')\n\
                  except OSError as e: print('refused')\n\
                  def has_marker(p):\n    try: return b'box-a-marker' in open(p,'rb').read()\n    except OSError: return False\n\
                  seen=[p for p in glob.glob('/proc/[0-9]*/environ') if has_marker(p)]\n\
                  print('seen' if seen else 'unseen', len(glob.glob('/proc/[0-9]*')))\n";
    let o = b.run(&RunSpec::new(["python3", "-c", client])).unwrap();
    let out = stdout(&o);
    assert!(out.starts_with("refused\nunseen"), "{out} {}", stderr(&o));
    let o = server.join().unwrap();
    assert_eq!(stdout(&o), "alone\n", "{}", stderr(&o));
}

#[test]
fn invalid_utf8_and_nul_bytes_are_preserved() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx
        .run(&sh(
            "printf '\\377\\000ab\\376\\300'; printf '\\000\\351' >&2",
        ))
        .unwrap();
    assert_eq!(o.stdout.bytes, b"\xff\x00ab\xfe\xc0");
    assert_eq!(o.stderr.bytes, b"\x00\xe9");
}

#[test]
fn fifty_megabytes_of_stdin_are_consumed_without_deadlock() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let input = vec![b'x'; 50 << 20];
    let o = bx.run(&RunSpec::new(["wc", "-c"]).stdin(input)).unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(stdout(&o).trim(), (50u64 << 20).to_string());
}

#[test]
fn a_program_closing_stdout_early_still_finishes() {
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let o = bx
        .run(&sh("echo before; exec 1>&-; sleep 0.2; echo done >&2"))
        .unwrap();
    assert!(o.success(), "{o:?}");
    assert_eq!(stdout(&o), "before\n");
    assert_eq!(stderr(&o), "done\n");
    assert!(o.wall_time >= Duration::from_millis(200));
}

#[test]
fn threads_burning_cpu_are_all_counted() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "threads");
    let o = bx
        .run(&RunSpec::new(["./threads"]).limits(limits(10_000, 5_000, 64)))
        .unwrap();
    assert!(o.success(), "{o:?}");
    assert!(o.cpu_time >= Duration::from_millis(590), "{o:?}");
}

#[test]
fn one_cpu_limit_covers_all_processes_together() {
    let sb = sandbox();
    let mut bx = box_with(&sb, "spin");
    // Two spinning processes: together they pass 400 ms of CPU long before either
    // alone would.
    let o = bx
        .run(&sh("./spin & ./spin").limits(limits(10_000, 400, 64)))
        .unwrap();
    assert_eq!(o.limit, Some(Limit::CpuTime), "{o:?}");
    assert!(o.cpu_time < Duration::from_millis(550), "{o:?}");
}

#[test]
fn hostile_output_does_not_block_the_host_writer() {
    // The program never reads its stdin; the host must not block writing it.
    let sb = sandbox();
    let mut bx = sb.create_box(&BoxLimits::default()).unwrap();
    let mut input = Vec::new();
    input.write_all(&vec![b'z'; 8 << 20]).unwrap();
    let o = bx.run(&sh("echo ignored").stdin(input)).unwrap();
    assert!(o.success());
    assert_eq!(stdout(&o), "ignored\n");
}
