//! `docker network connect` and `disconnect`: a container joins or leaves a
//! network now if it runs (an interface appears or goes in its namespace,
//! the peers' /etc/hosts follow), and at every later start.

use super::network::{attachment, configured, shares_namespace, short_id, uses_bridge};
use super::ContainerMgr;
use crate::error::{Error, Result};
use crate::mgr::network::{AttachRequest, NetConfig, Sandbox};
use pouch_api::container::EndpointSettings;
use std::collections::HashSet;

/// Docker's attributes of a network event about a container.
fn network_event_attributes(
    net: &NetConfig,
    container: &str,
) -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([
        ("container".to_string(), container.to_string()),
        ("name".to_string(), net.name.clone()),
        ("type".to_string(), net.driver.clone()),
    ])
}

impl ContainerMgr {
    /// `POST /networks/{id}/connect`: the container joins `network` now if
    /// it runs, and at every start.
    pub async fn connect(
        &self,
        reference: &str,
        network: &str,
        ep: Option<&EndpointSettings>,
    ) -> Result<()> {
        let c = self.get(reference)?;
        let net = self.store().get(network)?;
        let _op = c.op.lock().await;
        let m = c.meta();
        if net.bridge.is_none() || shares_namespace(&m.host_config.network_mode) {
            return Err(Error::Forbidden(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network (network {})",
                net.name
            )));
        }
        if configured(&m)
            .iter()
            .any(|(name, a)| *name == net.name || a.network_id == net.id)
        {
            return Err(Error::Forbidden(format!(
                "endpoint with name {} already exists in network {}",
                m.name, net.name
            )));
        }
        let mut a = attachment(&net, ep)?;
        let running = m.state.status.is_alive();
        if running {
            let used: HashSet<String> =
                m.endpoints.iter().map(|e| e.ifname().to_string()).collect();
            let ifname = (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !used.contains(n))
                .unwrap_or_default();
            let sandbox = match m.endpoints.first() {
                Some(e) => Sandbox {
                    id: e.sandbox_id.clone(),
                    key: e.sandbox_key.clone(),
                },
                None => {
                    return Err(Error::conflict(format!(
                        "container {} has no network namespace to connect",
                        m.name
                    )))
                }
            };
            let req = AttachRequest {
                ifname: &ifname,
                ports: &[],
                taken: &[],
                ip: a.ipv4_address.parse().ok(),
            };
            let endpoint = self.net.attach(&c.id, &sandbox, &net, req).await?;
            if net.is_user_defined() {
                a.aliases.push(short_id(&c.id).to_string());
            }
            c.update(|m| m.endpoints.push(endpoint));
        }
        c.update(|m| {
            // A record from before user-defined networks: its mode's network
            // becomes explicit.
            if m.networks.is_empty() {
                m.networks.extend(configured(&m.clone()));
            }
            m.networks.insert(net.name.clone(), a);
        });
        self.save(&c).await?;
        if running {
            self.refresh_peers(&c);
        }
        self.events.publish(
            "network",
            "connect",
            &net.id,
            network_event_attributes(&net, &c.id),
        );
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect(&self, reference: &str, network: &str, force: bool) -> Result<()> {
        let c = self.get(reference)?;
        let net = match self.store().get(network) {
            Ok(n) => n,
            // A removed network can still be let go of by name.
            Err(e) if force => {
                let _ = e;
                NetConfig {
                    name: network.to_string(),
                    id: network.to_string(),
                    ..self.store().default_bridge().clone()
                }
            }
            Err(e) => return Err(e),
        };
        let _op = c.op.lock().await;
        let m = c.meta();
        let Some((name, _)) = configured(&m)
            .into_iter()
            .find(|(name, a)| *name == net.name || a.network_id == net.id)
        else {
            return Err(Error::invalid(format!(
                "container {} is not connected to network {}",
                m.name, net.name
            )));
        };
        let ep = m
            .endpoints
            .iter()
            .find(|e| e.network_id == net.id || e.network_name() == name)
            .cloned();
        if let Some(ep) = &ep {
            if let Err(e) = self.net.detach(&c.id, ep).await {
                if !force {
                    return Err(e);
                }
                tracing::warn!(id = %c.id, error = %e, "disconnecting");
            }
        }
        c.update(|m| {
            if m.networks.is_empty() {
                m.networks.extend(configured(&m.clone()));
            }
            m.networks.remove(&name);
            if let Some(ep) = &ep {
                m.endpoints.retain(|e| e.endpoint_id != ep.endpoint_id);
            }
            // Nothing left: the mode's network is no longer the default.
            if m.networks.is_empty() && uses_bridge(&m.host_config.network_mode) {
                m.host_config.network_mode = "none".into();
            }
        });
        self.save(&c).await?;
        if let Some(ep) = ep {
            self.refresh_peers_of(std::slice::from_ref(&ep));
            self.refresh_hosts(&c);
        }
        self.events.publish(
            "network",
            "disconnect",
            &net.id,
            network_event_attributes(&net, &c.id),
        );
        Ok(())
    }
}
