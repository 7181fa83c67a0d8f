//! Test harness: a private pouchd (and the containerd it starts) per test,
//! under `/tmp/pouch-test-*`, with the docker CLI, a bollard client and a
//! raw HTTP client pointed at it, and a `Drop` that removes everything the
//! test created, even when the test panicked.

pub mod archive;
pub mod cleanup;
pub mod cli;
pub mod containers_api;
pub mod http;
pub mod images;
pub mod net;
pub mod registry;
pub mod tarball;
pub mod waits;

pub use cli::{run_with_timeout, Output};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use http::Response;

/// The prefix `hack/test` looks for when it removes leftovers.
pub const DIR_PREFIX: &str = "/tmp/pouch-test-";

/// The image every daemon gets unless told otherwise.
pub const IMAGE: &str = "busybox:latest";

/// The workspace root (parent of this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent dir")
        .to_path_buf()
}

fn env_path(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => default(),
    }
}

pub fn pouchd_bin() -> PathBuf {
    env_path("POUCHD_BIN", || workspace().join("target/debug/pouchd"))
}

/// The pouch CLI (`$POUCH_BIN`, default `target/debug/pouch`).
pub fn pouch_bin() -> PathBuf {
    env_path("POUCH_BIN", || workspace().join("target/debug/pouch"))
}

pub fn docker_bin() -> PathBuf {
    env_path("POUCH_TEST_DOCKER_BIN", || PathBuf::from("/usr/bin/docker"))
}

/// The docker-archive test image (built on first use when missing).
pub fn test_image() -> PathBuf {
    match std::env::var_os("POUCH_TEST_IMAGE") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => ensure_image(&workspace().join("target/images/busybox.tar"), false),
    }
}

/// The OCI-layout test image (built on first use when missing).
pub fn test_image_oci() -> PathBuf {
    match std::env::var_os("POUCH_TEST_IMAGE_OCI") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => ensure_image(&workspace().join("target/images/busybox-oci.tar"), true),
    }
}

/// Builds an image tar with `hack/build-test-image` unless it exists,
/// under a file lock: tests run in parallel.
fn ensure_image(path: &Path, oci: bool) -> PathBuf {
    if path.exists() {
        return path.to_path_buf();
    }
    let dir = path.parent().expect("image path has a parent");
    fs::create_dir_all(dir).expect("create image dir");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".build.lock"))
        .expect("open image lock file");
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; released when `lock` closes.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
    if !path.exists() {
        let mut cmd = Command::new(workspace().join("hack/build-test-image"));
        if oci {
            cmd.arg("--oci");
        }
        cmd.arg(path).stdout(Stdio::null());
        let st = cmd.status().expect("run hack/build-test-image");
        assert!(st.success(), "hack/build-test-image failed: {st}");
    }
    drop(lock);
    path.to_path_buf()
}

/// A random lowercase hex string of `n` (<= 16) characters.
pub fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())[..n.min(16)].to_string()
}

/// Whether integration tests can run here; prints why not, or panics when
/// `POUCH_TEST_REQUIRE_ROOT=1` demands that they run.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return true;
    }
    let msg = "pouch integration tests need root (containerd, mounts, cgroups)";
    if std::env::var("POUCH_TEST_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{msg}, and POUCH_TEST_REQUIRE_ROOT=1");
    }
    eprintln!("\n!!!!!! SKIPPED: {msg}; run as root (or hack/test) !!!!!!\n");
    false
}

fn test_name_slug() -> String {
    let name = std::thread::current()
        .name()
        .unwrap_or("")
        .rsplit("::")
        .next()
        .unwrap_or("")
        .to_string();
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() || slug == "main" {
        return "t".to_string();
    }
    // Keep socket paths well under the 108-byte limit.
    let tail: String = slug
        .chars()
        .rev()
        .take(32)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    tail.trim_matches('-').to_string()
}

/// Polls `f` until it returns `Some`, failing the test after `limit`.
#[track_caller]
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Async version of [`wait_for`].
pub async fn wait_for_async<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How to start a daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// Load the busybox docker-archive image after start.
    pub load_image: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { load_image: true }
    }
}

/// One pouchd with its own directories, sockets and containerd namespace.
pub struct TestDaemon {
    /// `/tmp/pouch-test-<name>-<random>`.
    pub dir: PathBuf,
    /// pouchd's API socket.
    pub sock: PathBuf,
    /// The containerd socket pouchd uses (its own containerd).
    pub containerd_sock: PathBuf,
    /// The containerd namespace (and cgroup parent) of this daemon.
    pub ns: String,
    child: Option<Child>,
    /// Extra pouchd flags (kept across restarts).
    extra_args: Vec<String>,
    /// This daemon's bridge and subnet.
    pub net: net::TestNet,
    /// The claim on `dir` (see [`cleanup::claim`]); dropped last, after the
    /// clean-up in `Drop`.
    _owner: fs::File,
}

impl TestDaemon {
    /// Starts a daemon with the test image loaded; `None` when the test
    /// must be skipped (not root).
    pub fn start() -> Option<TestDaemon> {
        Self::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Option<TestDaemon> {
        Self::start_with_args(opts, &[])
    }

    /// Starts a daemon with extra pouchd flags (e.g. `--insecure-registries`).
    pub fn start_with_args(opts: Options, args: &[&str]) -> Option<TestDaemon> {
        if !can_run() {
            return None;
        }
        let slug = test_name_slug();
        let rand = random_hex(6);
        let dir = PathBuf::from(format!("{DIR_PREFIX}{slug}-{rand}"));
        fs::create_dir_all(dir.join("home")).expect("create home dir");
        fs::create_dir_all(dir.join("run")).expect("create run dir");
        fs::create_dir_all(dir.join("docker-config")).expect("create docker config dir");
        let ns = format!("pt-{}", random_hex(10));
        let owner = cleanup::claim(&dir);
        // hack/test keeps the bridge of a namespace named here while the dir
        // is claimed.
        fs::write(dir.join("namespace"), &ns).expect("write namespace file");
        let mut d = TestDaemon {
            sock: dir.join("pouchd.sock"),
            containerd_sock: dir.join("containerd.sock"),
            // The bridge is named like the namespace (13 bytes of 15).
            net: net::TestNet::new(&ns),
            ns,
            dir,
            child: None,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            _owner: owner,
        };
        // From here on, a panic drops `d`, which cleans up.
        d.spawn_and_wait();
        if opts.load_image {
            d.load_image_file(&test_image());
        }
        Some(d)
    }

    /// The daemon's CRI socket.
    pub fn cri_sock(&self) -> PathBuf {
        self.dir.join("cri.sock")
    }

    fn spawn_and_wait(&mut self) {
        let bin = pouchd_bin();
        assert!(
            bin.exists(),
            "{} does not exist: run `cargo build -p pouchd` (or set POUCHD_BIN)",
            bin.display()
        );
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open pouchd log");
        let log2 = log.try_clone().expect("dup log fd");
        let child = Command::new(&bin)
            .arg("--home-dir")
            .arg(self.dir.join("home"))
            .arg("--exec-root-dir")
            .arg(self.dir.join("run"))
            .arg("-l")
            .arg(format!("unix://{}", self.sock.display()))
            .arg("-c")
            .arg(&self.containerd_sock)
            .arg("--default-namespace")
            .arg(&self.ns)
            .arg("--pidfile")
            .arg(self.dir.join("pouchd.pid"))
            .args(self.net.args())
            .arg("--cri-listen")
            .arg(self.cri_sock())
            .args(&self.extra_args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(r) = self.get("/_ping") {
                if r.status == 200 {
                    assert_eq!(r.text(), "OK", "unexpected /_ping body");
                    return;
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("pouchd exited during start-up: {st}");
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("pouchd did not answer /_ping within 30 s");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Loads an image archive with `POST /images/load` and checks the answer.
    pub fn load_image_file(&self, path: &Path) {
        let data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let r = self
            .post_raw("/images/load?quiet=1", Some("application/x-tar"), &data)
            .expect("POST /images/load");
        assert_eq!(
            r.status,
            200,
            "loading {} failed: {}",
            path.display(),
            r.text()
        );
        assert!(
            !r.text().contains("\"error"),
            "loading {} reported an error: {}",
            path.display(),
            r.text()
        );
    }

    /// Runs containerd's own client, `ctr`, on this daemon's containerd and
    /// namespace.
    pub fn ctr(&self, args: &[&str]) -> Output {
        run_with_timeout(
            Command::new("ctr")
                .arg("--address")
                .arg(&self.containerd_sock)
                .arg("--namespace")
                .arg(&self.ns)
                .args(args),
            None,
            Duration::from_secs(30),
        )
    }

    /// Runs containerd's garbage collector synchronously in this daemon's
    /// namespace (`ctr leases delete --sync` of a fresh lease).
    pub fn containerd_gc(&self) {
        let ctr = |args: &[&str]| self.ctr(args);
        let created = ctr(&["leases", "create"]);
        assert!(
            created.status.success(),
            "ctr leases create: {}",
            created.stderr
        );
        let lease = created
            .stdout
            .split_whitespace()
            .next()
            .expect("ctr printed a lease id")
            .to_string();
        let deleted = ctr(&["leases", "delete", "--sync", &lease]);
        assert!(
            deleted.status.success(),
            "ctr leases delete --sync: {}",
            deleted.stderr
        );
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("pouchd.log")
    }

    /// The daemon's log so far (all runs of it).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The log of the containerd pouchd started.
    pub fn containerd_log(&self) -> String {
        fs::read_to_string(self.dir.join("home/containerd/containerd.log")).unwrap_or_default()
    }

    /// pouchd's pid (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Kills pouchd with SIGKILL (containerd, shims and containers stay).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills pouchd (if running) and starts it again with the same dirs.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn_and_wait();
    }

    /// A new empty directory under the test dir, to bind-mount into
    /// containers (e.g. for readiness files).
    pub fn sync_dir(&self) -> PathBuf {
        let p = self.dir.join(format!("sync-{}", random_hex(6)));
        fs::create_dir_all(&p).expect("create sync dir");
        p
    }

    /// A bollard client speaking API 1.41 to this daemon.
    pub fn bollard(&self) -> bollard::Docker {
        bollard::Docker::connect_with_unix(
            &self.sock.to_string_lossy(),
            120,
            &bollard::ClientVersion {
                major_version: 1,
                minor_version: 41,
            },
        )
        .expect("bollard client")
    }

    /// A raw request; `body` is sent as is.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<Response> {
        http::request(&self.sock, method, path, content_type, body)
    }

    pub fn get(&self, path: &str) -> std::io::Result<Response> {
        self.request("GET", path, None, b"")
    }

    pub fn post_raw(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<Response> {
        self.request("POST", path, content_type, body)
    }

    /// POST of a JSON body; panics on transport errors.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.post_raw(path, Some("application/json"), body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// POST without a body; panics on transport errors.
    pub fn post(&self, path: &str) -> Response {
        self.post_raw(path, None, b"")
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// GET; panics on transport errors.
    pub fn get_ok(&self, path: &str) -> Response {
        self.get(path).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A request whose body is read as it arrives (events, stats, follow);
    /// panics unless the response head arrives within 30 s.
    pub fn open_stream(&self, method: &str, path: &str) -> http::Streaming {
        http::open_stream(&self.sock, method, path, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// DELETE; panics on transport errors.
    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, None, b"")
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }

    /// Creates a container over the raw API; returns its ID.
    #[track_caller]
    pub fn create_raw(&self, name: &str, body: serde_json::Value) -> String {
        let path = if name.is_empty() {
            "/v1.41/containers/create".to_string()
        } else {
            format!("/v1.41/containers/create?name={name}")
        };
        let r = self.post_json(&path, &body);
        assert_eq!(r.status, 201, "create failed: {}", r.text());
        r.json()["Id"]
            .as_str()
            .expect("Id in create response")
            .to_string()
    }

    /// `GET /containers/{id}/json` as JSON (panics unless 200).
    #[track_caller]
    pub fn inspect_raw(&self, id: &str) -> serde_json::Value {
        let r = self.get_ok(&format!("/v1.41/containers/{id}/json"));
        assert_eq!(r.status, 200, "inspect {id}: {}", r.text());
        r.json()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            eprintln!(
                "\n===== pouchd log ({}) =====\n{log}\n===== end of pouchd log =====",
                self.log_path().display()
            );
            let clog = self.containerd_log();
            let lines: Vec<&str> = clog
                .lines()
                .filter(|l| !l.contains("loading plugin") && !l.contains("skip loading plugin"))
                .collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            eprintln!(
                "===== containerd log (last {} lines) =====\n{}\n===== end of containerd log =====",
                tail.len(),
                tail.join("\n")
            );
        }
        self.kill9();
        // Read before the directory goes: networks a failed test left, whose
        // rules exist even when no container ever made their bridge.
        let networks = net::user_network_bridges(&self.dir.join("home"));
        cleanup::cleanup(&self.dir, &self.ns);
        for bridge in networks {
            net::remove_network(&bridge);
        }
        self.net.cleanup();
    }
}
