//! `pouch attach`: attach local stdin/stdout/stderr to a running
//! container and exit with its exit code.

use std::time::Duration;

use clap::Args;
use pouch_api::container::ContainerInspect;
use pouch_client::{AttachOptions, WaitFuture};

use super::attach_io::{self, StreamEnd, TtyTarget, DEFAULT_DETACH_KEYS};
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::term::{self, RawMode};

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(
        long = "sig-proxy",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        action = clap::ArgAction::Set
    )]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Docker's refusals to attach to a container that is not running.
pub fn check_state(c: &ContainerInspect) -> Result<(), String> {
    if !c.state.running {
        return Err("You cannot attach to a stopped container, start it first".into());
    }
    if c.state.paused {
        return Err("You cannot attach to a paused container, unpause it first".into());
    }
    if c.state.restarting {
        return Err("You cannot attach to a restarting container, wait until it is running".into());
    }
    Ok(())
}

async fn inspect_running(ctx: &Ctx, name: &str) -> Result<ContainerInspect, StatusError> {
    let c = ctx.client.containers().inspect(name).await.map_err(|e| {
        if e.is_not_found() {
            StatusError::msg(format!("Error: No such container: {name}"))
        } else {
            e.into()
        }
    })?;
    check_state(&c).map_err(StatusError::msg)?;
    Ok(c)
}

pub async fn run(ctx: &Ctx, args: AttachArgs) -> CmdResult {
    let detach_keys = match &args.detach_keys {
        Some(k) => attach_io::parse_detach_keys(k).map_err(StatusError::msg)?,
        None => DEFAULT_DETACH_KEYS.to_vec(),
    };
    let c = inspect_running(ctx, &args.container).await?;
    let tty = c.config.tty;
    if tty && !args.no_stdin && !term::stdin_is_tty() {
        return Err(StatusError::msg("the input device is not a TTY"));
    }
    let stdin = !args.no_stdin && c.config.open_stdin;
    let containers = ctx.client.containers();
    if args.sig_proxy && !tty {
        attach_io::forward_signals(&ctx.client, &c.id);
    }
    let attached = containers
        .attach(
            &c.id,
            &AttachOptions {
                stdin,
                stdout: true,
                stderr: true,
                stream: true,
                logs: false,
                detach_keys: args.detach_keys.clone(),
                tty,
            },
        )
        .await?;
    // The container runs already: wait for its next exit, registered as
    // soon as we are attached.
    let wait = containers.wait_begin(&c.id, Some("next-exit")).await?;
    // It may have stopped before the attach: don't hang on it.
    inspect_running(ctx, &c.id).await?;
    if tty && term::stdout_is_tty() {
        attach_io::monitor_size(&ctx.client, TtyTarget::Container(c.id.clone()), true).await;
    }
    let mut raw = (tty && stdin).then(RawMode::enable);
    let end = attach_io::stream(attached, stdin, tty, detach_keys).await;
    if let Some(r) = raw.as_mut() {
        r.restore();
    }
    match end {
        Ok(StreamEnd::Done) => {}
        Ok(StreamEnd::Detached) => return Err(StatusError::msg("read escape sequence")),
        Err(e) => return Err(e.into()),
    }
    exit_status(ctx, &c.id, wait).await
}

/// The container's exit code once its output ended. The wait answers
/// when it exits; should the exit have happened between the inspect and
/// the wait's registration (which then waits for a later one), the
/// container's state tells.
async fn exit_status(ctx: &Ctx, id: &str, wait: WaitFuture) -> CmdResult {
    let mut wait = wait;
    loop {
        tokio::select! {
            res = &mut wait => {
                return match res {
                    Ok(r) => {
                        if let Some(e) = r.error.filter(|e| !e.message.is_empty()) {
                            return Err(StatusError::msg(e.message));
                        }
                        match r.status_code {
                            0 => Ok(()),
                            code => Err(StatusError::code(i32::try_from(code).unwrap_or(125))),
                        }
                    }
                    Err(e) => Err(e.into()),
                };
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                match ctx.client.containers().inspect(id).await {
                    Ok(c) if !c.state.running && !c.state.restarting => {
                        return match c.state.exit_code {
                            0 => Ok(()),
                            code => Err(StatusError::code(i32::try_from(code).unwrap_or(125))),
                        };
                    }
                    // Removed meanwhile: nothing more to learn.
                    Err(e) if e.is_not_found() => return Ok(()),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: AttachArgs,
    }

    #[test]
    fn flags() {
        let t = T::try_parse_from(["attach", "--no-stdin", "--sig-proxy=false", "c"]).unwrap();
        assert!(t.a.no_stdin && !t.a.sig_proxy);
        assert_eq!(t.a.container, "c");
        let t = T::try_parse_from(["attach", "--detach-keys", "ctrl-a,x", "c"]).unwrap();
        assert!(t.a.sig_proxy);
        assert_eq!(t.a.detach_keys.as_deref(), Some("ctrl-a,x"));
        assert!(T::try_parse_from(["attach"]).is_err());
    }

    #[test]
    fn refuses_stopped_containers() {
        let mut c = ContainerInspect::default();
        assert!(check_state(&c).unwrap_err().contains("stopped"));
        c.state.running = true;
        assert!(check_state(&c).is_ok());
        c.state.paused = true;
        assert!(check_state(&c).unwrap_err().contains("paused"));
    }
}
