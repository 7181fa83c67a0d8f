//! COPY and ADD: the sources (from the context, or a stage's or image's
//! filesystem for `--from`) spooled as tars, retargeted to their
//! destination and extracted into a container's layer, then committed.

use super::context::{retarget, Target};
use super::dockerfile::{self, Args, Instruction};
use super::steps::abs;
use super::{Run, Stage};
use crate::error::{Error, Result};
use std::io::{Seek, SeekFrom};

/// `user[:group]` of `--chown` to numbers, names looked up in the image's
/// /etc/passwd and /etc/group.
fn owner_of(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32)> {
    let lookup = |table: &str, name: &str, field: usize| -> Option<u32> {
        table.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&name)).then(|| f.get(field)?.parse().ok())?
        })
    };
    let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup(passwd, u, 2).ok_or_else(|| {
            Error::invalid(format!(
                "unable to find user {u}: no matching entries in passwd file"
            ))
        })?,
    };
    let gid = if g.is_empty() {
        // The user's own group, as Docker does for `--chown=user`.
        match u.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(passwd, u, 3).unwrap_or(uid),
        }
    } else {
        match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(group, g, 2).ok_or_else(|| {
                Error::invalid(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        }
    };
    Ok((uid, gid))
}

/// A COPY/ADD's sources and destination, variables expanded.
fn copy_args(s: &Stage, ins: &Instruction) -> Result<Vec<String>> {
    let vars = s.vars();
    match &ins.args {
        Args::Json(v) => v
            .iter()
            .map(|w| dockerfile::expand(w, &vars))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(Error::invalid),
        Args::Text(t) => dockerfile::words(t, &vars).map_err(Error::invalid),
    }
}

impl Run<'_> {
    /// COPY and ADD: sources from the context or (`--from`) a stage or
    /// image, into the current image's filesystem.
    pub(super) async fn copy(&mut self, s: &Stage, ins: &Instruction) -> Result<String> {
        let mut parts = copy_args(s, ins)?;
        if parts.len() < 2 {
            return Err(Error::invalid(format!(
                "{} requires at least two arguments",
                ins.cmd
            )));
        }
        let dest_raw = parts.pop().unwrap_or_default();
        let dest = abs(&dest_raw, &s.config.working_dir);
        let created_by = format!(
            "/bin/sh -c #(nop) {} {} in {dest} ",
            ins.cmd,
            parts.join(" ")
        );
        for (k, _) in &ins.flags {
            if !matches!(k.as_str(), "from" | "chown" | "chmod") {
                return Err(Error::invalid(format!("unknown flag: --{k}")));
            }
        }
        let from = ins.flag("from").map(str::to_string);
        if from.is_some() && ins.cmd == "ADD" {
            return Err(Error::invalid("ADD does not support --from"));
        }
        // The sources: (path, is a directory), from the context or a
        // container of the `--from` image.
        let from_container = match &from {
            None => None,
            Some(f) => Some(self.source_container(f).await?),
        };
        let mut sources: Vec<(String, bool)> = Vec::new();
        for p in &parts {
            if p.contains("://") {
                return Err(Error::invalid(format!(
                    "{} from a URL ({p}) is not supported by pouchd: fetch it in a RUN step",
                    ins.cmd
                )));
            }
            match &from_container {
                None => {
                    for src in self.ctx.sources(p)? {
                        let dir = self.ctx.is_dir(&src)?;
                        sources.push((src, dir));
                    }
                }
                Some(c) => {
                    let st = self.b.containers.path_stat(c, p).await.map_err(|_| {
                        Error::invalid(format!("COPY failed: stat {p}: file does not exist"))
                    })?;
                    sources.push((p.clone(), st.mode & crate::archive::MODE_DIR != 0));
                }
            }
        }
        let target = self.scratch_container(s, &created_by).await?;
        let passwd_group = match ins.flag("chown") {
            Some(spec) if !spec.is_empty() => {
                let read = |path: &'static str| {
                    let containers = self.b.containers.clone();
                    let target = target.clone();
                    async move {
                        let mut tar = Vec::new();
                        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                        let w = SharedBuf(buf.clone());
                        if containers.archive_path(&target, path, w).await.is_ok() {
                            tar = buf.lock().map(|b| b.clone()).unwrap_or_default();
                        }
                        let mut a = tar::Archive::new(&tar[..]);
                        let mut text = String::new();
                        if let Ok(mut es) = a.entries() {
                            if let Some(Ok(mut e)) = es.next() {
                                let _ = std::io::Read::read_to_string(&mut e, &mut text);
                            }
                        }
                        text
                    }
                };
                let passwd = read("/etc/passwd").await;
                let group = read("/etc/group").await;
                Some(owner_of(spec, &passwd, &group)?)
            }
            _ => None,
        };
        let owner = passwd_group.unwrap_or((0, 0));
        let dest_is_dir = dest_raw.ends_with('/')
            || sources.len() > 1
            || self
                .b
                .containers
                .path_stat(&target, &dest)
                .await
                .is_ok_and(|st| st.mode & crate::archive::MODE_DIR != 0);
        for (src, is_dir) in &sources {
            let spool = spool_file(&self.b.tmp)?;
            let mut spool_w = spool.try_clone()?;
            // ADD of a local archive unpacks it into the destination.
            if ins.cmd == "ADD" && !is_dir && self.is_archive(src)? {
                self.ctx.archive(src, &mut spool_w)?;
                let mut file = spool;
                file.seek(SeekFrom::Start(0))?;
                let inner = extract_single(file)?;
                self.ensure_dir(&target, &dest).await?;
                self.b
                    .containers
                    .extract_to(&target, &dest, inner, false, true)
                    .await?;
                continue;
            }
            match &from_container {
                None => self.ctx.archive(src, &mut spool_w)?,
                Some(c) => self.b.containers.archive_path(c, src, spool_w).await?,
            }
            let dest_target = if *is_dir || dest_is_dir {
                Target::Dir(dest.clone())
            } else {
                Target::File(dest.clone())
            };
            let mut file = spool;
            file.seek(SeekFrom::Start(0))?;
            let out = spool_file(&self.b.tmp)?;
            let out_w = out.try_clone()?;
            let t = dest_target.clone();
            tokio::task::spawn_blocking(move || retarget(file, out_w, &t, owner))
                .await
                .map_err(|e| Error::system(format!("copy task: {e}")))??;
            let mut out = out;
            out.seek(SeekFrom::Start(0))?;
            self.b
                .containers
                .extract_to(&target, "/", out, false, true)
                .await?;
        }
        if let Some(c) = from_container {
            self.remove_container(&c).await;
        }
        self.commit(s, &target, &created_by).await
    }

    /// The digest of a COPY/ADD's sources: their tars from the context, or
    /// the `--from` stage's image and the paths.
    pub(super) async fn source_digest(&mut self, s: &Stage, ins: &Instruction) -> Result<String> {
        let mut parts = copy_args(s, ins)?;
        parts.pop();
        let mut h = super::cache::HashWriter::default();
        if let Some(from) = ins.flag("from") {
            let image = match self.stage_named(from).and_then(|st| st.image) {
                Some(i) => i,
                None => self
                    .b
                    .images
                    .get(from)
                    .map(|i| i.id.clone())
                    .unwrap_or_else(|_| from.to_string()),
            };
            std::io::Write::write_all(&mut h, image.as_bytes())?;
            for p in &parts {
                std::io::Write::write_all(&mut h, p.as_bytes())?;
            }
        } else {
            for p in &parts {
                if p.contains("://") {
                    std::io::Write::write_all(&mut h, p.as_bytes())?;
                    continue;
                }
                for src in self.ctx.sources(p)? {
                    std::io::Write::write_all(&mut h, src.as_bytes())?;
                    let mut spool = spool_file(&self.b.tmp)?;
                    self.ctx.archive(&src, &mut spool)?;
                    spool.seek(SeekFrom::Start(0))?;
                    digest_tar(spool, &mut h)?;
                }
            }
        }
        Ok(hex::encode(sha2::Digest::finalize(h.0)))
    }

    /// A finished stage by index or (case-insensitive) name.
    fn stage_named(&self, from: &str) -> Option<Stage> {
        match from.parse::<usize>() {
            Ok(i) => self.done.get(i).cloned(),
            Err(_) => self
                .done
                .iter()
                .find(|s| !s.name.is_empty() && s.name == from.to_ascii_lowercase())
                .cloned(),
        }
    }

    /// A container of the `--from` stage (by name or index) or image.
    async fn source_container(&mut self, from: &str) -> Result<String> {
        let stage = match self.stage_named(from) {
            Some(st) => st,
            None => {
                let img = match self.b.images.get(from) {
                    Ok(i) => i,
                    Err(_) => {
                        self.pull(from).await?;
                        self.b.images.get(from)?
                    }
                };
                Stage {
                    image: Some(img.id.clone()),
                    config: img.config.config.clone().unwrap_or_default(),
                    ..Default::default()
                }
            }
        };
        self.scratch_container(&stage, "#(nop) COPY --from").await
    }

    /// Whether a context file is a tar archive (plain or gzip).
    fn is_archive(&self, src: &str) -> Result<bool> {
        let mut buf = Vec::new();
        self.ctx.archive(src, &mut buf)?;
        let mut a = tar::Archive::new(&buf[..]);
        let Some(Ok(mut e)) = a.entries()?.next() else {
            return Ok(false);
        };
        let mut head = vec![0u8; 512];
        let n = std::io::Read::read(&mut e, &mut head).unwrap_or(0);
        head.truncate(n);
        if head.starts_with(&[0x1f, 0x8b]) {
            return Ok(true);
        }
        Ok(head.len() >= 262 && &head[257..262] == b"ustar")
    }
}

/// The one file of a single-entry tar (the ADD source), decompressed when
/// gzip.
fn extract_single(file: std::fs::File) -> Result<Box<dyn std::io::Read + Send>> {
    let mut a = tar::Archive::new(file);
    let mut e = a
        .entries()?
        .next()
        .ok_or_else(|| Error::invalid("empty ADD source"))??;
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut e, &mut data)?;
    if data.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            std::io::Cursor::new(data),
        )))
    } else {
        Ok(Box::new(std::io::Cursor::new(data)))
    }
}

/// Hashes what of a tar a copy keeps: names, types, modes, link targets
/// and contents, not times (a context is extracted afresh by each build).
fn digest_tar(input: std::fs::File, h: &mut super::cache::HashWriter) -> Result<()> {
    use std::io::Write;
    let mut a = tar::Archive::new(input);
    for e in a.entries()? {
        let mut e = e?;
        let hdr = e.header().clone();
        let name = e.path_bytes().into_owned();
        let link = e
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        h.write_all(&(name.len() as u64).to_le_bytes())?;
        h.write_all(&name)?;
        h.write_all(&[hdr.entry_type().as_byte()])?;
        h.write_all(&hdr.mode().unwrap_or(0).to_le_bytes())?;
        h.write_all(&(link.len() as u64).to_le_bytes())?;
        h.write_all(&link)?;
        h.write_all(&hdr.size().unwrap_or(0).to_le_bytes())?;
        std::io::copy(&mut e, h)?;
    }
    Ok(())
}

/// An unnamed file in `dir` for spooling a copy (gone when closed).
fn spool_file(dir: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("spool-{}", hex::encode(rand::random::<[u8; 8]>())));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

/// A blocking writer into a shared buffer.
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("buffer poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_owners() {
        let passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(owner_of("1:2", passwd, group).unwrap(), (1, 2));
        assert_eq!(owner_of("app", passwd, group).unwrap(), (1000, 1001));
        assert_eq!(owner_of("app:staff", passwd, group).unwrap(), (1000, 50));
        assert!(owner_of("nobody", passwd, group).is_err());
        assert!(owner_of("app:nogroup", passwd, group).is_err());
    }
}
