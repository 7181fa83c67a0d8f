//! `POST /commit`: an image from a container's filesystem changes.
//!
//! The caller (the bridge) gathers what it needs from the container manager
//! (snapshot key, image ID, configs) and pauses the container; this manager
//! never calls the container manager. containerd's differ writes the
//! container's changes as a gzip layer; the new image is the container's
//! image plus that layer.

use super::create::{target_name, EMPTY_LAYER};
use super::ImageMgr;
use crate::ctrd::Descriptor;
use crate::error::{Error, Result};
use pouch_api::container::Config;
use pouch_api::image::ImageHistoryEntry;

/// What a commit is made from.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub container_id: String,
    /// The container's writable snapshot.
    pub snapshot_key: String,
    /// The ID of the container's image.
    pub image_id: String,
    /// The container's config (recorded as `container_config`).
    pub container_config: Config,
    /// The new image's config before merging the container's into it: the
    /// request's config (or the container's), with the changes applied.
    pub config: Config,
    pub repo: String,
    pub tag: String,
    pub author: String,
    pub comment: String,
}

impl ImageMgr {
    /// Checks the target name before any work.
    pub fn check_commit_name(&self, repo: &str, tag: &str) -> Result<()> {
        target_name(repo, tag).map(|_| ())
    }

    /// Commits the container's changes; returns the new image ID.
    pub async fn commit(&self, req: CommitRequest) -> Result<String> {
        let name = target_name(&req.repo, &req.tag)?;
        let parent = self.get(&req.image_id).map_err(|_| {
            Error::conflict(format!(
                "cannot commit container {}: its image {} no longer exists",
                req.container_id, req.image_id
            ))
        })?;
        let parent_layers = self.manifest_layers(&parent.manifest).await?;
        if parent_layers.len() != parent.config.rootfs.diff_ids.len() {
            return Err(Error::system(format!(
                "image {} has {} layers but {} diff IDs",
                parent.id,
                parent_layers.len(),
                parent.config.rootfs.diff_ids.len()
            )));
        }
        let lease = self.store.lease_create().await?;
        let result = async {
            let diff = self.store.diff_snapshot(&lease, &req.snapshot_key).await?;
            let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let mut config = parent.config.clone();
            let mut layers = parent_layers;
            let empty = diff.diff_id == EMPTY_LAYER;
            if !empty {
                config.rootfs.r#type = "layers".to_string();
                config.rootfs.diff_ids.push(diff.diff_id.clone());
                layers.push(diff.layer.clone());
            }
            config.history.push(ImageHistoryEntry {
                created: Some(created.clone()),
                created_by: req
                    .container_config
                    .cmd
                    .clone()
                    .unwrap_or_default()
                    .join(" "),
                author: req.author.clone(),
                comment: req.comment.clone(),
                empty_layer: empty,
            });
            let image_cfg = parent.config.config.clone().unwrap_or_default();
            config.config = Some(merge(
                merge(req.config.clone(), &req.container_config),
                &image_cfg,
            ));
            config.container_config = Some(req.container_config.clone());
            config.container = req.container_id.clone();
            config.author = req.author.clone();
            config.created = Some(created);
            config.os = "linux".to_string();
            config.comment = String::new();
            self.create_image(&lease, &config, &layers, name.as_deref())
                .await
        }
        .await;
        if let Err(e) = self.store.lease_delete(&lease).await {
            tracing::warn!(error = %e, "cannot delete lease {lease}");
        }
        Ok(result?.id.clone())
    }

    /// The layer descriptors of an image manifest.
    async fn manifest_layers(&self, manifest: &Descriptor) -> Result<Vec<Descriptor>> {
        #[derive(serde::Deserialize)]
        struct Manifest {
            #[serde(default)]
            layers: Vec<Layer>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Layer {
            #[serde(default)]
            media_type: String,
            digest: String,
            #[serde(default)]
            size: i64,
        }
        let raw = self.store.read_blob(&manifest.digest).await?;
        let m: Manifest = serde_json::from_slice(&raw)
            .map_err(|e| Error::system(format!("manifest {}: {e}", manifest.digest)))?;
        Ok(m.layers
            .into_iter()
            .map(|l| Descriptor {
                media_type: l.media_type,
                digest: l.digest,
                size: l.size,
            })
            .collect())
    }
}

/// Docker's commit merge (moby `daemon/commit.go`): `base` fills in what
/// `user` leaves unset.
pub fn merge(mut user: Config, base: &Config) -> Config {
    if user.user.is_empty() {
        user.user = base.user.clone();
    }
    for (k, v) in &base.exposed_ports {
        user.exposed_ports.entry(k.clone()).or_insert(*v);
    }
    if user.env.is_empty() {
        user.env = base.env.clone();
    } else {
        for e in &base.env {
            let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
            let set = user
                .env
                .iter()
                .any(|u| u.split_once('=').map(|(k, _)| k).unwrap_or(u) == key);
            if !set {
                user.env.push(e.clone());
            }
        }
    }
    for (k, v) in &base.labels {
        user.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty())
        && user.cmd.as_ref().is_none_or(|c| c.is_empty())
    {
        user.cmd = base.cmd.clone();
        user.entrypoint = base.entrypoint.clone();
    }
    match (&mut user.healthcheck, &base.healthcheck) {
        (None, Some(b)) => user.healthcheck = Some(b.clone()),
        (Some(u), Some(b)) => {
            if u.test.is_empty() {
                u.test = b.test.clone();
            }
            if u.interval == 0 {
                u.interval = b.interval;
            }
            if u.timeout == 0 {
                u.timeout = b.timeout;
            }
            if u.start_period == 0 {
                u.start_period = b.start_period;
            }
            if u.retries == 0 {
                u.retries = b.retries;
            }
        }
        _ => {}
    }
    if user.working_dir.is_empty() {
        user.working_dir = base.working_dir.clone();
    }
    for (k, v) in &base.volumes {
        user.volumes.entry(k.clone()).or_insert(*v);
    }
    if user.stop_signal.is_empty() {
        user.stop_signal = base.stop_signal.clone();
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_fills_what_the_user_left_unset() {
        let base = Config {
            env: vec!["PATH=/bin".into(), "A=base".into()],
            cmd: Some(vec!["sh".into()]),
            working_dir: "/w".into(),
            labels: [("l".to_string(), "base".to_string())].into(),
            ..Default::default()
        };
        let user = Config {
            env: vec!["A=user".into()],
            labels: [("l".to_string(), "user".to_string())].into(),
            ..Default::default()
        };
        let m = merge(user, &base);
        assert_eq!(m.env, ["A=user", "PATH=/bin"]);
        assert_eq!(m.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(m.working_dir, "/w");
        assert_eq!(m.labels["l"], "user");
    }

    #[test]
    fn merge_keeps_a_user_command() {
        let base = Config {
            cmd: Some(vec!["sh".into()]),
            entrypoint: Some(vec!["/init".into()]),
            ..Default::default()
        };
        let user = Config {
            cmd: Some(vec!["cat".into(), "/x".into()]),
            ..Default::default()
        };
        let m = merge(user, &base);
        assert_eq!(m.cmd, Some(vec!["cat".to_string(), "/x".to_string()]));
        assert_eq!(m.entrypoint, None);
    }
}
