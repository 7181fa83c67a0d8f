//! `DELETE /volumes/{name}`.

use super::{store, VolumeMgr};
use crate::error::{Error, Result};

impl VolumeMgr {
    /// Removes a volume no container uses. As Docker, `force` only turns
    /// "no such volume" into success: a volume in use is refused anyway.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let trash = {
            let mut map = self.lock();
            let Some(e) = map.get(name) else {
                return if force {
                    Ok(())
                } else {
                    Err(super::not_found(name))
                };
            };
            if !e.refs.is_empty() {
                let refs: Vec<&str> = e.refs.iter().map(String::as_str).collect();
                return Err(Error::conflict(format!(
                    "remove {name}: volume is in use - [{}]",
                    refs.join(", ")
                )));
            }
            let trash = store::to_trash(&self.root, name)
                .map_err(|e| e.context(format!("remove {name}")))?;
            map.remove(name);
            trash
        };
        store::delete(&trash);
        self.emit("destroy", name);
        tracing::info!(name, "volume removed");
        Ok(())
    }
}
