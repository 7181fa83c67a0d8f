//! Persisted metadata: one versioned JSON document per object, written
//! atomically (temp file, fsync, rename, fsync of the directory) so that a
//! crash leaves either the old or the new version, never a torn one.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A directory of `<id>/<file>` JSON documents.
#[derive(Debug, Clone)]
pub struct MetaStore {
    root: PathBuf,
    file: &'static str,
}

impl MetaStore {
    pub fn new(root: impl Into<PathBuf>, file: &'static str) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(MetaStore { root, file })
    }

    /// The directory that holds `id`'s files (metadata, logs, hosts files).
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn save<T: Serialize>(&self, id: &str, value: &T) -> Result<()> {
        check_id(id)?;
        let dir = self.dir(id);
        fs::create_dir_all(&dir)?;
        let bytes = serde_json::to_vec(value)?;
        write_atomic(&dir.join(self.file), &bytes)
    }

    /// Every readable document; unreadable ones are reported and skipped so
    /// that one corrupt file does not hide every other container.
    pub fn load_all<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let path = entry.path().join(self.file);
            match fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "skipping corrupt metadata")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "skipping unreadable metadata")
                }
            }
        }
        Ok(out)
    }

    /// Removes `id`'s directory with everything in it.
    pub fn remove(&self, id: &str) -> Result<()> {
        check_id(id)?;
        match fs::remove_dir_all(self.dir(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::system(format!("invalid store id {id:?}")));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::system(format!("no parent: {}", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("meta")
    ));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = MetaStore::new(dir.path().join("c"), "config.json").unwrap();
        s.save("abc", &vec![1, 2, 3]).unwrap();
        s.save("def", &vec![4]).unwrap();
        let mut all: Vec<Vec<i32>> = s.load_all().unwrap();
        all.sort();
        assert_eq!(all, vec![vec![1, 2, 3], vec![4]]);
        s.remove("abc").unwrap();
        assert_eq!(s.load_all::<Vec<i32>>().unwrap(), vec![vec![4]]);
    }

    #[test]
    fn corrupt_file_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let s = MetaStore::new(dir.path(), "config.json").unwrap();
        s.save("good", &1).unwrap();
        fs::create_dir_all(dir.path().join("bad")).unwrap();
        fs::write(dir.path().join("bad/config.json"), b"{not json").unwrap();
        assert_eq!(s.load_all::<i32>().unwrap(), vec![1]);
    }

    #[test]
    fn ids_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let s = MetaStore::new(dir.path(), "config.json").unwrap();
        assert!(s.save("../x", &1).is_err());
        assert!(s.remove("..").is_err());
    }
}
