//! `pouch container prune`: remove every stopped container.

use clap::Args;
use pouch_api::container::ContainersPruneResponse;
use pouch_api::Filters;

use crate::commands::{prune, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

const WARNING: &str = "WARNING! This will remove all stopped containers.";

/// The report printed after a prune.
pub fn report(resp: &ContainersPruneResponse) -> String {
    let deleted = resp.containers_deleted.as_deref().unwrap_or_default();
    prune::report("Deleted Containers", deleted, resp.space_reclaimed)
}

pub async fn run(ctx: &Ctx, args: PruneArgs) -> CmdResult {
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    if !args.force && !prune::ask(WARNING)? {
        return Ok(());
    }
    let resp = ctx.client.containers().prune(&filters).await?;
    print!("{}", report(&resp));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_like_docker() {
        assert_eq!(
            report(&ContainersPruneResponse::default()),
            "Total reclaimed space: 0B\n"
        );
        let r = ContainersPruneResponse {
            containers_deleted: Some(vec!["a1".into(), "b2".into()]),
            space_reclaimed: 5,
        };
        assert_eq!(
            report(&r),
            "Deleted Containers:\na1\nb2\n\nTotal reclaimed space: 5B\n"
        );
    }
}
