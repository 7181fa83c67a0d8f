//! URL building: percent-encoding and query strings.

use std::fmt::Write as _;

/// Percent-encode everything but RFC 3986 unreserved characters and the
/// bytes in `keep`.
fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Encode a query key or value.
pub(crate) fn encode_query(s: &str) -> String {
    encode(s, &[])
}

/// Encode a path segment that may hold a container name or an image
/// reference: `/`, `:` and `@` are kept as Docker's Go client does
/// (`/images/docker.io/library/busybox:latest/json`).
pub(crate) fn encode_path(s: &str) -> String {
    encode(s, b"/:@")
}

/// An ordered list of query parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(Vec<(&'static str, String)>);

impl Query {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Always set `key=value`.
    pub(crate) fn set(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.0.push((key, value.into()));
        self
    }

    /// Set `key=value` when `value` is `Some`.
    pub(crate) fn opt(self, key: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Set `key=1` when `flag` is true (omitted otherwise, as the Go client).
    pub(crate) fn flag(self, key: &'static str, flag: bool) -> Self {
        if flag {
            self.set(key, "1")
        } else {
            self
        }
    }

    /// Render as `?a=b&c=d`, or `""` when empty.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&encode_query(k));
            out.push('=');
            out.push_str(&encode_query(v));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes() {
        assert_eq!(
            encode_query(r#"{"a":["b c"]}"#),
            "%7B%22a%22%3A%5B%22b%20c%22%5D%7D"
        );
        assert_eq!(
            encode_path("docker.io/library/busybox:1.36"),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(encode_path("a b?#%"), "a%20b%3F%23%25");
        assert_eq!(encode_query("é"), "%C3%A9");
    }

    #[test]
    fn renders() {
        assert_eq!(Query::new().render(), "");
        let q = Query::new()
            .flag("all", true)
            .flag("size", false)
            .opt("limit", Some("3"))
            .opt("name", None::<String>)
            .set("t", "10");
        assert_eq!(q.render(), "?all=1&limit=3&t=10");
    }
}
