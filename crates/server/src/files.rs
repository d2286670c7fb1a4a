//! Extra source files of a run (`files: [{name, content}]`): names are relative paths
//! below the box's working directory, refused when they could point anywhere else.
//!
//! The sandbox checks paths again when it stages them; refusing here gives the client
//! a 400 naming the file instead of an internal error.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;

/// One extra file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub name: String,
    pub content: String,
}

/// Longest file name, and longest component of one.
const MAX_NAME_BYTES: usize = 1024;
const MAX_COMPONENT_BYTES: usize = 255;
/// Deepest directory nesting.
const MAX_DEPTH: usize = 16;

/// Why `name` cannot be a file name in the box, if it cannot.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Some("is too long");
    }
    if name.starts_with('/') {
        return Some("must be a relative path, not an absolute one");
    }
    if name.contains('\0') {
        return Some("contains a NUL character");
    }
    if name.contains('\\') {
        return Some("contains a backslash; separate directories with /");
    }
    if name.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    let components: Vec<&str> = name.split('/').collect();
    if components.len() > MAX_DEPTH {
        return Some("is nested too deeply");
    }
    for c in components {
        match c {
            "" => return Some("has an empty path component (// or a trailing /)"),
            "." | ".." => return Some("must not contain . or .. components"),
            c if c.len() > MAX_COMPONENT_BYTES => return Some("has a component over 255 bytes"),
            _ => {}
        }
    }
    None
}

/// Checks the `files` field: an array of `{name, content}` objects with safe, distinct
/// names, none of which is a directory of another.
pub fn check_files(value: Value, max_files: usize) -> Result<Vec<FileEntry>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::invalid(
            "files",
            "must be an array of {\"name\", \"content\"} objects",
        ));
    };
    if items.len() > max_files {
        return Err(ApiError::invalid(
            "files",
            format!(
                "{} files given; this server takes at most {max_files}",
                items.len()
            ),
        ));
    }
    let mut files = Vec::with_capacity(items.len());
    let mut names = BTreeSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut o) = item else {
            return Err(ApiError::invalid(
                format!("files[{i}]"),
                "must be an object with `name` and `content`",
            ));
        };
        if let Some(k) = o.keys().find(|k| *k != "name" && *k != "content") {
            return Err(ApiError::invalid(
                format!("files[{i}]"),
                format!("unknown field `{k}`; a file has `name` and `content`"),
            ));
        }
        let name = match o.remove("name") {
            Some(Value::String(s)) => s,
            _ => {
                return Err(ApiError::invalid(
                    format!("files[{i}].name"),
                    "must be a string",
                ))
            }
        };
        if let Some(problem) = name_problem(&name) {
            return Err(ApiError::invalid(
                format!("files[{i}].name"),
                format!("{name:?} {problem}"),
            ));
        }
        let content = match o.remove("content") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => String::new(),
            _ => {
                return Err(ApiError::invalid(
                    format!("files[{i}].content"),
                    "must be a string",
                ))
            }
        };
        if !names.insert(name.clone()) {
            return Err(ApiError::invalid(
                format!("files[{i}].name"),
                format!("{name:?} is given twice"),
            ));
        }
        files.push(FileEntry { name, content });
    }
    for f in &files {
        let mut dir = f.name.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            if names.contains(parent) {
                return Err(ApiError::invalid(
                    "files",
                    format!(
                        "{parent:?} is both a file and the directory of {:?}",
                        f.name
                    ),
                ));
            }
            dir = parent;
        }
    }
    Ok(files)
}

/// Refuses extra files that would replace the main source (`main_name`), be a
/// directory above it, or need it as a directory.
pub fn check_against_main(files: &[FileEntry], main_name: &str) -> Result<(), ApiError> {
    for (i, f) in files.iter().enumerate() {
        let clashes = f.name == main_name
            || main_name.starts_with(&format!("{}/", f.name))
            || f.name.starts_with(&format!("{main_name}/"));
        if clashes {
            return Err(ApiError::invalid(
                format!("files[{i}].name"),
                format!(
                    "{:?} is the name of the main source for this compiler; put the main program in `code`",
                    f.name
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn traversal_and_odd_names_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "./a",
            "a//b",
            "a/",
            "",
            "a\\b",
            "a\0b",
            "a\nb",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        for good in [
            "util.h",
            "src/lib/util.c",
            "..hidden",
            "a.b.c",
            "データ.txt",
        ] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn the_offending_file_is_named() {
        let e = check_files(
            json!([{"name": "ok.h", "content": ""}, {"name": "../../etc/x", "content": "y"}]),
            8,
        )
        .unwrap_err();
        assert_eq!(e.field().as_deref(), Some("files[1].name"));
        assert!(e.to_string().contains("../../etc/x"), "{e}");
        let e = check_files(json!([{"name": "a"}, {"name": "a/b"}]), 8).unwrap_err();
        assert!(e.to_string().contains("both a file and the directory"));
        let e = check_files(json!([{"name": "a"}, {"name": "a"}]), 8).unwrap_err();
        assert!(e.to_string().contains("twice"));
        assert!(check_files(json!([{"name": "a"}, {"name": "b"}]), 1).is_err());
        assert!(check_against_main(
            &[FileEntry {
                name: "prog.py".into(),
                content: String::new()
            }],
            "prog.py"
        )
        .is_err());
        let file = |name: &str| FileEntry {
            name: name.into(),
            content: String::new(),
        };
        assert!(check_against_main(&[file("prog.py/x")], "prog.py").is_err());
        assert!(check_against_main(&[file("src")], "src/main.rs").is_err());
        assert!(check_against_main(&[file("src/util.rs")], "src/main.rs").is_ok());
    }
}
