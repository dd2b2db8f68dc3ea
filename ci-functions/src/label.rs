//! Names that end up inside Gearman function names: labels (label atoms) and project names.

use std::fmt;

/// Why a label or project name cannot be used in a function name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty.
    #[error("{what} is empty")]
    Empty {
        /// What was named.
        what: &'static str,
    },
    /// Holds a character that breaks Zuul's and nodepool's parsing of `build:P:L` (whitespace,
    /// `:`, NUL) or is not ASCII.
    #[error("{what} {name:?} contains {found:?}: whitespace, ':', NUL and non-ASCII characters are not allowed")]
    BadChar {
        /// What was named.
        what: &'static str,
        /// The name.
        name: String,
        /// The first offending character.
        found: char,
    },
    /// Longer than fits a function name (gearmand-compatible clients cap names at 512 bytes).
    #[error("{what} {name:?} is longer than {max} bytes")]
    TooLong {
        /// What was named.
        what: &'static str,
        /// The name.
        name: String,
        /// The limit.
        max: usize,
    },
}

/// Longest label or project name: `build:P:L` must stay within 512 bytes.
pub const MAX_NAME_LEN: usize = 200;

fn check(what: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { what });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            what,
            name: name.into(),
            max: MAX_NAME_LEN,
        });
    }
    if let Some(found) = name.chars().find(|c| {
        c.is_whitespace() || *c == ':' || *c == '\0' || !c.is_ascii() || c.is_ascii_control()
    }) {
        return Err(NameError::BadChar {
            what,
            name: name.into(),
            found,
        });
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates a name.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                check($what, &name)?;
                Ok(Self(name))
            }

            /// The name.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = NameError;
            fn try_from(s: &str) -> Result<Self, NameError> {
                Self::new(s)
            }
        }
    };
}

name_type!(
    /// A label atom, as nodes carry them and expressions name them: printable ASCII without
    /// whitespace or `:`.
    Label, "label"
);
name_type!(
    /// A project (job) name, the `P` of `build:P`: printable ASCII without whitespace or `:`.
    ProjectName, "project name"
);
name_type!(
    /// A CI master's name, the `M` of `stop:M` and `set_description:M` and the `manager` of
    /// WORK_DATA: printable ASCII without whitespace or `:`.
    ManagerName, "manager name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_break_function_names_are_refused() {
        assert!(Label::new("python-2.4").is_ok());
        assert!(Label::new("built-in").is_ok());
        for bad in ["", "a b", "a:b", "a\0b", "café", "tab\there"] {
            assert!(Label::new(bad).is_err(), "{bad:?}");
            assert!(ProjectName::new(bad).is_err(), "{bad:?}");
        }
        let e = ProjectName::new("nova:py27").unwrap_err();
        assert!(e.to_string().contains("':'"), "{e}");
        assert!(Label::new("x".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
