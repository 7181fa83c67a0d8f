//! Tests for the image archive reader.

use super::*;
use tar::{EntryType, Header};

/// One tar entry; names and link targets are written raw, unchecked.
enum E<'a> {
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Dir(&'a str),
    Fifo(&'a str),
    Char(&'a str),
}

fn header(kind: EntryType, name: &str, link: &str, size: usize) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    let gnu = h.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    h
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (h, data): (Header, &[u8]) = match *e {
            E::File(n, d) => (header(EntryType::Regular, n, "", d.len()), d),
            E::Symlink(n, t) => (header(EntryType::Symlink, n, t, 0), &[]),
            E::Hardlink(n, t) => (header(EntryType::Link, n, t, 0), &[]),
            E::Dir(n) => (header(EntryType::Directory, n, "", 0), &[]),
            E::Fifo(n) => (header(EntryType::Fifo, n, "", 0), &[]),
            E::Char(n) => (header(EntryType::Char, n, "", 0), &[]),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A small layer tar holding one file.
fn layer(content: &str) -> Vec<u8> {
    tar_of(&[E::File("etc/hello", content.as_bytes())])
}

fn config(diff_ids: &[&[u8]]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids
        .iter()
        .map(|l| format!("sha256:{}", sha(l)))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ids},
    }))
    .unwrap()
}

/// Reads `input` into a fresh staging dir and checks that nothing appeared
/// beside it.
fn load(input: &[u8]) -> (Result<Vec<ArchiveImage>, ArchiveError>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let staging = tmp.path().join("staging");
    fs::create_dir(&staging).unwrap();
    let res = read_archive(input, &staging);
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("staging")]);
    (res, tmp)
}

fn expect_invalid(input: &[u8], needle: &str) {
    let (res, _tmp) = load(input);
    match res {
        Err(ArchiveError::Invalid(msg)) => {
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}")
        }
        other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
    }
}

fn read_blob(b: &Blob) -> Vec<u8> {
    fs::read(&b.path).unwrap()
}

#[test]
fn docker_archive_with_symlinked_layer_and_manifest_last() {
    let l1 = layer("one");
    let l2 = layer("two");
    let cfg_a = config(&[&l1, &l2]);
    let cfg_b = config(&[&l1]);
    let (ca, cb) = (sha(&cfg_a), sha(&cfg_b));
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": format!("{ca}.json"), "RepoTags": ["busybox:latest", "busybox:1"],
         "Layers": ["l1/layer.tar", "./l2/layer.tar"]},
        {"Config": format!("{cb}.json"), "RepoTags": null, "Layers": ["l3/layer.tar"]},
    ]))
    .unwrap();
    let (na, nb) = (format!("{ca}.json"), format!("{cb}.json"));
    let input = tar_of(&[
        E::Dir("l1/"),
        E::File("l1/layer.tar", &l1),
        E::File("l2/layer.tar", &l2),
        E::Dir("l3/"),
        E::Symlink("l3/layer.tar", "../l1/layer.tar"),
        E::File(&na, &cfg_a),
        E::File(&nb, &cfg_b),
        E::File("repositories", b"{}"),
        E::File("manifest.json", &manifest),
    ]);
    let (res, _tmp) = load(&input);
    let images = res.unwrap();
    assert_eq!(images.len(), 2);
    let a = &images[0];
    assert_eq!(a.refs, vec!["busybox:latest", "busybox:1"]);
    assert_eq!(a.config.digest, format!("sha256:{ca}"));
    assert_eq!(read_blob(&a.config), cfg_a);
    assert_eq!(a.layers.len(), 2);
    assert_eq!(read_blob(&a.layers[0].blob), l1);
    assert_eq!(read_blob(&a.layers[1].blob), l2);
    assert_eq!(a.layers[1].blob.size, l2.len() as u64);
    assert!(a.layers.iter().all(|l| l.media_type == DOCKER_LAYER));
    let b = &images[1];
    assert!(b.refs.is_empty());
    assert_eq!(b.layers[0].blob.digest, format!("sha256:{}", sha(&l1)));

    let m: serde_json::Value = serde_json::from_slice(&a.manifest.bytes).unwrap();
    assert_eq!(a.manifest.media_type, DOCKER_MANIFEST);
    assert_eq!(
        a.manifest.digest,
        format!("sha256:{}", sha(&a.manifest.bytes))
    );
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], DOCKER_MANIFEST);
    assert_eq!(m["config"]["mediaType"], DOCKER_CONFIG);
    assert_eq!(m["config"]["digest"], a.config.digest.as_str());
    assert_eq!(m["config"]["size"], cfg_a.len());
    assert_eq!(m["layers"][1]["digest"], format!("sha256:{}", sha(&l2)));
    assert_eq!(m["layers"][1]["mediaType"], DOCKER_LAYER);

    // Same archive, same manifest digest.
    let (again, _tmp2) = load(&input);
    assert_eq!(again.unwrap()[0].manifest, a.manifest);
}

#[test]
fn docker_archive_gzip_layer_gets_gzip_media_type() {
    let gz: &[u8] = &[0x1f, 0x8b, 8, 0, 1, 2, 3];
    let cfg = config(&[b"uncompressed diff"]);
    let manifest = r#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}]"#;
    let input = tar_of(&[
        E::File("manifest.json", manifest.as_bytes()),
        E::File("c.json", &cfg),
        E::File("l.tar", gz),
    ]);
    let (res, _tmp) = load(&input);
    let images = res.unwrap();
    assert_eq!(images[0].layers[0].media_type, DOCKER_LAYER_GZIP);
}

#[test]
fn docker_archive_hardlinked_layer_and_blob_paths() {
    // docker 25+: manifest.json next to an OCI layout, paths under blobs/.
    let l1 = layer("one");
    let cfg = config(&[&l1, &l1]);
    let (hl, hc) = (sha(&l1), sha(&cfg));
    let manifest = format!(
        r#"[{{"Config":"blobs/sha256/{hc}","RepoTags":["a/b:c"],"Layers":["blobs/sha256/{hl}","dup/layer.tar"]}}]"#
    );
    let lp = format!("blobs/sha256/{hl}");
    let cp = format!("blobs/sha256/{hc}");
    let input = tar_of(&[
        E::File(&lp, &l1),
        E::Hardlink("dup/layer.tar", &lp),
        E::File(&cp, &cfg),
        E::File("index.json", b"{\"manifests\":[]}"),
        E::File("manifest.json", manifest.as_bytes()),
    ]);
    let (res, _tmp) = load(&input);
    let images = res.unwrap();
    assert_eq!(images[0].manifest.media_type, DOCKER_MANIFEST);
    assert_eq!(images[0].layers[1].blob, images[0].layers[0].blob);
}

/// Writes `data` as an OCI blob entry; returns (digest, entry).
fn oci_blob(data: &[u8]) -> (String, String) {
    let hex = sha(data);
    (format!("sha256:{hex}"), format!("blobs/sha256/{hex}"))
}

fn oci_manifest(cfg: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": OCI_LAYER, "digest": oci_blob(l).0, "size": l.len()}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": oci_blob(cfg).0, "size": cfg.len()},
        "layers": layers,
    }))
    .unwrap()
}

#[test]
fn oci_layout_with_index() {
    let l1 = layer("one");
    let cfg = config(&[&l1]);
    let man = oci_manifest(&cfg, &[&l1]);
    let (md, mp) = oci_blob(&man);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": md, "size": man.len(),
             "annotations": {"io.containerd.image.name": "docker.io/library/busybox:latest",
                             "org.opencontainers.image.ref.name": "latest"}},
            {"mediaType": OCI_MANIFEST, "digest": md, "size": man.len(),
             "annotations": {"org.opencontainers.image.ref.name": "example.com/x:2"}},
            {"mediaType": OCI_MANIFEST, "digest": md, "size": man.len(),
             "annotations": {"org.opencontainers.image.ref.name": "latest"}},
        ]
    }))
    .unwrap();
    let input = tar_of(&[
        E::File("index.json", &index),
        E::File("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
        E::File(&mp, &man),
        E::File(&oci_blob(&cfg).1, &cfg),
        E::File(&oci_blob(&l1).1, &l1),
    ]);
    let (res, _tmp) = load(&input);
    let images = res.unwrap();
    assert_eq!(images.len(), 1);
    let img = &images[0];
    assert_eq!(
        img.refs,
        vec!["docker.io/library/busybox:latest", "example.com/x:2"]
    );
    assert_eq!(img.manifest.bytes, man);
    assert_eq!(img.manifest.digest, md);
    assert_eq!(img.manifest.media_type, OCI_MANIFEST);
    assert_eq!(img.config.digest, oci_blob(&cfg).0);
    assert_eq!(img.layers[0].media_type, OCI_LAYER);
    assert_eq!(read_blob(&img.layers[0].blob), l1);
}

#[test]
fn oci_nested_index_picks_host_platform() {
    let (native, foreign) = (layer("native"), layer("foreign"));
    let (cfg_n, cfg_f) = (config(&[&native]), config(&[&foreign]));
    let (man_n, man_f) = (
        oci_manifest(&cfg_n, &[&native]),
        oci_manifest(&cfg_f, &[&foreign]),
    );
    let other_arch = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let attest = br#"{"schemaVersion":2,"config":{"digest":"sha256:00"},"layers":[]}"#;
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": oci_blob(&man_f).0, "size": man_f.len(),
             "platform": {"os": "linux", "architecture": other_arch}},
            {"mediaType": OCI_MANIFEST, "digest": oci_blob(&man_n).0, "size": man_n.len(),
             "platform": {"os": "linux", "architecture": host_arch()}},
            {"mediaType": OCI_MANIFEST, "digest": oci_blob(attest).0,
             "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        ]
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": OCI_INDEX, "digest": oci_blob(&nested).0,
                       "annotations": {"org.opencontainers.image.ref.name": "busybox:1.36"}}]
    }))
    .unwrap();
    let blobs: [&[u8]; 7] = [&native, &foreign, &cfg_n, &cfg_f, &man_n, &man_f, &nested];
    let names: Vec<String> = blobs.iter().map(|b| oci_blob(b).1).collect();
    let mut entries: Vec<E> = blobs
        .iter()
        .zip(&names)
        .map(|(b, n)| E::File(n, b))
        .collect();
    entries.push(E::File("index.json", &index));
    let (res, _tmp) = load(&tar_of(&entries));
    let images = res.unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].refs, vec!["busybox:1.36"]);
    assert_eq!(images[0].manifest.bytes, man_n);
    assert_eq!(read_blob(&images[0].layers[0].blob), native);
}

fn docker_manifest_for(layer_path: &str) -> Vec<u8> {
    format!(r#"[{{"Config":"c.json","RepoTags":["x:1"],"Layers":["{layer_path}"]}}]"#).into_bytes()
}

#[test]
fn hostile_parent_entry() {
    expect_invalid(
        &tar_of(&[E::File("../evil", b"x")]),
        "escapes the archive root",
    );
    expect_invalid(&tar_of(&[E::File("a/../../evil", b"x")]), "escapes");
}

#[test]
fn hostile_absolute_entry() {
    expect_invalid(&tar_of(&[E::File("/etc/evil", b"x")]), "absolute path");
}

#[test]
fn hostile_absolute_symlink_used_as_layer() {
    let cfg = config(&[b"whatever"]);
    let input = tar_of(&[
        E::File("c.json", &cfg),
        E::Symlink("x", "/etc/passwd"),
        E::File("manifest.json", &docker_manifest_for("x")),
    ]);
    expect_invalid(&input, "absolute path");
}

#[test]
fn hostile_escaping_symlink() {
    expect_invalid(
        &tar_of(&[E::Symlink("a", "../../x")]),
        "escapes the archive root",
    );
    expect_invalid(
        &tar_of(&[E::Symlink("d/a", "../../x")]),
        "escapes the archive root",
    );
}

#[test]
fn hostile_escaping_hardlink() {
    expect_invalid(&tar_of(&[E::Hardlink("h", "../outside")]), "escapes");
    expect_invalid(&tar_of(&[E::Hardlink("h", "/etc/passwd")]), "absolute path");
    expect_invalid(
        &tar_of(&[E::Hardlink("h", "nothing")]),
        "not an earlier file",
    );
}

#[test]
fn hostile_manifest_path() {
    let cfg = config(&[b"whatever"]);
    let input = tar_of(&[
        E::File("c.json", &cfg),
        E::File("manifest.json", &docker_manifest_for("../../etc/passwd")),
    ]);
    expect_invalid(&input, "escapes the archive root");
    let input = tar_of(&[
        E::File("c.json", &cfg),
        E::File("manifest.json", &docker_manifest_for("/etc/passwd")),
    ]);
    expect_invalid(&input, "absolute path");
}

#[test]
fn missing_layer() {
    let cfg = config(&[b"whatever"]);
    let input = tar_of(&[
        E::File("c.json", &cfg),
        E::File("manifest.json", &docker_manifest_for("nope/layer.tar")),
    ]);
    expect_invalid(&input, "is missing");
}

#[test]
fn device_and_fifo_entries() {
    expect_invalid(&tar_of(&[E::Fifo("f")]), "device or FIFO");
    expect_invalid(&tar_of(&[E::Char("dev/null")]), "device or FIFO");
}

#[test]
fn symlink_loop() {
    let cfg = config(&[b"whatever"]);
    let input = tar_of(&[
        E::Symlink("a", "b"),
        E::Symlink("b", "a"),
        E::File("c.json", &cfg),
        E::File("manifest.json", &docker_manifest_for("a")),
    ]);
    expect_invalid(&input, "too many levels");
}

#[test]
fn diff_id_count_and_content_mismatch() {
    let l1 = layer("one");
    let cfg = config(&[&l1, &l1]);
    let input = tar_of(&[
        E::File("l.tar", &l1),
        E::File("c.json", &cfg),
        E::File("manifest.json", &docker_manifest_for("l.tar")),
    ]);
    expect_invalid(&input, "diff_ids");
    let cfg = config(&[b"other"]);
    let input = tar_of(&[
        E::File("l.tar", &l1),
        E::File("c.json", &cfg),
        E::File("manifest.json", &docker_manifest_for("l.tar")),
    ]);
    expect_invalid(&input, "expects diff_id");
}

#[test]
fn oci_digest_mismatch() {
    let l1 = layer("one");
    let cfg = config(&[&l1]);
    let man = oci_manifest(&cfg, &[&l1]);
    let (md, mp) = oci_blob(&man);
    let index = format!(r#"{{"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{md}"}}]}}"#);
    // Layer content stored under the wrong name.
    let input = tar_of(&[
        E::File("index.json", index.as_bytes()),
        E::File(&mp, &man),
        E::File(&oci_blob(&cfg).1, &cfg),
        E::File(&oci_blob(&l1).1, b"tampered"),
    ]);
    expect_invalid(&input, "does not match its digest");
    // Same, but through a symlink so the staging-time check does not apply.
    let input = tar_of(&[
        E::File("index.json", index.as_bytes()),
        E::File(&mp, &man),
        E::File(&oci_blob(&cfg).1, &cfg),
        E::File("other", b"tampered"),
        E::Symlink(&oci_blob(&l1).1, "../../other"),
    ]);
    expect_invalid(&input, "does not match its digest");
}

#[test]
fn garbage_empty_and_compressed_input() {
    expect_invalid(b"", "empty input");
    expect_invalid(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "gzip");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    expect_invalid(&garbage, "malformed tar");
    expect_invalid(b"hello", "malformed tar");
    expect_invalid(&tar_of(&[]), "neither manifest.json");
    expect_invalid(
        &tar_of(&[E::File("manifest.json", b"{not json")]),
        "not valid JSON",
    );
    expect_invalid(
        &tar_of(&[E::File("manifest.json", b"[]")]),
        "lists no images",
    );
    expect_invalid(
        &tar_of(&[E::File("index.json", b"{}")]),
        "no image manifests",
    );
}

#[test]
fn oversized_json_is_refused() {
    let big = vec![b' '; (MAX_JSON + 1) as usize];
    expect_invalid(&tar_of(&[E::File("manifest.json", &big)]), "too large");
}

#[test]
fn long_names_and_symlinked_directories() {
    let l1 = layer("one");
    let cfg = config(&[&l1]);
    let deep = format!("{}/layer.tar", "d".repeat(300));
    let manifest = docker_manifest_for("alias/layer.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_size(l1.len() as u64);
    b.append_data(&mut h, &deep, &l1[..]).unwrap();
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "alias", "d".repeat(300)).unwrap();
    let mut h = Header::new_gnu();
    h.set_size(cfg.len() as u64);
    b.append_data(&mut h, "c.json", &cfg[..]).unwrap();
    let mut h = Header::new_gnu();
    h.set_size(manifest.len() as u64);
    b.append_data(&mut h, "manifest.json", &manifest[..])
        .unwrap();
    let (res, _tmp) = load(&b.into_inner().unwrap());
    assert_eq!(read_blob(&res.unwrap()[0].layers[0].blob), l1);
}

#[test]
fn oversized_tar_metadata_is_refused() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_size(1);
    let name = "n/".repeat(600 * 1024) + "f";
    b.append_data(&mut h, &name, &b"x"[..]).unwrap();
    expect_invalid(&b.into_inner().unwrap(), "too large");
}

#[test]
fn truncated_archive() {
    let l1 = layer("one");
    let input = tar_of(&[E::File("l.tar", &l1), E::File("manifest.json", b"[]")]);
    expect_invalid(&input[..700], "malformed tar");
}
