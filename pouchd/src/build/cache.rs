//! The build cache, as the classic builder's: the image each step made,
//! keyed by what the step depends on (the image it started from, the
//! instruction, the build's variables and, for COPY/ADD, the content of the
//! sources). The images are kept out of `docker images` (shown by `-a`)
//! and out of `docker image prune`; `docker builder prune` (and `system
//! prune`) removes them. The index is `<home>/build-cache.json`.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;

pub struct BuildCache {
    path: PathBuf,
    // std lock: map operations and a small file write.
    map: Mutex<Index>,
}

/// The index: the image of each key, and every image the cache made (a
/// step run again with `--no-cache` replaces its key's image; the old one
/// stays intermediate until pruned).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Index {
    keys: BTreeMap<String, String>,
    images: BTreeSet<String>,
}

impl BuildCache {
    /// Loads the index; an unreadable one starts empty (a cache miss is
    /// only slower).
    pub fn open(path: PathBuf) -> Self {
        let map = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        BuildCache {
            path,
            map: Mutex::new(map),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn persist(&self, map: &Index) {
        let bytes = serde_json::to_vec(map).unwrap_or_default();
        if let Err(e) = crate::store::write_atomic(&self.path, &bytes) {
            tracing::warn!(error = %e, "saving the build cache index");
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.lock().keys.get(key).cloned()
    }

    pub fn put(&self, key: &str, image: &str) {
        let mut map = self.lock();
        map.keys.insert(key.to_string(), image.to_string());
        map.images.insert(image.to_string());
        self.persist(&map);
    }

    /// Drops the entries of an image that is gone.
    pub fn forget(&self, image: &str) {
        let mut map = self.lock();
        let before = map.keys.len();
        map.keys.retain(|_, v| v != image);
        let removed = map.images.remove(image);
        if removed || map.keys.len() != before {
            self.persist(&map);
        }
    }

    /// The images the cache holds.
    pub fn images(&self) -> HashSet<String> {
        self.lock().images.iter().cloned().collect()
    }

    /// Empties the index; the images it held.
    pub fn clear(&self) -> HashSet<String> {
        let mut map = self.lock();
        let ids = std::mem::take(&mut map.images).into_iter().collect();
        map.keys.clear();
        self.persist(&map);
        ids
    }
}

/// A cache key from its parts.
pub fn key(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// A writer that only hashes what it is given (sources' tars for a key).
#[derive(Default)]
pub struct HashWriter(pub Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_index() {
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        let c = BuildCache::open(p.clone());
        c.put("k1", "sha256:a");
        c.put("k2", "sha256:b");
        c.put("k2", "sha256:c");
        assert_eq!(
            BuildCache::open(p.clone()).get("k1").as_deref(),
            Some("sha256:a")
        );
        c.forget("sha256:a");
        assert_eq!(c.get("k1"), None);
        assert_eq!(c.get("k2").as_deref(), Some("sha256:c"));
        // The replaced image stays the cache's until pruned.
        assert_eq!(
            c.images(),
            HashSet::from(["sha256:b".to_string(), "sha256:c".to_string()])
        );
        assert_eq!(c.clear().len(), 2);
        assert!(BuildCache::open(p).images().is_empty());
    }
}
