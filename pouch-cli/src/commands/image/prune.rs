//! `pouch image prune`: remove unused images.

use clap::Args;
use pouch_api::image::ImagesPruneResponse;
use pouch_api::Filters;

use crate::commands::{prune, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

const DANGLING_WARNING: &str = "WARNING! This will remove all dangling images.";
const ALL_WARNING: &str =
    "WARNING! This will remove all images without at least one container associated to them.";

/// Docker's lines for the removed images: `untagged: ...`, `deleted: ...`.
pub fn deleted_lines(resp: &ImagesPruneResponse) -> Vec<String> {
    resp.images_deleted
        .iter()
        .filter_map(|item| match (&item.untagged, &item.deleted) {
            (Some(u), _) if !u.is_empty() => Some(format!("untagged: {u}")),
            (_, Some(d)) => Some(format!("deleted: {d}")),
            _ => None,
        })
        .collect()
}

/// The report printed after a prune.
pub fn report(resp: &ImagesPruneResponse) -> String {
    prune::report("Deleted Images", &deleted_lines(resp), resp.space_reclaimed)
}

/// The filters sent: the user's plus, as the docker CLI does, always
/// `dangling` (false with `-a`).
pub fn prune_filters(args: &PruneArgs) -> Result<Filters, String> {
    Ok(Filters::from_args(&args.filter)?.with("dangling", (!args.all).to_string()))
}

pub async fn run(ctx: &Ctx, args: PruneArgs) -> CmdResult {
    let filters = prune_filters(&args).map_err(StatusError::msg)?;
    if !args.force {
        let warning = if args.all {
            ALL_WARNING
        } else {
            DANGLING_WARNING
        };
        if !prune::ask(warning)? {
            print!("{}", report(&ImagesPruneResponse::default()));
            return Ok(());
        }
    }
    let resp = ctx.client.images().prune(&filters).await?;
    print!("{}", report(&resp));
    Ok(())
}

#[cfg(test)]
mod tests {
    use pouch_api::image::ImageDeleteResponseItem;

    use super::*;

    #[test]
    fn reports_like_docker() {
        assert_eq!(
            report(&ImagesPruneResponse::default()),
            "Total reclaimed space: 0B\n"
        );
        let resp = ImagesPruneResponse {
            images_deleted: vec![
                ImageDeleteResponseItem {
                    untagged: Some("box:v1".into()),
                    deleted: None,
                },
                ImageDeleteResponseItem {
                    untagged: None,
                    deleted: Some("sha256:01".into()),
                },
            ],
            space_reclaimed: 4_261_234,
        };
        assert_eq!(
            report(&resp),
            "Deleted Images:\nuntagged: box:v1\ndeleted: sha256:01\n\n\
             Total reclaimed space: 4.261MB\n"
        );
        let args = |all: bool, filter: &[&str]| PruneArgs {
            all,
            force: true,
            filter: filter.iter().map(|s| s.to_string()).collect(),
        };
        let f = prune_filters(&args(false, &["until=1h", "label=a=b"])).unwrap();
        assert_eq!(f.get("dangling"), ["true"]);
        assert_eq!(f.get("until"), ["1h"]);
        assert_eq!(f.get("label"), ["a=b"]);
        let f = prune_filters(&args(true, &[])).unwrap();
        assert_eq!(f.get("dangling"), ["false"]);
        assert!(prune_filters(&args(false, &["bogus"])).is_err());
    }
}
