//! `pouch info`: a human summary like `docker info`.

use std::fmt::Write as _;

use clap::Args;
use pouch_api::system::Info;

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::human::bytes_size;
use crate::format::Template;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format the output using the given Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

fn opt_line(out: &mut String, key: &str, value: &str) {
    if !value.is_empty() {
        let _ = writeln!(out, " {key}: {value}");
    }
}

/// The Server part of `docker info`.
pub fn server_summary(i: &Info) -> String {
    let mut o = String::from("Server:\n");
    let _ = writeln!(o, " Containers: {}", i.containers);
    let _ = writeln!(o, "  Running: {}", i.containers_running);
    let _ = writeln!(o, "  Paused: {}", i.containers_paused);
    let _ = writeln!(o, "  Stopped: {}", i.containers_stopped);
    let _ = writeln!(o, " Images: {}", i.images);
    opt_line(&mut o, "Server Version", &i.server_version);
    opt_line(&mut o, "Storage Driver", &i.driver);
    for [k, v] in &i.driver_status {
        let _ = writeln!(o, "  {k}: {v}");
    }
    opt_line(&mut o, "Logging Driver", &i.logging_driver);
    opt_line(&mut o, "Cgroup Driver", &i.cgroup_driver);
    opt_line(&mut o, "Cgroup Version", &i.cgroup_version);
    let p = &i.plugins;
    if !(p.volume.is_empty() && p.network.is_empty() && p.log.is_empty()) {
        o.push_str(" Plugins:\n");
        for (k, v) in [
            ("Volume", &p.volume),
            ("Network", &p.network),
            ("Log", &p.log),
        ] {
            if !v.is_empty() {
                let _ = writeln!(o, "  {k}: {}", v.join(" "));
            }
        }
    }
    opt_line(&mut o, "Swarm", &i.swarm.local_node_state);
    if !i.runtimes.is_empty() {
        let mut names: Vec<&String> = i.runtimes.keys().collect();
        names.sort();
        let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
        let _ = writeln!(o, " Runtimes: {}", names.join(" "));
    }
    opt_line(&mut o, "Default Runtime", &i.default_runtime);
    opt_line(&mut o, "Init Binary", &i.init_binary);
    opt_line(&mut o, "containerd version", &i.containerd_commit.id);
    opt_line(&mut o, "runc version", &i.runc_commit.id);
    opt_line(&mut o, "init version", &i.init_commit.id);
    if !i.security_options.is_empty() {
        o.push_str(" Security Options:\n");
        for opt in &i.security_options {
            // `name=seccomp,profile=default` → `seccomp` + `Profile: default`.
            let mut name = opt.as_str();
            let mut extra = Vec::new();
            for kv in opt.split(',') {
                match kv.split_once('=') {
                    Some(("name", n)) => name = n,
                    Some((k, v)) => extra.push((k, v)),
                    None => {}
                }
            }
            let _ = writeln!(o, "  {name}");
            for (k, v) in extra {
                let mut key = k.to_string();
                if let Some(f) = key.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                let _ = writeln!(o, "   {key}: {v}");
            }
        }
    }
    opt_line(&mut o, "Kernel Version", &i.kernel_version);
    opt_line(&mut o, "Operating System", &i.operating_system);
    opt_line(&mut o, "OSType", &i.os_type);
    opt_line(&mut o, "Architecture", &i.architecture);
    let _ = writeln!(o, " CPUs: {}", i.ncpu);
    let _ = writeln!(o, " Total Memory: {}", bytes_size(i.mem_total as f64));
    opt_line(&mut o, "Name", &i.name);
    opt_line(&mut o, "ID", &i.id);
    opt_line(&mut o, "Docker Root Dir", &i.docker_root_dir);
    let _ = writeln!(o, " Debug Mode: {}", i.debug);
    opt_line(&mut o, "Registry", &i.index_server_address);
    o.push_str(" Labels:\n");
    for l in &i.labels {
        let _ = writeln!(o, "  {l}");
    }
    let _ = writeln!(o, " Experimental: {}", i.experimental_build);
    if let Some(reg) = &i.registry_config {
        if !reg.insecure_registry_cidrs.is_empty() {
            o.push_str(" Insecure Registries:\n");
            for r in &reg.insecure_registry_cidrs {
                let _ = writeln!(o, "  {r}");
            }
        }
    }
    let _ = writeln!(o, " Live Restore Enabled: {}", i.live_restore_enabled);
    if !i.warnings.is_empty() {
        o.push('\n');
        for w in &i.warnings {
            let _ = writeln!(o, "{w}");
        }
    }
    o
}

pub async fn run(ctx: &Ctx, args: InfoArgs) -> CmdResult {
    if let Some(f) = args.format.as_deref().filter(|f| !f.is_empty()) {
        let t = Template::parse(f)
            .map_err(|e| StatusError::msg(format!("Template parsing error: {e}")))?;
        let info = ctx.client.info().await?;
        let v = serde_json::to_value(&info).map_err(|e| StatusError::msg(e.to_string()))?;
        println!("{}", t.execute(&v).map_err(StatusError::msg)?);
        return Ok(());
    }
    println!("Client:");
    println!(" Debug Mode: {}", ctx.debug);
    println!();
    let info = ctx.client.info().await?;
    print!("{}", server_summary(&info));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary() {
        let i = Info {
            containers: 3,
            containers_running: 1,
            containers_stopped: 2,
            images: 1,
            server_version: "0.1.0".into(),
            driver: "overlayfs".into(),
            ncpu: 4,
            mem_total: 8_200_000_000,
            security_options: vec!["name=seccomp,profile=default".into()],
            warnings: vec!["WARNING: no swap limit support".into()],
            ..Default::default()
        };
        let s = server_summary(&i);
        assert!(s.starts_with(
            "Server:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 1\n Server Version: 0.1.0\n Storage Driver: overlayfs\n"
        ));
        assert!(s.contains(" Security Options:\n  seccomp\n   Profile: default\n"));
        assert!(s.contains(" CPUs: 4\n Total Memory: 7.637GiB\n"));
        assert!(s.ends_with("\nWARNING: no swap limit support\n"));
    }
}
