//! `pouch volume inspect`.

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};
use crate::format::inspect as inspect_output;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: InspectArgs) -> CmdResult {
    let template = inspect_output::parse_format(args.format.as_deref())?;
    let mut found = Vec::new();
    let mut errors = Errors::new();
    for name in &args.names {
        match ctx.client.volumes().inspect(name).await {
            Ok(v) => found.push(v),
            Err(e) if e.is_not_found() => errors.push(format!("Error: No such volume: {name}")),
            Err(e) => errors.push(e),
        }
    }
    inspect_output::print(&found, template.as_ref(), &mut errors)?;
    errors.into_result()
}
