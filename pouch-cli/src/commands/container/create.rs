//! `pouch create`, and the create step shared with `run`.

use clap::Args;
use pouch_api::container::ContainerCreateRequest;

use super::opts::ContainerOpts;
use crate::commands::{with_default_tag, Ctx};
use crate::error::{describe, CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
}

/// Create the container and return its ID. Warnings go to stderr; when
/// the image is missing the docker CLI's `Unable to find image` line is
/// printed before the error (there is no registry to pull from).
pub async fn create_container(
    ctx: &Ctx,
    name: Option<&str>,
    req: &ContainerCreateRequest,
) -> Result<String, pouch_client::Error> {
    match ctx.client.containers().create(name, req).await {
        Ok(resp) => {
            for w in &resp.warnings {
                eprintln!("WARNING: {w}");
            }
            Ok(resp.id)
        }
        Err(e) => {
            if e.is_not_found() {
                eprintln!(
                    "Unable to find image '{}' locally",
                    with_default_tag(&req.config.image)
                );
            }
            Err(e)
        }
    }
}

/// Docker's exit code for a failed create/start in `run`: 127 when the
/// command is not found, 126 when it cannot be invoked, else 125.
pub fn start_error_code(msg: &str) -> i32 {
    let msg = msg
        .strip_prefix("Error response from daemon: ")
        .unwrap_or(msg);
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") {
        126
    } else {
        125
    }
}

pub async fn run(ctx: &Ctx, args: CreateArgs) -> CmdResult {
    let mut req = args
        .opts
        .to_request()
        .map_err(|e| StatusError::new(125, usage_error("create", &e)))?;
    // A created container is not attached to: no StdinOnce.
    req.config.stdin_once = false;
    let id = create_container(ctx, args.opts.name.as_deref(), &req)
        .await
        .map_err(|e| StatusError::new(125, describe(&e)))?;
    println!("{id}");
    Ok(())
}

/// Docker's `reportError` with help: `pouch: <msg>.\nSee 'pouch <cmd> --help'.`
pub fn usage_error(cmd: &str, msg: &str) -> String {
    format!(
        "pouch: {}.\nSee 'pouch {cmd} --help'.",
        msg.trim_end().trim_end_matches('.')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_of_start_errors() {
        assert_eq!(
            start_error_code(
                "Error response from daemon: failed to create shim task: OCI runtime create failed: exec: \"nosuch\": executable file not found in $PATH"
            ),
            127
        );
        assert_eq!(start_error_code("exec: /x: no such file or directory"), 127);
        assert_eq!(start_error_code("exec: \"/etc\": permission denied"), 126);
        assert_eq!(start_error_code("No such image: x"), 125);
        assert_eq!(
            usage_error("run", "Error response from daemon: No such image: x."),
            "pouch: Error response from daemon: No such image: x.\nSee 'pouch run --help'."
        );
    }
}
