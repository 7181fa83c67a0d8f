//! `Config`: the portable part of a container's configuration, shared by
//! `POST /containers/create`, container inspect and image inspect.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::de::{is_false, is_zero, null_default, string_or_vec, EmptyObject};

/// Container configuration that does not depend on the host
/// (Go: `container.Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct Config {
    #[serde(deserialize_with = "null_default")]
    pub hostname: String,
    #[serde(deserialize_with = "null_default")]
    pub domainname: String,
    #[serde(deserialize_with = "null_default")]
    pub user: String,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdout: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stderr: bool,
    /// Keys are `port/proto`, e.g. `80/tcp`; values are always `{}`.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub exposed_ports: HashMap<String, EmptyObject>,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(deserialize_with = "null_default")]
    pub open_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub stdin_once: bool,
    #[serde(deserialize_with = "null_default")]
    pub env: Vec<String>,
    /// `None` (JSON `null`) means "not set, use the image's".
    /// Accepts a JSON array or a single string.
    #[serde(deserialize_with = "string_or_vec")]
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    #[serde(deserialize_with = "null_default")]
    pub image: String,
    /// Keys are container paths; values are always `{}`.
    #[serde(deserialize_with = "null_default")]
    pub volumes: HashMap<String, EmptyObject>,
    #[serde(deserialize_with = "null_default")]
    pub working_dir: String,
    /// `None` (JSON `null`) means "not set, use the image's".
    /// Accepts a JSON array or a single string.
    #[serde(deserialize_with = "string_or_vec")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub network_disabled: bool,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub mac_address: String,
    #[serde(deserialize_with = "null_default")]
    pub on_build: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    /// Seconds to wait for the container to stop before killing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(
        deserialize_with = "string_or_vec",
        skip_serializing_if = "Option::is_none"
    )]
    pub shell: Option<Vec<String>>,
}

/// Healthcheck configuration (Go: `container.HealthConfig`).
/// Durations are in nanoseconds; 0 means "inherit".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `[]` inherit, `["NONE"]` disable, `["CMD", args...]`,
    /// `["CMD-SHELL", command]`.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_zero")]
    pub retries: i64,
}
