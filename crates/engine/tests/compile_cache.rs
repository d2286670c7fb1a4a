//! The compile cache with real compilers in the real sandbox (as root): what it
//! reuses, what it refuses to keep, and that running is never cached.

use std::path::PathBuf;
use std::sync::OnceLock;

use codeexec_catalog::{Catalog, Definitions, DetectOptions};
use codeexec_engine::*;
use codeexec_sandbox::{Sandbox, SandboxConfig};

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let defs = Definitions::load_dir(&codeexec_catalog::source_catalog_dir()).unwrap();
        Catalog::detect(&defs, &DetectOptions::default())
    })
}

fn sandbox() -> Sandbox {
    Sandbox::new(sandbox_config_for(catalog(), SandboxConfig::default())).unwrap()
}

/// A cache in a fresh host directory (removed when dropped).
struct TestCache {
    _dir: tempfile::TempDir,
    path: PathBuf,
    cache: CompileCache,
}

fn cache_with(max_bytes: u64) -> TestCache {
    let dir = tempfile::Builder::new()
        .prefix("codeexec-cache-test")
        .tempdir_in("/var/tmp")
        .unwrap();
    let path = dir.path().join("compile-cache");
    let cache = CompileCache::open(CompileCacheConfig {
        max_bytes,
        ..CompileCacheConfig::in_dir(&path)
    })
    .unwrap();
    TestCache {
        _dir: dir,
        path,
        cache,
    }
}

fn cache() -> TestCache {
    cache_with(1 << 30)
}

fn job(language: &str, code: &str) -> Job {
    let recipe = catalog().resolve(language, None, &[], &[], &[]).unwrap();
    Job::new(recipe, code)
}

fn run(sb: &Sandbox, cache: &CompileCache, job: &Job) -> JobResult {
    run_job_cached(sb, cache, job, &mut |_| {})
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stdout(r: &JobResult) -> String {
    text(&r.run.as_ref().expect("the program ran").stdout)
}

const C_ECHO: &str = "#include <stdio.h>\n#warning kept with the result\n\
    int main(void){char b[64];if(fgets(b,64,stdin))printf(\"got %s\",b);return 0;}\n";

#[test]
fn a_repeated_compile_is_reused_and_the_program_still_runs_live() {
    let sb = sandbox();
    let c = cache();
    let mut first = job("c", C_ECHO);
    first.stdin = b"one\n".to_vec();
    let r1 = run(&sb, &c.cache, &first);
    assert_eq!(r1.status, JobStatus::Ok, "{r1:?}");
    let compile1 = r1.compile.clone().unwrap();
    assert!(!compile1.cached);
    assert_eq!(stdout(&r1), "got one\n");

    // Same compile, other stdin: the compile is reused, the run is not.
    let mut second = first.clone();
    second.stdin = b"two\n".to_vec();
    let r2 = run(&sb, &c.cache, &second);
    assert_eq!(r2.status, JobStatus::Ok, "{r2:?}");
    let compile2 = r2.compile.clone().unwrap();
    assert!(compile2.cached, "{r2:?}");
    assert_eq!(stdout(&r2), "got two\n");
    // The compiler's messages come back as they were.
    assert!(text(&compile2.stderr).contains("kept with the result"));
    assert_eq!(compile2.stderr, compile1.stderr);
    assert_eq!(compile2.merged, compile1.merged);
    assert_eq!(compile2.cpu_time_ms, 0);

    c.cache.flush();
    let stats = c.cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.stores), (1, 1, 1));
    assert_eq!(stats.entries, 1);
    assert!(stats.bytes > 1000, "{stats:?}");
}

#[test]
fn every_input_of_the_compile_is_part_of_the_key() {
    let sb = sandbox();
    let c = cache();
    let base = job("c", "int main(void){return 0;}\n");
    assert!(!run(&sb, &c.cache, &base).compile.unwrap().cached);

    let other_source = job("c", "int main(void){return 0;}\n\n");
    let mut other_options = base.clone();
    other_options.recipe = catalog()
        .resolve("c", None, &["optimize".to_string()], &[], &[])
        .unwrap();
    let mut other_raw = base.clone();
    other_raw.recipe = catalog()
        .resolve("c", None, &[], &["-DX=1".to_string()], &[])
        .unwrap();
    let mut other_compiler = base.clone();
    let tcc = catalog()
        .installed()
        .iter()
        .find(|c| c.id == "tcc-c")
        .expect("tcc is installed");
    other_compiler.recipe = catalog()
        .resolve("c", Some(&tcc.name), &[], &[], &[])
        .unwrap();
    let mut extra_file = base.clone();
    extra_file.files.push(SourceFile {
        name: "x.h".into(),
        content: b"".to_vec(),
    });
    let mut less_memory = base.clone();
    less_memory.limits.compile_memory_bytes /= 2;
    for (what, j) in [
        ("source", &other_source),
        ("options", &other_options),
        ("raw options", &other_raw),
        ("compiler", &other_compiler),
        ("files", &extra_file),
        ("compile memory", &less_memory),
    ] {
        let r = run(&sb, &c.cache, j);
        assert_eq!(r.status, JobStatus::Ok, "{what}: {r:?}");
        assert!(
            !r.compile.unwrap().cached,
            "{what} changed but the compile was reused"
        );
    }

    // Arguments, stdin and run limits are not part of it.
    let mut other_run = base.clone();
    other_run.args = vec!["x".into()];
    other_run.stdin = b"y".to_vec();
    other_run.limits.run_wall /= 2;
    let r = run(&sb, &c.cache, &other_run);
    assert!(
        r.compile.unwrap().cached,
        "run inputs must not change the key"
    );
}

#[test]
fn a_compile_error_is_kept_with_its_message() {
    let sb = sandbox();
    let c = cache();
    let j = job("c", "int main(void){ return undeclared_name; }\n");
    let r1 = run(&sb, &c.cache, &j);
    let r2 = run(&sb, &c.cache, &j);
    for r in [&r1, &r2] {
        assert_eq!(r.status, JobStatus::CompileError, "{r:?}");
        assert!(r.run.is_none());
        assert!(text(&r.compile.as_ref().unwrap().merged).contains("undeclared_name"));
    }
    assert!(!r1.compile.unwrap().cached);
    let c2 = r2.compile.unwrap();
    assert!(c2.cached);
    assert_ne!(c2.exit_code, Some(0));
}

#[test]
fn several_compiled_files_and_directories_come_back() {
    let sb = sandbox();
    let c = cache();
    let code = "public class Main {\n\
        static class Inner { String hi() { return \"inner\"; } }\n\
        public static void main(String[] a) { System.out.println(new Inner().hi() + \" \" + new pkg.Helper().name()); }\n}\n";
    let mut j = job("java", code);
    j.files.push(SourceFile {
        name: "pkg/Helper.java".into(),
        content:
            b"package pkg; public class Helper { public String name() { return \"helper\"; } }\n"
                .to_vec(),
    });
    // javac compiles the sources Main names; pkg/Helper.class lands in pkg/.
    let r1 = run(&sb, &c.cache, &j);
    assert_eq!(r1.status, JobStatus::Ok, "{r1:?}");
    let r2 = run(&sb, &c.cache, &j);
    assert_eq!(r2.status, JobStatus::Ok, "{r2:?}");
    assert!(r2.compile.as_ref().unwrap().cached);
    assert_eq!(stdout(&r2), "inner helper\n");
    assert_eq!(stdout(&r1), stdout(&r2));
}

#[test]
fn a_working_directory_with_a_link_is_not_kept() {
    let sb = sandbox();
    let c = cache();
    // Nim runs this at compile time, inside the box: the compile plants a symlink.
    let j = job(
        "nim",
        "const planted = staticExec(\"ln -s /etc/passwd planted && echo done\")\necho planted\n",
    );
    let r1 = run(&sb, &c.cache, &j);
    assert_eq!(r1.status, JobStatus::Ok, "{r1:?}");
    assert_eq!(stdout(&r1), "done\n");
    let r2 = run(&sb, &c.cache, &j);
    assert_eq!(r2.status, JobStatus::Ok, "{r2:?}");
    assert!(
        !r2.compile.unwrap().cached,
        "a directory with a link was cached"
    );
    let stats = c.cache.stats();
    assert_eq!((stats.stores, stats.refused, stats.entries), (0, 2, 0));
}

#[test]
fn a_damaged_entry_is_a_miss_and_is_replaced() {
    let sb = sandbox();
    let c = cache();
    let j = job("c", "#include <stdio.h>\nint main(void){puts(\"fine\");}\n");
    run(&sb, &c.cache, &j);
    c.cache.flush();
    let entry = std::fs::read_dir(&c.path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .expect("one entry");
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();

    let r = run(&sb, &c.cache, &j);
    assert_eq!(r.status, JobStatus::Ok, "{r:?}");
    assert!(!r.compile.as_ref().unwrap().cached);
    assert_eq!(stdout(&r), "fine\n");
    c.cache.flush();
    let r = run(&sb, &c.cache, &j);
    assert!(
        r.compile.unwrap().cached,
        "the damaged entry was not replaced"
    );
}

#[test]
fn the_cache_is_bounded_by_size_least_recently_used_first() {
    let sb = sandbox();
    // Room for about two C entries (each ≈ 16 KB).
    let c = cache_with(40 << 10);
    let program = |n: u32| job("c", &format!("int main(void){{return {n};}}\n"));
    for n in 0..3 {
        run(&sb, &c.cache, &program(n));
        c.cache.flush();
        // Use the first again, so the second is the least recently used.
        if n == 1 {
            assert!(run(&sb, &c.cache, &program(0)).compile.unwrap().cached);
        }
    }
    c.cache.flush();
    let stats = c.cache.stats();
    assert!(stats.bytes <= 40 << 10, "{stats:?}");
    assert!(stats.evictions >= 1, "{stats:?}");
    assert!(run(&sb, &c.cache, &program(0)).compile.unwrap().cached);
    assert!(!run(&sb, &c.cache, &program(1)).compile.unwrap().cached);
    c.cache.flush();

    // A reopened cache finds what is on disk.
    let reopened = CompileCache::open(CompileCacheConfig {
        max_bytes: 40 << 10,
        ..CompileCacheConfig::in_dir(&c.path)
    })
    .unwrap();
    assert_eq!(reopened.stats().entries, c.cache.stats().entries);
    assert!(run(&sb, &reopened, &program(1)).compile.unwrap().cached);
}

#[test]
fn boxes_cannot_see_the_cache() {
    let sb = sandbox();
    let c = cache();
    run(&sb, &c.cache, &job("c", "int main(void){return 0;}\n"));
    let probe = format!(
        "import os\nprint(os.path.exists({:?}), os.path.exists({:?}))",
        c.path.display().to_string(),
        "/var/tmp"
    );
    let r = run(&sb, &c.cache, &job("python", &probe));
    assert_eq!(stdout(&r), "False False\n", "{r:?}");
}
