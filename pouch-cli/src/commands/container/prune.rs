//! `pouch container prune`: remove every stopped container.

use std::io::Write as _;

use clap::Args;
use pouch_api::container::ContainersPruneResponse;
use pouch_api::Filters;

use crate::commands::image::prune::confirmed;
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::human::human_size4;

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
    let mut out = String::new();
    if let Some(deleted) = resp.containers_deleted.as_ref().filter(|d| !d.is_empty()) {
        out.push_str("Deleted Containers:\n");
        for id in deleted {
            out.push_str(id);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size4(resp.space_reclaimed as f64)
    ));
    out
}

pub async fn run(ctx: &Ctx, args: PruneArgs) -> CmdResult {
    let mut filters = Filters::new();
    for f in &args.filter {
        filters.add_arg(f).map_err(StatusError::msg)?;
    }
    if !args.force {
        print!("{WARNING}\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !confirmed(&answer) {
            return Ok(());
        }
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
