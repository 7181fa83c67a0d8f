//! What the cp and archive tests share: the path stat of
//! `HEAD /containers/{id}/archive` and a tree of files to copy out.

use crate::TestDaemon;
use base64::Engine;

/// Go's os.FileMode bits as Docker puts them in the path stat.
pub const MODE_DIR: u64 = 1 << 31;
pub const MODE_SYMLINK: u64 = 1 << 27;

impl TestDaemon {
    /// The decoded `X-Docker-Container-Path-Stat` of
    /// `HEAD /containers/{container}/archive?path={path}`.
    #[track_caller]
    pub fn path_stat(&self, container: &str, path: &str) -> serde_json::Value {
        let r = self
            .request(
                "HEAD",
                &format!("/v1.41/containers/{container}/archive?path={path}"),
                None,
                b"",
            )
            .expect("HEAD archive");
        assert_eq!(r.status, 200, "HEAD {path}: {:?}", r.headers);
        let h = r.header("X-Docker-Container-Path-Stat").unwrap_or_else(|| {
            panic!(
                "no X-Docker-Container-Path-Stat for {path}: {:?}",
                r.headers
            )
        });
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h)
            .unwrap_or_else(|e| panic!("stat header is not base64 ({e}): {h:?}"));
        serde_json::from_slice(&raw).unwrap_or_else(|e| {
            panic!(
                "stat header is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&raw)
            )
        })
    }

    /// Creates files in running container `c`: /src/f, /src/sub/g (mode
    /// 600), /src/link -> f, /abslink -> /src/f.
    pub fn populate_src_tree(&self, c: &str) {
        self.docker_ok(&[
            "exec",
            c,
            "sh",
            "-c",
            "mkdir -p /src/sub && echo hello > /src/f && echo deep > /src/sub/g \
             && chmod 600 /src/sub/g && ln -s f /src/link && ln -s /src/f /abslink",
        ]);
    }
}
