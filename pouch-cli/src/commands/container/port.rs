//! `pouch port CONTAINER [PRIVATE_PORT[/PROTO]]`.

use std::cmp::Ordering;

use clap::Args;
use pouch_api::container::PortMap;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct PortArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Natural order: runs of digits compare as numbers (`9/tcp` < `10/tcp`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let da = std::str::from_utf8(&a[..na])
                    .unwrap_or("0")
                    .trim_start_matches('0');
                let db = std::str::from_utf8(&b[..nb])
                    .unwrap_or("0")
                    .trim_start_matches('0');
                let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// The lines `pouch port` prints: every mapping, or those of one port.
pub fn lines(ports: &PortMap, container: &str, port: Option<&str>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    match port {
        Some(p) => {
            let (num, proto) = match p.split_once('/') {
                Some((n, proto)) if !proto.is_empty() => (n, proto),
                Some((n, _)) => (n, "tcp"),
                None => (p, "tcp"),
            };
            if num.parse::<u16>().is_err() {
                return Err(format!("invalid port: {num}"));
            }
            let key = format!("{num}/{proto}");
            match ports.get(&key) {
                Some(Some(bindings)) if !bindings.is_empty() => {
                    for b in bindings {
                        out.push(join_host_port(&b.host_ip, &b.host_port));
                    }
                }
                _ => {
                    return Err(format!(
                        "Error: No public port '{key}' published for {container}"
                    ))
                }
            }
        }
        None => {
            for (from, bindings) in ports {
                for b in bindings.iter().flatten() {
                    out.push(format!(
                        "{from} -> {}",
                        join_host_port(&b.host_ip, &b.host_port)
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| natural_cmp(a, b));
    Ok(out)
}

pub async fn run(ctx: &Ctx, args: PortArgs) -> CmdResult {
    let c = ctx.container(&args.container).await?;
    let out = lines(
        &c.network_settings.ports,
        &args.container,
        args.port.as_deref(),
    )
    .map_err(StatusError::msg)?;
    for l in out {
        println!("{l}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pouch_api::container::PortBinding;

    use super::*;

    fn binding(ip: &str, port: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: port.into(),
        }
    }

    #[test]
    fn lists_and_sorts() {
        let mut ports = PortMap::new();
        ports.insert(
            "80/tcp".into(),
            Some(vec![binding("0.0.0.0", "8080"), binding("::", "8080")]),
        );
        ports.insert("9/udp".into(), Some(vec![binding("", "9000")]));
        ports.insert("443/tcp".into(), None);
        assert_eq!(
            lines(&ports, "c", None).unwrap(),
            [
                "9/udp -> :9000",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> [::]:8080",
            ]
        );
        assert_eq!(
            lines(&ports, "c", Some("80")).unwrap(),
            ["0.0.0.0:8080", "[::]:8080"]
        );
        assert_eq!(lines(&ports, "c", Some("9/udp")).unwrap(), [":9000"]);
        assert_eq!(
            lines(&ports, "c", Some("443")).unwrap_err(),
            "Error: No public port '443/tcp' published for c"
        );
        assert!(lines(&ports, "c", Some("x")).is_err());
        assert!(lines(&PortMap::new(), "c", None).unwrap().is_empty());
        assert_eq!(natural_cmp("a10", "a9"), Ordering::Greater);
        assert_eq!(natural_cmp("a009", "a9"), Ordering::Equal);
    }
}
