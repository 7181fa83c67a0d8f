//! A real registry for pull/push tests: Debian's `docker-registry`
//! (distribution 2.8) on a free 127.0.0.1 port, storing under its own
//! temporary directory, plus a raw HTTP client to seed it with blobs and
//! manifests directly.
//!
//! ```no_run
//! let Some(reg) = pouch_tests::registry::Registry::start(false) else { return };
//! let name = format!("{}/test/busybox:v1", reg.host());
//! ```

use crate::http::{self, Response};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where `hack/install-deps` puts the registry binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The user an htpasswd registry accepts...
pub const USER: &str = "tester";
/// ...and its password.
pub const PASSWORD: &str = "s3cret";

/// `tester` / `s3cret` as `htpasswd -Bbn` writes it (bcrypt).
const HTPASSWD: &str = "tester:$2y$05$xQEAZEM1ua2G5HwworCXre3Tfwzo12FRmjvzwhzn8uSjd23n5nW8G\n";

/// A registry process, killed on drop, storing under its own temporary
/// directory (`/tmp/pouch-test-registry-*`, removed on drop). Its log is
/// printed when the test panics.
pub struct Registry {
    port: u16,
    child: Child,
    log: PathBuf,
    dir: tempfile::TempDir,
    /// The claim on `dir` (see [`crate::cleanup::claim`]).
    _owner: std::fs::File,
}

impl Registry {
    /// Starts a registry; with `htpasswd`, it requires basic auth
    /// ([`USER`] / [`PASSWORD`]). `None` (test skipped) when not root or the
    /// binary is missing, unless `POUCH_TEST_REQUIRE_ROOT=1` (then it panics).
    pub fn start(htpasswd: bool) -> Option<Registry> {
        Self::start_with(htpasswd, false)
    }

    /// Like [`Registry::start`], serving HTTPS with a certificate for
    /// 127.0.0.1 signed by a CA made for it ([`Registry::ca_cert`]).
    pub fn start_tls(htpasswd: bool) -> Option<Registry> {
        Self::start_with(htpasswd, true)
    }

    fn start_with(htpasswd: bool, tls: bool) -> Option<Registry> {
        if !crate::can_run() {
            return None;
        }
        if !Path::new(REGISTRY_BIN).exists() {
            assert!(
                std::env::var("POUCH_TEST_REQUIRE_ROOT").as_deref() != Ok("1"),
                "{REGISTRY_BIN} is missing: run hack/install-deps"
            );
            eprintln!("SKIPPED: {REGISTRY_BIN} is missing (hack/install-deps installs it)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("pouch-test-registry-")
            .tempdir_in("/tmp")
            .expect("registry dir");
        let root = dir.path().to_path_buf();
        let owner = crate::cleanup::claim(&root);
        std::fs::create_dir_all(root.join("data")).expect("registry dir");
        for _ in 0..5 {
            let port = free_port();
            let mut cfg = format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                root.join("data").display()
            );
            if tls {
                if !root.join("server.crt").exists() {
                    make_certs(&root);
                }
                cfg.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    root.join("server.crt").display(),
                    root.join("server.key").display()
                ));
            }
            if htpasswd {
                let pw = root.join("htpasswd");
                std::fs::write(&pw, HTPASSWD).expect("write htpasswd");
                cfg.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: pouch-test\n    path: {}\n",
                    pw.display()
                ));
            }
            let cfg_path = root.join("config.yml");
            std::fs::write(&cfg_path, cfg).expect("write registry config");
            let log = root.join("registry.log");
            let out = std::fs::File::create(&log).expect("registry log");
            let err = out.try_clone().expect("dup log");
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&cfg_path)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("start docker-registry");
            let up = (0..200).any(|_| {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return false;
                }
                if let Ok(r) = request(port, "GET", "/v2/", &[], b"") {
                    // An HTTPS registry answers plain HTTP with a 400.
                    if r.status == 200 || r.status == 401 || (tls && r.status == 400) {
                        return true;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
                false
            });
            if up {
                return Some(Registry {
                    port,
                    child,
                    log,
                    dir,
                    _owner: owner,
                });
            }
            // Port taken in the meantime, or a slow start: try another.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// `127.0.0.1:<port>`, the registry part of image names.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The registry's temporary directory (its data is under `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// One raw request to the registry (no auth unless given in `headers`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        request(self.port, method, path, headers, body)
    }

    /// Uploads a blob (POST + PUT) into `repo`; returns its digest.
    pub fn put_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = format!("sha256:{}", crate::tarball::sha256_hex(data));
        let r = self
            .request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"")
            .expect("start upload");
        assert_eq!(r.status, 202, "start upload: {}", r.text());
        let loc = r.header("location").expect("upload location").to_string();
        let loc = loc
            .strip_prefix(&format!("http://{}", self.host()))
            .unwrap_or(&loc)
            .to_string();
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self
            .request(
                "PUT",
                &format!("{loc}{sep}digest={digest}"),
                &[("Content-Type", "application/octet-stream")],
                data,
            )
            .expect("upload blob");
        assert_eq!(r.status, 201, "upload blob: {}", r.text());
        digest
    }

    /// Puts a manifest under `reference` (tag or digest); returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let r = self
            .request(
                "PUT",
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("Content-Type", media_type)],
                body,
            )
            .expect("put manifest");
        assert_eq!(r.status, 201, "put manifest: {}", r.text());
        format!("sha256:{}", crate::tarball::sha256_hex(body))
    }

    /// The PEM CA certificate that signed the registry's certificate
    /// ([`Registry::start_tls`] only).
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// What the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("===== registry log =====\n{}\n=====", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One plain-HTTP/1.1 request to 127.0.0.1:`port` (`Connection: close`,
/// the whole response read).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
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
    http::parse(&raw)
}

/// A 127.0.0.1 port free right now (racy: callers retry on conflict).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A CA (`ca.crt`) and a server certificate for 127.0.0.1 it signed
/// (`server.crt`, `server.key`) in `dir`, made with openssl.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"],
        &ec[..],
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=pouch-test-ca",
        ],
    ]
    .concat());
    run(&[
        &["req"],
        &ec[..],
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// The OCI test image's blobs (from `hack/build-test-image`): its config
/// JSON and its one gzip layer, to build other images on.
pub fn test_image_blobs(dir: &Path) -> (serde_json::Value, Vec<u8>) {
    let out = dir.join(format!("oci-{}", crate::random_hex(6)));
    std::fs::create_dir_all(&out).unwrap();
    let o = crate::run_with_timeout(
        Command::new("tar")
            .arg("-xf")
            .arg(crate::test_image_oci())
            .arg("-C")
            .arg(&out),
        None,
        Duration::from_secs(60),
    );
    o.ok();
    let blob = |d: &str| {
        std::fs::read(
            out.join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&blob(mdigest)).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    (config, layer)
}

/// Pushes a one-manifest image `repo:tag` of `config` and gzip `layers`
/// (OCI media types); returns the manifest's digest.
pub fn put_image(
    reg: &Registry,
    repo: &str,
    tag: &str,
    config: &[u8],
    layers: &[Vec<u8>],
) -> String {
    let cfg_digest = reg.put_blob(repo, config);
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": reg.put_blob(repo, l),
                "size": l.len(),
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cfg_digest,
            "size": config.len(),
        },
        "layers": layers,
    });
    let body = serde_json::to_vec(&manifest).expect("manifest JSON");
    reg.put_manifest(
        repo,
        tag,
        "application/vnd.oci.image.manifest.v1+json",
        &body,
    )
}
