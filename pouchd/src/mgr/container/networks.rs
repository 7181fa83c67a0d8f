//! Network objects: create, remove and prune. They live with the container
//! manager because removing a network depends on which containers use it.

use super::{ContainerMgr, PruneOptions};
use crate::error::{Error, Result};
use crate::mgr::network::{pool, NetConfig};
use pouch_api::network::NetworkCreateRequest;
use std::collections::HashMap;

fn event_attributes(net: &NetConfig) -> HashMap<String, String> {
    HashMap::from([
        ("name".to_string(), net.name.clone()),
        ("type".to_string(), net.driver.clone()),
    ])
}

impl ContainerMgr {
    /// `POST /networks/create`: a user-defined bridge network. Its Linux
    /// bridge appears with the first container attached, as CNI makes it.
    pub async fn create_network(&self, req: &NetworkCreateRequest) -> Result<NetConfig> {
        let routes = pool::host_routes();
        let net = self.net.networks().create(req, &routes)?;
        if let Err(e) = self.net.setup_network(&net).await {
            let _ = self.net.remove_network(&net).await;
            let _ = self.net.networks().remove(&net.id);
            return Err(e);
        }
        self.events
            .publish("network", "create", &net.id, event_attributes(&net));
        Ok(net)
    }

    /// `DELETE /networks/{id}`: refused while a container is attached.
    pub async fn remove_network(&self, reference: &str) -> Result<()> {
        let net = self.net.networks().get(reference)?;
        if net.builtin {
            return Err(Error::Forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                net.name
            )));
        }
        if !self.containers_on(&net.id).is_empty() {
            return Err(Error::Forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                net.name, net.id
            )));
        }
        self.net.networks().remove(&net.id)?;
        if let Err(e) = self.net.remove_network(&net).await {
            // The network is gone for clients; what is left on the host is
            // logged for the operator.
            tracing::warn!(network = %net.name, error = %e, "removing the network's bridge and rules");
        }
        self.events
            .publish("network", "destroy", &net.id, event_attributes(&net));
        Ok(())
    }

    /// `POST /networks/prune`: user-defined networks no container is
    /// configured on; their names.
    pub async fn prune_networks(&self, opts: &PruneOptions) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for net in self.net.networks().all() {
            if net.builtin || !self.configured_on(&net).is_empty() {
                continue;
            }
            let created = chrono::DateTime::parse_from_rfc3339(&net.created)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_else(|_| chrono::Utc::now());
            if !opts.matches(created, &net.labels) {
                continue;
            }
            match self.remove_network(&net.id).await {
                Ok(()) => deleted.push(net.name.clone()),
                Err(e) => tracing::warn!(network = %net.name, error = %e, "pruning a network"),
            }
        }
        Ok(deleted)
    }
}
