//! `pouch diff CONTAINER`: the changes to a container's filesystem.

use clap::Args;
use pouch_client::FilesystemChange;

use crate::commands::Ctx;
use crate::error::CmdResult;

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `C /etc` lines, in the daemon's order.
pub fn render(changes: &[FilesystemChange]) -> String {
    changes
        .iter()
        .map(|c| format!("{} {}\n", c.kind_letter(), c.path))
        .collect()
}

pub async fn run(ctx: &Ctx, args: DiffArgs) -> CmdResult {
    let changes = ctx.client.containers().changes(&args.container).await?;
    print!("{}", render(&changes));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let c = |path: &str, kind| FilesystemChange {
            path: path.into(),
            kind,
        };
        assert_eq!(
            render(&[c("/etc", 0), c("/etc/x", 1), c("/bin/y", 2)]),
            "C /etc\nA /etc/x\nD /bin/y\n"
        );
        assert_eq!(render(&[]), "");
    }
}
