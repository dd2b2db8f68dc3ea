//! Access control by verified client identity (feature `tls`), in the spirit of python gear's
//! geard: per certificate subject (its common name), which functions it may register, which it
//! may submit jobs to, and whether it may use admin commands.

use std::collections::HashMap;
use std::path::Path;

/// Why an ACL file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct AclError {
    /// The file, or `line N`.
    pub what: String,
    /// What is wrong.
    pub message: String,
}

/// One subject's rights.
#[derive(Clone, Debug)]
struct Entry {
    register: Option<(String, regex::bytes::Regex)>,
    invoke: Option<(String, regex::bytes::Regex)>,
    admin: bool,
}

/// Who may do what. A connection without a verified certificate, or whose subject has no
/// entry, may do nothing that the ACL governs: register, submit, or use admin commands.
///
/// The file is geard's (an INI file, one section per subject common name), plus `admin`:
///
/// ```text
/// [zuul-scheduler]
/// invoke = build:.*
/// [ci-node-1]
/// register = build:.*
/// [ops]
/// invoke = .*
/// admin = true
/// ```
///
/// `register` and `invoke` are regular expressions matched, as python's `re.match` does, from
/// the start of the function name (`build:` allows `build:anything`; end with `$` to match the
/// whole name). geard's `grant` is accepted and ignored (there are no `acl grant` commands).
#[derive(Clone, Debug, Default)]
pub struct Acl {
    subjects: HashMap<String, Entry>,
}

/// Two ACLs are equal when they have the same subjects with the same rules.
impl PartialEq for Acl {
    fn eq(&self, other: &Self) -> bool {
        let key = |e: &Entry| {
            (
                e.register.as_ref().map(|r| r.0.clone()),
                e.invoke.as_ref().map(|r| r.0.clone()),
                e.admin,
            )
        };
        self.subjects.len() == other.subjects.len()
            && self
                .subjects
                .iter()
                .all(|(s, e)| other.subjects.get(s).is_some_and(|o| key(e) == key(o)))
    }
}

impl Eq for Acl {}

fn pattern(line: usize, text: &str) -> Result<(String, regex::bytes::Regex), AclError> {
    let re = regex::bytes::Regex::new(&format!("^(?:{text})")).map_err(|e| AclError {
        what: format!("line {line}"),
        message: e.to_string(),
    })?;
    Ok((text.to_string(), re))
}

fn boolean(line: usize, text: &str) -> Result<bool, AclError> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(AclError {
            what: format!("line {line}"),
            message: format!("{text:?} is not a boolean"),
        }),
    }
}

impl Acl {
    /// An ACL with no entries: nobody may do anything it governs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `subject` these rights (replacing any it had): functions it may register and
    /// submit to (regular expressions, `None` for none), and whether it may use admin commands.
    pub fn allow(
        mut self,
        subject: &str,
        register: Option<&str>,
        invoke: Option<&str>,
        admin: bool,
    ) -> Result<Self, AclError> {
        let entry = Entry {
            register: register.map(|r| pattern(0, r)).transpose()?,
            invoke: invoke.map(|r| pattern(0, r)).transpose()?,
            admin,
        };
        self.subjects.insert(subject.to_string(), entry);
        Ok(self)
    }

    /// Parses an ACL file's text (see above).
    pub fn parse(text: &str) -> Result<Self, AclError> {
        let mut acl = Self::new();
        let mut current: Option<String> = None;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim().to_string();
                if acl.subjects.contains_key(&name) {
                    return Err(AclError {
                        what: format!("line {n}"),
                        message: format!("a second section for {name}"),
                    });
                }
                acl.subjects.insert(
                    name.clone(),
                    Entry {
                        register: None,
                        invoke: None,
                        admin: false,
                    },
                );
                current = Some(name);
                continue;
            }
            let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else {
                return Err(AclError {
                    what: format!("line {n}"),
                    message: "neither a [subject] nor key = value".into(),
                });
            };
            let Some(entry) = current.as_ref().and_then(|c| acl.subjects.get_mut(c)) else {
                return Err(AclError {
                    what: format!("line {n}"),
                    message: "a setting before any [subject]".into(),
                });
            };
            let value = value.trim();
            match key.trim() {
                "register" => entry.register = Some(pattern(n, value)?),
                "invoke" => entry.invoke = Some(pattern(n, value)?),
                "admin" => entry.admin = boolean(n, value)?,
                "grant" => {
                    boolean(n, value)?;
                }
                other => {
                    return Err(AclError {
                        what: format!("line {n}"),
                        message: format!(
                            "unknown setting {other:?} (register, invoke, admin, grant)"
                        ),
                    })
                }
            }
        }
        Ok(acl)
    }

    /// Reads and parses an ACL file.
    pub fn from_file(path: &Path) -> Result<Self, AclError> {
        let text = std::fs::read_to_string(path).map_err(|e| AclError {
            what: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text).map_err(|e| AclError {
            what: format!("{}: {}", path.display(), e.what),
            message: e.message,
        })
    }

    fn entry(&self, subject: Option<&str>) -> Option<&Entry> {
        self.subjects.get(subject?)
    }

    /// Whether `subject` may register `function`.
    pub fn can_register(&self, subject: Option<&str>, function: &[u8]) -> bool {
        self.entry(subject)
            .and_then(|e| e.register.as_ref())
            .is_some_and(|(_, re)| re.is_match(function))
    }

    /// Whether `subject` may submit jobs to `function`.
    pub fn can_invoke(&self, subject: Option<&str>, function: &[u8]) -> bool {
        self.entry(subject)
            .and_then(|e| e.invoke.as_ref())
            .is_some_and(|(_, re)| re.is_match(function))
    }

    /// Whether `subject` may use admin commands.
    pub fn can_admin(&self, subject: Option<&str>) -> bool {
        self.entry(subject).is_some_and(|e| e.admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geard_files_parse_and_match_from_the_start() {
        let acl = Acl::parse(
            "# comment\n[sched]\ninvoke = build:.*\ngrant = True\n\n[node]\nregister=build:\n[ops]\ninvoke: .*\nadmin = yes\n",
        )
        .unwrap();
        assert!(acl.can_invoke(Some("sched"), b"build:x"));
        assert!(!acl.can_invoke(Some("sched"), b"other"));
        assert!(!acl.can_register(Some("sched"), b"build:x"));
        assert!(acl.can_register(Some("node"), b"build:anything"));
        assert!(!acl.can_register(Some("node"), b"xbuild:"));
        assert!(acl.can_admin(Some("ops")) && !acl.can_admin(Some("sched")));
        assert!(!acl.can_invoke(None, b"build:x"));
        assert!(!acl.can_invoke(Some("stranger"), b"build:x"));
        let exact = Acl::new().allow("a", Some("f$"), None, false).unwrap();
        assert!(exact.can_register(Some("a"), b"f") && !exact.can_register(Some("a"), b"fg"));
    }

    #[test]
    fn bad_files_are_errors_that_name_the_line() {
        for (text, line) in [
            ("invoke = x\n", "line 1"),
            ("[a]\ninvoke = (\n", "line 2"),
            ("[a]\nadmin = maybe\n", "line 2"),
            ("[a]\nfly = yes\n", "line 2"),
            ("[a]\n[a]\n", "line 2"),
            ("[a]\njunk\n", "line 2"),
        ] {
            assert_eq!(Acl::parse(text).unwrap_err().what, line, "{text:?}");
        }
    }
}
