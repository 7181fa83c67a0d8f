//! `pouch ps`: list containers as docker does (table, `-q`, `--format`).

use clap::Args;
use pouch_api::container::ContainerSummary;
use pouch_api::Filters;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::human::{ellipsis, go_time_string, human_size, now_unix, short_id, time_ago};
use crate::format::ListFormat;

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (name=value)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print containers using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
}

/// Column titles of the fields of a row.
pub fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID",
        "Image": "IMAGE",
        "Command": "COMMAND",
        "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED",
        "Ports": "PORTS",
        "State": "STATE",
        "Status": "STATUS",
        "Size": "SIZE",
        "Names": "NAMES",
        "Labels": "LABELS",
        "Mounts": "MOUNTS",
        "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES",
    })
}

fn image_name(c: &ContainerSummary, trunc: bool) -> String {
    if c.image.is_empty() {
        return "<no image>".to_string();
    }
    if !trunc {
        return c.image.clone();
    }
    if c.image.starts_with("sha256:")
        || (!c.image_id.is_empty() && short_id(&c.image_id) == short_id(&c.image))
    {
        return short_id(&c.image);
    }
    // Drop a digest when a name is there.
    match c.image.split_once('@') {
        Some((name, _)) if !name.is_empty() => name.to_string(),
        _ => c.image.clone(),
    }
}

fn ports(c: &ContainerSummary) -> String {
    let mut ports: Vec<_> = c.ports.iter().collect();
    ports.sort_by_key(|p| {
        (
            p.private_port,
            p.r#type.clone(),
            p.ip.clone(),
            p.public_port,
        )
    });
    let mut out: Vec<String> = Vec::new();
    for p in ports {
        let s = if p.public_port != 0 {
            let ip = if p.ip.contains(':') {
                format!("[{}]", p.ip).replace("[::]", "::")
            } else {
                p.ip.clone()
            };
            format!("{ip}:{}->{}/{}", p.public_port, p.private_port, p.r#type)
        } else {
            format!("{}/{}", p.private_port, p.r#type)
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.join(", ")
}

/// The template data of one container, with docker's field formatting.
pub fn container_row(c: &ContainerSummary, trunc: bool, now: f64) -> Value {
    let id = if trunc { short_id(&c.id) } else { c.id.clone() };
    let mut names: Vec<String> = c
        .names
        .iter()
        .map(|n| n.strip_prefix('/').unwrap_or(n).to_string())
        .collect();
    if trunc {
        // Hide link names (`other/alias`) unless --no-trunc.
        if let Some(n) = names.iter().find(|n| !n.contains('/')) {
            names = vec![n.clone()];
        }
    }
    let command = if trunc {
        ellipsis(&c.command, 20)
    } else {
        c.command.clone()
    };
    let mut labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    let mounts: Vec<String> = c
        .mounts
        .iter()
        .map(|m| {
            let n = if m.name.is_empty() {
                &m.source
            } else {
                &m.name
            };
            if trunc {
                ellipsis(n, 15)
            } else {
                n.clone()
            }
        })
        .collect();
    let mut networks: Vec<&String> = c.network_settings.networks.keys().collect();
    networks.sort();
    let networks: Vec<&str> = networks.into_iter().map(String::as_str).collect();
    let local_volumes = c.mounts.iter().filter(|m| m.driver == "local").count();
    let size_rw = c.size_rw.unwrap_or(0) as f64;
    let size_root = c.size_root_fs.unwrap_or(0);
    let size = if size_root > 0 {
        format!(
            "{} (virtual {})",
            human_size(size_rw),
            human_size(size_root as f64)
        )
    } else {
        human_size(size_rw)
    };
    json!({
        "ID": id,
        "Image": image_name(c, trunc),
        "Command": serde_json::to_string(&command).unwrap_or_default(),
        "CreatedAt": go_time_string(c.created),
        "RunningFor": time_ago(c.created, now),
        "Ports": ports(c),
        "State": c.state,
        "Status": c.status,
        "Size": size,
        "Names": names.join(","),
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": networks.join(","),
        "LocalVolumes": local_volumes.to_string(),
    })
}

/// Pick the effective format string (docker's `NewContainerFormat`).
fn format_string(args: &PsArgs) -> String {
    match args.format.as_deref() {
        None | Some("table") | Some("") if args.quiet => "{{.ID}}".to_string(),
        None | Some("table") | Some("") if args.size => format!("{DEFAULT_TABLE}\t{{{{.Size}}}}"),
        None | Some("table") | Some("") => DEFAULT_TABLE.to_string(),
        Some(f) => f.to_string(),
    }
}

/// Render containers with `format` (already chosen by [`format_string`]).
pub fn render(
    containers: &[ContainerSummary],
    format: &str,
    trunc: bool,
    now: f64,
) -> Result<String, String> {
    let f = ListFormat::parse(format)?;
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| container_row(c, trunc, now))
        .collect();
    f.render(&rows, &headers())
        .map_err(|e| format!("template parsing error: {e}"))
}

pub async fn run(ctx: &Ctx, args: PsArgs) -> CmdResult {
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    let mut last = args.last;
    if args.latest && last == -1 {
        last = 1;
    }
    let format = format_string(&args);
    let size = args.size || format.contains(".Size");
    let all = args.all || last > 0;
    let limit = (last > 0).then_some(last);
    let list = ctx
        .client
        .containers()
        .list(all, limit, size, &filters)
        .await?;
    let out = render(&list, &format, !args.no_trunc, now_unix()).map_err(StatusError::msg)?;
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pouch_api::container::Port;

    use super::*;

    fn sample(now: i64) -> Vec<ContainerSummary> {
        vec![
            ContainerSummary {
                id: "0123456789abcdef0123456789abcdef".into(),
                names: vec!["/web".into()],
                image: "busybox".into(),
                image_id: "sha256:feedbeef00000000".into(),
                command: "sh -c 'while true; do sleep 1; done'".into(),
                created: now - 7200,
                state: "running".into(),
                status: "Up 2 hours".into(),
                labels: HashMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
                ports: vec![
                    Port {
                        ip: "0.0.0.0".into(),
                        private_port: 80,
                        public_port: 8080,
                        r#type: "tcp".into(),
                    },
                    Port {
                        private_port: 443,
                        r#type: "tcp".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            ContainerSummary {
                id: "fedcba9876543210fedcba9876543210".into(),
                names: vec!["/db".into()],
                image: "sha256:feedbeef00000000".into(),
                command: "true".into(),
                created: now - 30,
                state: "exited".into(),
                status: "Exited (0) 10 seconds ago".into(),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn default_table() {
        let now = 1_700_000_000;
        let out = render(&sample(now), DEFAULT_TABLE, true, now as f64).unwrap();
        let want = "\
CONTAINER ID   IMAGE          COMMAND                  CREATED          STATUS                      PORTS                           NAMES
0123456789ab   busybox        \"sh -c 'while true; …\"   2 hours ago      Up 2 hours                  0.0.0.0:8080->80/tcp, 443/tcp   web
fedcba987654   feedbeef0000   \"true\"                   30 seconds ago   Exited (0) 10 seconds ago                                   db
";
        assert_eq!(out, want);
    }

    #[test]
    fn custom_formats() {
        let now = 1_700_000_000;
        let c = sample(now);
        let out = render(
            &c,
            "{{.ID}} {{.Names}} {{.State}} {{.Labels}}",
            true,
            now as f64,
        )
        .unwrap();
        assert_eq!(
            out,
            "0123456789ab web running a=1,b=2\nfedcba987654 db exited \n"
        );
        let out = render(&c[..1], "{{.ID}}", false, now as f64).unwrap();
        assert_eq!(out, "0123456789abcdef0123456789abcdef\n");
        let out = render(&c[..1], "{{.Command}}|{{.Image}}", false, now as f64).unwrap();
        assert_eq!(out, "\"sh -c 'while true; do sleep 1; done'\"|busybox\n");
        let out = render(&c, r"table {{.Names}}\t{{.Status}}", true, now as f64).unwrap();
        assert_eq!(
            out,
            "NAMES     STATUS\nweb       Up 2 hours\ndb        Exited (0) 10 seconds ago\n"
        );
        let out = render(&c[1..], "{{.CreatedAt}}", true, now as f64).unwrap();
        assert!(out.starts_with("2023-11-14 "), "{out}");
        let e = render(&c, "{{.ID", true, 0.0).unwrap_err();
        assert!(e.starts_with("Template parsing error"), "{e}");
    }

    #[test]
    fn format_choice() {
        let mut a = PsArgs {
            all: false,
            quiet: true,
            no_trunc: false,
            filter: vec![],
            format: None,
            last: -1,
            latest: false,
            size: false,
        };
        assert_eq!(format_string(&a), "{{.ID}}");
        a.format = Some("{{.Names}}".into());
        assert_eq!(format_string(&a), "{{.Names}}");
        a.quiet = false;
        a.format = None;
        a.size = true;
        assert!(format_string(&a).ends_with("\t{{.Size}}"));
    }
}
