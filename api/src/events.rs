//! `GET /events` messages.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// The object an event is about.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EventActor {
    #[serde(rename = "ID", deserialize_with = "null_default")]
    pub id: String,
    #[serde(rename = "Attributes", deserialize_with = "null_default")]
    pub attributes: HashMap<String, String>,
}

/// One event, with the legacy `status`/`id`/`from` keys Docker still sends
/// for containers and images.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EventMessage {
    #[serde(rename = "status", skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(rename = "id", skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "from", skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type", deserialize_with = "null_default")]
    pub r#type: String,
    #[serde(rename = "Action", deserialize_with = "null_default")]
    pub action: String,
    #[serde(rename = "Actor", deserialize_with = "null_default")]
    pub actor: EventActor,
    #[serde(rename = "scope", deserialize_with = "null_default")]
    pub scope: String,
    #[serde(rename = "time", deserialize_with = "null_default")]
    pub time: i64,
    #[serde(rename = "timeNano", deserialize_with = "null_default")]
    pub time_nano: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_event_shape() {
        let e = EventMessage {
            status: "start".into(),
            id: "abc".into(),
            from: "busybox".into(),
            r#type: "container".into(),
            action: "start".into(),
            actor: EventActor {
                id: "abc".into(),
                attributes: HashMap::new(),
            },
            scope: "local".into(),
            time: 1,
            time_nano: 1_000_000_000,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["timeNano"], 1_000_000_000i64);
        let back: EventMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
