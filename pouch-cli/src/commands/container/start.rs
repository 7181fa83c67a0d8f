//! `pouch start`: start containers, or start one attached (`-a`/`-i`) and
//! return its exit code.

use clap::Args;
use pouch_client::AttachOptions;

use super::attach_io::{self, StreamEnd, DEFAULT_DETACH_KEYS};
use super::run::wait_status;
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::term::{self, RawMode};

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

pub async fn run(ctx: &Ctx, args: StartArgs) -> CmdResult {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            return Err(StatusError::msg(
                "you cannot start and attach multiple containers at once",
            ));
        }
        return start_attached(ctx, &args).await;
    }
    let mut failed = Vec::new();
    for name in &args.containers {
        match ctx.client.containers().start(name).await {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(name.as_str());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(StatusError::msg(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )))
    }
}

async fn start_attached(ctx: &Ctx, args: &StartArgs) -> CmdResult {
    let name = &args.containers[0];
    let containers = ctx.client.containers();
    let c = ctx.container(name).await?;
    let detach_keys = match &args.detach_keys {
        Some(k) => attach_io::parse_detach_keys(k).map_err(StatusError::msg)?,
        None => DEFAULT_DETACH_KEYS.to_vec(),
    };
    let tty = c.config.tty;
    let stdin = args.interactive && c.config.open_stdin;
    if tty && stdin && !term::stdin_is_tty() {
        return Err(StatusError::msg("the input device is not a TTY"));
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
                detach_keys: None,
                tty,
            },
        )
        .await?;
    let condition = if c.host_config.auto_remove {
        "removed"
    } else {
        "next-exit"
    };
    let wait = containers.wait_begin(&c.id, Some(condition)).await?;
    let mut raw = (tty && stdin).then(RawMode::enable);
    if let Err(e) = containers.start(&c.id).await {
        if let Some(r) = raw.as_mut() {
            r.restore();
        }
        return Err(e.into());
    }
    if tty && term::stdout_is_tty() {
        attach_io::monitor_tty_size(&ctx.client, &c.id).await;
    }
    if !tty {
        attach_io::forward_signals(&ctx.client, &c.id);
    }
    let end = attach_io::stream(attached, stdin, tty, detach_keys).await;
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
