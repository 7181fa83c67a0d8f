//! `POST /containers/{id}/rename`.

use super::create::valid_name;
use super::ContainerMgr;
use crate::error::{Error, Result};

impl ContainerMgr {
    pub async fn rename(&self, reference: &str, new_name: &str) -> Result<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if new_name.is_empty() {
            return Err(Error::invalid("Neither old nor new names may be empty"));
        }
        if !valid_name(new_name) {
            return Err(Error::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let c = self.get(reference)?;
        let _op = c.op.lock().await;
        let old = c.name();
        if old == new_name {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        self.containers.rename(&c.id, &old, new_name)?;
        c.update(|m| m.name = new_name.to_string());
        if let Err(e) = self.save(&c).await {
            // Keep memory and disk in agreement.
            c.update(|m| m.name = old.clone());
            let _ = self.containers.rename(&c.id, new_name, &old);
            return Err(e);
        }
        self.emit(&c.meta(), "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }
}
