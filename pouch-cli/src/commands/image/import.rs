//! `pouch import`: make an image of a root filesystem tarball (a file,
//! stdin or a URL the daemon downloads).

use clap::Args;
use pouch_client::ImportOptions;

use crate::commands::image::progress::Display;
use crate::commands::image::reference::Reference;
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::term;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "CHANGE")]
    pub changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(value_name = "file|URL|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// Where the tarball comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum Source<'a> {
    Stdin,
    Url(&'a str),
    File(&'a str),
}

pub fn source(s: &str) -> Source<'_> {
    if s == "-" {
        Source::Stdin
    } else if s.starts_with("http://") || s.starts_with("https://") {
        Source::Url(s)
    } else {
        Source::File(s)
    }
}

/// The import options; the reference is checked here and sent whole as
/// `repo`, as the Go client does.
pub fn options(args: &ImportArgs) -> Result<ImportOptions, String> {
    if let Some(r) = &args.reference {
        Reference::parse(r)?;
    }
    Ok(ImportOptions {
        repo: args.reference.clone(),
        tag: None,
        message: args.message.clone(),
        changes: args.changes.clone(),
        platform: args.platform.clone().filter(|p| !p.is_empty()),
    })
}

pub async fn run(ctx: &Ctx, args: ImportArgs) -> CmdResult {
    let opts = options(&args).map_err(StatusError::msg)?;
    let images = ctx.client.images();
    let messages = match source(&args.source) {
        Source::Stdin => images.import_reader(tokio::io::stdin(), &opts).await?,
        Source::Url(url) => images.import_url(url, &opts).await?,
        Source::File(path) => {
            let file = tokio::fs::File::open(path).await.map_err(|e| {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                    _ => e.to_string(),
                };
                StatusError::msg(format!("open {path}: {reason}"))
            })?;
            images.import_reader(file, &opts).await?
        }
    };
    Display::new(term::stdout_is_tty()).run(messages).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn sources_and_options() {
        assert_eq!(source("-"), Source::Stdin);
        assert_eq!(source("https://h/x.tar"), Source::Url("https://h/x.tar"));
        assert_eq!(source("./x.tar"), Source::File("./x.tar"));
        let cli = Cli::try_parse_from([
            "pouch",
            "import",
            "-c",
            "CMD [\"sh\"]",
            "--change",
            "ENV A=b",
            "-m",
            "msg",
            "-",
            "my/img:v1",
        ])
        .unwrap();
        let Command::Import(a) = cli.command else {
            panic!("not import")
        };
        let o = options(&a).unwrap();
        assert_eq!(o.repo.as_deref(), Some("my/img:v1"));
        assert_eq!(o.changes, ["CMD [\"sh\"]", "ENV A=b"]);
        assert_eq!(o.message.as_deref(), Some("msg"));
        let cli = Cli::try_parse_from(["pouch", "import", "x.tar", "Bad:Ref"]).unwrap();
        let Command::Import(a) = cli.command else {
            panic!("not import")
        };
        assert!(options(&a).unwrap_err().contains("lowercase"));
    }
}
