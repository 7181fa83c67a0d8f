//! The instructions after FROM: RUN (a container run and committed),
//! COPY/ADD (files written into a container's layer and committed), and
//! those that change only the image config.

use super::context::{retarget, Target};
use super::dockerfile::{self, Args, Instruction};
use super::{Run, Stage};
use crate::error::{Error, Result};
use crate::mgr::container::LogsOptions;
use crate::mgr::container::WaitCondition;
use crate::mgr::image::CommitRequest;
use pouch_api::container::{Config, HealthConfig, HostConfig};
use pouch_api::de::EmptyObject;
use pouch_api::JsonMessage;
use std::io::{Seek, SeekFrom};

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
    let bad = || Error::invalid(format!("invalid duration {s:?}"));
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    if s.is_empty() {
        return Err(bad());
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let mult = match unit.as_str() {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += v * mult;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total as i64)
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
fn abs(path: &str, workdir: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        let base = if workdir.is_empty() { "/" } else { workdir };
        format!("{}/{path}", base.trim_end_matches('/'))
    }
}

/// `user[:group]` of `--chown` to numbers, names looked up in the image's
/// /etc/passwd and /etc/group.
fn owner_of(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32)> {
    let lookup = |table: &str, name: &str, field: usize| -> Option<u32> {
        table.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| f.get(field)?.parse().ok())?
        })
    };
    let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(passwd, u, 2).ok_or_else(|| {
            Error::invalid(format!(
                "unable to find user {u}: no matching entries in passwd file"
            ))
        })?,
    };
    let gid = if g.is_empty() {
        // The user's own group, as Docker does for `--chown=user`.
        match u.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(passwd, u, 3).unwrap_or(uid),
        }
    } else {
        match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(group, g, 2).ok_or_else(|| {
                Error::invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        }
    };
    Ok((uid, gid))
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
    async fn scratch_container(&mut self, s: &Stage, created_by: &str) -> Result<String> {
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

    async fn commit(&mut self, s: &Stage, container: &str, created_by: &str) -> Result<String> {
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

    async fn remove_container(&mut self, id: &str) {
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
            if self.b.containers.path_stat(&c, &dir).await.is_err() {
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
                    .extract_to(&c, "/", std::io::Cursor::new(data), false, true)
                    .await?;
                return self.commit(s, &c, created_by).await;
            }
            self.remove_container(&c).await;
        }
        self.b
            .images
            .derive(s.image.as_deref(), s.config.clone(), created_by)
            .await
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

    /// COPY and ADD: sources from the context or (`--from`) a stage or
    /// image, into the current image's filesystem.
    async fn copy(&mut self, s: &Stage, ins: &Instruction) -> Result<String> {
        let vars = s.vars();
        let mut parts = match &ins.args {
            Args::Json(v) => v
                .iter()
                .map(|w| dockerfile::expand(w, &vars))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(Error::invalid)?,
            Args::Text(t) => dockerfile::words(t, &vars).map_err(Error::invalid)?,
        };
        if parts.len() < 2 {
            return Err(Error::invalid(format!(
                "{} requires at least two arguments",
                ins.cmd
            )));
        }
        let dest_raw = parts.pop().unwrap_or_default();
        let dest = abs(&dest_raw, &s.config.working_dir);
        let created_by = format!(
            "/bin/sh -c #(nop) {} {} in {dest} ",
            ins.cmd,
            parts.join(" ")
        );
        for (k, _) in &ins.flags {
            if !matches!(k.as_str(), "from" | "chown" | "chmod") {
                return Err(Error::invalid(format!("unknown flag: --{k}")));
            }
        }
        let from = ins.flag("from").map(str::to_string);
        if from.is_some() && ins.cmd == "ADD" {
            return Err(Error::invalid("ADD does not support --from"));
        }
        // The sources: (path, is a directory), from the context or a
        // container of the `--from` image.
        let from_container = match &from {
            None => None,
            Some(f) => Some(self.source_container(f).await?),
        };
        let mut sources: Vec<(String, bool)> = Vec::new();
        for p in &parts {
            if p.contains("://") {
                return Err(Error::invalid(format!(
                    "{} from a URL ({p}) is not supported by pouchd: fetch it in a RUN step",
                    ins.cmd
                )));
            }
            match &from_container {
                None => {
                    for src in self.ctx.sources(p)? {
                        let dir = self.ctx.is_dir(&src)?;
                        sources.push((src, dir));
                    }
                }
                Some(c) => {
                    let st = self.b.containers.path_stat(c, p).await.map_err(|_| {
                        Error::invalid(format!("COPY failed: stat {p}: file does not exist"))
                    })?;
                    sources.push((p.clone(), st.mode & crate::archive::MODE_DIR != 0));
                }
            }
        }
        let target = self.scratch_container(s, &created_by).await?;
        let passwd_group = match ins.flag("chown") {
            Some(spec) if !spec.is_empty() => {
                let read = |path: &'static str| {
                    let containers = self.b.containers.clone();
                    let target = target.clone();
                    async move {
                        let mut tar = Vec::new();
                        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                        let w = SharedBuf(buf.clone());
                        if containers.archive_path(&target, path, w).await.is_ok() {
                            tar = buf.lock().map(|b| b.clone()).unwrap_or_default();
                        }
                        let mut a = tar::Archive::new(&tar[..]);
                        let mut text = String::new();
                        if let Ok(mut es) = a.entries() {
                            if let Some(Ok(mut e)) = es.next() {
                                let _ = std::io::Read::read_to_string(&mut e, &mut text);
                            }
                        }
                        text
                    }
                };
                let passwd = read("/etc/passwd").await;
                let group = read("/etc/group").await;
                Some(owner_of(spec, &passwd, &group)?)
            }
            _ => None,
        };
        let owner = passwd_group.unwrap_or((0, 0));
        let dest_is_dir = dest_raw.ends_with('/')
            || sources.len() > 1
            || self
                .b
                .containers
                .path_stat(&target, &dest)
                .await
                .is_ok_and(|st| st.mode & crate::archive::MODE_DIR != 0);
        for (src, is_dir) in &sources {
            let spool = spool_file(&self.b.tmp)?;
            let mut spool_w = spool.try_clone()?;
            // ADD of a local archive unpacks it into the destination.
            if ins.cmd == "ADD" && !is_dir && self.is_archive(src)? {
                self.ctx.archive(src, &mut spool_w)?;
                let mut file = spool;
                file.seek(SeekFrom::Start(0))?;
                let inner = extract_single(file)?;
                self.ensure_dir(&target, &dest).await?;
                self.b
                    .containers
                    .extract_to(&target, &dest, inner, false, true)
                    .await?;
                continue;
            }
            match &from_container {
                None => self.ctx.archive(src, &mut spool_w)?,
                Some(c) => self.b.containers.archive_path(c, src, spool_w).await?,
            }
            let dest_target = if *is_dir || dest_is_dir {
                Target::Dir(dest.clone())
            } else {
                Target::File(dest.clone())
            };
            let mut file = spool;
            file.seek(SeekFrom::Start(0))?;
            let out = spool_file(&self.b.tmp)?;
            let out_w = out.try_clone()?;
            let t = dest_target.clone();
            tokio::task::spawn_blocking(move || retarget(file, out_w, &t, owner))
                .await
                .map_err(|e| Error::system(format!("copy task: {e}")))??;
            let mut out = out;
            out.seek(SeekFrom::Start(0))?;
            self.b
                .containers
                .extract_to(&target, "/", out, false, true)
                .await?;
        }
        if let Some(c) = from_container {
            self.remove_container(&c).await;
        }
        self.commit(s, &target, &created_by).await
    }

    /// The digest of a COPY/ADD's sources: their tars from the context, or
    /// the `--from` stage's image and the paths.
    pub(super) async fn source_digest(&mut self, s: &Stage, ins: &Instruction) -> Result<String> {
        let vars = s.vars();
        let mut parts = match &ins.args {
            Args::Json(v) => v
                .iter()
                .map(|w| dockerfile::expand(w, &vars))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(Error::invalid)?,
            Args::Text(t) => dockerfile::words(t, &vars).map_err(Error::invalid)?,
        };
        parts.pop();
        let mut h = super::cache::HashWriter::default();
        if let Some(from) = ins.flag("from") {
            let image = match from.parse::<usize>() {
                Ok(i) => self.done.get(i).and_then(|st| st.image.clone()),
                Err(_) => self
                    .done
                    .iter()
                    .find(|st| !st.name.is_empty() && st.name == from.to_ascii_lowercase())
                    .and_then(|st| st.image.clone()),
            };
            let image = match image {
                Some(i) => i,
                None => self
                    .b
                    .images
                    .get(from)
                    .map(|i| i.id.clone())
                    .unwrap_or_else(|_| from.to_string()),
            };
            std::io::Write::write_all(&mut h, image.as_bytes())?;
            for p in &parts {
                std::io::Write::write_all(&mut h, p.as_bytes())?;
            }
        } else {
            for p in &parts {
                if p.contains("://") {
                    std::io::Write::write_all(&mut h, p.as_bytes())?;
                    continue;
                }
                for src in self.ctx.sources(p)? {
                    std::io::Write::write_all(&mut h, src.as_bytes())?;
                    let mut spool = spool_file(&self.b.tmp)?;
                    self.ctx.archive(&src, &mut spool)?;
                    spool.seek(SeekFrom::Start(0))?;
                    digest_tar(spool, &mut h)?;
                }
            }
        }
        Ok(hex::encode(sha2::Digest::finalize(h.0)))
    }

    /// A container of the `--from` stage (by name or index) or image.
    async fn source_container(&mut self, from: &str) -> Result<String> {
        let stage = match from.parse::<usize>() {
            Ok(i) => self.done.get(i).cloned(),
            Err(_) => self
                .done
                .iter()
                .find(|s| !s.name.is_empty() && s.name == from.to_ascii_lowercase())
                .cloned(),
        };
        let stage = match stage {
            Some(st) => st,
            None => {
                let img = match self.b.images.get(from) {
                    Ok(i) => i,
                    Err(_) => {
                        self.pull(from).await?;
                        self.b.images.get(from)?
                    }
                };
                Stage {
                    image: Some(img.id.clone()),
                    config: img.config.config.clone().unwrap_or_default(),
                    ..Default::default()
                }
            }
        };
        self.scratch_container(&stage, "#(nop) COPY --from").await
    }

    /// Whether a context file is a tar archive (plain or gzip).
    fn is_archive(&self, src: &str) -> Result<bool> {
        let mut buf = Vec::new();
        self.ctx.archive(src, &mut buf)?;
        let mut a = tar::Archive::new(&buf[..]);
        let Some(Ok(mut e)) = a.entries()?.next() else {
            return Ok(false);
        };
        let mut head = vec![0u8; 512];
        let n = std::io::Read::read(&mut e, &mut head).unwrap_or(0);
        head.truncate(n);
        if head.starts_with(&[0x1f, 0x8b]) {
            return Ok(true);
        }
        Ok(head.len() >= 262 && &head[257..262] == b"ustar")
    }

    async fn ensure_dir(&self, container: &str, dir: &str) -> Result<()> {
        if self.b.containers.path_stat(container, dir).await.is_ok() {
            return Ok(());
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
            .await
    }
}

/// The one file of a single-entry tar (the ADD source), decompressed when
/// gzip.
fn extract_single(file: std::fs::File) -> Result<Box<dyn std::io::Read + Send>> {
    let mut a = tar::Archive::new(file);
    let mut e = a
        .entries()?
        .next()
        .ok_or_else(|| Error::invalid("empty ADD source"))??;
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut e, &mut data)?;
    if data.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            std::io::Cursor::new(data),
        )))
    } else {
        Ok(Box::new(std::io::Cursor::new(data)))
    }
}

/// Hashes what of a tar a copy keeps: names, types, modes, link targets
/// and contents, not times (a context is extracted afresh by each build).
fn digest_tar(input: std::fs::File, h: &mut super::cache::HashWriter) -> Result<()> {
    use std::io::Write;
    let mut a = tar::Archive::new(input);
    for e in a.entries()? {
        let mut e = e?;
        let hdr = e.header().clone();
        let name = e.path_bytes().into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        h.write_all(&(name.len() as u64).to_le_bytes())?;
        h.write_all(&name)?;
        h.write_all(&[hdr.entry_type().as_byte()])?;
        h.write_all(&hdr.mode().unwrap_or(0).to_le_bytes())?;
        h.write_all(&(link.len() as u64).to_le_bytes())?;
        h.write_all(&link)?;
        h.write_all(&hdr.size().unwrap_or(0).to_le_bytes())?;
        std::io::copy(&mut e, h)?;
    }
    Ok(())
}

/// An unnamed file in `dir` for spooling a copy (gone when closed).
fn spool_file(dir: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("spool-{}", hex::encode(rand::random::<[u8; 8]>())));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

/// A blocking writer into a shared buffer.
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("buffer poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_owners() {
        assert_eq!(duration("30s").unwrap(), 30_000_000_000);
        assert_eq!(duration("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration("500ms").unwrap(), 500_000_000);
        assert!(duration("10").is_err());
        assert!(duration("").is_err());
        let passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(owner_of("1:2", passwd, group).unwrap(), (1, 2));
        assert_eq!(owner_of("app", passwd, group).unwrap(), (1000, 1001));
        assert_eq!(owner_of("app:staff", passwd, group).unwrap(), (1000, 50));
        assert!(owner_of("nobody", passwd, group).is_err());
        assert!(owner_of("app:nogroup", passwd, group).is_err());
        assert_eq!(abs("x", "/w"), "/w/x");
        assert_eq!(abs("x", ""), "/x");
        assert_eq!(abs("/y", "/w"), "/y");
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        assert_eq!(env, ["B=2", "A=3"]);
    }
}
