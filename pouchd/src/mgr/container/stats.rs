//! `GET /containers/{id}/stats`: a container's cgroup counters (v1, or v2
//! where the host has it), process count and network devices, in Docker's shape.

use super::ContainerMgr;
use crate::error::Result;
use pouch_api::stats::{BlkioStatEntry, CpuStats, MemoryStats, NetworkStats, PidsStats, Stats};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

fn read_u64(p: &Path) -> u64 {
    std::fs::read_to_string(p)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
pub fn parse_kv(s: &str) -> HashMap<String, u64> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// blkio.throttle.io_service_bytes: `8:0 Read 123` lines.
pub fn parse_blkio(s: &str) -> Vec<BlkioStatEntry> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 {
                return None;
            }
            let (maj, min) = f[0].split_once(':')?;
            Some(BlkioStatEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op: f[1].to_string(),
                value: f[2].parse().ok()?,
            })
        })
        .collect()
}

/// /proc/<pid>/net/dev, loopback left out as Docker does.
pub fn parse_net_dev(s: &str) -> HashMap<String, NetworkStats> {
    s.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() < 16 {
                return None;
            }
            Some((
                name.to_string(),
                NetworkStats {
                    rx_bytes: v[0],
                    rx_packets: v[1],
                    rx_errors: v[2],
                    rx_dropped: v[3],
                    tx_bytes: v[8],
                    tx_packets: v[9],
                    tx_errors: v[10],
                    tx_dropped: v[11],
                },
            ))
        })
        .collect()
}

/// Host CPU time in nanoseconds, from /proc/stat, as Docker reports it.
fn system_cpu_usage() -> u64 {
    let tick = 1_000_000_000 / 100; // USER_HZ is 100 on Linux
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("cpu ")).map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(7)
                    .filter_map(|x| x.parse::<u64>().ok())
                    .sum::<u64>()
                    * tick
            })
        })
        .unwrap_or(0)
}

/// Reads one sample of the cgroup `rel` (e.g. `/default/<id>`).
pub fn sample(
    rel: &str,
    pid: u32,
) -> (
    CpuStats,
    MemoryStats,
    PidsStats,
    Vec<BlkioStatEntry>,
    Option<HashMap<String, NetworkStats>>,
) {
    let v1 = |ctrl: &str, file: &str| -> PathBuf {
        Path::new(CGROUP_ROOT)
            .join(ctrl)
            .join(rel.trim_start_matches('/'))
            .join(file)
    };
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let mut cpu = CpuStats {
        system_cpu_usage: system_cpu_usage(),
        online_cpus: ncpu,
        ..Default::default()
    };
    let mut mem = MemoryStats::default();
    let mut pids = PidsStats::default();
    let unified = Path::new(CGROUP_ROOT).join("cgroup.controllers").exists();
    let blkio;
    if unified {
        let dir = Path::new(CGROUP_ROOT).join(rel.trim_start_matches('/'));
        let cs = parse_kv(&std::fs::read_to_string(dir.join("cpu.stat")).unwrap_or_default());
        cpu.cpu_usage.total_usage = cs.get("usage_usec").copied().unwrap_or(0) * 1000;
        cpu.cpu_usage.usage_in_usermode = cs.get("user_usec").copied().unwrap_or(0) * 1000;
        cpu.cpu_usage.usage_in_kernelmode = cs.get("system_usec").copied().unwrap_or(0) * 1000;
        cpu.throttling_data.periods = cs.get("nr_periods").copied().unwrap_or(0);
        cpu.throttling_data.throttled_periods = cs.get("nr_throttled").copied().unwrap_or(0);
        cpu.throttling_data.throttled_time = cs.get("throttled_usec").copied().unwrap_or(0) * 1000;
        mem.usage = read_u64(&dir.join("memory.current"));
        mem.limit = read_u64(&dir.join("memory.max"));
        mem.stats = parse_kv(&std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default());
        pids.current = read_u64(&dir.join("pids.current"));
        pids.limit = read_u64(&dir.join("pids.max"));
        blkio = Vec::new();
    } else {
        cpu.cpu_usage.total_usage = read_u64(&v1("cpuacct", "cpuacct.usage"));
        cpu.cpu_usage.percpu_usage = std::fs::read_to_string(v1("cpuacct", "cpuacct.usage_percpu"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let st =
            parse_kv(&std::fs::read_to_string(v1("cpuacct", "cpuacct.stat")).unwrap_or_default());
        cpu.cpu_usage.usage_in_usermode = st.get("user").copied().unwrap_or(0) * 10_000_000;
        cpu.cpu_usage.usage_in_kernelmode = st.get("system").copied().unwrap_or(0) * 10_000_000;
        let th = parse_kv(&std::fs::read_to_string(v1("cpu", "cpu.stat")).unwrap_or_default());
        cpu.throttling_data.periods = th.get("nr_periods").copied().unwrap_or(0);
        cpu.throttling_data.throttled_periods = th.get("nr_throttled").copied().unwrap_or(0);
        cpu.throttling_data.throttled_time = th.get("throttled_time").copied().unwrap_or(0);
        mem.usage = read_u64(&v1("memory", "memory.usage_in_bytes"));
        mem.max_usage = read_u64(&v1("memory", "memory.max_usage_in_bytes"));
        mem.limit = read_u64(&v1("memory", "memory.limit_in_bytes"));
        mem.stats =
            parse_kv(&std::fs::read_to_string(v1("memory", "memory.stat")).unwrap_or_default());
        pids.current = read_u64(&v1("pids", "pids.current"));
        pids.limit = read_u64(&v1("pids", "pids.max"));
        blkio = parse_blkio(
            &std::fs::read_to_string(v1("blkio", "blkio.throttle.io_service_bytes"))
                .unwrap_or_default(),
        );
    }
    // Unlimited shows as the host's memory, as Docker reports it.
    let host_mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            parse_kv(&s.replace(':', ""))
                .get("MemTotal")
                .map(|kb| kb * 1024)
        })
        .unwrap_or(u64::MAX);
    if mem.limit == 0 || mem.limit > host_mem {
        mem.limit = host_mem;
    }
    let nets = (pid != 0)
        .then(|| std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok())
        .flatten()
        .map(|s| parse_net_dev(&s))
        .filter(|n| !n.is_empty());
    (cpu, mem, pids, blkio, nets)
}

impl ContainerMgr {
    /// One stats sample; `pre` is the previous sample's CPU figures and time.
    pub fn stats(&self, reference: &str, pre: Option<(&CpuStats, &str)>) -> Result<Stats> {
        let c = self.get(reference)?;
        let m = c.meta();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let mut s = Stats {
            read: now,
            preread: pre
                .map(|(_, t)| t.to_string())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
            name: format!("/{}", m.name),
            id: m.id.clone(),
            precpu_stats: pre.map(|(p, _)| p.clone()).unwrap_or_default(),
            ..Default::default()
        };
        if m.state.status.is_alive() {
            let rel = format!("/{}/{}", self.cfg.namespace, m.id);
            let (cpu, mem, pids, blkio, nets) = sample(&rel, m.state.pid);
            s.cpu_stats = cpu;
            s.memory_stats = mem;
            s.pids_stats = pids;
            s.blkio_stats.io_service_bytes_recursive = Some(blkio);
            s.networks = nets;
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_and_proc_files() {
        let kv = parse_kv("cache 10\nrss 20\nbogus\n");
        assert_eq!((kv["cache"], kv["rss"], kv.len()), (10, 20, 2));
        let b = parse_blkio("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].major, b[0].op.as_str(), b[0].value),
            (8, "Read", 4096)
        );
        let net = "Inter-|   Receive\n face |bytes\n    lo: 1 2 0 0 0 0 0 0 1 2 0 0 0 0 0 0\n  eth0: 100 3 0 1 0 0 0 0 200 4 0 0 0 0 0 0\n";
        let n = parse_net_dev(net);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n["eth0"].rx_bytes, n["eth0"].tx_bytes, n["eth0"].rx_dropped),
            (100, 200, 1)
        );
    }
}
