//! The pouch CLI's local image commands against pouchd: images, inspect,
//! save/load, import, commit, history, prune.

mod pouch_cli_common;

use pouch_cli_common::{lines, pouch_script, wait_code, Pouch, Terminal};
use pouch_tests::{run_with_timeout, TestDaemon};
use std::time::Duration;

#[test]
fn images_filters_formats_and_inspect() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    p.ok(&["tag", "busybox", "my/box:v1"]);
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id = id.trim();
    let short = &id["sha256:".len().."sha256:".len() + 12];

    let out = p.ok(&["images"]);
    let ls = lines(&out);
    assert_eq!(
        ls[0].split_whitespace().collect::<Vec<_>>(),
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    );
    assert_eq!(ls.len(), 3, "{out}");
    assert!(ls
        .iter()
        .any(|l| l.starts_with("my/box ") && l.contains(short)));
    assert_eq!(p.ok(&["images", "-q"]), format!("{short}\n{short}\n"));
    assert_eq!(
        p.ok(&["image", "ls", "-q", "--no-trunc", "my/box"]),
        format!("{id}\n")
    );
    let out = p.ok(&[
        "images",
        "--filter",
        "reference=my/*",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(out, "my/box:v1\n");
    let out = p.ok(&[
        "image",
        "list",
        "--digests",
        "--format",
        "table {{.Repository}}\t{{.Digest}}",
    ]);
    assert!(lines(&out)[0].contains("DIGEST"), "{out}");
    let o = p.run(&["images", "-f", "bogus"]);
    assert_ne!(o.code(), 0, "{o:?}");

    let out = p.ok(&["image", "inspect", "my/box:v1"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    assert_eq!(v[0]["Id"], id);
    let o = p.run(&["image", "inspect", "no-such-image"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("No such image: no-such-image"), "{o:?}");
    p.ok(&["image", "rm", "my/box:v1"]);
    assert_eq!(p.ok(&["images", "-q"]), format!("{short}\n"));
}

#[test]
fn save_then_load_restores_the_image() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    p.ok(&["tag", "busybox", "saved/box:v1"]);
    let file = d.dir.join("saved.tar");
    let f = file.to_str().unwrap();
    assert_eq!(p.ok(&["save", "-o", f, "saved/box:v1"]), "");
    let listing = run_with_timeout(
        std::process::Command::new("tar").arg("-tf").arg(&file),
        None,
        Duration::from_secs(30),
    );
    assert!(listing.ok().contains("manifest.json"), "{listing:?}");

    // To stdout when it is not a terminal.
    let o = p.run(&["image", "save", "busybox"]);
    assert!(o.status.success(), "{:?}", o.stderr);
    assert!(o.stdout.len() > 1024, "tiny tar on stdout");

    p.ok(&["rmi", "saved/box:v1", "busybox"]);
    let out = p.ok(&["load", "-i", f]);
    assert!(out.contains("Loaded image: saved/box:v1"), "{out}");
    assert_eq!(
        p.ok(&["image", "inspect", "-f", "{{.Id}}", "saved/box:v1"]),
        id
    );
    assert_eq!(
        p.ok(&["run", "--rm", "saved/box:v1", "echo", "back"]),
        "back\n"
    );
    assert_eq!(
        p.ok(&["image", "load", "-q", "-i", f]),
        "Loaded image: saved/box:v1\n"
    );

    let o = p.run(&["save", "-o", f, "no-such-image"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("no-such-image"), "{o:?}");
    // The earlier archive is intact: a failed save leaves no partial file.
    assert_eq!(
        p.ok(&["load", "-q", "-i", f]),
        "Loaded image: saved/box:v1\n"
    );
}

#[test]
fn commit_then_history_shows_the_new_step() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    p.ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo committed > /data.txt",
    ]);
    let out = p.ok(&[
        "commit",
        "-a",
        "Tester <t@example.com>",
        "-m",
        "add data",
        "-c",
        "ENV GREETING=hello",
        "c1",
        "committed/box:v1",
    ]);
    let new_id = out.trim();
    assert!(new_id.starts_with("sha256:"), "{out}");
    assert_eq!(
        p.ok(&["image", "inspect", "-f", "{{.Id}}", "committed/box:v1"])
            .trim(),
        new_id
    );
    assert_eq!(
        p.ok(&[
            "run",
            "--rm",
            "committed/box:v1",
            "sh",
            "-c",
            "cat /data.txt; echo $GREETING"
        ]),
        "committed\nhello\n"
    );

    let out = p.ok(&["history", "committed/box:v1"]);
    let ls = lines(&out);
    assert_eq!(
        ls[0].split_whitespace().collect::<Vec<_>>(),
        ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    );
    assert!(
        ls[1].starts_with(&new_id["sha256:".len().."sha256:".len() + 12]),
        "{out}"
    );
    assert!(ls[1].trim_end().ends_with("add data"), "{out}");
    let busybox_steps = lines(&p.ok(&["history", "-q", "busybox"])).len();
    assert_eq!(ls.len() - 1, busybox_steps + 1, "{out}");
    let ids = p.ok(&["image", "history", "-q", "--no-trunc", "committed/box:v1"]);
    assert_eq!(lines(&ids)[0], new_id);
    let sizes = p.ok(&[
        "history",
        "--human=false",
        "--format",
        "{{.Size}}",
        "committed/box:v1",
    ]);
    assert!(
        lines(&sizes).iter().all(|s| s.parse::<i64>().is_ok()),
        "{sizes}"
    );
    let o = p.run(&["history", "no-such-image"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("No such image"), "{o:?}");
    let o = p.run(&["commit", "no-such-container"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("No such container"), "{o:?}");
}

#[test]
fn import_a_rootfs_from_a_file_and_stdin() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    p.ok(&["create", "--name", "src", "busybox"]);
    let rootfs = d.dir.join("rootfs.tar");
    let r = rootfs.to_str().unwrap();
    p.ok(&["export", "-o", r, "src"]);

    let out = p.ok(&[
        "import",
        "-c",
        "CMD [\"echo\", \"imported\"]",
        "-m",
        "from a file",
        r,
        "imported/box:v1",
    ]);
    let id = lines(&out).last().copied().unwrap_or_default().to_string();
    assert!(id.starts_with("sha256:"), "{out}");
    assert_eq!(
        p.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Comment}}",
            "imported/box:v1"
        ])
        .trim(),
        format!("{id} from a file")
    );
    assert_eq!(p.ok(&["run", "--rm", "imported/box:v1"]), "imported\n");

    let tar = std::fs::read(&rootfs).unwrap();
    let o = p.run_stdin(&["image", "import", "-", "imported/stdin"], Some(&tar));
    assert!(o.ok().trim().starts_with("sha256:"), "{o:?}");
    let sum = |image: &str| p.ok(&["run", "--rm", image, "md5sum", "/bin/busybox"]);
    assert_eq!(sum("imported/stdin"), sum("busybox"));

    let o = p.run(&["import", "/no/such.tar"]);
    assert_eq!(o.code(), 1, "{o:?}");
    assert!(o.stderr.contains("no such file or directory"), "{o:?}");
}

#[test]
fn prune_asks_first_and_keeps_images_in_use() {
    let Some(d) = TestDaemon::start() else { return };
    let p = Pouch::new(&d);
    let id = p.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    let id = id.trim();

    // "n" (or anything but y) keeps everything.
    let o = p.run_stdin(&["image", "prune", "-a"], Some(b"n\n"));
    let out = o.ok();
    assert!(
        out.starts_with("WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "),
        "{out}"
    );
    assert!(out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert_eq!(p.ok(&["images", "-q", "--no-trunc"]).trim(), id);

    // Nothing dangling: nothing to remove.
    assert_eq!(
        p.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );

    // In use by a container: kept even with -a.
    p.ok(&["create", "--name", "user", "busybox"]);
    p.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(p.ok(&["images", "-q", "--no-trunc"]).trim(), id);

    p.ok(&["rm", "user"]);
    let o = p.run_stdin(&["image", "prune", "-a"], Some(b"y\n"));
    let out = o.ok();
    assert!(
        out.contains("Deleted Images:\nuntagged: busybox:latest\n"),
        "{out}"
    );
    assert!(out.contains(&format!("deleted: {id}\n")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert!(!out.ends_with("Total reclaimed space: 0B\n"), "{out}");
    assert_eq!(p.ok(&["images", "-q"]), "");
}

#[test]
fn save_refuses_to_write_a_tar_to_a_terminal() {
    let Some(d) = TestDaemon::start() else { return };
    let code = d.dir.join("save.code");
    let p = Pouch::new(&d);
    let script = pouch_script(&p, &["save", "busybox"], &code);
    let Some(t) = Terminal::start(&d, &script) else {
        return;
    };
    let rc = wait_code(&code);
    let screen = t.screen();
    assert_eq!(rc, "1", "{screen}");
    assert!(
        screen.contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"),
        "{screen}"
    );
}
