//! Network operations (`/networks/...`).

use http::Method;
use http_body_util::BodyExt;
use pouch_api::container::EndpointSettings;
use pouch_api::network::{
    NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest,
    NetworkResource, NetworksPruneResponse,
};
use pouch_api::Filters;

use crate::error::Result;
use crate::query::{encode_path, Query};
use crate::Client;

/// Network operations; get one with [`Client::networks`].
#[derive(Debug, Clone, Copy)]
pub struct Networks<'a> {
    client: &'a Client,
}

impl<'a> Networks<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn path(id: &str, rest: &str) -> String {
        format!("/networks/{}{rest}", encode_path(id))
    }

    /// `POST /networks/create`.
    pub async fn create(&self, req: &NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        self.client
            .call_with_json(Method::POST, "/networks/create", &Query::new(), req)
            .await
    }

    /// `GET /networks[?filters=]` (`name`, `id`, `driver`, `label`, `type`,
    /// `dangling`, `scope`).
    pub async fn list(&self, filters: &Filters) -> Result<Vec<NetworkResource>> {
        let query = Query::new().opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::GET, "/networks", &query)
            .await
    }

    /// `GET /networks/{id}`: by name, ID or unique ID prefix.
    pub async fn inspect(&self, id: &str) -> Result<NetworkResource> {
        self.client
            .call_json(Method::GET, &Self::path(id, ""), &Query::new())
            .await
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove(&self, id: &str) -> Result<()> {
        self.client
            .call(Method::DELETE, &Self::path(id, ""), &Query::new())
            .await
    }

    /// `POST /networks/{id}/connect`.
    pub async fn connect(
        &self,
        network: &str,
        container: &str,
        endpoint: Option<EndpointSettings>,
    ) -> Result<()> {
        let body = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: endpoint,
        };
        self.post_no_answer(&Self::path(network, "/connect"), &body)
            .await
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn disconnect(&self, network: &str, container: &str, force: bool) -> Result<()> {
        let body = NetworkDisconnectRequest {
            container: container.to_string(),
            force,
        };
        self.post_no_answer(&Self::path(network, "/disconnect"), &body)
            .await
    }

    /// `POST /networks/prune[?filters=]` (`until`, `label`, `label!`).
    pub async fn prune(&self, filters: &Filters) -> Result<NetworksPruneResponse> {
        let query = Query::new().opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::POST, "/networks/prune", &query)
            .await
    }

    async fn post_no_answer<B: serde::Serialize>(&self, path: &str, body: &B) -> Result<()> {
        let resp = self
            .client
            .request(
                Method::POST,
                path,
                &Query::new(),
                crate::json_body(body)?,
                &[("content-type", "application/json")],
            )
            .await?;
        // Drained so the connection goes back to the pool.
        resp.into_body().collect().await?;
        Ok(())
    }
}
