//! Tests of the `docker cp` filesystem core. A tempdir plays the container's
//! root, a second tempdir plays "the host" with a marker file that must stay
//! out of reach.

use super::*;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use tempfile::TempDir;

struct Env {
    root: TempDir,
    host: TempDir,
    fd: OwnedFd,
}

impl Env {
    fn new() -> Env {
        let root = TempDir::new().unwrap();
        let host = TempDir::new().unwrap();
        fs::write(host.path().join("marker"), "host").unwrap();
        fs::create_dir(host.path().join("etc")).unwrap();
        fs::write(host.path().join("etc/secret"), "host secret").unwrap();
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = owned(nix::fcntl::open(root.path(), flags, Mode::empty()).unwrap());
        Env { root, host, fd }
    }
    fn r(&self) -> &Path {
        self.root.path()
    }
    fn h(&self) -> &Path {
        self.host.path()
    }
    fn stat(&self, path: &str) -> Result<PathStat> {
        stat_in_root(self.fd.as_fd(), path)
    }
    fn archive(&self, path: &str) -> Result<Vec<Ent>> {
        let mut out = Vec::new();
        archive_in_root(self.fd.as_fd(), path, &mut out)?;
        Ok(read_tar(&out))
    }
    fn extract(&self, dest: &str, tar: &[u8], no_overwrite: bool) -> Result<()> {
        extract_in_root(self.fd.as_fd(), dest, tar, no_overwrite)
    }
    /// The host tempdir still holds exactly what `new` put there.
    fn assert_host_intact(&self) {
        let mut names: Vec<_> = fs::read_dir(self.h())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["etc", "marker"]);
        assert_eq!(fs::read_to_string(self.h().join("marker")).unwrap(), "host");
        assert_eq!(fs::read_dir(self.h().join("etc")).unwrap().count(), 1);
        assert_eq!(
            fs::read_to_string(self.h().join("etc/secret")).unwrap(),
            "host secret"
        );
        assert_eq!(fs::metadata(self.h().join("marker")).unwrap().nlink(), 1);
    }
}

#[derive(Debug)]
struct Ent {
    name: String,
    ty: EntryType,
    link: String,
    data: Vec<u8>,
    mode: u32,
    uid: u64,
    mtime: u64,
}

fn read_tar(data: &[u8]) -> Vec<Ent> {
    let mut ar = tar::Archive::new(data);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            Ent {
                name: String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                ty: e.header().entry_type(),
                link: e
                    .link_name_bytes()
                    .map(|l| String::from_utf8(l.into_owned()).unwrap())
                    .unwrap_or_default(),
                data,
                mode: e.header().mode().unwrap(),
                uid: e.header().uid().unwrap(),
                mtime: e.header().mtime().unwrap(),
            }
        })
        .collect()
}

fn names(ents: &[Ent]) -> Vec<&str> {
    ents.iter().map(|e| e.name.as_str()).collect()
}

/// Builds a tar with raw names (the tar crate's setters refuse `..`).
struct TarW(Builder<Vec<u8>>);

impl TarW {
    fn new() -> TarW {
        TarW(Builder::new(Vec::new()))
    }
    fn add(&mut self, name: &str, ty: EntryType, link: &str, data: &[u8], mode: u32) -> &mut Self {
        let mut h = Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &str) -> &mut Self {
        self.add(name, EntryType::Regular, "", data.as_bytes(), 0o644)
    }
    fn done(&mut self) -> Vec<u8> {
        self.0.finish().unwrap();
        self.0.get_ref().clone()
    }
}

fn is_invalid<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(ArchiveError::Invalid(_)))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T>) -> bool {
    matches!(r, Err(ArchiveError::NotFound(_)))
}

#[test]
fn base64_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
    ];
    for (plain, enc) in cases {
        assert_eq!(base64(plain.as_bytes()), enc);
    }
    assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
}

#[test]
fn stat_file_dir_symlink() {
    let env = Env::new();
    fs::create_dir(env.r().join("etc")).unwrap();
    fs::write(env.r().join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    fs::set_permissions(
        env.r().join("etc/hosts"),
        fs::Permissions::from_mode(0o4640),
    )
    .unwrap();
    fs::set_permissions(env.r().join("etc"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("/etc/hosts", env.r().join("hostlink")).unwrap();
    symlink("b", env.r().join("a")).unwrap();
    symlink("../../etc", env.r().join("b")).unwrap();

    let s = env.stat("/etc/hosts").unwrap();
    assert_eq!(s.name, "hosts");
    assert_eq!(s.size, 20);
    assert_eq!(s.mode, 1 << 23 | 0o640);
    assert_eq!(s.link_target, "");
    assert!(
        s.mtime.ends_with('Z') && s.mtime.contains('T'),
        "{}",
        s.mtime
    );

    let s = env.stat("/etc").unwrap();
    assert_eq!((s.name.as_str(), s.mode), ("etc", MODE_DIR | 0o755));
    assert_eq!(env.stat("etc/").unwrap().name, "etc");
    assert_eq!(env.stat("/etc/.").unwrap().name, ".");
    let s = env.stat("/").unwrap();
    assert_eq!((s.name.as_str(), s.mode & MODE_DIR), ("/", MODE_DIR));

    let s = env.stat("/hostlink").unwrap();
    assert_eq!(
        (s.mode, s.link_target.as_str()),
        (MODE_SYMLINK | 0o777, "/etc/hosts")
    );
    assert_eq!(s.size, "/etc/hosts".len() as i64);
    // A chain with a `..`-escaping relative link resolves within the root.
    let s = env.stat("/a").unwrap();
    assert_eq!((s.name.as_str(), s.link_target.as_str()), ("a", "/etc"));
    // A trailing slash follows the link.
    assert_eq!(env.stat("/a/").unwrap().mode, MODE_DIR | 0o755);
    assert_eq!(env.stat("/a/hosts").unwrap().size, 20);

    assert!(is_not_found(env.stat("/nope")));
    assert!(is_not_found(env.stat("/etc/nope/x")));
    assert!(is_invalid(env.stat("")));

    let json = serde_json::to_string(&s).unwrap();
    assert!(json.starts_with(r#"{"name":"a","size":"#), "{json}");
    assert!(json.contains(r#""linkTarget":"/etc""#), "{json}");
    assert_eq!(s.header_value(), base64(json.as_bytes()));
}

#[test]
fn archive_dir_file_symlink() {
    let env = Env::new();
    let d = env.r().join("d");
    fs::create_dir_all(d.join("sub")).unwrap();
    fs::write(d.join("a.txt"), "aaa").unwrap();
    fs::set_permissions(d.join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(d.join("sub/b.txt"), "bbbb").unwrap();
    symlink("a.txt", d.join("ln")).unwrap();
    symlink("/etc/passwd", d.join("abs")).unwrap();
    let long = "x".repeat(150);
    fs::write(d.join(&long), "long").unwrap();
    nix::unistd::mkfifo(&d.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
    nix::unistd::chown(&d.join("a.txt"), Some(Uid::from_raw(4321)), None).unwrap();

    let ents = env.archive("/d").unwrap();
    let long_name = format!("d/{long}");
    assert_eq!(
        names(&ents),
        [
            "d/",
            "d/a.txt",
            "d/abs",
            "d/fifo",
            "d/ln",
            "d/sub/",
            "d/sub/b.txt",
            long_name.as_str()
        ]
    );
    let by = |n: &str| ents.iter().find(|e| e.name == n).unwrap();
    assert_eq!(by("d/").ty, EntryType::Directory);
    let a = by("d/a.txt");
    assert_eq!(
        (a.ty, a.data.as_slice(), a.mode, a.uid),
        (EntryType::Regular, &b"aaa"[..], 0o600, 4321)
    );
    let mtime = fs::metadata(d.join("a.txt")).unwrap().mtime() as u64;
    assert_eq!(a.mtime, mtime);
    assert_eq!(
        (by("d/ln").ty, by("d/ln").link.as_str()),
        (EntryType::Symlink, "a.txt")
    );
    assert_eq!(by("d/abs").link, "/etc/passwd");
    assert_eq!(by("d/fifo").ty, EntryType::Fifo);
    assert_eq!(by("d/sub/b.txt").data, b"bbbb");
    assert_eq!(by(&long_name).data, b"long");

    // Contents only, with Docker's `./` prefix.
    let ents = env.archive("/d/.").unwrap();
    assert_eq!(&names(&ents)[..3], ["./", "./a.txt", "./abs"]);
    // A single file, and a symlink archived as itself.
    let ents = env.archive("/d/a.txt").unwrap();
    assert_eq!(names(&ents), ["a.txt"]);
    let ents = env.archive("/d/abs").unwrap();
    assert_eq!(
        (names(&ents), ents[0].ty),
        (vec!["abs"], EntryType::Symlink)
    );
    // A trailing slash on a symlink to a directory follows it, named by the link.
    symlink("/d/sub", env.r().join("tosub")).unwrap();
    assert_eq!(
        names(&env.archive("/tosub/").unwrap()),
        ["tosub/", "tosub/b.txt"]
    );
    assert_eq!(names(&env.archive("/tosub").unwrap()), ["tosub"]);
    assert!(is_invalid(env.archive("/d/a.txt/")));
    assert!(is_not_found(env.archive("/d/missing")));
}

#[test]
fn archive_through_absolute_symlink_stays_in_root() {
    let env = Env::new();
    symlink("/", env.r().join("link")).unwrap();
    symlink(env.h(), env.r().join("hostlink")).unwrap();
    // Only the host has etc/secret.
    assert!(is_not_found(env.archive("/link/etc/secret")));
    assert!(is_not_found(env.stat("/link/etc/secret")));
    assert!(is_not_found(env.archive("/hostlink/marker")));
    assert!(is_not_found(env.archive("/hostlink/")));
    // With the file in the container, the container's copy is what comes out.
    fs::create_dir(env.r().join("etc")).unwrap();
    fs::write(env.r().join("etc/secret"), "container").unwrap();
    let ents = env.archive("/link/etc/secret").unwrap();
    assert_eq!(
        (names(&ents), ents[0].data.as_slice()),
        (vec!["secret"], &b"container"[..])
    );
    // The whole root through the link: nothing from the host.
    let ents = env.archive("/link/").unwrap();
    assert!(ents
        .iter()
        .all(|e| e.data != b"host" && e.data != b"host secret"));
    assert_eq!(ents[0].name, "link/");
}

#[test]
fn dotdot_escapes_resolve_inside_root() {
    let env = Env::new();
    let marker = format!("../../../../..{}/marker", env.h().display());
    assert!(is_not_found(env.stat(&marker)));
    assert!(is_not_found(env.archive(&marker)));
    symlink("../../../../../../..", env.r().join("up")).unwrap();
    let via = format!("/up{}/marker", env.h().display());
    assert!(is_not_found(env.stat(&via)));
    assert!(is_not_found(env.archive(&via)));
    assert_eq!(env.stat("/up").unwrap().link_target, "/");
    // `/` itself is archived as its contents.
    fs::write(env.r().join("f"), "in root").unwrap();
    let ents = env.archive("/..").unwrap();
    assert_eq!(names(&ents), ["./", "./f", "./up"]);
}

#[test]
fn extract_normal_tar() {
    let env = Env::new();
    fs::create_dir(env.r().join("dst")).unwrap();
    let mut b = Builder::new(Vec::new());
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o750);
    h.set_mtime(1_000_000);
    h.set_size(0);
    b.append_data(&mut h, "x/", io::empty()).unwrap();
    let mut h = Header::new_gnu();
    h.set_mode(0o2640);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(2_000_000);
    h.set_size(5);
    b.append_data(&mut h, "x/f", &b"hello"[..]).unwrap();
    b.append_data(&mut h, "deep/er/g", &b"hello"[..]).unwrap();
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Symlink);
    h.set_mtime(3_000_000);
    h.set_size(0);
    b.append_link(&mut h, "x/s", "/etc/passwd").unwrap();
    h.set_entry_type(EntryType::Link);
    b.append_link(&mut h, "x/h", "x/f").unwrap();
    let mut tar = b.into_inner().unwrap();
    tar.truncate(tar.len() - 1024);
    let mut t = TarW(Builder::new(tar));
    t.add("./", EntryType::Directory, "", b"", 0o700)
        .file("/abs/file", "abs");
    t.add("dev", EntryType::Char, "", b"", 0o600);
    env.extract("/dst", &t.done(), false).unwrap();

    let x = env.r().join("dst/x");
    let m = fs::symlink_metadata(&x).unwrap();
    assert_eq!(
        (m.is_dir(), m.mode() & 0o7777, m.mtime()),
        (true, 0o750, 1_000_000)
    );
    let m = fs::metadata(x.join("f")).unwrap();
    assert_eq!(fs::read(x.join("f")).unwrap(), b"hello");
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime()),
        (0o2640, 1234, 5678, 2_000_000)
    );
    assert_eq!(
        fs::read_link(x.join("s")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        fs::symlink_metadata(x.join("s")).unwrap().mtime(),
        3_000_000
    );
    assert_eq!(fs::metadata(x.join("h")).unwrap().ino(), m.ino());
    assert_eq!(fs::read(env.r().join("dst/deep/er/g")).unwrap(), b"hello");
    assert_eq!(
        fs::metadata(env.r().join("dst/deep")).unwrap().mode() & 0o777,
        0o755
    );
    assert_eq!(fs::read(env.r().join("dst/abs/file")).unwrap(), b"abs");
    assert!(!env.r().join("dst/dev").exists());
    // The `./` entry leaves dest alone.
    assert_ne!(
        fs::metadata(env.r().join("dst")).unwrap().mode() & 0o777,
        0o700
    );

    // Round trip: archive it back and extract elsewhere.
    let mut out = Vec::new();
    archive_in_root(env.fd.as_fd(), "/dst/x", &mut out).unwrap();
    fs::create_dir(env.r().join("copy")).unwrap();
    env.extract("/copy", &out, false).unwrap();
    assert_eq!(fs::read(env.r().join("copy/x/f")).unwrap(), b"hello");
    assert_eq!(fs::metadata(env.r().join("copy/x/h")).unwrap().uid(), 1234);
    assert_eq!(
        fs::read_link(env.r().join("copy/x/s")).unwrap(),
        Path::new("/etc/passwd")
    );
    env.assert_host_intact();
}

#[test]
fn extract_dest_errors_and_symlinked_dest() {
    let env = Env::new();
    let tar = TarW::new().file("pwned", "x").done();
    assert!(is_not_found(env.extract("/missing", &tar, false)));
    fs::write(env.r().join("file"), "").unwrap();
    assert!(is_invalid(env.extract("/file", &tar, false)));

    // dest is an absolute symlink to the host directory: resolved in the root.
    symlink(env.h(), env.r().join("out")).unwrap();
    assert!(is_not_found(env.extract("/out", &tar, false)));
    env.assert_host_intact();
    let inside = env.r().join(env.h().strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    env.extract("/out", &tar, false).unwrap();
    assert_eq!(fs::read(inside.join("pwned")).unwrap(), b"x");
    env.assert_host_intact();
}

#[test]
fn extract_rejects_dotdot_entries() {
    let env = Env::new();
    fs::create_dir_all(env.r().join("d/a")).unwrap();
    for bad in [
        "../evil",
        "a/../../evil",
        "/../evil",
        "a/../../../../../../evil",
    ] {
        let tar = TarW::new().file("ok", "fine").file(bad, "evil").done();
        assert!(is_invalid(env.extract("/d", &tar, false)), "{bad}");
        // Entries before the bad one stay.
        assert!(env.r().join("d/ok").exists());
        assert!(!env.r().join("evil").exists());
        assert!(!env.r().parent().unwrap().join("evil").exists());
    }
    // `..` that stays inside is fine.
    env.extract("/d", &TarW::new().file("a/../b", "b").done(), false)
        .unwrap();
    assert_eq!(fs::read(env.r().join("d/b")).unwrap(), b"b");
    env.assert_host_intact();
}

#[test]
fn extract_never_follows_symlinked_parents() {
    let env = Env::new();
    fs::create_dir(env.r().join("d")).unwrap();
    symlink(env.h(), env.r().join("d/x")).unwrap();
    symlink("../../../../..", env.r().join("d/up")).unwrap();
    for name in ["x/y", "x/marker", "x/etc/secret", "up/etc/z"] {
        let tar = TarW::new().file(name, "evil").done();
        assert!(is_invalid(env.extract("/d", &tar, false)), "{name}");
    }
    let tar = TarW::new()
        .add("x/sub", EntryType::Directory, "", b"", 0o777)
        .done();
    assert!(is_invalid(env.extract("/d", &tar, false)));
    // A symlink as the entry itself is replaced, not written through.
    symlink(env.h().join("marker"), env.r().join("d/m")).unwrap();
    env.extract("/d", &TarW::new().file("m", "new").done(), false)
        .unwrap();
    assert!(fs::symlink_metadata(env.r().join("d/m")).unwrap().is_file());
    env.assert_host_intact();
}

#[test]
fn extract_rejects_escaping_hardlinks() {
    let env = Env::new();
    fs::create_dir_all(env.r().join("d/sub")).unwrap();
    fs::create_dir_all(env.r().join("etc")).unwrap();
    fs::write(env.r().join("etc/passwd"), "root:x:0:0").unwrap();
    fs::write(env.r().join("outside"), "o").unwrap();
    symlink(env.h(), env.r().join("d/hl")).unwrap();
    let host_marker = format!("{}/marker", env.h().display());
    for target in [
        "/etc/passwd",
        "../outside",
        "../../outside",
        "sub/../../outside",
        "hl/marker",
        &host_marker,
    ] {
        let tar = TarW::new()
            .add("l", EntryType::Link, target, b"", 0o644)
            .done();
        assert!(is_invalid(env.extract("/d", &tar, false)), "{target}");
        assert!(!env.r().join("d/l").exists());
    }
    let tar = TarW::new()
        .add("l", EntryType::Link, "sub", b"", 0o644)
        .done();
    assert!(is_invalid(env.extract("/d", &tar, false)));
    assert_eq!(fs::metadata(env.r().join("etc/passwd")).unwrap().nlink(), 1);
    env.assert_host_intact();
}

#[test]
fn extract_overwrite_rules() {
    let env = Env::new();
    fs::create_dir_all(env.r().join("d/dir/inner")).unwrap();
    fs::write(env.r().join("d/dir/inner/f"), "f").unwrap();
    symlink(env.h(), env.r().join("d/dir/inner/hostlink")).unwrap();
    fs::write(env.r().join("d/file"), "f").unwrap();
    let file_over_dir = TarW::new().file("dir", "now a file").done();
    let dir_over_file = TarW::new()
        .add("file", EntryType::Directory, "", b"", 0o755)
        .done();
    assert!(is_invalid(env.extract("/d", &file_over_dir, true)));
    assert!(is_invalid(env.extract("/d", &dir_over_file, true)));
    assert!(env.r().join("d/dir/inner/f").exists());
    assert!(env.r().join("d/file").is_file());
    // A dir over a dir merges, even with the flag.
    let merge = TarW::new()
        .add("dir", EntryType::Directory, "", b"", 0o711)
        .file("dir/g", "g")
        .done();
    env.extract("/d", &merge, true).unwrap();
    assert!(env.r().join("d/dir/inner/f").exists());
    assert_eq!(
        fs::metadata(env.r().join("d/dir")).unwrap().mode() & 0o777,
        0o711
    );
    // Without the flag: replaced (the directory removed recursively, links not followed).
    env.extract("/d", &file_over_dir, false).unwrap();
    assert_eq!(fs::read(env.r().join("d/dir")).unwrap(), b"now a file");
    env.extract("/d", &dir_over_file, false).unwrap();
    assert!(env.r().join("d/file").is_dir());
    env.assert_host_intact();
}

#[test]
fn extract_garbage_is_invalid() {
    let env = Env::new();
    fs::create_dir(env.r().join("d")).unwrap();
    assert!(is_invalid(env.extract("/d", &[7u8; 1024], false)));
    // An empty stream is an empty archive.
    env.extract("/d", &[][..], false).unwrap();
}

#[test]
fn archive_follows_parent_symlinks_inside_root() {
    let env = Env::new();
    fs::create_dir(env.r().join("etc")).unwrap();
    fs::write(env.r().join("etc/hosts"), "hosts").unwrap();
    symlink("../../../etc", env.r().join("e")).unwrap();
    let ents = env.archive("/e/hosts").unwrap();
    assert_eq!(
        (names(&ents), ents[0].data.as_slice()),
        (vec!["hosts"], &b"hosts"[..])
    );
    assert_eq!(names(&env.archive("/e/.").unwrap()), ["./", "./hosts"]);
    let msg = env.archive("/e/nope").unwrap_err().to_string();
    assert_eq!(msg, "Could not find the file /e/nope");
}

#[test]
fn extract_pax_long_names_and_old_style_dirs() {
    let env = Env::new();
    fs::create_dir(env.r().join("d")).unwrap();
    let long = format!("{}/{}", "a".repeat(120), "b".repeat(120));
    let mut b = Builder::new(Vec::new());
    let mut h = Header::new_ustar();
    h.set_mode(0o600);
    h.set_mtime(5);
    h.set_size(4);
    h.set_uid(0);
    h.set_gid(0);
    b.append_pax_extensions([("uid", &b"3000000"[..]), ("mtime", &b"7.25"[..])])
        .unwrap();
    b.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let mut tar = b.into_inner().unwrap();
    tar.truncate(tar.len() - 1024);
    let mut t = TarW(Builder::new(tar));
    t.add("old/", EntryType::Regular, "", b"", 0o755);
    env.extract("/d", &t.done(), false).unwrap();
    let p = env.r().join("d").join(&long);
    let m = fs::metadata(&p).unwrap();
    assert_eq!(
        (m.uid(), m.mtime(), m.mtime_nsec()),
        (3_000_000, 7, 250_000_000)
    );
    assert!(env.r().join("d/old").is_dir());

    // Long names survive a round trip through archive_in_root.
    let mut out = Vec::new();
    archive_in_root(env.fd.as_fd(), "/d/.", &mut out).unwrap();
    let ents = read_tar(&out);
    assert!(ents
        .iter()
        .any(|e| e.name == format!("./{long}") && e.data == b"long"));
    fs::create_dir(env.r().join("copy")).unwrap();
    env.extract("/copy", &out, false).unwrap();
    assert_eq!(fs::read(env.r().join("copy").join(&long)).unwrap(), b"long");
}
