//! `docker cp` both ways (the archive API through the CLI), export and diff,
//! and a symlink in the container pointing at `/` that must not lead out.

use pouch_tests::archive::MODE_DIR;
use pouch_tests::{random_hex, TestDaemon};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn assert_symlink(p: &Path, target: &str) {
    let md = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        md.file_type().is_symlink(),
        "{} is not a symlink",
        p.display()
    );
    assert_eq!(
        fs::read_link(p).unwrap(),
        PathBuf::from(target),
        "{}",
        p.display()
    );
}

fn host_dir(d: &TestDaemon, name: &str) -> PathBuf {
    let p = d.dir.join(name);
    fs::create_dir_all(&p).unwrap();
    p
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn cp_from_running_container() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "src", "busybox", "sleep", "1000"]);
    d.populate_src_tree("src");
    let out = host_dir(&d, "out");

    // A file.
    d.docker_ok(&["cp", "src:/src/f", &s(&out.join("f"))]);
    assert_eq!(fs::read_to_string(out.join("f")).unwrap(), "hello\n");
    // Into an existing directory: keeps the name.
    d.docker_ok(&["cp", "src:/src/sub/g", &s(&out)]);
    assert_eq!(fs::read_to_string(out.join("g")).unwrap(), "deep\n");
    assert_eq!(
        fs::metadata(out.join("g")).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A directory, recursively, with its relative symlink kept as a link.
    d.docker_ok(&["cp", "src:/src", &s(&out.join("tree"))]);
    assert_eq!(fs::read_to_string(out.join("tree/f")).unwrap(), "hello\n");
    assert_eq!(
        fs::read_to_string(out.join("tree/sub/g")).unwrap(),
        "deep\n"
    );
    assert_symlink(&out.join("tree/link"), "f");
    // dir/. copies the contents.
    let contents = host_dir(&d, "contents");
    d.docker_ok(&["cp", "src:/src/.", &s(&contents)]);
    assert_eq!(
        fs::read_to_string(contents.join("sub/g")).unwrap(),
        "deep\n"
    );

    // A symlink is copied as a symlink, -L follows it.
    d.docker_ok(&["cp", "src:/abslink", &s(&out.join("abslink"))]);
    assert_symlink(&out.join("abslink"), "/src/f");
    d.docker_ok(&["cp", "-L", "src:/abslink", &s(&out.join("followed"))]);
    let md = fs::symlink_metadata(out.join("followed")).unwrap();
    assert!(md.file_type().is_file(), "-L did not follow the link");
    assert_eq!(fs::read_to_string(out.join("followed")).unwrap(), "hello\n");

    // To stdout: a tar.
    let o = d.docker_sh(r#""$DOCKER" cp src:/src - | tar -tv"#);
    let listing = o.ok();
    for want in ["src/", "src/f", "src/sub/", "src/sub/g", "src/link -> f"] {
        assert!(
            listing.lines().any(|l| l.ends_with(want)),
            "tar listing lacks {want:?}: {listing}"
        );
    }
    let o = d.docker_sh(r#""$DOCKER" cp src:/src/f - | tar -xO"#);
    assert_eq!(o.ok(), "hello\n", "stderr {:?}", o.stderr);

    // A missing path.
    let o = d.docker_run(&["cp", "src:/no/such", &s(&out)]);
    o.failed();
    assert!(o.stderr.contains("No such container:path"), "{o:?}");
}

#[test]
fn cp_from_stopped_containers() {
    let Some(d) = TestDaemon::start() else { return };
    // Created, never started: the image's files are there.
    d.docker_ok(&["create", "--name", "created", "busybox", "true"]);
    let o = d.docker_sh(r#""$DOCKER" cp created:/etc/passwd - | tar -xO"#);
    assert!(o.ok().contains("pouchtest:x:1000:"), "{o:?}");
    let out = host_dir(&d, "out");
    d.docker_ok(&["cp", "created:/etc/passwd", &s(&out)]);
    assert!(fs::read_to_string(out.join("passwd"))
        .unwrap()
        .contains("root:x:0:"));
    // The stat works there too.
    let st = d.path_stat("created", "/bin");
    assert_eq!(st["name"], "bin", "{st}");
    assert_ne!(st["mode"].as_u64().unwrap() & MODE_DIR, 0, "{st}");

    // Exited: what the container wrote is there.
    d.docker_ok(&[
        "run",
        "--name",
        "exited",
        "busybox",
        "sh",
        "-c",
        "mkdir /made && echo was-here > /made/file",
    ]);
    d.docker_ok(&["cp", "exited:/made", &s(&out.join("made"))]);
    assert_eq!(
        fs::read_to_string(out.join("made/file")).unwrap(),
        "was-here\n"
    );
}

/// Files to copy in: f, dir/{a, sub/b, rel -> a}, link -> f.
fn host_tree(d: &TestDaemon) -> PathBuf {
    let src = host_dir(d, "in");
    fs::write(src.join("f"), "host file\n").unwrap();
    fs::create_dir_all(src.join("dir/sub")).unwrap();
    fs::write(src.join("dir/a"), "a\n").unwrap();
    fs::write(src.join("dir/sub/b"), "b\n").unwrap();
    std::os::unix::fs::symlink("a", src.join("dir/rel")).unwrap();
    std::os::unix::fs::symlink("/etc/f-target", src.join("link")).unwrap();
    src
}

/// docker cp host -> container: files, directories, symlinks, into a
/// directory, into a container that never ran; the CLI's exit status
/// checked each time (a refused upload once surfaced as a broken pipe, a
/// race: the first copy is repeated often enough to hit it).
#[test]
fn cp_into_containers() {
    let Some(d) = TestDaemon::start() else { return };
    let src = host_tree(&d);
    d.docker_ok(&["run", "-d", "--name", "dst", "busybox", "sleep", "1000"]);
    for i in 0..25 {
        d.docker_ok(&["cp", &s(&src.join("f")), &format!("dst:/f{i}")]);
    }
    d.docker_ok(&["cp", &s(&src.join("dir")), "dst:/dir"]);
    d.docker_ok(&["cp", &s(&src.join("link")), "dst:/link"]);
    d.docker_ok(&["cp", &s(&src.join("f")), "dst:/tmp/"]);
    let out = d.docker_ok(&[
        "exec",
        "dst",
        "sh",
        "-c",
        "cat /f24 /tmp/f /dir/a /dir/sub/b; readlink /dir/rel; readlink /link; \
         [ -L /link ] && echo is-link",
    ]);
    assert_eq!(out, "host file\nhost file\na\nb\na\n/etc/f-target\nis-link");

    // Into a created container, before it ever ran.
    d.docker_ok(&[
        "create",
        "--name",
        "fresh",
        "busybox",
        "cat",
        "/f",
        "/dir/sub/b",
    ]);
    d.docker_ok(&["cp", &s(&src.join("f")), "fresh:/f"]);
    d.docker_ok(&["cp", &s(&src.join("dir")), "fresh:/dir"]);
    let o = d.docker_run(&["start", "-a", "fresh"]);
    assert_eq!(o.ok(), "host file\nb\n");
    // A destination directory that does not exist.
    let o = d.docker_run(&["cp", &s(&src.join("f")), "dst:/no/such/dir/"]);
    o.failed();
}

#[test]
fn cp_through_a_symlink_to_root_stays_in_the_container() {
    let Some(d) = TestDaemon::start() else { return };
    let id = d.docker_ok(&["run", "-d", "--name", "evil", "busybox", "sleep", "1000"]);
    d.docker_ok(&["exec", "evil", "ln", "-s", "/", "/tmp/evil"]);
    // Reading through it gives the container's file, not the host's.
    let o = d.docker_sh(r#""$DOCKER" cp evil:/tmp/evil/etc/hostname - | tar -xO"#);
    assert_eq!(o.ok().trim(), &id[..12], "stderr {:?}", o.stderr);
    let o = d.docker_sh(r#""$DOCKER" cp evil:/tmp/evil/etc/passwd - | tar -xO"#);
    assert!(o.ok().contains("pouchtest:x:1000"), "{o:?}");

    // Writing through it lands in the container's /tmp.
    let name = format!("pouch-test-cp-escape-{}", random_hex(8));
    let src = d.dir.join(&name);
    fs::write(&src, "must stay inside\n").unwrap();
    let host_victim = Path::new("/tmp").join(&name);
    let _ = d.docker_run(&["cp", &s(&src), "evil:/tmp/evil/tmp/"]);
    let escaped = host_victim.exists();
    let _ = fs::remove_file(&host_victim);
    assert!(
        !escaped,
        "docker cp wrote {} on the host",
        host_victim.display()
    );
    assert_eq!(
        d.docker_ok(&["exec", "evil", "cat", &format!("/tmp/{name}")]),
        "must stay inside"
    );

    // A link to a host directory that exists (the test dir) is resolved in
    // the container too.
    let host_dir = d.dir.join("victim");
    fs::create_dir_all(&host_dir).unwrap();
    d.docker_ok(&["exec", "evil", "ln", "-s", &s(&host_dir), "/tmp/evil2"]);
    let _ = d.docker_run(&["cp", &s(&src), "evil:/tmp/evil2/"]);
    assert!(
        !host_dir.join(&name).exists(),
        "docker cp wrote through a link into the host's {}",
        host_dir.display()
    );
    fs::write(host_dir.join("secret"), "host secret\n").unwrap();
    let o = d.docker_sh(r#""$DOCKER" cp evil:/tmp/evil2/secret - | tar -xO"#);
    assert!(
        !o.stdout.contains("host secret"),
        "read a host file through a link: {o:?}"
    );
}

#[test]
fn export_and_diff() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "ch", "busybox", "sleep", "1000"]);
    d.docker_ok(&["exec", "ch", "sh", "-c", "touch /newfile && rm /bin/ls"]);

    let o = d.docker_sh(r#""$DOCKER" export ch | tar -t"#);
    let names: Vec<String> = o
        .ok()
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "bin/busybox"),
        "no bin/busybox in export"
    );
    assert!(names.iter().any(|n| n == "newfile"), "no newfile in export");
    assert!(
        !names.iter().any(|n| n == "bin/ls"),
        "removed bin/ls exported"
    );
    let in_proc: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("proc/") && n.len() > "proc/".len())
        .collect();
    assert!(
        in_proc.is_empty(),
        "proc contents exported: {:?}",
        &in_proc[..in_proc.len().min(5)]
    );
    let in_sys = names
        .iter()
        .filter(|n| n.starts_with("sys/") && n.len() > "sys/".len())
        .count();
    assert_eq!(in_sys, 0, "sys contents exported");
    // export -o writes the same to a file.
    let file = d.dir.join("export.tar");
    d.docker_ok(&["export", "-o", &s(&file), "ch"]);
    assert!(fs::metadata(&file).unwrap().len() > 1_000_000);

    let diff = d.docker_ok(&["diff", "ch"]);
    let lines: Vec<&str> = diff.lines().collect();
    for want in ["A /newfile", "D /bin/ls", "C /bin"] {
        assert!(lines.contains(&want), "docker diff lacks {want:?}: {diff}");
    }
    // The runtime's own mount points are not reported as changes.
    for hidden in [
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/proc",
        "/dev",
    ] {
        assert!(
            !lines
                .iter()
                .any(|l| l.ends_with(hidden) && l.starts_with('A')),
            "docker diff reports {hidden}: {diff}"
        );
    }
    // A fresh container has no changes.
    d.docker_ok(&["create", "--name", "clean", "busybox", "true"]);
    assert_eq!(d.docker_ok(&["diff", "clean"]), "");
    d.get_ok("/v1.41/containers/nope/changes").expect_error(404);
    d.get_ok("/v1.41/containers/nope/export").expect_error(404);
}
