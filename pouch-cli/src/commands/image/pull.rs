//! `pouch pull` and `pouch push`: registry transfers with progress, and
//! the stored credentials of the image's registry.

use clap::Args;
use pouch_api::image::AuthConfig;
use pouch_client::PullOptions;

use crate::commands::image::progress::{drain, Display};
use crate::commands::image::reference::Reference;
use crate::commands::Ctx;
use crate::config_file::{default_path, ConfigFile};
use crate::error::{CmdResult, StatusError};
use crate::term;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Skip image verification (accepted for compatibility; always on)
    #[arg(long = "disable-content-trust", default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    pub disable_content_trust: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Skip image signing (accepted for compatibility; always on)
    #[arg(long = "disable-content-trust", default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    pub disable_content_trust: bool,
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

/// The stored credentials for `reference`'s registry, if any. A broken
/// config file is a warning, as with docker: the transfer goes on
/// anonymously.
pub fn stored_auth(reference: &Reference) -> Option<AuthConfig> {
    match ConfigFile::load(&default_path()) {
        Ok(c) => c.get_auth(&reference.auth_key()),
        Err(e) => {
            eprintln!("WARNING: Error {e}");
            None
        }
    }
}

pub async fn pull(ctx: &Ctx, args: PullArgs) -> CmdResult {
    let r = Reference::parse(&args.name).map_err(StatusError::msg)?;
    if r.is_name_only() && !args.quiet {
        println!("Using default tag: latest");
    }
    let opts = PullOptions {
        platform: args.platform.clone().filter(|p| !p.is_empty()),
        auth: stored_auth(&r),
    };
    let messages = ctx
        .client
        .images()
        .pull(&r.familiar_name(), Some(&r.api_tag()), &opts)
        .await?;
    if args.quiet {
        drain(messages).await?;
    } else {
        Display::new(term::stdout_is_tty()).run(messages).await?;
    }
    println!("{}", r.full_string());
    Ok(())
}

pub async fn push(ctx: &Ctx, args: PushArgs) -> CmdResult {
    let r = Reference::parse(&args.name).map_err(StatusError::msg)?;
    if r.digest.is_some() {
        return Err(StatusError::msg(
            "invalid reference format: cannot push a digest reference",
        ));
    }
    if args.all_tags && r.tag.is_some() {
        return Err(StatusError::msg(format!(
            "tag can't be used with --all-tags/-a: {}",
            args.name
        )));
    }
    let tag = match (&r.tag, args.all_tags) {
        (Some(t), _) => Some(t.clone()),
        (None, true) => None,
        (None, false) => {
            if !args.quiet {
                println!("Using default tag: latest");
            }
            Some("latest".to_string())
        }
    };
    let auth = stored_auth(&r);
    let messages = ctx
        .client
        .images()
        .push(&r.familiar_name(), tag.as_deref(), auth.as_ref())
        .await?;
    if args.quiet {
        drain(messages).await?;
        println!("{}", r.normalized_string());
    } else {
        Display::new(term::stdout_is_tty()).run(messages).await?;
    }
    Ok(())
}
