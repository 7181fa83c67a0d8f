//! The instructions after FROM: RUN (a container run and committed), and
//! those that change only the image config. COPY and ADD are in
//! [`super::copy`].

use super::dockerfile::{self, Args, Instruction};
use super::{Run, Stage};
use crate::error::{Error, Result};
use crate::mgr::container::LogsOptions;
use crate::mgr::container::WaitCondition;
use crate::mgr::image::CommitRequest;
use pouch_api::container::{Config, HealthConfig, HostConfig};
use pouch_api::de::EmptyObject;
use pouch_api::JsonMessage;

fn text_of(ins: &Instruction) -> String {
    match &ins.args {
        Args::Text(t) => t.clone(),
        Args::Json(v) => v.join(" "),
    }
}

/// `KEY=value` set in an env list, replacing an earlier value.
fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
    env.push(format!("{key}={value}"));
}

/// Go durations as HEALTHCHECK takes them (`30s`, `1m30s`, `500ms`), in ns.
fn duration(s: &str) -> Result<i64> {
    crate::mgr::image::changes::duration_ns(s).map_err(Error::invalid)
}

/// A command in exec (JSON) or shell form.
fn command(ins: &Instruction, shell: &[String]) -> Vec<String> {
    match &ins.args {
        Args::Json(v) => v.clone(),
        Args::Text(t) => {
            let mut c = shell.to_vec();
            c.push(t.clone());
            c
        }
    }
}

/// A path relative to the working directory made absolute.
pub(super) fn abs(path: &str, workdir: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        let base = if workdir.is_empty() { "/" } else { workdir };
        format!("{}/{path}", base.trim_end_matches('/'))
    }
}

impl Run<'_> {
    /// Runs one instruction; the new image, if it made one.
    pub(super) async fn step(
        &mut self,
        s: &mut Stage,
        ins: &Instruction,
    ) -> Result<Option<String>> {
        let vars = s.vars();
        let text = text_of(ins);
        let nop = format!("/bin/sh -c #(nop) {} {}", ins.cmd, ins.original);
        match ins.cmd.as_str() {
            "RUN" => return self.run(s, ins).await.map(Some),
            "COPY" | "ADD" => return self.copy(s, ins).await.map(Some),
            "ARG" => {
                for (k, v) in self.arg_values(ins, &vars)? {
                    s.args.insert(k, v);
                }
                return Ok(None);
            }
            "ENV" => {
                for (k, v) in dockerfile::key_values(&text, &vars, true).map_err(Error::invalid)? {
                    set_env(&mut s.config.env, &k, &v);
                }
            }
            "LABEL" => {
                for (k, v) in dockerfile::key_values(&text, &vars, false).map_err(Error::invalid)? {
                    s.config.labels.insert(k, v);
                }
            }
            "MAINTAINER" => {}
            "EXPOSE" => {
                for p in dockerfile::words(&text, &vars).map_err(Error::invalid)? {
                    let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                    let proto = proto.to_ascii_lowercase();
                    let (lo, hi) = port.split_once('-').unwrap_or((port, port));
                    let (lo, hi): (u16, u16) = match (lo.parse(), hi.parse()) {
                        (Ok(a), Ok(b)) if a <= b => (a, b),
                        _ => return Err(Error::invalid(format!("invalid port {p}"))),
                    };
                    for n in lo..=hi {
                        s.config
                            .exposed_ports
                            .insert(format!("{n}/{proto}"), EmptyObject {});
                    }
                }
            }
            "CMD" => {
                s.config.cmd = Some(command(ins, &s.shell()));
                s.cmd_set = true;
            }
            "ENTRYPOINT" => {
                s.config.entrypoint = Some(command(ins, &s.shell()));
                if !s.cmd_set {
                    s.config.cmd = None;
                }
            }
            "SHELL" => match &ins.args {
                Args::Json(v) if !v.is_empty() => s.config.shell = Some(v.clone()),
                _ => {
                    return Err(Error::invalid(
                        "SHELL requires the arguments to be in JSON form",
                    ))
                }
            },
            "USER" => {
                s.config.user = dockerfile::expand(text.trim(), &vars).map_err(Error::invalid)?
            }
            "STOPSIGNAL" => {
                s.config.stop_signal =
                    dockerfile::expand(text.trim(), &vars).map_err(Error::invalid)?
            }
            "VOLUME" => {
                let vols = match &ins.args {
                    Args::Json(v) => v.clone(),
                    Args::Text(t) => dockerfile::words(t, &vars).map_err(Error::invalid)?,
                };
                for v in vols {
                    if v.trim().is_empty() {
                        return Err(Error::invalid(
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    s.config.volumes.insert(v, EmptyObject {});
                }
            }
            "WORKDIR" => {
                let dir = dockerfile::expand(text.trim(), &vars).map_err(Error::invalid)?;
                s.config.working_dir = abs(&dir, &s.config.working_dir);
                return self.workdir(s, &nop).await.map(Some);
            }
            "ONBUILD" => {
                s.config.on_build.push(text.clone());
            }
            "HEALTHCHECK" => s.config.healthcheck = Some(self.healthcheck(ins)?),
            other => {
                return Err(Error::invalid(format!("unsupported instruction {other}")));
            }
        }
        let id = self
            .b
            .images
            .derive(s.image.as_deref(), s.config.clone(), &nop)
            .await?;
        Ok(Some(id))
    }

    fn healthcheck(&self, ins: &Instruction) -> Result<HealthConfig> {
        let text = text_of(ins);
        let mut h = HealthConfig::default();
        if text.trim().eq_ignore_ascii_case("none") {
            h.test = vec!["NONE".into()];
            return Ok(h);
        }
        for (k, v) in &ins.flags {
            match k.as_str() {
                "interval" => h.interval = duration(v)?,
                "timeout" => h.timeout = duration(v)?,
                "start-period" => h.start_period = duration(v)?,
                "retries" => {
                    h.retries = v
                        .parse()
                        .map_err(|_| Error::invalid(format!("invalid retries {v}")))?
                }
                other => return Err(Error::invalid(format!("unknown flag: --{other}"))),
            }
        }
        let rest = ins.original.trim();
        let Some(cmd) = rest
            .get(..3)
            .filter(|k| k.eq_ignore_ascii_case("cmd"))
            .map(|_| rest[3..].trim())
        else {
            return Err(Error::invalid("HEALTHCHECK requires CMD or NONE"));
        };
        h.test = match serde_json::from_str::<Vec<String>>(cmd) {
            Ok(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
            Err(_) => vec!["CMD-SHELL".to_string(), cmd.to_string()],
        };
        Ok(h)
    }

    /// A container of the stage's current image that never starts: its
    /// layer is written, then committed.
    pub(super) async fn scratch_container(
        &mut self,
        s: &Stage,
        created_by: &str,
    ) -> Result<String> {
        let image = match &s.image {
            Some(i) => i.clone(),
            None => {
                let id = self.b.images.derive(None, s.config.clone(), "").await?;
                self.intermediate.push(id.clone());
                id
            }
        };
        let cfg = Config {
            image,
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), created_by.into()]),
            entrypoint: Some(Vec::new()),
            env: s.config.env.clone(),
            user: s.config.user.clone(),
            working_dir: String::new(),
            ..Default::default()
        };
        let hc = HostConfig {
            network_mode: "none".into(),
            ..Default::default()
        };
        let id = self.b.containers.create(None, cfg, hc).await?.id;
        self.containers.push(id.clone());
        Ok(id)
    }

    pub(super) async fn commit(
        &mut self,
        s: &Stage,
        container: &str,
        created_by: &str,
    ) -> Result<String> {
        let c = self.b.containers.get(container)?.meta();
        let id = self
            .b
            .images
            .commit(CommitRequest {
                container_id: c.id.clone(),
                snapshot_key: c.snapshot_key.clone(),
                image_id: c.image_id.clone(),
                container_config: c.config.clone(),
                config: s.config.clone(),
                exact: true,
                created_by: Some(created_by.to_string()),
                ..Default::default()
            })
            .await?;
        self.remove_container(container).await;
        Ok(id)
    }

    pub(super) async fn remove_container(&mut self, id: &str) {
        if let Err(e) = self.b.containers.remove(id, true, true).await {
            tracing::warn!(id = %id, error = %e, "removing a build container");
            return;
        }
        self.containers.retain(|c| c != id);
    }

    /// WORKDIR: the directory is made when the image lacks it.
    async fn workdir(&mut self, s: &Stage, created_by: &str) -> Result<String> {
        let dir = s.config.working_dir.clone();
        if s.image.is_some() {
            let c = self.scratch_container(s, created_by).await?;
            if self.ensure_dir(&c, &dir).await? {
                return self.commit(s, &c, created_by).await;
            }
            self.remove_container(&c).await;
        }
        self.b
            .images
            .derive(s.image.as_deref(), s.config.clone(), created_by)
            .await
    }

    /// Makes directory `dir` (and its missing parents, 0755) in the
    /// container's layer unless it exists; whether it made it.
    pub(super) async fn ensure_dir(&self, container: &str, dir: &str) -> Result<bool> {
        if self.b.containers.path_stat(container, dir).await.is_ok() {
            return Ok(false);
        }
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        tar.append_data(
            &mut h,
            format!("{}/", dir.trim_matches('/')),
            std::io::empty(),
        )?;
        let data = tar.into_inner()?;
        self.b
            .containers
            .extract_to(container, "/", std::io::Cursor::new(data), false, true)
            .await?;
        Ok(true)
    }

    /// RUN: the command in a container of the current image, its output
    /// streamed, committed when it exits 0.
    async fn run(&mut self, s: &Stage, ins: &Instruction) -> Result<String> {
        let Some(image) = s.image.clone() else {
            return Err(Error::invalid(
                "RUN in a FROM scratch stage has no shell to run",
            ));
        };
        let cmd = command(ins, &s.shell());
        let mut env = s.config.env.clone();
        for (k, v) in &s.args {
            if !env
                .iter()
                .any(|e| e.split_once('=').map(|(ek, _)| ek) == Some(k))
            {
                env.push(format!("{k}={v}"));
            }
        }
        let cfg = Config {
            image,
            cmd: Some(cmd.clone()),
            entrypoint: Some(Vec::new()),
            env,
            user: s.config.user.clone(),
            working_dir: s.config.working_dir.clone(),
            ..Default::default()
        };
        let hc = HostConfig {
            network_mode: if self.opts.network_mode.is_empty() {
                "default".into()
            } else {
                self.opts.network_mode.clone()
            },
            ..Default::default()
        };
        let id = self.b.containers.create(None, cfg, hc).await?.id;
        self.containers.push(id.clone());
        self.say(format!(" ---> Running in {}\n", super::short(&id)))
            .await?;
        let exited = self.b.containers.wait(&id, WaitCondition::NextExit)?;
        self.b.containers.start(&id).await?;
        let (_, mut logs) = self.b.containers.logs(
            &id,
            LogsOptions {
                follow: true,
                stdout: true,
                stderr: true,
                ..Default::default()
            },
        )?;
        while let Some(batch) = logs.recv().await {
            if self.opts.quiet {
                continue;
            }
            for e in batch {
                let text = String::from_utf8_lossy(&e.line).into_owned();
                self.out.send(JsonMessage::stream(text)).await?;
            }
        }
        let code = exited.await?;
        let shown = cmd.join(" ");
        if code != 0 {
            return Err(Error::system(format!(
                "The command '{shown}' returned a non-zero code: {code}"
            )));
        }
        self.say(format!(
            "Removing intermediate container {}\n",
            super::short(&id)
        ))
        .await?;
        // The step's config as history shows it: the command without the
        // build args.
        let s2 = Stage {
            config: s.config.clone(),
            ..Default::default()
        };
        self.commit(&s2, &id, &shown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_paths_and_env() {
        assert_eq!(duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration("500ms").unwrap(), 500_000_000);
        assert!(duration("10").is_err());
        assert!(duration("").is_err());
        assert_eq!(abs("x", "/w"), "/w/x");
        assert_eq!(abs("x", ""), "/x");
        assert_eq!(abs("/y", "/w"), "/y");
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        assert_eq!(env, ["B=2", "A=3"]);
    }
}
