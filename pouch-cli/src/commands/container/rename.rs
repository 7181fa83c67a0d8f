//! `pouch rename`.

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

pub async fn run(ctx: &Ctx, args: RenameArgs) -> CmdResult {
    let old = args.container.trim();
    let new = args.new_name.trim();
    if old.is_empty() || new.is_empty() {
        return Err(StatusError::msg(
            "Error: Neither old nor new names may be empty",
        ));
    }
    if let Err(e) = ctx.client.containers().rename(old, new).await {
        eprintln!("{e}");
        return Err(StatusError::msg(format!(
            "Error: failed to rename container named {old}"
        )));
    }
    Ok(())
}
