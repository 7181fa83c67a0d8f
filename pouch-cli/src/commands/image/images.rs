//! `pouch images`: list images as docker does.

use clap::Args;
use pouch_api::image::ImageSummary;
use pouch_api::Filters;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::human::{go_time_string, human_size, now_unix, short_id, time_ago};
use crate::format::ListFormat;

const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DIGESTS_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (name=value)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print images using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Only images matching this reference
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

fn headers() -> Value {
    json!({
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "Digest": "DIGEST",
        "ID": "IMAGE ID",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "Size": "SIZE",
        "Containers": "CONTAINERS",
        "VirtualSize": "VIRTUAL SIZE",
        "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
    })
}

/// `docker.io/library/busybox` → `busybox`, `docker.io/x/y` → `x/y`.
fn familiar(name: &str) -> &str {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
}

/// Split `repo:tag` (the tag is after the last `:` following the last
/// `/`).
fn split_tag(reference: &str) -> (&str, &str) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], &reference[slash + i + 1..]),
        None => (reference, ""),
    }
}

/// The `(repository, tag, digest)` rows of an image (docker's
/// `imageFormatTaggedAndDigest`).
fn image_rows(img: &ImageSummary, digests: bool) -> Vec<(String, String, String)> {
    let tags: Vec<&String> = img
        .repo_tags
        .iter()
        .filter(|t| *t != "<none>:<none>")
        .collect();
    let dgsts: Vec<&String> = img
        .repo_digests
        .iter()
        .filter(|d| *d != "<none>@<none>")
        .collect();
    if tags.is_empty() && dgsts.is_empty() {
        return vec![("<none>".into(), "<none>".into(), "<none>".into())];
    }
    let digest_of = |repo: &str| -> Vec<String> {
        dgsts
            .iter()
            .filter_map(|d| d.split_once('@'))
            .filter(|(r, _)| familiar(r) == repo)
            .map(|(_, d)| d.to_string())
            .collect()
    };
    let mut rows = Vec::new();
    let mut repos_with_tags = Vec::new();
    for t in tags {
        let (repo, tag) = split_tag(t);
        let repo = familiar(repo).to_string();
        let ds = if digests {
            digest_of(&repo)
        } else {
            Vec::new()
        };
        if ds.is_empty() {
            rows.push((repo.clone(), tag.to_string(), "<none>".to_string()));
        } else {
            for d in ds {
                rows.push((repo.clone(), tag.to_string(), d));
            }
        }
        repos_with_tags.push(repo);
    }
    for d in dgsts {
        let Some((repo, dg)) = d.split_once('@') else {
            continue;
        };
        let repo = familiar(repo).to_string();
        if repos_with_tags.contains(&repo) {
            continue;
        }
        let row = if digests {
            (repo, "<none>".to_string(), dg.to_string())
        } else {
            (repo, "<none>".to_string(), String::new())
        };
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows
}

fn n_a(v: i64, f: impl Fn(i64) -> String) -> String {
    if v == -1 {
        "N/A".to_string()
    } else {
        f(v)
    }
}

/// Template data of every row of every image.
pub fn rows(images: &[ImageSummary], trunc: bool, digests: bool, now: f64) -> Vec<Value> {
    let mut out = Vec::new();
    for img in images {
        let size = if img.size != 0 {
            img.size
        } else {
            img.virtual_size
        };
        let hs = |v: i64| human_size(v as f64);
        for (repo, tag, digest) in image_rows(img, digests) {
            out.push(json!({
                "Repository": repo,
                "Tag": tag,
                "Digest": digest,
                "ID": if trunc { short_id(&img.id) } else { img.id.clone() },
                "CreatedSince": time_ago(img.created, now),
                "CreatedAt": go_time_string(img.created),
                "Size": hs(size),
                "Containers": n_a(img.containers, |c| c.to_string()),
                "VirtualSize": hs(img.virtual_size),
                "SharedSize": n_a(img.shared_size, hs),
                "UniqueSize": n_a(img.shared_size, |s| hs(size - s)),
            }));
        }
    }
    out
}

pub async fn run(ctx: &Ctx, args: ImagesArgs) -> CmdResult {
    let mut filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    if let Some(r) = &args.reference {
        filters.add("reference", r.clone());
    }
    let format = match args.format.as_deref() {
        None | Some("") | Some("table") if args.quiet => "{{.ID}}",
        None | Some("") | Some("table") if args.digests => DIGESTS_TABLE,
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some(f) => f,
    };
    let f = ListFormat::parse(format).map_err(StatusError::msg)?;
    let images = ctx.client.images().list(args.all, &filters).await?;
    let rows = rows(&images, !args.no_trunc, args.digests, now_unix());
    let out = f.render(&rows, &headers()).map_err(StatusError::msg)?;
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tags: &[&str], digests: &[&str]) -> ImageSummary {
        ImageSummary {
            id: "sha256:0123456789abcdef0123".into(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            repo_digests: digests.iter().map(|s| s.to_string()).collect(),
            created: 1_700_000_000 - 2 * 3600,
            size: 4_261_000,
            shared_size: -1,
            containers: -1,
            ..Default::default()
        }
    }

    #[test]
    fn table_like_docker() {
        let imgs = vec![
            image(&["busybox:latest", "localhost:5000/my/box:v1"], &[]),
            image(&[], &[]),
        ];
        let rows = rows(&imgs, true, false, 1_700_000_000.0);
        let f = ListFormat::parse(DEFAULT_TABLE).unwrap();
        let out = f.render(&rows, &headers()).unwrap();
        assert_eq!(
            out,
            "REPOSITORY              TAG       IMAGE ID       CREATED       SIZE\n\
             busybox                 latest    0123456789ab   2 hours ago   4.26MB\n\
             localhost:5000/my/box   v1        0123456789ab   2 hours ago   4.26MB\n\
             <none>                  <none>    0123456789ab   2 hours ago   4.26MB\n"
        );
        let f = ListFormat::parse("{{.ID}} {{.SharedSize}}").unwrap();
        let rows = super::rows(&imgs[..1], false, false, 0.0);
        assert_eq!(
            f.render(&rows, &headers()).unwrap(),
            "sha256:0123456789abcdef0123 N/A\nsha256:0123456789abcdef0123 N/A\n"
        );
    }

    #[test]
    fn references_and_digests() {
        assert_eq!(split_tag("a/b:c"), ("a/b", "c"));
        assert_eq!(split_tag("host:5000/b"), ("host:5000/b", ""));
        assert_eq!(familiar("docker.io/library/busybox"), "busybox");
        let img = image(
            &["docker.io/library/busybox:1"],
            &["busybox@sha256:aa", "other@sha256:bb"],
        );
        assert_eq!(
            image_rows(&img, true),
            vec![
                ("busybox".into(), "1".into(), "sha256:aa".into()),
                ("other".into(), "<none>".into(), "sha256:bb".into()),
            ]
        );
        assert_eq!(
            image_rows(&img, false),
            vec![
                ("busybox".into(), "1".into(), "<none>".into()),
                ("other".into(), "<none>".into(), String::new()),
            ]
        );
    }
}
