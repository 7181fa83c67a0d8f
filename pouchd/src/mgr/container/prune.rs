//! `POST /containers/prune`: removes every stopped container (created, exited
//! or dead; paused ones count as running, as in Docker) that the filters
//! select, and reports the bytes of their writable layers.

use super::state::{ContainerMeta, Status};
use super::ContainerMgr;
use crate::error::Result;
use pouch_api::container::ContainersPruneResponse;
use std::collections::HashMap;

/// Which stopped containers a prune removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneOptions {
    /// Only containers created before this time.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// `label` filters (`key` or `key=value`): a container must match all.
    pub labels: Vec<String>,
    /// `label!` filters: a container matching all of them is kept.
    pub not_labels: Vec<String>,
}

/// Docker's `MatchKVList`: every `key` / `key=value` is in `labels`.
fn all_match(filters: &[String], labels: &HashMap<String, String>) -> bool {
    filters.iter().all(|f| match f.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|lv| lv == v),
        None => labels.contains_key(f.as_str()),
    })
}

impl PruneOptions {
    /// Whether the container `m` is to go.
    pub fn selects(&self, m: &ContainerMeta) -> bool {
        if !matches!(
            m.state.status,
            Status::Created | Status::Exited | Status::Dead
        ) {
            return false;
        }
        self.matches(m.created, &m.config.labels)
    }

    /// Whether an object created at `created` with `labels` passes the
    /// `until`, `label` and `label!` filters.
    pub fn matches(
        &self,
        created: chrono::DateTime<chrono::Utc>,
        labels: &HashMap<String, String>,
    ) -> bool {
        if self.until.is_some_and(|until| created >= until) {
            return false;
        }
        if !all_match(&self.labels, labels) {
            return false;
        }
        self.not_labels.is_empty() || !all_match(&self.not_labels, labels)
    }
}

impl ContainerMgr {
    /// Removes the stopped containers `opts` selects. One that cannot be
    /// removed (started meanwhile, or already being removed) is skipped, as
    /// Docker skips it.
    pub async fn prune(&self, opts: &PruneOptions) -> Result<ContainersPruneResponse> {
        let mut out = ContainersPruneResponse::default();
        for c in self.all() {
            let m = c.meta();
            if !opts.selects(&m) {
                continue;
            }
            let (rw, _) = self.sizes(&m).await;
            match self.remove_container(&c, false, false).await {
                Ok(()) => {
                    out.containers_deleted
                        .get_or_insert_with(Vec::new)
                        .push(m.id.clone());
                    out.space_reclaimed += rw.unwrap_or(0).max(0) as u64;
                }
                Err(e) => tracing::debug!(id = %m.id, error = %e, "prune skips a container"),
            }
        }
        let reclaimed = out.space_reclaimed.to_string();
        self.events.publish(
            "container",
            "prune",
            "",
            HashMap::from([("reclaimed".to_string(), reclaimed)]),
        );
        Ok(out)
    }
}
