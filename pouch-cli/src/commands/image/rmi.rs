//! `pouch rmi`.

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: RmiArgs) -> CmdResult {
    let mut errors = Errors::new();
    for name in &args.images {
        match ctx
            .client
            .images()
            .remove(name, args.force, args.no_prune)
            .await
        {
            Ok(items) => {
                for item in items {
                    if let Some(d) = item.deleted.filter(|d| !d.is_empty()) {
                        println!("Deleted: {d}");
                    } else if let Some(u) = item.untagged {
                        println!("Untagged: {u}");
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    errors.into_result()
}
