//! `pouch build`: the context directory as a tar (less what .dockerignore
//! excludes), sent to `POST /build`; the builder's output as it comes.

use clap::Args;
use futures::StreamExt;
use pouch_client::BuildOptions;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::commands::{key_values, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (Default is 'PATH/Dockerfile')
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long)]
    pub network: Option<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// The name a Dockerfile from outside the context has in it.
const OUTSIDE_DOCKERFILE: &str = ".dockerfile.pouch";

/// `.dockerignore` patterns: the last one matching a path decides (`!`
/// re-includes); a pattern matching a directory takes what is below it.
#[derive(Debug, Default)]
pub struct Ignore {
    patterns: Vec<(bool, String)>,
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
            let rest = p[2..].strip_prefix(b"/").unwrap_or(&p[2..]);
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..])),
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

impl Ignore {
    pub fn parse(text: &str) -> Self {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (keep, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let p = p.trim_start_matches("./").trim_start_matches('/');
                (keep, p.trim_end_matches('/').to_string())
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        Ignore { patterns }
    }

    /// Whether context path `rel` (`a/b/c`) is left out.
    pub fn excludes(&self, rel: &str) -> bool {
        let mut out = false;
        for (keep, p) in &self.patterns {
            let mut prefix = String::new();
            let hit = rel.split('/').any(|c| {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(c);
                glob(p.as_bytes(), prefix.as_bytes())
            });
            if hit {
                out = !keep;
            }
        }
        out
    }
}

/// Writes the tar of `dir` (less what `ignore` excludes, but never
/// `always`) to `out`.
fn context_tar(
    dir: &Path,
    ignore: &Ignore,
    always: &[&str],
    extra: Option<&Path>,
    out: std::fs::File,
) -> std::io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    if let Some(f) = extra {
        b.append_path_with_name(f, OUTSIDE_DOCKERFILE)?;
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(&rel))?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = rel.join(e.file_name());
            let name = path.to_string_lossy().into_owned();
            if ignore.excludes(&name) && !always.contains(&name.as_str()) {
                continue;
            }
            let ft = e.file_type()?;
            b.append_path_with_name(e.path(), &path)?;
            if ft.is_dir() {
                stack.push(path);
            }
        }
    }
    b.into_inner()?.flush()
}

/// `--build-arg`s: a bare name takes its value from the environment, as
/// docker's does.
fn build_args(items: &[String]) -> HashMap<String, String> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            // docker takes a bare name's value from the environment.
            None => (s.clone(), std::env::var(s).unwrap_or_default()),
        })
        .collect()
}

pub async fn run(ctx: &Ctx, args: BuildArgs) -> CmdResult {
    let dir = args.path.clone();
    if !dir.is_dir() {
        return Err(StatusError::msg(format!(
            "unable to prepare context: path {:?} not found",
            dir.display().to_string()
        )));
    }
    let ignore = std::fs::read_to_string(dir.join(".dockerignore"))
        .map(|t| Ignore::parse(&t))
        .unwrap_or_default();
    // A Dockerfile outside the context travels in it under a name of its own.
    let (dockerfile, extra) = match &args.file {
        None => ("Dockerfile".to_string(), None),
        Some(f) => {
            let file = std::fs::canonicalize(f).map_err(|e| {
                StatusError::msg(format!("unable to prepare context: {}: {e}", f.display()))
            })?;
            let root = std::fs::canonicalize(&dir)?;
            match file.strip_prefix(&root) {
                Ok(rel) => (rel.to_string_lossy().into_owned(), None),
                Err(_) => (OUTSIDE_DOCKERFILE.to_string(), Some(file.clone())),
            }
        }
    };
    let spool = tempfile::tempfile()?;
    let writer = spool.try_clone()?;
    let (d, df) = (dir.clone(), dockerfile.clone());
    tokio::task::spawn_blocking(move || {
        context_tar(
            &d,
            &ignore,
            &[df.as_str(), ".dockerignore"],
            extra.as_deref(),
            writer,
        )
    })
    .await
    .map_err(|e| StatusError::msg(format!("preparing the context: {e}")))??;
    let opts = BuildOptions {
        tags: args.tags.clone(),
        dockerfile,
        build_args: build_args(&args.build_args),
        labels: key_values(&args.labels),
        target: args.target.clone().unwrap_or_default(),
        network: args.network.clone().unwrap_or_default(),
        quiet: args.quiet,
        no_cache: args.no_cache,
        pull: args.pull,
    };
    let mut file = tokio::fs::File::from_std(spool);
    tokio::io::AsyncSeekExt::rewind(&mut file).await?;
    let mut messages = ctx.client.images().build_reader(&opts, file).await?;
    while let Some(msg) = messages.next().await {
        let msg = msg?;
        let mut out = std::io::stdout().lock();
        if !msg.stream.is_empty() {
            write!(out, "{}", msg.stream)?;
        } else if !msg.status.is_empty() {
            writeln!(out, "{} {}", msg.status, msg.progress)?;
        }
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns() {
        let i = Ignore::parse("# c\n*.log\n/build/\ntmp*\n!tmp/keep\n**/secret\n");
        assert!(i.excludes("a.log"));
        assert!(!i.excludes("sub/a.log"));
        assert!(i.excludes("build"));
        assert!(i.excludes("build/x/y"));
        assert!(i.excludes("tmp/other"));
        assert!(!i.excludes("tmp/keep"));
        assert!(i.excludes("deep/er/secret"));
        assert!(i.excludes("secret"));
        assert!(!i.excludes("src/main.rs"));
    }
}
