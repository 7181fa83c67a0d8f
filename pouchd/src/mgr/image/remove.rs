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
            let going = going_with(&img.refs, &full);
            let last = img
                .refs
                .iter()
                .filter(|r| **r != dangling_name(&img.id) && !going.contains(r))
                .count()
                == 0;
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
                for r in &going {
                    self.drop_ref(r).await?;
                    self.emit("untag", &img.id, &familiar(r));
                    out.push(ImageDeleteResponseItem {
                        untagged: Some(familiar(r)),
                        deleted: None,
                    });
                }
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

/// The repository of a full reference (`docker.io/library/busybox`).
fn repo_of(full: &str) -> &str {
    let name = full.split('@').next().unwrap_or(full);
    match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    }
}

/// The names removing `full` removes: itself and, as in Docker, when it is
/// its repository's last tag on the image, that repository's digest
/// references (`busybox@sha256:...`).
fn going_with(refs: &std::collections::BTreeSet<String>, full: &str) -> Vec<String> {
    let mut going = vec![full.to_string()];
    if full.contains('@') {
        return going;
    }
    let repo = repo_of(full);
    let named = |r: &&String| !r.starts_with(super::DANGLING) && repo_of(r) == repo;
    let other_tag = refs
        .iter()
        .filter(named)
        .any(|r| r != full && !r.contains('@'));
    if !other_tag {
        going.extend(
            refs.iter()
                .filter(named)
                .filter(|r| r.contains('@'))
                .cloned(),
        );
    }
    going
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repositorys_last_tag_takes_its_digests_along() {
        let d = format!("sha256:{}", "a".repeat(64));
        let refs: std::collections::BTreeSet<String> = [
            "docker.io/library/busybox:latest".to_string(),
            format!("docker.io/library/busybox@{d}"),
            format!("127.0.0.1:5000/x/busybox@{d}"),
            "127.0.0.1:5000/x/busybox:v1".to_string(),
            "127.0.0.1:5000/x/busybox:v2".to_string(),
        ]
        .into();
        assert_eq!(
            going_with(&refs, "docker.io/library/busybox:latest"),
            vec![
                "docker.io/library/busybox:latest".to_string(),
                format!("docker.io/library/busybox@{d}")
            ]
        );
        // Another tag of the repository is left: the digest stays.
        assert_eq!(
            going_with(&refs, "127.0.0.1:5000/x/busybox:v1"),
            vec!["127.0.0.1:5000/x/busybox:v1".to_string()]
        );
        let by_digest = format!("docker.io/library/busybox@{d}");
        assert_eq!(going_with(&refs, &by_digest), vec![by_digest.clone()]);
        assert_eq!(
            repo_of("127.0.0.1:5000/x/busybox:v1"),
            "127.0.0.1:5000/x/busybox"
        );
        assert_eq!(repo_of(&by_digest), "docker.io/library/busybox");
    }
}
