//! Removing everything one test daemon left behind: container processes,
//! shims, containerd, mounts, cgroups and the test directory.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Command line of a process, arguments separated by single spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    let parts: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(parts.join(" "))
}

/// All pids in /proc.
pub fn all_pids() -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// True when the process is gone or a zombie.
pub fn is_gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => {
            // "pid (comm) S ..." — comm may hold spaces and parentheses.
            let state = s
                .rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next());
            matches!(state, Some("Z") | Some("X"))
        }
    }
}

pub fn sigkill(pid: i32) {
    if pid > 1 && pid != std::process::id() as i32 {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn wait_gone(pids: &[i32], limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if pids.iter().all(|&p| is_gone(p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Cgroup directories of the namespace `ns` under every mounted hierarchy
/// (`/sys/fs/cgroup/<ctrl>/<ns>`), existing ones only.
fn ns_cgroup_roots(ns: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(CGROUP_ROOT) {
        for e in rd.flatten() {
            let p = e.path().join(ns);
            if p.is_dir() {
                out.push(p);
            }
        }
    }
    // A pure cgroup v2 host.
    let p = Path::new(CGROUP_ROOT).join(ns);
    if p.join("cgroup.procs").exists() && !out.contains(&p) {
        out.push(p);
    }
    out
}

/// Every directory under `root` (itself included), deepest first.
fn dirs_deepest_first(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = fs::read_dir(p) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(&e.path(), out);
                }
            }
        }
        out.push(p.to_path_buf());
    }
    walk(root, &mut out);
    out
}

/// Pids in the cgroups of namespace `ns`.
pub fn cgroup_pids(ns: &str) -> BTreeSet<i32> {
    let mut pids = BTreeSet::new();
    for root in ns_cgroup_roots(ns) {
        for d in dirs_deepest_first(&root) {
            if let Ok(s) = fs::read_to_string(d.join("cgroup.procs")) {
                pids.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
    }
    pids
}

/// Thaws frozen (paused) cgroups: SIGKILL does not act on frozen tasks.
fn thaw(ns: &str) {
    for root in ns_cgroup_roots(ns) {
        for d in dirs_deepest_first(&root) {
            let v1 = d.join("freezer.state");
            if v1.exists() {
                let _ = fs::write(&v1, "THAWED");
            }
            let v2 = d.join("cgroup.freeze");
            if v2.exists() {
                let _ = fs::write(&v2, "0");
            }
        }
    }
}

/// Kills every process in the namespace's cgroups (container processes).
pub fn kill_cgroup_processes(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        thaw(ns);
        let pids: Vec<i32> = cgroup_pids(ns)
            .into_iter()
            .filter(|&p| !is_gone(p))
            .collect();
        if pids.is_empty() || Instant::now() > deadline {
            if !pids.is_empty() {
                eprintln!("[pouch-tests] cgroup processes of {ns} survive SIGKILL: {pids:?}");
            }
            return;
        }
        for &p in &pids {
            sigkill(p);
        }
        wait_gone(&pids, Duration::from_millis(500));
    }
}

/// Kills processes whose command line matches, and waits for them to go.
pub fn kill_matching(pred: impl Fn(&str) -> bool) -> Vec<i32> {
    let me = std::process::id() as i32;
    let victims: Vec<i32> = all_pids()
        .into_iter()
        .filter(|&p| p != me && !is_gone(p))
        .filter(|&p| cmdline(p).map(|c| pred(&c)).unwrap_or(false))
        .collect();
    for &p in &victims {
        sigkill(p);
    }
    wait_gone(&victims, Duration::from_secs(5));
    victims
}

/// Decodes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or under `dir`, in mountinfo order.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    let prefix = format!("{d}/");
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape))
        .filter(|m| *m == d || m.starts_with(&prefix))
        .collect()
}

/// Lazily unmounts everything under `dir`, deepest (and latest) first.
pub fn unmount_all(dir: &Path) {
    for _ in 0..5 {
        let mut mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        mounts.reverse();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.matches('/').count()));
        for m in mounts {
            if let Ok(c) = CString::new(m.clone()) {
                // SAFETY: c is a valid NUL-terminated path.
                let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                if rc != 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EINVAL)
                        && e.raw_os_error() != Some(libc::ENOENT)
                    {
                        eprintln!("[pouch-tests] umount {m}: {e}");
                    }
                }
            }
        }
    }
}

/// Removes the namespace's cgroup directories under every hierarchy.
pub fn remove_cgroups(ns: &str) {
    for _ in 0..20 {
        let roots = ns_cgroup_roots(ns);
        if roots.is_empty() {
            return;
        }
        for root in roots {
            for d in dirs_deepest_first(&root) {
                let _ = fs::remove_dir(&d);
            }
        }
        if ns_cgroup_roots(ns).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for root in ns_cgroup_roots(ns) {
        eprintln!("[pouch-tests] cannot remove cgroup {}", root.display());
    }
}

/// The runc v2 shims keep runc's state of namespace `ns` under
/// `/run/containerd/runc/<ns>` (outside the test dir); its containers are
/// gone by now.
pub fn remove_runc_state(ns: &str) {
    if ns.is_empty() || ns.contains('/') || ns.starts_with('.') {
        return;
    }
    let dir = Path::new("/run/containerd/runc").join(ns);
    if dir.is_dir() {
        if let Err(e) = fs::remove_dir_all(&dir) {
            eprintln!("[pouch-tests] cannot remove {}: {e}", dir.display());
        }
    }
}

/// Unix socket paths the runc v2 shims of namespace `ns` listen on (from
/// the `address` file of each task bundle under containerd's state dir).
pub fn shim_sockets(state_dir: &Path, ns: &str) -> Vec<PathBuf> {
    let dir = state_dir.join("io.containerd.runtime.v2.task").join(ns);
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if let Ok(a) = fs::read_to_string(e.path().join("address")) {
                let a = a.trim();
                let p = a.strip_prefix("unix://").unwrap_or(a);
                if p.starts_with('/') {
                    out.push(PathBuf::from(p));
                }
            }
        }
    }
    out
}

/// Everything of one test daemon, in an order that works: container
/// processes (they survive their shim), shims, containerd, anything else
/// mentioning the directory, mounts, cgroups, sockets, the directory.
/// The name of the lock file that marks a test dir as in use.
pub const OWNER_LOCK: &str = ".owner";

/// Marks `dir` as in use for as long as the returned file is open (an
/// exclusive `flock` on `dir/.owner`): `hack/test`'s sweep of leftovers
/// leaves dirs it cannot lock alone, so two test runs on one machine do not
/// kill each other's daemons.
pub fn claim(dir: &Path) -> fs::File {
    let path = dir.join(OWNER_LOCK);
    let f = fs::File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on a file descriptor we own.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(r, 0, "lock {}", path.display());
    f
}

pub fn cleanup(dir: &Path, ns: &str) {
    let dir_s = dir.to_string_lossy().to_string();
    let ctrd_sock = format!("{dir_s}/containerd.sock");
    let shim_socks = shim_sockets(&dir.join("run").join("containerd"), ns);

    kill_cgroup_processes(ns);
    let ns_arg = format!("-namespace {ns} ");
    let addr_arg = format!("-address {ctrd_sock}");
    kill_matching(|c| {
        c.contains("containerd-shim") && c.contains(&ns_arg) && c.contains(&addr_arg)
    });
    // A shim may have started a container process after the first pass.
    kill_cgroup_processes(ns);
    let config = format!("{dir_s}/home/containerd/pouchd-containerd.toml");
    kill_matching(|c| c.contains(&config));
    // Stragglers: runc, pouchd children, CLI processes pointed at this dir.
    let needle = format!("{dir_s}/");
    kill_matching(|c| c.contains(&needle));

    unmount_all(dir);
    remove_cgroups(ns);
    remove_runc_state(ns);
    for s in shim_socks {
        let _ = fs::remove_file(s);
    }
    if !mounts_under(dir).is_empty() {
        eprintln!(
            "[pouch-tests] not removing {}: still mounted: {:?}",
            dir.display(),
            mounts_under(dir)
        );
        return;
    }
    if let Err(e) = fs::remove_dir_all(dir) {
        // A process may have been writing during removal; once more.
        std::thread::sleep(Duration::from_millis(100));
        if let Err(e2) = fs::remove_dir_all(dir) {
            if dir.exists() {
                eprintln!("[pouch-tests] cannot remove {}: {e}; {e2}", dir.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape(r"/plain"), "/plain");
        assert_eq!(unescape(r"/x\"), "/x\\");
    }
}
