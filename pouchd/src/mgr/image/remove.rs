//! `DELETE /images/{name}` with Docker's rules: a tag is untagged, the image
//! goes away with its last name, and images used by containers need force.

use super::reference::{familiar, Reference};
use super::{dangling_name, ImageMgr};
use crate::error::{Error, Result};
use pouch_api::image::ImageDeleteResponseItem;

/// A container that uses the image, as the caller (which knows containers) found it.
#[derive(Debug, Clone)]
pub struct ImageUse {
    pub container_id: String,
    pub running: bool,
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

impl ImageMgr {
    /// Removes `name`. `users` are the containers created from the image.
    pub async fn remove(
        &self,
        name: &str,
        force: bool,
        users: &[ImageUse],
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        let _guard = self.write.lock().await;
        let img = self.get(name)?;
        let by_tag = Reference::parse(name)
            .map(|r| img.refs.contains(&r.full()))
            .unwrap_or(false);
        let mut out = Vec::new();
        let running = users.iter().find(|u| u.running);

        if by_tag {
            let full = Reference::parse(name)?.full();
            let last = img
                .refs
                .iter()
                .filter(|r| **r != dangling_name(&img.id))
                .count()
                <= 1;
            if !last || users.is_empty() || force {
                if last {
                    if let Some(u) = running {
                        if force {
                            return Err(Error::conflict(format!(
                                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                                short(&img.id),
                                short(&u.container_id)
                            )));
                        }
                    }
                }
                self.drop_ref(&full).await?;
                self.emit("untag", &img.id, &familiar(&full));
                out.push(ImageDeleteResponseItem {
                    untagged: Some(familiar(&full)),
                    deleted: None,
                });
                if last {
                    self.emit("delete", &img.id, &img.id);
                    out.push(ImageDeleteResponseItem {
                        untagged: None,
                        deleted: Some(img.id.clone()),
                    });
                }
                return Ok(out);
            }
            let u = &users[0];
            return Err(Error::conflict(format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                short(&u.container_id),
                short(&img.id)
            )));
        }

        // By ID: every name goes.
        if let Some(u) = running {
            return Err(Error::conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                short(&img.id),
                short(&u.container_id)
            )));
        }
        if !force {
            if let Some(u) = users.first() {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    short(&img.id),
                    short(&u.container_id)
                )));
            }
            if img.repo_tags().len() > 1 {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short(&img.id)
                )));
            }
        }
        for full in img.refs.iter() {
            self.drop_ref(full).await?;
            if full != &dangling_name(&img.id) {
                self.emit("untag", &img.id, &familiar(full));
                out.push(ImageDeleteResponseItem {
                    untagged: Some(familiar(full)),
                    deleted: None,
                });
            }
        }
        self.emit("delete", &img.id, &img.id);
        out.push(ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(img.id.clone()),
        });
        Ok(out)
    }
}
