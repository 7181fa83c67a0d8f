//! `pouch load`: upload an image tarball (file or stdin).

use std::io::Write as _;

use clap::Args;
use futures::StreamExt;
use pouch_client::JsonMessageStream;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::term;

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Print a JSON message stream as docker does (text of `stream`
/// messages, `id: status` lines otherwise).
async fn print_messages(mut messages: JsonMessageStream) -> CmdResult {
    while let Some(msg) = messages.next().await {
        let msg = msg?;
        let mut out = std::io::stdout().lock();
        if !msg.stream.is_empty() {
            write!(out, "{}", msg.stream)?;
        } else if !msg.status.is_empty() {
            if msg.id.is_empty() {
                writeln!(out, "{} {}", msg.status, msg.progress)?;
            } else {
                writeln!(out, "{}: {} {}", msg.id, msg.status, msg.progress)?;
            }
        }
        out.flush()?;
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, args: LoadArgs) -> CmdResult {
    // Progress bars only make sense on a terminal.
    let quiet = args.quiet || !term::stdout_is_tty();
    let images = ctx.client.images();
    let messages = match &args.input {
        Some(path) => {
            let file = tokio::fs::File::open(path).await.map_err(|e| {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                StatusError::msg(format!("open {path}: {reason}"))
            })?;
            images.load_reader(file, quiet).await?
        }
        None => {
            if term::stdin_is_tty() {
                return Err(StatusError::msg(
                    "requested load from stdin, but stdin is empty",
                ));
            }
            images.load_reader(tokio::io::stdin(), quiet).await?
        }
    };
    print_messages(messages).await
}
