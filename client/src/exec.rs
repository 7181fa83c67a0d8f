//! Exec instances (`/exec/{id}/...`); create one with
//! [`crate::Containers::exec_create`].

use http::Method;
use pouch_api::exec::{ExecInspect, ExecStartConfig};

use crate::container::{upgrade, Attached};
use crate::error::Result;
use crate::query::{encode_path, Query};
use crate::{json_body, Client};

/// Exec operations; get one with [`Client::exec`].
#[derive(Debug, Clone, Copy)]
pub struct Exec<'a> {
    client: &'a Client,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    fn path(id: &str, action: &str) -> String {
        format!("/exec/{}{}", encode_path(id), action)
    }

    /// `POST /exec/{id}/start` with an HTTP upgrade, as `attach`: the
    /// process's output (raw when `tty`, else demultiplexed) and its stdin
    /// (when the exec was created with `AttachStdin`). A failure to start
    /// the process is reported inside the output; its exit code (126/127)
    /// is in [`exec_inspect`](Self::exec_inspect).
    pub async fn exec_start(
        &self,
        id: &str,
        config: &ExecStartConfig,
        tty: bool,
    ) -> Result<Attached> {
        let config = ExecStartConfig {
            detach: false,
            ..config.clone()
        };
        upgrade(
            self.client,
            &Self::path(id, "/start"),
            &Query::new(),
            json_body(&config)?,
            "application/json",
            tty,
        )
        .await
    }

    /// `POST /exec/{id}/start` with `Detach`: start the process and return
    /// at once.
    pub async fn exec_start_detached(&self, id: &str, tty: bool) -> Result<()> {
        let config = ExecStartConfig {
            detach: true,
            tty,
            console_size: None,
        };
        let resp = self
            .client
            .request(
                Method::POST,
                &Self::path(id, "/start"),
                &Query::new(),
                json_body(&config)?,
                &[("content-type", "application/json")],
            )
            .await?;
        http_body_util::BodyExt::collect(resp.into_body()).await?;
        Ok(())
    }

    /// `GET /exec/{id}/json`.
    pub async fn exec_inspect(&self, id: &str) -> Result<ExecInspect> {
        self.client
            .call_json(Method::GET, &Self::path(id, "/json"), &Query::new())
            .await
    }

    /// `POST /exec/{id}/resize?h=&w=` (TTY size of the process).
    pub async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let query = Query::new()
            .set("h", height.to_string())
            .set("w", width.to_string());
        self.client
            .call(Method::POST, &Self::path(id, "/resize"), &query)
            .await
    }
}
