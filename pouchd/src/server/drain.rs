//! Reading the rest of a request body the server refused, before answering.
//!
//! A handler may refuse an upload on its head alone (a bad `changes` for an
//! import, an unknown container for a `cp` PUT) and answer at once. Closing
//! the connection then, with the client still sending, makes the client's
//! write fail (EPIPE) and many clients, the docker CLI among them, report
//! that instead of the answer. Like Go's net/http, which dockerd uses, the
//! server reads and discards a bounded rest of such a body first.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// What is read of a refused body at most (Go's `maxPostHandlerReadBytes`).
const DRAIN_LIMIT: usize = 256 * 1024;
/// How long a slow client gets to send it.
const DRAIN_TIME: Duration = Duration::from_secs(2);

type Data = axum::body::BodyDataStream;

fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// Middleware: requests with a body go through a shared reader, so that on
/// an error answer what the handler left unread can be drained.
pub async fn drain_refused_bodies(req: Request, next: Next) -> Response {
    if !has_body(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let shared: Arc<Mutex<Data>> = Arc::new(Mutex::new(body.into_data_stream()));
    let reader = futures::stream::unfold(shared.clone(), |s| async move {
        let item = s.lock().await.next().await;
        item.map(|i| (i, s))
    });
    let resp = next
        .run(Request::from_parts(parts, Body::from_stream(reader)))
        .await;
    if resp.status().is_client_error() || resp.status().is_server_error() {
        // Not when the handler still reads (a task it spawned holds it).
        if let Ok(mut rest) = shared.try_lock() {
            let drain = async {
                let mut read = 0;
                while let Some(Ok(chunk)) = rest.next().await {
                    read += chunk.len();
                    if read > DRAIN_LIMIT {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        }
    }
    resp
}
