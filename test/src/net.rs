//! Per-daemon networking of the tests: each test daemon gets its own bridge
//! (named like its containerd namespace) and its own /24 out of
//! 10.213.0.0/16, held by a file lock so that daemons of tests running side
//! by side (threads or processes) never share one; and removing what a
//! daemon's containers left: the bridge, iptables rules and chains of its
//! CNI network, and the portmap chains all daemons share once none is left.

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

/// Lock files live outside the `/tmp/pouch-test-*` dirs that cleanups remove.
const LOCK_DIR: &str = "/tmp/pouch-tests-netlocks";
const SUBNETS: u32 = 256;

fn flock(f: &File, op: libc::c_int) -> bool {
    // SAFETY: flock on a descriptor we own.
    unsafe { libc::flock(f.as_raw_fd(), op) == 0 }
}

fn lock_file(name: &str) -> File {
    fs::create_dir_all(LOCK_DIR).expect("create net lock dir");
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(Path::new(LOCK_DIR).join(name))
        .expect("open net lock file")
}

/// A daemon's bridge and subnet, held while it lives.
pub struct TestNet {
    pub bridge: String,
    /// Third octet of `10.213.x.0/24`.
    pub index: u32,
    _subnet_lock: File,
    /// Shared while a daemon lives: whoever gets it exclusively knows no
    /// daemon is left to need the shared portmap chains.
    users: Option<File>,
}

impl TestNet {
    pub fn new(bridge: &str) -> TestNet {
        let users = lock_file("users");
        assert!(flock(&users, libc::LOCK_SH), "flock users");
        let start = std::process::id() % SUBNETS;
        for i in 0..SUBNETS {
            let index = (start + i * 37) % SUBNETS;
            let f = lock_file(&format!("subnet-{index}"));
            if flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
                return TestNet {
                    bridge: bridge.to_string(),
                    index,
                    _subnet_lock: f,
                    users: Some(users),
                };
            }
        }
        panic!("no free test subnet in 10.213.0.0/16");
    }

    /// `--bip` of the daemon.
    pub fn bip(&self) -> String {
        format!("10.213.{}.1/24", self.index)
    }

    /// `10.213.x.`: every container address of this daemon starts so.
    pub fn prefix(&self) -> String {
        format!("10.213.{}.", self.index)
    }

    /// The pool of the daemon's user-defined networks: `10.214.x.0/24`
    /// in /28s, sixteen networks.
    pub fn pool(&self) -> String {
        format!("base=10.214.{}.0/24,size=28", self.index)
    }

    /// `10.214.x.`: every address on this daemon's user-defined networks
    /// starts so.
    pub fn pool_prefix(&self) -> String {
        format!("10.214.{}.", self.index)
    }

    /// pouchd flags giving it this bridge and subnet.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--bridge-name".into(),
            self.bridge.clone(),
            "--bip".into(),
            self.bip(),
            "--default-address-pool".into(),
            self.pool(),
        ]
    }

    /// Removes the daemon's network leftovers (its processes and netns
    /// mounts must be gone already).
    pub fn cleanup(&mut self) {
        remove_network(&self.bridge);
        for b in bridges_with_prefix(&self.pool_prefix()) {
            remove_network(&b);
        }
        if let Some(users) = self.users.take() {
            let _ = flock(&users, libc::LOCK_UN);
            if flock(&users, libc::LOCK_EX | libc::LOCK_NB) {
                remove_idle_hostport_chains();
                remove_idle_isolation_chains();
                let _ = flock(&users, libc::LOCK_UN);
            }
        }
    }
}

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `script` (a nat table batch) in two batches, deletions of chains
/// last: iptables-nft refuses to delete a chain whose last reference goes
/// in the same batch.
fn restore(script: &str) {
    let (x, rest): (Vec<&str>, Vec<&str>) = script.lines().partition(|l| l.starts_with("-X "));
    restore_batch(&(rest.join("\n") + "\n"));
    if !x.is_empty() {
        restore_batch(&format!("*nat\n{}\nCOMMIT\n", x.join("\n")));
    }
}

fn restore_batch(script: &str) {
    let child = Command::new("iptables-restore")
        .arg("--noflush")
        .arg("--wait")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("[pouch-tests] cannot run iptables-restore");
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(script.as_bytes());
    }
    match child.wait_with_output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => eprintln!(
            "[pouch-tests] iptables-restore failed: {}\n{script}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("[pouch-tests] iptables-restore: {e}"),
    }
}

/// The nat table as `iptables-save` prints it.
pub fn nat_rules() -> String {
    run("iptables-save", &["-t", "nat"]).unwrap_or_default()
}

/// `-A` lines of the filter table tagged with network `name` (pouchd's
/// isolation rules).
pub fn filter_rules_of(name: &str) -> Vec<String> {
    let needle = format!("name: \\\"{name}\\\"");
    run("iptables-save", &["-t", "filter"])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("-A ") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// The filter rules of network `name`.
fn remove_filter_rules_of(name: &str) {
    let rules = filter_rules_of(name);
    if rules.is_empty() {
        return;
    }
    let mut script = String::from("*filter\n");
    for r in &rules {
        script.push_str(&format!("-D{}\n", &r[2..]));
    }
    script.push_str("COMMIT\n");
    restore_batch(&script);
}

/// pouchd's shared isolation chains, once no rule is left in them.
fn remove_idle_isolation_chains() {
    let rules = run("iptables-save", &["-t", "filter"]).unwrap_or_default();
    let chains = ["POUCH-ISOLATION-STAGE-1", "POUCH-ISOLATION-STAGE-2"];
    if !rules
        .lines()
        .any(|l| l.starts_with(&format!(":{}", chains[0])))
    {
        return;
    }
    let used = rules
        .lines()
        .any(|l| chains.iter().any(|c| l.starts_with(&format!("-A {c} "))));
    if used {
        return;
    }
    restore_batch("*filter\n-D FORWARD -j POUCH-ISOLATION-STAGE-1\nCOMMIT\n");
    restore_batch("*filter\n-X POUCH-ISOLATION-STAGE-1\n-X POUCH-ISOLATION-STAGE-2\nCOMMIT\n");
}

/// `-A` lines of the nat table mentioning the CNI network `name`.
pub fn rules_of(name: &str) -> Vec<String> {
    let needle = format!("name: \\\"{name}\\\"");
    nat_rules()
        .lines()
        .filter(|l| l.starts_with("-A ") && l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// The nat rules of network `name` that belong to its containers: all but
/// the daemon's own masquerade rule of the subnet.
pub fn container_rules_of(name: &str) -> Vec<String> {
    rules_of(name)
        .into_iter()
        .filter(|r| !r.contains("pouchd masquerade"))
        .collect()
}

/// `-j CHAIN` of a rule.
fn jump_target(rule: &str) -> Option<&str> {
    let mut words = rule.split_whitespace();
    while let Some(w) = words.next() {
        if w == "-j" {
            return words.next();
        }
    }
    None
}

/// Rules tagged with network `name` and the per-container chains they jump
/// to (CNI-<hash> of the bridge plugin, CNI-DN-<hash> of portmap).
fn remove_rules_of(name: &str) {
    let rules = rules_of(name);
    if rules.is_empty() {
        return;
    }
    let mut chains: Vec<String> = rules
        .iter()
        .filter_map(|r| jump_target(r))
        .filter(|c| c.starts_with("CNI-") && !c.starts_with("CNI-HOSTPORT-"))
        .map(str::to_string)
        .collect();
    chains.sort();
    chains.dedup();
    let mut script = String::from("*nat\n");
    for r in &rules {
        // Rules inside the per-container chains go with their chain.
        let chain = r.split_whitespace().nth(1).unwrap_or("");
        if !chains.iter().any(|c| c == chain) {
            script.push_str(&format!("-D{}\n", &r[2..]));
        }
    }
    for c in &chains {
        script.push_str(&format!("-F {c}\n-X {c}\n"));
    }
    script.push_str("COMMIT\n");
    restore(&script);
}

/// portmap's shared chains, once no container rule is left in them.
fn remove_idle_hostport_chains() {
    let rules = nat_rules();
    let in_dnat = rules
        .lines()
        .any(|l| l.starts_with("-A CNI-HOSTPORT-DNAT "));
    if in_dnat {
        return;
    }
    let chains: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| c.starts_with("CNI-HOSTPORT-"))
        .collect();
    if chains.is_empty() {
        return;
    }
    let mut script = String::from("*nat\n");
    for l in rules.lines() {
        let chain = l.split_whitespace().nth(1).unwrap_or("");
        if l.starts_with("-A ")
            && !chain.starts_with("CNI-HOSTPORT-")
            && jump_target(l).is_some_and(|t| t.starts_with("CNI-HOSTPORT-"))
        {
            script.push_str(&format!("-D{}\n", &l[2..]));
        }
    }
    for c in &chains {
        script.push_str(&format!("-F {c}\n"));
    }
    for c in &chains {
        script.push_str(&format!("-X {c}\n"));
    }
    script.push_str("COMMIT\n");
    restore(&script);
}

/// The bridges of the user-defined networks a daemon with home `home`
/// keeps (`<home>/networks/*.json`).
pub fn user_network_bridges(home: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(home.join("networks")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter_map(|v| v["bridge"]["name"].as_str().map(str::to_string))
        .collect()
}

/// Links with an IPv4 address starting with `prefix` (`10.214.3.`): the
/// bridges of a test daemon's user-defined networks.
pub fn bridges_with_prefix(prefix: &str) -> Vec<String> {
    let out = run("ip", &["-o", "-4", "addr", "show"]).unwrap_or_default();
    let mut links: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let addr = f.get(3)?;
            addr.starts_with(prefix)
                .then(|| f.get(1).map(|n| n.to_string()))?
        })
        .collect();
    links.sort();
    links.dedup();
    links
}

/// Whether a link of that name exists.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Host-side veths enslaved to `bridge`.
pub fn bridge_ports(bridge: &str) -> Vec<String> {
    let Ok(rd) = fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect()
}

/// The bridge (with any veth still on it) and the iptables rules of the
/// CNI network named after it.
pub fn remove_network(bridge: &str) {
    for veth in bridge_ports(bridge) {
        let _ = run("ip", &["link", "del", &veth]);
    }
    if link_exists(bridge) && run("ip", &["link", "del", bridge]).is_none() && link_exists(bridge) {
        eprintln!("[pouch-tests] cannot delete bridge {bridge}");
    }
    remove_rules_of(bridge);
    remove_filter_rules_of(bridge);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_jump_targets() {
        assert_eq!(
            jump_target(
                r#"-A POSTROUTING -s 10.0.0.2/32 -m comment --comment "name: \"x\" id: \"y\"" -j CNI-abc"#
            ),
            Some("CNI-abc")
        );
        assert_eq!(jump_target("-A X -s 1.2.3.4"), None);
    }
}
