//! Image commands.

pub mod build;
pub mod commit;
pub mod history;
pub mod images;
pub mod import;
pub mod load;
pub mod login;
pub mod progress;
pub mod prune;
pub mod pull;
pub mod reference;
pub mod rmi;
pub mod save;
pub mod tag;

use clap::{Args, Subcommand};

use crate::commands::container::inspect::{self, InspectArgs, ObjectType};
use crate::commands::Ctx;
use crate::error::CmdResult;

/// `pouch image SUBCOMMAND`, as `docker image`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(images::ImagesArgs),
    /// Remove one or more images
    #[command(visible_aliases = ["rmi", "remove"])]
    Rm(rmi::RmiArgs),
    /// Pull an image or a repository from a registry
    Pull(pull::PullArgs),
    /// Push an image or a repository to a registry
    Push(pull::PushArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(save::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(import::ImportArgs),
    /// Show the history of an image
    History(history::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(tag::TagArgs),
    /// Display detailed information on one or more images
    Inspect(ImageInspectArgs),
    /// Remove unused images
    Prune(prune::PruneArgs),
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub names: Vec<String>,
}

pub async fn dispatch(ctx: &Ctx, command: ImageCommand) -> CmdResult {
    match command {
        ImageCommand::Ls(a) => images::run(ctx, a).await,
        ImageCommand::Rm(a) => rmi::run(ctx, a).await,
        ImageCommand::Pull(a) => pull::pull(ctx, a).await,
        ImageCommand::Push(a) => pull::push(ctx, a).await,
        ImageCommand::Save(a) => save::run(ctx, a).await,
        ImageCommand::Load(a) => load::run(ctx, a).await,
        ImageCommand::Import(a) => import::run(ctx, a).await,
        ImageCommand::History(a) => history::run(ctx, a).await,
        ImageCommand::Tag(a) => tag::run(ctx, a).await,
        ImageCommand::Prune(a) => prune::run(ctx, a).await,
        ImageCommand::Inspect(a) => {
            let args = InspectArgs {
                format: a.format,
                kind: Some(ObjectType::Image),
                size: false,
                names: a.names,
            };
            inspect::run(ctx, args).await
        }
    }
}
