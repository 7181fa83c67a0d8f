//! `pouch logs`.

use std::io::Write as _;

use clap::Args;
use futures::StreamExt;
use pouch_client::{LogsOptions, StreamKind};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::opts::parse_timestamp;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub async fn run(ctx: &Ctx, args: LogsArgs) -> CmdResult {
    let c = ctx.container(&args.container).await?;
    let now = chrono::Utc::now();
    // The docker client words it this way.
    let parse = |name: &str, v: &str| {
        parse_timestamp(v, now).map_err(|e| format!("invalid value for \"{name}\": {e}"))
    };
    let since = args
        .since
        .as_deref()
        .map(|s| parse("since", s))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse("until", s))
        .transpose()?;
    let opts = LogsOptions {
        follow: args.follow,
        stdout: true,
        stderr: true,
        since,
        until,
        timestamps: args.timestamps,
        tail: (args.tail != "all").then(|| args.tail.clone()),
        tty: c.config.tty,
    };
    let mut stream = ctx.client.containers().logs(&c.id, &opts).await?;
    let copy = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            match chunk.stream {
                StreamKind::Stdout => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&chunk.data)?;
                    out.flush()?;
                }
                StreamKind::Stderr => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(&chunk.data)?;
                    err.flush()?;
                }
            }
        }
        Ok::<(), StatusError>(())
    };
    tokio::select! {
        r = copy => r,
        // Ctrl-C while following: stop quietly.
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
