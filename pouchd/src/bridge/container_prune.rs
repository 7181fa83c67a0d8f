//! `POST /containers/prune` (`until`, `label`, `label!`).

use super::{image_filters::until_filter, to_completion, State};
use crate::error::{Error, Result};
use crate::mgr::container::PruneOptions;
use crate::server::params::Params;
use axum::extract::RawQuery;
use axum::Json;
use chrono::{DateTime, Utc};
use pouch_api::container::ContainersPruneResponse;
use pouch_api::filters::Filters;

/// The prune filters of containers and networks, checked as Docker
/// checks them.
pub(super) fn prune_options(f: &Filters, now: DateTime<Utc>) -> Result<PruneOptions> {
    f.validate(&["label", "label!", "until"])
        .map_err(Error::InvalidParameter)?;
    Ok(PruneOptions {
        until: until_filter(f, now)?,
        labels: f.get("label").to_vec(),
        not_labels: f.get("label!").to_vec(),
    })
}

pub async fn prune(state: State, RawQuery(q): RawQuery) -> Result<Json<ContainersPruneResponse>> {
    let f = Params::parse(q.as_deref()).filters()?;
    let opts = prune_options(&f, Utc::now())?;
    let mgr = state.containers.clone();
    // Run to the end even if the client goes away: removals half done
    // would still be done, just not reported.
    let report = to_completion(async move { mgr.prune(&opts).await }).await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(q: &str) -> Filters {
        Params::parse(Some(q)).filters().unwrap()
    }

    #[test]
    fn filters_are_checked() {
        let now: DateTime<Utc> = "2024-06-01T12:00:00Z".parse().unwrap();
        let q = "filters=%7B%22until%22%3A%5B%2224h%22%5D%2C%22label%22%3A%5B%22a%3Db%22%5D%7D";
        let o = prune_options(&filters(q), now).unwrap();
        assert_eq!(o.until, Some("2024-05-31T12:00:00Z".parse().unwrap()));
        assert_eq!(o.labels, ["a=b"]);
        // `dangling` is an image filter, not a container one.
        let q = "filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D";
        assert!(prune_options(&filters(q), now).is_err());
        let q = "filters=%7B%22until%22%3A%5B%221h%22%2C%222h%22%5D%7D";
        assert!(prune_options(&filters(q), now).is_err());
    }
}
