//! `pouch rm`.

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: RmArgs) -> CmdResult {
    let mut errors = Errors::new();
    for name in &args.containers {
        if name.is_empty() {
            errors.push("Container name cannot be empty");
            continue;
        }
        let id = name.trim_matches('/');
        match ctx
            .client
            .containers()
            .remove(id, args.force, args.volumes)
            .await
        {
            Ok(()) => println!("{name}"),
            // `rm -f` of a missing container is not a failure (docker).
            Err(e) if args.force && e.is_not_found() => eprintln!("{e}"),
            Err(e) => errors.push(e),
        }
    }
    errors.into_result()
}
