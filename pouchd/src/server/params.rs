//! Query parameters and bodies as Docker clients send them: booleans as
//! 1/true/True/yes, `filters` as a JSON string, JSON bodies with or without a
//! content type.

use crate::error::{Error, Result};
use pouch_api::Filters;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Parsed query string (the last value of a repeated key wins).
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        if let Some(q) = raw {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Params(map)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Docker's rule: absent, "", "0", "no", "false", "none" are false; anything else true.
    pub fn bool(&self, key: &str) -> bool {
        match self.str(key) {
            None => false,
            Some(v) => !matches!(
                v.to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }

    /// Like [`Params::bool`] but with a default for an absent key.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        if self.0.contains_key(key) {
            self.bool(key)
        } else {
            default
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.str(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Error::invalid(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// A non-negative 32-bit value (terminal sizes); absent is 0.
    pub fn u32(&self, key: &str) -> Result<u32> {
        let v = self.int(key)?.unwrap_or(0);
        u32::try_from(v).map_err(|_| Error::invalid(format!("invalid {key}: {v}")))
    }

    pub fn filters(&self) -> Result<Filters> {
        Filters::parse_opt(self.str("filters")).map_err(Error::InvalidParameter)
    }
}

/// Decodes a JSON body; an empty body is `None`.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<Option<T>> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_like_docker() {
        let p = Params::parse(Some("a=1&b=True&c=yes&d=0&e=false&f="));
        assert!(p.bool("a") && p.bool("b") && p.bool("c"));
        assert!(!p.bool("d") && !p.bool("e") && !p.bool("f") && !p.bool("missing"));
        assert!(p.bool_or("missing", true));
    }

    #[test]
    fn bad_ints_are_400() {
        let p = Params::parse(Some("t=abc"));
        assert!(matches!(p.int("t"), Err(Error::InvalidParameter(_))));
        assert_eq!(Params::parse(Some("t=5")).int("t").unwrap(), Some(5));
    }

    #[test]
    fn bad_json_is_400() {
        assert!(matches!(
            json_body::<serde_json::Value>(b"{nope"),
            Err(Error::InvalidParameter(_))
        ));
        assert!(json_body::<serde_json::Value>(b"  ").unwrap().is_none());
    }
}
