//! `POST /volumes/prune`. API 1.41 semantics: every volume no container
//! uses, named or anonymous (API 1.42 narrowed the default to anonymous
//! ones).

use super::{store, VolumeMgr};
use crate::error::{Error, Result};
use pouch_api::Filters;

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PruneReport {
    pub deleted: Vec<String>,
    pub space_reclaimed: u64,
}

impl VolumeMgr {
    /// Removes unused volumes matching `label` / `label!` filters.
    pub fn prune(&self, f: &Filters) -> Result<PruneReport> {
        f.validate(&["label", "label!"]).map_err(Error::invalid)?;
        let mut trashed = Vec::new();
        {
            let mut map = self.lock();
            let victims: Vec<String> = map
                .values()
                .filter(|e| {
                    e.refs.is_empty()
                        && f.match_labels("label", &e.meta.labels)
                        && !f.get("label!").iter().any(|l| {
                            Filters::new()
                                .with("label", l.clone())
                                .match_labels("label", &e.meta.labels)
                        })
                })
                .map(|e| e.meta.name.clone())
                .collect();
            for name in victims {
                match store::to_trash(&self.root, &name) {
                    Ok(t) => {
                        map.remove(&name);
                        trashed.push((name, t));
                    }
                    Err(e) => tracing::warn!(name, error = %e, "pruning volume"),
                }
            }
        }
        let mut report = PruneReport::default();
        for (name, trash) in trashed {
            report.space_reclaimed += store::disk_usage(&trash.join("_data"));
            store::delete(&trash);
            self.emit("destroy", &name);
            tracing::info!(name, "volume pruned");
            report.deleted.push(name);
        }
        Ok(report)
    }
}
