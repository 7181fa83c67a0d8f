//! `pouch volume rm`.

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: RmArgs) -> CmdResult {
    let mut errors = Errors::new();
    for name in &args.names {
        match ctx.client.volumes().remove(name, args.force).await {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(e),
        }
    }
    errors.into_result()
}
