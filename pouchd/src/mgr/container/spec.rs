//! The OCI runtime spec of a container, built with oci-spec: Docker's default
//! capabilities, mounts, masked and read-only paths, devices, and the
//! container's own settings.

use super::seccomp;
use super::security::SeccompChoice;
use super::state::ContainerMeta;
use crate::error::{Error, Result};
use oci_spec::runtime::{
    LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder,
    PosixRlimitBuilder, PosixRlimitType, Process, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};
use std::path::Path;

use super::caps::caps;
pub use super::user::{resolve_user, ResolvedUser};

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A parsed `-v [source:]destination[:opts]` entry of `Binds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// A host path (absolute), a volume name, or empty (anonymous volume).
    pub source: String,
    pub destination: String,
    pub read_only: bool,
    pub propagation: String,
    /// `nocopy`: a volume is not filled from the image.
    pub nocopy: bool,
}

impl Bind {
    /// A host directory rather than a volume.
    pub fn is_host(&self) -> bool {
        self.source.starts_with('/')
    }
}

fn is_mode(opts: &str) -> bool {
    opts.split(',').all(|o| {
        matches!(
            o,
            "ro" | "rw"
                | "z"
                | "Z"
                | "nocopy"
                | "shared"
                | "rshared"
                | "slave"
                | "rslave"
                | "private"
                | "rprivate"
        )
    })
}

/// Parses a `Binds` entry as Docker's linux parser does: `dst`, `src:dst`
/// or `src:dst:mode`, where `src` is a host path or a volume name.
pub fn parse_bind(s: &str) -> Result<Bind> {
    let invalid = || Error::invalid(format!("invalid volume specification: '{s}'"));
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        // A destination and a mode is not a volume: volumes need a name
        // to take a mode.
        [_, m] if is_mode(m) => return Err(invalid()),
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => return Err(invalid()),
    };
    if dst.is_empty() || (parts.len() > 1 && src.is_empty()) {
        return Err(invalid());
    }
    if !dst.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid volume specification: '{s}': invalid mount config for type \"volume\": invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    if Path::new(dst).components().count() <= 1 {
        return Err(Error::invalid(
            "invalid specification: destination can't be '/'",
        ));
    }
    let mut bind = Bind {
        source: src.to_string(),
        destination: dst.to_string(),
        read_only: false,
        propagation: "rprivate".to_string(),
        nocopy: false,
    };
    if !bind.is_host() {
        bind.propagation.clear();
    }
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => bind.read_only = true,
            "rw" => bind.read_only = false,
            "z" | "Z" => {}
            "nocopy" => bind.nocopy = true,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                bind.propagation = o.to_string()
            }
            _ => return Err(Error::invalid(format!("invalid mode: {o}"))),
        }
    }
    Ok(bind)
}

fn spec_err(e: impl std::fmt::Display) -> Error {
    Error::system(format!("building OCI spec: {e}"))
}

fn mount(dst: &str, typ: &str, src: &str, opts: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(dst)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err)
}

/// The cgroup limits of `hc` (with `devices`, the device rules: left out
/// of an update, which cannot change them).
pub(super) fn resources(
    hc: &pouch_api::container::HostConfig,
    devices: Vec<LinuxDeviceCgroup>,
) -> Result<oci_spec::runtime::LinuxResources> {
    let mut resources = LinuxResourcesBuilder::default().devices(devices);
    if hc.memory > 0 || hc.memory_reservation > 0 {
        let mut mem = LinuxMemoryBuilder::default();
        if hc.memory > 0 {
            mem = mem.limit(hc.memory);
        }
        if hc.memory_reservation > 0 {
            mem = mem.reservation(hc.memory_reservation);
        }
        if hc.memory_swap > 0 || hc.memory_swap == -1 {
            mem = mem.swap(hc.memory_swap);
        }
        resources = resources.memory(mem.build().map_err(spec_err)?);
    }
    if hc.cpu_shares > 0 || hc.nano_cpus > 0 || hc.cpu_quota > 0 || !hc.cpuset_cpus.is_empty() {
        let mut cpu = LinuxCpuBuilder::default();
        if hc.cpu_shares > 0 {
            cpu = cpu.shares(hc.cpu_shares as u64);
        }
        if hc.nano_cpus > 0 {
            let period: u64 = 100_000;
            cpu = cpu
                .period(period)
                .quota((hc.nano_cpus as u64 * period / 1_000_000_000) as i64);
        } else if hc.cpu_quota > 0 {
            cpu = cpu.quota(hc.cpu_quota);
            if hc.cpu_period > 0 {
                cpu = cpu.period(hc.cpu_period as u64);
            }
        }
        if !hc.cpuset_cpus.is_empty() {
            cpu = cpu.cpus(hc.cpuset_cpus.clone());
        }
        if !hc.cpuset_mems.is_empty() {
            cpu = cpu.mems(hc.cpuset_mems.clone());
        }
        resources = resources.cpu(cpu.build().map_err(spec_err)?);
    }
    if let Some(limit) = hc.pids_limit.filter(|l| *l != 0) {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .map_err(spec_err)?,
        );
    }
    resources.build().map_err(spec_err)
}

fn device_rules() -> Result<Vec<LinuxDeviceCgroup>> {
    let rule = |allow: bool,
                typ: LinuxDeviceType,
                major: Option<i64>,
                minor: Option<i64>,
                access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().map_err(spec_err)
    };
    use LinuxDeviceType::{A, B, C};
    Ok(vec![
        rule(false, A, None, None, "rwm")?,
        rule(true, C, None, None, "m")?,
        rule(true, B, None, None, "m")?,
        rule(true, C, Some(1), Some(3), "rwm")?,    // null
        rule(true, C, Some(1), Some(5), "rwm")?,    // zero
        rule(true, C, Some(1), Some(7), "rwm")?,    // full
        rule(true, C, Some(1), Some(8), "rwm")?,    // random
        rule(true, C, Some(1), Some(9), "rwm")?,    // urandom
        rule(true, C, Some(5), Some(0), "rwm")?,    // tty
        rule(true, C, Some(5), Some(1), "rwm")?,    // console
        rule(true, C, Some(5), Some(2), "rwm")?,    // ptmx
        rule(true, C, Some(136), None, "rwm")?,     // pts
        rule(true, C, Some(10), Some(200), "rwm")?, // tun
    ])
}

/// The daemon's own oom_score_adj: containers may not go below it, because
/// lowering it needs CAP_SYS_RESOURCE, which pouchd may lack.
fn own_oom_score_adj() -> i32 {
    std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// What varies between the init process and an exec'd one.
pub struct ProcessOpts<'a> {
    pub args: Vec<String>,
    pub extra_env: &'a [String],
    pub cwd: &'a str,
    pub tty: bool,
    pub privileged: bool,
}

/// The process part of the spec: env, user, capabilities, rlimits.
pub fn process(m: &ContainerMeta, user: &ResolvedUser, opts: ProcessOpts<'_>) -> Result<Process> {
    let cfg = &m.config;
    let hc = &m.host_config;
    let hostname = hostname_of(m);
    let mut env = cfg.env.clone();
    for e in opts.extra_env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !env.iter().any(|e| e.starts_with("HOSTNAME=")) {
        env.push(format!("HOSTNAME={hostname}"));
    }
    if opts.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".to_string());
    }
    if let Some(home) = &user.home {
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={home}"));
        }
    }
    let capset = if opts.privileged {
        caps(&pouch_api::container::HostConfig {
            privileged: true,
            ..Default::default()
        })?
    } else {
        caps(hc)?
    };
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(capset.clone())
        .effective(capset.clone())
        .permitted(capset)
        .build()
        .map_err(spec_err)?;
    // Raising a hard limit needs CAP_SYS_RESOURCE, which pouchd may lack:
    // containers get the daemon's own hard limit for open files.
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or(1024);
    let mut rlimits = vec![PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(nofile)
        .hard(nofile)
        .build()
        .map_err(spec_err)?];
    for u in &hc.ulimits {
        let typ: PosixRlimitType = serde_json::from_value(serde_json::Value::String(format!(
            "RLIMIT_{}",
            u.name.to_ascii_uppercase()
        )))
        .map_err(|_| Error::invalid(format!("invalid ulimit: {}", u.name)))?;
        rlimits.retain(|r| r.typ() != typ);
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(u.soft.max(0) as u64)
                .hard(u.hard.max(0) as u64)
                .build()
                .map_err(spec_err)?,
        );
    }
    let mut process = ProcessBuilder::default()
        .terminal(opts.tty)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()
                .map_err(spec_err)?,
        )
        .args(opts.args)
        .env(env)
        .cwd(if opts.cwd.is_empty() {
            "/".to_string()
        } else {
            opts.cwd.to_string()
        })
        .capabilities(capabilities)
        .rlimits(rlimits)
        .no_new_privileges(super::security::parse(&hc.security_opt)?.no_new_privileges);
    if hc.oom_score_adj != 0 {
        let adj = (hc.oom_score_adj as i32).clamp(own_oom_score_adj(), 1000);
        process = process.oom_score_adj(adj);
    }
    process.build().map_err(spec_err)
}

/// Builds the spec for a run of `m`.
pub fn build(m: &ContainerMeta, user: &ResolvedUser, namespace: &str) -> Result<Spec> {
    let hc = &m.host_config;
    let security = super::security::parse(&hc.security_opt)?;
    let host_net = hc.network_mode == "host";
    let hostname = hostname_of(m);
    let mut args = vec![m.path.clone()];
    args.extend(m.args.iter().cloned());
    let process = process(
        m,
        user,
        ProcessOpts {
            args,
            extra_env: &[],
            cwd: &m.config.working_dir,
            tty: m.config.tty,
            privileged: hc.privileged,
        },
    )?;

    let shm = if hc.shm_size > 0 {
        hc.shm_size
    } else {
        64 * 1024 * 1024
    };
    let shm_opt = format!("size={}k", shm / 1024);
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_opt],
        )?,
    ];
    let binds: Vec<Bind> = hc
        .binds
        .iter()
        .map(|b| parse_bind(b))
        .filter(|b| b.as_ref().map_or(true, Bind::is_host))
        .collect::<Result<_>>()?;
    let user_has = |dst: &str| {
        binds.iter().any(|b| b.destination == dst) || m.mounts.iter().any(|r| r.destination == dst)
    };
    // Parents before children, whatever list a mount came from (a volume
    // at /etc goes under /etc/hosts).
    let mut user: Vec<Mount> = Vec::new();
    for (dst, src) in [
        ("/etc/resolv.conf", &m.resolv_conf_path),
        ("/etc/hostname", &m.hostname_path),
        ("/etc/hosts", &m.hosts_path),
    ] {
        if !user_has(dst) {
            user.push(mount(dst, "bind", src, &["rbind", "rprivate"])?);
        }
    }
    for b in &binds {
        let mode = if b.read_only { "ro" } else { "rw" };
        user.push(mount(
            &b.destination,
            "bind",
            &b.source,
            &["rbind", &b.propagation, mode],
        )?);
    }
    for r in &m.mounts {
        user.push(super::volumes::to_oci(r)?);
    }
    user.sort_by_key(|m| m.destination().components().count());
    mounts.extend(user);
    for (dst, opts) in &hc.tmpfs {
        let mut o: Vec<&str> = vec!["nosuid", "nodev", "noexec"];
        o.extend(opts.split(',').filter(|s| !s.is_empty()));
        mounts.push(mount(dst, "tmpfs", "tmpfs", &o)?);
    }

    let mut namespaces = Vec::new();
    let mut ns_types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ];
    if !host_net {
        ns_types.push(LinuxNamespaceType::Network);
    }
    for t in ns_types {
        let mut ns = LinuxNamespaceBuilder::default().typ(t);
        if t == LinuxNamespaceType::Network {
            // On the bridge: the namespace the network manager set up; in a
            // pod: the pod's.
            if let Some(p) = &m.pod_netns {
                ns = ns.path(p.clone());
            } else if let Some(ep) = m.primary_endpoint() {
                ns = ns.path(ep.sandbox_key.clone());
            }
        }
        namespaces.push(ns.build().map_err(spec_err)?);
    }

    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources(hc, device_rules()?)?)
        .cgroups_path(format!("/{namespace}/{}", m.id));
    // As Docker: privileged containers run unfiltered unless given a profile
    // of their own.
    let seccomp = match &security.seccomp {
        SeccompChoice::Unconfined => None,
        SeccompChoice::Default if hc.privileged => None,
        SeccompChoice::Default => Some(seccomp::default_profile().to_oci(&caps(hc)?)?),
        SeccompChoice::Custom(json) => Some(seccomp::Profile::parse(json)?.to_oci(&caps(hc)?)?),
    };
    if let Some(s) = seccomp {
        linux = linux.seccomp(s);
    }
    if !hc.privileged && !security.unmasked_paths {
        linux = linux
            .masked_paths(
                MASKED_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            )
            .readonly_paths(
                READONLY_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            );
    }
    if !hc.sysctls.is_empty() {
        linux = linux.sysctl(hc.sysctls.clone());
    }

    SpecBuilder::default()
        .version("1.0.2")
        .hostname(hostname)
        .process(process)
        .root(
            RootBuilder::default()
                .path("rootfs")
                .readonly(hc.readonly_rootfs)
                .build()
                .map_err(spec_err)?,
        )
        .mounts(mounts)
        .linux(linux.build().map_err(spec_err)?)
        .build()
        .map_err(spec_err)
}

/// The container's hostname: its own, the host's with host networking, or the short ID.
pub fn hostname_of(m: &ContainerMeta) -> String {
    if !m.config.hostname.is_empty() {
        return m.config.hostname.clone();
    }
    if m.host_config.network_mode == "host" {
        if let Ok(h) = nix::unistd::gethostname() {
            return h.to_string_lossy().into_owned();
        }
    }
    m.id[..12.min(m.id.len())].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_and_reject() {
        let b = parse_bind("/src:/dst:ro").unwrap();
        assert!(b.read_only);
        assert_eq!(b.destination, "/dst");
        let v = parse_bind("vol:/dst:ro,nocopy").unwrap();
        assert!(!v.is_host() && v.read_only && v.nocopy);
        let a = parse_bind("/anon").unwrap();
        assert!(a.source.is_empty() && !a.is_host());
        assert!(parse_bind("/dst:ro").is_err());
        assert!(parse_bind(":/dst").is_err());
        assert!(parse_bind("/src:dst").is_err());
        assert!(parse_bind("/src:/").is_err());
        assert!(parse_bind("/src:/dst:bogus").is_err());
        assert!(parse_bind("/a:/b:ro:x").is_err());
    }
}
