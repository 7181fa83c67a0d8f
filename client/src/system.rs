//! System operations: ping, version, info.

use http::Method;
use pouch_api::system::{Info, Version};

use crate::error::Result;
use crate::query::Query;
use crate::Client;

impl Client {
    /// `GET /_ping`: succeeds when the daemon answers.
    pub async fn ping(&self) -> Result<()> {
        self.call(Method::GET, "/_ping", &Query::new()).await
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version> {
        self.call_json(Method::GET, "/version", &Query::new()).await
    }

    /// `GET /info`.
    pub async fn info(&self) -> Result<Info> {
        self.call_json(Method::GET, "/info", &Query::new()).await
    }
}
