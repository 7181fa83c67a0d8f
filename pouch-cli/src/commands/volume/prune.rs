//! `pouch volume prune`: remove every volume no container uses (API 1.41).

use clap::Args;
use pouch_api::volume::VolumesPruneResponse;
use pouch_api::Filters;

use crate::commands::{prune, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<label>')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

const WARNING: &str =
    "WARNING! This will remove all local volumes not used by at least one container.";

/// The report printed after a prune.
pub fn report(resp: &VolumesPruneResponse) -> String {
    let deleted = resp.volumes_deleted.as_deref().unwrap_or_default();
    prune::report("Deleted Volumes", deleted, resp.space_reclaimed)
}

pub async fn run(ctx: &Ctx, args: PruneArgs) -> CmdResult {
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    if !args.force && !prune::ask(WARNING)? {
        return Ok(());
    }
    let resp = ctx.client.volumes().prune(&filters).await?;
    print!("{}", report(&resp));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_like_docker() {
        assert_eq!(
            report(&VolumesPruneResponse::default()),
            "Total reclaimed space: 0B\n"
        );
        let r = VolumesPruneResponse {
            volumes_deleted: Some(vec!["a".into(), "b".into()]),
            space_reclaimed: 2048,
        };
        assert_eq!(
            report(&r),
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 2.048kB\n"
        );
    }
}
