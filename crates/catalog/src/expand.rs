//! Placeholders in catalogue argvs and environment values.
//!
//! Inside any argv element or env value:
//! - `{source}`: the compiler's `source_file`;
//! - `{toolchain}`: the compiler's directory under the toolchains root.
//!
//! As a whole argv element only:
//! - `{flags}`: where the flags of the selected switches go (default: appended);
//! - `{raw}`: where the raw options go (default: appended after the flags).
//!
//! Any other `{word}` made of lowercase letters and `_` is rejected by the loader, so a
//! misspelt placeholder cannot reach a command line; braces in other shapes (Erlang's
//! `{ok,V}`) are left alone.

/// The marker element replaced by switch flags.
pub const FLAGS: &str = "{flags}";
/// The marker element replaced by raw options.
pub const RAW: &str = "{raw}";

const SUBSTITUTIONS: [&str; 2] = ["{source}", "{toolchain}"];

/// Values for the substitutions.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    pub source: &'a str,
    pub toolchain: &'a str,
}

/// `s` with `{source}` and `{toolchain}` replaced.
pub fn substitute(s: &str, vars: Vars<'_>) -> String {
    s.replace("{source}", vars.source)
        .replace("{toolchain}", vars.toolchain)
}

/// Placeholders in `s` that this module does not know.
pub fn unknown_placeholders(s: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let word = &after[..close];
                let candidate = format!("{{{word}}}");
                let looks_like_placeholder =
                    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if looks_like_placeholder
                    && !SUBSTITUTIONS.contains(&candidate.as_str())
                    && candidate != FLAGS
                    && candidate != RAW
                {
                    found.push(candidate);
                }
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    found
}

/// Builds a final argv: `{flags}` and `{raw}` elements are replaced by the given lists;
/// when a marker is absent, its list is appended (flags first, then raw) if `append` is
/// true and dropped otherwise.
pub fn splice(argv: &[String], flags: &[String], raw: &[String], append: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len() + flags.len() + raw.len());
    let mut flags_placed = false;
    let mut raw_placed = false;
    for arg in argv {
        if arg == FLAGS {
            out.extend_from_slice(flags);
            flags_placed = true;
        } else if arg == RAW {
            out.extend_from_slice(raw);
            raw_placed = true;
        } else {
            out.push(arg.clone());
        }
    }
    if append {
        if !flags_placed {
            out.extend_from_slice(flags);
        }
        if !raw_placed {
            out.extend_from_slice(raw);
        }
    }
    out
}

/// Whether `argv` holds the given marker element.
pub fn has_marker(argv: &[String], marker: &str) -> bool {
    argv.iter().any(|a| a == marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn substitutes_known_placeholders() {
        let vars = Vars {
            source: "prog.zig",
            toolchain: "/opt/codeexec/toolchains/zig-0.13",
        };
        assert_eq!(
            substitute("{toolchain}/ziglang/zig", vars),
            "/opt/codeexec/toolchains/zig-0.13/ziglang/zig"
        );
        assert_eq!(
            substitute("-femit-bin={source}.o", vars),
            "-femit-bin=prog.zig.o"
        );
    }

    #[test]
    fn finds_unknown_placeholders_only() {
        assert_eq!(unknown_placeholders("{sorce}"), vec!["{sorce}".to_string()]);
        assert!(unknown_placeholders("{source}{toolchain}").is_empty());
        assert!(unknown_placeholders("{ok,V}=file:read_file(F)").is_empty());
        assert!(unknown_placeholders("{").is_empty());
    }

    #[test]
    fn splices_at_markers_or_appends() {
        let argv = v(&["python3", "{flags}", "prog.py"]);
        assert_eq!(
            splice(&argv, &v(&["-O"]), &v(&["a", "b"]), true),
            v(&["python3", "-O", "prog.py", "a", "b"])
        );
        let argv = v(&["g++", "prog.cc", "-o", "prog.exe"]);
        assert_eq!(
            splice(&argv, &v(&["-Wall"]), &v(&["-lm"]), true),
            v(&["g++", "prog.cc", "-o", "prog.exe", "-Wall", "-lm"])
        );
        assert_eq!(
            splice(&argv, &v(&["-Wall"]), &v(&["-lm"]), false),
            v(&["g++", "prog.cc", "-o", "prog.exe"])
        );
        let argv = v(&["ld", "{raw}", "prog.o"]);
        assert_eq!(
            splice(&argv, &[], &v(&["-s"]), false),
            v(&["ld", "-s", "prog.o"])
        );
    }
}
