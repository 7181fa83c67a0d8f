//! The capability set of a container's processes: Docker's default set,
//! `--cap-add`/`--cap-drop`, and `--privileged` (everything the daemon itself
//! may hand on).

use crate::error::{Error, Result};
use oci_spec::runtime::Capability;
use std::collections::HashSet;

/// Docker's default capabilities.
const DEFAULT_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// The daemon's capability bounding set (all bits when unreadable).
fn own_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX)
}

pub(super) fn caps(hc: &pouch_api::container::HostConfig) -> Result<HashSet<Capability>> {
    let parse = |c: &str| -> Result<Capability> {
        let name = c.trim().to_ascii_uppercase();
        let name = name.strip_prefix("CAP_").unwrap_or(&name).to_string();
        name.parse::<Capability>()
            .map_err(|_| Error::invalid(format!("unknown capability: {c:?}")))
    };
    let bounding = own_bounding_set();
    let all = || -> HashSet<Capability> {
        // Every capability the kernel knows that runc accepts.
        [
            "CHOWN",
            "DAC_OVERRIDE",
            "DAC_READ_SEARCH",
            "FOWNER",
            "FSETID",
            "KILL",
            "SETGID",
            "SETUID",
            "SETPCAP",
            "LINUX_IMMUTABLE",
            "NET_BIND_SERVICE",
            "NET_BROADCAST",
            "NET_ADMIN",
            "NET_RAW",
            "IPC_LOCK",
            "IPC_OWNER",
            "SYS_MODULE",
            "SYS_RAWIO",
            "SYS_CHROOT",
            "SYS_PTRACE",
            "SYS_PACCT",
            "SYS_ADMIN",
            "SYS_BOOT",
            "SYS_NICE",
            "SYS_RESOURCE",
            "SYS_TIME",
            "SYS_TTY_CONFIG",
            "MKNOD",
            "LEASE",
            "AUDIT_WRITE",
            "AUDIT_CONTROL",
            "SETFCAP",
            "MAC_OVERRIDE",
            "MAC_ADMIN",
            "SYSLOG",
            "WAKE_ALARM",
            "BLOCK_SUSPEND",
            "AUDIT_READ",
        ]
        .iter()
        .enumerate()
        // The list is in bit order: a capability the daemon itself lacks
        // cannot be given (runc would fail the start), so "all" means all
        // of the daemon's bounding set, as in a restricted or nested host.
        .filter(|(bit, _)| bounding & (1u64 << bit) != 0)
        .filter_map(|(_, c)| c.parse().ok())
        .collect()
    };
    if hc.privileged {
        return Ok(all());
    }
    let mut set: HashSet<Capability> = DEFAULT_CAPS.iter().filter_map(|c| c.parse().ok()).collect();
    for c in &hc.cap_drop {
        if c.eq_ignore_ascii_case("ALL") {
            set.clear();
        } else {
            set.remove(&parse(c)?);
        }
    }
    for c in &hc.cap_add {
        if c.eq_ignore_ascii_case("ALL") {
            set.extend(all());
        } else {
            set.insert(parse(c)?);
        }
    }
    Ok(set)
}
