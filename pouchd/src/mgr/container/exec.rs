//! `docker exec`: extra processes in a running container.

use super::attach::AttachStreams;
use super::io::{self, ContainerIo};
use super::spec::{self, ProcessOpts};
use super::state::Status;
use super::ContainerMgr;
use crate::ctrd::ExitInfo;
use crate::error::{Error, Result};
use pouch_api::exec::{ExecConfig, ExecInspect, ExecProcessConfig};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const EXEC_RETENTION: std::time::Duration = std::time::Duration::from_secs(300);

/// Where an exec process is in its life.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecState {
    pub started: bool,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub pid: u32,
}

/// Exec instances by ID (std lock: map operations only).
pub type ExecStore = std::sync::RwLock<std::collections::HashMap<String, Arc<Exec>>>;

/// One exec instance.
pub struct Exec {
    pub id: String,
    pub container_id: String,
    pub config: ExecConfig,
    io: Arc<ContainerIo>,
    // std lock: short updates only, never held across an await.
    state: Mutex<ExecState>,
    done: watch::Sender<bool>,
}

impl Exec {
    pub fn state(&self) -> ExecState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn update(&self, f: impl FnOnce(&mut ExecState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl ContainerMgr {
    pub fn exec_get(&self, id: &str) -> Result<Arc<Exec>> {
        let execs = self.execs.read().unwrap_or_else(|p| p.into_inner());
        execs
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    /// IDs of the container's exec instances.
    pub fn exec_ids(&self, container_id: &str) -> Vec<String> {
        let execs = self.execs.read().unwrap_or_else(|p| p.into_inner());
        execs
            .values()
            .filter(|e| e.container_id == container_id)
            .map(|e| e.id.clone())
            .collect()
    }

    pub(super) fn exec_forget_container(&self, container_id: &str) {
        let mut execs = self.execs.write().unwrap_or_else(|p| p.into_inner());
        execs.retain(|_, e| e.container_id != container_id);
    }

    pub fn exec_create(&self, reference: &str, config: ExecConfig) -> Result<String> {
        let c = self.get(reference)?;
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::invalid("No exec command specified"));
        }
        match c.meta().state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    c.id
                )))
            }
            _ => return Err(Self::not_running(&c.id)),
        }
        let id = hex::encode(rand::random::<[u8; 32]>());
        let (done, _) = watch::channel(false);
        let exec = Arc::new(Exec {
            id: id.clone(),
            container_id: c.id.clone(),
            io: Arc::new(ContainerIo::new()),
            config,
            state: Mutex::new(ExecState::default()),
            done,
        });
        let cmd = exec.config.cmd.clone().unwrap_or_default().join(" ");
        self.execs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), exec);
        self.emit(
            &c.meta(),
            &format!("exec_create: {cmd}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    /// Subscribes to the exec's output; call before [`ContainerMgr::exec_start`].
    pub fn exec_attach(&self, id: &str) -> Result<AttachStreams> {
        let e = self.exec_get(id)?;
        Ok(AttachStreams {
            id: e.container_id.clone(),
            tty: e.config.tty,
            output: e.io.output.subscribe(),
            io: e.io.clone(),
            stdin_once: true,
            open_stdin: e.config.attach_stdin,
            exec_id: e.id.clone(),
            exited: Some(e.done.subscribe()),
        })
    }

    /// Starts the exec's process, with its terminal at `console_size` ([h, w]) when given.
    pub async fn exec_start(&self, id: &str, console_size: Option<[u64; 2]>) -> Result<()> {
        let e = self.exec_get(id)?;
        {
            let mut st = e.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.started {
                return Err(Error::conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            st.started = true;
        }
        let c = self.get(&e.container_id)?;
        let _op = c.op.lock().await;
        let m = c.meta();
        let res = async {
            if m.state.status != Status::Running {
                return Err(Self::not_running(&c.id));
            }
            let user_spec = if e.config.user.is_empty() {
                &m.config.user
            } else {
                &e.config.user
            };
            // The running container's own root, as its processes see it:
            // users added since it started count, and no snapshot lookup
            // is needed (resolve_user refuses symlinks on the way).
            let root = std::path::PathBuf::from(format!("/proc/{}/root", m.state.pid));
            let user = spec::resolve_user(user_spec, &[root])?;
            let cmd = e.config.cmd.clone().unwrap_or_default();
            let process = spec::process(
                &m,
                &user,
                ProcessOpts {
                    args: cmd,
                    extra_env: &e.config.env,
                    cwd: if e.config.working_dir.is_empty() {
                        &m.config.working_dir
                    } else {
                        &e.config.working_dir
                    },
                    tty: e.config.tty,
                    privileged: e.config.privileged || m.host_config.privileged,
                },
            )?;
            let dir = self.cfg.exec_root.join(&c.id).join(format!("exec-{id}"));
            let stdio = io::create_fifos(&dir, e.config.tty, e.config.attach_stdin)?;
            let run = io::open_fifos(&stdio)?;
            // Announced before the process runs: a fast one's exec_die comes
            // from the event stream and must not overtake it.
            let cmd = e.config.cmd.clone().unwrap_or_default().join(" ");
            self.emit(
                &m,
                &format!("exec_start: {cmd}"),
                &[("execID", id.to_string())],
            );
            let pid = match self
                .rt
                .exec(&c.id, id, serde_json::to_vec(&process)?, &stdio)
                .await
            {
                Ok(pid) => pid,
                // A process that exits at once can have its exit handled
                // (and the process reaped) before containerd answers the
                // start, which then finds no process: it did run.
                Err(err) if err.is_not_found() && e.state().exit_code.is_some() => 0,
                Err(err) => return Err(err),
            };
            e.io.start_copying(run, None).await?;
            if let Some([h, w]) = console_size.filter(|[h, w]| e.config.tty && *h > 0 && *w > 0) {
                if let Err(err) = self.rt.resize(&c.id, id, w as u32, h as u32).await {
                    tracing::debug!(exec = %id, error = %err, "initial console size");
                }
            }
            Ok::<u32, Error>(pid)
        }
        .await;
        match res {
            Ok(pid) => {
                e.update(|s| {
                    // A fast process's exit event may already have been handled.
                    s.running = s.exit_code.is_none();
                    s.pid = pid;
                });
                Ok(())
            }
            Err(err) => {
                let msg = err.to_string();
                let code = if msg.contains("executable file not found")
                    || msg.contains("no such file or directory")
                {
                    127
                } else {
                    126
                };
                e.update(|s| s.exit_code = Some(code));
                let _ = e.done.send(true);
                // Attached clients read the failure in the stream, as Docker sends it.
                let line = bytes::Bytes::from(format!("{msg}\r\n"));
                e.io.output
                    .send(io::OutputChunk::Data(io::StreamKind::Stdout, line))
                    .await;
                e.io.output.send(io::OutputChunk::End).await;
                Err(err)
            }
        }
    }

    /// Records the exit of an exec process (from ctrd's event stream).
    pub(super) async fn handle_exec_exit(&self, container_id: &str, exec_id: &str, exit: ExitInfo) {
        let Ok(e) = self.exec_get(exec_id) else {
            return;
        };
        if e.container_id != container_id {
            return;
        }
        // The event carries the status: the client's stream can end (and
        // its inspect read the code) before the process is reaped.
        let code = exit.exit_status;
        e.update(|s| {
            s.running = false;
            s.exit_code = Some(code as i64);
        });
        let _ = e.done.send(true);
        if let Err(err) = self.rt.delete_process(container_id, exec_id).await {
            tracing::debug!(exec = exec_id, error = %err, "cannot delete exited exec process");
        }
        if let Ok(c) = self.get(container_id) {
            self.emit(
                &c.meta(),
                "exec_die",
                &[
                    ("execID", exec_id.to_string()),
                    ("exitCode", code.to_string()),
                ],
            );
        }
        let _ = std::fs::remove_dir_all(
            self.cfg
                .exec_root
                .join(container_id)
                .join(format!("exec-{exec_id}")),
        );
        self.forget_exec_later(exec_id);
    }

    /// Finished exec instances stay inspectable for a while (clients read the
    /// exit code after the stream ends), then go, so that they cannot pile up.
    fn forget_exec_later(&self, exec_id: &str) {
        let execs = Arc::downgrade(&self.execs);
        let id = exec_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(EXEC_RETENTION).await;
            if let Some(execs) = execs.upgrade() {
                execs.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
            }
        });
    }

    pub async fn exec_resize(&self, id: &str, width: u32, height: u32) -> Result<()> {
        let e = self.exec_get(id)?;
        if !e.state().running {
            return Err(Error::conflict(format!("Exec {id} is not running")));
        }
        if !e.config.tty {
            return Ok(());
        }
        self.rt.resize(&e.container_id, id, width, height).await
    }

    pub fn exec_inspect(&self, id: &str) -> Result<ExecInspect> {
        let e = self.exec_get(id)?;
        let st = e.state();
        let mut args = e.config.cmd.clone().unwrap_or_default();
        let entrypoint = if args.is_empty() {
            String::new()
        } else {
            args.remove(0)
        };
        Ok(ExecInspect {
            id: e.id.clone(),
            running: st.running,
            exit_code: st.exit_code,
            process_config: ExecProcessConfig {
                arguments: args,
                entrypoint,
                privileged: e.config.privileged,
                tty: e.config.tty,
                user: e.config.user.clone(),
            },
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            can_remove: false,
            container_id: e.container_id.clone(),
            detach_keys: e.config.detach_keys.clone(),
            pid: st.pid as i64,
        })
    }
}
