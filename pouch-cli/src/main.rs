//! `pouch`: the command line client of pouchd.

mod archive;
mod cli;
mod commands;
mod config_file;
mod error;
mod format;
mod opts;
mod term;

use std::io::Write as _;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::Cli;
use crate::commands::Ctx;

fn main() {
    // Die quietly when stdout is a closed pipe (`pouch ps | head -1`), as
    // Go programs do, instead of panicking in `println!`.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread
    // exists has no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let code = run();
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // Exit without waiting for a pending blocking read of stdin.
    std::process::exit(code);
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                // `pouch` alone prints the help, as `docker` does.
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                ErrorKind::MissingRequiredArgument
                | ErrorKind::MissingSubcommand
                | ErrorKind::TooFewValues
                | ErrorKind::WrongNumberOfValues => 1,
                // Bad flags and values: docker's flag errors exit 125.
                _ => 125,
            };
        }
    };
    let client = match pouch_client::Client::new(cli.host.as_deref().unwrap_or("")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    error::set_debug(cli.debug);
    let ctx = Ctx {
        client,
        debug: cli.debug,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return 1;
        }
    };
    let result = rt.block_on(commands::dispatch(&ctx, cli.command));
    // Leak the runtime: dropping it would wait for a blocking stdin read.
    std::mem::forget(rt);
    match result {
        Ok(()) => 0,
        Err(e) => {
            if let Some(status) = &e.status {
                let _ = std::io::stdout().flush();
                eprintln!("{status}");
            }
            e.code
        }
    }
}
