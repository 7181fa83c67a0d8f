//! `pouch volume ls`.

use clap::Args;
use pouch_api::volume::Volume;
use pouch_api::Filters;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::ListFormat;

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Provide filter values (e.g. 'dangling=true')
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print volumes using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

const DEFAULT_TABLE: &str = "table {{.Driver}}\t{{.Name}}";

fn headers() -> Value {
    json!({
        "Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE",
        "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
    })
}

/// docker's volume context: labels as `k=v,...` (sorted), no usage data.
pub fn rows(volumes: &[Volume]) -> Vec<Value> {
    volumes
        .iter()
        .map(|v| {
            let mut labels: Vec<String> =
                v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            labels.sort();
            json!({
                "Driver": v.driver, "Name": v.name, "Scope": v.scope,
                "Mountpoint": v.mountpoint, "Labels": labels.join(","),
                "Links": "N/A", "Size": "N/A",
            })
        })
        .collect()
}

pub async fn run(ctx: &Ctx, args: LsArgs) -> CmdResult {
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    let format = match args.format.as_deref() {
        None | Some("") | Some("table") if args.quiet => "{{.Name}}",
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some(f) => f,
    };
    let f = ListFormat::parse(format).map_err(StatusError::msg)?;
    let mut volumes = ctx.client.volumes().list(&filters).await?.volumes;
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    let out = f
        .render(&rows(&volumes), &headers())
        .map_err(StatusError::msg)?;
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_like_docker() {
        let v = |n: &str| Volume {
            name: n.into(),
            driver: "local".into(),
            ..Default::default()
        };
        let f = ListFormat::parse(DEFAULT_TABLE).unwrap();
        let out = f.render(&rows(&[v("a"), v("data")]), &headers()).unwrap();
        assert_eq!(out, "DRIVER    VOLUME NAME\nlocal     a\nlocal     data\n");
    }
}
