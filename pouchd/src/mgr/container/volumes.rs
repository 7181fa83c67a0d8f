//! A container's volumes and `--mount`s: planned at create (named volumes
//! found or created, anonymous ones created, each referenced by the
//! container), filled from the image at first start (copy-up), released at
//! removal (anonymous ones deleted with `rm -v`).
//!
//! Host-path `Binds` keep their own path through `spec::parse_bind`; what is
//! here is persisted with the container as [`MountRecord`]s.

use super::spec::{parse_bind, Bind};
use super::store::Container;
use super::ContainerMgr;
use crate::error::{Error, Result};
use crate::mgr::volume::{CreateOptions, LOCAL_DRIVER};
use pouch_api::container::{Config, HostConfig, Mount};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// A mount of a container other than a host-path bind of `Binds`, as
/// inspect shows it (Go: `volume/mounts.MountPoint`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountRecord {
    /// "volume", "bind" or "tmpfs".
    pub kind: String,
    /// The volume's name.
    pub name: String,
    /// Host path: the volume's `_data`, or the bind source.
    pub source: String,
    pub destination: String,
    pub driver: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
    /// Named by the user (`-v name:/path`): `rm -v` keeps it.
    pub named: bool,
    /// Copy the image's content into the volume at first start.
    pub copy_data: bool,
    /// Options of a tmpfs mount (`size=`, `mode=`).
    #[serde(default)]
    pub tmpfs_options: Vec<String>,
}

impl MountRecord {
    pub fn is_volume(&self) -> bool {
        self.kind == "volume"
    }
}

/// The OCI mount of a record: volumes and binds as rbinds, tmpfs as Docker
/// mounts them.
pub(super) fn to_oci(r: &MountRecord) -> Result<oci_spec::runtime::Mount> {
    let mode = if r.rw { "rw" } else { "ro" };
    let (typ, src, mut opts): (&str, &str, Vec<String>) = match r.kind.as_str() {
        "tmpfs" => {
            let mut o: Vec<String> = ["nosuid", "nodev", "noexec"].map(String::from).to_vec();
            o.extend(r.tmpfs_options.iter().cloned());
            ("tmpfs", "tmpfs", o)
        }
        _ => {
            let prop = if r.propagation.is_empty() {
                "rprivate"
            } else {
                &r.propagation
            };
            ("bind", r.source.as_str(), vec!["rbind".into(), prop.into()])
        }
    };
    opts.push(mode.into());
    oci_spec::runtime::MountBuilder::default()
        .destination(&r.destination)
        .typ(typ)
        .source(src)
        .options(opts)
        .build()
        .map_err(|e| Error::system(format!("building OCI spec: {e}")))
}

/// A planned mount and, for a volume, how to create it if missing.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub record: MountRecord,
    pub create: CreateOptions,
}

/// Docker's `filepath.Clean` of a destination, enough to compare them.
fn clean(dst: &str) -> String {
    let parts: Vec<&str> = dst
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

fn check_destination(kind: &str, dst: &str) -> Result<String> {
    if !dst.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config for type \"{kind}\": invalid mount path: '{dst}' mount path must be absolute"
        )));
    }
    let c = clean(dst);
    if c == "/" {
        return Err(Error::invalid(
            "invalid specification: destination can't be '/'",
        ));
    }
    Ok(c)
}

fn volume_record(b: &Bind, mode: &str) -> Planned {
    Planned {
        record: MountRecord {
            kind: "volume".into(),
            name: b.source.clone(),
            destination: clean(&b.destination),
            driver: LOCAL_DRIVER.into(),
            // Docker shows `z` for `-v name:/path` without a mode.
            mode: if mode.is_empty() && !b.source.is_empty() {
                "z".into()
            } else {
                mode.into()
            },
            rw: !b.read_only,
            named: !b.source.is_empty(),
            copy_data: !b.nocopy,
            ..Default::default()
        },
        create: CreateOptions {
            name: Some(b.source.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        },
    }
}

fn from_mount(m: &Mount) -> Result<Planned> {
    let kind = m.r#type.to_ascii_lowercase();
    let dst = check_destination(&kind, &m.target)?;
    let bad =
        |msg: &str| Error::invalid(format!("invalid mount config for type \"{kind}\": {msg}"));
    let mut record = MountRecord {
        kind: kind.clone(),
        destination: dst,
        rw: !m.read_only,
        ..Default::default()
    };
    let mut create = CreateOptions::default();
    match kind.as_str() {
        "volume" => {
            if m.bind_options.is_some() || m.tmpfs_options.is_some() {
                return Err(bad("only VolumeOptions may be set"));
            }
            let vo = m.volume_options.clone().unwrap_or_default();
            record.name = m.source.clone();
            record.driver = LOCAL_DRIVER.into();
            record.named = !m.source.is_empty();
            record.copy_data = !vo.no_copy;
            create.name = Some(m.source.clone()).filter(|s| !s.is_empty());
            create.labels = vo.labels;
            if let Some(d) = vo.driver_config {
                create.driver = d.name;
                create.driver_opts = d.options;
            }
        }
        "bind" => {
            if m.volume_options.is_some() || m.tmpfs_options.is_some() {
                return Err(bad("only BindOptions may be set"));
            }
            if m.source.is_empty() {
                return Err(bad("field Source must not be empty"));
            }
            if !m.source.starts_with('/') {
                return Err(bad(&format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            if std::fs::symlink_metadata(&m.source).is_err() {
                return Err(bad(&format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            record.source = m.source.clone();
            record.propagation = m
                .bind_options
                .as_ref()
                .map(|b| b.propagation.clone())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rprivate".into());
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(bad("field Source must not be specified"));
            }
            if m.bind_options.is_some() || m.volume_options.is_some() {
                return Err(bad("only TmpfsOptions may be set"));
            }
            if let Some(t) = &m.tmpfs_options {
                if t.size_bytes < 0 {
                    return Err(bad("invalid tmpfs size"));
                }
                if t.size_bytes > 0 {
                    record.tmpfs_options.push(format!("size={}", t.size_bytes));
                }
                if t.mode != 0 {
                    record.tmpfs_options.push(format!("mode={:o}", t.mode));
                }
            }
        }
        _ => return Err(bad("mount type unknown")),
    }
    Ok(Planned { record, create })
}

/// Every mount the container asks for, validated: `Binds` naming volumes
/// (host paths stay in `Binds`), `Mounts`, then the anonymous volumes of
/// `Config.Volumes` (the image's VOLUMEs and the CLI's `-v /path`) that
/// nothing else already mounts. Pure: no volume is created here.
/// `inherited`: the volumes of `--volumes-from` containers, which the
/// container's own binds and mounts override.
pub(super) fn plan(hc: &HostConfig, cfg: &Config, inherited: Vec<Planned>) -> Result<Vec<Planned>> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut claim = |dst: &str| -> Result<()> {
        if !taken.insert(clean(dst)) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                clean(dst)
            )));
        }
        Ok(())
    };
    for raw in &hc.binds {
        let b = parse_bind(raw)?;
        claim(&b.destination)?;
        if !b.is_host() {
            let mode = raw.splitn(3, ':').nth(2).unwrap_or("");
            out.push(volume_record(
                &b,
                if b.source.is_empty() { "" } else { mode },
            ));
        }
    }
    for m in &hc.mounts {
        let p = from_mount(m)?;
        claim(&p.record.destination)?;
        out.push(p);
    }
    for p in inherited {
        if taken.insert(p.record.destination.clone()) {
            out.push(p);
        }
    }
    let mut image_volumes: Vec<&String> = cfg.volumes.keys().collect();
    image_volumes.sort();
    for dst in image_volumes {
        let dst = check_destination("volume", dst)?;
        if !taken.insert(dst.clone()) {
            continue;
        }
        let b = Bind {
            source: String::new(),
            destination: dst,
            read_only: false,
            propagation: String::new(),
            nocopy: false,
        };
        out.push(volume_record(&b, ""));
    }
    // `--volume-driver` applies to the volumes of `-v` and of the image;
    // an unknown driver then fails at create with Docker's message.
    for p in out.iter_mut() {
        if p.record.is_volume() && p.create.driver.is_empty() {
            p.create.driver = hc.volume_driver.clone();
        }
    }
    Ok(out)
}

/// The body of [`ContainerMgr::acquire_mounts`].
fn acquire(
    volumes: &crate::mgr::volume::VolumeMgr,
    id: &str,
    plan: Vec<Planned>,
) -> Result<Vec<MountRecord>> {
    let mut done: Vec<MountRecord> = Vec::new();
    let mut created: Vec<String> = Vec::new();
    for p in plan {
        let mut r = p.record;
        if r.is_volume() {
            match volumes.acquire(&p.create, id) {
                Ok((v, new)) => {
                    r.name = v.name.clone();
                    r.source = v.mountpoint.to_string_lossy().into_owned();
                    r.driver = v.driver;
                    if new {
                        created.push(v.name);
                    }
                }
                Err(e) => {
                    for d in done.iter().filter(|d| d.is_volume()) {
                        volumes.release(&d.name, id);
                    }
                    for n in &created {
                        let _ = volumes.remove(n, false);
                    }
                    return Err(e);
                }
            }
        }
        done.push(r);
    }
    Ok(done)
}

/// `name[:ro|:rw]` of `--volumes-from`.
fn parse_volumes_from(spec: &str) -> Result<(&str, Option<bool>)> {
    match spec.rsplit_once(':') {
        Some((name, "ro")) => Ok((name, Some(false))),
        Some((name, "rw")) => Ok((name, Some(true))),
        Some((_, mode)) => Err(Error::invalid(format!(
            "invalid mode for volumes-from: {mode}"
        ))),
        None => Ok((spec, None)),
    }
}

impl ContainerMgr {
    /// The mounts `--volumes-from` gives: each source container's volumes
    /// (as planned mounts of the same volumes, which the new container
    /// references but does not own) and host binds (as bind strings), read
    /// only or read-write as asked, else as the source has them.
    pub(super) fn volumes_from(&self, hc: &HostConfig) -> Result<(Vec<Planned>, Vec<String>)> {
        let mut planned = Vec::new();
        let mut binds = Vec::new();
        for spec in &hc.volumes_from {
            let (name, rw) = parse_volumes_from(spec)?;
            let src = self.get(name)?.meta();
            for r in src.mounts.iter().filter(|r| r.is_volume()) {
                let mut record = r.clone();
                record.rw = rw.unwrap_or(r.rw);
                record.named = true;
                record.copy_data = false;
                planned.push(Planned {
                    record,
                    create: CreateOptions {
                        name: Some(r.name.clone()),
                        driver: r.driver.clone(),
                        ..Default::default()
                    },
                });
            }
            for raw in &src.host_config.binds {
                let b = parse_bind(raw)?;
                if !b.is_host() {
                    continue;
                }
                let ro = !rw.unwrap_or(!b.read_only);
                binds.push(format!(
                    "{}:{}{}",
                    b.source,
                    b.destination,
                    if ro { ":ro" } else { "" }
                ));
            }
        }
        Ok((planned, binds))
    }

    /// Finds or creates each planned volume and references it for container
    /// `id`, on the blocking pool (a new volume's metadata is fsynced); on
    /// failure, what was taken is given back.
    pub(super) async fn acquire_mounts(
        &self,
        id: &str,
        plan: Vec<Planned>,
    ) -> Result<Vec<MountRecord>> {
        let (volumes, id) = (self.volumes.clone(), id.to_string());
        tokio::task::spawn_blocking(move || acquire(&volumes, &id, plan))
            .await
            .map_err(|e| Error::system(format!("creating volumes: {e}")))?
    }

    /// Drops container `id`'s references; with `remove_anonymous` (`rm -v`,
    /// `--rm`) also deletes its anonymous volumes that no other container
    /// uses, as Docker does.
    pub(super) async fn release_mounts(
        &self,
        id: &str,
        mounts: &[MountRecord],
        remove_anonymous: bool,
    ) {
        let volumes: Vec<(String, bool)> = mounts
            .iter()
            .filter(|m| m.is_volume())
            .map(|m| (m.name.clone(), m.named))
            .collect();
        if volumes.is_empty() {
            return;
        }
        let (mgr, id) = (self.volumes.clone(), id.to_string());
        let done = tokio::task::spawn_blocking(move || {
            for (name, named) in volumes {
                mgr.release(&name, &id);
                if remove_anonymous && !named {
                    match mgr.remove(&name, true) {
                        Ok(()) => {}
                        // Still used by another container: not an error.
                        Err(e) if e.is_conflict() => {}
                        Err(e) => tracing::warn!(id, volume = name, error = %e, "removing anonymous volume"),
                    }
                }
            }
        })
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "releasing volumes");
        }
    }

    /// Copy-up at first start: each new, empty volume that asks for it gets
    /// the image's content at its mount point. The rootfs is read from a
    /// private read-only mount of the container's layers.
    pub(super) async fn populate_volumes(&self, c: &Arc<Container>) -> Result<()> {
        let m = c.meta();
        let wanted: Vec<(usize, MountRecord)> = m
            .mounts
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_volume() && r.copy_data)
            // A volume with content is never filled: no need to mount the
            // rootfs for it.
            .filter(|(_, r)| std::fs::read_dir(&r.source).is_ok_and(|mut d| d.next().is_none()))
            .map(|(i, r)| (i, r.clone()))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let rootfs = self.mount_snapshot(&m.id, &m.snapshot_key, false).await?;
        let root = rootfs.path().to_path_buf();
        let copied = tokio::task::spawn_blocking(move || -> Result<Vec<usize>> {
            let _keep = rootfs;
            let mut done = Vec::new();
            for (i, r) in wanted {
                crate::mgr::volume::copy_up(&root, &r.destination, Path::new(&r.source))?;
                done.push(i);
            }
            Ok(done)
        })
        .await
        .map_err(|e| Error::system(format!("copying image content: {e}")))??;
        c.update(|m| {
            for i in copied {
                if let Some(r) = m.mounts.get_mut(i) {
                    r.copy_data = false;
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pouch_api::container::EmptyObject;

    fn hc(binds: &[&str]) -> HostConfig {
        HostConfig {
            binds: binds.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn plans_named_anonymous_and_image_volumes() {
        let mut cfg = Config::default();
        cfg.volumes.insert("/data".into(), EmptyObject::default());
        cfg.volumes.insert("/cache/".into(), EmptyObject::default());
        let p = plan(
            &hc(&["/host:/h", "named:/data:ro,nocopy", "/anon"]),
            &cfg,
            Vec::new(),
        )
        .unwrap();
        let recs: Vec<&MountRecord> = p.iter().map(|p| &p.record).collect();
        assert_eq!(recs.len(), 3, "{recs:?}");
        assert_eq!(recs[0].name, "named");
        assert_eq!(recs[0].destination, "/data");
        assert!(recs[0].named && !recs[0].rw && !recs[0].copy_data);
        assert_eq!(recs[0].mode, "ro,nocopy");
        assert!(recs[1].name.is_empty() && !recs[1].named && recs[1].copy_data);
        assert_eq!(recs[1].destination, "/anon");
        // The image's /data is covered by the named volume; /cache is new.
        assert_eq!(recs[2].destination, "/cache");
        assert_eq!(p[0].create.name.as_deref(), Some("named"));
        assert!(p[1].create.name.is_none());
    }

    #[test]
    fn duplicate_and_bad_mounts_are_refused() {
        let cfg = Config::default();
        let e = plan(&hc(&["a1:/d", "/x:/d/"]), &cfg, Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "Duplicate mount point: /d");
        let mut h = hc(&[]);
        h.mounts.push(Mount {
            r#type: "bind".into(),
            source: "/definitely/not/here".into(),
            target: "/x".into(),
            ..Default::default()
        });
        assert!(matches!(
            plan(&h, &cfg, Vec::new()),
            Err(Error::InvalidParameter(_))
        ));
        h.mounts[0].r#type = "nfs".into();
        assert!(plan(&h, &cfg, Vec::new()).is_err());
        h.mounts[0] = Mount {
            r#type: "volume".into(),
            source: "v1".into(),
            target: "rel".into(),
            ..Default::default()
        };
        assert!(plan(&h, &cfg, Vec::new()).is_err());
        h.mounts[0].target = "/abs".into();
        let p = plan(&h, &cfg, Vec::new()).unwrap();
        assert!(p[0].record.named && p[0].record.mode.is_empty());
        h.mounts[0] = Mount {
            r#type: "tmpfs".into(),
            target: "/t".into(),
            tmpfs_options: Some(pouch_api::container::TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o1777,
            }),
            ..Default::default()
        };
        let p = plan(&h, &cfg, Vec::new()).unwrap();
        assert_eq!(p[0].record.tmpfs_options, ["size=1048576", "mode=1777"]);
        let oci = to_oci(&p[0].record).unwrap();
        assert_eq!(oci.typ().as_deref(), Some("tmpfs"));
        assert_eq!(
            oci.options().clone().unwrap_or_default(),
            [
                "nosuid",
                "nodev",
                "noexec",
                "size=1048576",
                "mode=1777",
                "rw"
            ]
        );
        let mut h = hc(&["v1:/v:ro"]);
        h.volume_driver = "nfs".into();
        let p = plan(&h, &cfg, Vec::new()).unwrap();
        assert_eq!(p[0].create.driver, "nfs");
        let mut r = p[0].record.clone();
        r.source = "/home/volumes/v1/_data".into();
        let oci = to_oci(&r).unwrap();
        assert_eq!(oci.typ().as_deref(), Some("bind"));
        assert_eq!(
            oci.options().clone().unwrap_or_default(),
            ["rbind", "rprivate", "ro"]
        );
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1", None));
        assert_eq!(parse_volumes_from("c1:ro").unwrap(), ("c1", Some(false)));
        assert_eq!(parse_volumes_from("c1:rw").unwrap(), ("c1", Some(true)));
        assert!(parse_volumes_from("c1:x").is_err());
    }
}
