//! CRI containers: pouchd containers in a pod's network namespace, their
//! CRI metadata kept in labels.

use super::Cri;
use crate::error::{Error, Result};
use crate::mgr::container::{ContainerMeta, OutputChunk, Status, StreamKind};
use pouch_api::container::{Config, HostConfig};
use pouch_api::exec::ExecConfig;
use pouch_cri::v1;
use std::collections::HashMap;
use std::time::Duration;

const SANDBOX: &str = "io.pouch.cri.sandbox-id";
const NAME: &str = "io.pouch.cri.container-name";
const ATTEMPT: &str = "io.pouch.cri.container-attempt";
const LABELS: &str = "io.pouch.cri.labels";
const ANNOTATIONS: &str = "io.pouch.cri.annotations";
const LOG_PATH: &str = "io.pouch.cri.log-path";
const IMAGE: &str = "io.pouch.cri.image";

fn ns(t: Option<chrono::DateTime<chrono::Utc>>) -> i64 {
    t.and_then(|t| t.timestamp_nanos_opt()).unwrap_or_default()
}

fn json_map(m: &ContainerMeta, key: &str) -> HashMap<String, String> {
    m.config
        .labels
        .get(key)
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

fn state_of(m: &ContainerMeta) -> v1::ContainerState {
    match m.state.status {
        Status::Created => v1::ContainerState::ContainerCreated,
        Status::Running | Status::Paused | Status::Restarting => {
            v1::ContainerState::ContainerRunning
        }
        Status::Exited | Status::Dead => v1::ContainerState::ContainerExited,
        _ => v1::ContainerState::ContainerUnknown,
    }
}

fn metadata(m: &ContainerMeta) -> v1::ContainerMetadata {
    v1::ContainerMetadata {
        name: m.config.labels.get(NAME).cloned().unwrap_or_default(),
        attempt: m
            .config
            .labels
            .get(ATTEMPT)
            .and_then(|a| a.parse().ok())
            .unwrap_or_default(),
    }
}

/// `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, as dockershim named
/// them: readable in `docker ps`.
fn container_name(c: &v1::ContainerMetadata, pod: &super::pods::Pod) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!(
        "k8s_{}_{}_{}_{}_{}",
        clean(&c.name),
        clean(&pod.name),
        clean(&pod.namespace),
        clean(&pod.uid),
        c.attempt
    )
}

impl Cri {
    /// A CRI container's pouchd ID (by ID or unique prefix).
    pub(super) fn cri_container(&self, id: &str) -> Result<String> {
        let c = self.containers.get(id)?;
        if !c.meta().config.labels.contains_key(SANDBOX) {
            return Err(Error::not_found(format!("container {id} not found")));
        }
        Ok(c.id.clone())
    }

    /// The containers of pod `pod`.
    pub(super) fn pod_containers(&self, pod: &str) -> Vec<ContainerMeta> {
        self.containers
            .all()
            .into_iter()
            .map(|c| c.meta())
            .filter(|m| m.config.labels.get(SANDBOX).map(String::as_str) == Some(pod))
            .collect()
    }

    pub(super) async fn create(&self, req: v1::CreateContainerRequest) -> Result<String> {
        let pod = self.pods.get(&req.pod_sandbox_id)?;
        if !pod.ready {
            return Err(Error::conflict(format!(
                "pod sandbox {} is not ready",
                pod.id
            )));
        }
        let cfg = req
            .config
            .ok_or_else(|| Error::invalid("container config is required"))?;
        let md = cfg.metadata.clone().unwrap_or_default();
        if md.name.is_empty() {
            return Err(Error::invalid(
                "container config must include metadata with a name",
            ));
        }
        let image = cfg.image.clone().map(|i| i.image).unwrap_or_default();
        if image.is_empty() {
            return Err(Error::invalid("container config must name an image"));
        }
        let mut labels = HashMap::from([
            (SANDBOX.to_string(), pod.id.clone()),
            (NAME.to_string(), md.name.clone()),
            (ATTEMPT.to_string(), md.attempt.to_string()),
            (LABELS.to_string(), serde_json::to_string(&cfg.labels)?),
            (
                ANNOTATIONS.to_string(),
                serde_json::to_string(&cfg.annotations)?,
            ),
            (IMAGE.to_string(), image.clone()),
        ]);
        if !cfg.log_path.is_empty() && !pod.log_directory.is_empty() {
            let p = std::path::Path::new(&pod.log_directory).join(&cfg.log_path);
            labels.insert(LOG_PATH.to_string(), p.to_string_lossy().into_owned());
        }
        let linux = cfg.linux.clone().unwrap_or_default();
        let sec = linux.security_context.clone().unwrap_or_default();
        let res = linux.resources.clone().unwrap_or_default();
        let user = if !sec.run_as_username.is_empty() {
            sec.run_as_username.clone()
        } else {
            match (&sec.run_as_user, &sec.run_as_group) {
                (Some(u), Some(g)) => format!("{}:{}", u.value, g.value),
                (Some(u), None) => u.value.to_string(),
                _ => String::new(),
            }
        };
        let config = Config {
            image,
            hostname: pod.hostname.clone(),
            entrypoint: (!cfg.command.is_empty()).then(|| cfg.command.clone()),
            cmd: (!cfg.args.is_empty()).then(|| cfg.args.clone()),
            env: cfg
                .envs
                .iter()
                .map(|kv| format!("{}={}", kv.key, String::from_utf8_lossy(&kv.value)))
                .collect(),
            working_dir: cfg.working_dir.clone(),
            tty: cfg.tty,
            open_stdin: cfg.stdin,
            stdin_once: cfg.stdin_once,
            attach_stdin: cfg.stdin,
            user,
            labels,
            ..Default::default()
        };
        let caps = sec.capabilities.clone().unwrap_or_default();
        let host_config = HostConfig {
            binds: cfg
                .mounts
                .iter()
                .filter(|m| !m.host_path.is_empty() && !m.container_path.is_empty())
                .map(|m| {
                    let ro = if m.readonly { ":ro" } else { "" };
                    format!("{}:{}{ro}", m.host_path, m.container_path)
                })
                .collect(),
            privileged: sec.privileged,
            readonly_rootfs: sec.readonly_rootfs,
            cap_add: caps.add_capabilities,
            cap_drop: caps.drop_capabilities,
            cpu_shares: res.cpu_shares,
            cpu_period: res.cpu_period,
            cpu_quota: res.cpu_quota,
            memory: res.memory_limit_in_bytes,
            cpuset_cpus: res.cpuset_cpus.clone(),
            cpuset_mems: res.cpuset_mems.clone(),
            dns: pod.dns_servers.clone(),
            dns_search: pod.dns_searches.clone(),
            dns_options: pod.dns_options.clone(),
            ..Default::default()
        };
        let name = container_name(&md, &pod);
        let log_path = config.labels.get(LOG_PATH).cloned();
        let created = self
            .containers
            .create_in_pod(
                Some(&name),
                config,
                host_config,
                pod.netns(),
                log_path.as_deref(),
            )
            .await?;
        Ok(created.id)
    }

    fn summary(&self, m: &ContainerMeta) -> v1::Container {
        let image = m.config.labels.get(IMAGE).cloned().unwrap_or_default();
        v1::Container {
            id: m.id.clone(),
            pod_sandbox_id: m.config.labels.get(SANDBOX).cloned().unwrap_or_default(),
            metadata: Some(metadata(m)),
            image: Some(v1::ImageSpec {
                image,
                ..Default::default()
            }),
            image_ref: m.image_id.clone(),
            state: state_of(m) as i32,
            created_at: ns(Some(m.created)),
            labels: json_map(m, LABELS),
            annotations: json_map(m, ANNOTATIONS),
            image_id: m.image_id.clone(),
        }
    }

    pub(super) fn list(&self, f: &v1::ContainerFilter) -> Vec<v1::Container> {
        self.containers
            .all()
            .into_iter()
            .map(|c| c.meta())
            .filter(|m| m.config.labels.contains_key(SANDBOX))
            .filter(|m| f.id.is_empty() || m.id.starts_with(&f.id))
            .filter(|m| {
                f.pod_sandbox_id.is_empty()
                    || m.config
                        .labels
                        .get(SANDBOX)
                        .is_some_and(|p| p.starts_with(&f.pod_sandbox_id))
            })
            .filter(|m| {
                f.state
                    .as_ref()
                    .is_none_or(|s| s.state == state_of(m) as i32)
            })
            .filter(|m| {
                let labels = json_map(m, LABELS);
                f.label_selector
                    .iter()
                    .all(|(k, v)| labels.get(k) == Some(v))
            })
            .map(|m| self.summary(&m))
            .collect()
    }

    pub(super) fn container_status_of(&self, id: &str) -> Result<v1::ContainerStatus> {
        let id = self.cri_container(id)?;
        let m = self.containers.get(&id)?.meta();
        let s = self.summary(&m);
        let state = state_of(&m);
        let reason = match state {
            v1::ContainerState::ContainerExited if m.state.oom_killed => "OOMKilled",
            v1::ContainerState::ContainerExited if m.state.exit_code == 0 => "Completed",
            v1::ContainerState::ContainerExited => "Error",
            _ => "",
        };
        Ok(v1::ContainerStatus {
            id: m.id.clone(),
            metadata: s.metadata,
            state: s.state,
            created_at: s.created_at,
            started_at: ns(m.state.started_at),
            finished_at: if state == v1::ContainerState::ContainerExited {
                ns(m.state.finished_at)
            } else {
                0
            },
            exit_code: m.state.exit_code as i32,
            image: s.image,
            image_ref: m.image_id.clone(),
            reason: reason.into(),
            message: m.state.error.clone(),
            labels: s.labels,
            annotations: s.annotations,
            mounts: m
                .host_config
                .binds
                .iter()
                .filter_map(|b| crate::mgr::container::parse_bind(b).ok())
                .map(|b| v1::Mount {
                    container_path: b.destination,
                    host_path: b.source,
                    readonly: b.read_only,
                    ..Default::default()
                })
                .collect(),
            log_path: m.config.labels.get(LOG_PATH).cloned().unwrap_or_default(),
            image_id: m.image_id.clone(),
            ..Default::default()
        })
    }

    /// ExecSync: runs `cmd`, collects its output until it exits or the
    /// timeout (seconds; 0: none) passes.
    pub(super) async fn exec_sync_of(
        &self,
        req: v1::ExecSyncRequest,
    ) -> Result<v1::ExecSyncResponse> {
        let id = self.cri_container(&req.container_id)?;
        if req.cmd.is_empty() {
            return Err(Error::invalid("exec needs a command"));
        }
        let exec = self.containers.exec_create(
            &id,
            ExecConfig {
                cmd: Some(req.cmd.clone()),
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
        )?;
        let mut streams = self.containers.exec_attach(&exec)?;
        self.containers.exec_start(&exec, None).await?;
        let mut out = v1::ExecSyncResponse::default();
        let collect = async {
            while let Some(chunk) = streams.output.recv().await {
                match chunk {
                    OutputChunk::Data(StreamKind::Stderr, b) => out.stderr.extend_from_slice(&b),
                    OutputChunk::Data(_, b) => out.stdout.extend_from_slice(&b),
                    OutputChunk::End => break,
                }
            }
            if let Some(mut exited) = streams.exited.take() {
                let _ = exited.wait_for(|e| *e).await;
            }
        };
        if req.timeout > 0 {
            tokio::time::timeout(Duration::from_secs(req.timeout as u64), collect)
                .await
                .map_err(|_| {
                    Error::system(format!(
                        "command {:?} timed out after {}s",
                        req.cmd, req.timeout
                    ))
                })?;
        } else {
            collect.await;
        }
        let inspect = self.containers.exec_inspect(&exec)?;
        out.exit_code = inspect.exit_code.unwrap_or(-1) as i32;
        Ok(out)
    }
}

impl Cri {
    /// ContainerStats of one container: CPU and memory from its cgroup (a
    /// stopped container has none), the writable layer's size.
    pub(super) async fn stats_of(&self, id: &str) -> Result<v1::ContainerStats> {
        let id = self.cri_container(id)?;
        let m = self.containers.get(&id)?.meta();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let mut out = v1::ContainerStats {
            attributes: Some(v1::ContainerAttributes {
                id: m.id.clone(),
                metadata: Some(metadata(&m)),
                labels: json_map(&m, LABELS),
                annotations: json_map(&m, ANNOTATIONS),
            }),
            ..Default::default()
        };
        let value = |v: u64| Some(v1::UInt64Value { value: v });
        if m.state.status.is_alive() {
            if let Ok(s) = self.containers.stats(&id, None) {
                out.cpu = Some(v1::CpuUsage {
                    timestamp: now,
                    usage_core_nano_seconds: value(s.cpu_stats.cpu_usage.total_usage),
                    ..Default::default()
                });
                let inactive = ["total_inactive_file", "inactive_file"]
                    .iter()
                    .find_map(|k| s.memory_stats.stats.get(*k))
                    .copied()
                    .unwrap_or(0);
                out.memory = Some(v1::MemoryUsage {
                    timestamp: now,
                    working_set_bytes: value(s.memory_stats.usage.saturating_sub(inactive)),
                    usage_bytes: value(s.memory_stats.usage),
                    rss_bytes: value(
                        ["total_rss", "rss", "anon"]
                            .iter()
                            .find_map(|k| s.memory_stats.stats.get(*k))
                            .copied()
                            .unwrap_or(0),
                    ),
                    ..Default::default()
                });
            }
        }
        let (rw, _) = self.containers.sizes(&m).await;
        out.writable_layer = Some(v1::FilesystemUsage {
            timestamp: now,
            fs_id: Some(v1::FilesystemIdentifier {
                mountpoint: self.image_fs.to_string_lossy().into_owned(),
            }),
            used_bytes: value(rw.unwrap_or(0).max(0) as u64),
            inodes_used: value(0),
        });
        Ok(out)
    }
}
