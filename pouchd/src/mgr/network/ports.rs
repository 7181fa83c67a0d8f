//! Published ports: Docker's `PortBindings` and `PublishAllPorts` checked,
//! host ports chosen, and the result shown back in Docker's shapes
//! (`NetworkSettings.Ports`, the `Ports` of `GET /containers/json`).
//!
//! There is no userland proxy: the portmap plugin DNATs the host port. A
//! host port is refused when another container of this daemon publishes it
//! or when a host socket holds it (checked with a bind that is let go).

use crate::error::{Error, Result};
use pouch_api::container::{HostConfig, Port, PortBinding, PortMap};
use pouch_api::de::EmptyObject;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// One published port, as programmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Empty: every host address.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

/// A binding asked for, before the host port is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRequest {
    pub host_ip: String,
    /// First and last acceptable host port; `None` lets the daemon pick.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub protocol: String,
}

fn bad_spec(s: &str) -> Error {
    Error::invalid(format!("invalid port specification: \"{s}\""))
}

fn parse_port(s: &str, whole: &str) -> Result<u16> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad_spec(whole)),
    }
}

/// `80/tcp` (the protocol defaults to tcp) → port and protocol.
pub fn parse_key(key: &str) -> Result<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(format!("invalid proto: {proto}")));
    }
    Ok((parse_port(port, key)?, proto))
}

/// A `HostPort`: empty (any), `8080`, or a range `8080-8090`.
fn parse_host_ports(s: &str) -> Result<Option<(u16, u16)>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (parse_port(a, s)?, parse_port(b, s)?),
        None => {
            let p = parse_port(s, s)?;
            (p, p)
        }
    };
    if a > b {
        return Err(bad_spec(s));
    }
    Ok(Some((a, b)))
}

/// A `HostIp`: empty or `0.0.0.0` (every address), or an IPv4 address.
fn parse_host_ip(s: &str) -> Result<String> {
    match s.trim() {
        "" | "0.0.0.0" => Ok(String::new()),
        ip => match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => Ok(v4.to_string()),
            Ok(IpAddr::V6(_)) => Err(Error::invalid(format!(
                "invalid host IP {ip}: IPv6 port bindings are not supported"
            ))),
            Err(_) => Err(Error::invalid(format!("invalid IP address: {ip}"))),
        },
    }
}

/// The bindings `hc` asks for: its `PortBindings`, and with
/// `PublishAllPorts` every exposed port not bound otherwise, on a port the
/// daemon picks. Sorted, so the choice of host ports is stable.
pub fn requests(
    hc: &HostConfig,
    exposed: &HashMap<String, EmptyObject>,
) -> Result<Vec<PortRequest>> {
    let mut out = Vec::new();
    let mut keys: Vec<&String> = hc.port_bindings.keys().collect();
    keys.sort();
    for key in keys {
        let (container_port, protocol) = parse_key(key)?;
        let bindings = hc.port_bindings[key].clone().unwrap_or_default();
        let bindings = if bindings.is_empty() {
            // `"80/tcp": null` or `[]`: published on a port we pick.
            vec![PortBinding::default()]
        } else {
            bindings
        };
        for b in bindings {
            out.push(PortRequest {
                host_ip: parse_host_ip(&b.host_ip)?,
                host_ports: parse_host_ports(&b.host_port)?,
                container_port,
                protocol: protocol.clone(),
            });
        }
    }
    if hc.publish_all_ports {
        let mut keys: Vec<&String> = exposed.keys().collect();
        keys.sort();
        for key in keys {
            let (container_port, protocol) = parse_key(key)?;
            let bound = out
                .iter()
                .any(|r| r.container_port == container_port && r.protocol == protocol);
            if !bound {
                out.push(PortRequest {
                    host_ip: String::new(),
                    host_ports: None,
                    container_port,
                    protocol,
                });
            }
        }
    }
    Ok(out)
}

/// Whether two host IPs overlap (empty means every address).
fn ips_overlap(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

fn display_ip(ip: &str) -> &str {
    if ip.is_empty() {
        "0.0.0.0"
    } else {
        ip
    }
}

/// Tries the port on the host; `Ok(port)` is the port the kernel gave
/// (`port` itself unless it was 0).
fn probe(ip: &str, port: u16, protocol: &str) -> std::io::Result<u16> {
    let addr: Ipv4Addr = if ip.is_empty() {
        Ipv4Addr::UNSPECIFIED
    } else {
        ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED)
    };
    let sa = SocketAddr::from((addr, port));
    match protocol {
        "udp" => UdpSocket::bind(sa)?.local_addr().map(|a| a.port()),
        // No portable SCTP socket in std; the kernel picks for TCP instead.
        _ => TcpListener::bind(sa)?.local_addr().map(|a| a.port()),
    }
}

fn taken_by(taken: &[PortMapping], ip: &str, port: u16, protocol: &str) -> bool {
    taken
        .iter()
        .any(|t| t.host_port == port && t.protocol == protocol && ips_overlap(&t.host_ip, ip))
}

/// Chooses a host port for every request. `taken` holds the ports other
/// containers of this daemon publish.
pub fn resolve(requests: &[PortRequest], taken: &[PortMapping]) -> Result<Vec<PortMapping>> {
    let mut taken = taken.to_vec();
    let mut out = Vec::with_capacity(requests.len());
    for r in requests {
        let port = match r.host_ports {
            Some((first, last)) => {
                let mut last_err = None;
                let mut found = None;
                for p in first..=last {
                    if taken_by(&taken, &r.host_ip, p, &r.protocol) {
                        last_err = Some("port is already allocated".to_string());
                        continue;
                    }
                    match probe(&r.host_ip, p, &r.protocol) {
                        Ok(_) => {
                            found = Some(p);
                            break;
                        }
                        Err(e) => last_err = Some(e.to_string()),
                    }
                }
                found.ok_or_else(|| {
                    let ports = if first == last {
                        first.to_string()
                    } else {
                        format!("{first}-{last}")
                    };
                    Error::system(format!(
                        "Bind for {}:{ports} failed: {}",
                        display_ip(&r.host_ip),
                        last_err.unwrap_or_default()
                    ))
                })?
            }
            None => {
                let mut found = None;
                for _ in 0..64 {
                    let p = probe(&r.host_ip, 0, &r.protocol).map_err(|e| {
                        Error::system(format!("Bind for {}:0 failed: {e}", display_ip(&r.host_ip)))
                    })?;
                    if !taken_by(&taken, &r.host_ip, p, &r.protocol) {
                        found = Some(p);
                        break;
                    }
                }
                found.ok_or_else(|| Error::system("no free host port found"))?
            }
        };
        let m = PortMapping {
            host_ip: r.host_ip.clone(),
            host_port: port,
            container_port: r.container_port,
            protocol: r.protocol.clone(),
        };
        taken.push(m.clone());
        out.push(m);
    }
    Ok(out)
}

/// Every port the container exposes or publishes, as `port/proto` keys.
fn exposed_keys(exposed: &HashMap<String, EmptyObject>, mappings: &[PortMapping]) -> Vec<String> {
    let mut keys: Vec<String> = exposed
        .keys()
        .filter_map(|k| parse_key(k).ok())
        .map(|(p, proto)| format!("{p}/{proto}"))
        .chain(
            mappings
                .iter()
                .map(|m| format!("{}/{}", m.container_port, m.protocol)),
        )
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `NetworkSettings.Ports`: published ports with their host sides,
/// exposed-only ones as `null`.
pub fn port_map(exposed: &HashMap<String, EmptyObject>, mappings: &[PortMapping]) -> PortMap {
    let mut out = PortMap::new();
    for key in exposed_keys(exposed, mappings) {
        let bindings: Vec<PortBinding> = mappings
            .iter()
            .filter(|m| format!("{}/{}", m.container_port, m.protocol) == key)
            .map(|m| PortBinding {
                host_ip: display_ip(&m.host_ip).to_string(),
                host_port: m.host_port.to_string(),
            })
            .collect();
        out.insert(key, (!bindings.is_empty()).then_some(bindings));
    }
    out
}

/// The `Ports` of `GET /containers/json`.
pub fn summary_ports(
    exposed: &HashMap<String, EmptyObject>,
    mappings: &[PortMapping],
) -> Vec<Port> {
    let mut out = Vec::new();
    for key in exposed_keys(exposed, mappings) {
        let Ok((port, proto)) = parse_key(&key) else {
            continue;
        };
        let mut published = false;
        for m in mappings
            .iter()
            .filter(|m| m.container_port == port && m.protocol == proto)
        {
            published = true;
            out.push(Port {
                ip: display_ip(&m.host_ip).to_string(),
                private_port: port,
                public_port: m.host_port,
                r#type: proto.clone(),
            });
        }
        if !published {
            out.push(Port {
                private_port: port,
                r#type: proto,
                ..Default::default()
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(bindings: &[(&str, &str, &str)]) -> HostConfig {
        let mut hc = HostConfig::default();
        for (key, ip, port) in bindings {
            hc.port_bindings
                .entry(key.to_string())
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: ip.to_string(),
                    host_port: port.to_string(),
                });
        }
        hc
    }

    #[test]
    fn parses_docker_bindings() {
        let r = requests(
            &hc(&[("80/tcp", "127.0.0.1", "8080"), ("53/udp", "", "")]),
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(
            r,
            vec![
                PortRequest {
                    host_ip: String::new(),
                    host_ports: None,
                    container_port: 53,
                    protocol: "udp".into()
                },
                PortRequest {
                    host_ip: "127.0.0.1".into(),
                    host_ports: Some((8080, 8080)),
                    container_port: 80,
                    protocol: "tcp".into()
                },
            ]
        );
        let r = requests(&hc(&[("80", "0.0.0.0", "9000-9010")]), &HashMap::new()).unwrap();
        assert_eq!(r[0].host_ports, Some((9000, 9010)));
        assert_eq!(r[0].host_ip, "");
        assert_eq!(r[0].protocol, "tcp");
    }

    #[test]
    fn refuses_bad_specs() {
        for (key, ip, port) in [
            ("abc/tcp", "", "80"),
            ("0/tcp", "", "80"),
            ("70000/tcp", "", "80"),
            ("80/icmp", "", "80"),
            ("80/tcp", "", "x"),
            ("80/tcp", "", "90-80"),
            ("80/tcp", "not-an-ip", "80"),
            ("80/tcp", "::1", "80"),
        ] {
            let e = requests(&hc(&[(key, ip, port)]), &HashMap::new()).unwrap_err();
            assert!(
                matches!(e, Error::InvalidParameter(_)),
                "{key} {ip} {port}: {e:?}"
            );
        }
    }

    #[test]
    fn publish_all_adds_exposed_ports() {
        let mut h = hc(&[("80/tcp", "", "8080")]);
        h.publish_all_ports = true;
        let exposed: HashMap<String, EmptyObject> = [
            ("80/tcp".to_string(), EmptyObject {}),
            ("443/tcp".to_string(), EmptyObject {}),
        ]
        .into();
        let r = requests(&h, &exposed).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].container_port, 443);
        assert_eq!(r[1].host_ports, None);
    }

    #[test]
    fn resolve_avoids_taken_and_busy_ports() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let req = |ports| PortRequest {
            host_ip: "127.0.0.1".into(),
            host_ports: ports,
            container_port: 80,
            protocol: "tcp".into(),
        };
        let e = resolve(&[req(Some((busy_port, busy_port)))], &[]).unwrap_err();
        assert!(e.to_string().contains("Bind for 127.0.0.1:"), "{e}");
        let other = PortMapping {
            host_ip: String::new(),
            host_port: 40999,
            container_port: 1,
            protocol: "tcp".into(),
        };
        let e = resolve(&[req(Some((40999, 40999)))], std::slice::from_ref(&other)).unwrap_err();
        assert!(e.to_string().contains("already allocated"), "{e}");
        let got = resolve(&[req(Some((40999, 41001)))], &[other]).unwrap();
        assert_ne!(got[0].host_port, 40999);
        let got = resolve(&[req(None), req(None)], &[]).unwrap();
        assert_ne!(got[0].host_port, got[1].host_port);
    }

    #[test]
    fn shows_bindings_like_docker() {
        let exposed: HashMap<String, EmptyObject> =
            [("443/tcp".to_string(), EmptyObject {})].into();
        let m = vec![PortMapping {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            protocol: "tcp".into(),
        }];
        let pm = port_map(&exposed, &m);
        assert_eq!(pm["443/tcp"], None);
        let b = pm["80/tcp"].as_ref().unwrap();
        assert_eq!(
            (b[0].host_ip.as_str(), b[0].host_port.as_str()),
            ("0.0.0.0", "8080")
        );
        let s = summary_ports(&exposed, &m);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].private_port, 443);
        assert_eq!(s[0].public_port, 0);
        assert_eq!(s[1].public_port, 8080);
    }
}
