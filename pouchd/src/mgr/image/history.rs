//! `GET /images/{name}/history`: the build steps of an image config, newest
//! first, with the size of the layer each step created.

use super::{Image, ImageMgr};
use crate::error::{Error, Result};
use pouch_api::image::{HistoryResponseItem, ImageConfigFile};

/// What Docker shows for steps that are not a local image of their own.
const MISSING: &str = "<missing>";

impl ImageMgr {
    /// The history of image `name`.
    pub async fn history(&self, name: &str) -> Result<Vec<HistoryResponseItem>> {
        let img = self.get(name)?;
        build_history(&img, &img.layer_sizes)
    }
}

/// History entries from the config's `history`, newest first: steps with
/// `empty_layer` have size 0, the others take the next layer's size in
/// order. Only the top entry carries the image ID and tags: pouchd keeps no
/// parent images, so the steps below are `<missing>`, as in Docker for
/// pulled images.
pub(super) fn build_history(img: &Image, layer_sizes: &[i64]) -> Result<Vec<HistoryResponseItem>> {
    let config: &ImageConfigFile = &img.config;
    let mut sizes = layer_sizes.iter();
    let mut out = Vec::with_capacity(config.history.len());
    for h in &config.history {
        let size = if h.empty_layer {
            0
        } else {
            *sizes.next().ok_or_else(|| {
                Error::system(format!(
                    "image {}: too many non-empty layers in History section",
                    img.id
                ))
            })?
        };
        out.push(HistoryResponseItem {
            id: MISSING.to_string(),
            created: h
                .created
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|c| c.timestamp())
                .unwrap_or(0),
            created_by: h.created_by.clone(),
            tags: Vec::new(),
            size,
            comment: h.comment.clone(),
        });
    }
    out.reverse();
    if let Some(top) = out.first_mut() {
        top.id = img.id.clone();
        top.tags = img.repo_tags();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctrd::Descriptor;
    use pouch_api::image::ImageHistoryEntry;
    use std::collections::BTreeSet;

    fn image(history: Vec<ImageHistoryEntry>) -> Image {
        Image {
            id: "sha256:abc".into(),
            refs: BTreeSet::from([
                "docker.io/library/busybox:latest".to_string(),
                "docker.io/library/busybox@sha256:0123".to_string(),
            ]),
            manifest: Descriptor::default(),
            config: ImageConfigFile {
                history,
                ..Default::default()
            },
            top_chain: String::new(),
            layer_sizes: Vec::new(),
            size: 0,
            created: None,
        }
    }

    fn step(by: &str, created: Option<&str>, empty: bool) -> ImageHistoryEntry {
        ImageHistoryEntry {
            created: created.map(str::to_string),
            created_by: by.into(),
            comment: format!("c-{by}"),
            empty_layer: empty,
            ..Default::default()
        }
    }

    #[test]
    fn newest_first_with_layer_sizes_and_top_id() {
        let img = image(vec![
            step("ADD a", Some("2024-01-01T00:00:00Z"), false),
            step("ENV x", Some("2024-01-01T00:00:01.5Z"), true),
            step("RUN b", None, false),
            step("CMD sh", Some("2024-01-02T00:00:00Z"), true),
        ]);
        let h = build_history(&img, &[100, 7]).unwrap();
        let by: Vec<&str> = h.iter().map(|e| e.created_by.as_str()).collect();
        assert_eq!(by, ["CMD sh", "RUN b", "ENV x", "ADD a"]);
        let sizes: Vec<i64> = h.iter().map(|e| e.size).collect();
        assert_eq!(sizes, [0, 7, 0, 100]);
        assert_eq!(h[0].id, "sha256:abc");
        assert_eq!(h[0].tags, ["busybox:latest"], "digest refs are no tags");
        for e in &h[1..] {
            assert_eq!(e.id, "<missing>");
            assert!(e.tags.is_empty());
        }
        assert_eq!(h[0].created, 1704153600);
        assert_eq!(h[1].created, 0, "no time: 0");
        assert_eq!(h[2].created, 1704067201);
        assert_eq!(h[3].comment, "c-ADD a");
    }

    #[test]
    fn more_steps_with_layers_than_layers_is_an_error() {
        let img = image(vec![step("ADD a", None, false), step("ADD b", None, false)]);
        assert!(build_history(&img, &[1]).is_err());
    }

    #[test]
    fn no_history_gives_no_entries() {
        assert!(build_history(&image(vec![]), &[5]).unwrap().is_empty());
    }
}
