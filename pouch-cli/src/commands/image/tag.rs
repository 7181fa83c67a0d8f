//! `pouch tag SOURCE TARGET`.

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

/// Split a target reference into `(repository, tag)`, validating it as
/// Docker's reference parser would (lowercase repository, valid tag, no
/// digest). A missing tag is `latest`.
pub fn parse_target(target: &str) -> Result<(String, String), String> {
    if target.contains('@') {
        return Err("refusing to create a tag with a digest reference".to_string());
    }
    let slash = target.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match target[slash..].rfind(':') {
        Some(i) => (&target[..slash + i], &target[slash + i + 1..]),
        None => (target, "latest"),
    };
    if repo.is_empty() {
        return Err("invalid reference format".to_string());
    }
    if repo.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("invalid reference format: repository name must be lowercase".to_string());
    }
    let valid_tag = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    // The first path component may be a registry host with a port.
    let (host, path) = match repo.split_once('/') {
        Some((h, p)) if h.contains(['.', ':']) || h == "localhost" => (Some(h), p),
        _ => (None, repo),
    };
    let valid_host = host.is_none_or(|h| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    });
    let valid_path = path.split('/').all(|comp| {
        !comp.is_empty()
            && comp.starts_with(|c: char| c.is_ascii_alphanumeric())
            && comp.ends_with(|c: char| c.is_ascii_alphanumeric())
            && comp.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
    });
    if !valid_tag || !valid_host || !valid_path {
        return Err("invalid reference format".to_string());
    }
    Ok((repo.to_string(), tag.to_string()))
}

pub async fn run(ctx: &Ctx, args: TagArgs) -> CmdResult {
    let (repo, tag) = parse_target(&args.target).map_err(StatusError::msg)?;
    ctx.client
        .images()
        .tag(&args.source, &repo, Some(&tag))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("box"), Ok(("box".into(), "latest".into())));
        assert_eq!(
            parse_target("my/box:v1"),
            Ok(("my/box".into(), "v1".into()))
        );
        assert_eq!(
            parse_target("localhost:5000/box"),
            Ok(("localhost:5000/box".into(), "latest".into()))
        );
        assert_eq!(
            parse_target("Box:1"),
            Err("invalid reference format: repository name must be lowercase".into())
        );
        assert!(parse_target("box@sha256:aa").is_err());
        assert!(parse_target("box:").is_err());
        assert!(parse_target("box:-x").is_err());
        assert!(parse_target(":x").is_err());
        assert!(parse_target("a//b").is_err());
    }
}
