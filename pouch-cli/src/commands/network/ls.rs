//! `pouch network ls`.

use clap::Args;
use pouch_api::network::NetworkResource;
use pouch_api::Filters;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::ListFormat;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'driver=bridge')
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print networks using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

fn headers() -> Value {
    json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
    })
}

/// docker's network context: 12-character IDs unless `no_trunc`.
pub fn rows(networks: &[NetworkResource], no_trunc: bool) -> Vec<Value> {
    networks
        .iter()
        .map(|n| {
            let id = if no_trunc {
                n.id.clone()
            } else {
                n.id.chars().take(12).collect()
            };
            let mut labels: Vec<String> =
                n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            json!({
                "ID": id, "Name": n.name, "Driver": n.driver, "Scope": n.scope,
                "IPv6": n.enable_ipv6, "Internal": n.internal, "Labels": labels.join(","),
                "CreatedAt": n.created,
            })
        })
        .collect()
}

pub async fn run(ctx: &Ctx, args: LsArgs) -> CmdResult {
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    let format = match args.format.as_deref() {
        None | Some("") | Some("table") if args.quiet => "{{.ID}}",
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some(f) => f,
    };
    let f = ListFormat::parse(format).map_err(StatusError::msg)?;
    let mut networks = ctx.client.networks().list(&filters).await?;
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let out = f
        .render(&rows(&networks, args.no_trunc), &headers())
        .map_err(StatusError::msg)?;
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_like_docker() {
        let n = |name: &str, id: &str| NetworkResource {
            name: name.into(),
            id: id.into(),
            driver: "bridge".into(),
            scope: "local".into(),
            ..Default::default()
        };
        let f = ListFormat::parse(DEFAULT_TABLE).unwrap();
        let out = f
            .render(&rows(&[n("bridge", "0123456789abcdef")], false), &headers())
            .unwrap();
        assert_eq!(
            out,
            "NETWORK ID     NAME      DRIVER    SCOPE\n0123456789ab   bridge    bridge    local\n"
        );
    }
}
