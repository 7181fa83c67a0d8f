//! `pouch commit`: make an image of a container's changes.

use clap::{ArgAction, Args};
use pouch_client::CommitOptions;

use crate::commands::image::reference::Reference;
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "CHANGE")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long, default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// The commit options: the reference split into the familiar repository
/// and tag, as the Go client sends them.
pub fn options(args: &CommitArgs) -> Result<CommitOptions, String> {
    let (repo, tag) = match &args.reference {
        Some(r) => {
            let parsed = Reference::parse(r)?;
            if parsed.digest.is_some() {
                return Err("refusing to create a tag with a digest reference".into());
            }
            (Some(parsed.familiar_name()), parsed.tag)
        }
        None => (None, None),
    };
    Ok(CommitOptions {
        repo,
        tag,
        comment: args.message.clone(),
        author: args.author.clone(),
        pause: args.pause,
        changes: args.changes.clone(),
        config: None,
    })
}

pub async fn run(ctx: &Ctx, args: CommitArgs) -> CmdResult {
    let opts = options(&args).map_err(StatusError::msg)?;
    let id = ctx.client.images().commit(&args.container, &opts).await?;
    println!("{id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> CommitArgs {
        let cli =
            Cli::try_parse_from(std::iter::once("pouch").chain(args.iter().copied())).unwrap();
        match cli.command {
            Command::Commit(a) => a,
            _ => panic!("not commit"),
        }
    }

    #[test]
    fn arguments() {
        let a = parse(&[
            "commit",
            "-a",
            "me",
            "-c",
            "ENV A=b",
            "-c",
            "CMD [\"sh\"]",
            "-m",
            "msg",
            "c1",
            "my/img:v2",
        ]);
        let o = options(&a).unwrap();
        assert_eq!(o.repo.as_deref(), Some("my/img"));
        assert_eq!(o.tag.as_deref(), Some("v2"));
        assert_eq!(o.author.as_deref(), Some("me"));
        assert_eq!(o.comment.as_deref(), Some("msg"));
        assert_eq!(o.changes, ["ENV A=b", "CMD [\"sh\"]"]);
        assert!(o.pause);
        let o = options(&parse(&["commit", "--pause=false", "c1", "box"])).unwrap();
        assert!(!o.pause);
        assert_eq!(o.repo.as_deref(), Some("box"));
        assert_eq!(o.tag, None);
        let o = options(&parse(&["commit", "-p", "c1"])).unwrap();
        assert!(o.pause);
        assert_eq!(o.repo, None);
        assert!(options(&parse(&["commit", "c1", "Box"])).is_err());
        let d = format!("box@sha256:{}", "a".repeat(64));
        assert!(options(&parse(&["commit", "c1", &d]))
            .unwrap_err()
            .contains("digest"));
    }
}
