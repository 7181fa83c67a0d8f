//! System commands.

pub mod df;
pub mod events;
pub mod info;
pub mod prune;
pub mod version;

/// `pouch system SUBCOMMAND`, as `docker system`.
#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Show pouchd disk usage
    Df(df::DfArgs),
    /// Get real time events from the server
    Events(events::EventsArgs),
    /// Display system-wide information
    Info(info::InfoArgs),
    /// Remove unused data
    Prune(prune::PruneArgs),
}

pub async fn dispatch(
    ctx: &crate::commands::Ctx,
    command: SystemCommand,
) -> crate::error::CmdResult {
    match command {
        SystemCommand::Df(a) => df::run(ctx, a).await,
        SystemCommand::Events(a) => events::run(ctx, a).await,
        SystemCommand::Info(a) => info::run(ctx, a).await,
        SystemCommand::Prune(a) => prune::run(ctx, a).await,
    }
}
