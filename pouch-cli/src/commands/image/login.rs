//! `pouch login` and `pouch logout`: check credentials with a registry
//! (through the daemon) and keep them in the client config file.

use std::io::Write as _;

use clap::Args;
use pouch_api::image::AuthConfig;

use crate::commands::image::reference::{auth_key, INDEX_SERVER};
use crate::commands::Ctx;
use crate::config_file::{default_path, ConfigFile};
use crate::error::{CmdResult, StatusError};
use crate::term;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin", conflicts_with = "password")]
    pub password_stdin: bool,
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// The server address sent to the daemon and the config key: Docker Hub
/// when none is given.
fn server_key(server: Option<&str>) -> String {
    auth_key(server.unwrap_or(INDEX_SERVER))
}

/// Read one line of `input` without its line ending.
fn read_line(input: &mut dyn std::io::BufRead) -> std::io::Result<String> {
    let mut s = String::new();
    input.read_line(&mut s)?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// Ask on the terminal, echo off for passwords.
fn prompt(question: &str, secret: bool) -> Result<String, StatusError> {
    print!("{question}");
    std::io::stdout().flush()?;
    let _echo = secret.then(term::NoEcho::enable);
    let answer = read_line(&mut std::io::stdin().lock())?;
    if secret {
        println!();
    }
    Ok(answer)
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> CmdResult {
    let server = server_key(args.server.as_deref());
    let mut password = args.password.clone().unwrap_or_default();
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if args.password_stdin {
        if args.username.is_none() {
            return Err(StatusError::msg(
                "Must provide --username with --password-stdin",
            ));
        }
        password = read_line(&mut std::io::stdin().lock())?;
    }
    let interactive = term::stdin_is_tty();
    let username = match args.username.clone() {
        Some(u) => u,
        None if interactive => prompt("Username: ", false)?,
        None => {
            return Err(StatusError::msg(
                "Error: Cannot perform an interactive login from a non TTY device",
            ))
        }
    };
    let username = username.trim().to_string();
    if username.is_empty() {
        return Err(StatusError::msg("Error: Non-null Username Required"));
    }
    if password.is_empty() {
        if !interactive {
            return Err(StatusError::msg(
                "Error: Cannot perform an interactive login from a non TTY device",
            ));
        }
        password = prompt("Password: ", true)?;
        if password.is_empty() {
            return Err(StatusError::msg("Error: Password Required"));
        }
    }
    let auth = AuthConfig {
        username: username.clone(),
        password: password.clone(),
        serveraddress: server.clone(),
        ..Default::default()
    };
    let resp = ctx.client.login(&auth).await?;
    let mut config = ConfigFile::load(&default_path()).map_err(StatusError::msg)?;
    config.set_auth(&server, &username, &password, &resp.identity_token);
    config.save().map_err(StatusError::msg)?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        config.path().display()
    );
    println!(
        "{}",
        if resp.status.is_empty() {
            "Login Succeeded"
        } else {
            &resp.status
        }
    );
    Ok(())
}

pub async fn logout(_ctx: &Ctx, args: LogoutArgs) -> CmdResult {
    let server = server_key(args.server.as_deref());
    let mut config = ConfigFile::load(&default_path()).map_err(StatusError::msg)?;
    if !config.remove_auth(&server) {
        println!("Not logged in to {server}");
        return Ok(());
    }
    println!("Removing login credentials for {server}");
    config.save().map_err(StatusError::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_lines() {
        assert_eq!(server_key(None), INDEX_SERVER);
        assert_eq!(server_key(Some("docker.io")), INDEX_SERVER);
        assert_eq!(server_key(Some("http://127.0.0.1:5000")), "127.0.0.1:5000");
        let mut input = &b"s3cret\r\nnext\n"[..];
        assert_eq!(read_line(&mut input).unwrap(), "s3cret");
        assert_eq!(read_line(&mut input).unwrap(), "next");
        assert_eq!(read_line(&mut input).unwrap(), "");
    }
}
