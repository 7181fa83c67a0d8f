//! `GET /containers/json`: selection, filters, order.

use super::state::{ContainerMeta, Status};
use super::ContainerMgr;
use crate::error::{Error, Result};
use pouch_api::filters::Filters;

/// What `ps` asks for.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    /// Most recent `limit` containers (implies all); 0 or less means no limit.
    pub limit: i64,
    pub filters: Filters,
}

const ALLOWED: &[&str] = &[
    "id",
    "name",
    "label",
    "status",
    "ancestor",
    "exited",
    "before",
    "since",
    "network",
    "volume",
    "health",
    "is-task",
    "publish",
    "expose",
    "isolation",
];

impl ContainerMgr {
    /// The containers of image `image_id`, for the image manager's removal
    /// rules.
    pub fn image_users(&self, image_id: &str) -> Vec<crate::mgr::image::ImageUse> {
        self.all()
            .iter()
            .map(|c| c.meta())
            .filter(|m| m.image_id == image_id)
            .map(|m| crate::mgr::image::ImageUse {
                container_id: m.id.clone(),
                running: m.state.status.is_alive(),
            })
            .collect()
    }

    /// Containers matching `opts`, newest first.
    pub fn list(&self, opts: &ListOptions) -> Result<Vec<ContainerMeta>> {
        opts.filters
            .validate(ALLOWED)
            .map_err(Error::InvalidParameter)?;
        let f = &opts.filters;
        for s in f.get("status") {
            if ![
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ]
            .contains(&s.as_str())
            {
                return Err(Error::invalid(format!("Invalid filter 'status={s}'")));
            }
        }
        let mut exited = Vec::new();
        for e in f.get("exited") {
            exited.push(
                e.parse::<i64>()
                    .map_err(|_| Error::invalid(format!("invalid filter 'exited={e}'")))?,
            );
        }
        let ancestors: Vec<String> = f
            .get("ancestor")
            .iter()
            .filter_map(|a| self.images.get(a).ok().map(|i| i.id.clone()))
            .collect();
        let created_of = |r: &String| self.get(r).map(|c| c.meta().created);
        let before = f.get("before").first().map(created_of).transpose()?;
        let since = f.get("since").first().map(created_of).transpose()?;

        let mut out: Vec<ContainerMeta> = self
            .all()
            .into_iter()
            .map(|c| c.meta())
            .filter(|m| {
                let status = m.state.status.as_str();
                let shown_by_default =
                    m.state.status.is_alive() || m.state.status == Status::Restarting;
                let everything =
                    opts.all || opts.limit > 0 || f.contains("status") || f.contains("exited");
                if !everything && !shown_by_default {
                    return false;
                }
                if f.contains("id") && !f.get("id").iter().any(|p| m.id.starts_with(p.as_str())) {
                    return false;
                }
                if f.contains("name")
                    && !f.get("name").iter().any(|n| {
                        let n = n.strip_prefix('/').unwrap_or(n);
                        m.name.contains(n)
                    })
                {
                    return false;
                }
                if f.contains("status") && !f.get("status").iter().any(|s| s == status) {
                    return false;
                }
                let exited_match =
                    m.state.status == Status::Exited && exited.contains(&m.state.exit_code);
                if !exited.is_empty() && !exited_match {
                    return false;
                }
                if f.contains("ancestor") && !ancestors.contains(&m.image_id) {
                    return false;
                }
                for l in f.get("label") {
                    let ok = match l.split_once('=') {
                        Some((k, v)) => m.config.labels.get(k).map(String::as_str) == Some(v),
                        None => m.config.labels.contains_key(l.as_str()),
                    };
                    if !ok {
                        return false;
                    }
                }
                if let Some(b) = before {
                    if m.created >= b {
                        return false;
                    }
                }
                if let Some(s) = since {
                    if m.created <= s {
                        return false;
                    }
                }
                true
            })
            .collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.created));
        if opts.limit > 0 {
            out.truncate(opts.limit as usize);
        }
        Ok(out)
    }
}
