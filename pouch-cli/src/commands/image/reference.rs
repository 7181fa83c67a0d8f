//! Image references as the docker CLI normalizes them
//! (`reference.ParseNormalizedNamed`): `busybox` is
//! `docker.io/library/busybox`, `localhost:5000/x:v1` keeps its registry.

/// The registry that bare names live in.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The key Docker Hub's credentials are stored under in config.json.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// A parsed, normalized reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (`docker.io`, `127.0.0.1:5000`).
    pub domain: String,
    /// Repository path in the registry (`library/busybox`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parse and normalize `s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let invalid = || "invalid reference format".to_string();
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        let slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[slash..].rfind(':') {
            Some(i) => (&name_tag[..slash + i], Some(&name_tag[slash + i + 1..])),
            None => (name_tag, None),
        };
        if name.is_empty() {
            return Err(invalid());
        }
        let (domain, path) = match name.split_once('/') {
            Some((d, p)) if d.contains(['.', ':']) || d == "localhost" || d != d.to_lowercase() => {
                (d.to_string(), p.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("invalid reference format: repository name must be lowercase".into());
        }
        let valid_domain = !domain.is_empty()
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        let valid_path = path.split('/').all(|comp| {
            !comp.is_empty()
                && comp.starts_with(|c: char| c.is_ascii_alphanumeric())
                && comp.ends_with(|c: char| c.is_ascii_alphanumeric())
                && comp.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
        });
        let valid_tag = tag.is_none_or(|t| {
            !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        });
        let valid_digest = digest.is_none_or(|d| {
            d.split_once(':').is_some_and(|(alg, hex)| {
                !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
            })
        });
        if !valid_domain || !valid_path || !valid_tag || !valid_digest {
            return Err(invalid());
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        Ok(Self {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// Neither tag nor digest given.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The short name (`busybox`, `me/app`, `127.0.0.1:5000/x`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The full name with `latest` when no tag or digest was given
    /// (`docker.io/library/busybox:latest`), as `docker pull` prints it.
    pub fn full_string(&self) -> String {
        if self.is_name_only() {
            format!("{}:latest", self.normalized_string())
        } else {
            self.normalized_string()
        }
    }

    /// The full name as given (`docker.io/library/busybox`), as
    /// `docker push -q` prints it.
    pub fn normalized_string(&self) -> String {
        let mut s = format!("{}/{}", self.domain, self.path);
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

    /// The `tag` query value of pull: the digest, else the tag, else
    /// `latest` (Go's `getAPITagFromNamedRef`).
    pub fn api_tag(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".to_string())
    }

    /// The config.json key of this reference's registry.
    pub fn auth_key(&self) -> String {
        auth_key(&self.domain)
    }
}

/// The config.json key of a registry given as a host or URL: Docker Hub's
/// names all map to [`INDEX_SERVER`]; others are reduced to their host
/// (`https://h:5000/v2/` → `h:5000`), as `docker login` stores them.
pub fn auth_key(server: &str) -> String {
    let host = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => INDEX_SERVER.to_string(),
        h => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.domain, "docker.io");
        assert_eq!(r.path, "library/busybox");
        assert!(r.is_name_only());
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.full_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.normalized_string(), "docker.io/library/busybox");
        assert_eq!(r.api_tag(), "latest");
        assert_eq!(r.auth_key(), INDEX_SERVER);

        let r = Reference::parse("127.0.0.1:5000/test/busybox:v1").unwrap();
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.path, "test/busybox");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.familiar_name(), "127.0.0.1:5000/test/busybox");
        assert_eq!(r.full_string(), "127.0.0.1:5000/test/busybox:v1");
        assert_eq!(r.auth_key(), "127.0.0.1:5000");

        let r = Reference::parse("me/app:1.0").unwrap();
        assert_eq!(r.familiar_name(), "me/app");
        assert_eq!(r.full_string(), "docker.io/me/app:1.0");
        let r = Reference::parse("localhost/app").unwrap();
        assert_eq!(r.domain, "localhost");

        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.api_tag(), d);
        assert_eq!(r.full_string(), format!("docker.io/library/busybox@{d}"));
    }

    #[test]
    fn rejects_bad_references() {
        assert_eq!(
            Reference::parse("BusyBox"),
            Err("invalid reference format: repository name must be lowercase".into())
        );
        for bad in ["", ":v1", "a//b", "box:", "box:-x", "box@sha256:zz", "a b"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auth_keys() {
        assert_eq!(auth_key(""), INDEX_SERVER);
        assert_eq!(auth_key("docker.io"), INDEX_SERVER);
        assert_eq!(auth_key("https://index.docker.io/v1/"), INDEX_SERVER);
        assert_eq!(auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(auth_key("https://reg.example.com/v2/"), "reg.example.com");
    }
}
