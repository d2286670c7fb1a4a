//! The `[conformance]` tables: programs per language, overrides per compiler, skips
//! with reasons, and what the loader refuses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use codeexec_catalog::model::{ConformanceCheck, ConformanceDef};
use codeexec_catalog::{source_catalog_dir, Catalog, Definitions, LoadError};

/// An interpreter and a compiler of one language; `{conformance}` is replaced by the
/// language's table and `{override}` by the compiled compiler's.
const LANG: &str = r#"
language = "Lang"
default_compiler = "lang-i"
template = "print hello"

{conformance}

[[compiler]]
id = "lang-i"
name = "lang-i-{version}"
display_name = "Lang interpreter"
display_compile_command = "lang prog.lg"
source_file = "prog.lg"
run = ["/usr/bin/lang", "prog.lg"]
version = { command = ["/usr/bin/lang", "--version"] }
install = { apt = ["lang"] }

[[compiler]]
id = "lang-c"
name = "lang-c-{version}"
display_name = "Lang compiler"
display_compile_command = "langc prog.lg"
source_file = "prog.lg"
compile = ["/usr/bin/langc", "prog.lg", "-o", "prog.exe"]
run = ["./prog.exe"]
version = { command = ["/usr/bin/langc", "--version"] }
install = { apt = ["langc"] }

{override}
"#;

const FULL: &str = r#"
[conformance]
echo_stdin = "echo"
print_args = "args"
exit_code = "exit 3"
compile_error = "broken"
"#;

fn file(conformance: &str, over: &str) -> String {
    LANG.replace("{conformance}", conformance)
        .replace("{override}", over)
}

fn load(text: &str) -> Result<Definitions, LoadError> {
    Definitions::from_sources(vec![(PathBuf::from("catalog/lang.toml"), text.to_owned())])
}

fn problems(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => panic!("expected the catalogue to be rejected"),
        Err(LoadError::Invalid(ps)) => ps.iter().map(|p| p.to_string()).collect(),
        Err(other) => panic!("unexpected error {other}"),
    }
}

fn assert_problem(text: &str, needle: &str) {
    let ps = problems(text);
    assert!(
        ps.iter().any(|p| p.contains(needle)),
        "no problem containing {needle:?} in {ps:#?}"
    );
}

fn catalog(text: &str) -> Catalog {
    let defs = load(text).unwrap_or_else(|e| panic!("{e}"));
    let versions: HashMap<String, String> = [("lang-i", "1.0"), ("lang-c", "1.0")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    Catalog::from_versions(&defs, Path::new("/x"), &versions)
}

#[test]
fn the_language_table_reaches_every_compiler() {
    let cat = catalog(&file(FULL, ""));
    for name in ["lang-i-1.0", "lang-c-1.0"] {
        let c = cat.compiler(name).unwrap();
        assert_eq!(
            c.conformance.program(ConformanceCheck::EchoStdin),
            Some("echo")
        );
        assert_eq!(
            c.conformance.program(ConformanceCheck::PrintArgs),
            Some("args")
        );
        assert_eq!(
            c.conformance.program(ConformanceCheck::ExitCode),
            Some("exit 3")
        );
        assert!(c.conformance.skip.is_none());
    }
}

#[test]
fn a_compiler_table_overrides_field_by_field_and_replaces_the_skips() {
    let language = r#"
[conformance]
echo_stdin = "echo"
exit_code = "exit 3"
compile_error = "broken"
skip = ["print_args"]
skip_reason = "no argv"
"#;
    let over = r#"
[compiler.conformance]
echo_stdin = "echo, compiled"
print_args = "args, compiled"
skip = ["exit_code"]
skip_reason = "no exit status when compiled"
"#;
    let cat = catalog(&file(language, over));
    let i = &cat.compiler("lang-i-1.0").unwrap().conformance;
    assert_eq!(i.program(ConformanceCheck::EchoStdin), Some("echo"));
    assert!(i.skips(ConformanceCheck::PrintArgs));
    assert_eq!(i.skip_reason.as_deref(), Some("no argv"));
    let c = &cat.compiler("lang-c-1.0").unwrap().conformance;
    assert_eq!(
        c.program(ConformanceCheck::EchoStdin),
        Some("echo, compiled")
    );
    assert_eq!(
        c.program(ConformanceCheck::PrintArgs),
        Some("args, compiled")
    );
    assert_eq!(c.program(ConformanceCheck::CompileError), Some("broken"));
    assert!(!c.skips(ConformanceCheck::PrintArgs));
    assert!(c.skips(ConformanceCheck::ExitCode));
    assert_eq!(
        c.skip_reason.as_deref(),
        Some("no exit status when compiled")
    );
}

#[test]
fn merging_without_tables_gives_nothing() {
    let merged = ConformanceDef::merged(None, None);
    assert_eq!(merged, ConformanceDef::default());
    for check in ConformanceCheck::ALL {
        assert_eq!(ConformanceCheck::from_name(check.name()), Some(check));
        assert!(merged.program(check).is_none());
    }
    assert_eq!(ConformanceCheck::from_name("template"), None);
}

#[test]
fn every_program_is_required_for_every_compiler() {
    let ps = problems(&file("", ""));
    for check in ["echo_stdin", "print_args", "exit_code"] {
        for id in ["lang-i", "lang-c"] {
            let needle = format!("compiler[{id}].conformance: no `{check}` program");
            assert!(ps.iter().any(|p| p.contains(&needle)), "{needle}: {ps:#?}");
        }
    }
    // compile_error only for the compiler with a compile step.
    assert!(ps
        .iter()
        .any(|p| p.contains("compiler[lang-c].conformance: no `compile_error` program")));
    assert!(!ps
        .iter()
        .any(|p| p.contains("compiler[lang-i].conformance: no `compile_error`")));
    // One compiler's table can fill what the language leaves out.
    let partial = FULL.replace("print_args = \"args\"\n", "");
    assert_problem(
        &file(&partial, ""),
        "compiler[lang-i].conformance: no `print_args` program",
    );
    let ps = problems(&file(
        &partial,
        "[compiler.conformance]\nprint_args = \"args\"\n",
    ));
    assert!(
        !ps.iter().any(|p| p.contains("compiler[lang-c]")),
        "{ps:#?}"
    );
}

#[test]
fn compile_error_needs_a_compile_step() {
    let over_interpreter = LANG
        .replace("{conformance}", FULL)
        .replace("{override}", "")
        .replace(
            "install = { apt = [\"lang\"] }\n",
            "install = { apt = [\"lang\"] }\n\n[compiler.conformance]\ncompile_error = \"x\"\n",
        );
    assert_problem(
        &over_interpreter,
        "compiler[lang-i].conformance.compile_error: only for compilers with a compile step",
    );
    // A language whose compilers are all interpreters has no compile_error either.
    let interpreters_only = file(FULL, "").replace(
        "compile = [\"/usr/bin/langc\", \"prog.lg\", \"-o\", \"prog.exe\"]\n",
        "",
    );
    assert_problem(
        &interpreters_only,
        "conformance.compile_error: only for compilers with a compile step",
    );
    let skipped = file(
        "[conformance]\necho_stdin = \"e\"\nprint_args = \"a\"\nexit_code = \"x\"\n",
        "",
    )
    .replace(
        "install = { apt = [\"lang\"] }\n",
        "install = { apt = [\"lang\"] }\n\n[compiler.conformance]\nskip = [\"compile_error\"]\nskip_reason = \"r\"\n",
    );
    assert_problem(
        &skipped,
        "compiler[lang-i].conformance.skip: `compile_error` applies only to compilers with a compile step",
    );
}

#[test]
fn skips_name_real_checks_and_carry_a_reason() {
    let with = |skip: &str| file(&format!("{FULL}{skip}"), "");
    assert_problem(
        &with("skip = [\"argv\"]\nskip_reason = \"r\"\n"),
        "conformance.skip: `argv` is not a conformance check (checks: echo_stdin, print_args, exit_code, compile_error)",
    );
    let no_args = FULL.replace("print_args = \"args\"\n", "");
    assert_problem(
        &file(&format!("{no_args}skip = [\"print_args\"]\n"), ""),
        "conformance.skip_reason: every skip needs a reason",
    );
    assert_problem(
        &file(
            &format!("{no_args}skip = [\"print_args\"]\nskip_reason = \"  \"\n"),
            "",
        ),
        "conformance.skip_reason: every skip needs a reason",
    );
    assert_problem(
        &with("skip_reason = \"why\"\n"),
        "conformance.skip_reason: given without `skip`",
    );
    assert_problem(
        &with("skip = [\"print_args\"]\nskip_reason = \"r\"\n"),
        "conformance.skip: `print_args` is both skipped and given a program",
    );
    assert_problem(
        &file(
            &format!("{no_args}skip = [\"print_args\", \"print_args\"]\nskip_reason = \"r\"\n"),
            "",
        ),
        "conformance.skip: `print_args` appears twice",
    );
    // A proper skip is accepted and carried through.
    let cat = catalog(&file(
        &format!("{no_args}skip = [\"print_args\"]\nskip_reason = \"no argv\"\n"),
        "",
    ));
    let c = cat.compiler("lang-i-1.0").unwrap();
    assert!(c.conformance.skips(ConformanceCheck::PrintArgs));
    assert_eq!(c.conformance.skip_reason.as_deref(), Some("no argv"));
}

#[test]
fn unknown_keys_and_empty_programs_are_refused() {
    assert_problem(
        &file(&format!("{FULL}echo_sdtin = \"typo\"\n"), ""),
        "unknown field `echo_sdtin`",
    );
    assert_problem(
        &file(&FULL.replace("\"echo\"", "\"  \""), ""),
        "conformance.echo_stdin: must not be empty when present",
    );
}

/// The real catalogue: every compiler has each program or a reasoned skip, and skips
/// stay rare.
#[test]
fn the_real_catalogue_has_conformance_programs_for_every_compiler() {
    let defs = Definitions::load_dir(&source_catalog_dir()).unwrap_or_else(|e| panic!("{e}"));
    let mut skips = 0;
    let mut checks = 0;
    for (lang, c) in defs.compilers() {
        let merged = ConformanceDef::merged(lang.spec.conformance.as_ref(), c.conformance.as_ref());
        for check in ConformanceCheck::ALL {
            if check == ConformanceCheck::CompileError && c.compile.is_none() {
                continue;
            }
            checks += 1;
            if merged.skips(check) {
                skips += 1;
                assert!(
                    merged.skip_reason.as_deref().is_some_and(|r| r.len() > 20),
                    "{}: skip without a real reason",
                    c.id
                );
            } else {
                assert!(
                    merged.program(check).is_some(),
                    "{}: {}",
                    c.id,
                    check.name()
                );
            }
        }
    }
    assert!(
        skips * 20 < checks,
        "{skips} of {checks} conformance checks skipped: keep skips rare"
    );
}
