//! Flags shared by `run` and `create`, and the create request built from
//! them.

use std::collections::HashMap;

use clap::{ArgAction, Args};
use pouch_api::container::{ContainerCreateRequest, EmptyObject, PortBinding, RestartPolicy};

use crate::opts::{
    parse_cpus, parse_env, parse_label, parse_memory, parse_restart, parse_volume, read_env_file,
    VolumeSpec,
};

#[derive(Debug, Clone, Args)]
pub struct ContainerOpts {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Restart policy: no, always, on-failure[:max-retries], unless-stopped
    #[arg(long, value_parser = parse_restart)]
    pub restart: Option<RestartPolicy>,
    /// Bind mount a volume: [host-src:]container-dest[:ro]
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Connect a container to a network: bridge (default), none, host, or
    /// a user-defined network's name
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", visible_alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// Publish a container's port to the host: [ip:][hostPort:]containerPort[/proto]
    #[arg(short = 'p', long = "publish", value_parser = parse_publish)]
    pub publish: Vec<(String, PortBinding)>,
    /// Publish all exposed ports to random host ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port without publishing it: port[/proto]
    #[arg(long = "expose")]
    pub expose: Vec<String>,
    /// Memory limit (e.g. 512m, 1g, or bytes)
    #[arg(short = 'm', long, value_parser = parse_memory)]
    pub memory: Option<i64>,
    /// Number of CPUs
    #[arg(long, value_parser = parse_cpus)]
    pub cpus: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", allow_negative_numbers = true)]
    pub stop_timeout: Option<i64>,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// The image, then the command and its arguments (flags end at the
    /// image, as docker's: `run busybox -l` runs `-l`)
    #[arg(
        value_names = ["IMAGE", "COMMAND"],
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,
}

impl ContainerOpts {
    /// The image to create the container from.
    pub fn image(&self) -> &str {
        &self.args[0]
    }

    /// The command and its arguments.
    pub fn command(&self) -> &[String] {
        &self.args[1..]
    }
}

/// `port[/proto]` → `port/proto` (tcp by default).
fn port_key(s: &str) -> Result<String, String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    match port.parse::<u16>() {
        Ok(p) if p > 0 && matches!(proto, "tcp" | "udp" | "sctp") => Ok(format!("{p}/{proto}")),
        _ => Err(format!("invalid port specification: \"{s}\"")),
    }
}

/// docker's `-p`: `[ip:][hostPort:]containerPort[/proto]`; an empty host
/// port lets the daemon pick.
pub fn parse_publish(s: &str) -> Result<(String, PortBinding), String> {
    let parts: Vec<&str> = s.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(format!("invalid port specification: \"{s}\"")),
    };
    if !host.is_empty()
        && !host
            .split('-')
            .all(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(format!("invalid port specification: \"{s}\""));
    }
    Ok((
        port_key(container)?,
        PortBinding {
            host_ip: ip.to_string(),
            host_port: host.to_string(),
        },
    ))
}

fn lookup_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl ContainerOpts {
    /// The `POST /containers/create` body, as the docker CLI builds it.
    /// Attach flags are set for an attached run (stdout, stderr, and stdin
    /// with `-i`); `run -d` clears them.
    pub fn to_request(&self) -> Result<ContainerCreateRequest, String> {
        let mut env = Vec::new();
        for file in &self.env_file {
            env.extend(read_env_file(file, &lookup_env)?);
        }
        for e in &self.env {
            env.push(parse_env(e, &lookup_env)?);
        }
        let mut labels = HashMap::new();
        for l in &self.label {
            let (k, v) = parse_label(l)?;
            labels.insert(k, v);
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        let mut binds = Vec::new();
        let mut volumes = HashMap::new();
        for v in &self.volume {
            match parse_volume(v, &cwd)? {
                VolumeSpec::Bind(b) => binds.push(b),
                VolumeSpec::Anonymous(d) => {
                    volumes.insert(d, EmptyObject::default());
                }
            }
        }
        let restart = self.restart.clone().unwrap_or_default();
        if self.rm && !matches!(restart.name.as_str(), "" | "no") {
            return Err("Conflicting options: --restart and --rm".to_string());
        }

        let mut req = ContainerCreateRequest::default();
        let c = &mut req.config;
        c.image = self.image().to_string();
        c.cmd = (!self.command().is_empty()).then(|| self.command().to_vec());
        // `--entrypoint ""` resets the image's entrypoint.
        c.entrypoint = self.entrypoint.as_ref().map(|e| vec![e.clone()]);
        c.tty = self.tty;
        c.open_stdin = self.interactive;
        c.attach_stdin = self.interactive;
        c.attach_stdout = true;
        c.attach_stderr = true;
        c.env = env;
        c.labels = labels;
        c.volumes = volumes;
        c.working_dir = self.workdir.clone().unwrap_or_default();
        c.user = self.user.clone().unwrap_or_default();
        c.hostname = self.hostname.clone().unwrap_or_default();
        c.stop_signal = self.stop_signal.clone().unwrap_or_default();
        c.stop_timeout = self.stop_timeout;
        for e in &self.expose {
            c.exposed_ports.insert(port_key(e)?, EmptyObject::default());
        }

        let network = self
            .network
            .clone()
            .unwrap_or_else(|| "default".to_string());
        if let Some(ep) =
            crate::commands::network::endpoint(&self.network_alias, self.ip.as_deref())
        {
            req.networking_config
                .endpoints_config
                .insert(network.clone(), ep);
        }
        let h = &mut req.host_config;
        h.binds = binds;
        h.network_mode = network;
        h.restart_policy = restart;
        h.auto_remove = self.rm;
        h.memory = self.memory.unwrap_or(0);
        h.nano_cpus = self.cpus.unwrap_or(0);
        h.cpu_shares = self.cpu_shares.unwrap_or(0);
        h.pids_limit = self.pids_limit;
        h.publish_all_ports = self.publish_all;
        for (key, binding) in &self.publish {
            // As docker: a published port is exposed too.
            req.config
                .exposed_ports
                .insert(key.clone(), EmptyObject::default());
            h.port_bindings
                .entry(key.clone())
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding.clone());
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    #[command(disable_help_flag = true)]
    struct T {
        #[command(flatten)]
        opts: ContainerOpts,
    }

    fn opts(args: &[&str]) -> ContainerOpts {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .opts
    }

    #[test]
    fn publish_flags() {
        let r = opts(&[
            "-p",
            "127.0.0.1:8080:80",
            "-p",
            "9000:53/udp",
            "-p",
            "127.0.0.1::443",
            "--expose",
            "7000",
            "-P",
            "busybox",
        ])
        .to_request()
        .unwrap();
        let b = |ip: &str, port: &str| {
            Some(vec![PortBinding {
                host_ip: ip.into(),
                host_port: port.into(),
            }])
        };
        let h = &r.host_config;
        assert_eq!(h.port_bindings["80/tcp"], b("127.0.0.1", "8080"));
        assert_eq!(h.port_bindings["53/udp"], b("", "9000"));
        assert_eq!(h.port_bindings["443/tcp"], b("127.0.0.1", ""));
        assert!(h.publish_all_ports);
        let mut exposed: Vec<&String> = r.config.exposed_ports.keys().collect();
        exposed.sort();
        assert_eq!(exposed, ["443/tcp", "53/udp", "7000/tcp", "80/tcp"]);
        for bad in ["x", "1:2:3:4", "80/icmp", "abc:80", "0"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builds_the_request() {
        let o = opts(&[
            "--name",
            "web",
            "-e",
            "A=1",
            "-l",
            "k=v",
            "-l",
            "flag",
            "-w",
            "/tmp",
            "-u",
            "1000",
            "--restart",
            "on-failure:2",
            "-v",
            "/h:/c:ro",
            "-v",
            "/anon",
            "--net",
            "none",
            "-m",
            "512m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "-1",
            "--hostname",
            "box",
            "--stop-signal",
            "SIGUSR1",
            "--stop-timeout",
            "3",
            "-i",
            "-t",
            "busybox",
            "sh",
            "-c",
            "echo hi",
        ]);
        assert_eq!(o.name.as_deref(), Some("web"));
        let r = o.to_request().unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Image"], "busybox");
        assert_eq!(v["Cmd"], serde_json::json!(["sh", "-c", "echo hi"]));
        assert_eq!(v["Entrypoint"], serde_json::Value::Null);
        assert_eq!(v["Env"], serde_json::json!(["A=1"]));
        assert_eq!(v["Labels"], serde_json::json!({"k": "v", "flag": ""}));
        assert_eq!(v["WorkingDir"], "/tmp");
        assert_eq!(v["User"], "1000");
        assert_eq!(v["Hostname"], "box");
        assert_eq!(v["StopSignal"], "SIGUSR1");
        assert_eq!(v["StopTimeout"], 3);
        assert_eq!(v["Volumes"], serde_json::json!({"/anon": {}}));
        assert!(r.config.tty && r.config.open_stdin && r.config.attach_stdin);
        let h = &v["HostConfig"];
        assert_eq!(h["Binds"], serde_json::json!(["/h:/c:ro"]));
        assert_eq!(h["NetworkMode"], "none");
        assert_eq!(
            h["RestartPolicy"],
            serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2})
        );
        assert_eq!(h["Memory"], 512 << 20);
        assert_eq!(h["NanoCpus"], 500_000_000);
        assert_eq!(h["CpuShares"], 512);
        assert_eq!(h["PidsLimit"], -1);
    }

    #[test]
    fn defaults_and_errors() {
        let r = opts(&["busybox"]).to_request().unwrap();
        assert_eq!(r.config.cmd, None);
        assert_eq!(r.host_config.network_mode, "default");
        assert_eq!(r.host_config.pids_limit, None);
        assert!(!r.config.attach_stdin && r.config.attach_stdout);
        let r = opts(&["--entrypoint", "", "busybox"]).to_request().unwrap();
        assert_eq!(r.config.entrypoint, Some(vec![String::new()]));
        let e = opts(&["--rm", "--restart", "always", "busybox"])
            .to_request()
            .unwrap_err();
        assert_eq!(e, "Conflicting options: --restart and --rm");
        assert!(opts(&["--rm", "--restart", "no", "busybox"])
            .to_request()
            .is_ok());
        let e = opts(&["--env-file", "/nonexistent/env", "busybox"])
            .to_request()
            .unwrap_err();
        assert_eq!(e, "open /nonexistent/env: no such file or directory");
        assert!(opts(&["-v", "rel:dst", "busybox"]).to_request().is_err());
    }
}
