//! Running CNI plugins (the CNI spec's protocol, 1.0.0): each plugin is an
//! executable taking `CNI_*` variables and the network config on stdin and
//! answering a result (or an error) as JSON on stdout. A conflist runs its
//! plugins in order on ADD, each seeing the previous one's result, and in
//! reverse on DEL.

use crate::error::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The version of the spec our configs are written in.
pub const CNI_VERSION: &str = "1.0.0";

/// A plugin is killed after this long (they take milliseconds; iptables
/// waits for its lock for a few seconds at most).
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the plugin binaries are: `CNI_PATH`'s directories.
#[derive(Debug, Clone)]
pub struct Plugins {
    dirs: Vec<PathBuf>,
}

/// What one invocation is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub container_id: &'a str,
    pub netns: &'a Path,
    pub ifname: &'a str,
}

impl Plugins {
    /// `path` is a colon-separated list of directories, like `CNI_PATH`.
    pub fn new(path: &str) -> Self {
        Plugins {
            dirs: path
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect(),
        }
    }

    fn find(&self, kind: &str) -> Result<PathBuf> {
        if kind.is_empty() || kind.contains('/') {
            return Err(Error::system(format!("invalid CNI plugin type {kind:?}")));
        }
        self.dirs
            .iter()
            .map(|d| d.join(kind))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::system(format!(
                    "CNI plugin {kind} not found in {} (install containernetworking-plugins)",
                    self.cni_path()
                ))
            })
    }

    fn cni_path(&self) -> String {
        self.dirs
            .iter()
            .map(|d| d.to_string_lossy())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Runs one plugin with `conf` on stdin; the parsed stdout on success.
    pub async fn exec(&self, command: &str, t: Target<'_>, conf: &Value) -> Result<Value> {
        let kind = conf["type"].as_str().unwrap_or_default();
        let bin = self.find(kind)?;
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", t.container_id)
            .env("CNI_NETNS", t.netns)
            .env("CNI_IFNAME", t.ifname)
            .env("CNI_PATH", self.cni_path())
            .env_remove("CNI_ARGS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::system(format!("running CNI plugin {kind}: {e}")))?;
        let input = serde_json::to_vec(conf)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A plugin that fails early may not read its input.
            let _ = stdin.write_all(&input).await;
        }
        let out = tokio::time::timeout(PLUGIN_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| Error::system(format!("CNI plugin {kind} {command} timed out")))?
            .map_err(|e| Error::system(format!("CNI plugin {kind}: {e}")))?;
        if !out.status.success() {
            return Err(Error::system(format!(
                "CNI plugin {kind} {command} failed: {}",
                error_text(&out.stdout, &out.stderr)
            )));
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::system(format!(
                "CNI plugin {kind} {command}: unreadable result: {e}"
            ))
        })
    }

    /// ADD of a conflist: the final result.
    pub async fn add_list(&self, list: &Value, t: Target<'_>, runtime: &Value) -> Result<Value> {
        let mut prev: Option<Value> = None;
        for p in plugins_of(list) {
            let conf = plugin_conf(list, p, runtime, prev.as_ref());
            let res = self.exec("ADD", t, &conf).await?;
            if !res.is_null() {
                prev = Some(res);
            }
        }
        prev.ok_or_else(|| Error::system("CNI plugins returned no result"))
    }

    /// DEL of a conflist, every plugin even after a failure; the first error.
    pub async fn del_list(
        &self,
        list: &Value,
        t: Target<'_>,
        runtime: &Value,
        prev: Option<&Value>,
    ) -> Result<()> {
        let mut first_err = None;
        for p in plugins_of(list).iter().rev() {
            let conf = plugin_conf(list, p, runtime, prev);
            if let Err(e) = self.exec("DEL", t, &conf).await {
                tracing::warn!(id = t.container_id, error = %e, "CNI DEL");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

fn plugins_of(list: &Value) -> Vec<&Value> {
    list["plugins"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// One plugin's stdin: its own config with the list's name and version,
/// the runtime config for the capabilities it declares, and the previous
/// result.
fn plugin_conf(list: &Value, plugin: &Value, runtime: &Value, prev: Option<&Value>) -> Value {
    let mut conf = plugin.clone();
    let Some(obj) = conf.as_object_mut() else {
        return conf;
    };
    obj.insert("name".into(), list["name"].clone());
    obj.insert("cniVersion".into(), list["cniVersion"].clone());
    let mut rc = serde_json::Map::new();
    if let (Some(caps), Some(rt)) = (plugin["capabilities"].as_object(), runtime.as_object()) {
        for (cap, on) in caps {
            if on.as_bool() == Some(true) {
                if let Some(v) = rt.get(cap) {
                    rc.insert(cap.clone(), v.clone());
                }
            }
        }
    }
    if !rc.is_empty() {
        obj.insert("runtimeConfig".into(), Value::Object(rc));
    }
    if let Some(p) = prev {
        obj.insert("prevResult".into(), p.clone());
    }
    conf
}

/// The plugin's error (`{"code", "msg", "details"}` on stdout), else stderr.
fn error_text(stdout: &[u8], stderr: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(stdout) {
        if let Some(msg) = v["msg"].as_str() {
            return match v["details"].as_str() {
                Some(d) if !d.is_empty() => format!("{msg}: {d}"),
                _ => msg.to_string(),
            };
        }
    }
    let text = String::from_utf8_lossy(if stderr.is_empty() { stdout } else { stderr });
    text.trim().to_string()
}

/// The address a result gives the container's interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assigned {
    pub ip: String,
    pub prefix_len: u8,
    pub gateway: String,
    pub mac: String,
}

/// Reads the container's IPv4 address, gateway and MAC out of a result.
pub fn assigned(result: &Value, ifname: &str) -> Result<Assigned> {
    let ifaces = result["interfaces"].as_array().cloned().unwrap_or_default();
    let ips = result["ips"].as_array().cloned().unwrap_or_default();
    for ip in &ips {
        let Some(addr) = ip["address"].as_str() else {
            continue;
        };
        let Some((a, len)) = addr.split_once('/') else {
            continue;
        };
        if a.parse::<std::net::Ipv4Addr>().is_err() {
            continue;
        }
        let mac = ip["interface"]
            .as_u64()
            .and_then(|i| ifaces.get(i as usize))
            .or_else(|| ifaces.iter().find(|i| i["name"] == ifname))
            .and_then(|i| i["mac"].as_str())
            .unwrap_or_default();
        return Ok(Assigned {
            ip: a.to_string(),
            prefix_len: len.parse().unwrap_or(0),
            gateway: ip["gateway"].as_str().unwrap_or_default().to_string(),
            mac: mac.to_string(),
        });
    }
    Err(Error::system(format!(
        "CNI result has no IPv4 address: {result}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RESULT: &str = r#"{"cniVersion":"1.0.0","interfaces":[{"name":"pouch0","mac":"ba:9a:16:de:18:2a"},{"name":"veth5064db0b","mac":"8a:8b:0b:18:9d:ac"},{"name":"eth0","mac":"7e:97:ee:33:40:c2","sandbox":"/run/netns/x"}],"ips":[{"interface":2,"address":"10.250.7.2/24","gateway":"10.250.7.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#;

    #[test]
    fn reads_the_address_of_a_bridge_result() {
        let r: Value = serde_json::from_str(RESULT).unwrap();
        let a = assigned(&r, "eth0").unwrap();
        assert_eq!(
            a,
            Assigned {
                ip: "10.250.7.2".into(),
                prefix_len: 24,
                gateway: "10.250.7.1".into(),
                mac: "7e:97:ee:33:40:c2".into()
            }
        );
        assert!(assigned(&json!({"ips": []}), "eth0").is_err());
    }

    #[test]
    fn plugin_conf_gets_name_version_capabilities_and_prev_result() {
        let list = json!({"cniVersion": "1.0.0", "name": "n", "plugins": [
            {"type": "bridge"},
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]});
        let rt = json!({"portMappings": [{"hostPort": 1, "containerPort": 2, "protocol": "tcp"}]});
        let prev = json!({"ips": []});
        let ps = plugins_of(&list);
        let c = plugin_conf(&list, ps[0], &rt, None);
        assert_eq!(
            c,
            json!({"type": "bridge", "name": "n", "cniVersion": "1.0.0"})
        );
        let c = plugin_conf(&list, ps[1], &rt, Some(&prev));
        assert_eq!(c["runtimeConfig"]["portMappings"][0]["hostPort"], 1);
        assert_eq!(c["prevResult"], prev);
    }

    #[test]
    fn plugin_errors_are_reported() {
        assert_eq!(
            error_text(br#"{"code":7,"msg":"bad","details":"why"}"#, b""),
            "bad: why"
        );
        assert_eq!(error_text(b"", b"boom\n"), "boom");
    }

    /// `/bin/false` and `/bin/true` stand in for plugins.
    #[tokio::test]
    async fn runs_executables_with_the_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write(
            "echo",
            "#!/bin/sh\nread -r conf\necho \"{\\\"cmd\\\":\\\"$CNI_COMMAND\\\",\\\"if\\\":\\\"$CNI_IFNAME\\\"}\"\n",
        );
        write(
            "fail",
            "#!/bin/sh\necho '{\"code\":11,\"msg\":\"nope\"}'\nexit 1\n",
        );
        let p = Plugins::new(&dir.path().to_string_lossy());
        let t = Target {
            container_id: "c1",
            netns: Path::new("/nonexistent"),
            ifname: "eth0",
        };
        let out = p.exec("ADD", t, &json!({"type": "echo"})).await.unwrap();
        assert_eq!(out, json!({"cmd": "ADD", "if": "eth0"}));
        let e = p
            .exec("ADD", t, &json!({"type": "fail"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        let e = p
            .exec("ADD", t, &json!({"type": "missing"}))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
    }
}
