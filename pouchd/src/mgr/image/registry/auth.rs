//! Registry credentials: Docker's `AuthConfig` (the `X-Registry-Auth` header
//! and the body of `POST /auth`) and the login check against a registry's
//! `/v2/` endpoint (HTTP basic or bearer-token auth).

use super::{
    error_chain, install_crypto_provider, tls_error, tls_hint, RegResult, Registries, RegistryError,
};
use crate::error::Error;
use base64::Engine;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use std::time::Duration;

/// Docker's `types.AuthConfig`. Go decodes JSON keys case-insensitively, so
/// both spellings are accepted.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    #[serde(alias = "Username")]
    pub username: String,
    #[serde(alias = "Password")]
    pub password: String,
    /// base64 of `user:password` (the form config.json keeps).
    #[serde(alias = "Auth")]
    pub auth: String,
    #[serde(alias = "Email")]
    pub email: String,
    #[serde(alias = "ServerAddress", alias = "serverAddress")]
    pub serveraddress: String,
    /// An OAuth refresh token issued by a token server at login.
    #[serde(alias = "IdentityToken", alias = "identityToken")]
    pub identitytoken: String,
    /// A bearer token to send as is.
    #[serde(alias = "RegistryToken", alias = "registryToken")]
    pub registrytoken: String,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("serveraddress", &self.serveraddress)
            .field("has_password", &!self.password.is_empty())
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Decodes `X-Registry-Auth` (base64url JSON, padded or not). As in
    /// Docker, an undecodable header means no credentials.
    pub fn from_header(value: Option<&str>) -> Self {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return AuthConfig::default();
        };
        let engines = [
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
        ];
        for e in engines {
            if let Ok(raw) = e.decode(v) {
                if let Ok(a) = serde_json::from_slice::<AuthConfig>(&raw) {
                    return a.normalised();
                }
            }
        }
        tracing::debug!("ignoring an X-Registry-Auth header that does not decode");
        AuthConfig::default()
    }

    /// Fills username/password from `auth` when only that is set.
    pub fn normalised(mut self) -> Self {
        if self.username.is_empty() && !self.auth.is_empty() {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(self.auth.trim()) {
                if let Ok(s) = String::from_utf8(raw) {
                    if let Some((u, p)) = s.split_once(':') {
                        self.username = u.to_string();
                        self.password = p.to_string();
                    }
                }
            }
        }
        self
    }

    pub fn has_credentials(&self) -> bool {
        !self.username.is_empty()
            || !self.registrytoken.is_empty()
            || !self.identitytoken.is_empty()
    }

    /// The credentials oci-client sends.
    pub fn registry_auth(&self) -> RegistryAuth {
        if !self.registrytoken.is_empty() {
            RegistryAuth::Bearer(self.registrytoken.clone())
        } else if !self.username.is_empty() {
            RegistryAuth::Basic(self.username.clone(), self.password.clone())
        } else {
            RegistryAuth::Anonymous
        }
    }
}

/// The registry host of a login's `serveraddress` (`https://index.docker.io/v1/`,
/// `127.0.0.1:5000`, `http://host:5000/`).
pub fn login_host(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("").to_ascii_lowercase();
    match host.as_str() {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "registry-1.docker.io".to_string()
        }
        _ => host,
    }
}

/// One `WWW-Authenticate` challenge: scheme and parameters.
#[derive(Debug, Default, PartialEq)]
struct Challenge {
    scheme: String,
    realm: String,
    service: String,
}

/// Parses the first challenge of a `WWW-Authenticate` value
/// (`Bearer realm="https://auth/token",service="registry"`, `Basic realm="x"`).
fn parse_challenge(v: &str) -> Option<Challenge> {
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut c = Challenge {
        scheme: scheme.to_ascii_lowercase(),
        ..Default::default()
    };
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, ch)) = chars.next() {
                match ch {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => out.push(ch),
                }
            }
            (out, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        match key.as_str() {
            "realm" => c.realm = value,
            "service" => c.service = value,
            _ => {}
        }
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(c)
}

/// A client for `host` trusting its CAs (see [`Registries::ca_pems`]).
fn http_client(registries: &Registries, host: &str) -> RegResult<reqwest::Client> {
    install_crypto_provider();
    let mut roots = Vec::new();
    for pem in registries.ca_pems(host)? {
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::system(format!("CA of {host}: {}", error_chain(&e))))?;
        roots.extend(certs);
    }
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("pouchd/", env!("CARGO_PKG_VERSION")))
        .tls_certs_merge(roots)
        .build()
        .map_err(|e| Error::system(format!("http client: {}", error_chain(&e))).into())
}

/// Checks credentials against the registry of `auth.serveraddress` as
/// `docker login` does: `GET /v2/`, then basic auth on it or a token from
/// the realm of its bearer challenge. Returns the identity token to keep
/// (empty: keep username and password).
pub async fn login(registries: &Registries, auth: &AuthConfig) -> RegResult<String> {
    let host = login_host(&auth.serveraddress);
    let registries = &registries.clone().probed(&host).await?;
    let base = format!("{}://{host}/v2/", registries.scheme(&host));
    let client = http_client(registries, &host)?;
    let io_err = |e: reqwest::Error| -> RegistryError {
        let mut m = format!("Get \"{base}\": {}", error_chain(&e));
        if let Some(t) = tls_error(&e).filter(|_| !registries.is_insecure(&host)) {
            m.push_str(&tls_hint(&host, t));
        }
        Error::system(m).into()
    };
    let failed = |status: reqwest::StatusCode| {
        RegistryError::Unauthorized(format!(
            "login attempt to {base} failed with status: {status}"
        ))
    };
    let res = client.get(&base).send().await.map_err(io_err)?;
    if res.status().is_success() {
        // No authentication on this registry.
        return Ok(String::new());
    }
    if res.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::system(format!(
            "login attempt to {base} failed with status: {}",
            res.status()
        ))
        .into());
    }
    let challenge = res
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .find(|c| c.scheme == "bearer" || c.scheme == "basic")
        .ok_or_else(|| Error::system(format!("{base}: 401 without a usable challenge")))?;
    if auth.username.is_empty() && auth.identitytoken.is_empty() {
        return Err(RegistryError::Unauthorized(
            "unauthorized: a username and password are required".to_string(),
        ));
    }
    if challenge.scheme == "basic" {
        let res = client
            .get(&base)
            .basic_auth(&auth.username, Some(&auth.password))
            .send()
            .await
            .map_err(io_err)?;
        return if res.status().is_success() {
            Ok(String::new())
        } else {
            Err(failed(res.status()))
        };
    }
    // Bearer: ask the token server for a token with the credentials.
    let mut url = challenge.realm.clone();
    let res = if !auth.identitytoken.is_empty() {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", &auth.identitytoken)
            .append_pair("service", &challenge.service)
            .append_pair("client_id", "pouchd")
            .finish();
        client
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
    } else {
        // (The serializer is not Send: it must be gone before the await.)
        let query = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if !challenge.service.is_empty() {
                q.append_pair("service", &challenge.service);
            }
            q.append_pair("client_id", "pouchd")
                .append_pair("account", &auth.username)
                .append_pair("offline_token", "true")
                .finish()
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query);
        client
            .get(&url)
            .basic_auth(&auth.username, Some(&auth.password))
            .send()
            .await
    }
    .map_err(io_err)?;
    if !res.status().is_success() {
        return Err(failed(res.status()));
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Token {
        refresh_token: String,
    }
    let token: Token = res.json().await.unwrap_or_default();
    Ok(token.refresh_token)
}

/// The credentials for an operation on `path` of `host`: an identity token
/// (a refresh token from an earlier login) is traded for an access token
/// with the OAuth2 `refresh_token` grant, as Docker does; other credentials
/// go to oci-client as they are.
pub async fn resolve_auth(
    registries: &Registries,
    host: &str,
    path: &str,
    push: bool,
    auth: &AuthConfig,
) -> RegResult<RegistryAuth> {
    if auth.identitytoken.is_empty() || !auth.registrytoken.is_empty() {
        return Ok(auth.registry_auth());
    }
    let host = if host == "docker.io" {
        "registry-1.docker.io"
    } else {
        host
    };
    let base = format!("{}://{host}/v2/", registries.scheme(host));
    let client = http_client(registries, host)?;
    let io_err = |e: reqwest::Error| {
        RegistryError::from(Error::system(format!("{base}: {}", error_chain(&e))))
    };
    let res = client.get(&base).send().await.map_err(io_err)?;
    let challenge = res
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(parse_challenge)
        .find(|c| c.scheme == "bearer");
    let Some(challenge) = challenge else {
        // No token server: the identity token cannot be used.
        return Ok(auth.registry_auth());
    };
    let scope = format!(
        "repository:{path}:{}",
        if push { "pull,push" } else { "pull" }
    );
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("refresh_token", &auth.identitytoken)
        .append_pair("service", &challenge.service)
        .append_pair("scope", &scope)
        .append_pair("client_id", "pouchd")
        .finish();
    let res = client
        .post(&challenge.realm)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(io_err)?;
    if !res.status().is_success() {
        return Err(RegistryError::Unauthorized(format!(
            "unauthorized: the token server of {host} refused the identity token ({})",
            res.status()
        )));
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Token {
        access_token: String,
        token: String,
    }
    let t: Token = res.json().await.unwrap_or_default();
    let token = if t.access_token.is_empty() {
        t.token
    } else {
        t.access_token
    };
    if token.is_empty() {
        return Err(Error::system(format!("the token server of {host} sent no token")).into());
    }
    Ok(RegistryAuth::Bearer(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn header_decodes_every_docker_spelling() {
        let json = r#"{"username":"u","password":"p+/?","serveraddress":"127.0.0.1:5000"}"#;
        for e in [
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &base64::engine::general_purpose::STANDARD,
        ] {
            let a = AuthConfig::from_header(Some(&e.encode(json)));
            assert_eq!(a.username, "u");
            assert_eq!(a.password, "p+/?");
            assert!(matches!(a.registry_auth(), RegistryAuth::Basic(..)));
        }
        let empty = AuthConfig::from_header(Some("e30="));
        assert!(!empty.has_credentials());
        assert!(matches!(empty.registry_auth(), RegistryAuth::Anonymous));
        assert!(!AuthConfig::from_header(Some("%%%")).has_credentials());
        assert!(!AuthConfig::from_header(None).has_credentials());

        let token = base64::engine::general_purpose::URL_SAFE.encode(r#"{"registrytoken":"t"}"#);
        assert!(matches!(
            AuthConfig::from_header(Some(&token)).registry_auth(),
            RegistryAuth::Bearer(_)
        ));
        let basic = base64::engine::general_purpose::STANDARD.encode("me:secret");
        let a = AuthConfig::from_header(Some(
            &base64::engine::general_purpose::URL_SAFE.encode(format!(r#"{{"auth":"{basic}"}}"#)),
        ));
        assert_eq!((a.username.as_str(), a.password.as_str()), ("me", "secret"));
        assert!(!format!("{a:?}").contains("secret"));
    }

    #[test]
    fn login_hosts() {
        assert_eq!(login_host(""), "registry-1.docker.io");
        assert_eq!(
            login_host("https://index.docker.io/v1/"),
            "registry-1.docker.io"
        );
        assert_eq!(login_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(login_host("http://Reg.Example:5000/"), "reg.example:5000");
    }

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.realm, "https://auth.example/token");
        assert_eq!(c.service, "registry.example");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.realm, "Registry Realm");
        let c = parse_challenge("Basic").unwrap();
        assert_eq!(c.scheme, "basic");
    }
}
