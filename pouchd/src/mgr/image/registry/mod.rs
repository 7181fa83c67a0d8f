//! Talking to image registries (Docker Registry v2 / OCI distribution) with
//! `oci-client`: which hosts speak plain HTTP, credentials from
//! `X-Registry-Auth`, registry errors in Docker's words, and the JSON
//! progress stream of pull and push.

mod auth;
#[cfg(test)]
pub(crate) mod fake;
mod hosts;
mod progress;
#[cfg(test)]
mod pull_fault_tests;
#[cfg(test)]
mod pull_tests;

pub use auth::{login, resolve_auth, AuthConfig};
pub use hosts::Registries;
pub(super) use progress::counting;
pub use progress::{short_id, Progress};

use crate::error::Error;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::fmt;

/// The error of a registry operation. The daemon's [`Error`] has no
/// "unauthorized" or "forbidden" kind, and Docker answers those with 401 and
/// 403, so they are kept apart here.
#[derive(Debug)]
pub enum RegistryError {
    /// The registry wants (other) credentials (401).
    Unauthorized(String),
    /// The credentials are good but not allowed to do this (403).
    Denied(String),
    Other(Error),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Unauthorized(m) | RegistryError::Denied(m) => f.write_str(m),
            RegistryError::Other(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RegistryError {}

impl From<Error> for RegistryError {
    fn from(e: Error) -> Self {
        RegistryError::Other(e)
    }
}

/// Result of registry operations.
pub type RegResult<T> = std::result::Result<T, RegistryError>;

/// reqwest is built without a TLS crypto provider (the default one is a
/// slow C build): rustls' ring provider is installed once, before any client.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is installed already: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Registry host (`docker.io`, `127.0.0.1:5000`) and path of a normalised repo.
pub fn split_repo(repo: &str) -> (&str, &str) {
    repo.split_once('/').unwrap_or(("docker.io", repo))
}

/// The oci-client reference of a normalised pouch reference.
pub fn oci_reference(repo: &str, tag: Option<&str>, digest: Option<&str>) -> oci_client::Reference {
    let (host, path) = split_repo(repo);
    match (digest, tag) {
        (Some(d), _) => oci_client::Reference::with_digest(host.into(), path.into(), d.into()),
        (None, t) => {
            oci_client::Reference::with_tag(host.into(), path.into(), t.unwrap_or("latest").into())
        }
    }
}

/// The oci-client reference of `path` (`library/busybox`) on `host`, which
/// may be a mirror of the repository's own registry.
pub fn oci_reference_at(
    host: &str,
    path: &str,
    tag: Option<&str>,
    digest: Option<&str>,
) -> oci_client::Reference {
    match (digest, tag) {
        (Some(d), _) => oci_client::Reference::with_digest(host.into(), path.into(), d.into()),
        (None, t) => {
            oci_client::Reference::with_tag(host.into(), path.into(), t.unwrap_or("latest").into())
        }
    }
}

/// The TLS error somewhere in `e`'s causes, if a handshake failed (as it
/// does when an HTTPS client meets a plain-HTTP registry or an unknown CA).
fn tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        // io::Error's source() skips the error it wraps (which may be
        // another io::Error): look inside.
        if let Some(inner) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(t) = tls_error(inner) {
                return Some(t);
            }
        }
        cur = c.source();
    }
    None
}

/// Docker's words for a TLS failure talking to `host`, with what to do.
pub fn tls_hint(host: &str, e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => {
            let what = match c {
                rustls::CertificateError::UnknownIssuer => {
                    "x509: certificate signed by unknown authority".to_string()
                }
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. } => {
                    format!("x509: certificate is not valid for {host}")
                }
                other => format!("x509: {other:?}"),
            };
            format!(
                " ({what}: put the registry's CA in <--registry-certs-dir>/{host}/ca.crt, \
                 e.g. /etc/pouch/certs.d/{host}/ca.crt)"
            )
        }
        _ => format!(
            " (if {host} serves plain HTTP, start pouchd with --insecure-registries {host})"
        ),
    }
}

/// An error and its causes, `a: b: c`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// What an operation was doing, for error messages.
pub struct Doing<'a> {
    /// The reference as the user wrote it, familiar (`busybox:latest`).
    pub name: &'a str,
    /// The registry host.
    pub host: &'a str,
    /// Whether the host is reached over plain HTTP.
    pub insecure: bool,
    /// Whether credentials were sent.
    pub with_credentials: bool,
    /// Pushing (else pulling).
    pub push: bool,
}

/// Turns an oci-client error into Docker-like words and kinds.
pub fn map_error(e: OciDistributionError, what: &Doing<'_>) -> RegistryError {
    let name = what.name;
    let unauthorized = || {
        if what.with_credentials {
            RegistryError::Unauthorized(format!(
                "unauthorized: access to {name} denied: incorrect username or password"
            ))
        } else {
            RegistryError::Unauthorized(format!(
                "unauthorized: authentication required for {name} (run `docker login {}`)",
                what.host
            ))
        }
    };
    match e {
        OciDistributionError::UnauthorizedError { .. } => unauthorized(),
        OciDistributionError::AuthenticationFailure(reason) => {
            RegistryError::Unauthorized(format!(
                "unauthorized: authentication with {} failed: {reason}",
                what.host
            ))
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let Some(first) = envelope.errors.first() else {
                return Error::system(format!("{name}: registry error")).into();
            };
            let msg = if first.message.is_empty() {
                "no message".to_string()
            } else {
                first.message.clone()
            };
            match &first.code {
                OciErrorCode::ManifestUnknown => Error::not_found(format!(
                    "manifest for {name} not found: manifest unknown: {msg}"
                ))
                .into(),
                OciErrorCode::NameUnknown => Error::not_found(format!(
                    "pull access denied for {name}, repository does not exist or may require 'docker login': name unknown: {msg}"
                ))
                .into(),
                OciErrorCode::BlobUnknown | OciErrorCode::NotFound => {
                    Error::not_found(format!("{name}: not found: {msg}")).into()
                }
                OciErrorCode::Unauthorized => unauthorized(),
                OciErrorCode::Denied if what.push => RegistryError::Denied(format!(
                    "denied: requested access to {name} is denied: {msg}"
                )),
                OciErrorCode::Denied => RegistryError::Denied(format!(
                    "pull access denied for {name}, repository does not exist or may require 'docker login': denied: {msg}"
                )),
                OciErrorCode::Toomanyrequests => Error::Unavailable(format!(
                    "toomanyrequests: {msg}"
                ))
                .into(),
                other => Error::system(format!("{name}: {other:?}: {msg}")).into(),
            }
        }
        OciDistributionError::ServerError { code, url, message } => match code {
            401 => unauthorized(),
            403 => RegistryError::Denied(format!("denied: requested access to {name} is denied")),
            404 => Error::not_found(format!("manifest for {name} not found: {url}: 404")).into(),
            _ => Error::system(format!(
                "{url}: registry answered {code}: {}",
                message.trim()
            ))
            .into(),
        },
        OciDistributionError::RequestError(err) if err.status().is_some() => {
            let code = err.status().map(|s| s.as_u16()).unwrap_or_default();
            match code {
                401 => unauthorized(),
                403 => {
                    RegistryError::Denied(format!("denied: requested access to {name} is denied"))
                }
                404 => Error::not_found(format!("{name}: not found in {}", what.host)).into(),
                _ => Error::system(format!("{}: {}", what.host, error_chain(&err))).into(),
            }
        }
        OciDistributionError::RequestError(err) => {
            let mut m = format!("{}: {}", what.host, error_chain(&err));
            if let Some(t) = tls_error(&err).filter(|_| !what.insecure) {
                m.push_str(&tls_hint(what.host, t));
            }
            Error::system(m).into()
        }
        other => Error::system(format!("{name}: {}", error_chain(&other))).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_references() {
        let r = oci_reference("docker.io/library/busybox", Some("1.36"), None);
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), Some("1.36"));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = oci_reference("127.0.0.1:5000/test/busybox", None, Some(&d));
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.digest(), Some(d.as_str()));
    }
}
