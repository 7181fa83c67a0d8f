//! Command line definition: global flags and the command list.

use clap::{Parser, Subcommand};

use crate::commands::container::ContainerCommand;
use crate::commands::container::{
    attach::AttachArgs, cp::CpArgs, create::CreateArgs, diff::DiffArgs, exec::ExecArgs,
    export::ExportArgs, inspect::InspectArgs, lifecycle::KillArgs, lifecycle::NamesArgs,
    lifecycle::StopArgs, logs::LogsArgs, port::PortArgs, ps::PsArgs, rename::RenameArgs,
    rm::RmArgs, run::RunArgs, start::StartArgs, stats::StatsArgs, top::TopArgs, update::UpdateArgs,
};
use crate::commands::image::{
    commit::CommitArgs, history::HistoryArgs, images::ImagesArgs, import::ImportArgs,
    load::LoadArgs, login::LoginArgs, login::LogoutArgs, pull::PullArgs, pull::PushArgs,
    rmi::RmiArgs, save::SaveArgs, tag::TagArgs, ImageCommand,
};
use crate::commands::network::NetworkCommand;
use crate::commands::system::{
    events::EventsArgs, info::InfoArgs, version::VersionArgs, SystemCommand,
};
use crate::commands::volume::VolumeCommand;

/// A CLI for pouchd, the pouch container engine (Docker Engine API v1.41).
#[derive(Debug, Parser)]
#[command(
    name = "pouch",
    version,
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path or tcp://host:port)
    #[arg(
        short = 'H',
        long,
        env = "POUCH_HOST",
        hide_env_values = true,
        global = true,
        value_name = "HOST"
    )]
    pub host: Option<String>,

    /// Enable debug output
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Return low-level information on containers or images
    Inspect(InspectArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(NamesArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// List images
    Images(ImagesArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Build an image from a Dockerfile
    Build(crate::commands::image::build::BuildArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Pull an image or a repository from a registry
    Pull(PullArgs),
    /// Push an image or a repository to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage pouchd
    #[command(subcommand)]
    System(SystemCommand),
    /// Show the pouch version information
    Version(VersionArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Get real time events from the server
    Events(EventsArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("pouch").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn run_stops_parsing_flags_at_the_image() {
        let cli = parse(&[
            "run", "--rm", "-l", "a=b", "-h", "box", "busybox", "ls", "-l", "--rm",
        ]);
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert!(r.opts.rm);
        assert_eq!(r.opts.label, ["a=b"]);
        assert_eq!(r.opts.hostname.as_deref(), Some("box"));
        assert_eq!(r.opts.image(), "busybox");
        assert_eq!(r.opts.command(), ["ls", "-l", "--rm"]);
        // A flag right after the image is the command.
        let cli = parse(&["run", "busybox", "-l"]);
        let Command::Run(r) = cli.command else {
            panic!("not run")
        };
        assert!(r.opts.label.is_empty());
        assert_eq!(r.opts.command(), ["-l"]);
        assert!(r.sig_proxy);
        for (flag, want) in [("--sig-proxy", true), ("--sig-proxy=false", false)] {
            let cli = parse(&["run", flag, "busybox"]);
            let Command::Run(r) = cli.command else {
                panic!("not run")
            };
            assert_eq!(r.sig_proxy, want, "{flag}");
            assert!(r.opts.command().is_empty());
        }
    }

    #[test]
    fn global_flags_and_aliases() {
        let cli = parse(&[
            "-H",
            "unix:///x.sock",
            "ps",
            "-a",
            "-f",
            "status=exited",
            "-f",
            "label=a",
        ]);
        assert_eq!(cli.host.as_deref(), Some("unix:///x.sock"));
        let Command::Ps(p) = cli.command else {
            panic!("not ps")
        };
        assert!(p.all);
        assert_eq!(p.filter, ["status=exited", "label=a"]);
        let cli = parse(&[
            "create", "--net", "host", "-m", "1g", "--cpus", "1.5", "busybox",
        ]);
        let Command::Create(c) = cli.command else {
            panic!("not create")
        };
        assert_eq!(c.opts.network.as_deref(), Some("host"));
        assert_eq!(c.opts.memory, Some(1 << 30));
        assert_eq!(c.opts.cpus, Some(1_500_000_000));
        assert!(Cli::try_parse_from(["pouch", "run", "-m", "1x", "busybox"]).is_err());
        assert!(Cli::try_parse_from(["pouch", "run", "--restart", "bogus", "busybox"]).is_err());
    }

    #[test]
    fn image_commands_and_aliases() {
        let cli = parse(&["pull", "-q", "--platform", "linux/amd64", "busybox"]);
        let Command::Pull(p) = cli.command else {
            panic!("not pull")
        };
        assert!(p.quiet);
        assert_eq!(p.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(p.name, "busybox");
        for (args, want) in [
            (&["image", "ls", "-q"][..], "ls"),
            (&["image", "list", "-a"][..], "ls"),
            (&["image", "rm", "x"][..], "rm"),
            (&["image", "remove", "x"][..], "rm"),
            (&["image", "rmi", "x"][..], "rm"),
            (&["image", "pull", "x"][..], "pull"),
            (&["image", "push", "x"][..], "push"),
            (&["image", "save", "-o", "f", "x"][..], "save"),
            (&["image", "load", "-i", "f", "-q"][..], "load"),
            (&["image", "import", "-", "x"][..], "import"),
            (&["image", "history", "--no-trunc", "x"][..], "history"),
            (&["image", "tag", "x", "y"][..], "tag"),
            (&["image", "inspect", "-f", "{{.Id}}", "x"][..], "inspect"),
            (
                &["image", "prune", "-a", "-f", "--filter", "until=1h"][..],
                "prune",
            ),
        ] {
            let Command::Image(sub) = parse(args).command else {
                panic!("{args:?}: not image")
            };
            let got = format!("{sub:?}");
            assert!(got.to_lowercase().starts_with(want), "{args:?}: {got}");
        }
        let Command::Login(l) = parse(&["login", "-u", "me", "--password-stdin", "h:5000"]).command
        else {
            panic!("not login")
        };
        assert_eq!(l.username.as_deref(), Some("me"));
        assert!(l.password_stdin);
        assert_eq!(l.server.as_deref(), Some("h:5000"));
        assert!(
            Cli::try_parse_from(["pouch", "login", "-p", "x", "--password-stdin"]).is_err(),
            "-p and --password-stdin conflict"
        );
        let Command::Images(i) = parse(&["images", "-f", "dangling=true", "--digests"]).command
        else {
            panic!("not images")
        };
        assert_eq!(i.filter, ["dangling=true"]);
        assert!(i.digests);
        assert!(Cli::try_parse_from(["pouch", "save"]).is_err());
        let Command::History(h) = parse(&["history", "--human=false", "-q", "x"]).command else {
            panic!("not history")
        };
        assert!(!h.human && h.quiet);
    }
}
