//! The event bus: every manager publishes what happened; `GET /events`
//! subscribers get history then live events. A bounded history is kept on
//! disk so that `events --since` survives a restart.

use crate::error::Result;
use pouch_api::events::{EventActor, EventMessage};
use pouch_api::Filters;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events kept in memory and on disk.
const HISTORY: usize = 1000;

struct Inner {
    history: VecDeque<Arc<EventMessage>>,
    file: Option<std::fs::File>,
    /// Lines in the file, to know when to compact it.
    lines: usize,
}

/// Publishes events to live subscribers and keeps recent history.
pub struct EventBus {
    tx: broadcast::Sender<Arc<EventMessage>>,
    // std lock: publish and subscribe are short and never await while holding it.
    inner: Mutex<Inner>,
    path: Option<PathBuf>,
}

impl EventBus {
    /// A bus persisting to `path` (history is read back from it), or in memory only.
    pub fn new(path: Option<PathBuf>) -> Result<Self> {
        let mut history = VecDeque::new();
        let mut lines = 0;
        if let Some(p) = &path {
            if let Ok(f) = std::fs::File::open(p) {
                for line in std::io::BufReader::new(f).lines() {
                    let Ok(line) = line else { break };
                    lines += 1;
                    if let Ok(e) = serde_json::from_str::<EventMessage>(&line) {
                        history.push_back(Arc::new(e));
                        if history.len() > HISTORY {
                            history.pop_front();
                        }
                    }
                }
            }
        }
        let file = match &path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        let (tx, _) = broadcast::channel(1024);
        Ok(EventBus {
            tx,
            inner: Mutex::new(Inner {
                history,
                file,
                lines,
            }),
            path,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes `action` on object `id` of `typ` ("container", "image", ...).
    pub fn publish(&self, typ: &str, action: &str, id: &str, attributes: HashMap<String, String>) {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let legacy = matches!(typ, "container" | "image");
        let e = Arc::new(EventMessage {
            status: if legacy {
                action.to_string()
            } else {
                String::new()
            },
            id: if legacy {
                id.to_string()
            } else {
                String::new()
            },
            from: if typ == "container" {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            r#type: typ.to_string(),
            action: action.to_string(),
            actor: EventActor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".to_string(),
            time: now.timestamp(),
            time_nano: nanos,
        });
        let mut inner = self.lock();
        inner.history.push_back(e.clone());
        if inner.history.len() > HISTORY {
            inner.history.pop_front();
        }
        self.persist(&mut inner, &e);
        // Sent under the lock so that a subscriber sees each event exactly once:
        // either in the history snapshot or on the channel.
        let _ = self.tx.send(e);
    }

    fn persist(&self, inner: &mut Inner, e: &EventMessage) {
        let Some(f) = inner.file.as_mut() else { return };
        let mut line = serde_json::to_vec(e).unwrap_or_default();
        line.push(b'\n');
        if let Err(err) = f.write_all(&line) {
            tracing::warn!(error = %err, "persisting event");
            return;
        }
        inner.lines += 1;
        if inner.lines > 2 * HISTORY {
            self.compact(inner);
        }
    }

    /// Rewrites the file with the in-memory history only.
    fn compact(&self, inner: &mut Inner) {
        let Some(path) = &self.path else { return };
        let mut out = Vec::new();
        for e in &inner.history {
            if let Ok(mut l) = serde_json::to_vec(e.as_ref()) {
                l.push(b'\n');
                out.extend_from_slice(&l);
            }
        }
        if crate::store::write_atomic(path, &out).is_ok() {
            inner.lines = inner.history.len();
            inner.file = std::fs::OpenOptions::new().append(true).open(path).ok();
        }
    }

    /// Past events newer than `since` (nanoseconds) and the live receiver,
    /// taken together so that nothing is missed or repeated.
    pub fn subscribe(
        &self,
        since_nanos: Option<i64>,
    ) -> (
        Vec<Arc<EventMessage>>,
        broadcast::Receiver<Arc<EventMessage>>,
    ) {
        let inner = self.lock();
        let rx = self.tx.subscribe();
        let past = match since_nanos {
            Some(s) => inner
                .history
                .iter()
                .filter(|e| e.time_nano >= s)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (past, rx)
    }
}

const FILTERS: &[&str] = &[
    "type",
    "container",
    "image",
    "event",
    "label",
    "network",
    "volume",
    "daemon",
    "scope",
];

/// Whether `e` passes Docker's event filters.
pub fn matches(f: &Filters, e: &EventMessage) -> std::result::Result<bool, String> {
    f.validate(FILTERS)?;
    let any = |name: &str, pred: &dyn Fn(&str) -> bool| {
        !f.contains(name) || f.get(name).iter().any(|v| pred(v))
    };
    let attrs = &e.actor.attributes;
    let ok = any("type", &|v| v == e.r#type)
        && any("event", &|v| {
            v == e.action || e.action.starts_with(&format!("{v}:"))
        })
        && any("container", &|v| {
            e.r#type == "container"
                && (e.actor.id.starts_with(v) || attrs.get("name").map(String::as_str) == Some(v))
        })
        && any("image", &|v| {
            (e.r#type == "image"
                && (e.actor.id == v || attrs.get("name").map(String::as_str) == Some(v)))
                || attrs.get("image").map(String::as_str) == Some(v)
        })
        && any("label", &|v| match v.split_once('=') {
            Some((k, val)) => attrs.get(k).map(String::as_str) == Some(val),
            None => attrs.contains_key(v),
        })
        && any("scope", &|v| v == e.scope);
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn history_survives_a_restart_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.log");
        {
            let bus = EventBus::new(Some(path.clone())).unwrap();
            for i in 0..(2 * HISTORY + 10) {
                bus.publish("container", "start", &format!("c{i}"), attrs(&[]));
            }
        }
        let bus = EventBus::new(Some(path.clone())).unwrap();
        let (past, _) = bus.subscribe(Some(0));
        assert_eq!(past.len(), HISTORY);
        assert_eq!(
            past.last().unwrap().actor.id,
            format!("c{}", 2 * HISTORY + 9)
        );
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 2 * HISTORY, "file compacted: {lines}");
    }

    #[tokio::test]
    async fn live_subscribers_see_each_event_once() {
        let bus = EventBus::new(None).unwrap();
        bus.publish("container", "create", "a", attrs(&[]));
        let (past, mut rx) = bus.subscribe(Some(0));
        bus.publish("container", "start", "a", attrs(&[]));
        assert_eq!(past.len(), 1);
        assert_eq!(rx.recv().await.unwrap().action, "start");
    }

    #[test]
    fn filters_select_like_docker() {
        let bus = EventBus::new(None).unwrap();
        bus.publish(
            "container",
            "die",
            "abc123",
            attrs(&[("name", "web"), ("image", "busybox"), ("exitCode", "3")]),
        );
        let (past, _) = bus.subscribe(Some(0));
        let e = &past[0];
        let f = |k: &str, v: &str| Filters::new().with(k, v);
        assert!(matches(&f("container", "web"), e).unwrap());
        assert!(matches(&f("container", "abc"), e).unwrap());
        assert!(!matches(&f("container", "db"), e).unwrap());
        assert!(matches(&f("event", "die"), e).unwrap());
        assert!(!matches(&f("type", "image"), e).unwrap());
        assert!(matches(&f("image", "busybox"), e).unwrap());
        assert!(matches(&f("label", "exitCode=3"), e).unwrap());
        assert!(matches(&f("bogus", "x"), e).is_err());
    }
}
