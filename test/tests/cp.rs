//! cp / archive (GET, HEAD, PUT /containers/{id}/archive), export and diff,
//! including hostile paths: symlinks inside the container that point at
//! `/`, and tars with `..` and absolute entries.

use pouch_tests::tarball::TarBuilder;
use pouch_tests::{random_hex, TestDaemon};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Go's os.FileMode bits as Docker puts them in the path stat.
const MODE_DIR: u64 = 1 << 31;
const MODE_SYMLINK: u64 = 1 << 27;

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s.as_bytes() {
        if c == b'=' {
            break;
        }
        let v = val(c).unwrap_or_else(|| panic!("not base64: {s:?}"));
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The decoded `X-Docker-Container-Path-Stat` of HEAD .../archive?path=P.
fn path_stat(d: &TestDaemon, container: &str, path: &str) -> serde_json::Value {
    let r = d
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
    let raw = base64_decode(h);
    serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "stat header is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// Creates files in a running container: /src/f, /src/sub/g, /src/link -> f,
/// /abslink -> /src/f.
fn populate(d: &TestDaemon, c: &str) {
    d.docker_ok(&[
        "exec",
        c,
        "sh",
        "-c",
        "mkdir -p /src/sub && echo hello > /src/f && echo deep > /src/sub/g \
         && chmod 600 /src/sub/g && ln -s f /src/link && ln -s /src/f /abslink",
    ]);
}

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
    populate(&d, "src");
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
    let st = path_stat(&d, "created", "/bin");
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

/// docker cp host -> container, with the CLI's exit status checked.
#[test]
fn cp_into_containers_with_the_cli() {
    let Some(d) = TestDaemon::start() else { return };
    let src = host_tree(&d);
    d.docker_ok(&["run", "-d", "--name", "dst", "busybox", "sleep", "1000"]);
    // The failure is a race: try it often enough to hit it.
    for i in 0..25 {
        d.docker_ok(&["cp", &s(&src.join("f")), &format!("dst:/f{i}")]);
    }
    d.docker_ok(&["cp", &s(&src.join("dir")), "dst:/dir"]);
    d.docker_ok(&["cp", &s(&src.join("link")), "dst:/link"]);
    let out = d.docker_ok(&[
        "exec",
        "dst",
        "sh",
        "-c",
        "cat /f24 /dir/a /dir/sub/b; readlink /dir/rel; readlink /link",
    ]);
    assert_eq!(out, "host file\na\nb\na\n/etc/f-target");

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
}

/// The same copies as above, checking only what lands where (the CLI's
/// status is checked by `cp_into_containers_with_the_cli`).
#[test]
fn cp_into_containers_lands() {
    let Some(d) = TestDaemon::start() else { return };
    let src = host_tree(&d);
    d.docker_ok(&["run", "-d", "--name", "dst", "busybox", "sleep", "1000"]);
    let _ = d.docker_run(&["cp", &s(&src.join("f")), "dst:/f"]);
    let _ = d.docker_run(&["cp", &s(&src.join("dir")), "dst:/dir"]);
    let _ = d.docker_run(&["cp", &s(&src.join("link")), "dst:/link"]);
    let _ = d.docker_run(&["cp", &s(&src.join("f")), "dst:/tmp/"]);
    let out = d.docker_ok(&[
        "exec",
        "dst",
        "sh",
        "-c",
        "cat /f /tmp/f /dir/a /dir/sub/b; readlink /dir/rel; readlink /link; \
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
    let _ = d.docker_run(&["cp", &s(&src.join("f")), "fresh:/f"]);
    let _ = d.docker_run(&["cp", &s(&src.join("dir")), "fresh:/dir"]);
    let o = d.docker_run(&["start", "-a", "fresh"]);
    assert_eq!(o.ok(), "host file\nb\n");
    // A destination directory that does not exist.
    let o = d.docker_run(&["cp", &s(&src.join("f")), "dst:/no/such/dir/"]);
    o.failed();
}

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
    populate(&d, "st");

    let f = path_stat(&d, "st", "/src/f");
    assert_eq!(f["name"], "f", "{f}");
    assert_eq!(f["size"], 6, "{f}");
    assert_eq!(f["mode"], 0o644, "{f}");
    assert_eq!(f["linkTarget"], "", "{f}");
    let mtime = f["mtime"].as_str().unwrap_or_else(|| panic!("mtime: {f}"));
    assert!(
        mtime.len() >= 20 && mtime.as_bytes()[4] == b'-' && mtime.as_bytes()[10] == b'T',
        "mtime is not RFC 3339: {mtime:?}"
    );

    let dir = path_stat(&d, "st", "/src/sub");
    assert_eq!(dir["name"], "sub", "{dir}");
    assert_eq!(dir["mode"], MODE_DIR | 0o755, "{dir}");

    let g = path_stat(&d, "st", "/src/sub/g");
    assert_eq!(g["mode"], 0o600, "{g}");

    let l = path_stat(&d, "st", "/src/link");
    assert_eq!(l["name"], "link", "{l}");
    assert_eq!(l["mode"], MODE_SYMLINK | 0o777, "{l}");
    assert_eq!(l["linkTarget"], "/src/f", "{l}");
    let l = path_stat(&d, "st", "/abslink");
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
fn archive_put_hostile_tars() {
    let Some(d) = TestDaemon::start() else { return };
    d.docker_ok(&["run", "-d", "--name", "tgt", "busybox", "sleep", "1000"]);
    let victim = d.dir.join("victim");
    fs::create_dir_all(&victim).unwrap();
    let rel_victim = s(&victim).trim_start_matches('/').to_string();
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
                .file(&format!("{}/escaped-abs", s(&victim)), b"x\n")
                .finish(),
            victim.join("escaped-abs"),
        ),
        (
            "entry through a symlink in the same tar",
            TarBuilder::new()
                .symlink("lnk", &s(&victim))
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
                let inside = format!("{}{}/escaped-abs", dest.trim_end_matches('/'), s(&victim));
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
