//! `pouch wait`: print each container's exit code once it stops.

use crate::commands::container::lifecycle::NamesArgs;
use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};

pub async fn run(ctx: &Ctx, args: NamesArgs) -> CmdResult {
    let mut errors = Errors::new();
    for name in &args.containers {
        match ctx.client.containers().wait(name, None).await {
            Ok(resp) => match resp.error.filter(|e| !e.message.is_empty()) {
                Some(err) => errors.push(err.message),
                None => println!("{}", resp.status_code),
            },
            Err(e) => errors.push(e),
        }
    }
    errors.into_result()
}
