//! Layer apply: the overlayfs result containerd's applier makes, the diff ID,
//! and hostile layers kept inside the snapshot.

use super::*;
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use tempfile::TempDir;

/// Layer tars with raw names, owners, devices and PAX xattrs.
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }
    fn entry(&mut self, name: &str, ty: EntryType, link: &str, data: &[u8], mode: u32) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_000_000);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h
    }
    fn add(&mut self, mut h: Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &str) -> &mut Self {
        let h = self.entry(name, EntryType::Regular, "", data.as_bytes(), 0o644);
        self.add(h, data.as_bytes())
    }
    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let h = self.entry(name, EntryType::Directory, "", b"", mode);
        self.add(h, b"")
    }
    fn done(&mut self) -> Vec<u8> {
        self.0.finish().unwrap();
        self.0.get_ref().clone()
    }
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn overlay(upper: &Path, lowers: &[PathBuf], tar: &[u8]) -> Result<String> {
    apply_layer(LayerTarget::Overlay { upper, lowers }, tar).map(|a| a.diff_id)
}

#[test]
fn overlay_whiteouts_devices_and_xattrs() {
    let (upper, lower) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let l = lower.path();
    fs::create_dir(l.join("etc")).unwrap();
    fs::set_permissions(l.join("etc"), fs::Permissions::from_mode(0o710)).unwrap();
    std::os::unix::fs::chown(l.join("etc"), Some(5), Some(6)).unwrap();
    fs::create_dir(l.join("var")).unwrap();
    fs::write(l.join("var/old"), "below").unwrap();
    fs::write(l.join("gone"), "below").unwrap();

    let mut t = Layer::new();
    // No `etc/` entry: the parent comes from the layer below.
    t.file("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    t.file(".wh.gone", "");
    t.file("var/.wh..wh..opq", "");
    t.file("var/new", "above");
    let mut h = t.entry("dev/null", EntryType::Char, "", b"", 0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    t.add(h, b"");
    let h = t.entry("run/fifo", EntryType::Fifo, "", b"", 0o600);
    t.add(h, b"");
    t.0.append_pax_extensions([("SCHILY.xattr.user.pouch", b"yes".as_slice())])
        .unwrap();
    t.file("bin/ping", "elf");
    let h = t.entry("bin/ping2", EntryType::Link, "/bin/ping", b"", 0o644);
    t.add(h, b"");
    let mut tar = t.done();
    // Padding after the end-of-archive marker belongs to the diff ID.
    tar.extend_from_slice(&[0u8; 4096]);

    let id = overlay(upper.path(), &[l.to_path_buf()], &tar).unwrap();
    assert_eq!(id, sha256(&tar));

    let u = upper.path();
    let etc = fs::metadata(u.join("etc")).unwrap();
    assert_eq!((etc.mode() & 0o7777, etc.uid(), etc.gid()), (0o710, 5, 6));
    let gone = fs::symlink_metadata(u.join("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    let opaque = xattr_of(&u.join("var"), "trusted.overlay.opaque");
    assert_eq!(opaque.as_deref(), Some(b"y".as_slice()));
    assert_eq!(fs::read_to_string(u.join("var/new")).unwrap(), "above");
    let null = fs::symlink_metadata(u.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(
        (null.rdev(), null.mode() & 0o777),
        (nix::sys::stat::makedev(1, 3), 0o666)
    );
    let fifo = fs::symlink_metadata(u.join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.mode() & 0o777, 0o600);
    let cap = xattr_of(&u.join("bin/ping"), "user.pouch");
    assert_eq!(cap.as_deref(), Some(b"yes".as_slice()));
    assert_eq!(fs::metadata(u.join("bin/ping2")).unwrap().nlink(), 2);
    // The layers below are read, never written.
    assert_eq!(fs::read_to_string(l.join("gone")).unwrap(), "below");
    assert!(xattr_of(&l.join("var"), "trusted.overlay.opaque").is_none());
}

#[test]
fn base_layer_whiteouts_remove_and_make_nothing() {
    let dir = TempDir::new().unwrap();
    let tar = Layer::new()
        .dir("a", 0o755)
        .file("a/x", "x")
        .file("a/.wh.x", "")
        .file(".wh.never-there", "")
        .file("a/.wh..wh..opq", "")
        .file("a/y", "y")
        .done();
    let id = apply_layer(LayerTarget::Base(dir.path()), tar.as_slice())
        .unwrap()
        .diff_id;
    assert_eq!(id, sha256(&tar));
    let names = |p: &Path| {
        let mut n: Vec<_> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(dir.path()), ["a"]);
    assert_eq!(names(&dir.path().join("a")), ["y"]);
    assert!(xattr_of(&dir.path().join("a"), "trusted.overlay.opaque").is_none());
}

#[test]
fn hostile_layers_stay_in_the_snapshot() {
    let (upper, host) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    fs::write(host.path().join("marker"), "host").unwrap();
    let lowers = [host.path().to_path_buf()];
    let target = host.path().to_string_lossy().into_owned();

    let dotdot = Layer::new().file("../marker", "pwned").done();
    assert!(matches!(
        overlay(upper.path(), &lowers, &dotdot),
        Err(ArchiveError::Invalid(_))
    ));
    // A symlink made by the layer itself is never followed as a parent.
    let mut t = Layer::new();
    let h = t.entry("escape", EntryType::Symlink, &target, b"", 0o777);
    t.add(h, b"").file("escape/marker", "pwned");
    assert!(matches!(
        overlay(upper.path(), &lowers, &t.done()),
        Err(ArchiveError::Invalid(_))
    ));
    let mut t = Layer::new();
    let h = t.entry("link", EntryType::Link, "../marker", b"", 0o644);
    t.add(h, b"");
    assert!(overlay(upper.path(), &lowers, &t.done()).is_err());
    let bad_whiteout = Layer::new().file(".wh...", "").done();
    assert!(matches!(
        overlay(upper.path(), &lowers, &bad_whiteout),
        Err(ArchiveError::Invalid(_))
    ));
    assert!(matches!(
        overlay(
            upper.path(),
            &lowers,
            b"not a tar at all, not even close........"
        ),
        Err(ArchiveError::Invalid(_))
    ));
    assert_eq!(
        fs::read_to_string(host.path().join("marker")).unwrap(),
        "host"
    );
    assert_eq!(fs::read_dir(host.path()).unwrap().count(), 1);
    // A lower layer's symlink does not lead a missing parent's lookup out.
    let lower = TempDir::new().unwrap();
    symlink(host.path(), lower.path().join("d")).unwrap();
    let up2 = TempDir::new().unwrap();
    let tar = Layer::new().file("d/f", "f").done();
    overlay(up2.path(), &[lower.path().to_path_buf()], &tar).unwrap();
    assert_eq!(fs::read_to_string(up2.path().join("d/f")).unwrap(), "f");
    assert!(!host.path().join("f").exists());
}

fn xattr_of(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated strings and a buffer valid for its length.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (r >= 0).then(|| {
        buf.truncate(r as usize);
        buf
    })
}

#[test]
fn staged_layers_adopt_their_parents_later() {
    let (staged, lower, host) = (
        TempDir::new().unwrap(),
        TempDir::new().unwrap(),
        TempDir::new().unwrap(),
    );
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o711)).unwrap();
    let l = lower.path();
    for d in ["etc", "opt", "var", "lnk"] {
        fs::create_dir(l.join(d)).unwrap();
        fs::set_permissions(l.join(d), fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut t = Layer::new();
    t.file("etc/conf", "c"); // implicit: adopts 0700 from below
    t.file("opt/x", "x");
    t.dir("opt", 0o750); // listed after its child: its own mode wins
    t.file("var/.wh.old", "");
    t.file("lnk/f", "f");
    t.file(".wh.lnk", ""); // the implicit `lnk` is gone again ...
    let h = t.entry(
        "lnk",
        EntryType::Symlink,
        host.path().to_str().unwrap(),
        b"",
        0o777,
    );
    t.add(h, b""); // ... and now a symlink out
    let tar = t.done();
    let target = LayerTarget::Staged {
        dir: staged.path(),
        overlay: true,
    };
    let applied = apply_layer(target, tar.as_slice()).unwrap();
    assert_eq!(applied.diff_id, sha256(&tar));
    let implicit: Vec<String> = applied
        .implicit_dirs
        .iter()
        .map(|c| String::from_utf8(c.join(&b'/')).unwrap())
        .collect();
    assert_eq!(implicit, ["etc", "var", "lnk"]);
    let s = staged.path();
    // Nothing below is known yet: default modes until adopted.
    assert_eq!(fs::metadata(s.join("etc")).unwrap().mode() & 0o777, 0o755);
    assert!(fs::symlink_metadata(s.join("var/old"))
        .unwrap()
        .file_type()
        .is_char_device());

    adopt_parents(s, &applied.implicit_dirs, &[l.to_path_buf()]).unwrap();
    let mode = |p: &str| fs::metadata(s.join(p)).unwrap().mode() & 0o777;
    assert_eq!(
        (mode("etc"), mode("opt"), mode("var")),
        (0o700, 0o750, 0o700)
    );
    // The symlink that replaced `lnk` was not followed out of the layer.
    assert_eq!(fs::metadata(host.path()).unwrap().mode() & 0o777, 0o711);
}
