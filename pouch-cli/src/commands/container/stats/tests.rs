use pouch_api::stats::{BlkioStatEntry, CpuUsage, PidsStats};

use super::render::percentage;
use super::*;

fn cpu(total: u64, system: u64, online: u32) -> CpuStats {
    CpuStats {
        cpu_usage: CpuUsage {
            total_usage: total,
            ..Default::default()
        },
        system_cpu_usage: system,
        online_cpus: online,
        ..Default::default()
    }
}

#[test]
fn cpu_percentages() {
    // 0.5 s of CPU in 4 s of system time on 4 CPUs: half a CPU.
    let pre = cpu(1_000_000_000, 100_000_000_000, 4);
    let cur = cpu(1_500_000_000, 104_000_000_000, 4);
    assert!((cpu_percent(&pre, &cur) - 50.0).abs() < 1e-9);
    // No system progress, no CPU progress, or a reset: 0.
    assert_eq!(cpu_percent(&cur, &cur), 0.0);
    assert_eq!(cpu_percent(&cur, &pre), 0.0);
    // Online CPUs unknown: the per-CPU list counts.
    let mut cur2 = cpu(1_500_000_000, 104_000_000_000, 0);
    cur2.cpu_usage.percpu_usage = vec![1, 2];
    assert!((cpu_percent(&pre, &cur2) - 25.0).abs() < 1e-9);
    assert_eq!(percentage(12.345), "12.35%");
    assert_eq!(percentage(0.0), "0.00%");
}

#[test]
fn memory_and_io() {
    let mut m = MemoryStats {
        usage: 10 << 20,
        limit: 100 << 20,
        ..Default::default()
    };
    m.stats.insert("inactive_file".into(), 2 << 20);
    assert_eq!(mem_usage_no_cache(&m), (8 << 20) as f64);
    m.stats.insert("total_inactive_file".into(), 4 << 20);
    assert_eq!(mem_usage_no_cache(&m), (6 << 20) as f64);
    m.stats.insert("total_inactive_file".into(), 20 << 20);
    assert_eq!(mem_usage_no_cache(&m), (8 << 20) as f64);
    assert_eq!(mem_percent(0.0, 5.0), 0.0);
    assert_eq!(mem_percent(200.0, 50.0), 25.0);

    let mut nets = HashMap::new();
    for (k, rx, tx) in [("eth0", 1000, 10), ("eth1", 500, 5)] {
        nets.insert(
            k.to_string(),
            NetworkStats {
                rx_bytes: rx,
                tx_bytes: tx,
                ..Default::default()
            },
        );
    }
    assert_eq!(network_io(Some(&nets)), (1500.0, 15.0));
    assert_eq!(network_io(None), (0.0, 0.0));
    let e = |op: &str, value| BlkioStatEntry {
        op: op.into(),
        value,
        ..Default::default()
    };
    let b = BlkioStats {
        io_service_bytes_recursive: Some(vec![
            e("Read", 4096),
            e("write", 100),
            e("Sync", 7),
            e("read", 4),
            e("", 1),
        ]),
        ..Default::default()
    };
    assert_eq!(block_io(&b), (4100, 100));
}

fn sample() -> Stats {
    let mut s = Stats {
        name: "/web".into(),
        id: "0123456789abcdef0123".into(),
        cpu_stats: cpu(2_000_000_000, 20_000_000_000, 2),
        precpu_stats: cpu(1_000_000_000, 10_000_000_000, 2),
        memory_stats: MemoryStats {
            usage: 3 << 20,
            limit: 2 << 30,
            ..Default::default()
        },
        pids_stats: PidsStats {
            current: 3,
            limit: 0,
        },
        ..Default::default()
    };
    let mut nets = HashMap::new();
    nets.insert(
        "eth0".into(),
        NetworkStats {
            rx_bytes: 1234,
            tx_bytes: 0,
            ..Default::default()
        },
    );
    s.networks = Some(nets);
    s
}

#[test]
fn table_like_docker() {
    let e = entry_from("web", &sample());
    assert!((e.cpu_percentage - 20.0).abs() < 1e-9);
    let f = ListFormat::parse(&format_string(None)).unwrap();
    let mut invalid = StatsEntry {
        container: "db".into(),
        id: "fedcba9876543210".into(),
        ..Default::default()
    };
    invalid.is_invalid = true;
    let out = render(&[e.clone(), invalid], &f, true).unwrap();
    let want = "\
CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       BLOCK I/O   PIDS
0123456789ab   web       20.00%    3MiB / 2GiB         0.15%     1.23kB / 0B   0B / 0B     3
fedcba987654   --        --        -- / --             --        --            --          --
";
    assert_eq!(out, want);

    let f = ListFormat::parse("{{.Container}}: {{.CPUPerc}} {{.MemPerc}}").unwrap();
    assert_eq!(
        render(std::slice::from_ref(&e), &f, true).unwrap(),
        "web: 20.00% 0.15%\n"
    );
    let f = ListFormat::parse("table {{.Name}}\\t{{.PIDs}}").unwrap();
    assert_eq!(
        render(std::slice::from_ref(&e), &f, false).unwrap(),
        "NAME      PIDS\nweb       3\n"
    );
    let f = ListFormat::parse("{{json .}}").unwrap();
    let line = render(&[e], &f, false).unwrap();
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["ID"], "0123456789abcdef0123");
    assert_eq!(v["MemUsage"], "3MiB / 2GiB");
    assert_eq!(v["BlockIO"], "0B / 0B");
}

#[test]
fn frames_redraw_in_place() {
    assert_eq!(frame("A\nB\n"), "\x1b[HA\x1b[K\nB\x1b[K\n\x1b[J");
}
