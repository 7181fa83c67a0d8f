//! Volume names: Docker's rule for the local driver, and the random names
//! of anonymous volumes.

use crate::error::{Error, Result};

/// Docker's `names.RestrictedNameChars`, quoted in its error message.
const RESTRICTED_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// Checks `name` against `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`. The rule also keeps
/// every name a single path component that is neither `.` nor `..`, which
/// is what lets a name be joined onto the volumes root.
pub fn validate_name(name: &str) -> Result<()> {
    if name.len() == 1 {
        return Err(Error::invalid(format!(
            "create {name}: volume name is too short, names should be at least two alphanumeric characters"
        )));
    }
    let mut b = name.bytes();
    let ok = b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c));
    if !ok {
        return Err(Error::invalid(format!(
            "create {name}: {name:?} includes invalid characters for a local volume name, only \"{RESTRICTED_CHARS}\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

/// 64 random hex digits, as Docker names anonymous volumes.
pub fn anonymous_name() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker_rules() {
        for ok in ["data", "a1", "my_vol.1-x", "0abc"] {
            validate_name(ok).unwrap();
        }
        for bad in [
            "", "a", "..", ".x", "-x", "_x", "a/b", "../etc", "a b", "a:b", "é1",
        ] {
            let e = validate_name(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidParameter(_)), "{bad}: {e}");
        }
        let e = validate_name("a/b").unwrap_err().to_string();
        assert_eq!(
            e,
            "create a/b: \"a/b\" includes invalid characters for a local volume name, only \
             \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        );
        let n = anonymous_name();
        assert_eq!(n.len(), 64);
        validate_name(&n).unwrap();
    }
}
