//! Which registries are reached how: plain HTTP or HTTPS
//! (`--insecure-registries`, loopback probing), the CAs of each
//! (`--registry-certs-dir`, Docker's certs.d layout), the mirrors of
//! docker.io (`--registry-mirrors`), and a registry client built from that.

use super::{error_chain, install_crypto_provider, tls_error, tls_hint};
use crate::error::Error;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Hosts that are reached over plain HTTP.
///
/// As in Docker, loopback registries (`localhost`, `127.0.0.0/8`, `::1`) are
/// insecure without configuration; `--insecure-registries` adds entries:
/// `host:port`, `host` (that host on the default port), `host:*` (any port)
/// or a CIDR (`10.0.0.0/8`, matching IP literals).
///
/// Also the other per-registry settings: `--registry-mirrors` (tried first
/// for docker.io, as in Docker) and the CAs of `<certs dir>/<host[:port]>/*.crt`
/// (Docker's `certs.d` layout).
#[derive(Debug, Clone, Default)]
pub struct Registries {
    insecure: Vec<Pattern>,
    /// Mirror hosts of docker.io, in order.
    mirrors: Vec<String>,
    /// `certs.d`-like directories; a host's CAs are read from each.
    certs_dirs: Vec<PathBuf>,
    /// Loopback hosts found to speak TLS (see [`Registries::probed`]).
    tls_loopback: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Exact(String),
    AnyPort(String),
    Cidr(IpAddr, u8),
}

impl Registries {
    /// Parses the `--insecure-registries` entries.
    pub fn new(insecure: &[String]) -> crate::Result<Self> {
        let mut out = Vec::new();
        for raw in insecure {
            let e = raw
                .trim()
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches('/')
                .to_ascii_lowercase();
            let bad = || Error::invalid(format!("invalid insecure registry {raw:?}"));
            if e.is_empty() || e.chars().any(|c| c.is_whitespace()) {
                return Err(bad());
            }
            if let Some((ip, bits)) = e.split_once('/') {
                let ip: IpAddr = ip.parse().map_err(|_| bad())?;
                let bits: u8 = bits.parse().map_err(|_| bad())?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                if bits > max {
                    return Err(bad());
                }
                out.push(Pattern::Cidr(ip, bits));
            } else if let Some(host) = e.strip_suffix(":*") {
                out.push(Pattern::AnyPort(host.to_string()));
            } else {
                out.push(Pattern::Exact(e));
            }
        }
        Ok(Registries {
            insecure: out,
            ..Default::default()
        })
    }

    /// Adds the `--registry-mirrors` entries (`https://mirror.example`,
    /// `http://10.0.0.5:5000`; a plain-HTTP mirror is reached over HTTP).
    pub fn with_mirrors(mut self, mirrors: &[String]) -> crate::Result<Self> {
        for raw in mirrors {
            let bad = |why: &str| Error::invalid(format!("invalid registry mirror {raw:?}: {why}"));
            let t = raw.trim();
            let (http, rest) = if let Some(r) = t.strip_prefix("http://") {
                (true, r)
            } else if let Some(r) = t.strip_prefix("https://") {
                (false, r)
            } else {
                return Err(bad("want http:// or https:// and a host"));
            };
            let host = rest.trim_end_matches('/').to_ascii_lowercase();
            if host.is_empty() || host.contains('/') || host.chars().any(|c| c.is_whitespace()) {
                return Err(bad("want a host[:port] without a path"));
            }
            if http && !self.is_listed(&host) {
                self.insecure.push(Pattern::Exact(host.clone()));
            }
            self.mirrors.push(host);
        }
        Ok(self)
    }

    /// Sets the directories holding per-registry CAs (`<dir>/<host:port>/*.crt`).
    pub fn with_certs_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.certs_dirs = dirs;
        self
    }

    /// The mirrors to try before `host` (only docker.io has any, as in Docker).
    pub fn mirrors_for(&self, host: &str) -> Vec<String> {
        if host == "docker.io" {
            self.mirrors.clone()
        } else {
            Vec::new()
        }
    }

    /// The PEM CA certificates trusted for `host`: every `*.crt` in
    /// `<dir>/<host>/` of each certs directory.
    pub fn ca_pems(&self, host: &str) -> crate::Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        // A host name never holds a path separator, but a client could send one.
        if host.contains('/') || host.contains("..") {
            return Ok(out);
        }
        for dir in &self.certs_dirs {
            let d = dir.join(host);
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::system(format!("{}: {e}", d.display()))),
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect();
            files.sort();
            for f in files {
                let pem = std::fs::read(&f)
                    .map_err(|e| Error::system(format!("{}: {e}", f.display())))?;
                out.push(pem);
            }
        }
        Ok(out)
    }

    /// Whether `host` (`name[:port]`, `[v6]:port`) is reached over plain HTTP.
    pub fn is_insecure(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.tls_loopback.contains(&host) {
            return false;
        }
        self.is_loopback(&host) || self.is_listed(&host)
    }

    fn is_loopback(&self, host: &str) -> bool {
        let name = host_name(host);
        name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Settings for an operation on `host`. A loopback registry that is not
    /// listed as insecure is insecure only by default: unlike Docker, which
    /// then skips certificate checks, it is tried over verified HTTPS first
    /// and reached over plain HTTP only when it does not speak TLS. A bad
    /// certificate is an error.
    pub async fn probed(mut self, host: &str) -> crate::Result<Self> {
        let host = host.to_ascii_lowercase();
        if !self.is_loopback(&host) || self.is_listed(&host) {
            return Ok(self);
        }
        install_crypto_provider();
        let mut roots = Vec::new();
        for pem in self.ca_pems(&host)? {
            roots.extend(
                reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| Error::system(format!("CA of {host}: {}", error_chain(&e))))?,
            );
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(10))
            .tls_certs_merge(roots)
            .build()
            .map_err(|e| Error::system(format!("http client: {}", error_chain(&e))))?;
        match client.get(format!("https://{host}/v2/")).send().await {
            Ok(_) => self.tls_loopback.push(host),
            Err(e) => {
                if let Some(t @ rustls::Error::InvalidCertificate(_)) = tls_error(&e) {
                    return Err(Error::system(format!(
                        "Get \"https://{host}/v2/\": {}{}",
                        error_chain(&e),
                        tls_hint(&host, t)
                    )));
                }
            }
        }
        Ok(self)
    }

    /// Whether `host` matches an `--insecure-registries` entry.
    fn is_listed(&self, host: &str) -> bool {
        let name = host_name(host);
        let ip: Option<IpAddr> = name.parse().ok();
        self.insecure.iter().any(|p| match p {
            Pattern::Exact(e) => *e == host,
            Pattern::AnyPort(h) => h == name,
            Pattern::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
        })
    }

    /// A registry client for `host`, trusting its CAs. A new one per
    /// operation: oci-client keeps the first credentials it saw for a
    /// registry.
    pub fn client(&self, host: &str) -> crate::Result<oci_client::Client> {
        install_crypto_provider();
        let protocol = if self.is_insecure(host) {
            ClientProtocol::HttpsExcept(vec![host.to_string()])
        } else {
            ClientProtocol::Https
        };
        let extra_root_certificates = self
            .ca_pems(host)?
            .iter()
            .flat_map(|pem| pem_blocks(pem))
            .map(|data| Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            })
            .collect();
        oci_client::Client::try_from(ClientConfig {
            protocol,
            use_monolithic_push: true,
            platform_resolver: None,
            extra_root_certificates,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(120)),
            user_agent: concat!("pouchd/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        })
        .map_err(|e| Error::system(format!("registry client for {host}: {}", error_chain(&e))))
    }

    /// `http` or `https` for `host`.
    pub fn scheme(&self, host: &str) -> &'static str {
        if self.is_insecure(host) {
            "http"
        } else {
            "https"
        }
    }
}

/// The certificates of a PEM bundle, one PEM each (oci-client reads one
/// certificate per entry).
fn pem_blocks(pem: &[u8]) -> Vec<Vec<u8>> {
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(pem);
    text.split_inclusive(END)
        .filter(|b| b.contains(END))
        .map(|b| b.trim_start().as_bytes().to_vec())
        .collect()
}

/// The host part of `host[:port]` / `[v6][:port]`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_matching() {
        let r = Registries::new(&[
            "myreg.example:5000".to_string(),
            "http://other.example:*".to_string(),
            "10.1.0.0/16".to_string(),
        ])
        .unwrap();
        assert!(r.is_insecure("myreg.example:5000"));
        assert!(!r.is_insecure("myreg.example:5001"));
        assert!(!r.is_insecure("myreg.example"));
        assert!(r.is_insecure("other.example:1234"));
        assert!(r.is_insecure("other.example"));
        assert!(r.is_insecure("10.1.2.3:5000"));
        assert!(!r.is_insecure("10.2.2.3:5000"));
        assert!(r.is_insecure("127.0.0.1:5000"));
        assert!(r.is_insecure("localhost:5000"));
        assert!(r.is_insecure("[::1]:5000"));
        assert!(!r.is_insecure("docker.io"));
        assert!(!Registries::default().is_insecure("registry.example:5000"));
        assert_eq!(r.scheme("docker.io"), "https");
        assert_eq!(r.scheme("10.1.0.1"), "http");
    }

    #[test]
    fn bad_insecure_entries() {
        for bad in ["", "a b", "10.0.0.0/40", "x/y"] {
            assert!(Registries::new(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }
}
