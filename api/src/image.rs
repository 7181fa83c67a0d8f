//! Image types (`/images/...`) and the image config blob format.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::container::Config;
pub use crate::container::GraphDriverData;
use crate::de::{is_false, null_default};

/// One entry of `GET /images/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageSummary {
    /// `sha256:<hex>`.
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    #[serde(rename = "ParentId", deserialize_with = "null_default")]
    pub parent_id: String,
    #[serde(deserialize_with = "null_default")]
    pub repo_tags: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub repo_digests: Vec<String>,
    /// Unix timestamp (seconds).
    #[serde(deserialize_with = "null_default")]
    pub created: i64,
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    /// -1 when not computed.
    #[serde(deserialize_with = "null_default")]
    pub shared_size: i64,
    #[serde(deserialize_with = "null_default")]
    pub virtual_size: i64,
    #[serde(deserialize_with = "null_default")]
    pub labels: HashMap<String, String>,
    /// Number of containers using the image; -1 when not computed.
    #[serde(deserialize_with = "null_default")]
    pub containers: i64,
}

/// Layer information in image inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct RootFs {
    /// Always "layers".
    #[serde(deserialize_with = "null_default")]
    pub r#type: String,
    /// Layer diff IDs (`sha256:...`), bottom first.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub layers: Vec<String>,
}

/// Local metadata of an image.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageMetadata {
    /// RFC 3339 time of the last tag operation; omitted when never tagged
    /// locally (Go clients cannot parse an empty string here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_tag_time: Option<String>,
}

/// Response of `GET /images/{name}/json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageInspect {
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    #[serde(deserialize_with = "null_default")]
    pub repo_tags: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub repo_digests: Vec<String>,
    #[serde(deserialize_with = "null_default")]
    pub parent: String,
    #[serde(deserialize_with = "null_default")]
    pub comment: String,
    /// RFC 3339 with nanoseconds.
    #[serde(deserialize_with = "null_default")]
    pub created: String,
    #[serde(deserialize_with = "null_default")]
    pub container: String,
    pub container_config: Option<Config>,
    #[serde(deserialize_with = "null_default")]
    pub docker_version: String,
    #[serde(deserialize_with = "null_default")]
    pub author: String,
    #[serde(deserialize_with = "null_default")]
    pub config: Config,
    #[serde(deserialize_with = "null_default")]
    pub architecture: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub variant: String,
    #[serde(deserialize_with = "null_default")]
    pub os: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    #[serde(deserialize_with = "null_default")]
    pub virtual_size: i64,
    #[serde(deserialize_with = "null_default")]
    pub graph_driver: GraphDriverData,
    #[serde(rename = "RootFS", deserialize_with = "null_default")]
    pub root_fs: RootFs,
    #[serde(deserialize_with = "null_default")]
    pub metadata: ImageMetadata,
}

/// One entry of the `DELETE /images/{name}` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageDeleteResponseItem {
    /// A reference that was removed (`busybox:latest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untagged: Option<String>,
    /// An image ID that was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
}

/// One entry of `GET /images/{name}/history`, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct HistoryResponseItem {
    /// The image ID for the top entry, `<missing>` for the steps below it.
    #[serde(rename = "Id", deserialize_with = "null_default")]
    pub id: String,
    /// Unix timestamp (seconds); 0 when the step has no time.
    #[serde(deserialize_with = "null_default")]
    pub created: i64,
    #[serde(deserialize_with = "null_default")]
    pub created_by: String,
    /// Tags of the image, on the top entry only.
    #[serde(deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// Bytes of the layer this step created (0 for an empty layer).
    #[serde(deserialize_with = "null_default")]
    pub size: i64,
    #[serde(deserialize_with = "null_default")]
    pub comment: String,
}

/// The answer to `POST /build/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct BuildCachePruneResponse {
    pub caches_deleted: Option<Vec<String>>,
    pub space_reclaimed: u64,
}

/// Response of `POST /images/prune`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImagesPruneResponse {
    #[serde(deserialize_with = "null_default")]
    pub images_deleted: Vec<ImageDeleteResponseItem>,
    /// Bytes of content no remaining image uses.
    #[serde(deserialize_with = "null_default")]
    pub space_reclaimed: u64,
}

/// `rootfs` of an image config blob.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ImageConfigRootFs {
    /// Always "layers".
    #[serde(deserialize_with = "null_default")]
    pub r#type: String,
    /// Uncompressed layer digests, bottom first.
    #[serde(deserialize_with = "null_default")]
    pub diff_ids: Vec<String>,
}

/// One `history` entry of an image config blob.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ImageHistoryEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    /// True when this step created no layer (no matching `diff_ids` entry).
    #[serde(deserialize_with = "null_default", skip_serializing_if = "is_false")]
    pub empty_layer: bool,
}

/// The image configuration JSON blob as stored in registries and image
/// tarballs (OCI `application/vnd.oci.image.config.v1+json` and Docker
/// `application/vnd.docker.container.image.v1+json`). Keys are lowercase
/// except inside `config`, which is a PascalCase [`Config`].
///
/// The image ID is `sha256:` + the hex SHA-256 of the blob's exact bytes,
/// so keep the original bytes when you need the ID.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ImageConfigFile {
    #[serde(deserialize_with = "null_default")]
    pub architecture: String,
    #[serde(deserialize_with = "null_default")]
    pub os: String,
    #[serde(
        rename = "os.version",
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub variant: String,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// The message given to `docker import -m`.
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub container: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_config: Option<Config>,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub docker_version: String,
    #[serde(deserialize_with = "null_default")]
    pub rootfs: ImageConfigRootFs,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<ImageHistoryEntry>,
}

/// Registry credentials (Docker's `types.AuthConfig`): the body of
/// `POST /auth` and, base64url-encoded, the `X-Registry-Auth` header.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AuthConfig {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// base64 of `user:password`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

// Never print a password in a debug log.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("serveraddress", &self.serveraddress)
            .field("has_password", &!self.password.is_empty())
            .finish_non_exhaustive()
    }
}

/// Response of `POST /auth`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, rename_all = "PascalCase")]
pub struct AuthResponse {
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    #[serde(
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub identity_token: String,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::test_util::assert_keys_preserved;

    const SUMMARY: &str = r#"[{"Containers":-1,"Created":1673998522,"Id":"sha256:7cfbbec8963d8f13e6c70416d6592e1cc10f47a348131290a55d43c3acab3fb9","Labels":null,"ParentId":"","RepoDigests":["busybox@sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c"],"RepoTags":["busybox:latest"],"SharedSize":-1,"Size":4864553,"VirtualSize":4864553}]"#;

    const INSPECT: &str = r##"{"Id":"sha256:7cfbbec8963d8f13e6c70416d6592e1cc10f47a348131290a55d43c3acab3fb9","RepoTags":["busybox:latest"],"RepoDigests":["busybox@sha256:7b3c"],"Parent":"","Comment":"","Created":"2023-01-18T23:35:22.303585497Z","Container":"3a4b","ContainerConfig":{"Hostname":"3a4b","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh","-c","#(nop) ","CMD [\"sh\"]"],"Image":"sha256:1a2b","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"DockerVersion":"20.10.12","Author":"","Config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"Image":"sha256:1a2b","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"Architecture":"amd64","Os":"linux","Size":4864553,"VirtualSize":4864553,"GraphDriver":{"Data":{"MergedDir":"/var/lib/docker/overlay2/x/merged"},"Name":"overlay2"},"RootFS":{"Type":"layers","Layers":["sha256:b64792c17e4ad443d16b218afb3a8f5d03ca0f4ec49b11c1a7aebe17f6c3c1d2"]},"Metadata":{"LastTagTime":"0001-01-01T00:00:00Z"}}"##;

    /// The config blob of busybox:latest (linux/amd64).
    const CONFIG_BLOB: &str = r##"{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"Image":"sha256:1a2b","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"container":"3a4b","container_config":{"Hostname":"3a4b","Env":["PATH=/bin"],"Cmd":["/bin/sh","-c","#(nop) ","CMD [\"sh\"]"],"Image":"sha256:1a2b","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"created":"2023-01-18T23:35:22.303585497Z","docker_version":"20.10.12","history":[{"created":"2023-01-18T23:35:22.114432767Z","created_by":"/bin/sh -c #(nop) ADD file:5b2d in / "},{"created":"2023-01-18T23:35:22.303585497Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:b64792c17e4ad443d16b218afb3a8f5d03ca0f4ec49b11c1a7aebe17f6c3c1d2"]}}"##;

    /// A minimal OCI config (as produced by buildkit/umoci).
    const OCI_BLOB: &str = r#"{"architecture":"arm64","os":"linux","variant":"v8","config":{"Env":["A=b"],"Entrypoint":["/app"],"ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/srv","StopSignal":"SIGTERM"},"rootfs":{"type":"layers","diff_ids":[]}}"#;

    #[test]
    fn summary_roundtrip() {
        let l: Vec<ImageSummary> = serde_json::from_str(SUMMARY).unwrap();
        assert_eq!(l[0].repo_tags, ["busybox:latest"]);
        assert_eq!(l[0].containers, -1);
        let out = serde_json::to_value(&l).unwrap();
        assert_keys_preserved(&serde_json::from_str(SUMMARY).unwrap(), &out, "");
        assert_eq!(out[0]["ParentId"], "");
    }

    #[test]
    fn inspect_roundtrip() {
        let i: ImageInspect = serde_json::from_str(INSPECT).unwrap();
        assert_eq!(i.config.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(i.root_fs.layers.len(), 1);
        assert_eq!(
            i.metadata.last_tag_time.as_deref(),
            Some("0001-01-01T00:00:00Z")
        );
        let out = serde_json::to_value(&i).unwrap();
        assert_keys_preserved(&serde_json::from_str(INSPECT).unwrap(), &out, "");
        assert_eq!(serde_json::from_value::<ImageInspect>(out).unwrap(), i);
    }

    #[test]
    fn delete_items() {
        let items: Vec<ImageDeleteResponseItem> =
            serde_json::from_str(r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:7cfb"}]"#)
                .unwrap();
        assert_eq!(items[0].untagged.as_deref(), Some("busybox:latest"));
        assert_eq!(items[1].deleted.as_deref(), Some("sha256:7cfb"));
        assert_eq!(
            serde_json::to_string(&items).unwrap(),
            r#"[{"Untagged":"busybox:latest"},{"Deleted":"sha256:7cfb"}]"#
        );
    }

    #[test]
    fn history_and_prune_responses() {
        // As dockerd 20.10 answers (Tags null below the top entry, no
        // ImagesDeleted when nothing went).
        let h: Vec<HistoryResponseItem> = serde_json::from_str(
            r#"[{"Comment":"","Created":1704067200,"CreatedBy":"/bin/sh -c #(nop)  CMD [\"sh\"]","Id":"sha256:7cfb","Size":0,"Tags":["busybox:latest"]},{"Comment":"","Created":1704067200,"CreatedBy":"ADD file","Id":"<missing>","Size":4864553,"Tags":null}]"#,
        )
        .unwrap();
        assert_eq!(h[0].tags, ["busybox:latest"]);
        assert!(h[1].tags.is_empty());
        assert_eq!(h[1].size, 4864553);
        let out = serde_json::to_value(&h[0]).unwrap();
        for k in ["Id", "Created", "CreatedBy", "Tags", "Size", "Comment"] {
            assert!(out.get(k).is_some(), "{k} missing in {out}");
        }
        let p: ImagesPruneResponse =
            serde_json::from_str(r#"{"ImagesDeleted":null,"SpaceReclaimed":0}"#).unwrap();
        assert!(p.images_deleted.is_empty());
        let p: ImagesPruneResponse = serde_json::from_str(
            r#"{"ImagesDeleted":[{"Untagged":"a:b"},{"Deleted":"sha256:1"}],"SpaceReclaimed":12}"#,
        )
        .unwrap();
        assert_eq!(p.images_deleted[1].deleted.as_deref(), Some("sha256:1"));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"ImagesDeleted":[{"Untagged":"a:b"},{"Deleted":"sha256:1"}],"SpaceReclaimed":12}"#
        );
    }

    #[test]
    fn config_blob_docker() {
        let c: ImageConfigFile = serde_json::from_str(CONFIG_BLOB).unwrap();
        assert_eq!(c.architecture, "amd64");
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert!(c.history[1].empty_layer);
        assert_eq!(c.config.as_ref().unwrap().cmd, Some(vec!["sh".to_string()]));
        let out = serde_json::to_value(&c).unwrap();
        let orig: Value = serde_json::from_str(CONFIG_BLOB).unwrap();
        assert_keys_preserved(&orig, &out, "");
        assert_eq!(serde_json::from_value::<ImageConfigFile>(out).unwrap(), c);
    }

    #[test]
    fn config_blob_oci() {
        let c: ImageConfigFile = serde_json::from_str(OCI_BLOB).unwrap();
        assert_eq!(c.variant, "v8");
        let cfg = c.config.unwrap();
        assert_eq!(cfg.entrypoint, Some(vec!["/app".to_string()]));
        assert_eq!(cfg.cmd, None);
        assert!(cfg.exposed_ports.contains_key("8080/tcp"));
        assert_eq!(c.created, None);
        assert!(c.history.is_empty());
    }

    #[test]
    fn history_prune_and_auth() {
        let h: Vec<HistoryResponseItem> = serde_json::from_str(
            r#"[{"Comment":"","Created":1673998522,"CreatedBy":"/bin/sh -c #(nop)  CMD [\"sh\"]","Id":"sha256:7cfb","Size":0,"Tags":["busybox:latest"]},{"Comment":"","Created":1673998522,"CreatedBy":"ADD file","Id":"<missing>","Size":4864553,"Tags":null}]"#,
        )
        .unwrap();
        assert_eq!(h[0].tags, ["busybox:latest"]);
        assert_eq!(h[1].id, "<missing>");
        assert!(h[1].tags.is_empty());
        let p: ImagesPruneResponse = serde_json::from_str(
            r#"{"ImagesDeleted":[{"Untagged":"a:b"},{"Deleted":"sha256:1"}],"SpaceReclaimed":42}"#,
        )
        .unwrap();
        assert_eq!(p.images_deleted.len(), 2);
        assert_eq!(p.space_reclaimed, 42);
        let p: ImagesPruneResponse =
            serde_json::from_str(r#"{"ImagesDeleted":null,"SpaceReclaimed":0}"#).unwrap();
        assert!(p.images_deleted.is_empty());
        let a = AuthConfig {
            username: "u".into(),
            password: "secret".into(),
            serveraddress: "h:5000".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"username":"u","password":"secret","serveraddress":"h:5000"}"#
        );
        assert!(!format!("{a:?}").contains("secret"));
        let r: AuthResponse =
            serde_json::from_str(r#"{"Status":"Login Succeeded","IdentityToken":""}"#).unwrap();
        assert_eq!(r.status, "Login Succeeded");
    }
}
