//! The `filters` query parameter of list endpoints.
//!
//! Docker encodes filters as a JSON object mapping a filter name to a set of
//! values, either as `{"label":{"a=b":true}}` (current form, what the Go
//! client sends) or as `{"label":["a=b"]}` (legacy form). Both parse into
//! [`Filters`]; [`Filters::to_json`] produces the current form.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// Parsed filters: filter name → values (order of first appearance,
/// without duplicates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// No filters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parse the value of a `filters` query parameter (already URL-decoded).
    /// An empty or blank string means no filters.
    pub fn parse(json: &str) -> Result<Self, String> {
        let mut out = Self::new();
        if json.trim().is_empty() {
            return Ok(out);
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| format!("invalid filter format: {e}"))?;
        let obj = match value {
            Value::Object(obj) => obj,
            Value::Null => return Ok(out),
            other => {
                return Err(format!(
                    "invalid filter format: expected a JSON object, got {other}"
                ))
            }
        };
        for (name, values) in obj {
            // A name present with no values still counts as present for
            // `contains`, as in Go.
            out.fields.entry(name.clone()).or_default();
            match values {
                Value::Object(set) => {
                    for (v, flag) in set {
                        if !flag.is_boolean() {
                            return Err(format!(
                                "invalid filter format: value of '{name}' must map to booleans"
                            ));
                        }
                        out.add(name.clone(), v);
                    }
                }
                Value::Array(list) => {
                    for v in list {
                        match v {
                            Value::String(s) => out.add(name.clone(), s),
                            _ => {
                                return Err(format!(
                                    "invalid filter format: values of '{name}' must be strings"
                                ))
                            }
                        }
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(format!(
                        "invalid filter format: value of '{name}' must be an object or an array"
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Parse an optional query value; `None` means no filters.
    pub fn parse_opt(json: Option<&str>) -> Result<Self, String> {
        json.map_or_else(|| Ok(Self::new()), Self::parse)
    }

    /// Encode as Docker's current JSON form, `{"name":{"value":true}}`.
    /// Empty filters encode as `{}`.
    pub fn to_json(&self) -> String {
        let mut obj = Map::new();
        for (name, values) in &self.fields {
            let set: Map<String, Value> = values
                .iter()
                .map(|v| (v.clone(), Value::Bool(true)))
                .collect();
            obj.insert(name.clone(), Value::Object(set));
        }
        Value::Object(obj).to_string()
    }

    /// Add one value for `name` (ignored if already present).
    pub fn add(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let values = self.fields.entry(name.into()).or_default();
        let value = value.into();
        if !values.contains(&value) {
            values.push(value);
        }
    }

    /// Builder form of [`Filters::add`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.add(name, value);
        self
    }

    /// Add a CLI `--filter name=value` argument.
    pub fn add_arg(&mut self, arg: &str) -> Result<(), String> {
        match arg.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                self.add(name.trim().to_lowercase(), value.trim());
                Ok(())
            }
            _ => Err(format!("bad format of filter (expected name=value): {arg}")),
        }
    }

    /// Filters from CLI `--filter name=value` arguments.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Self, String> {
        let mut f = Filters::new();
        for a in args {
            f.add_arg(a.as_ref())?;
        }
        Ok(f)
    }

    /// Values given for `name` (empty if none).
    pub fn get(&self, name: &str) -> &[String] {
        self.fields.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether filter `name` was given.
    pub fn contains(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Number of distinct filter names.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Filter names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// `(name, values)` pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Fail on the first filter name not in `allowed`, with Docker's
    /// message `Invalid filter 'name'`.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), String> {
        match self.names().find(|n| !allowed.contains(n)) {
            Some(name) => Err(format!("Invalid filter '{name}'")),
            None => Ok(()),
        }
    }

    /// True when `name` has no values or `value` is one of them.
    pub fn exact_match(&self, name: &str, value: &str) -> bool {
        let values = self.get(name);
        values.is_empty() || values.iter().any(|v| v == value)
    }

    /// True when `name` has no values, or `value` equals or starts with one
    /// of them (Docker's `FuzzyMatch`, used for IDs).
    pub fn fuzzy_match(&self, name: &str, value: &str) -> bool {
        let values = self.get(name);
        values.is_empty() || values.iter().any(|v| value.starts_with(v.as_str()))
    }

    /// True when every `key` / `key=value` of filter `name` matches `labels`
    /// (Docker's `MatchKVList`, used for `label`).
    pub fn match_labels(&self, name: &str, labels: &HashMap<String, String>) -> bool {
        self.get(name).iter().all(|f| match f.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|lv| lv == v),
            None => labels.contains_key(f.as_str()),
        })
    }

    /// A boolean filter such as `dangling`: `None` when absent; accepts
    /// `true`/`1`/`false`/`0`.
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, String> {
        let values = self.get(name);
        let mut result = None;
        for v in values {
            let b = match v.to_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(format!("Invalid filter '{name}={v}'")),
            };
            if result.is_some_and(|r| r != b) {
                return Err(format!("Invalid filter '{name}': conflicting values"));
            }
            result = Some(b);
        }
        Ok(result)
    }
}

impl FromStr for Filters {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Filters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_map_form() {
        let f =
            Filters::parse(r#"{"label":{"a=b":true,"c":true},"status":{"running":true}}"#).unwrap();
        assert_eq!(f.get("label"), ["a=b".to_string(), "c".to_string()]);
        assert_eq!(f.get("status"), ["running".to_string()]);
        assert!(f.contains("label"));
        assert!(!f.contains("name"));
        assert!(f.get("name").is_empty());
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn parse_legacy_form() {
        let f = Filters::parse(r#"{"label":["a=b","a=b"],"dangling":["true"]}"#).unwrap();
        assert_eq!(f.get("label"), ["a=b".to_string()]);
        assert_eq!(f.get_bool("dangling"), Ok(Some(true)));
        assert_eq!(f.get_bool("other"), Ok(None));
    }

    #[test]
    fn parse_empty_and_bad() {
        assert!(Filters::parse("").unwrap().is_empty());
        assert!(Filters::parse("{}").unwrap().is_empty());
        assert!(Filters::parse_opt(None).unwrap().is_empty());
        assert!(Filters::parse("not json").is_err());
        assert!(Filters::parse("[1]").is_err());
        assert!(Filters::parse(r#"{"label":"a"}"#).is_err());
        assert!(Filters::parse(r#"{"label":[1]}"#).is_err());
        assert!(Filters::parse(r#"{"label":{"a":"yes"}}"#).is_err());
    }

    #[test]
    fn encode_roundtrip() {
        let f = Filters::new()
            .with("label", "a=b")
            .with("label", "c")
            .with("name", "web");
        let json = f.to_json();
        assert_eq!(
            json,
            r#"{"label":{"a=b":true,"c":true},"name":{"web":true}}"#
        );
        assert_eq!(Filters::parse(&json).unwrap(), f);
        assert_eq!(Filters::new().to_json(), "{}");
    }

    #[test]
    fn validate() {
        let f = Filters::parse(r#"{"label":{"a":true},"x":{"y":true}}"#).unwrap();
        assert_eq!(
            f.validate(&["label"]),
            Err("Invalid filter 'x'".to_string())
        );
        assert_eq!(f.validate(&["label", "x"]), Ok(()));
        assert_eq!(Filters::new().validate(&[]), Ok(()));
    }

    #[test]
    fn matching() {
        let f = Filters::new()
            .with("label", "a=b")
            .with("label", "c")
            .with("id", "abc")
            .with("status", "running");
        let mut labels = HashMap::new();
        labels.insert("a".to_string(), "b".to_string());
        labels.insert("c".to_string(), "anything".to_string());
        assert!(f.match_labels("label", &labels));
        labels.insert("a".to_string(), "x".to_string());
        assert!(!f.match_labels("label", &labels));
        assert!(f.match_labels("nolabel", &labels));
        assert!(f.exact_match("status", "running"));
        assert!(!f.exact_match("status", "exited"));
        assert!(f.exact_match("name", "whatever"));
        assert!(f.fuzzy_match("id", "abcdef"));
        assert!(!f.fuzzy_match("id", "bcd"));
    }

    #[test]
    fn cli_args() {
        let mut f = Filters::new();
        f.add_arg("label=a=b").unwrap();
        f.add_arg("dangling=true").unwrap();
        assert_eq!(f.get("label"), ["a=b".to_string()]);
        assert!(f.add_arg("novalue").is_err());
        let bad = Filters::new().with("dangling", "maybe");
        assert!(bad.get_bool("dangling").is_err());
    }
}
