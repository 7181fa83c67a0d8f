//! `GET /events`: history since `since`, then live events until `until`.

use super::stream::parse_time;
use super::State;
use crate::error::{Error, Result};
use crate::mgr::events::matches;
use crate::server::params::Params;
use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::http::{header, StatusCode};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

pub async fn events(state: State, RawQuery(q): RawQuery) -> Result<Response> {
    let p = Params::parse(q.as_deref());
    let filters = p.filters()?;
    let since = parse_time(p.str("since"))?;
    let until = parse_time(p.str("until"))?;
    // Validate once up front so that a bad filter is a 400, not an empty stream.
    matches(&filters, &Default::default()).map_err(Error::InvalidParameter)?;
    let nanos = |t: chrono::DateTime<chrono::Utc>| t.timestamp_nanos_opt().unwrap_or(i64::MAX);
    let until_nanos = until.map(nanos);
    let (past, mut rx) = state.events.subscribe(since.map(nanos));
    let (tx, out) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let wanted = |e: &pouch_api::events::EventMessage| {
            matches(&filters, e).unwrap_or(false) && until_nanos.is_none_or(|u| e.time_nano <= u)
        };
        let encode = |e: &pouch_api::events::EventMessage| {
            let mut v = serde_json::to_vec(e).unwrap_or_default();
            v.push(b'\n');
            Bytes::from(v)
        };
        for e in past.iter().filter(|e| wanted(e)) {
            if tx.send(encode(e)).await.is_err() {
                return;
            }
        }
        let deadline = until.map(|u| {
            let left = (u - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::time::Instant::now() + left
        });
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok(),
                    None => Some(rx.recv().await),
                }
            };
            tokio::select! {
                got = next => match got {
                    None | Some(Err(RecvError::Closed)) => return,
                    Some(Err(RecvError::Lagged(n))) => {
                        tracing::warn!(skipped = n, "events subscriber too slow");
                    }
                    Some(Ok(e)) => {
                        if wanted(&e) && tx.send(encode(&e)).await.is_err() {
                            return;
                        }
                    }
                },
                _ = tx.closed() => return,
            }
        }
    });
    let body = tokio_stream::wrappers::ReceiverStream::new(out);
    let body = futures::StreamExt::map(body, Ok::<_, std::convert::Infallible>);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .map_err(|e| Error::system(e.to_string()))
}
