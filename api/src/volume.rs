//! Volume objects of `/volumes` (Go: `types.Volume`, `volume.VolumeCreateBody`,
//! `volume.VolumeListOKBody`, `types.VolumesPruneReport`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::de::null_default;

/// A volume, as `GET /volumes/{name}` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Volume {
    /// RFC 3339 time at which the volume was created.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_at: String,
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    #[serde(deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
    #[serde(deserialize_with = "null_default")]
    pub mountpoint: String,
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub options: HashMap<String, String>,
    /// "local" or "global".
    #[serde(deserialize_with = "null_default")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<HashMap<String, serde_json::Value>>,
    /// Only in `GET /system/df`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<VolumeUsageData>,
}

/// Disk usage of a volume; `-1` when not computed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeUsageData {
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    #[serde(deserialize_with = "null_default")]
    pub ref_count: i64,
}

/// Body of `POST /volumes/create`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeCreateRequest {
    /// Empty: a random name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Empty: "local".
    #[serde(deserialize_with = "null_default")]
    pub driver: String,
    #[serde(deserialize_with = "null_default")]
    pub driver_opts: HashMap<String, String>,
    #[serde(deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
}

/// Answer of `GET /volumes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeListResponse {
    #[serde(deserialize_with = "null_default")]
    pub volumes: Vec<Volume>,
    /// Docker 20.10 sends `null` when there are none.
    pub warnings: Option<Vec<String>>,
}

/// Answer of `POST /volumes/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumesPruneResponse {
    /// Docker 20.10 sends `null` when nothing was removed.
    pub volumes_deleted: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default")]
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSPECT: &str = r#"{"CreatedAt":"2023-03-01T10:00:00Z","Driver":"local","Labels":{"a":"b"},"Mountpoint":"/var/lib/docker/volumes/data/_data","Name":"data","Options":null,"Scope":"local"}"#;

    #[test]
    fn volume_round_trips_docker_json() {
        let v: Volume = serde_json::from_str(INSPECT).unwrap();
        assert_eq!(v.name, "data");
        assert_eq!(v.labels["a"], "b");
        assert!(v.options.is_empty());
        let out = serde_json::to_value(&v).unwrap();
        for k in [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope",
        ] {
            assert!(out.get(k).is_some(), "{k} missing in {out}");
        }
        assert!(out.get("UsageData").is_none());
    }

    #[test]
    fn create_request_and_reports_decode() {
        let r: VolumeCreateRequest = serde_json::from_str(
            r#"{"Name":"x","Driver":"","DriverOpts":null,"Labels":{"k":"v"}}"#,
        )
        .unwrap();
        assert_eq!(r.name, "x");
        assert_eq!(r.labels["k"], "v");
        let l: VolumeListResponse =
            serde_json::from_str(&format!(r#"{{"Volumes":[{INSPECT}],"Warnings":null}}"#)).unwrap();
        assert_eq!(l.volumes.len(), 1);
        let p = serde_json::to_string(&VolumesPruneResponse::default()).unwrap();
        assert_eq!(p, r#"{"VolumesDeleted":null,"SpaceReclaimed":0}"#);
    }
}
