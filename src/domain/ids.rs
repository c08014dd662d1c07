//! Identifier newtypes: a parsed id is non-empty, short, and made of `a-z 0-9 . _ -`.

use serde::Serialize;
use std::fmt;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the id is empty; give a short name such as `dinkes` or `env.air-quality`")]
    Empty,
    #[error("the id `{0}` is longer than 64 characters; shorten it")]
    TooLong(String),
    #[error(
        "the id `{0}` may only contain lowercase letters, digits, `.`, `_` and `-`, and must start with a letter or digit"
    )]
    BadCharacter(String),
}

fn check(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > 64 {
        return Err(IdError::TooLong(s.to_string()));
    }
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(IdError::BadCharacter(s.to_string()))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check(s).map(|_| Self(s.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// Id of a department (OPD), e.g. `diskominfo`.
    DepartmentId
);
id_type!(
    /// Id of a dimension, e.g. `governance`.
    DimensionId
);
id_type!(
    /// Id of a program, e.g. `gov.spbe`.
    ProgramId
);
id_type!(
    /// Id of an indicator, e.g. `gov.spbe.index`.
    IndicatorId
);
id_type!(
    /// Id of a polled feed, e.g. `dlh-ispu`.
    FeedId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        assert_eq!(
            IndicatorId::parse("env.air-quality_1").unwrap().as_str(),
            "env.air-quality_1"
        );
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(IndicatorId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            IndicatorId::parse("Dinkes"),
            Err(IdError::BadCharacter(_))
        ));
        assert!(matches!(
            IndicatorId::parse("-x"),
            Err(IdError::BadCharacter(_))
        ));
        assert!(matches!(
            IndicatorId::parse("a b"),
            Err(IdError::BadCharacter(_))
        ));
        assert!(matches!(
            IndicatorId::parse(&"a".repeat(65)),
            Err(IdError::TooLong(_))
        ));
    }
}
