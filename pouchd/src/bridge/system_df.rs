//! `GET /system/df`: disk usage of images (each layer counted once in
//! `LayersSize`, shared bytes per image), containers (writable layers) and
//! volumes, as `docker system df` shows it.

use super::{image, inspect, State};
use crate::error::{Error, Result};
use crate::mgr::volume::VolumeFilters;
use axum::Json;
use pouch_api::filters::Filters;
use pouch_api::system::SystemDfResponse;
use pouch_api::volume::VolumeUsageData;
use std::collections::HashMap;

pub async fn df(state: State) -> Result<Json<SystemDfResponse>> {
    let metas: Vec<_> = state.containers.all().iter().map(|c| c.meta()).collect();
    let mut users: HashMap<String, i64> = HashMap::new();
    for m in &metas {
        *users.entry(m.image_id.clone()).or_default() += 1;
    }

    // A layer is known by its chain ID: the same diff on another base is
    // another layer.
    let images = state.images.list();
    let mut layers: HashMap<String, (i64, usize)> = HashMap::new();
    let chains_of = |img: &crate::mgr::image::Image| {
        let chains = crate::ctrd::chain_ids(&img.config.rootfs.diff_ids);
        chains
            .into_iter()
            .zip(img.layer_sizes.clone())
            .collect::<Vec<_>>()
    };
    for img in &images {
        for (chain, size) in chains_of(img) {
            layers.entry(chain).or_insert((size, 0)).1 += 1;
        }
    }
    let mut out = SystemDfResponse {
        layers_size: layers.values().map(|(size, _)| size).sum(),
        ..Default::default()
    };
    for img in &images {
        let mut s = image::summary(img, img.repo_tags());
        s.shared_size = chains_of(img)
            .iter()
            .filter(|(chain, _)| layers.get(chain).is_some_and(|(_, n)| *n > 1))
            .map(|(_, size)| size)
            .sum();
        s.containers = users.get(&img.id).copied().unwrap_or(0);
        out.images.push(s);
    }

    let bridge = &state.containers.network().bridge().name;
    for m in &metas {
        let (rw, root) = state.containers.sizes(m).await;
        let mut s = inspect::summary(m, rw, root);
        inspect::fill_network_ids(&mut s.network_settings.networks, bridge);
        out.containers.push(s);
    }

    let volumes = state.volumes.clone();
    out.volumes = tokio::task::spawn_blocking(move || {
        let all = volumes.list(&VolumeFilters::new(Filters::default())?);
        let mut api = Vec::with_capacity(all.len());
        for v in all {
            let size = volumes.disk_usage(&v.name).map_or(-1, |b| b as i64);
            let refs = v.refs.len() as i64;
            let mut a = super::volume::to_api(v);
            a.usage_data = Some(VolumeUsageData {
                size,
                ref_count: refs,
            });
            api.push(a);
        }
        Ok::<_, Error>(api)
    })
    .await
    .map_err(|e| Error::system(format!("volume usage: {e}")))??;
    Ok(Json(out))
}

/// `POST /build/prune`, which `docker system prune` calls: pouchd has no
/// builder and so no build cache; nothing to remove, said in Docker's shape.
pub async fn build_prune(state: State) -> Result<Json<pouch_api::image::BuildCachePruneResponse>> {
    let daemon = state.0.clone();
    // Images still tagged (a build's result) stay; the others go.
    let (deleted, reclaimed) = super::to_completion(async move {
        let mut deleted = Vec::new();
        let mut reclaimed: i64 = 0;
        let ids = daemon.build_cache.clear();
        let in_use: std::collections::HashSet<String> = daemon
            .containers
            .all()
            .iter()
            .map(|c| c.meta().image_id)
            .collect();
        for id in ids {
            let Ok(img) = daemon.images.get(&id) else {
                continue;
            };
            if !img.repo_tags().is_empty() || in_use.contains(&id) {
                continue;
            }
            if daemon.images.remove(&id, true, &[]).await.is_ok() {
                reclaimed += img.size;
                deleted.push(id);
            }
        }
        Ok::<_, crate::error::Error>((deleted, reclaimed))
    })
    .await?;
    Ok(Json(pouch_api::image::BuildCachePruneResponse {
        caches_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed: reclaimed.max(0) as u64,
    }))
}
