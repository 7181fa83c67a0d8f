//! `stop`, `restart`, `kill`, `pause`, `unpause`: one API call per
//! container; each success prints the name as given, errors are reported
//! together at the end (exit 1).

use std::future::Future;

use clap::Args;

use crate::commands::Ctx;
use crate::error::{CmdResult, Errors};

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait for stop before killing it
    #[arg(short = 't', long = "time", allow_negative_numbers = true)]
    pub time: Option<i64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

/// Apply `op` to each name, printing successes and gathering errors.
pub async fn for_each<'a, F, Fut>(names: &'a [String], mut op: F) -> CmdResult
where
    F: FnMut(&'a str) -> Fut,
    Fut: Future<Output = Result<(), pouch_client::Error>>,
{
    let mut errors = Errors::new();
    for name in names {
        match op(name).await {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(e),
        }
    }
    errors.into_result()
}

pub async fn stop(ctx: &Ctx, args: StopArgs) -> CmdResult {
    let c = ctx.client.containers();
    let t = args.time;
    for_each(&args.containers, move |n| async move { c.stop(n, t).await }).await
}

pub async fn restart(ctx: &Ctx, args: StopArgs) -> CmdResult {
    let c = ctx.client.containers();
    let t = args.time;
    for_each(
        &args.containers,
        move |n| async move { c.restart(n, t).await },
    )
    .await
}

pub async fn kill(ctx: &Ctx, args: KillArgs) -> CmdResult {
    let c = ctx.client.containers();
    let signal = args.signal.as_str();
    for_each(&args.containers, move |n| async move {
        c.kill(n, Some(signal)).await
    })
    .await
}

pub async fn pause(ctx: &Ctx, args: NamesArgs) -> CmdResult {
    let c = ctx.client.containers();
    for_each(&args.containers, move |n| async move { c.pause(n).await }).await
}

pub async fn unpause(ctx: &Ctx, args: NamesArgs) -> CmdResult {
    let c = ctx.client.containers();
    for_each(&args.containers, move |n| async move { c.unpause(n).await }).await
}
