//! System manager: facts about the daemon and the host for `/version` and `/info`.

use std::path::PathBuf;

/// Static facts gathered once at start.
#[derive(Debug, Clone)]
pub struct SystemInfo {
    pub id: String,
    pub home_dir: PathBuf,
    pub containerd_version: String,
    pub runc_version: String,
    pub kernel_version: String,
    pub operating_system: String,
    pub hostname: String,
    pub ncpu: i64,
    pub mem_total: i64,
    pub cgroup_version: String,
    pub swap_limit: bool,
    pub ipv4_forwarding: bool,
    pub bridge_nf_iptables: bool,
    pub bridge_nf_ip6tables: bool,
    pub debug: bool,
}

fn sysctl_on(path: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| s.trim() == "1")
}

/// The daemon's version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl SystemInfo {
    pub fn gather(home_dir: PathBuf, containerd_version: String, debug: bool) -> Self {
        let uts = nix::sys::utsname::uname().ok();
        let kernel_version = uts
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let operating_system = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("PRETTY_NAME=")
                        .map(|v| v.trim_matches('"').to_string())
                })
            })
            .unwrap_or_else(|| "Linux".to_string());
        let mem_total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("MemTotal:")
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
                })
            })
            .map(|kb| kb * 1024)
            .unwrap_or(0);
        let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "2"
        } else {
            "1"
        };
        let runc_version = std::process::Command::new("runc")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| {
                s.lines()
                    .next()
                    .map(|l| l.trim_start_matches("runc version ").to_string())
            })
            .unwrap_or_default();
        let id = Self::daemon_id(&home_dir);
        SystemInfo {
            id,
            home_dir,
            containerd_version,
            runc_version,
            kernel_version,
            operating_system,
            hostname,
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            mem_total,
            cgroup_version: cgroup_version.to_string(),
            swap_limit: std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                .exists(),
            ipv4_forwarding: sysctl_on("/proc/sys/net/ipv4/ip_forward"),
            bridge_nf_iptables: sysctl_on("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            bridge_nf_ip6tables: sysctl_on("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
            debug,
        }
    }

    /// A stable ID for this daemon, kept in the home dir.
    fn daemon_id(home: &std::path::Path) -> String {
        let path = home.join("engine-id");
        if let Ok(s) = std::fs::read_to_string(&path) {
            let s = s.trim().to_string();
            if !s.is_empty() {
                return s;
            }
        }
        let id = hex::encode(rand::random::<[u8; 16]>());
        let _ = crate::store::write_atomic(&path, id.as_bytes());
        id
    }
}
