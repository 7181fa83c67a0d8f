//! /proc and /sys helpers: processes, memory, mounts, cgroups, and the
//! last-resort sweep of everything a bench run left behind.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A process as seen in /proc.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub comm: String,
    pub state: char,
    pub cmdline: String,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let mut rest = stat[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = raw
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Some(Proc {
        pid,
        ppid,
        comm,
        state,
        cmdline,
    })
}

/// Every process of the machine (zombies included).
pub fn procs() -> Vec<Proc> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .collect()
}

/// True while `pid` is in /proc at all (zombies too).
pub fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    read_proc(pid).is_some_and(|p| p.state != 'Z' && p.state != 'X')
}

fn status_kib(pid: i32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU time (user + system) `pid` has used so far, in seconds.
pub fn cpu_secs(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ticks as f64 / hz)
}

/// Peak resident set size in KiB since the last `reset_peak_rss`.
pub fn peak_rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "status", "VmHWM:")
}

/// Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`).
pub fn reset_peak_rss(pid: i32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// Resident set size in KiB.
pub fn rss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "status", "VmRSS:")
}

/// Proportional set size in KiB (shared pages split among their users).
pub fn pss_kib(pid: i32) -> Option<u64> {
    status_kib(pid, "smaps_rollup", "Pss:")
}

/// Live processes whose comm passes `comm` and whose command line contains `needle`.
pub fn find(comm: impl Fn(&str) -> bool, needle: &str) -> Vec<Proc> {
    procs()
        .into_iter()
        .filter(|p| comm(&p.comm) && p.cmdline.contains(needle) && p.state != 'Z')
        .collect()
}

/// Reads a pid file.
pub fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn signal(pid: i32, sig: i32) {
    if pid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Waits until none of `pids` is alive; false on timeout.
pub fn wait_gone(pids: &[i32], timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ancestors() -> HashSet<i32> {
    let mut out = HashSet::new();
    let mut pid = std::process::id() as i32;
    while pid > 0 && out.insert(pid) {
        pid = read_proc(pid).map(|p| p.ppid).unwrap_or(0);
    }
    out
}

/// Processes whose command line mentions `needle`, plus all their
/// descendants (container processes hang below the shims); never this
/// process or its ancestors.
pub fn victims(needle: &str) -> Vec<Proc> {
    let all = procs();
    let protect = ancestors();
    let mut set: HashSet<i32> = all
        .iter()
        .filter(|p| p.cmdline.contains(needle) && !protect.contains(&p.pid))
        .map(|p| p.pid)
        .collect();
    let parent: HashMap<i32, i32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    loop {
        let before = set.len();
        for (pid, ppid) in &parent {
            if set.contains(ppid) && !protect.contains(pid) {
                set.insert(*pid);
            }
        }
        if set.len() == before {
            break;
        }
    }
    all.into_iter().filter(|p| set.contains(&p.pid)).collect()
}

/// Paths of the unix sockets `pid` listens on (from its own netns' table).
fn listening_sockets(pid: i32) -> Vec<PathBuf> {
    let mut inodes = HashSet::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            if let Ok(t) = std::fs::read_link(e.path()) {
                let t = t.to_string_lossy().into_owned();
                if let Some(i) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    inodes.insert(i.to_string());
                }
            }
        }
    }
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/unix")).unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode Path; St 01 = listening.
            (f.len() >= 8 && f[5] == "01" && inodes.contains(f[6]) && f[7].starts_with('/'))
                .then(|| PathBuf::from(f[7]))
        })
        .collect()
}

/// Mount points at or below `dir`, as listed in /proc/self/mountinfo, latest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let d = dir.to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .filter(|m| *m == d || m.starts_with(&format!("{d}/")))
        .map(PathBuf::from)
        .collect();
    out.reverse();
    out
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn umount_lazy(p: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: c is a valid NUL-terminated path.
    unsafe {
        libc::umount2(c.as_ptr(), libc::MNT_DETACH);
    }
}

/// Removes the cgroup `name` (e.g. "bench") and everything below it, in
/// every hierarchy under /sys/fs/cgroup; only empty cgroups can go, so a
/// cgroup still holding processes stays.
pub fn remove_cgroups(name: &str) {
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in rd.flatten() {
        let root = h.path().join(name);
        if root.is_dir() {
            rmdir_tree(&root);
        }
    }
}

fn rmdir_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// What the sweep did, for the log.
#[derive(Debug, Default)]
pub struct Swept {
    pub killed: usize,
    pub unmounted: usize,
    pub sockets: usize,
    /// nat and filter rules of the bench daemon's bridge.
    pub rules: usize,
    pub removed_dir: bool,
    pub problems: Vec<String>,
}

/// Deletes the nat and filter rules tagged with network `name` (pouchd's
/// masquerade and isolation rules of its bridge, as CNI tags its own);
/// returns how many.
fn remove_rules_of(name: &str) -> usize {
    let needle = format!("name: \\\"{name}\\\"");
    let mut n = 0;
    for table in ["nat", "filter"] {
        let Ok(out) = std::process::Command::new("iptables")
            .args(["--wait", "-t", table, "-S"])
            .output()
        else {
            continue;
        };
        for rule in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(spec) = rule.strip_prefix("-A ") else {
                continue;
            };
            if !rule.contains(&needle) {
                continue;
            }
            // `iptables -S` quotes as a shell would; sh reads it back.
            let deleted = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("iptables --wait -t {table} -D {spec}"))
                .status()
                .is_ok_and(|s| s.success());
            n += usize::from(deleted);
        }
    }
    n
}

/// The last resort, also used by `--cleanup-only`: SIGKILL every process
/// mentioning `dir` and its descendants, remove the shim sockets they
/// listened on, unmount what is mounted below `dir`, remove the bench's
/// cgroups and then `dir`, unless something is still mounted there.
pub fn sweep(dir: &Path, cgroups: &[&str]) -> Swept {
    let mut out = Swept::default();
    let needle = dir.to_string_lossy().into_owned();
    for _attempt in 0..3 {
        let v = victims(&needle);
        if v.is_empty() {
            break;
        }
        let mut sockets = Vec::new();
        for p in &v {
            if p.comm.starts_with("containerd-shim") {
                sockets.extend(listening_sockets(p.pid));
            }
        }
        let pids: Vec<i32> = v.iter().map(|p| p.pid).collect();
        for p in &pids {
            signal(*p, libc::SIGKILL);
        }
        out.killed += pids.len();
        if !wait_gone(&pids, Duration::from_secs(10)) {
            out.problems.push("some processes did not die".into());
        }
        for s in sockets {
            // Shim sockets live in /run/containerd/s, outside the bench dir.
            if s.starts_with("/run/containerd/s/") && std::fs::remove_file(&s).is_ok() {
                out.sockets += 1;
            }
        }
    }
    for _pass in 0..3 {
        let m = mounts_under(dir);
        if m.is_empty() {
            break;
        }
        for p in &m {
            umount_lazy(p);
        }
        out.unmounted += m.len();
    }
    for c in cgroups {
        remove_cgroups(c);
    }
    out.rules = remove_rules_of(crate::daemons::BENCH_BRIDGE);
    if dir.exists() {
        if mounts_under(dir).is_empty() {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => out.removed_dir = true,
                Err(e) => out.problems.push(format!("remove {}: {e}", dir.display())),
            }
        } else {
            out.problems
                .push(format!("{} still has mounts; not removed", dir.display()));
        }
    }
    out
}
