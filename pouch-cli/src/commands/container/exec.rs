//! `pouch exec`: run a command in a running container, attached like
//! `run` (or detached with `-d`), and exit with its exit code.

use std::time::Duration;

use clap::Args;
use pouch_api::exec::{ExecConfig, ExecStartConfig};

use super::attach_io::{self, StreamEnd, TtyTarget, DEFAULT_DETACH_KEYS};
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::opts::{parse_env, read_env_file};
use crate::term::{self, RawMode};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// The container, then the command and its arguments (flags end at
    /// the container, as docker's)
    #[arg(
        value_names = ["CONTAINER", "COMMAND"],
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

impl ExecArgs {
    pub fn container(&self) -> &str {
        &self.args[0]
    }

    pub fn command(&self) -> &[String] {
        &self.args[1..]
    }
}

fn lookup_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// The exec create body, as docker's `parseExec` builds it.
pub fn exec_config(args: &ExecArgs) -> Result<ExecConfig, String> {
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file, &lookup_env)?);
    }
    for e in &args.env {
        env.push(parse_env(e, &lookup_env)?);
    }
    if let Some(k) = &args.detach_keys {
        attach_io::parse_detach_keys(k)?;
    }
    Ok(ExecConfig {
        user: args.user.clone().unwrap_or_default(),
        privileged: args.privileged,
        tty: args.tty,
        attach_stdin: args.interactive && !args.detach,
        attach_stdout: !args.detach,
        attach_stderr: !args.detach,
        detach: args.detach,
        detach_keys: args.detach_keys.clone().unwrap_or_default(),
        env,
        working_dir: args.workdir.clone().unwrap_or_default(),
        cmd: Some(args.command().to_vec()),
    })
}

pub async fn run(ctx: &Ctx, args: ExecArgs) -> CmdResult {
    let config = exec_config(&args).map_err(StatusError::msg)?;
    let containers = ctx.client.containers();
    // "No such container" first, and no exec is left behind on a TTY
    // error (docker's order).
    let container = args.container();
    ctx.container(container).await?;
    if !args.detach && config.tty && config.attach_stdin && !term::stdin_is_tty() {
        return Err(StatusError::msg("the input device is not a TTY"));
    }
    let exec_id = containers.exec_create(container, &config).await?;
    if exec_id.is_empty() {
        return Err(StatusError::msg("exec ID empty"));
    }
    let exec = ctx.client.exec();
    if args.detach {
        exec.exec_start_detached(&exec_id, config.tty).await?;
        return Ok(());
    }

    let detach_keys = match &args.detach_keys {
        Some(k) => attach_io::parse_detach_keys(k).map_err(StatusError::msg)?,
        None => DEFAULT_DETACH_KEYS.to_vec(),
    };
    let start = ExecStartConfig {
        detach: false,
        tty: config.tty,
        console_size: config
            .tty
            .then(term::size)
            .flatten()
            .map(|(h, w)| [u64::from(h), u64::from(w)]),
    };
    let attached = exec.exec_start(&exec_id, &start, config.tty).await?;
    let mut raw = (config.tty && config.attach_stdin).then(RawMode::enable);
    if config.tty && term::stdin_is_tty() {
        attach_io::monitor_size(&ctx.client, TtyTarget::Exec(exec_id.clone()), false).await;
    }
    let end = attach_io::stream(attached, config.attach_stdin, config.tty, detach_keys).await;
    if let Some(r) = raw.as_mut() {
        r.restore();
    }
    match end {
        Ok(StreamEnd::Done) => {}
        Ok(StreamEnd::Detached) => return Err(StatusError::msg("read escape sequence")),
        // A failure inside the stream: say it, the exit code tells the rest.
        Err(pouch_client::Error::Stream(msg)) => eprintln!("{msg}"),
        Err(e) => return Err(e.into()),
    }
    exit_status(ctx, &exec_id).await
}

/// The exit code of a finished exec, as the command's result. The output
/// can end a moment before the daemon records the exit: poll briefly.
async fn exit_status(ctx: &Ctx, exec_id: &str) -> CmdResult {
    let exec = ctx.client.exec();
    let mut inspect = exec.exec_inspect(exec_id).await;
    for _ in 0..50 {
        match &inspect {
            Ok(i) if i.running || i.exit_code.is_none() => {}
            _ => break,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        inspect = exec.exec_inspect(exec_id).await;
    }
    match inspect {
        Ok(i) => match i.exit_code.unwrap_or(0) {
            0 => Ok(()),
            code => Err(StatusError::code(i32::try_from(code).unwrap_or(-1))),
        },
        Err(e) if e.is_connect() => Err(StatusError::code(-1)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ExecArgs,
    }

    fn args(v: &[&str]) -> ExecArgs {
        T::try_parse_from(std::iter::once("exec").chain(v.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn flags_stop_at_the_command() {
        let a = args(&[
            "-it", "-u", "1000", "-e", "A=1", "-w", "/tmp", "c1", "ls", "-l", "-t",
        ]);
        assert!(a.interactive && a.tty);
        assert_eq!(a.container(), "c1");
        assert_eq!(a.command(), ["ls", "-l", "-t"]);
        let c = exec_config(&a).unwrap();
        assert!(c.attach_stdin && c.attach_stdout && c.attach_stderr && c.tty);
        assert_eq!(c.user, "1000");
        assert_eq!(c.env, ["A=1"]);
        assert_eq!(c.working_dir, "/tmp");
        assert_eq!(c.cmd, Some(vec!["ls".into(), "-l".into(), "-t".into()]));
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["AttachStdin"], true);
        assert_eq!(v["Cmd"], serde_json::json!(["ls", "-l", "-t"]));
        // Flags after the container belong to the command, as docker's
        // non-interspersed flags.
        let a = args(&["c1", "-i", "sh"]);
        assert!(!a.interactive);
        assert_eq!(a.command(), ["-i", "sh"]);
    }

    #[test]
    fn detached_and_errors() {
        let c = exec_config(&args(&["-d", "-i", "c1", "sleep", "1"])).unwrap();
        assert!(c.detach && !c.attach_stdin && !c.attach_stdout && !c.attach_stderr);
        assert!(exec_config(&args(&["--detach-keys", "bogus", "c", "sh"])).is_err());
        assert!(T::try_parse_from(["exec", "c1"]).is_err());
        let e = exec_config(&args(&["-e", "=x", "c", "sh"])).unwrap_err();
        assert_eq!(e, "invalid environment variable: =x");
    }
}
