//! The client config file (`$POUCH_CONFIG/config.json`, else
//! `~/.pouch/config.json`) in Docker's format, for registry credentials:
//! `{"auths": {"<server>": {"auth": "<base64 user:password>"}}}`. Keys
//! this CLI does not know are kept as they are.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use pouch_api::image::AuthConfig;
use serde_json::{Map, Value};

use crate::commands::image::reference::auth_key;

/// The config file's path from the environment.
pub fn default_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("POUCH_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .unwrap_or_else(|| PathBuf::from("/"));
    home.join(".pouch").join("config.json")
}

/// A loaded config file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl ConfigFile {
    /// Read `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, String> {
        let doc = match std::fs::read(path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(b) => serde_json::from_slice::<Map<String, Value>>(&b)
                .map_err(|e| format!("loading config file {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(format!("loading config file {}: {e}", path.display())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// The stored credentials of `server` (a config.json key). Keys that
    /// docker wrote as URLs (`https://host:5000/v2/`) match their host.
    pub fn get_auth(&self, server: &str) -> Option<AuthConfig> {
        let auths = self.auths()?;
        let entry = auths
            .get(server)
            .or_else(|| {
                auths
                    .iter()
                    .find(|(k, _)| auth_key(k) == auth_key(server))
                    .map(|(_, v)| v)
            })?
            .as_object()?;
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut auth = AuthConfig {
            serveraddress: server.to_string(),
            identitytoken: field("identitytoken"),
            ..Default::default()
        };
        let encoded = field("auth");
        if !encoded.is_empty() {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let text = String::from_utf8(raw).ok()?;
            let (user, pass) = text.split_once(':')?;
            auth.username = user.to_string();
            auth.password = pass.to_string();
        }
        if auth.username.is_empty() && auth.identitytoken.is_empty() {
            return None;
        }
        Some(auth)
    }

    /// Store credentials for `server`: a password, or an identity token
    /// when the registry gave one (the password is then not kept).
    pub fn set_auth(&mut self, server: &str, username: &str, password: &str, token: &str) {
        let mut entry = Map::new();
        let secret = if token.is_empty() { password } else { "" };
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{secret}"));
        entry.insert("auth".into(), Value::String(encoded));
        if !token.is_empty() {
            entry.insert("identitytoken".into(), Value::String(token.to_string()));
        }
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(m) = auths {
            m.insert(server.to_string(), Value::Object(entry));
        }
    }

    /// Forget `server`'s credentials, under its host or URL forms as
    /// docker logout does; false when there were none.
    pub fn remove_auth(&mut self, server: &str) -> bool {
        let Some(m) = self.doc.get_mut("auths").and_then(Value::as_object_mut) else {
            return false;
        };
        let key = auth_key(server);
        let before = m.len();
        m.retain(|k, _| k != server && auth_key(k) != key);
        m.len() != before
    }

    /// Write the file atomically (temporary file, fsync, rename) with mode
    /// 0600: it holds passwords. The directory is made 0700 if missing.
    pub fn save(&self) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("saving config file {}: {e}", self.path.display());
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
        let mut data = serde_json::to_vec_pretty(&self.doc).map_err(|e| e.to_string())?;
        data.push(b'\n');
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            self.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "config.json".into()),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn stores_docker_format_atomically_and_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.json");
        let mut c = ConfigFile::load(&path).unwrap();
        assert!(c.get_auth("h:5000").is_none());
        c.set_auth("h:5000", "tester", "s3:cret", "");
        c.save().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        // base64("tester:s3:cret")
        assert_eq!(v["auths"]["h:5000"]["auth"], "dGVzdGVyOnMzOmNyZXQ=");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );

        let mut c = ConfigFile::load(&path).unwrap();
        let a = c.get_auth("h:5000").unwrap();
        assert_eq!(
            (a.username.as_str(), a.password.as_str()),
            ("tester", "s3:cret")
        );
        assert_eq!(a.serveraddress, "h:5000");
        assert!(c.remove_auth("h:5000"));
        assert!(!c.remove_auth("h:5000"));
        c.save().unwrap();
        assert!(ConfigFile::load(&path)
            .unwrap()
            .get_auth("h:5000")
            .is_none());
    }

    #[test]
    fn keeps_unknown_keys_and_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"psFormat":"{{.ID}}","auths":{"x":{"auth":"YTpi"},"https://h:5000/v2/":{"auth":"YTpi"}}}"#,
        )
        .unwrap();
        let mut c = ConfigFile::load(&path).unwrap();
        c.set_auth("y", "u", "p", "tok");
        c.save().unwrap();
        let c = ConfigFile::load(&path).unwrap();
        assert_eq!(c.doc["psFormat"], "{{.ID}}");
        assert_eq!(c.get_auth("x").unwrap().password, "b");
        assert_eq!(c.get_auth("h:5000").unwrap().username, "a");
        let mut c2 = c.clone();
        assert!(c2.remove_auth("h:5000"));
        assert!(c2.get_auth("h:5000").is_none() && c2.get_auth("x").is_some());
        let y = c.get_auth("y").unwrap();
        assert_eq!((y.username.as_str(), y.password.as_str()), ("u", ""));
        assert_eq!(y.identitytoken, "tok");

        std::fs::write(&path, "{not json").unwrap();
        assert!(ConfigFile::load(&path).unwrap_err().contains("config.json"));
    }
}
