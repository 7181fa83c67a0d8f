//! Container metadata → Docker's inspect and list shapes.

use crate::mgr::container::{configured_networks, ContainerMeta, Status};
use crate::mgr::network::ports;
use chrono::{DateTime, Utc};
use pouch_api::container::{
    ContainerInspect, ContainerState, ContainerSummary, EndpointIpamConfig, EndpointSettings,
    GraphDriverData, MountPoint, NetworkSettings, SummaryHostConfig, SummaryNetworkSettings,
};
use std::collections::HashMap;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_else(|| ZERO_TIME.to_string())
}

/// Go's `units.HumanDuration`, which `docker ps` prints.
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let mins = secs / 60;
    let hours = mins / 60;
    let days = hours / 24;
    match () {
        _ if secs < 1 => "Less than a second".to_string(),
        _ if secs == 1 => "1 second".to_string(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if mins == 1 => "About a minute".to_string(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".to_string(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if days < 14 => format!("{days} days"),
        _ if days < 90 => format!("{} weeks", days / 7),
        _ if days < 730 => format!("{} months", days / 30),
        _ => format!("{} years", days / 365),
    }
}

/// `docker ps`'s STATUS column.
pub fn status_text(m: &ContainerMeta) -> String {
    let now = Utc::now();
    let since = |t: Option<DateTime<Utc>>| human_duration(now - t.unwrap_or(now));
    match m.state.status {
        Status::Created => "Created".to_string(),
        Status::Running => format!("Up {}", since(m.state.started_at)),
        Status::Paused => format!("Up {} (Paused)", since(m.state.started_at)),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            m.state.exit_code,
            since(m.state.finished_at)
        ),
        Status::Removing => "Removal In Progress".to_string(),
        Status::Dead => "Dead".to_string(),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            m.state.exit_code,
            since(m.state.finished_at)
        ),
    }
}

/// `NetworkSettings.Networks`: every network the container is configured
/// on, with its endpoint's addresses while it runs.
fn networks(m: &ContainerMeta) -> HashMap<String, EndpointSettings> {
    let mut out = HashMap::new();
    for (name, a) in configured_networks(m) {
        let mut ep = EndpointSettings {
            network_id: a.network_id.clone(),
            aliases: a.aliases.clone(),
            ipam_config: (!a.ipv4_address.is_empty()).then(|| EndpointIpamConfig {
                ipv4_address: a.ipv4_address.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Some(e) = m.endpoints.iter().find(|e| {
            e.network_name() == name || (!a.network_id.is_empty() && e.network_id == a.network_id)
        }) {
            ep.network_id = e.network_id.clone();
            ep.endpoint_id = e.endpoint_id.clone();
            ep.gateway = e.gateway.clone();
            ep.ip_address = e.ip_address.clone();
            ep.ip_prefix_len = e.ip_prefix_len.into();
            ep.mac_address = e.mac_address.clone();
        }
        out.insert(name, ep);
    }
    // host and none show their built-in network.
    if out.is_empty() {
        if let mode @ ("host" | "none") = m.host_config.network_mode.as_str() {
            out.insert(mode.to_string(), EndpointSettings::default());
        }
    }
    out
}

/// Sets the ID of built-in networks a container is on where no run
/// recorded one (a container that does not run), as Docker always shows it.
pub fn fill_network_ids(networks: &mut HashMap<String, EndpointSettings>, bridge: &str) {
    for (name, ep) in networks.iter_mut() {
        if ep.network_id.is_empty() {
            ep.network_id = crate::mgr::network::network_id(name, bridge);
        }
    }
}

/// `NetworkSettings`: the top-level address fields describe the default
/// bridge, as Docker's do; all empty while the container does not run.
fn network_settings(m: &ContainerMeta) -> NetworkSettings {
    let mut s = NetworkSettings {
        networks: networks(m),
        ..Default::default()
    };
    if let Some(e) = m.primary_endpoint() {
        s.sandbox_id = e.sandbox_id.clone();
        s.sandbox_key = e.sandbox_key.clone();
        s.ports = ports::port_map(&m.config.exposed_ports, &e.ports);
    }
    if let Some(e) = m.endpoints.iter().find(|e| e.network_name() == "bridge") {
        s.bridge = e.bridge.clone();
        s.endpoint_id = e.endpoint_id.clone();
        s.gateway = e.gateway.clone();
        s.ip_address = e.ip_address.clone();
        s.ip_prefix_len = e.ip_prefix_len.into();
        s.mac_address = e.mac_address.clone();
    }
    s
}

fn mounts(m: &ContainerMeta) -> Vec<MountPoint> {
    m.host_config
        .binds
        .iter()
        .filter_map(|b| crate::mgr::container::parse_bind(b).ok().map(|p| (b, p)))
        .filter(|(_, b)| b.is_host())
        .map(|(raw, b)| MountPoint {
            r#type: "bind".to_string(),
            source: b.source,
            destination: b.destination,
            mode: raw.splitn(3, ':').nth(2).unwrap_or("").to_string(),
            rw: !b.read_only,
            propagation: b.propagation,
            ..Default::default()
        })
        .chain(m.mounts.iter().map(|r| MountPoint {
            r#type: r.kind.clone(),
            name: r.name.clone(),
            source: r.source.clone(),
            destination: r.destination.clone(),
            driver: r.driver.clone(),
            mode: r.mode.clone(),
            rw: r.rw,
            propagation: r.propagation.clone(),
        }))
        .collect()
}

pub fn inspect(
    m: &ContainerMeta,
    size_rw: Option<i64>,
    size_root: Option<i64>,
) -> ContainerInspect {
    let s = &m.state;
    ContainerInspect {
        id: m.id.clone(),
        created: time(Some(m.created)),
        path: m.path.clone(),
        args: m.args.clone(),
        state: ContainerState {
            status: s.status.as_str().to_string(),
            running: s.status.is_alive(),
            paused: s.status == Status::Paused,
            restarting: s.status == Status::Restarting,
            oom_killed: s.oom_killed,
            dead: s.status == Status::Dead,
            pid: s.pid as i64,
            exit_code: s.exit_code,
            error: s.error.clone(),
            started_at: time(s.started_at),
            finished_at: time(s.finished_at),
            health: None,
        },
        image: m.image_id.clone(),
        resolv_conf_path: m.resolv_conf_path.clone(),
        hostname_path: m.hostname_path.clone(),
        hosts_path: m.hosts_path.clone(),
        log_path: m.log_path.clone(),
        name: format!("/{}", m.name),
        restart_count: m.restart_count as i64,
        driver: "overlayfs".to_string(),
        platform: "linux".to_string(),
        exec_ids: None,
        host_config: m.host_config.clone(),
        graph_driver: GraphDriverData {
            name: "overlayfs".to_string(),
            data: HashMap::new(),
        },
        size_rw,
        size_root_fs: size_root,
        mounts: mounts(m),
        config: m.config.clone(),
        network_settings: network_settings(m),
        ..Default::default()
    }
}

pub fn summary(
    m: &ContainerMeta,
    size_rw: Option<i64>,
    size_root: Option<i64>,
) -> ContainerSummary {
    // Docker quotes arguments that contain spaces.
    let mut command = vec![m.path.clone()];
    command.extend(m.args.iter().map(|a| {
        if a.contains(' ') {
            format!("'{a}'")
        } else {
            a.clone()
        }
    }));
    ContainerSummary {
        id: m.id.clone(),
        names: vec![format!("/{}", m.name)],
        image: m.config.image.clone(),
        image_id: m.image_id.clone(),
        command: command.join(" "),
        created: m.created.timestamp(),
        ports: m
            .primary_endpoint()
            .map(|e| ports::summary_ports(&m.config.exposed_ports, &e.ports))
            .unwrap_or_default(),
        size_rw,
        size_root_fs: size_root,
        labels: m.config.labels.clone(),
        state: m.state.status.as_str().to_string(),
        status: status_text(m),
        host_config: SummaryHostConfig {
            network_mode: if m.host_config.network_mode.is_empty() {
                "default".to_string()
            } else {
                m.host_config.network_mode.clone()
            },
        },
        network_settings: SummaryNetworkSettings {
            networks: networks(m),
        },
        mounts: mounts(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_docker() {
        let d = chrono::Duration::seconds;
        assert_eq!(human_duration(d(0)), "Less than a second");
        assert_eq!(human_duration(d(5)), "5 seconds");
        assert_eq!(human_duration(d(70)), "About a minute");
        assert_eq!(human_duration(d(3 * 3600)), "3 hours");
    }
}
