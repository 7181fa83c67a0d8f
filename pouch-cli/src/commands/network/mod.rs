//! `pouch network SUBCOMMAND`, as `docker network`.

pub mod create;
pub mod ls;

use clap::{Args, Subcommand};
use pouch_api::container::{EndpointIpamConfig, EndpointSettings};
use pouch_api::Filters;

use crate::commands::{prune, Ctx};
use crate::error::{CmdResult, Errors, StatusError};
use crate::format::inspect as inspect_output;

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(create::CreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'until=<timestamp>')
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "ALIAS")]
    pub aliases: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "NETWORK")]
    pub network: String,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

const PRUNE_WARNING: &str =
    "WARNING! This will remove all custom networks not used by at least one container.";

pub async fn dispatch(ctx: &Ctx, command: NetworkCommand) -> CmdResult {
    let n = ctx.client.networks();
    match command {
        NetworkCommand::Create(a) => create::run(ctx, a).await,
        NetworkCommand::Ls(a) => ls::run(ctx, a).await,
        NetworkCommand::Inspect(a) => {
            let template = inspect_output::parse_format(a.format.as_deref())?;
            let mut found = Vec::new();
            let mut errors = Errors::new();
            for name in &a.names {
                match n.inspect(name).await {
                    Ok(v) => found.push(v),
                    Err(e) if e.is_not_found() => {
                        errors.push(format!("Error: No such network: {name}"))
                    }
                    Err(e) => errors.push(e),
                }
            }
            inspect_output::print(&found, template.as_ref(), &mut errors)?;
            errors.into_result()
        }
        NetworkCommand::Rm(a) => {
            let mut errors = Errors::new();
            for name in &a.names {
                match n.remove(name).await {
                    Ok(()) => println!("{name}"),
                    Err(e) => errors.push(e),
                }
            }
            errors.into_result()
        }
        NetworkCommand::Prune(a) => {
            let filters = Filters::from_args(&a.filter).map_err(StatusError::msg)?;
            if !a.force && !prune::ask(PRUNE_WARNING)? {
                return Ok(());
            }
            let resp = n.prune(&filters).await?;
            // Docker reports no space for networks.
            print!(
                "{}",
                prune::deleted("Deleted Networks", &resp.networks_deleted)
            );
            Ok(())
        }
        NetworkCommand::Connect(a) => {
            let ep = endpoint(&a.aliases, a.ip.as_deref());
            n.connect(&a.network, &a.container, ep).await?;
            Ok(())
        }
        NetworkCommand::Disconnect(a) => {
            n.disconnect(&a.network, &a.container, a.force).await?;
            Ok(())
        }
    }
}

/// The endpoint settings of `--alias`/`--ip`; none when neither is given.
pub fn endpoint(aliases: &[String], ip: Option<&str>) -> Option<EndpointSettings> {
    let ip = ip.filter(|i| !i.is_empty());
    if aliases.is_empty() && ip.is_none() {
        return None;
    }
    Some(EndpointSettings {
        aliases: aliases.to_vec(),
        ipam_config: ip.map(|i| EndpointIpamConfig {
            ipv4_address: i.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_settings_of_flags() {
        assert_eq!(endpoint(&[], None), None);
        let e = endpoint(&["db".into()], Some("10.1.0.5")).unwrap();
        assert_eq!(e.aliases, ["db"]);
        assert_eq!(e.ipam_config.unwrap().ipv4_address, "10.1.0.5");
    }
}
