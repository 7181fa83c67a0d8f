//! `GET /containers/{id}/archive`: a tar of a path in the container, read
//! one component at a time below `root` (see the parent module).

use super::*;

/// Writes a tar of `path` (a file, symlink or directory, recursively) to `out`
/// (`GET /containers/{id}/archive`).
///
/// * Entry names are rooted at the base name of `path`, as `docker cp` expects
///   (`/etc/hosts` → `hosts`; `/etc` → `etc/`, `etc/hosts`, ...). A path ending
///   in `/.`, and `/` itself, gives `./`, `./hosts`, ...: the directory's
///   contents with Docker's `./` prefix (which the CLI relies on).
/// * Symlinks are archived as symlinks, never followed (but for the last
///   component of a path ending in `/` or `/.`, resolved inside `root`).
/// * Mode (with setuid/setgid/sticky), numeric uid/gid and mtime (seconds) are
///   kept; user/group names, xattrs and hardlink sharing are not (hardlinked
///   files are stored as separate regular files).
/// * Character/block devices and FIFOs are archived as headers only (with
///   device numbers), never opened; sockets are skipped (like Docker).
/// * A file changing while read is cut or zero-padded to the size it had when
///   opened; entries vanishing or changing type during the walk are skipped.
/// * Open fds grow with the depth of the tree (one per level being walked).
pub fn archive_in_root<W: Write>(root: BorrowedFd<'_>, path: &str, out: W) -> Result<()> {
    let p = ClientPath::parse(path)?;
    let root = root.as_raw_fd();
    let mut b = Builder::new(out);
    let mut stack = Vec::new();
    let err = |e| resolve_err(e, path);
    match p.comps.split_last() {
        Some((base, parents)) if !p.follow => {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
            let parent = open_in_root(root, rel(parents).as_str(), flags).map_err(err)?;
            let nofollow = AtFlags::AT_SYMLINK_NOFOLLOW;
            fstatat(Some(parent.as_raw_fd()), *base, nofollow).map_err(err)?;
            let (name, tar_name) = (OsString::from(base), base.as_bytes().to_vec());
            stack.push(Item {
                parent: Rc::new(parent),
                name,
                tar_name,
            });
        }
        last => {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
            let dir = open_in_root(root, rel(&p.comps).as_str(), flags).map_err(err)?;
            let name = match last {
                Some((base, _)) if !p.dot => base.as_bytes(),
                _ => b".",
            };
            enter_dir(&mut b, &mut stack, dir, name)?;
        }
    }
    while let Some(item) = stack.pop() {
        archive_item(&mut b, &mut stack, item)?;
    }
    b.into_inner()?.flush()?;
    Ok(())
}

/// A pending entry of the archive walk: `name` inside the directory `parent`.
struct Item {
    parent: Rc<OwnedFd>,
    name: OsString,
    tar_name: Vec<u8>,
}

/// Appends an entry for `st` with raw `name`/`link` bytes (the tar crate's
/// path setters would drop the `./` prefix Docker's CLI needs), preceded by GNU
/// long-name records for those over 100 bytes.
fn emit<W: Write>(
    b: &mut Builder<W>,
    st: &FileStat,
    (ty, size): (EntryType, u64),
    (name, link): (&[u8], &[u8]),
    data: impl Read,
) -> io::Result<()> {
    for (bytes, ty) in [
        (name, EntryType::GNULongName),
        (link, EntryType::GNULongLink),
    ] {
        if bytes.len() > 100 {
            let mut l = Header::new_gnu();
            l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            l.set_entry_type(ty);
            l.set_mode(0o644);
            l.set_uid(0);
            l.set_gid(0);
            l.set_mtime(0);
            l.set_size(bytes.len() as u64 + 1);
            l.set_cksum();
            b.append(&l, bytes.chain(&[0u8][..]))?;
        }
    }
    let mut h = Header::new_gnu();
    h.set_entry_type(ty);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(size);
    if matches!(ty, EntryType::Char | EntryType::Block) {
        h.set_device_major(libc::major(st.st_rdev))?;
        h.set_device_minor(libc::minor(st.st_rdev))?;
    }
    let old = h.as_old_mut();
    old.name[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    old.linkname[..link.len().min(100)].copy_from_slice(&link[..link.len().min(100)]);
    h.set_cksum();
    b.append(&h, data)
}

/// Emits the header of the directory `fd` and queues its children.
fn enter_dir<W: Write>(
    b: &mut Builder<W>,
    stack: &mut Vec<Item>,
    fd: OwnedFd,
    tar_name: &[u8],
) -> Result<()> {
    let st = fstat(fd.as_raw_fd())?;
    let name = [tar_name, b"/"].concat();
    emit(b, &st, (EntryType::Directory, 0), (&name, b""), io::empty())?;
    let children = list_dir(fd.as_raw_fd())?;
    let parent = Rc::new(fd);
    for child in children.into_iter().rev() {
        let tar_name = [&name, child.as_bytes()].concat();
        stack.push(Item {
            parent: parent.clone(),
            name: child,
            tar_name,
        });
    }
    Ok(())
}

fn archive_item<W: Write>(b: &mut Builder<W>, stack: &mut Vec<Item>, it: Item) -> Result<()> {
    let (dir, name) = (it.parent.as_raw_fd(), it.name.as_os_str());
    // Whatever vanishes or changes type between the lookups is skipped.
    let gone = |e: &Errno| {
        matches!(
            e,
            Errno::ENOENT | Errno::ELOOP | Errno::ENOTDIR | Errno::EINVAL
        )
    };
    let st = match fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(e) if gone(&e) => return Ok(()),
        st => st?,
    };
    let names = (it.tar_name.as_slice(), &b""[..]);
    let open = |flags: OFlag| match openat(
        Some(dir),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Err(e) if gone(&e) => Ok(None),
        fd => fd.map(|fd| Some(owned(fd))),
    };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            if let Some(fd) = open(OFlag::O_RDONLY | OFlag::O_DIRECTORY)? {
                enter_dir(b, stack, fd, &it.tar_name)?;
            }
        }
        libc::S_IFREG => {
            // O_NONBLOCK|O_NOCTTY: harmless should it have become a FIFO/tty.
            let Some(fd) = open(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY)? else {
                return Ok(());
            };
            let st = fstat(fd.as_raw_fd())?;
            if is(&st, libc::S_IFREG) {
                let size = st.st_size.max(0) as u64;
                // Exactly `size` bytes: cut if it grew, zero-padded if it shrank.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                emit(b, &st, (EntryType::Regular, size), names, data)?;
            }
        }
        libc::S_IFLNK => match readlinkat(Some(dir), name) {
            Err(e) if gone(&e) => {}
            target => {
                let target = target?;
                let names = (names.0, target.as_bytes());
                emit(b, &st, (EntryType::Symlink, 0), names, io::empty())?;
            }
        },
        libc::S_IFCHR => emit(b, &st, (EntryType::Char, 0), names, io::empty())?,
        libc::S_IFBLK => emit(b, &st, (EntryType::Block, 0), names, io::empty())?,
        libc::S_IFIFO => emit(b, &st, (EntryType::Fifo, 0), names, io::empty())?,
        _ => {} // sockets: skipped, like Docker
    }
    Ok(())
}
