//! The figures `docker stats` derives from two samples.

use super::*;

/// CPU usage in percent of one CPU: the container's share of the
/// system's CPU time between two samples, times the number of CPUs.
pub fn cpu_percent(pre: &CpuStats, cur: &CpuStats) -> f64 {
    let cpu_delta = cur.cpu_usage.total_usage as f64 - pre.cpu_usage.total_usage as f64;
    let system_delta = cur.system_cpu_usage as f64 - pre.system_cpu_usage as f64;
    let mut online = f64::from(cur.online_cpus);
    if online == 0.0 {
        online = cur.cpu_usage.percpu_usage.len() as f64;
    }
    if system_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory used without the page cache that can be reclaimed: usage minus
/// `total_inactive_file` (cgroup v1) or `inactive_file` (v2).
pub fn mem_usage_no_cache(m: &MemoryStats) -> f64 {
    if let Some(&v) = m.stats.get("total_inactive_file") {
        if v < m.usage {
            return (m.usage - v) as f64;
        }
    }
    let v = m.stats.get("inactive_file").copied().unwrap_or(0);
    if v < m.usage {
        (m.usage - v) as f64
    } else {
        m.usage as f64
    }
}

pub fn mem_percent(limit: f64, used: f64) -> f64 {
    if limit != 0.0 {
        used / limit * 100.0
    } else {
        0.0
    }
}

/// Received and transmitted bytes over all interfaces.
pub fn network_io(n: Option<&HashMap<String, NetworkStats>>) -> (f64, f64) {
    n.into_iter()
        .flat_map(HashMap::values)
        .fold((0.0, 0.0), |(rx, tx), s| {
            (rx + s.rx_bytes as f64, tx + s.tx_bytes as f64)
        })
}

/// Bytes read and written (`io_service_bytes_recursive`).
pub fn block_io(b: &BlkioStats) -> (u64, u64) {
    let mut read = 0u64;
    let mut write = 0u64;
    for e in b.io_service_bytes_recursive.iter().flatten() {
        match e.op.as_bytes().first() {
            Some(b'r' | b'R') => read = read.saturating_add(e.value),
            Some(b'w' | b'W') => write = write.saturating_add(e.value),
            _ => {}
        }
    }
    (read, write)
}

/// The figures of a sample.
pub fn entry_from(container: &str, s: &Stats) -> StatsEntry {
    let memory = mem_usage_no_cache(&s.memory_stats);
    let limit = s.memory_stats.limit as f64;
    let (network_rx, network_tx) = network_io(s.networks.as_ref());
    let (block_read, block_write) = block_io(&s.blkio_stats);
    StatsEntry {
        container: container.to_string(),
        name: s.name.clone(),
        id: s.id.clone(),
        cpu_percentage: cpu_percent(&s.precpu_stats, &s.cpu_stats),
        memory,
        memory_limit: limit,
        memory_percentage: mem_percent(limit, memory),
        network_rx,
        network_tx,
        block_read: block_read as f64,
        block_write: block_write as f64,
        pids_current: s.pids_stats.current,
        is_invalid: false,
    }
}
