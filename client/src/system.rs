//! System operations: ping, version, info, events.

use http::Method;
use pouch_api::events::EventMessage;
use pouch_api::system::{Info, SystemDfResponse, Version};
use pouch_api::Filters;

use crate::error::Result;
use crate::query::Query;
use crate::stream::{json_stream, JsonStream};
use crate::{body_stream, empty, Client};

impl Client {
    /// `GET /_ping`: succeeds when the daemon answers.
    pub async fn ping(&self) -> Result<()> {
        self.call(Method::GET, "/_ping", &Query::new()).await
    }

    /// `GET /version`.
    pub async fn version(&self) -> Result<Version> {
        self.call_json(Method::GET, "/version", &Query::new()).await
    }

    /// `GET /system/df`: disk usage of images, containers and volumes.
    pub async fn system_df(&self) -> Result<SystemDfResponse> {
        self.call_json(Method::GET, "/system/df", &Query::new())
            .await
    }

    /// `GET /info`.
    pub async fn info(&self) -> Result<Info> {
        self.call_json(Method::GET, "/info", &Query::new()).await
    }

    /// `GET /events[?since=][&until=][&filters=]`: past events since
    /// `since`, then live ones; the stream ends after `until` (never
    /// without it). Times are unix timestamps (`1700000000[.5]`).
    pub async fn events(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        filters: &Filters,
    ) -> Result<JsonStream<EventMessage>> {
        let query = Query::new()
            .opt("since", since)
            .opt("until", until)
            .opt("filters", (!filters.is_empty()).then(|| filters.to_json()));
        let resp = self
            .request(Method::GET, "/events", &query, empty(), &[])
            .await?;
        Ok(json_stream(body_stream(resp)))
    }
}
