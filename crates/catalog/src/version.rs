//! Extracting a version string from a version command's output.

use regex::Regex;

/// The default rule: the first dotted number (`12.2.0`, `3.11.2`, `1.63`).
pub const DEFAULT_VERSION_REGEX: &str = r"(\d+(?:\.\d+)+)";

/// A compiled version rule (`regex` plus optional `format`).
#[derive(Debug, Clone)]
pub struct VersionExtractor {
    regex: Regex,
    format: Option<String>,
}

impl VersionExtractor {
    /// Compiles `regex` (default [`DEFAULT_VERSION_REGEX`]); `format` may refer to groups
    /// as `{1}`, `{2}` … or `{name}`.
    pub fn new(regex: Option<&str>, format: Option<&str>) -> Result<Self, regex::Error> {
        let regex = Regex::new(regex.unwrap_or(DEFAULT_VERSION_REGEX))?;
        Ok(VersionExtractor {
            regex,
            format: format.map(str::to_owned),
        })
    }

    /// The version found in `output`, or `None` when the regex does not match (or a
    /// group that the format needs did not take part in the match).
    pub fn extract(&self, output: &str) -> Option<String> {
        let caps = self.regex.captures(output)?;
        let version = match &self.format {
            Some(format) => {
                let mut out = String::new();
                let mut rest = format.as_str();
                while let Some(open) = rest.find('{') {
                    out.push_str(&rest[..open]);
                    let close = open + rest[open..].find('}')?;
                    let key = &rest[open + 1..close];
                    let group = match key.parse::<usize>() {
                        Ok(i) => caps.get(i),
                        Err(_) => caps.name(key),
                    }?;
                    out.push_str(group.as_str());
                    rest = &rest[close + 1..];
                }
                out.push_str(rest);
                out
            }
            None => caps
                .name("version")
                .or_else(|| caps.get(1))
                .or_else(|| caps.get(0))?
                .as_str()
                .to_owned(),
        };
        let version = version.trim().to_owned();
        (!version.is_empty()).then_some(version)
    }
}

/// Whether `s` can stand in a compiler name: ASCII letters, digits and `.`, `_`, `+`,
/// `-`. A version with other characters would make a name clients cannot type.
pub fn is_name_safe(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_takes_first_dotted_number() {
        let x = VersionExtractor::new(None, None).unwrap();
        assert_eq!(
            x.extract("g++-12 (Debian 12.2.0-14) 12.2.0\nCopyright")
                .as_deref(),
            Some("12.2.0")
        );
        assert_eq!(x.extract("no digits here"), None);
    }

    #[test]
    fn format_joins_groups() {
        let x = VersionExtractor::new(
            Some(r"Python (\d+\.\d+)\.\d+.*\[PyPy (\d+\.\d+\.\d+)"),
            Some("{1}-v{2}"),
        )
        .unwrap();
        let out = "Python 3.9.16 (7.3.11+dfsg-2+deb12u3, Dec 30 2024, 22:36:23)\n[PyPy 7.3.11 with GCC 12.2.0]";
        assert_eq!(x.extract(out), None, "`.` does not cross lines");
        let x = VersionExtractor::new(
            Some(r"(?s)Python (\d+\.\d+)\.\d+.*\[PyPy (\d+\.\d+\.\d+)"),
            Some("{1}-v{2}"),
        )
        .unwrap();
        assert_eq!(x.extract(out).as_deref(), Some("3.9-v7.3.11"));
    }

    #[test]
    fn named_group_wins() {
        let x = VersionExtractor::new(Some(r"(\w+) (?P<version>\d+\.\d+)"), None).unwrap();
        assert_eq!(x.extract("lua 5.4").as_deref(), Some("5.4"));
    }

    #[test]
    fn bad_format_key_is_no_version() {
        let x = VersionExtractor::new(Some(r"(\d+)"), Some("{2}")).unwrap();
        assert_eq!(x.extract("7"), None);
    }

    #[test]
    fn name_safety() {
        assert!(is_name_safe("2.1.0-beta3"));
        assert!(is_name_safe("22+36"));
        assert!(!is_name_safe("1.0 beta"));
        assert!(!is_name_safe(""));
        assert!(!is_name_safe("a/b"));
    }
}
