//! `pouch system prune`: stopped containers, unused networks, dangling
//! (with `-a`: unused) images, the build cache and, with `--volumes`,
//! unused volumes, as `docker system prune`.

use clap::Args;
use pouch_api::Filters;

use crate::commands::{image, prune, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune volumes too
    #[arg(long)]
    pub volumes: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

/// Docker's warning, listing what will go.
fn warning(args: &PruneArgs) -> String {
    let mut items = vec![
        "  - all stopped containers",
        "  - all networks not used by at least one container",
    ];
    if args.volumes {
        items.push("  - all volumes not used by at least one container");
    }
    items.push(match args.all {
        true => "  - all images without at least one container associated to them",
        false => "  - all dangling images",
    });
    items.push(match args.all {
        true => "  - all build cache",
        false => "  - all dangling build cache",
    });
    format!("WARNING! This will remove:\n{}\n", items.join("\n"))
}

pub async fn run(ctx: &Ctx, args: PruneArgs) -> CmdResult {
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    if !args.force && !prune::ask(&warning(&args))? {
        return Ok(());
    }
    let c = ctx.client.containers().prune(&filters).await?;
    let mut reclaimed = c.space_reclaimed;
    let gone = c.containers_deleted.unwrap_or_default();
    print!("{}", prune::deleted("Deleted Containers", &gone));
    let n = ctx.client.networks().prune(&filters).await?;
    print!(
        "{}",
        prune::deleted("Deleted Networks", &n.networks_deleted)
    );
    if args.volumes {
        let v = ctx.client.volumes().prune(&filters).await?;
        reclaimed += v.space_reclaimed;
        let gone = v.volumes_deleted.unwrap_or_default();
        print!("{}", prune::deleted("Deleted Volumes", &gone));
    }
    let image_args = image::prune::PruneArgs {
        all: args.all,
        force: true,
        filter: args.filter.clone(),
    };
    let filters = image::prune::prune_filters(&image_args).map_err(StatusError::msg)?;
    let i = ctx.client.images().prune(&filters).await?;
    reclaimed += i.space_reclaimed;
    let gone = image::prune::deleted_lines(&i);
    print!("{}", prune::deleted("Deleted Images", &gone));
    let b = ctx.client.images().build_prune().await?;
    reclaimed += b.space_reclaimed;
    let gone = b.caches_deleted.unwrap_or_default();
    print!("{}", prune::deleted("Deleted build cache objects", &gone));
    print!("{}", prune::total(reclaimed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_lists_what_goes() {
        let args = |all, volumes| PruneArgs {
            all,
            force: false,
            volumes,
            filter: Vec::new(),
        };
        let w = warning(&args(false, false));
        assert_eq!(
            w,
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - all dangling build cache\n"
        );
        let w = warning(&args(true, true));
        assert!(w.contains("all volumes not used") && w.contains("without at least one container"));
    }
}
