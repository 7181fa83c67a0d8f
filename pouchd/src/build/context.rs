//! The build context: the client's tar extracted into a private directory
//! (with the same path checks as `cp`), its Dockerfile, and the tars of
//! COPY/ADD sources, whose paths are resolved inside the context so that no
//! source (`..`, a symlink out) reaches beyond it.

use crate::archive;
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// An extracted context; removed when dropped.
pub struct Context {
    dir: PathBuf,
    root: OwnedFd,
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn open_dir(p: &Path) -> Result<OwnedFd> {
    let f = std::fs::File::open(p)?;
    Ok(f.into())
}

/// A reader of `input`, gunzipped when it starts with gzip's magic.
pub fn maybe_gunzip<R: Read + 'static>(input: R) -> Result<Box<dyn Read>> {
    let mut input = std::io::BufReader::new(input);
    let head = std::io::BufRead::fill_buf(&mut input)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(input)))
    } else {
        Ok(Box::new(input))
    }
}

impl Context {
    /// Extracts the context tar (plain or gzip) into `dir`. Blocking.
    pub fn extract<R: Read + 'static>(input: R, dir: PathBuf) -> Result<Context> {
        std::fs::create_dir_all(&dir)?;
        let root = open_dir(&dir)?;
        let ctx = Context { dir, root };
        let input = maybe_gunzip(input)?;
        archive::extract_in_root(ctx.root.as_fd(), "/", input, false)
            .map_err(|e| Error::invalid(format!("reading the build context: {e}")))?;
        Ok(ctx)
    }

    /// The Dockerfile at `name` (a path inside the context).
    pub fn dockerfile(&self, name: &str) -> Result<String> {
        let mut tar = Vec::new();
        archive::archive_in_root(self.root.as_fd(), name, &mut tar)
            .map_err(|_| Error::invalid(format!("Cannot locate specified Dockerfile: {name}")))?;
        let mut a = tar::Archive::new(&tar[..]);
        let mut entries = a.entries()?;
        let Some(entry) = entries.next() else {
            return Err(Error::invalid(format!(
                "Cannot locate specified Dockerfile: {name}"
            )));
        };
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(Error::invalid(format!(
                "Cannot locate specified Dockerfile: {name}"
            )));
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| Error::invalid(format!("reading the Dockerfile: {e}")))?;
        Ok(text)
    }

    /// The context paths `pattern` names: itself, or its wildcard (`*`,
    /// `?`) matches, sorted.
    pub fn sources(&self, pattern: &str) -> Result<Vec<String>> {
        let clean: Vec<&str> = pattern
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if !pattern.contains(['*', '?', '[']) {
            return Ok(vec![pattern.to_string()]);
        }
        let mut found = vec![String::new()];
        for comp in clean {
            let mut next = Vec::new();
            for base in &found {
                if !comp.contains(['*', '?', '[']) {
                    next.push(join(base, comp));
                    continue;
                }
                let dir = self.dir.join(base);
                // Inside the context only: a wildcard never walks a symlink.
                let Ok(md) = std::fs::symlink_metadata(&dir) else {
                    continue;
                };
                if !md.is_dir() {
                    continue;
                }
                for e in std::fs::read_dir(&dir)?.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if wildcard(comp, &name) {
                        next.push(join(base, &name));
                    }
                }
            }
            found = next;
        }
        found.sort();
        found.retain(|f| !f.is_empty());
        if found.is_empty() {
            return Err(Error::invalid(format!(
                "COPY failed: no source files were specified (no match for {pattern})"
            )));
        }
        Ok(found)
    }

    /// Whether context path `src` is a directory (symlinks resolved inside
    /// the context).
    pub fn is_dir(&self, src: &str) -> Result<bool> {
        let st = archive::stat_in_root(self.root.as_fd(), src).map_err(|_| {
            Error::invalid(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            ))
        })?;
        Ok(st.mode & archive::MODE_DIR != 0)
    }

    /// Writes the tar of context path `src` (named after its base) to `out`.
    pub fn archive<W: Write>(&self, src: &str, out: W) -> Result<()> {
        archive::archive_in_root(self.root.as_fd(), src, out).map_err(|e| {
            Error::invalid(format!(
                "COPY failed: file not found in build context or excluded by .dockerignore: {src}: {e}"
            ))
        })
    }
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

/// Shell wildcard match of one path component: `*`, `?` and `[...]`.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|c| *c == ']') else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(c) = n.first() else { return false };
                let set = &p[1..end];
                let (neg, set) = match set.first() {
                    Some('!' | '^') => (true, &set[1..]),
                    _ => (false, set),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= *c && *c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit != neg && go(&p[end + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// Rewrites a source tar (entries named after the source's base) for
/// extraction at the container's `/`: a directory's contents go under
/// `dest_dir`; a file becomes `dest_file`. Every entry is owned by `owner`.
pub fn retarget<R: Read, W: Write>(
    input: R,
    out: W,
    dest: &Target,
    owner: (u32, u32),
) -> Result<()> {
    let mut a = tar::Archive::new(input);
    let mut b = tar::Builder::new(out);
    for entry in a.entries()? {
        let mut entry = entry?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let name = name.trim_start_matches("./");
        // The first component is the source itself.
        let rest = match name.split_once('/') {
            Some((_, r)) => r.trim_end_matches('/'),
            None => "",
        };
        let path = match dest {
            Target::Dir(d) if rest.is_empty() => {
                if entry.header().entry_type() == tar::EntryType::Directory {
                    // The source directory itself: its contents go in `d`.
                    continue;
                }
                format!("{}/{}", d.trim_end_matches('/'), base_of(name))
            }
            Target::Dir(d) => format!("{}/{rest}", d.trim_end_matches('/')),
            Target::File(f) => f.clone(),
        };
        let path = path.trim_start_matches('/').to_string();
        if path.is_empty() {
            continue;
        }
        let mut h = entry.header().clone();
        h.set_uid(owner.0 as u64);
        h.set_gid(owner.1 as u64);
        let link = entry.link_name()?.map(|l| l.into_owned());
        match link {
            Some(l) if h.entry_type() == tar::EntryType::Symlink => {
                b.append_link(&mut h, &path, &l)?;
            }
            Some(l) if h.entry_type() == tar::EntryType::Link => {
                // A hard link within the same source: retargeted alike.
                let ls = l.to_string_lossy().into_owned();
                let lrest = ls
                    .trim_start_matches("./")
                    .split_once('/')
                    .map(|(_, r)| r)
                    .unwrap_or("");
                let target = match dest {
                    Target::Dir(d) => format!("{}/{lrest}", d.trim_end_matches('/')),
                    Target::File(f) => f.clone(),
                };
                b.append_link(&mut h, &path, target.trim_start_matches('/'))?;
            }
            _ => {
                b.append_data(&mut h, &path, &mut entry)?;
            }
        }
    }
    b.into_inner()?.flush()?;
    Ok(())
}

fn base_of(name: &str) -> &str {
    name.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(name)
}

/// Where a source goes in the container.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Into this directory (a file keeps its name).
    Dir(String),
    /// As this file.
    File(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
            } else {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
            }
            h.set_size(data.len() as u64);
            h.set_uid(1000);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn names(tar: &[u8]) -> Vec<(String, u64)> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.header().uid().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*.txt", "a.txt"));
        assert!(!wildcard("*.txt", "a.txt.bak"));
        assert!(wildcard("a?c", "abc"));
        assert!(wildcard("[a-c]x", "bx"));
        assert!(!wildcard("[!a-c]x", "bx"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn retargets_directories_and_files() {
        let src = tar_of(&[
            ("src/", b""),
            ("src/a", b"A"),
            ("src/sub/", b""),
            ("src/sub/b", b"B"),
        ]);
        let mut out = Vec::new();
        retarget(&src[..], &mut out, &Target::Dir("/app/".into()), (0, 0)).unwrap();
        assert_eq!(
            names(&out),
            [
                ("app/a".to_string(), 0),
                ("app/sub".to_string(), 0),
                ("app/sub/b".to_string(), 0)
            ]
        );
        let file = tar_of(&[("f.txt", b"x")]);
        let mut out = Vec::new();
        retarget(&file[..], &mut out, &Target::Dir("/d".into()), (5, 6)).unwrap();
        assert_eq!(names(&out), [("d/f.txt".to_string(), 5)]);
        let mut out = Vec::new();
        retarget(
            &file[..],
            &mut out,
            &Target::File("/etc/conf".into()),
            (0, 0),
        )
        .unwrap();
        assert_eq!(names(&out), [("etc/conf".to_string(), 0)]);
        let dot = tar_of(&[("./", b""), ("./x", b"1")]);
        let mut out = Vec::new();
        retarget(&dot[..], &mut out, &Target::Dir("/w".into()), (0, 0)).unwrap();
        assert_eq!(names(&out), [("w/x".to_string(), 0)]);
    }

    #[test]
    fn context_sources_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let ctx_tar = {
            let mut b = tar::Builder::new(Vec::new());
            for (name, data) in [
                ("Dockerfile", "FROM x\n"),
                ("a.txt", "a"),
                ("b.txt", "b"),
                ("sub/c.txt", "c"),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            }
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "out", "/etc").unwrap();
            b.into_inner().unwrap()
        };
        let ctx = Context::extract(std::io::Cursor::new(ctx_tar), dir.path().join("ctx")).unwrap();
        assert_eq!(ctx.dockerfile("Dockerfile").unwrap(), "FROM x\n");
        assert!(ctx.dockerfile("nope").is_err());
        assert_eq!(ctx.sources("*.txt").unwrap(), ["a.txt", "b.txt"]);
        assert_eq!(ctx.sources("s*/*.txt").unwrap(), ["sub/c.txt"]);
        assert!(ctx.sources("*.none").is_err());
        assert!(ctx.is_dir("sub").unwrap());
        assert!(!ctx.is_dir("a.txt").unwrap());
        // `out` points at /etc: inside the context, that is <ctx>/etc.
        assert!(ctx.is_dir("out/passwd").is_err());
        assert!(ctx.archive("../../etc/passwd", Vec::new()).is_err());
        assert!(ctx.dockerfile("out/passwd").is_err());
        drop(ctx);
        assert!(!dir.path().join("ctx").exists());
    }
}
