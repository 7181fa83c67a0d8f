//! `pouch save`: write images as a tarball (`docker save` format).

use std::path::Path;

use clap::Args;
use futures::StreamExt;
use pouch_client::ByteStream;

use crate::commands::Ctx;
use crate::error::{describe, CmdResult, StatusError};
use crate::term;

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

async fn copy_to(mut body: ByteStream, out: &mut dyn std::io::Write) -> CmdResult {
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StatusError::msg(describe(&e)))?;
        out.write_all(&chunk)?;
    }
    out.flush()?;
    Ok(())
}

/// Write the stream to `path` through a temporary file in the same
/// directory, renamed into place only when complete (docker's
/// `CopyToFile`), so a failed save leaves no partial archive.
async fn save_to_file(body: ByteStream, path: &str) -> CmdResult {
    let target = Path::new(path);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| StatusError::msg(format!("failed to save image: {e}"));
    let mut tmp = tempfile::Builder::new()
        .prefix(".docker_temp_")
        .tempfile_in(dir)
        .map_err(fail)?;
    copy_to(body, tmp.as_file_mut()).await?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(target).map_err(|e| fail(e.error))?;
    Ok(())
}

pub async fn run(ctx: &Ctx, args: SaveArgs) -> CmdResult {
    if args.output.is_none() && term::stdout_is_tty() {
        return Err(StatusError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    let names: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let body = ctx.client.images().save(&names).await?;
    match &args.output {
        Some(path) => save_to_file(body, path).await,
        None => copy_to(body, &mut std::io::stdout().lock()).await,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn file_appears_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tar");
        let p = path.to_str().unwrap();
        let ok: Vec<pouch_client::Result<Bytes>> =
            vec![Ok(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"cd"))];
        save_to_file(Box::pin(futures::stream::iter(ok)), p)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abcd");
        let bad: Vec<pouch_client::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"xy")),
            Err(pouch_client::Error::Stream("boom".into())),
        ];
        let e = save_to_file(Box::pin(futures::stream::iter(bad)), p)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "boom");
        assert_eq!(std::fs::read(&path).unwrap(), b"abcd", "old file kept");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp left"
        );
    }
}
