//! `pouch run`: create, attach, wait, start, stream, exit with the
//! container's status — in the docker CLI's order.

use clap::Args;
use pouch_client::AttachOptions;

use super::attach_io::{self, StreamEnd, DEFAULT_DETACH_KEYS};
use super::create::{create_container, start_error_code, usage_error};
use super::opts::ContainerOpts;
use crate::commands::Ctx;
use crate::error::{describe, CmdResult, StatusError};
use crate::term::{self, RawMode};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Proxy received signals to the process (non-TTY mode only)
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
    #[command(flatten)]
    pub opts: ContainerOpts,
}

fn report(msg: &str, code: i32) -> StatusError {
    StatusError::new(code, usage_error("run", msg))
}

/// Report a client error with docker's exit code for it.
fn report_client(e: &pouch_client::Error) -> StatusError {
    report(&describe(e), start_error_code(&e.to_string()))
}

pub async fn run(ctx: &Ctx, args: RunArgs) -> CmdResult {
    let o = &args.opts;
    let mut req = o.to_request().map_err(|e| report(&e, 125))?;
    let detach_keys = match &args.detach_keys {
        Some(k) => attach_io::parse_detach_keys(k).map_err(StatusError::msg)?,
        None => DEFAULT_DETACH_KEYS.to_vec(),
    };
    if args.detach {
        req.config.attach_stdin = false;
        req.config.attach_stdout = false;
        req.config.attach_stderr = false;
        req.config.stdin_once = false;
    } else {
        if o.tty && o.interactive && !term::stdin_is_tty() {
            return Err(StatusError::msg("the input device is not a TTY"));
        }
        req.config.stdin_once = o.interactive;
        // The initial TTY size, so the process need not wait for a resize
        // (API 1.42+, what recent docker CLIs send).
        if o.tty && term::stdout_is_tty() {
            if let Some((h, w)) = term::size() {
                req.host_config.console_size = [u64::from(h), u64::from(w)];
            }
        }
    }

    let containers = ctx.client.containers();
    let id = create_container(ctx, o.name.as_deref(), &req)
        .await
        .map_err(|e| report_client(&e))?;

    if args.detach {
        containers.start(&id).await.map_err(|e| report_client(&e))?;
        println!("{id}");
        return Ok(());
    }

    // Attach and register the wait before starting, so no output and no
    // exit can be missed.
    let attach_opts = AttachOptions {
        stdin: o.interactive,
        stdout: true,
        stderr: true,
        stream: true,
        logs: false,
        detach_keys: None,
        tty: o.tty,
    };
    let attached = containers
        .attach(&id, &attach_opts)
        .await
        .map_err(|e| report(&describe(&e), 125))?;
    let condition = if o.rm { "removed" } else { "next-exit" };
    let wait = containers
        .wait_begin(&id, Some(condition))
        .await
        .map_err(|e| report(&describe(&e), 125))?;

    let mut raw = (o.tty && o.interactive).then(RawMode::enable);
    if let Err(e) = containers.start(&id).await {
        if let Some(r) = raw.as_mut() {
            r.restore();
        }
        return Err(report_client(&e));
    }
    if o.tty && term::stdout_is_tty() {
        attach_io::monitor_tty_size(&ctx.client, &id).await;
    }
    if !o.tty && args.sig_proxy {
        attach_io::forward_signals(&ctx.client, &id);
    }

    let end = attach_io::stream(attached, o.interactive, o.tty, detach_keys).await;
    if let Some(r) = raw.as_mut() {
        r.restore();
    }
    match end {
        Ok(StreamEnd::Detached) => return Ok(()),
        Ok(StreamEnd::Done) => {}
        Err(e) => eprintln!("Error: {e}"),
    }
    wait_status(wait).await
}

/// Turn the result of a wait into the command's exit status.
pub async fn wait_status(wait: pouch_client::WaitFuture) -> CmdResult {
    match wait.await {
        Ok(resp) => {
            if let Some(err) = resp.error.filter(|e| !e.message.is_empty()) {
                return Err(StatusError::new(
                    125,
                    format!("Error waiting for container: {}", err.message),
                ));
            }
            match resp.status_code {
                0 => Ok(()),
                code => Err(StatusError::code(i32::try_from(code).unwrap_or(125))),
            }
        }
        Err(e) => Err(StatusError::new(
            125,
            format!("Error waiting for container: {e}"),
        )),
    }
}
