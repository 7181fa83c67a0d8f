//! Image references normalised as Docker does: `busybox` is
//! `docker.io/library/busybox:latest`, and shown back in its familiar form.

use crate::error::{Error, Result};

const DEFAULT_DOMAIN: &str = "docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io/library/busybox`
    pub repo: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `s`; a reference without tag or digest gets `latest`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut r = Self::parse_any(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".to_string());
        }
        Ok(r)
    }

    /// Parses `s` without adding a default tag (for `tag`'s repository argument).
    pub fn parse_any(s: &str) -> Result<Self> {
        let bad = || Error::invalid(format!("invalid reference format: {s:?}"));
        if s.is_empty() || s.len() > 255 || s.chars().any(|c| c.is_whitespace()) {
            return Err(bad());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d.strip_prefix("sha256:").ok_or_else(bad)?;
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad());
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let (n, t) = rest.split_at(last_slash + i);
                (n, Some(t[1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return Err(bad());
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let domain = if parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            parts.remove(0).to_string()
        } else {
            DEFAULT_DOMAIN.to_string()
        };
        if parts.is_empty() || !parts.iter().all(|p| valid_component(p)) {
            return Err(bad());
        }
        let mut path = parts.join("/");
        if domain == DEFAULT_DOMAIN && parts.len() == 1 {
            path = format!("library/{path}");
        }
        Ok(Reference {
            repo: format!("{domain}/{path}"),
            tag,
            digest,
        })
    }

    /// The full name containerd stores: `docker.io/library/busybox:latest`.
    pub fn full(&self) -> String {
        let mut s = self.repo.clone();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

fn valid_component(p: &str) -> bool {
    // [a-z0-9]+ separated by '.', '_', '__' or runs of '-'.
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && p.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && p.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// The familiar form of a full name: `busybox:latest`, `me/app:1`, `localhost:5000/x:y`.
pub fn familiar(full: &str) -> String {
    let s = full.strip_prefix("docker.io/").unwrap_or(full);
    if full.starts_with("docker.io/") {
        if let Some(rest) = s.strip_prefix("library/") {
            if !rest.contains('/') {
                return rest.to_string();
            }
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("me/app", "docker.io/me/app:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"),
            (
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:latest",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Reference::parse(input).unwrap().full(), want, "{input}");
        }
    }

    #[test]
    fn familiar_strips_defaults() {
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/me/app:1"), "me/app:1");
        assert_eq!(familiar("localhost:5000/x:y"), "localhost:5000/x:y");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "UPPER",
            "a b",
            "x:",
            "x@sha256:12",
            "-x",
            "a//b",
            "x:-tag",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digest_references_keep_no_default_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.full(), format!("docker.io/library/busybox@{d}"));
    }
}
