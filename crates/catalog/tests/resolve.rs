//! Resolving requests into recipes: names and aliases, options, defaults, select groups,
//! raw options and the errors a client sees.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use codeexec_catalog::{source_catalog_dir, Catalog, Definitions, Limits, RawKind, ResolveError};

const CXX: &str = r#"
language = "C++"
aliases = ["cpp", "cxx"]
extensions = ["cc"]
default_compiler = "gxx"
template = "int main() {}"

[conformance]
echo_stdin = "echo stdin"
print_args = "print args"
exit_code = "exit 3"
compile_error = "int main() { return x; }"

[[switch]]
type = "single"
name = "warning"
display_name = "Warnings"
flags = ["-Wall", "-Wextra"]
default = true

[[switch]]
type = "single"
name = "optimize"
display_name = "Optimization"
flags = ["-O2"]

[[switch]]
type = "select"
name = "std-cxx"
default = "c++17"
options = [
  { name = "c++14", display_name = "C++14", flags = ["-std=c++14"] },
  { name = "c++17", display_name = "C++17", flags = ["-std=c++17"] },
  { name = "c++20", display_name = "C++20", flags = ["-std=c++20"] },
]

[[switch]]
type = "single"
name = "trace"
display_name = "Trace at run time"
flags = ["--trace"]
target = "run"

[[compiler]]
id = "gxx"
name = "gcc-{version}"
display_name = "gcc"
display_compile_command = "g++ prog.cc"
source_file = "prog.cc"
compile = ["/usr/bin/g++", "{flags}", "prog.cc", "-o", "prog.exe"]
run = ["./prog.exe"]
version = { command = ["/usr/bin/g++", "-dumpfullversion"] }
install = { apt = ["g++"] }

[[compiler]]
id = "clangxx"
name = "clang-{version}"
display_name = "clang"
display_compile_command = "clang++ prog.cc"
source_file = "prog.cc"
compile = ["/usr/bin/clang++", "prog.cc", "-o", "prog.exe"]
run = ["./prog.exe"]
compiler_option_raw = false
version = { command = ["/usr/bin/clang++", "-dumpversion"] }
install = { apt = ["clang"] }
"#;

const PREPROCESSOR: &str = r#"
language = "CPP"
aliases = ["preprocessor"]
default_compiler = "pp"
template = "X"

[conformance]
echo_stdin = '#include "/dev/stdin"'
skip = ["print_args", "exit_code"]
skip_reason = "the preprocessor has no arguments and no exit status"

[[compiler]]
id = "pp"
name = "gcc-{version}-pp"
display_name = "cpp"
display_compile_command = "cpp -P prog.cpp"
source_file = "prog.cpp"
run = ["/usr/bin/cpp", "-P", "{flags}", "{raw}", "prog.cpp"]
version = { command = ["/usr/bin/cpp", "-dumpfullversion"] }
install = { apt = ["cpp"] }
"#;

const PYTHON: &str = r#"
language = "Python"
aliases = ["py", "python3"]
extensions = ["py"]
default_compiler = "cpython"
template = "print('Hello, world!')"

[conformance]
echo_stdin = "echo stdin"
print_args = "print args"
exit_code = "exit 3"

[[compiler]]
id = "cpython"
name = "cpython-{version}"
display_name = "CPython"
display_compile_command = "python3 prog.py"
source_file = "prog.py"
run = ["/usr/bin/python3", "{flags}", "prog.py"]
version = { command = ["/usr/bin/python3", "--version"] }
install = { apt = ["python3"] }
env = { PYTHONUNBUFFERED = "1" }
limits = { memory_mb = 2048, processes = 200 }

[[compiler.switch]]
type = "single"
name = "python-optimize"
display_name = "-O"
flags = ["-O"]

[[compiler]]
id = "pypy"
name = "pypy-{version}"
display_name = "PyPy"
display_compile_command = "pypy3 prog.py"
source_file = "prog.py"
run = ["/usr/bin/pypy3", "prog.py"]
runtime_option_raw = false
version = { command = ["/usr/bin/pypy3", "--version"] }
install = { apt = ["pypy3"] }
"#;

const ZIG: &str = r#"
language = "Zig"
default_compiler = "zig-new"
template = "pub fn main() void {}"

[conformance]
echo_stdin = "echo stdin"
print_args = "print args"
exit_code = "exit 3"
compile_error = "pub fn main() void { x(); }"

[[compiler]]
id = "zig-new"
name = "zig-{version}"
display_name = "Zig"
display_compile_command = "zig build-exe prog.zig"
source_file = "prog.zig"
compile = ["{toolchain}/ziglang/zig", "build-exe", "prog.zig"]
run = ["./prog"]
version = { command = ["{toolchain}/ziglang/zig", "version"] }
install = { pip = { package = "ziglang", version = "0.13.0" } }
env = { ZIG_GLOBAL_CACHE_DIR = "{toolchain}/cache" }
"#;

fn defs() -> Definitions {
    Definitions::from_sources(
        [
            ("cxx.toml", CXX),
            ("cpp-preprocessor.toml", PREPROCESSOR),
            ("python.toml", PYTHON),
            ("zig.toml", ZIG),
        ]
        .iter()
        .map(|(n, t)| (PathBuf::from(*n), t.to_string()))
        .collect(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn catalog_with(versions: &[(&str, &str)]) -> Catalog {
    let versions: HashMap<String, String> = versions
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Catalog::from_versions(&defs(), Path::new("/opt/codeexec/toolchains"), &versions)
}

fn catalog() -> Catalog {
    catalog_with(&[
        ("gxx", "12.2.0"),
        ("clangxx", "16.0.6"),
        ("pp", "12.2.0"),
        ("cpython", "3.11.2"),
        ("pypy", "3.9-v7.3.11"),
        ("zig-new", "0.13.0"),
    ])
}

fn opts(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

#[test]
fn names_come_from_detected_versions() {
    let cat = catalog();
    let names: Vec<&str> = cat.installed().iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"gcc-12.2.0"), "{names:?}");
    assert!(names.contains(&"clang-16.0.6"));
    assert!(names.contains(&"pypy-3.9-v7.3.11"));
    assert!(names.contains(&"gcc-12.2.0-pp"));
}

#[test]
fn language_names_and_aliases_match_case_insensitively() {
    let cat = catalog();
    for q in ["C++", "c++", "cpp", "CXX", " cxx "] {
        let r = cat
            .resolve(q, None, &[], &[], &[])
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(r.compiler, "gcc-12.2.0", "{q}");
        assert_eq!(r.language, "C++");
    }
    for q in ["Python", "PY", "python3"] {
        assert_eq!(
            cat.resolve(q, None, &[], &[], &[]).unwrap().compiler,
            "cpython-3.11.2"
        );
    }
}

#[test]
fn exact_display_name_beats_an_alias_that_differs_only_in_case() {
    let cat = catalog();
    assert_eq!(
        cat.resolve("CPP", None, &[], &[], &[]).unwrap().language,
        "CPP"
    );
    assert_eq!(
        cat.resolve("cpp", None, &[], &[], &[]).unwrap().language,
        "C++"
    );
    assert_eq!(
        cat.resolve("preprocessor", None, &[], &[], &[])
            .unwrap()
            .language,
        "CPP"
    );
}

#[test]
fn language_field_accepts_a_compiler_name() {
    let cat = catalog();
    let r = cat.resolve("CLANG-16.0.6", None, &[], &[], &[]).unwrap();
    assert_eq!(r.compiler, "clang-16.0.6");
    assert_eq!(r.compiler_id, "clangxx");
}

#[test]
fn compiler_field_picks_the_compiler_and_checks_the_language() {
    let cat = catalog();
    let r = cat
        .resolve("c++", Some("Clang-16.0.6"), &[], &[], &[])
        .unwrap();
    assert_eq!(r.compiler, "clang-16.0.6");
    let r = cat
        .resolve("", Some("pypy-3.9-v7.3.11"), &[], &[], &[])
        .unwrap();
    assert_eq!(r.language, "Python");
    let err = cat
        .resolve("python", Some("gcc-12.2.0"), &[], &[], &[])
        .unwrap_err();
    assert_eq!(
        err,
        ResolveError::LanguageMismatch {
            compiler: "gcc-12.2.0".into(),
            compiler_language: "C++".into(),
            language: "Python".into(),
        }
    );
    assert_eq!(err.field(), "compiler");
}

#[test]
fn unknown_names_get_close_matches() {
    let cat = catalog();
    let err = cat.resolve("pyhton", None, &[], &[], &[]).unwrap_err();
    match &err {
        ResolveError::UnknownLanguage { name, suggestions } => {
            assert_eq!(name, "pyhton");
            assert!(
                suggestions.iter().any(|s| s.eq_ignore_ascii_case("python")),
                "{suggestions:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("did you mean"), "{err}");
    assert_eq!(err.field(), "language");

    let err = cat
        .resolve("", Some("gcc-12.2.1"), &[], &[], &[])
        .unwrap_err();
    match err {
        ResolveError::UnknownCompiler { suggestions, .. } => {
            assert_eq!(suggestions.first().map(String::as_str), Some("gcc-12.2.0"));
        }
        other => panic!("{other:?}"),
    }
    let err = cat.resolve("gcc", None, &[], &[], &[]).unwrap_err();
    assert!(err.to_string().contains("gcc-12.2.0"), "{err}");
    assert_eq!(
        cat.resolve("", None, &[], &[], &[]).unwrap_err(),
        ResolveError::Empty
    );
}

#[test]
fn defaults_apply_when_no_option_is_given() {
    let cat = catalog();
    let r = cat.resolve("c++", None, &[], &[], &[]).unwrap();
    assert_eq!(r.compile.len(), 1);
    assert_eq!(
        r.compile[0],
        opts(&[
            "/usr/bin/g++",
            "-Wall",
            "-Wextra",
            "-std=c++17",
            "prog.cc",
            "-o",
            "prog.exe"
        ])
    );
    assert_eq!(r.run, opts(&["./prog.exe"]));
    assert_eq!(r.options, opts(&["warning", "c++17"]));
    assert_eq!(r.source_file, "prog.cc");
}

#[test]
fn named_options_replace_single_defaults_but_keep_group_defaults() {
    let cat = catalog();
    let r = cat
        .resolve("c++", None, &opts(&["optimize"]), &[], &[])
        .unwrap();
    assert_eq!(
        r.options,
        opts(&["optimize", "c++17"]),
        "warning is off, std keeps its default"
    );
    assert_eq!(
        r.compile[0],
        opts(&[
            "/usr/bin/g++",
            "-O2",
            "-std=c++17",
            "prog.cc",
            "-o",
            "prog.exe"
        ])
    );
    let r = cat
        .resolve(
            "c++",
            None,
            &opts(&["warning,c++20", " optimize "]),
            &[],
            &[],
        )
        .unwrap();
    assert_eq!(r.options, opts(&["warning", "optimize", "c++20"]));
}

#[test]
fn runtime_switches_go_to_the_run_command() {
    let cat = catalog();
    let r = cat
        .resolve("c++", None, &opts(&["trace"]), &[], &opts(&["arg1"]))
        .unwrap();
    assert_eq!(r.run, opts(&["./prog.exe", "--trace", "arg1"]));
    let r = cat
        .resolve(
            "python",
            None,
            &opts(&["python-optimize"]),
            &[],
            &opts(&["a", "b"]),
        )
        .unwrap();
    assert_eq!(
        r.run,
        opts(&["/usr/bin/python3", "-O", "prog.py", "a", "b"])
    );
    assert!(r.compile.is_empty());
    assert_eq!(r.compile_argv(), None);
}

#[test]
fn unknown_options_are_named_and_valid_ones_listed() {
    let cat = catalog();
    let err = cat
        .resolve("c++", None, &opts(&["warning,c++99,fast"]), &[], &[])
        .unwrap_err();
    assert_eq!(
        err,
        ResolveError::UnknownOptions {
            compiler: "gcc-12.2.0".into(),
            unknown: opts(&["c++99", "fast"]),
            valid: opts(&["warning", "optimize", "c++14", "c++17", "c++20", "trace"]),
        }
    );
    let text = err.to_string();
    assert!(text.contains("`c++99`, `fast`"), "{text}");
    assert!(
        text.contains("valid options: warning, optimize, c++14"),
        "{text}"
    );
    assert_eq!(err.field(), "options");

    let err = cat
        .resolve("", Some("pypy-3.9-v7.3.11"), &opts(&["x"]), &[], &[])
        .unwrap_err();
    assert!(err.to_string().ends_with("valid options: none"), "{err}");
}

#[test]
fn two_options_of_one_group_conflict() {
    let cat = catalog();
    let err = cat
        .resolve("c++", None, &opts(&["c++14", "c++20"]), &[], &[])
        .unwrap_err();
    assert_eq!(
        err,
        ResolveError::ConflictingOptions {
            compiler: "gcc-12.2.0".into(),
            group: "std-cxx".into(),
            options: opts(&["c++14", "c++20"]),
        }
    );
    // Naming the same option twice is not a conflict.
    cat.resolve("c++", None, &opts(&["c++14", "c++14"]), &[], &[])
        .unwrap();
}

#[test]
fn option_names_match_case_insensitively_as_a_fallback() {
    let cat = catalog();
    let r = cat
        .resolve("c++", None, &opts(&["C++20", "WARNING"]), &[], &[])
        .unwrap();
    assert_eq!(r.options, opts(&["warning", "c++20"]));
}

#[test]
fn raw_options_are_appended_or_refused() {
    let cat = catalog();
    let r = cat
        .resolve(
            "c++",
            None,
            &[],
            &opts(&["-lm", "-DX=1"]),
            &opts(&["in.txt"]),
        )
        .unwrap();
    assert_eq!(
        r.compile[0][r.compile[0].len() - 2..],
        opts(&["-lm", "-DX=1"])
    );
    assert_eq!(r.run, opts(&["./prog.exe", "in.txt"]));

    let err = cat
        .resolve("", Some("clang-16.0.6"), &[], &opts(&["-O3"]), &[])
        .unwrap_err();
    assert_eq!(
        err,
        ResolveError::RawNotAllowed {
            compiler: "clang-16.0.6".into(),
            kind: RawKind::Compile,
        }
    );
    assert_eq!(err.field(), "compiler-option-raw");
    assert_eq!(
        err.to_string(),
        "compiler `clang-16.0.6` does not accept raw compiler options"
    );

    let err = cat
        .resolve("", Some("pypy-3.9-v7.3.11"), &[], &[], &opts(&["x"]))
        .unwrap_err();
    assert_eq!(err.field(), "runtime-option-raw");
    // Interpreters have no compile step, so raw compiler options are refused too.
    let err = cat
        .resolve("python", None, &[], &opts(&["-x"]), &[])
        .unwrap_err();
    assert_eq!(err.field(), "compiler-option-raw");
}

#[test]
fn raw_marker_places_raw_options() {
    let cat = catalog();
    let r = cat
        .resolve("CPP", None, &[], &[], &opts(&["-DGREETING=hi"]))
        .unwrap();
    assert_eq!(
        r.run,
        opts(&["/usr/bin/cpp", "-P", "-DGREETING=hi", "prog.cpp"])
    );
}

#[test]
fn limits_merge_overrides_into_defaults() {
    let cat = catalog();
    let r = cat.resolve("python", None, &[], &[], &[]).unwrap();
    assert_eq!(r.limits.memory_mb, 2048);
    assert_eq!(r.limits.processes, 200);
    assert_eq!(r.limits.run_time_ms, Limits::default().run_time_ms);
    assert_eq!(r.env.get("PYTHONUNBUFFERED").map(String::as_str), Some("1"));

    let custom = Limits {
        run_time_ms: 1234,
        ..Limits::default()
    };
    let cat = catalog().with_default_limits(custom);
    let r = cat.resolve("c++", None, &[], &[], &[]).unwrap();
    assert_eq!(r.limits, custom);
}

#[test]
fn toolchain_directories_are_expanded() {
    let cat = catalog();
    let r = cat.resolve("zig", None, &[], &[], &[]).unwrap();
    assert_eq!(
        r.compile[0][0],
        "/opt/codeexec/toolchains/zig-new/ziglang/zig"
    );
    assert_eq!(
        r.env.get("ZIG_GLOBAL_CACHE_DIR").map(String::as_str),
        Some("/opt/codeexec/toolchains/zig-new/cache")
    );
}

#[test]
fn missing_default_falls_back_and_missing_language_explains() {
    // gcc is missing: C++ falls back to clang.
    let cat = catalog_with(&[("clangxx", "16.0.6"), ("cpython", "3.11.2")]);
    assert_eq!(
        cat.resolve("c++", None, &[], &[], &[]).unwrap().compiler,
        "clang-16.0.6"
    );
    // Zig has no installed compiler: the error says so and why.
    let err = cat.resolve("zig", None, &[], &[], &[]).unwrap_err();
    match &err {
        ResolveError::LanguageUnavailable { language, reasons } => {
            assert_eq!(language, "Zig");
            assert_eq!(reasons, &vec!["zig-new: no version known".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cat.languages().count(), 2);
    assert_eq!(cat.unavailable().len(), 4);
}

#[test]
fn colliding_detected_names_leave_the_later_compiler_out() {
    let cat = catalog_with(&[("gxx", "1.0"), ("clangxx", "1.0"), ("pp", "1.0")]);
    // Different templates, no collision.
    assert_eq!(cat.installed().len(), 3);
    let defs = Definitions::from_sources(vec![(
        PathBuf::from("py.toml"),
        PYTHON.replace("pypy-{version}", "cpython-{version}"),
    )])
    .unwrap();
    let versions: HashMap<String, String> = [("cpython", "3.11.2"), ("pypy", "3.11.2")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let cat = Catalog::from_versions(&defs, Path::new("/x"), &versions);
    assert_eq!(cat.installed().len(), 1);
    assert_eq!(cat.unavailable()[0].id, "pypy");
    assert!(cat.unavailable()[0]
        .reason
        .contains("already taken by compiler `cpython`"));
}

#[test]
fn views_serialize_in_wandbox_shape() {
    let cat = catalog();
    let infos = cat.compiler_infos();
    let gcc = infos.iter().find(|c| c.name == "gcc-12.2.0").unwrap();
    let json = serde_json::to_value(gcc).unwrap();
    assert_eq!(json["display-compile-command"], "g++ prog.cc");
    assert_eq!(json["compiler-option-raw"], true);
    assert_eq!(json["runtime-option-raw"], true);
    assert_eq!(json["switches"][0]["type"], "single");
    assert_eq!(json["switches"][0]["display-flags"], "-Wall -Wextra");
    assert_eq!(json["switches"][0]["default"], true);
    assert_eq!(json["switches"][2]["type"], "select");
    assert_eq!(json["switches"][2]["default"], "c++17");
    assert_eq!(json["switches"][2]["options"][2]["name"], "c++20");
    assert_eq!(json["switches"][3]["runtime"], true);

    let langs = cat.language_infos();
    let py = langs.iter().find(|l| l.name == "Python").unwrap();
    assert_eq!(py.default_compiler, "cpython-3.11.2");
    assert_eq!(py.compilers, vec!["cpython-3.11.2", "pypy-3.9-v7.3.11"]);
    assert_eq!(py.versions, vec!["3.11.2", "3.9-v7.3.11"]);
}

#[test]
fn templates_and_extensions_are_found() {
    let cat = catalog();
    assert_eq!(cat.template("python"), Some("print('Hello, world!')"));
    assert_eq!(cat.template("gcc-12.2.0"), Some("int main() {}"));
    assert_eq!(
        cat.language_for_file("hello.PY").map(|l| l.name.as_str()),
        Some("Python")
    );
    assert!(cat.language_for_file("Makefile").is_none());
}

// ---- the real catalogue, with versions given (independent of what is installed) ----

fn real_catalog() -> Catalog {
    let defs = Definitions::load_dir(&source_catalog_dir()).unwrap_or_else(|e| panic!("{e}"));
    let versions: HashMap<String, String> = defs
        .compilers()
        .enumerate()
        .map(|(i, (_, c))| (c.id.clone(), format!("{i}.0")))
        .collect();
    Catalog::from_versions(&defs, Path::new("/opt/codeexec/toolchains"), &versions)
}

#[test]
fn real_aliases_reach_the_expected_defaults() {
    let cat = real_catalog();
    for (q, id) in [
        ("py", "cpython-debian"),
        ("python3", "cpython-debian"),
        ("cpp", "gcc-12"),
        ("cxx", "gcc-12"),
        ("c++", "gcc-12"),
        ("CPP", "gcc-12-pp"),
        ("c", "gcc-12-c"),
        ("js", "nodejs-system"),
        ("node", "nodejs-system"),
        ("ts", "typescript-5.9"),
        ("rb", "ruby-3.1"),
        ("rs", "rust-web"),
        ("golang", "go-debian"),
        ("cs", "mono"),
        ("csharp", "mono"),
        ("sh", "bash"),
        ("bash", "bash"),
        ("Bash script", "bash"),
        ("vim script", "vim"),
        ("sql", "sqlite"),
        ("zig", "zig-0.14"),
    ] {
        let r = cat
            .resolve(q, None, &[], &[], &[])
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(r.compiler_id, id, "{q}");
    }
}

#[test]
fn every_real_compiler_resolves_with_its_defaults() {
    let cat = real_catalog();
    assert_eq!(
        cat.unavailable(),
        &[],
        "no name collisions with distinct versions"
    );
    for c in cat.installed() {
        let r = cat
            .resolve(&c.name, None, &[], &[], &[])
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        for argv in r.compile.iter().chain([&r.run]) {
            assert!(
                !argv.iter().any(|a| a.contains('{')
                    && (a.contains("{flags}")
                        || a.contains("{raw}")
                        || a.contains("{toolchain}")
                        || a.contains("{source}"))),
                "{}: unexpanded placeholder in {argv:?}",
                c.name
            );
        }
        assert!(!r.run.is_empty());
        assert!(r.limits.memory_mb >= 256);
    }
}
