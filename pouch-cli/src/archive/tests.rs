use std::os::unix::fs::symlink;

use super::*;

/// A tar entry written as is, with whatever name (hostile archives).
fn raw_entry(b: &mut tar::Builder<Vec<u8>>, kind: EntryType, name: &str, link: &str, data: &[u8]) {
    let mut h = Header::new_old();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_mtime(1_700_000_000);
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn hostile(entries: &[(EntryType, &str, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (kind, name, link, data) in entries {
        raw_entry(&mut b, *kind, name, link, data);
    }
    b.into_inner().unwrap()
}

struct Scene {
    _root: tempfile::TempDir,
    dest: PathBuf,
    outside: PathBuf,
}

fn scene() -> Scene {
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("dest");
    let outside = root.path().join("outside");
    fs::create_dir(&dest).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"keep").unwrap();
    Scene {
        _root: root,
        dest,
        outside,
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn pack_and_unpack_round_trip() {
    let src = tempfile::tempdir().unwrap();
    let d = src.path().join("d");
    fs::create_dir_all(d.join("sub/empty")).unwrap();
    fs::write(d.join("file"), b"hello").unwrap();
    fs::set_permissions(d.join("file"), fs::Permissions::from_mode(0o750)).unwrap();
    let long = "x".repeat(150);
    fs::write(d.join("sub").join(&long), b"long name").unwrap();
    symlink("../file", d.join("sub/rel")).unwrap();
    fs::hard_link(d.join("file"), d.join("hard")).unwrap();
    fs::set_permissions(d.join("sub"), fs::Permissions::from_mode(0o555)).unwrap();

    let tar = pack(Vec::new(), &d, "copy").unwrap();
    let out = tempfile::tempdir().unwrap();
    unpack(&tar[..], out.path(), &[]).unwrap();
    let c = out.path().join("copy");
    assert_eq!(names_in(&c), ["file", "hard", "sub"]);
    assert_eq!(fs::read(c.join("file")).unwrap(), b"hello");
    let m = fs::metadata(c.join("file")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o750);
    assert_eq!(m.ino(), fs::metadata(c.join("hard")).unwrap().ino());
    assert_eq!(fs::read(c.join("sub").join(&long)).unwrap(), b"long name");
    assert_eq!(
        fs::read_link(c.join("sub/rel")).unwrap(),
        Path::new("../file")
    );
    assert!(c.join("sub/empty").is_dir());
    let sm = fs::metadata(c.join("sub")).unwrap();
    assert_eq!(sm.mode() & 0o777, 0o555);
    assert_eq!(
        sm.mtime(),
        fs::metadata(d.join("sub")).unwrap().mtime(),
        "directory mtimes are restored last"
    );
    // Let the temp dirs be removed.
    fs::set_permissions(d.join("sub"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(c.join("sub"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn pack_content_and_renames() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a"), b"1").unwrap();
    // `.`: the directory's content, extracted into an existing directory.
    let tar = pack(Vec::new(), src.path(), ".").unwrap();
    let out = tempfile::tempdir().unwrap();
    unpack(&tar[..], out.path(), &[]).unwrap();
    assert_eq!(names_in(out.path()), ["a"]);
    // Renamed on extraction ("." becomes "new"), as docker's rebaser, on
    // an archive of `dir/.` as Go writes it.
    let tar = hostile(&[
        (EntryType::Directory, "./", "", b""),
        (EntryType::Regular, "./a", "", b"1"),
    ]);
    let out = tempfile::tempdir().unwrap();
    unpack(&tar[..], out.path(), &[(".".into(), "new".into())]).unwrap();
    assert_eq!(names_in(&out.path().join("new")), ["a"]);
    // A file under another name.
    let tar = pack(Vec::new(), &src.path().join("a"), "a").unwrap();
    let out = tempfile::tempdir().unwrap();
    unpack(
        &tar[..],
        out.path(),
        &[("a".into(), "link".into()), ("link".into(), "b".into())],
    )
    .unwrap();
    assert_eq!(names_in(out.path()), ["b"]);
}

#[test]
fn refuses_names_outside_the_destination() {
    for name in [
        "../evil",
        "/evil",
        "a/../../evil",
        "./../evil",
        "a/b/../../../evil",
    ] {
        let s = scene();
        let tar = hostile(&[(EntryType::Regular, name, "", b"pwned")]);
        let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
        assert!(err.to_string().contains("outside of"), "{name}: {err}");
        assert!(!s.dest.parent().unwrap().join("evil").exists(), "{name}");
        assert!(!Path::new("/evil").exists());
    }
}

#[test]
fn refuses_to_write_through_symlinks() {
    // An absolute symlink may be created, but never written through.
    let s = scene();
    let out = s.outside.to_str().unwrap();
    let tar = hostile(&[
        (EntryType::Symlink, "link", out, b""),
        (EntryType::Regular, "link/secret", "", b"pwned"),
    ]);
    let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    assert_eq!(fs::read(s.outside.join("secret")).unwrap(), b"keep");

    // The same through a directory entry.
    let s = scene();
    let tar = hostile(&[
        (EntryType::Symlink, "link", s.outside.to_str().unwrap(), b""),
        (EntryType::Directory, "link/sub/", "", b""),
    ]);
    assert!(unpack(&tar[..], &s.dest, &[]).is_err());
    assert_eq!(names_in(&s.outside), ["secret"]);

    // A symlink already at the destination is replaced, not followed.
    let s = scene();
    symlink(s.outside.join("secret"), s.dest.join("victim")).unwrap();
    let tar = hostile(&[(EntryType::Regular, "victim", "", b"new")]);
    unpack(&tar[..], &s.dest, &[]).unwrap();
    assert_eq!(fs::read(s.dest.join("victim")).unwrap(), b"new");
    assert!(!fs::symlink_metadata(s.dest.join("victim"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(s.outside.join("secret")).unwrap(), b"keep");

    // Nor is a symlinked directory merged into.
    let s = scene();
    symlink(&s.outside, s.dest.join("d")).unwrap();
    let tar = hostile(&[
        (EntryType::Directory, "d/", "", b""),
        (EntryType::Regular, "d/secret", "", b"pwned"),
    ]);
    assert!(unpack(&tar[..], &s.dest, &[]).is_err());
    assert_eq!(fs::read(s.outside.join("secret")).unwrap(), b"keep");
}

#[test]
fn refuses_escaping_links() {
    // A relative symlink leaving the destination.
    let s = scene();
    let tar = hostile(&[(EntryType::Symlink, "a/up", "../../outside", b"")]);
    let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
    assert!(err.to_string().contains("invalid symlink"), "{err}");
    // A relative one staying inside is fine.
    let s = scene();
    let tar = hostile(&[
        (EntryType::Regular, "f", "", b"x"),
        (EntryType::Symlink, "a/up", "../f", b""),
    ]);
    unpack(&tar[..], &s.dest, &[]).unwrap();
    assert_eq!(fs::read(s.dest.join("a/up")).unwrap(), b"x");

    // Hard links to outside files, by name or through a symlink.
    for link in ["../outside/secret", "/etc/passwd", "s/secret"] {
        let s = scene();
        let tar = hostile(&[
            (EntryType::Symlink, "s", s.outside.to_str().unwrap(), b""),
            (EntryType::Link, "hl", link, b""),
        ]);
        let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
        assert!(
            err.to_string().contains("invalid hardlink"),
            "{link}: {err}"
        );
        assert!(!s.dest.join("hl").exists());
    }
    // A hard link inside is fine.
    let s = scene();
    let tar = hostile(&[
        (EntryType::Regular, "f", "", b"x"),
        (EntryType::Link, "g", "f", b""),
    ]);
    unpack(&tar[..], &s.dest, &[]).unwrap();
    assert_eq!(
        fs::metadata(s.dest.join("f")).unwrap().ino(),
        fs::metadata(s.dest.join("g")).unwrap().ino()
    );
}

#[test]
fn no_overwrite_dir_with_non_dir() {
    let s = scene();
    fs::create_dir(s.dest.join("d")).unwrap();
    let tar = hostile(&[(EntryType::Regular, "d", "", b"x")]);
    let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
    assert!(
        err.to_string().contains("cannot overwrite directory"),
        "{err}"
    );
    fs::write(s.dest.join("f"), b"x").unwrap();
    let tar = hostile(&[(EntryType::Directory, "f/", "", b"")]);
    let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
    assert!(
        err.to_string().contains("cannot overwrite non-directory"),
        "{err}"
    );
    // The destination itself as a file.
    let tar = hostile(&[(EntryType::Regular, ".", "", b"x")]);
    assert!(unpack(&tar[..], &s.dest, &[]).is_err());
    // An unknown entry type.
    let tar = hostile(&[(EntryType::new(b'Z'), "z", "", b"")]);
    let err = unpack(&tar[..], &s.dest, &[]).unwrap_err();
    assert!(
        err.to_string().contains("unhandled tar header type"),
        "{err}"
    );
}

#[test]
fn go_style_errors() {
    let e = io::Error::from_raw_os_error(libc::ENOENT);
    assert_eq!(
        go_io_error("lstat", Path::new("/x"), &e).to_string(),
        "lstat /x: no such file or directory"
    );
}
