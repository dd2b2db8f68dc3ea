//! Names given as text or already validated: what the builder's name-taking methods accept.

use gearman_proto::{ClientId, FieldError, FunctionName};

/// A function name or client id, as text (`&str`, `String`) or already validated
/// ([`FunctionName`], [`ClientId`]).
///
/// Text is checked when it is used: the builder keeps the first invalid name and
/// [`WorkerBuilder::spawn`](super::WorkerBuilder::spawn) reports it as
/// [`BuildError::InvalidName`](super::BuildError::InvalidName); methods of a running
/// [`Worker`](super::Worker) report it from their call.
pub trait IntoName<T> {
    /// The validated name, or why the text is not one.
    fn into_name(self) -> Result<T, InvalidName>;
}

/// A name that the protocol does not allow (empty, too long, or with a NUL byte).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {name:?}: {reason}")]
pub struct InvalidName {
    /// The name as given (lossy UTF-8).
    pub name: String,
    /// What is wrong with it.
    pub reason: FieldError,
}

macro_rules! into_name {
    ($t:ty) => {
        impl IntoName<$t> for $t {
            fn into_name(self) -> Result<$t, InvalidName> {
                Ok(self)
            }
        }

        impl IntoName<$t> for &$t {
            fn into_name(self) -> Result<$t, InvalidName> {
                Ok(self.clone())
            }
        }

        impl IntoName<$t> for &str {
            fn into_name(self) -> Result<$t, InvalidName> {
                <$t>::try_from(self).map_err(|reason| InvalidName {
                    name: self.to_owned(),
                    reason,
                })
            }
        }

        impl IntoName<$t> for String {
            fn into_name(self) -> Result<$t, InvalidName> {
                self.as_str().into_name()
            }
        }

        impl IntoName<$t> for &String {
            fn into_name(self) -> Result<$t, InvalidName> {
                self.as_str().into_name()
            }
        }
    };
}

into_name!(FunctionName);
into_name!(ClientId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_validated_names_give_the_same_name() {
        let from_str: FunctionName = "reverse".into_name().unwrap();
        let from_string: FunctionName = String::from("reverse").into_name().unwrap();
        let validated = FunctionName::try_from("reverse").unwrap();
        assert_eq!(from_str, validated);
        assert_eq!(from_string, validated);
        assert_eq!((&validated).into_name().unwrap(), validated);
    }

    #[test]
    fn invalid_text_names_say_what_is_wrong() {
        let empty = IntoName::<FunctionName>::into_name("").unwrap_err();
        assert!(matches!(empty.reason, FieldError::Empty { .. }), "{empty}");
        let nul = IntoName::<ClientId>::into_name("a\0b").unwrap_err();
        assert!(matches!(nul.reason, FieldError::Nul { .. }), "{nul}");
        assert_eq!(nul.name, "a\0b");
    }
}
