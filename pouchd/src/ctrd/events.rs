//! The one supervised watcher of containerd's event stream. Exits of every
//! task arrive here, so no task per container is needed to detect them.

use super::client::{timestamp_to_utc, Ctrd};
use super::{ExitInfo, RuntimeEvent};
use containerd_client::events::{TaskExit, TaskOom};
use containerd_client::services::v1::SubscribeRequest;
use prost::Message;
use std::time::Duration;
use tokio::sync::mpsc;

/// Runs until the receiver is dropped. On a broken stream it resubscribes with
/// back-off and then emits [`RuntimeEvent::Resync`], because events in the gap
/// are lost and consumers must re-list tasks.
pub(super) async fn watch(ctrd: Ctrd, tx: mpsc::Sender<RuntimeEvent>) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let req = SubscribeRequest {
            filters: vec![
                r#"topic=="/tasks/exit""#.to_string(),
                r#"topic=="/tasks/oom""#.to_string(),
            ],
        };
        let mut client = ctrd.events();
        // Subscribe only resolves when the first event arrives, so the resync
        // signal is sent once the request is on its way, not after it resolves.
        let sub = tokio::spawn(async move { client.subscribe(req).await });
        if !first {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if tx.send(RuntimeEvent::Resync).await.is_err() {
                sub.abort();
                return;
            }
        }
        first = false;
        let stream = match sub.await {
            Ok(Ok(resp)) => resp.into_inner(),
            Ok(Err(status)) => {
                tracing::warn!(%status, "containerd event subscription failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
            Err(_) => return,
        };
        backoff = Duration::from_millis(100);
        let mut stream = stream;
        loop {
            match stream.message().await {
                Ok(Some(env)) => {
                    let Some(ev) = env
                        .event
                        .as_ref()
                        .and_then(|any| decode(&env.topic, &any.value))
                    else {
                        continue;
                    };
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    tracing::warn!(%status, "containerd event stream broke");
                    break;
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Decodes by topic rather than by the `Any` type URL, whose form varies.
fn decode(topic: &str, value: &[u8]) -> Option<RuntimeEvent> {
    match topic {
        "/tasks/exit" => {
            let e = TaskExit::decode(value).ok()?;
            // Exits of exec processes carry their own id.
            if e.id != e.container_id {
                return Some(RuntimeEvent::ExecExit {
                    id: e.container_id,
                    exec_id: e.id,
                    exit: ExitInfo {
                        exit_status: e.exit_status,
                        exited_at: timestamp_to_utc(e.exited_at),
                    },
                });
            }
            Some(RuntimeEvent::TaskExit {
                id: e.container_id,
                pid: e.pid,
                exit: ExitInfo {
                    exit_status: e.exit_status,
                    exited_at: timestamp_to_utc(e.exited_at),
                },
            })
        }
        "/tasks/oom" => {
            let e = TaskOom::decode(value).ok()?;
            Some(RuntimeEvent::TaskOom { id: e.container_id })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_exits_are_exec_events() {
        let e = TaskExit {
            container_id: "c".into(),
            id: "exec1".into(),
            pid: 5,
            exit_status: 1,
            exited_at: None,
        };
        assert_eq!(
            decode("/tasks/exit", &e.encode_to_vec()),
            Some(RuntimeEvent::ExecExit {
                id: "c".into(),
                exec_id: "exec1".into(),
                exit: ExitInfo {
                    exit_status: 1,
                    exited_at: None
                }
            })
        );
    }

    #[test]
    fn init_exit_decodes() {
        let e = TaskExit {
            container_id: "c".into(),
            id: "c".into(),
            pid: 5,
            exit_status: 3,
            exited_at: None,
        };
        assert_eq!(
            decode("/tasks/exit", &e.encode_to_vec()),
            Some(RuntimeEvent::TaskExit {
                id: "c".into(),
                pid: 5,
                exit: ExitInfo {
                    exit_status: 3,
                    exited_at: None
                }
            })
        );
    }
}
