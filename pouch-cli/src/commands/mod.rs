//! The commands, one module per group.

pub mod container;
pub mod image;
pub mod network;
pub mod prune;
pub mod system;
pub mod volume;

use pouch_client::Client;

use crate::cli::Command;
use crate::error::{CmdResult, StatusError};

/// `k=v` pairs of repeated flags (`--label`, `--opt`); a bare `k` is
/// `k=""`, as docker's `ListOpts` map them.
pub fn key_values(items: &[String]) -> std::collections::HashMap<String, String> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

/// What every command gets: the client and the global flags.
pub struct Ctx {
    pub client: Client,
    pub debug: bool,
}

impl Ctx {
    /// Inspects container `name`; an unknown one is docker's
    /// "Error: No such container: NAME".
    pub async fn container(
        &self,
        name: &str,
    ) -> Result<pouch_api::container::ContainerInspect, StatusError> {
        self.client.containers().inspect(name).await.map_err(|e| {
            if e.is_not_found() {
                StatusError::msg(format!("Error: No such container: {name}"))
            } else {
                e.into()
            }
        })
    }
}

/// Run one command.
pub async fn dispatch(ctx: &Ctx, command: Command) -> CmdResult {
    use container::{
        attach, cp, create, diff, exec, export, inspect, lifecycle, logs, port, ps, rename, rm,
        run, start, stats, top, wait,
    };
    use image::{commit, history, images, import, load, login, pull, rmi, save, tag};
    use system::{events, info, version};
    match command {
        Command::Run(a) => run::run(ctx, a).await,
        Command::Create(a) => create::run(ctx, a).await,
        Command::Start(a) => start::run(ctx, a).await,
        Command::Stop(a) => lifecycle::stop(ctx, a).await,
        Command::Restart(a) => lifecycle::restart(ctx, a).await,
        Command::Kill(a) => lifecycle::kill(ctx, a).await,
        Command::Pause(a) => lifecycle::pause(ctx, a).await,
        Command::Unpause(a) => lifecycle::unpause(ctx, a).await,
        Command::Rm(a) => rm::run(ctx, a).await,
        Command::Ps(a) => ps::run(ctx, a).await,
        Command::Inspect(a) => inspect::run(ctx, a).await,
        Command::Logs(a) => logs::run(ctx, a).await,
        Command::Wait(a) => wait::run(ctx, a).await,
        Command::Rename(a) => rename::run(ctx, a).await,
        Command::Exec(a) => exec::run(ctx, a).await,
        Command::Attach(a) => attach::run(ctx, a).await,
        Command::Top(a) => top::run(ctx, a).await,
        Command::Stats(a) => stats::run(ctx, a).await,
        Command::Cp(a) => cp::run(ctx, a).await,
        Command::Export(a) => export::run(ctx, a).await,
        Command::Diff(a) => diff::run(ctx, a).await,
        Command::Port(a) => port::run(ctx, a).await,
        Command::Images(a) => images::run(ctx, a).await,
        Command::Load(a) => load::run(ctx, a).await,
        Command::Build(a) => image::build::run(ctx, a).await,
        Command::Rmi(a) => rmi::run(ctx, a).await,
        Command::Tag(a) => tag::run(ctx, a).await,
        Command::Pull(a) => pull::pull(ctx, a).await,
        Command::Push(a) => pull::push(ctx, a).await,
        Command::Login(a) => login::login(ctx, a).await,
        Command::Logout(a) => login::logout(ctx, a).await,
        Command::Save(a) => save::run(ctx, a).await,
        Command::Import(a) => import::run(ctx, a).await,
        Command::Commit(a) => commit::run(ctx, a).await,
        Command::History(a) => history::run(ctx, a).await,
        Command::Container(c) => container::dispatch(ctx, c).await,
        Command::Update(a) => container::update::run(ctx, a).await,
        Command::Image(c) => image::dispatch(ctx, c).await,
        Command::System(c) => system::dispatch(ctx, c).await,
        Command::Volume(c) => volume::dispatch(ctx, c).await,
        Command::Network(c) => network::dispatch(ctx, c).await,
        Command::Version(a) => version::run(ctx, a).await,
        Command::Info(a) => info::run(ctx, a).await,
        Command::Events(a) => events::run(ctx, a).await,
    }
}

/// `busybox` → `busybox:latest`; references with a tag or digest are
/// unchanged (Docker's `FamiliarString(TagNameOnly(ref))`).
pub fn with_default_tag(image: &str) -> String {
    let name_part = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || name_part.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tag() {
        assert_eq!(with_default_tag("busybox"), "busybox:latest");
        assert_eq!(with_default_tag("busybox:1.36"), "busybox:1.36");
        assert_eq!(
            with_default_tag("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(with_default_tag("x@sha256:ab"), "x@sha256:ab");
    }
}
