//! `docker build` (the classic builder, API 1.41 `POST /build`): a
//! Dockerfile run step by step over the container and image managers. RUN
//! runs a container and commits it; COPY and ADD write a container's layer
//! and commit it; the other instructions derive a new image config. Each
//! step's image is an intermediate image, removed once the build ends (the
//! final image holds every layer); multi-stage builds and `COPY --from`
//! work on the stages' images.
//!
//! This layer sits between the bridge and the managers and calls only down.

pub mod cache;
pub mod context;
mod copy;
pub mod dockerfile;
mod steps;

use crate::error::{Error, Result};
use crate::mgr::container::ContainerMgr;
use crate::mgr::image::registry::Progress;
use crate::mgr::image::ImageMgr;
use context::Context;
use dockerfile::{Args, Instruction};
use pouch_api::container::Config;
use pouch_api::JsonMessage;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// What a build is asked for (the query of `POST /build`).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    /// `t`: names to tag the result with.
    pub tags: Vec<String>,
    /// `buildargs`: a `null` value takes the value from the daemon's
    /// environment in Docker; here it leaves the ARG's default.
    pub build_args: HashMap<String, Option<String>>,
    /// `labels`: added to the final image.
    pub labels: HashMap<String, String>,
    /// Stop after this stage.
    pub target: String,
    /// Only the image ID is printed.
    pub quiet: bool,
    /// Network mode of RUN containers.
    pub network_mode: String,
    /// Pull base images even when present.
    pub pull: bool,
    /// Run every step, using no cached one.
    pub no_cache: bool,
}

/// A build stage under way or done.
#[derive(Debug, Clone, Default)]
struct Stage {
    name: String,
    /// The current image (`None`: `FROM scratch` before any step).
    image: Option<String>,
    config: Config,
    /// ARGs declared in the stage, with their values.
    args: BTreeMap<String, String>,
    /// Whether this stage set CMD (an ENTRYPOINT then keeps it).
    cmd_set: bool,
}

impl Stage {
    fn shell(&self) -> Vec<String> {
        self.config
            .shell
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    /// What variables expand to: the stage's ARGs, overridden by ENV.
    fn vars(&self) -> HashMap<String, String> {
        let mut v: HashMap<String, String> = self
            .args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for e in &self.config.env {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }
}

/// The short ID Docker prints: 12 hex digits.
pub fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Runs builds over the managers.
pub struct Builder {
    pub(crate) containers: Arc<ContainerMgr>,
    pub(crate) images: Arc<ImageMgr>,
    /// Where contexts and copy archives are spooled.
    pub(crate) tmp: PathBuf,
    pub(crate) cache: Arc<cache::BuildCache>,
}

/// One build under way.
struct Run<'a> {
    b: &'a Builder,
    opts: &'a BuildOptions,
    out: &'a Progress,
    ctx: &'a Context,
    /// Images made by steps, removed at the end (but the result).
    intermediate: Vec<String>,
    /// Containers made by steps, removed at the end at the latest.
    containers: Vec<String>,
    done: Vec<Stage>,
    /// ARGs before the first FROM.
    meta_args: BTreeMap<String, String>,
}

impl Builder {
    pub fn new(
        containers: Arc<ContainerMgr>,
        images: Arc<ImageMgr>,
        tmp: PathBuf,
        cache: Arc<cache::BuildCache>,
    ) -> Self {
        Builder {
            containers,
            images,
            tmp,
            cache,
        }
    }

    /// Spools and extracts the context tar read from `input`. Blocking.
    pub fn context<R: std::io::Read + 'static>(&self, input: R) -> Result<Context> {
        let dir = self
            .tmp
            .join(format!("build-{}", hex::encode(rand::random::<[u8; 8]>())));
        Context::extract(input, dir)
    }

    /// Builds; returns the image ID. Progress goes to `out` as Docker's
    /// classic builder words it.
    pub async fn build(
        &self,
        ctx: &Context,
        opts: &BuildOptions,
        out: &Progress,
    ) -> Result<String> {
        let name = if opts.dockerfile.is_empty() {
            "Dockerfile"
        } else {
            opts.dockerfile.as_str()
        };
        let text = ctx.dockerfile(name)?;
        let instructions = dockerfile::parse(&text).map_err(Error::invalid)?;
        if !instructions.iter().any(|i| i.cmd == "FROM") {
            return Err(Error::invalid(
                "dockerfile parse error: no build stage in the Dockerfile (FROM is missing)",
            ));
        }
        let mut run = Run {
            b: self,
            opts,
            out,
            ctx,
            intermediate: Vec::new(),
            containers: Vec::new(),
            done: Vec::new(),
            meta_args: BTreeMap::new(),
        };
        let result = run.all(&instructions).await;
        run.cleanup(result.as_ref().ok()).await;
        let id = result?;
        if opts.quiet {
            out.send(JsonMessage::stream(format!("{id}\n"))).await?;
        }
        Ok(id)
    }
}

impl Run<'_> {
    async fn say(&self, text: impl Into<String>) -> Result<()> {
        if self.opts.quiet {
            return Ok(());
        }
        self.out.send(JsonMessage::stream(text)).await
    }

    async fn all(&mut self, instructions: &[Instruction]) -> Result<String> {
        let total = instructions.len();
        let mut stage: Option<Stage> = None;
        for (n, ins) in instructions.iter().enumerate() {
            let shown = match &ins.args {
                Args::Json(v) => serde_json::to_string(v).unwrap_or_default(),
                Args::Text(_) => ins.original.clone(),
            };
            let flags: String = ins
                .flags
                .iter()
                .map(|(k, v)| format!("--{k}={v} "))
                .collect();
            self.say(format!(
                "Step {}/{total} : {} {flags}{shown}\n",
                n + 1,
                ins.cmd
            ))
            .await?;
            if ins.cmd == "FROM" {
                if let Some(s) = stage.take() {
                    if !self.opts.target.is_empty() && s.name == self.opts.target {
                        return self.finish(s).await;
                    }
                    self.done.push(s);
                }
                let s = self.from(ins).await?;
                if let Some(id) = &s.image {
                    self.say(format!(" ---> {}\n", short(id))).await?;
                }
                stage = Some(s);
                continue;
            }
            let Some(s) = stage.as_mut() else {
                if ins.cmd == "ARG" {
                    let vars = self.meta_args.clone().into_iter().collect();
                    for (k, v) in self.arg_values(ins, &vars)? {
                        self.meta_args.insert(k, v);
                    }
                    continue;
                }
                return Err(Error::invalid(format!(
                    "dockerfile parse error line {}: {} before FROM",
                    ins.line, ins.cmd
                )));
            };
            let key = if ins.cmd == "ARG" {
                None
            } else {
                Some(self.cache_key(s, ins).await?)
            };
            if let (Some(k), false) = (&key, self.opts.no_cache) {
                if let Some(id) = self.b.cache.get(k) {
                    match self.b.images.get(&id) {
                        Ok(img) => {
                            self.say(" ---> Using cache\n").await?;
                            s.config = img.config.config.clone().unwrap_or_default();
                            s.cmd_set |= ins.cmd == "CMD";
                            s.image = Some(id.clone());
                            self.say(format!(" ---> {}\n", short(&id))).await?;
                            continue;
                        }
                        Err(_) => self.b.cache.forget(&id),
                    }
                }
            }
            let step = self.step(s, ins).await?;
            if let Some(id) = step {
                match &key {
                    // Kept as the cache of this step.
                    Some(k) => self.b.cache.put(k, &id),
                    None => self.intermediate.push(id.clone()),
                }
                s.image = Some(id);
            }
            if let Some(id) = &s.image {
                self.say(format!(" ---> {}\n", short(id))).await?;
            }
        }
        let Some(s) = stage else {
            return Err(Error::invalid("no build stage"));
        };
        if !self.opts.target.is_empty() && s.name != self.opts.target {
            return Err(Error::invalid(format!(
                "failed to reach build target {} in Dockerfile",
                self.opts.target
            )));
        }
        self.finish(s).await
    }

    /// Labels, then tags, of the final image.
    async fn finish(&mut self, mut s: Stage) -> Result<String> {
        if !self.opts.labels.is_empty() || s.image.is_none() {
            for (k, v) in &self.opts.labels {
                s.config.labels.insert(k.clone(), v.clone());
            }
            let id = self
                .b
                .images
                .derive(s.image.as_deref(), s.config.clone(), "")
                .await?;
            self.intermediate.push(id.clone());
            s.image = Some(id);
        }
        let id = s.image.clone().unwrap_or_default();
        self.out.aux(serde_json::json!({ "ID": id })).await?;
        self.say(format!("Successfully built {}\n", short(&id)))
            .await?;
        for t in &self.opts.tags {
            let (repo, tag) = split_tag(t);
            self.b.images.tag(&id, repo, tag).await?;
            self.say(format!("Successfully tagged {t}\n")).await?;
        }
        Ok(id)
    }

    /// `FROM image [AS name]`.
    async fn from(&mut self, ins: &Instruction) -> Result<Stage> {
        let vars: HashMap<String, String> = self.meta_args.clone().into_iter().collect();
        let text = match &ins.args {
            Args::Text(t) => t.clone(),
            Args::Json(v) => v.join(" "),
        };
        let w = dockerfile::words(&text, &vars).map_err(Error::invalid)?;
        let (image, name) = match w.as_slice() {
            [i] => (i.clone(), String::new()),
            [i, as_, n] if as_.eq_ignore_ascii_case("as") => (i.clone(), n.to_ascii_lowercase()),
            _ => {
                return Err(Error::invalid(format!(
                    "FROM requires either one or three arguments: FROM {text}"
                )))
            }
        };
        let mut stage = Stage {
            name,
            ..Default::default()
        };
        if image == "scratch" {
            return Ok(stage);
        }
        if let Some(prev) = self
            .done
            .iter()
            .find(|s| s.name == image.to_ascii_lowercase() && !s.name.is_empty())
        {
            stage.image = prev.image.clone();
            stage.config = prev.config.clone();
            return Ok(stage);
        }
        let img = match self.b.images.get(&image) {
            Ok(i) if !self.opts.pull => i,
            _ => {
                self.pull(&image).await?;
                self.b.images.get(&image)?
            }
        };
        stage.image = Some(img.id.clone());
        stage.config = img.config.config.clone().unwrap_or_default();
        Ok(stage)
    }

    pub(super) async fn pull(&self, image: &str) -> Result<()> {
        let platform = crate::mgr::image::WantPlatform::parse("")?;
        let auth = crate::mgr::image::registry::AuthConfig::default();
        let progress = if self.opts.quiet {
            Progress::discard()
        } else {
            self.out.clone()
        };
        self.b
            .images
            .pull(image, "", &platform, &auth, &progress)
            .await
            .map_err(|e| Error::system(e.to_string()))
    }

    /// `ARG name[=default] ...`: the values in force.
    pub(super) fn arg_values(
        &self,
        ins: &Instruction,
        vars: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>> {
        let text = match &ins.args {
            Args::Text(t) => t.clone(),
            Args::Json(v) => v.join(" "),
        };
        let mut out = Vec::new();
        for w in dockerfile::words(&text, vars).map_err(Error::invalid)? {
            let (name, default) = match w.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (w.clone(), None),
            };
            let given = self.opts.build_args.get(&name).cloned().flatten();
            let meta = self.meta_args.get(&name).cloned();
            if let Some(v) = given.or(default).or(meta) {
                out.push((name, v));
            }
        }
        Ok(out)
    }

    /// What a step's result depends on: the image it starts from, the
    /// instruction, the stage's ARGs and, for COPY and ADD, the sources.
    async fn cache_key(&mut self, s: &Stage, ins: &Instruction) -> Result<String> {
        let base = s.image.clone().unwrap_or_else(|| "scratch".to_string());
        let args = serde_json::to_vec(&s.args)?;
        let flags = serde_json::to_vec(&ins.flags)?;
        let sources = if matches!(ins.cmd.as_str(), "COPY" | "ADD") {
            self.source_digest(s, ins).await?
        } else {
            String::new()
        };
        let network = self.opts.network_mode.as_bytes();
        Ok(cache::key(&[
            base.as_bytes(),
            ins.cmd.as_bytes(),
            &flags,
            ins.original.as_bytes(),
            &args,
            sources.as_bytes(),
            network,
        ]))
    }

    /// Removes the build's containers and intermediate images.
    async fn cleanup(&mut self, result: Option<&String>) {
        for id in self.containers.drain(..) {
            if let Err(e) = self.b.containers.remove(&id, true, true).await {
                if !e.is_not_found() {
                    tracing::warn!(id = %id, error = %e, "removing a build container");
                }
            }
        }
        for id in self.intermediate.drain(..).rev() {
            if Some(&id) == result {
                continue;
            }
            if let Err(e) = self.b.images.remove(&id, true, &[]).await {
                if !e.is_not_found() {
                    tracing::debug!(id = %id, error = %e, "removing an intermediate image");
                }
            }
        }
    }
}

/// `name:tag` → (`name`, `tag`); the tag is empty when absent.
fn split_tag(t: &str) -> (&str, &str) {
    match t.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (t, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_and_tags() {
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(split_tag("app:v1"), ("app", "v1"));
        assert_eq!(split_tag("localhost:5000/app"), ("localhost:5000/app", ""));
        assert_eq!(
            split_tag("localhost:5000/app:v2"),
            ("localhost:5000/app", "v2")
        );
    }
}
