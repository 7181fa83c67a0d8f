//! HTTP server: listeners, the `/v1.xx` prefix, routing to the bridge, and
//! the error → status mapping.

mod drain;
pub mod error;
pub mod params;
mod router;

use crate::daemon::Daemon;
use crate::error::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

pub use router::router;

/// The API as a service: the version prefix is stripped before routing.
fn app(
    daemon: Arc<Daemon>,
) -> axum::routing::IntoMakeService<
    impl tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone
        + Send
        + 'static,
> {
    use tower::Layer;
    let svc = axum::middleware::map_request(router::strip_version).layer(router(daemon));
    axum::ServiceExt::<axum::extract::Request>::into_make_service(svc)
}

/// Serves the API on every listen address until one listener fails.
pub async fn serve(addrs: &[String], daemon: Arc<Daemon>) -> Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for addr in addrs {
        let app = app(daemon.clone());
        if let Some(path) = addr.strip_prefix("unix://") {
            let path = std::path::PathBuf::from(path);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let _ = std::fs::remove_file(&path);
            let listener = tokio::net::UnixListener::bind(&path)
                .map_err(|e| Error::system(format!("listen on {addr}: {e}")))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
            tracing::info!(%addr, "API listening");
            tasks.spawn(async move { axum::serve(listener, app).await });
        } else if addr.starts_with("tcp://") {
            return Err(Error::invalid(format!(
                "refusing to listen on {addr}: TCP requires TLS, which is not supported yet"
            )));
        } else {
            return Err(Error::invalid(format!(
                "unsupported listen address {addr:?}"
            )));
        }
    }
    match tasks.join_next().await {
        Some(Ok(Ok(()))) | None => Ok(()),
        Some(Ok(Err(e))) => Err(Error::system(format!("serving API: {e}"))),
        Some(Err(e)) => Err(Error::system(format!("API task: {e}"))),
    }
}
