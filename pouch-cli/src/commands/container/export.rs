//! `pouch export [-o FILE] CONTAINER`: the container's filesystem as a
//! tar archive.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::archive::copy::validate_output_path;
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::term;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// A temporary file next to `path`, renamed over it once complete (a
/// failed export leaves no partial file behind).
struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<tokio::fs::File>,
}

impl AtomicFile {
    async fn create(dest: &Path) -> std::io::Result<Self> {
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty());
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp_name = format!(".tmp-{name}{}", std::process::id());
        let tmp = dir.map_or_else(|| PathBuf::from(&tmp_name), |d| d.join(&tmp_name));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .await?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            file: Some(file),
        })
    }

    async fn commit(mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        tokio::fs::rename(&self.tmp, &self.dest).await
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

pub async fn run(ctx: &Ctx, args: ExportArgs) -> CmdResult {
    let output = args.output.as_deref().filter(|o| !o.is_empty());
    if output.is_none() && term::stdout_is_tty() {
        return Err(StatusError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    if let Some(o) = output {
        validate_output_path(o)
            .map_err(|e| StatusError::msg(format!("failed to export container: {e}")))?;
    }
    let mut stream = ctx.client.containers().export(&args.container).await?;
    match output {
        None => {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                let mut out = std::io::stdout().lock();
                out.write_all(&chunk)?;
            }
            std::io::stdout().flush()?;
        }
        Some(o) => {
            let mut f = AtomicFile::create(Path::new(o)).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if let Some(file) = f.file.as_mut() {
                    file.write_all(&chunk).await?;
                }
            }
            f.commit().await?;
        }
    }
    Ok(())
}
