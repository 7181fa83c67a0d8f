//! `pouch network create`.

use clap::Args;
use pouch_api::network::{Ipam, IpamConfig, NetworkCreateRequest};

use crate::commands::{key_values, Ctx};
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    pub subnet: Option<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long)]
    pub gateway: Option<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    pub ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "OPT")]
    pub opts: Vec<String>,
    #[arg(value_name = "NETWORK")]
    pub name: String,
}

/// The request sent, as the docker CLI builds it.
pub fn request(a: &CreateArgs) -> Result<NetworkCreateRequest, String> {
    if a.subnet.is_none() && (a.gateway.is_some() || a.ip_range.is_some()) {
        return Err("gateway and ip-range need a subnet (--subnet)".to_string());
    }
    let ipam = a.subnet.as_ref().map(|s| Ipam {
        driver: "default".into(),
        options: None,
        config: vec![IpamConfig {
            subnet: s.clone(),
            gateway: a.gateway.clone().unwrap_or_default(),
            ip_range: a.ip_range.clone().unwrap_or_default(),
        }],
    });
    Ok(NetworkCreateRequest {
        name: a.name.clone(),
        check_duplicate: true,
        driver: a.driver.clone(),
        internal: a.internal,
        attachable: a.attachable,
        enable_ipv6: a.ipv6,
        ipam,
        options: key_values(&a.opts),
        labels: key_values(&a.labels),
        ..Default::default()
    })
}

pub async fn run(ctx: &Ctx, args: CreateArgs) -> CmdResult {
    let req = request(&args).map_err(StatusError::msg)?;
    let resp = ctx.client.networks().create(&req).await?;
    println!("{}", resp.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> CreateArgs {
        CreateArgs {
            driver: "bridge".into(),
            subnet: None,
            gateway: None,
            ip_range: None,
            internal: false,
            attachable: false,
            ipv6: false,
            labels: vec![],
            opts: vec![],
            name: name.into(),
        }
    }

    #[test]
    fn flags_to_request() {
        let r = request(&args("n")).unwrap();
        assert_eq!(r.name, "n");
        assert!(r.ipam.is_none());
        let a = CreateArgs {
            subnet: Some("10.5.0.0/24".into()),
            gateway: Some("10.5.0.254".into()),
            labels: vec!["a=b".into()],
            ..args("m")
        };
        let r = request(&a).unwrap();
        let c = &r.ipam.unwrap().config[0];
        assert_eq!(
            (c.subnet.as_str(), c.gateway.as_str()),
            ("10.5.0.0/24", "10.5.0.254")
        );
        assert_eq!(r.labels["a"], "b");
        let bad = CreateArgs {
            gateway: Some("10.5.0.1".into()),
            ..args("x")
        };
        assert!(request(&bad).is_err());
    }
}
