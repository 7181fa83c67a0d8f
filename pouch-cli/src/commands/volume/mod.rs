//! `pouch volume SUBCOMMAND`, as `docker volume`.

pub mod create;
pub mod inspect;
pub mod ls;
pub mod prune;
pub mod rm;

use clap::Subcommand;

use crate::commands::Ctx;
use crate::error::CmdResult;

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(create::CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(inspect::InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(rm::RmArgs),
    /// Remove all unused local volumes
    Prune(prune::PruneArgs),
}

pub async fn dispatch(ctx: &Ctx, command: VolumeCommand) -> CmdResult {
    match command {
        VolumeCommand::Create(a) => create::run(ctx, a).await,
        VolumeCommand::Ls(a) => ls::run(ctx, a).await,
        VolumeCommand::Inspect(a) => inspect::run(ctx, a).await,
        VolumeCommand::Rm(a) => rm::run(ctx, a).await,
        VolumeCommand::Prune(a) => prune::run(ctx, a).await,
    }
}
