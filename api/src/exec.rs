//! Exec types (`/containers/{id}/exec`, `/exec/{id}/...`).

use serde::{Deserialize, Serialize};

use crate::de::{null_default, string_or_vec};

/// Body of `POST /containers/{id}/exec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ExecConfig {
    #[serde(deserialize_with = "null_default")]
    pub user: String,
    #[serde(deserialize_with = "null_default")]
    pub privileged: bool,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stderr: bool,
    #[serde(deserialize_with = "null_default")]
    pub attach_stdout: bool,
    #[serde(deserialize_with = "null_default")]
    pub detach: bool,
    #[serde(deserialize_with = "null_default")]
    pub detach_keys: String,
    #[serde(deserialize_with = "null_default")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub working_dir: String,
    #[serde(deserialize_with = "string_or_vec")]
    pub cmd: Option<Vec<String>>,
}

/// Body of `POST /exec/{id}/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ExecStartConfig {
    #[serde(deserialize_with = "null_default")]
    pub detach: bool,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_size: Option<[u64; 2]>,
}

/// `{"Id": "..."}`, the answer of exec create.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IdResponse {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
}

/// What ran, in `GET /exec/{id}/json` (Docker's lowercase keys).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct ExecProcessConfig {
    #[serde(deserialize_with = "null_default")]
    pub arguments: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub entrypoint: String,
    #[serde(deserialize_with = "null_default")]
    pub privileged: bool,
    #[serde(deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(deserialize_with = "null_default")]
    pub user: String,
}

/// `GET /exec/{id}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ExecInspect {
    #[serde(rename = "ID", deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub running: bool,
    /// `null` until the process has exited.
    pub exit_code: Option<i64>,
    #[serde(deserialize_with = "null_default")]
    pub process_config: ExecProcessConfig,
    #[serde(deserialize_with = "null_default")]
    pub open_stdin: bool,
    #[serde(deserialize_with = "null_default")]
    pub open_stderr: bool,
    #[serde(deserialize_with = "null_default")]
    pub open_stdout: bool,
    #[serde(deserialize_with = "null_default")]
    pub can_remove: bool,
    #[serde(rename = "ContainerID", deserialize_with = "null_default")]
    pub container_id: String,
    #[serde(deserialize_with = "null_default")]
    pub detach_keys: String,
    #[serde(deserialize_with = "null_default")]
    pub pid: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_config_from_docker_cli() {
        let c: ExecConfig = serde_json::from_str(
            r#"{"User":"","Privileged":false,"Tty":false,"AttachStdin":false,"AttachStderr":true,"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["echo","hi"]}"#,
        )
        .unwrap();
        assert_eq!(c.cmd, Some(vec!["echo".to_string(), "hi".to_string()]));
        assert!(c.attach_stdout && !c.tty);
    }

    #[test]
    fn inspect_has_null_exit_code_while_running() {
        let v = serde_json::to_value(ExecInspect {
            running: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v["ExitCode"], serde_json::Value::Null);
        assert_eq!(v["ProcessConfig"]["entrypoint"], "");
        assert!(v.get("ID").is_some() && v.get("ContainerID").is_some());
    }
}
