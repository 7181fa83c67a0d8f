//! `POST /volumes/create`, and the get-or-create a container does for each
//! volume it mounts.

use super::store::{self, VolumeMeta};
use super::{name, Entry, Volume, VolumeMgr, LOCAL_DRIVER};
use crate::error::{Error, Result};
use std::collections::{BTreeSet, HashMap};

/// What a volume is created with.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `None` or empty: an anonymous volume with a random name.
    pub name: Option<String>,
    /// Empty: `local`.
    pub driver: String,
    pub driver_opts: HashMap<String, String>,
    pub labels: HashMap<String, String>,
}

/// The local driver's option keys (Docker's `validOpts`).
const LOCAL_OPTS: &[&str] = &["type", "device", "o", "size"];

fn check_driver(name: &str, opts: &CreateOptions) -> Result<()> {
    let driver = if opts.driver.is_empty() {
        LOCAL_DRIVER
    } else {
        &opts.driver
    };
    if driver != LOCAL_DRIVER {
        return Err(Error::not_found(format!(
            "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    if let Some(k) = opts
        .driver_opts
        .keys()
        .find(|k| !LOCAL_OPTS.contains(&k.as_str()))
    {
        return Err(Error::invalid(format!(
            "create {name}: invalid option key: {k:?}"
        )));
    }
    if !opts.driver_opts.is_empty() {
        // Mounting a device or tmpfs at first use is not implemented; a
        // volume that silently ignored its options would lie.
        return Err(Error::NotImplemented(format!(
            "create {name}: options of the local volume driver are not supported yet"
        )));
    }
    Ok(())
}

impl VolumeMgr {
    /// Creates a volume, or returns the existing one of that name (as
    /// Docker does; its labels and options are then left as they were).
    pub fn create(&self, opts: &CreateOptions) -> Result<Volume> {
        let (v, created) = {
            let mut map = self.lock();
            let (name, created) = self.get_or_create(&mut map, opts)?;
            (self.view(&map[&name]), created)
        };
        if created {
            self.emit("create", &v.name);
        }
        Ok(v)
    }

    /// Get-or-create and take a reference for container `id`, in one step
    /// so that a prune cannot remove the volume in between. Returns the
    /// volume and whether it was created now.
    pub fn acquire(&self, opts: &CreateOptions, id: &str) -> Result<(Volume, bool)> {
        let v = {
            let mut map = self.lock();
            let (name, created) = self.get_or_create(&mut map, opts)?;
            let Some(e) = map.get_mut(&name) else {
                return Err(super::not_found(&name));
            };
            e.refs.insert(id.to_string());
            (self.view(e), created)
        };
        if v.1 {
            self.emit("create", &v.0.name);
        }
        Ok(v)
    }

    fn get_or_create(
        &self,
        map: &mut std::collections::BTreeMap<String, Entry>,
        opts: &CreateOptions,
    ) -> Result<(String, bool)> {
        let name = match opts.name.as_deref() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => name::anonymous_name(),
        };
        check_driver(&name, opts)?;
        if map.contains_key(&name) {
            return Ok((name, false));
        }
        name::validate_name(&name)?;
        let meta = VolumeMeta::new(&name, opts.labels.clone(), opts.driver_opts.clone());
        if let Err(e) = store::create(&self.root, &meta) {
            // Do not leave a half-made directory for the next start to adopt.
            let _ = std::fs::remove_dir_all(self.root.join(&name));
            return Err(e.context(format!("create {name}")));
        }
        map.insert(
            name.clone(),
            Entry {
                meta,
                refs: BTreeSet::new(),
            },
        );
        tracing::info!(name, "volume created");
        Ok((name, true))
    }
}
