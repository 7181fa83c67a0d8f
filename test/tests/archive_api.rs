//! The archive API itself (HEAD, PUT /containers/{id}/archive) with raw
//! requests: path stats, missing paths, chunked bodies, and hostile tars
//! (`..` and absolute entries, symlinks out of the container).

use pouch_tests::archive::{MODE_DIR, MODE_SYMLINK};
use pouch_tests::tarball::TarBuilder;
use pouch_tests::{random_hex, TestDaemon};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[test]
fn archive_put_raw() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "dst", "busybox", "sleep", "1000"]);
    let tar = TarBuilder::new()
        .dir("newdir/")
        .file("newdir/file", b"content\n")
        .symlink("newdir/ln", "file")
        .file("top", b"top\n")
        .finish();
    let r = d
        .request(
            "PUT",
            "/v1.41/containers/dst/archive?path=/tmp",
            Some("application/x-tar"),
            &tar,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let out = d.docker_ok(&[
        "exec",
        "dst",
        "sh",
        "-c",
        "cat /tmp/newdir/file /tmp/top; readlink /tmp/newdir/ln",
    ]);
    assert_eq!(out, "content\ntop\nfile");

    // A path that does not exist: 404; unknown container: 404; no path: 400.
    d.request(
        "PUT",
        "/v1.41/containers/dst/archive?path=/no/such",
        Some("application/x-tar"),
        &tar,
    )
    .unwrap()
    .expect_error(404);
    d.request(
        "PUT",
        "/v1.41/containers/nope/archive?path=/tmp",
        Some("application/x-tar"),
        &tar,
    )
    .unwrap()
    .expect_error(404);
    d.request(
        "PUT",
        "/v1.41/containers/dst/archive",
        Some("application/x-tar"),
        &tar,
    )
    .unwrap()
    .expect_error(400);
    // Onto a file: not a directory.
    let r = d
        .request(
            "PUT",
            "/v1.41/containers/dst/archive?path=/tmp/top",
            Some("application/x-tar"),
            &tar,
        )
        .unwrap();
    assert!(
        r.status == 400 || r.status == 404 || r.status == 409,
        "PUT onto a file: {} {}",
        r.status,
        r.text()
    );

    // Into a created container.
    d.docker_ok(&[
        "create",
        "--name",
        "fresh",
        "busybox",
        "cat",
        "/newdir/file",
    ]);
    let r = d
        .request(
            "PUT",
            "/v1.41/containers/fresh/archive?path=/",
            Some("application/x-tar"),
            &tar,
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(d.docker_run(&["start", "-a", "fresh"]).ok(), "content\n");
}

/// The docker CLI sends the tar of `docker cp` with chunked encoding; the
/// daemon must read the body to its end (the last chunk comes after the
/// tar's end blocks) before it closes the connection.
#[test]
fn archive_put_reads_the_whole_chunked_body() {
    use std::io::{Read, Write};
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "dst", "busybox", "sleep", "1000"]);
    let tar = TarBuilder::new().file("chunked", b"via chunks\n").finish();
    assert_eq!(tar.len(), 2048);
    let chunk = |b: &[u8]| {
        let mut v = format!("{:x}\r\n", b.len()).into_bytes();
        v.extend_from_slice(b);
        v.extend_from_slice(b"\r\n");
        v
    };
    // As the docker CLI sends it: one chunk per write of its tar writer
    // (header, data, padding, the two end blocks), then the last chunk.
    // A race: try often enough to lose it.
    let mut failures = Vec::new();
    for i in 0..20 {
        let mut sock = std::os::unix::net::UnixStream::connect(&d.sock).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        sock.write_all(
            b"PUT /v1.41/containers/dst/archive?path=/tmp HTTP/1.1\r\nHost: docker\r\n\
              Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
        )
        .unwrap();
        for part in [
            &tar[..512],
            &tar[512..523],
            &tar[523..1024],
            &tar[1024..1536],
            &tar[1536..],
        ] {
            sock.write_all(&chunk(part)).unwrap();
        }
        // The last chunk follows a pause, as from a client still busy; the
        // daemon must read the body to its end (never close on the client
        // while it writes) and then answer.
        std::thread::sleep(Duration::from_millis(20));
        if let Err(e) = sock.write_all(b"0\r\n\r\n") {
            failures.push(format!("attempt {i}: {e}"));
            continue;
        }
        let mut head = [0u8; 15];
        sock.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200 OK", "attempt {i}");
    }
    assert!(
        failures.is_empty(),
        "the daemon closed the connection before the end of the request body: {failures:?}"
    );
    assert_eq!(
        d.docker_ok(&["exec", "dst", "cat", "/tmp/chunked"]),
        "via chunks"
    );
}

#[test]
fn archive_head_stat_and_missing_paths() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "st", "busybox", "sleep", "1000"]);
    d.populate_src_tree("st");

    let f = d.path_stat("st", "/src/f");
    assert_eq!(f["name"], "f", "{f}");
    assert_eq!(f["size"], 6, "{f}");
    assert_eq!(f["mode"], 0o644, "{f}");
    assert_eq!(f["linkTarget"], "", "{f}");
    let mtime = f["mtime"].as_str().unwrap_or_else(|| panic!("mtime: {f}"));
    assert!(
        mtime.len() >= 20 && mtime.as_bytes()[4] == b'-' && mtime.as_bytes()[10] == b'T',
        "mtime is not RFC 3339: {mtime:?}"
    );

    let dir = d.path_stat("st", "/src/sub");
    assert_eq!(dir["name"], "sub", "{dir}");
    assert_eq!(dir["mode"], MODE_DIR | 0o755, "{dir}");

    let g = d.path_stat("st", "/src/sub/g");
    assert_eq!(g["mode"], 0o600, "{g}");

    let l = d.path_stat("st", "/src/link");
    assert_eq!(l["name"], "link", "{l}");
    assert_eq!(l["mode"], MODE_SYMLINK | 0o777, "{l}");
    assert_eq!(l["linkTarget"], "/src/f", "{l}");
    let l = d.path_stat("st", "/abslink");
    assert_eq!(l["linkTarget"], "/src/f", "{l}");

    // GET has the same header.
    let r = d.get_ok("/v1.41/containers/st/archive?path=/src/f");
    assert_eq!(r.status, 200);
    assert!(
        r.header("X-Docker-Container-Path-Stat").is_some(),
        "{:?}",
        r.headers
    );
    assert!(
        r.header("content-type").unwrap_or("").contains("x-tar"),
        "{:?}",
        r.headers
    );
    // A tar: one 512-byte header naming "f", the data, end blocks.
    assert!(
        r.body.len() >= 1024 && r.body.len() % 512 == 0,
        "{}",
        r.body.len()
    );
    assert_eq!(&r.body[..2], b"f\0");
    assert_eq!(&r.body[512..518], b"hello\n");

    // Missing: 404 on HEAD and GET; a missing container too.
    let r = d
        .request(
            "HEAD",
            "/v1.41/containers/st/archive?path=/no/such",
            None,
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 404);
    let m = d
        .get_ok("/v1.41/containers/st/archive?path=/no/such")
        .expect_error(404);
    assert!(m.contains("/no/such"), "{m}");
    d.get_ok("/v1.41/containers/nope/archive?path=/")
        .expect_error(404);
    d.get_ok("/v1.41/containers/st/archive").expect_error(400);
    let o = d.docker_run(&["cp", "st:/no/such", "-"]);
    o.failed();
    assert!(o.stderr.contains("No such container:path"), "{o:?}");
}

#[test]
fn archive_put_hostile_tars() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "tgt", "busybox", "sleep", "1000"]);
    let victim = d.dir.join("victim");
    fs::create_dir_all(&victim).unwrap();
    let rel_victim = victim.to_string_lossy().trim_start_matches('/').to_string();
    let ups = "../".repeat(30);
    let tmp_name = format!("pouch-test-escaped-{}", random_hex(8));

    let cases: Vec<(&str, Vec<u8>, PathBuf)> = vec![
        (
            "dot-dot entry",
            TarBuilder::new()
                .file(&format!("{ups}{rel_victim}/escaped-rel"), b"x\n")
                .finish(),
            victim.join("escaped-rel"),
        ),
        (
            "four dot-dots to the test dir",
            TarBuilder::new()
                .file(&format!("../../../../{rel_victim}/escaped-4"), b"x\n")
                .finish(),
            victim.join("escaped-4"),
        ),
        (
            "dot-dot entry to /tmp",
            TarBuilder::new()
                .file(&format!("../../../../tmp/{tmp_name}"), b"x\n")
                .finish(),
            Path::new("/tmp").join(&tmp_name),
        ),
        (
            "absolute entry",
            TarBuilder::new()
                .file(&format!("{}/escaped-abs", victim.to_string_lossy()), b"x\n")
                .finish(),
            victim.join("escaped-abs"),
        ),
        (
            "entry through a symlink in the same tar",
            TarBuilder::new()
                .symlink("lnk", &victim.to_string_lossy())
                .file("lnk/escaped-via-link", b"x\n")
                .finish(),
            victim.join("escaped-via-link"),
        ),
        (
            "entry through a relative symlink in the same tar",
            TarBuilder::new()
                .symlink("rlnk", &format!("{ups}{rel_victim}"))
                .file("rlnk/escaped-via-rel-link", b"x\n")
                .finish(),
            victim.join("escaped-via-rel-link"),
        ),
        (
            "hard link to a host file",
            TarBuilder::new()
                .hardlink("hl", &format!("{ups}etc/hostname"))
                .finish(),
            victim.join("hl"),
        ),
    ];
    for (what, tar, host_path) in cases {
        for dest in ["/", "/tmp"] {
            let r = d
                .request(
                    "PUT",
                    &format!("/v1.41/containers/tgt/archive?path={dest}"),
                    Some("application/x-tar"),
                    &tar,
                )
                .unwrap();
            eprintln!("{what} into {dest}: {} {}", r.status, r.text().trim());
            let escaped = host_path.exists();
            let _ = fs::remove_file(&host_path);
            assert!(
                !escaped,
                "{what} into {dest}: written on the host at {}",
                host_path.display()
            );
            assert!(
                r.status == 200 || r.status == 400,
                "{what} into {dest}: status {} {}",
                r.status,
                r.text()
            );
            if r.status == 400 {
                r.expect_error(400);
            } else if what == "absolute entry" {
                // Taken as relative to the destination, like docker does.
                let inside = format!(
                    "{}{}/escaped-abs",
                    dest.trim_end_matches('/'),
                    victim.to_string_lossy()
                );
                assert_eq!(
                    d.docker_ok(&["exec", "tgt", "cat", &inside]),
                    "x",
                    "{what} into {dest}: not at {inside} in the container"
                );
            }
        }
    }
    assert_eq!(
        fs::read_dir(&victim).unwrap().count(),
        0,
        "something was written into {}",
        victim.display()
    );
    // A hard link to a host file must not expose it (nor link it).
    let o = d.docker_run(&["exec", "tgt", "sh", "-c", "cat /hl /tmp/hl 2>/dev/null"]);
    let host_hostname = fs::read_to_string("/etc/hostname").unwrap_or_default();
    if !host_hostname.trim().is_empty() {
        assert!(
            !o.stdout.contains(host_hostname.trim()),
            "the host's /etc/hostname is readable in the container: {o:?}"
        );
    }
    // The container still works.
    assert_eq!(d.docker_ok(&["exec", "tgt", "echo", "ok"]), "ok");
}
