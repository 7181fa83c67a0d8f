//! Bridge: Docker API objects in, manager calls, Docker API objects out.
//! Handlers stay thin; the logic lives in the managers.

pub mod archive;
pub mod build;
pub mod container;
pub mod container_prune;
pub mod events;
pub mod exec;
pub mod image;
pub mod image_commit;
pub mod image_filters;
pub mod image_import;
pub mod image_pull;
pub mod image_save;
mod inspect;
pub mod network;
pub mod stream;
pub mod system;
pub mod system_df;
pub mod volume;

use crate::daemon::Daemon;
use std::sync::Arc;

/// Runs a state-changing operation to its end even if the client goes away:
/// hyper drops a handler's future on disconnect, and a lifecycle operation
/// cut in half (a task started but not recorded) would leave containerd and
/// pouchd disagreeing.
pub(crate) async fn to_completion<T: Send + 'static>(
    op: impl std::future::Future<Output = crate::error::Result<T>> + Send + 'static,
) -> crate::error::Result<T> {
    tokio::spawn(op)
        .await
        .map_err(|e| crate::error::Error::system(format!("operation task: {e}")))?
}

/// Shared state of every handler.
pub type State = axum::extract::State<Arc<Daemon>>;
