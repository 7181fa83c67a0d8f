//! `POST /images/prune`: removes untagged images (or, with `dangling=false`,
//! every image), never one a container uses, and reports the content bytes
//! no remaining image shares.

use super::save::parse_manifest;
use super::{Image, ImageMgr};
use crate::error::{Error, Result};
use pouch_api::image::ImagesPruneResponse;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Which images a prune removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOptions {
    /// Only images without tags (Docker's default); false: all images.
    pub dangling_only: bool,
    /// Only images created at or before this time.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// `label` filters (`key` or `key=value`): an image must match all.
    pub labels: Vec<String>,
    /// `label!` filters: an image matching all of them is kept.
    pub not_labels: Vec<String>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            dangling_only: true,
            until: None,
            labels: Vec::new(),
            not_labels: Vec::new(),
        }
    }
}

/// Docker's `MatchKVList`: every `key` / `key=value` is in `labels`.
fn all_match(filters: &[String], labels: &HashMap<String, String>) -> bool {
    filters.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|lv| lv == v),
        None => labels.contains_key(f.as_str()),
    })
}

impl PruneOptions {
    /// Whether `img` is to go (its use by containers aside).
    pub fn selects(&self, img: &Image) -> bool {
        if self.dangling_only && !img.repo_tags().is_empty() {
            return false;
        }
        if let (Some(until), Some(created)) = (self.until, img.created) {
            if created > until {
                return false;
            }
        }
        let empty = HashMap::new();
        let labels = img
            .config
            .config
            .as_ref()
            .map(|c| &c.labels)
            .unwrap_or(&empty);
        if !all_match(&self.labels, labels) {
            return false;
        }
        self.not_labels.is_empty() || !all_match(&self.not_labels, labels)
    }
}

/// Marks a prune as running while it lives.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl ImageMgr {
    /// Removes the images `opts` selects, except those whose ID is in
    /// `in_use` (images of containers, running or not).
    pub async fn prune(
        &self,
        opts: &PruneOptions,
        in_use: &HashSet<String>,
    ) -> Result<ImagesPruneResponse> {
        if self.pruning.swap(true, Ordering::AcqRel) {
            return Err(Error::conflict("a prune operation is already running"));
        }
        // Cleared on drop: a prune cut short must not block the next ones.
        let _running = Running(&self.pruning);
        Ok(self.prune_unguarded(opts, in_use).await)
    }

    async fn prune_unguarded(
        &self,
        opts: &PruneOptions,
        in_use: &HashSet<String>,
    ) -> ImagesPruneResponse {
        let mut report = ImagesPruneResponse::default();
        let mut freed: HashMap<String, u64> = HashMap::new();
        let candidates: Vec<Arc<Image>> = self
            .list()
            .into_iter()
            .filter(|i| !in_use.contains(&i.id) && opts.selects(i))
            .collect();
        for img in candidates {
            let blobs = self.blobs_of(&img).await;
            // By ID, forced: every name goes at once. Forcing only lifts the
            // "referenced in multiple repositories" rule, since no user is
            // passed; the images of containers were left out above.
            match self.remove(&img.id, true, &[]).await {
                Ok(items) => {
                    report.images_deleted.extend(items);
                    freed.extend(blobs);
                }
                // Removed meanwhile by someone else.
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    tracing::warn!(image = %img.id, error = %e, "prune: cannot remove image")
                }
            }
        }
        if !freed.is_empty() {
            for img in self.list() {
                for (digest, _) in self.blobs_of(&img).await {
                    freed.remove(&digest);
                }
            }
        }
        report.space_reclaimed = freed.values().sum();
        report
    }

    /// `(digest, size)` of the manifest, config and layers of `img`; empty
    /// when its manifest cannot be read.
    async fn blobs_of(&self, img: &Image) -> Vec<(String, u64)> {
        let size = |s: i64| u64::try_from(s).unwrap_or(0);
        let raw = match self.store.read_blob(&img.manifest.digest).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(image = %img.id, error = %e, "cannot read manifest");
                return Vec::new();
            }
        };
        let mut out = vec![(img.manifest.digest.clone(), raw.len() as u64)];
        if let Ok((config, layers)) = parse_manifest(&raw, &img.manifest.digest) {
            out.push((config.digest, size(config.size)));
            out.extend(layers.into_iter().map(|l| (l.digest, size(l.size))));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::FakeRuntime;

    async fn mgr(rt: &Arc<FakeRuntime>) -> (tempfile::TempDir, ImageMgr) {
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(crate::mgr::events::EventBus::new(None).unwrap());
        let m = ImageMgr::new(rt.clone(), dir.path().join("tmp"), bus)
            .await
            .unwrap();
        (dir, m)
    }

    fn config(n: u32, created: &str, labels: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": created,
            "config": {"Labels": labels, "Env": [format!("N={n}")]},
            "rootfs": {"type": "layers", "diff_ids": []},
        })
    }

    const DIGEST_REF: &str = "docker.io/library/old@sha256:0123456789012345678901234567890123456789012345678901234567890123";

    #[tokio::test]
    async fn dangling_images_go_tagged_and_used_ones_stay() {
        let rt = Arc::new(FakeRuntime::default());
        rt.add_image(
            "docker.io/library/a:1",
            config(1, "2024-01-01T00:00:00Z", serde_json::json!({})),
        );
        rt.add_image(
            "docker.io/library/b:1",
            config(2, "2024-01-01T00:00:00Z", serde_json::json!({})),
        );
        rt.add_image(
            DIGEST_REF,
            config(3, "2024-01-01T00:00:00Z", serde_json::json!({})),
        );
        let (_d, m) = mgr(&rt).await;
        let a = m.get("a:1").unwrap().id.clone();
        // Moving a:1's only tag leaves it dangling, as with Docker.
        m.tag("b:1", "a", "1").await.unwrap();
        let dangling = m.get(&a).unwrap();
        assert!(dangling.repo_tags().is_empty());
        let old = m.get(DIGEST_REF).unwrap().id.clone();

        let r = m
            .prune(&PruneOptions::default(), &HashSet::new())
            .await
            .unwrap();
        let deleted: HashSet<&str> = r
            .images_deleted
            .iter()
            .filter_map(|i| i.deleted.as_deref())
            .collect();
        assert_eq!(deleted, HashSet::from([a.as_str(), old.as_str()]));
        assert!(r.images_deleted.iter().any(|i| i.untagged.as_deref()
            == Some(
                "old@sha256:0123456789012345678901234567890123456789012345678901234567890123"
            )));
        assert!(r.space_reclaimed > 0);
        assert!(m.get("b:1").is_ok());
        assert!(m.get(&a).is_err());
        assert_eq!(m.list().len(), 1);
        assert_eq!(
            rt.state.lock().unwrap().images.len(),
            2,
            "a:1 and b:1 records"
        );
    }

    #[tokio::test]
    async fn all_unused_images_go_with_dangling_false() {
        let rt = Arc::new(FakeRuntime::default());
        rt.add_image(
            "docker.io/library/a:1",
            config(1, "2024-01-01T00:00:00Z", serde_json::json!({})),
        );
        rt.add_image(
            "docker.io/library/used:1",
            config(2, "2024-01-01T00:00:00Z", serde_json::json!({})),
        );
        let (_d, m) = mgr(&rt).await;
        m.tag("a:1", "a", "2").await.unwrap();
        let used = m.get("used:1").unwrap().id.clone();
        let opts = PruneOptions {
            dangling_only: false,
            ..Default::default()
        };
        let r = m
            .prune(&opts, &HashSet::from([used.clone()]))
            .await
            .unwrap();
        let untagged: Vec<&str> = r
            .images_deleted
            .iter()
            .filter_map(|i| i.untagged.as_deref())
            .collect();
        assert_eq!(untagged, ["a:1", "a:2"]);
        assert_eq!(m.list().len(), 1);
        assert_eq!(m.list()[0].id, used);

        let again = m.prune(&opts, &HashSet::from([used])).await.unwrap();
        assert!(again.images_deleted.is_empty());
        assert_eq!(again.space_reclaimed, 0);
    }

    #[tokio::test]
    async fn one_prune_at_a_time() {
        let rt = Arc::new(FakeRuntime::default());
        let (_d, m) = mgr(&rt).await;
        m.pruning.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = m.prune(&PruneOptions::default(), &HashSet::new()).await;
        assert!(err.unwrap_err().is_conflict());
        m.pruning.store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(m
            .prune(&PruneOptions::default(), &HashSet::new())
            .await
            .is_ok());
        assert!(m
            .prune(&PruneOptions::default(), &HashSet::new())
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn shared_content_is_not_reclaimed() {
        let rt = Arc::new(FakeRuntime::default());
        let cfg = config(1, "2024-01-01T00:00:00Z", serde_json::json!({}));
        rt.add_image("docker.io/library/a:1", cfg.clone());
        rt.add_image(DIGEST_REF, cfg);
        let (_d, m) = mgr(&rt).await;
        // One image with a tag and a digest ref: not dangling, nothing goes.
        let r = m
            .prune(&PruneOptions::default(), &HashSet::new())
            .await
            .unwrap();
        assert!(r.images_deleted.is_empty());
        assert_eq!(r.space_reclaimed, 0);
    }

    fn img(created: Option<&str>, labels: &[(&str, &str)], tags: &[&str]) -> Image {
        let cfg = pouch_api::container::Config {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        Image {
            id: "sha256:1".into(),
            refs: tags.iter().map(|t| t.to_string()).collect(),
            manifest: Default::default(),
            config: pouch_api::image::ImageConfigFile {
                config: Some(cfg),
                ..Default::default()
            },
            top_chain: String::new(),
            layer_sizes: Vec::new(),
            size: 0,
            created: created.map(|c| c.parse().unwrap()),
        }
    }

    #[test]
    fn selection_by_until_and_labels() {
        let t = |s: &str| Some(s.parse().unwrap());
        let old = img(
            Some("2024-01-01T00:00:00Z"),
            &[("env", "dev"), ("x", "")],
            &[],
        );
        let new = img(Some("2024-06-01T00:00:00Z"), &[("env", "prod")], &[]);
        let tagged = img(None, &[], &["docker.io/library/a:1"]);
        let until = PruneOptions {
            until: t("2024-03-01T00:00:00Z"),
            ..Default::default()
        };
        assert!(until.selects(&old));
        assert!(!until.selects(&new));
        assert!(!until.selects(&tagged), "tagged: not dangling");
        let all = PruneOptions {
            dangling_only: false,
            ..Default::default()
        };
        assert!(all.selects(&tagged));
        let label = |l: &[&str], nl: &[&str]| PruneOptions {
            labels: l.iter().map(|s| s.to_string()).collect(),
            not_labels: nl.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(label(&["env"], &[]).selects(&old));
        assert!(label(&["env=dev", "x"], &[]).selects(&old));
        assert!(!label(&["env=dev"], &[]).selects(&new));
        assert!(!label(&[], &["env=dev"]).selects(&old));
        assert!(label(&[], &["env=dev"]).selects(&new));
        assert!(
            label(&[], &["env=dev", "nope"]).selects(&old),
            "label! needs all"
        );
    }
}
