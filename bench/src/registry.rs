//! A local registry for the pull figures: Debian's `docker-registry`, twice
//! on the same port and the same storage directory, once in the host's
//! network namespace (pouchd's) and once in dockerd's (its namespace has
//! its own loopback), so both daemons pull `127.0.0.1:<port>/...` from an
//! identical registry process over loopback. Both are killed on drop (and
//! by the bench's sweep: their command lines name the bench dir).
//!
//! Also builds the test image: layers of incompressible pseudo-random data
//! (gzip -1, so that the compressed size is the real size), uploaded with
//! the registry's HTTP API.

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub struct BenchRegistry {
    pub port: u16,
    children: Vec<Child>,
}

impl Drop for BenchRegistry {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

impl BenchRegistry {
    /// Starts both registries; `netns_pid` holds dockerd's namespaces.
    pub fn start(root: &Path, netns_pid: i32) -> Result<BenchRegistry> {
        if !Path::new(REGISTRY_BIN).exists() {
            bail!("{REGISTRY_BIN} is missing (hack/install-deps installs it)");
        }
        let dir = root.join("registry");
        std::fs::create_dir_all(dir.join("data"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let cfg = dir.join("config.yml");
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("data").display()
            ),
        )?;
        let spawn = |cmd: &mut Command, log: PathBuf| -> Result<Child> {
            let out = std::fs::File::create(&log)?;
            cmd.stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .with_context(|| format!("start {REGISTRY_BIN}"))
        };
        let mut reg = BenchRegistry {
            port,
            children: Vec::new(),
        };
        reg.children.push(spawn(
            Command::new(REGISTRY_BIN).arg("serve").arg(&cfg),
            dir.join("registry-host.log"),
        )?);
        let ns = netns_pid.to_string();
        let st = Command::new("nsenter")
            .args(["-t", &ns, "-n", "ip", "link", "set", "lo", "up"])
            .status()?;
        if !st.success() {
            bail!("cannot bring up lo in dockerd's network namespace");
        }
        reg.children.push(spawn(
            Command::new("nsenter")
                .args(["-t", &ns, "-n", "--", REGISTRY_BIN, "serve"])
                .arg(&cfg),
            dir.join("registry-netns.log"),
        )?);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let host_up = request(port, "GET", "/v2/", &[], b"").is_ok_and(|r| r.0 == 200);
            let netns_up = Command::new("nsenter")
                .args(["-t", &ns, "-n", "curl", "-sf", "-o", "/dev/null"])
                .arg(format!("http://127.0.0.1:{port}/v2/"))
                .status()
                .is_ok_and(|s| s.success());
            if host_up && netns_up {
                return Ok(reg);
            }
            if Instant::now() > end {
                bail!("docker-registry did not start; see {}", dir.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Uploads `data` as a blob of `repo`; returns its digest.
    pub fn put_blob(&self, repo: &str, data: &[u8]) -> Result<String> {
        let digest = sha256(data);
        let (status, headers, _) = request(
            self.port,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            b"",
        )?;
        if status != 202 {
            bail!("start upload: {status}");
        }
        let loc = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| anyhow!("upload without location"))?;
        let loc = loc
            .strip_prefix(&format!("http://127.0.0.1:{}", self.port))
            .unwrap_or(&loc)
            .to_string();
        let sep = if loc.contains('?') { '&' } else { '?' };
        let (status, _, body) = request(
            self.port,
            "PUT",
            &format!("{loc}{sep}digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            data,
        )?;
        if status != 201 {
            bail!("upload blob: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok(digest)
    }

    /// Builds and pushes `repo:tag`: `layers` layers of `layer_size` bytes of
    /// pseudo-random data each (one file per layer). Returns the bytes sent
    /// and the layer digests.
    pub fn push_random_image(
        &self,
        repo: &str,
        tag: &str,
        layers: usize,
        layer_size: usize,
    ) -> Result<(u64, Vec<String>)> {
        let mut diff_ids = Vec::new();
        let mut descs = Vec::new();
        let mut total = 0u64;
        let mut digests = Vec::new();
        for i in 0..layers {
            let tar = layer_tar(i, layer_size)?;
            diff_ids.push(sha256(&tar));
            let gz = gzip(&tar)?;
            total += gz.len() as u64;
            let digest = self.put_blob(repo, &gz)?;
            digests.push(digest.clone());
            descs.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": digest,
                "size": gz.len(),
            }));
        }
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = serde_json::to_vec(&config)?;
        let config_digest = self.put_blob(repo, &config)?;
        let mt = "application/vnd.docker.distribution.manifest.v2+json";
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": descs,
        });
        let (status, _, body) = request(
            self.port,
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Content-Type", mt)],
            &serde_json::to_vec(&manifest)?,
        )?;
        if status != 201 {
            bail!("put manifest: {status} {}", String::from_utf8_lossy(&body));
        }
        Ok((total, digests))
    }
}

/// A tar holding `bench/layer-<i>.bin`: `size` bytes of xorshift output.
fn layer_tar(i: usize, size: usize) -> Result<Vec<u8>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0000_01B3);
    let mut data = Vec::with_capacity(size + 8);
    while data.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(size);
    let mut b = tar::Builder::new(Vec::with_capacity(size + 4096));
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, format!("bench/layer-{i}.bin"), data.as_slice())?;
    Ok(b.into_inner()?)
}

/// `gzip -1 -n` of `data` (random data does not shrink; level 1 is fast).
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("gzip")
        .args(["-1", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("run gzip")?;
    let mut stdin = child.stdin.take().ok_or_else(|| anyhow!("gzip stdin"))?;
    let out = std::thread::scope(|s| {
        let writer = s.spawn(move || stdin.write_all(data));
        let mut out = Vec::new();
        let read = child
            .stdout
            .as_mut()
            .ok_or_else(|| anyhow!("gzip stdout"))
            .and_then(|o| Ok(o.read_to_end(&mut out)?));
        let wrote = writer.join().map_err(|_| anyhow!("gzip writer panicked"));
        read.and(wrote).map(|w| (w, out))
    })?;
    out.0?;
    if !child.wait()?.success() {
        bail!("gzip failed");
    }
    Ok(out.1)
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request (`Connection: close`) to 127.0.0.1:`port`.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("{method} {path}: no response head"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("{method} {path}: bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok((status, headers, raw[end + 4..].to_vec()))
}
