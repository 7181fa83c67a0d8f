//! `GET /volumes` and its filters.

use super::{Entry, Volume, VolumeMgr};
use crate::error::{Error, Result};
use pouch_api::Filters;

/// The filters of a volume list, checked.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilters {
    f: Filters,
    dangling: Option<bool>,
}

impl VolumeFilters {
    /// Accepts Docker's `name`, `label`, `label!`, `dangling` and `driver`.
    pub fn new(f: Filters) -> Result<Self> {
        f.validate(&["name", "label", "label!", "dangling", "driver"])
            .map_err(Error::invalid)?;
        let dangling = f.get_bool("dangling").map_err(Error::invalid)?;
        Ok(VolumeFilters { f, dangling })
    }

    fn matches(&self, e: &Entry) -> bool {
        let m = &e.meta;
        let names = self.f.get("name");
        (names.is_empty() || names.iter().any(|n| m.name.contains(n.as_str())))
            && self.f.exact_match("driver", &m.driver)
            && self.f.match_labels("label", &m.labels)
            && !self.f.get("label!").iter().any(|l| {
                Filters::new()
                    .with("label", l.clone())
                    .match_labels("label", &m.labels)
            })
            && self.dangling.is_none_or(|d| d == e.refs.is_empty())
    }
}

impl VolumeMgr {
    /// The volumes that pass `filters`, sorted by name.
    pub fn list(&self, filters: &VolumeFilters) -> Vec<Volume> {
        let map = self.lock();
        map.values()
            .filter(|e| filters.matches(e))
            .map(|e| self.view(e))
            .collect()
    }
}
