//! `POST /commit`: an image from a container's filesystem changes.
//!
//! The caller (the bridge) gathers what it needs from the container manager
//! (snapshot key, image ID, configs) and pauses the container; this manager
//! never calls the container manager. containerd's differ writes the
//! container's changes as a gzip layer; the new image is the container's
//! image plus that layer.

use super::create::{target_name, EMPTY_LAYER};
use super::ImageMgr;
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
    /// The new image's config is `config` as it is (a build step), not
    /// merged with the container's and the parent's (`docker commit`).
    pub exact: bool,
    /// The history's `created_by` (default: the container's command).
    pub created_by: Option<String>,
}

impl ImageMgr {
    /// Checks the target name before any work; returns it in familiar form
    /// (`mine:v1`), as Docker's `commit` event names it.
    pub fn check_commit_name(&self, repo: &str, tag: &str) -> Result<Option<String>> {
        Ok(target_name(repo, tag)?.map(|full| super::reference::familiar(&full)))
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
        let parent_layers = self.manifest_layers(&parent).await?;
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
                created_by: req.created_by.clone().unwrap_or_else(|| {
                    req.container_config
                        .cmd
                        .clone()
                        .unwrap_or_default()
                        .join(" ")
                }),
                author: req.author.clone(),
                comment: req.comment.clone(),
                empty_layer: empty,
            });
            let image_cfg = parent.config.config.clone().unwrap_or_default();
            config.config = Some(if req.exact {
                req.config.clone()
            } else {
                merge(merge(req.config.clone(), &req.container_config), &image_cfg)
            });
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
}

impl ImageMgr {
    /// A new image of `parent`'s layers with `config` (a build step that
    /// changes only metadata: ENV, CMD, ...); `parent` empty for `FROM
    /// scratch`. Returns the new image's ID.
    pub async fn derive(
        &self,
        parent: Option<&str>,
        config: Config,
        created_by: &str,
    ) -> Result<String> {
        let (mut file, layers) = match parent {
            Some(p) => {
                let img = self.get(p)?;
                let layers = self.manifest_layers(&img).await?;
                (img.config.clone(), layers)
            }
            None => {
                let mut f = pouch_api::image::ImageConfigFile {
                    architecture: crate::mgr::image::archive::formats::host_arch().to_string(),
                    os: "linux".to_string(),
                    ..Default::default()
                };
                f.rootfs.r#type = "layers".to_string();
                (f, Vec::new())
            }
        };
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        file.history.push(ImageHistoryEntry {
            created: Some(created.clone()),
            created_by: created_by.to_string(),
            empty_layer: true,
            ..Default::default()
        });
        file.config = Some(config);
        file.created = Some(created);
        file.container = String::new();
        file.container_config = None;
        let lease = self.store.lease_create().await?;
        let result = self.create_image(&lease, &file, &layers, None).await;
        if let Err(e) = self.store.lease_delete(&lease).await {
            tracing::warn!(error = %e, "cannot delete lease {lease}");
        }
        Ok(result?.id.clone())
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
    use crate::ctrd::Runtime;
    use crate::testutil::FakeRuntime;
    use std::sync::Arc;

    async fn mgr_with_busybox() -> (tempfile::TempDir, Arc<FakeRuntime>, ImageMgr) {
        let dir = tempfile::tempdir().expect("tempdir");
        let rt = Arc::new(FakeRuntime::default());
        rt.add_image(
            "docker.io/library/busybox:latest",
            serde_json::json!({
                "architecture": "amd64", "os": "linux",
                "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/w"},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [{"created_by": "base"}]
            }),
        );
        let bus = Arc::new(crate::mgr::events::EventBus::new(None).expect("bus"));
        let mgr = ImageMgr::new(rt.clone(), dir.path().join("tmp"), bus)
            .await
            .expect("image mgr");
        (dir, rt, mgr)
    }

    #[tokio::test]
    async fn commit_stacks_a_layer_and_records_history() {
        let (_dir, rt, mgr) = mgr_with_busybox().await;
        rt.prepare_snapshot("c1", "").await.expect("snapshot");
        let base = mgr.get("busybox").expect("busybox");
        let container_config = Config {
            cmd: Some(vec!["sh".into(), "-c".into(), "echo hi > /x".into()]),
            env: vec!["PATH=/bin".into()],
            image: "busybox".into(),
            ..Default::default()
        };
        let req = CommitRequest {
            container_id: "c1".into(),
            snapshot_key: "c1".into(),
            image_id: base.id.clone(),
            container_config: container_config.clone(),
            config: crate::mgr::image::changes::apply(
                container_config.clone(),
                &["ENV A=b".to_string()],
            )
            .expect("changes"),
            repo: "mine".into(),
            tag: "v1".into(),
            author: "me".into(),
            comment: "why".into(),
            exact: false,
            created_by: None,
        };
        let id = mgr.commit(req).await.expect("commit");
        let img = mgr.get("mine:v1").expect("tagged");
        assert_eq!(img.id, id);
        let c = &img.config;
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert_eq!(c.history.len(), 2);
        let h = &c.history[1];
        assert_eq!(
            (h.created_by.as_str(), h.author.as_str(), h.comment.as_str()),
            ("sh -c echo hi > /x", "me", "why")
        );
        assert!(!h.empty_layer);
        let cfg = c.config.clone().expect("config");
        assert_eq!(cfg.env, ["PATH=/bin", "A=b"]);
        assert_eq!(cfg.working_dir, "/w");
        assert_eq!(cfg.cmd, container_config.cmd);
        assert_eq!(c.container, "c1");
        assert_eq!(c.author, "me");
        assert_eq!(c.container_config.as_ref(), Some(&container_config));
        // The lease that protected the half-made image is gone.
        assert!(rt.state.lock().expect("state").leases.is_empty());
    }

    #[tokio::test]
    async fn commit_without_the_image_is_a_conflict() {
        let (_dir, rt, mgr) = mgr_with_busybox().await;
        rt.prepare_snapshot("c1", "").await.expect("snapshot");
        let req = CommitRequest {
            container_id: "c1".into(),
            snapshot_key: "c1".into(),
            image_id: format!("sha256:{}", "ab".repeat(32)),
            ..Default::default()
        };
        let e = mgr.commit(req).await.expect_err("no image");
        assert!(matches!(e, Error::Conflict(_)), "{e:?}");
        assert!(e.to_string().contains("no longer exists"), "{e}");
    }

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
