//! On-disk layout: `<root>/<name>/_data` (what containers mount) and
//! `<root>/<name>/volume.v1.json` (the metadata, written atomically).
//! Removed volumes are first renamed to `<root>/.trash-*`, which no valid
//! name can collide with, then deleted; a start deletes leftovers.

use crate::error::Result;
use crate::store::write_atomic;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

const META_FILE: &str = "volume.v1.json";
const META_VERSION: u32 = 1;
pub(super) const TRASH_PREFIX: &str = ".trash-";

/// What is persisted of a volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct VolumeMeta {
    pub version: u32,
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    pub created_at: DateTime<Utc>,
}

impl VolumeMeta {
    pub fn new(
        name: &str,
        labels: HashMap<String, String>,
        options: HashMap<String, String>,
    ) -> Self {
        VolumeMeta {
            version: META_VERSION,
            name: name.to_string(),
            driver: super::LOCAL_DRIVER.to_string(),
            labels,
            options,
            created_at: Utc::now(),
        }
    }
}

pub(super) fn data_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name).join("_data")
}

/// Creates the volume's directories and persists `meta`. The caller has
/// validated the name.
pub(super) fn create(root: &Path, meta: &VolumeMeta) -> Result<()> {
    let dir = root.join(&meta.name);
    fs::create_dir_all(dir.join("_data"))?;
    write_atomic(&dir.join(META_FILE), &serde_json::to_vec(meta)?)
}

/// Moves the volume out of the namespace; returns where it went, for
/// [`delete`]. Quick, so it is done under the manager's lock.
pub(super) fn to_trash(root: &Path, name: &str) -> Result<PathBuf> {
    let trash = root.join(format!(
        "{TRASH_PREFIX}{}",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    fs::rename(root.join(name), &trash)?;
    Ok(trash)
}

/// Deletes a trashed volume. `remove_dir_all` does not follow symlinks, so
/// links a container left in the volume cannot make it delete elsewhere.
pub(super) fn delete(trash: &Path) {
    if let Err(e) = fs::remove_dir_all(trash) {
        tracing::warn!(path = %trash.display(), error = %e, "deleting removed volume");
    }
}

/// Every volume under `root`. A directory without metadata (a crash between
/// mkdir and the metadata write, or a volume copied in by hand) is adopted
/// rather than lost; trash is deleted.
pub(super) fn load_all(root: &Path) -> Result<Vec<VolumeMeta>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TRASH_PREFIX) {
            delete(&entry.path());
            continue;
        }
        if super::validate_name(&name).is_err() || !entry.file_type()?.is_dir() {
            tracing::warn!(name, "ignoring unexpected entry in the volumes directory");
            continue;
        }
        let path = entry.path().join(META_FILE);
        let meta = match fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<VolumeMeta>(&bytes) {
                Ok(m) if m.name == name => m,
                Ok(_) | Err(_) => {
                    tracing::error!(path = %path.display(), "skipping corrupt volume metadata");
                    continue;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let meta = VolumeMeta::new(&name, HashMap::new(), HashMap::new());
                if let Err(e) = create(root, &meta) {
                    tracing::warn!(name, error = %e, "adopting volume directory");
                    continue;
                }
                meta
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "skipping unreadable volume metadata");
                continue;
            }
        };
        out.push(meta);
    }
    Ok(out)
}

/// Bytes in regular files under `dir`, symlinks not followed.
pub(super) fn disk_usage(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}
