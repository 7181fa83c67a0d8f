//! Container commands.

pub mod attach;
mod attach_io;
pub mod cp;
pub mod create;
pub mod diff;
pub mod exec;
pub mod export;
pub mod inspect;
pub mod lifecycle;
pub mod logs;
mod opts;
pub mod port;
pub mod prune;
pub mod ps;
pub mod rename;
pub mod rm;
pub mod run;
pub mod start;
pub mod stats;
pub mod top;
pub mod update;
pub mod wait;

/// `pouch container SUBCOMMAND`, as `docker container` (the commands not
/// also at the top level).
#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(prune::PruneArgs),
}

pub async fn dispatch(
    ctx: &crate::commands::Ctx,
    command: ContainerCommand,
) -> crate::error::CmdResult {
    match command {
        ContainerCommand::Prune(a) => prune::run(ctx, a).await,
    }
}
