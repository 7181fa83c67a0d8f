//! Volume operations (`/volumes/...`).

use http::Method;
use pouch_api::volume::{Volume, VolumeCreateRequest, VolumeListResponse, VolumesPruneResponse};
use pouch_api::Filters;

use crate::error::Result;
use crate::query::{encode_path, Query};
use crate::Client;

/// Volume operations; get one with [`Client::volumes`].
#[derive(Debug, Clone, Copy)]
pub struct Volumes<'a> {
    client: &'a Client,
}

impl<'a> Volumes<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn path(name: &str) -> String {
        format!("/volumes/{}", encode_path(name))
    }

    /// `POST /volumes/create`; an existing volume of that name is returned
    /// as it is.
    pub async fn create(&self, req: &VolumeCreateRequest) -> Result<Volume> {
        self.client
            .call_with_json(Method::POST, "/volumes/create", &Query::new(), req)
            .await
    }

    /// `GET /volumes[?filters=]` (`name`, `label`, `dangling`, `driver`).
    pub async fn list(&self, filters: &Filters) -> Result<VolumeListResponse> {
        let query = Query::new().opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client.call_json(Method::GET, "/volumes", &query).await
    }

    /// `GET /volumes/{name}`.
    pub async fn inspect(&self, name: &str) -> Result<Volume> {
        self.client
            .call_json(Method::GET, &Self::path(name), &Query::new())
            .await
    }

    /// `DELETE /volumes/{name}[?force=1]`: `force` makes a missing volume
    /// no error; a volume in use is refused anyway.
    pub async fn remove(&self, name: &str, force: bool) -> Result<()> {
        let query = Query::new().flag("force", force);
        self.client
            .call(Method::DELETE, &Self::path(name), &query)
            .await
    }

    /// `POST /volumes/prune[?filters=]`: every unused volume (API 1.41),
    /// narrowed by `label` / `label!`.
    pub async fn prune(&self, filters: &Filters) -> Result<VolumesPruneResponse> {
        let query = Query::new().opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        self.client
            .call_json(Method::POST, "/volumes/prune", &query)
            .await
    }
}
