//! Pulled layers unpack as Docker's do: whiteouts hide what is below,
//! opaque directories hide all of it, and a parent directory a layer does not
//! list keeps the owner and mode it has below. pouchd applies gzip layers
//! itself (not containerd's differ); these are the cases where that differs
//! from a plain untar.

use flate2::write::GzEncoder;
use pouch_tests::registry::{put_image, test_image_blobs, Registry};
use pouch_tests::tarball::{sha256_hex, TarBuilder};
use pouch_tests::{Options, TestDaemon};
use std::io::Write;
use std::time::Duration;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn diff_id(tar: &[u8]) -> serde_json::Value {
    format!("sha256:{}", sha256_hex(tar)).into()
}

#[test]
fn whiteouts_opaque_dirs_and_inherited_parents() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let args = ["--insecure-registries", &reg.host()];
    let Some(d) = TestDaemon::start_with_args(Options::default(), &args) else {
        return;
    };
    let (mut config, base) = test_image_blobs(&d.dir);
    let l2 = TarBuilder::new()
        .dir("data/")
        .file("data/a", b"a")
        .file("data/b", b"b")
        .dir_mode("keep/", 0o700)
        .file("keep/k", b"k")
        .dir("opq/")
        .file("opq/x", b"x")
        .finish();
    // No `keep/` entry: the directory stays 0700 from the layer below.
    let l3 = TarBuilder::new()
        .file("data/.wh.a", b"")
        .file("opq/.wh..wh..opq", b"")
        .file("opq/y", b"y")
        .file("keep/new", b"new")
        .finish();
    let ids = config["rootfs"]["diff_ids"].as_array_mut().unwrap();
    ids.extend([diff_id(&l2), diff_id(&l3)]);
    let cfg = serde_json::to_vec(&config).unwrap();
    put_image(
        &reg,
        "test/layers",
        "v1",
        &cfg,
        &[base.clone(), gzip(&l2), gzip(&l3)],
    );

    let name = format!("{}/test/layers:v1", reg.host());
    d.docker_ok(&["pull", &name]);
    let script = "ls /data; echo -; ls /opq; echo -; stat -c %a /keep; ls /keep";
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &name,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out, "b\n-\ny\n-\n700\nk\nnew");

    // A layer whose content is not what the config's diff ID says is
    // refused, and nothing of it is left to poison that diff ID's snapshot.
    let l4 = TarBuilder::new().file("l4", b"real").finish();
    let claimed = TarBuilder::new().file("l4", b"claimed").finish();
    let ids = config["rootfs"]["diff_ids"].as_array_mut().unwrap();
    ids.push(diff_id(&claimed));
    let cfg = serde_json::to_vec(&config).unwrap();
    let layers = [base, gzip(&l2), gzip(&l3), gzip(&l4)];
    put_image(&reg, "test/layers", "bad", &cfg, &layers);
    let bad = format!("{}/test/layers:bad", reg.host());
    let err = d.docker_run(&["pull", &bad]).failed().to_string();
    assert!(err.contains("unpacks to"), "{err}");
    let r = d.get_ok(&format!("/v1.41/images/{bad}/json"));
    assert_eq!(r.status, 404, "{}", r.text());
    // Layers extracted ahead of their turn (pouchd stages them beside the
    // snapshots) are gone once the pull is over, failed or not.
    let staging = d
        .dir
        .join("home/containerd/io.containerd.snapshotter.v1.overlayfs/pouchd-staging")
        .join(&d.ns);
    assert!(staging.is_dir(), "{}", staging.display());
    pouch_tests::wait_for("staging emptied", Duration::from_secs(10), || {
        let left = std::fs::read_dir(&staging).ok()?.count();
        (left == 0).then_some(())
    });
    // The layers below it were fine and still are.
    let out = d.docker_ok(&["run", "--rm", "--network", "none", &name, "cat", "/opq/y"]);
    assert_eq!(out, "y");
}

#[test]
fn concurrent_pulls_of_images_sharing_layers() {
    let Some(reg) = Registry::start(false) else {
        return;
    };
    let args = ["--insecure-registries", &reg.host()];
    let Some(d) = TestDaemon::start_with_args(Options::default(), &args) else {
        return;
    };
    let (config, base) = test_image_blobs(&d.dir);
    // Big enough that the pulls overlap.
    let blob = |seed: u8| -> Vec<u8> {
        (0..4u32 << 20)
            .map(|i| (i as u8).wrapping_mul(seed) ^ (i >> 9) as u8)
            .collect()
    };
    let shared = TarBuilder::new().file("shared.bin", &blob(7)).finish();
    let own_a = TarBuilder::new().file("a.bin", &blob(11)).finish();
    let own_b = TarBuilder::new()
        .file("b.bin", &blob(13))
        .file(".wh.shared.bin", b"")
        .finish();
    for (tag, own) in [("a", &own_a), ("b", &own_b)] {
        let mut cfg = config.clone();
        let ids = cfg["rootfs"]["diff_ids"].as_array_mut().unwrap();
        ids.extend([diff_id(&shared), diff_id(own)]);
        let cfg = serde_json::to_vec(&cfg).unwrap();
        put_image(
            &reg,
            "test/shared",
            tag,
            &cfg,
            &[base.clone(), gzip(&shared), gzip(own)],
        );
    }
    let (a, b) = (
        format!("{}/test/shared:a", reg.host()),
        format!("{}/test/shared:b", reg.host()),
    );
    std::thread::scope(|s| {
        let pa = s.spawn(|| d.docker_run(&["pull", &a]));
        let pb = s.spawn(|| d.docker_run(&["pull", &b]));
        pa.join().unwrap().ok();
        pb.join().unwrap().ok();
    });
    let ls = "ls /*.bin";
    let run = |img: &str| d.docker_ok(&["run", "--rm", "--network", "none", img, "sh", "-c", ls]);
    assert_eq!(run(&a), "/a.bin\n/shared.bin");
    assert_eq!(run(&b), "/b.bin");
    let staging = d
        .dir
        .join("home/containerd/io.containerd.snapshotter.v1.overlayfs/pouchd-staging")
        .join(&d.ns);
    pouch_tests::wait_for("staging emptied", Duration::from_secs(10), || {
        let left = std::fs::read_dir(&staging).ok()?.count();
        (left == 0).then_some(())
    });
}
