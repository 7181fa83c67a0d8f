//! `pouch cp`: copy files and directories between a container and the
//! host, with docker's semantics (`cp SRC DEST` copies *into* an existing
//! directory DEST, *as* DEST otherwise; `dir/.` means the content of
//! dir; `-` is a tar archive on stdin/stdout).

use std::io::{self, Read, Write};

use bytes::Bytes;
use clap::Args;
use futures::StreamExt;
use pouch_client::archive::{MODE_DEVICE, MODE_IRREGULAR};
use pouch_client::{ArchivePutOptions, ByteStream};
use tokio::sync::mpsc;

use crate::archive::copy::{
    copy_info_destination_path, copy_info_source_path, prepare_archive_copy, validate_output_path,
    CopyInfo,
};
use crate::archive::path::{self as gopath, resolve_local, split_dir_entry};
use crate::archive::{pack, unpack};
use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy (there is none)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "SRC_PATH|CONTAINER:SRC_PATH")]
    pub source: String,
    #[arg(value_name = "DEST_PATH|CONTAINER:DEST_PATH")]
    pub destination: String,
}

/// One side of `cp`: a local path or a path in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(String),
    Container { container: String, path: String },
}

/// Docker's `splitCpArg`: `container:path`, unless the argument is an
/// absolute path or a relative one starting with `.` (`./a:b` is local).
pub fn split_cp_arg(arg: &str) -> Location {
    if arg.starts_with('/') {
        return Location::Local(arg.to_string());
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.starts_with('.') => Location::Container {
            container: c.to_string(),
            path: p.to_string(),
        },
        _ => Location::Local(arg.to_string()),
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    FromContainer {
        container: String,
        src: String,
        dst: String,
    },
    ToContainer {
        container: String,
        src: String,
        dst: String,
    },
}

pub fn plan(source: &str, destination: &str) -> Result<Plan, String> {
    if source.is_empty() {
        return Err("source can not be empty".into());
    }
    if destination.is_empty() {
        return Err("destination can not be empty".into());
    }
    match (split_cp_arg(source), split_cp_arg(destination)) {
        (Location::Container { container, path }, Location::Local(dst)) => {
            Ok(Plan::FromContainer {
                container,
                src: path,
                dst,
            })
        }
        (Location::Local(src), Location::Container { container, path }) => Ok(Plan::ToContainer {
            container,
            src,
            dst: path,
        }),
        (Location::Container { .. }, Location::Container { .. }) => {
            Err("copying between containers is not supported".into())
        }
        (Location::Local(_), Location::Local(_)) => {
            Err("must specify at least one container source".into())
        }
    }
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_string())
}

/// A 404 on the archive endpoints means the container or the path is
/// missing (docker's client says it this way).
fn not_found(container: &str, path: &str, e: pouch_client::Error) -> StatusError {
    if e.is_not_found() {
        StatusError::msg(format!("Error: No such container:path: {container}:{path}"))
    } else {
        e.into()
    }
}

pub async fn run(ctx: &Ctx, args: CpArgs) -> CmdResult {
    match plan(&args.source, &args.destination).map_err(StatusError::msg)? {
        Plan::FromContainer {
            container,
            src,
            dst,
        } => copy_from_container(ctx, &args, &container, &src, &dst).await,
        Plan::ToContainer {
            container,
            src,
            dst,
        } => copy_to_container(ctx, &args, &container, &src, &dst).await,
    }
}

/// Feed a byte stream to a blocking reader.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

/// The write side of a byte stream for a blocking writer.
struct ChannelWriter(mpsc::Sender<io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload closed"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn forward(mut stream: ByteStream) -> ChannelReader {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let item = item.map_err(|e| e.to_string());
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    ChannelReader {
        rx,
        cur: Bytes::new(),
    }
}

async fn copy_from_container(
    ctx: &Ctx,
    args: &CpArgs,
    container: &str,
    src: &str,
    dst: &str,
) -> CmdResult {
    let dst = if dst == "-" {
        dst.to_string()
    } else {
        resolve_local(dst, &cwd())
    };
    validate_output_path(&dst).map_err(StatusError::msg)?;
    let containers = ctx.client.containers();
    let mut src_path = src.to_string();
    let mut rebase_name = None;
    if args.follow_link {
        if let Ok(st) = containers.archive_stat(container, &src_path).await {
            if st.is_symlink() {
                let mut target = st.link_target.clone();
                if !target.starts_with('/') {
                    target = gopath::join(&split_dir_entry(&src_path).0, &target);
                }
                let (resolved, name) = gopath::rebase_name(&src_path, &target);
                src_path = resolved;
                rebase_name = name;
            }
        }
    }
    let (stat, mut stream) = containers
        .archive_get(container, &src_path)
        .await
        .map_err(|e| not_found(container, &src_path, e))?;
    if dst == "-" {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            let mut out = io::stdout().lock();
            out.write_all(&chunk)?;
        }
        io::stdout().flush()?;
        return Ok(());
    }
    let src_info = CopyInfo {
        path: src_path.clone(),
        exists: true,
        is_dir: stat.is_dir(),
        rebase_name: rebase_name.clone(),
    };
    let mut renames = Vec::new();
    if let Some(name) = &rebase_name {
        renames.push((split_dir_entry(&src_path).1, name.clone()));
    }
    let reader = forward(stream);
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let dst_info = copy_info_destination_path(&dst).map_err(|e| e.to_string())?;
        let prepared = prepare_archive_copy(&src_info, &dst_info)?;
        renames.extend(prepared.rename);
        unpack(reader, std::path::Path::new(&prepared.dst_dir), &renames).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| StatusError::msg(e.to_string()))?
    .map_err(StatusError::msg)
}

async fn copy_to_container(
    ctx: &Ctx,
    args: &CpArgs,
    container: &str,
    src: &str,
    dst: &str,
) -> CmdResult {
    let containers = ctx.client.containers();
    let mut dst_info = CopyInfo {
        path: dst.to_string(),
        ..Default::default()
    };
    let mut stat = containers.archive_stat(container, dst).await;
    if let Ok(st) = &stat {
        if st.is_symlink() {
            let mut target = st.link_target.clone();
            if !target.starts_with('/') {
                target = gopath::join(&split_dir_entry(dst).0, &target);
            }
            dst_info.path = target.clone();
            stat = containers.archive_stat(container, &target).await;
        }
    }
    // A missing destination is fine (its parent must exist, the daemon
    // will tell).
    if let Ok(st) = &stat {
        let why = if st.mode & MODE_DEVICE != 0 {
            Some("got a device")
        } else if st.mode & MODE_IRREGULAR != 0 {
            Some("got an irregular file")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(StatusError::msg(format!(
                "destination \"{container}:{dst}\" must be a directory or a regular file: {why}"
            )));
        }
        dst_info.exists = true;
        dst_info.is_dir = st.is_dir();
    }
    let opts = ArchivePutOptions {
        no_overwrite_dir_non_dir: true,
        copy_uid_gid: args.archive,
    };

    if src == "-" {
        if !dst_info.is_dir {
            return Err(StatusError::msg(format!(
                "destination \"{container}:{dst}\" must be a directory"
            )));
        }
        return containers
            .archive_put_reader(container, &dst_info.path, tokio::io::stdin(), &opts)
            .await
            .map_err(|e| not_found(container, &dst_info.path, e));
    }

    let src = resolve_local(src, &cwd());
    let follow = args.follow_link;
    let src_info = {
        let src = src.clone();
        tokio::task::spawn_blocking(move || copy_info_source_path(&src, follow))
            .await
            .map_err(|e| StatusError::msg(e.to_string()))??
    };
    let prepared = prepare_archive_copy(&src_info, &dst_info).map_err(StatusError::msg)?;
    // The top entry's name: the destination's base name when renaming,
    // else the source's (or the name of the link that was followed).
    let top = match &prepared.rename {
        Some((_, new)) => new.clone(),
        None => src_info
            .rebase_name
            .clone()
            .unwrap_or_else(|| split_dir_entry(&src_info.path).1),
    };
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let src_path = src_info.path.clone();
    let packer = tokio::task::spawn_blocking(move || -> io::Result<()> {
        let errors = tx.clone();
        let out = io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx));
        let res = pack(out, std::path::Path::new(&src_path), &top)
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()).map(drop));
        if let Err(e) = &res {
            // Make the upload fail rather than look complete.
            let _ = errors.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
        res
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let put = containers
        .archive_put_with(container, &prepared.dst_dir, body, &opts)
        .await;
    let packed = packer.await.map_err(|e| StatusError::msg(e.to_string()))?;
    match (packed, put) {
        // The daemon stopped reading: its answer says why.
        (Err(e), Err(put)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Err(not_found(container, &prepared.dst_dir, put))
        }
        // Else a local error explains a failed upload better.
        (Err(e), _) => Err(e.into()),
        (Ok(()), put) => put.map_err(|e| not_found(container, &prepared.dst_dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(container: &str, path: &str) -> Location {
        Location::Container {
            container: container.into(),
            path: path.into(),
        }
    }

    #[test]
    fn splits_arguments_like_docker() {
        assert_eq!(split_cp_arg("c1:/etc/hosts"), c("c1", "/etc/hosts"));
        assert_eq!(split_cp_arg("c1:rel/p"), c("c1", "rel/p"));
        assert_eq!(split_cp_arg("c1:"), c("c1", ""));
        assert_eq!(split_cp_arg("c1:/a:b"), c("c1", "/a:b"));
        assert_eq!(split_cp_arg("-"), Location::Local("-".into()));
        assert_eq!(split_cp_arg("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(split_cp_arg("../a:b"), Location::Local("../a:b".into()));
        assert_eq!(split_cp_arg("/tmp/a:b"), Location::Local("/tmp/a:b".into()));
        assert_eq!(split_cp_arg("file"), Location::Local("file".into()));
        assert_eq!(
            split_cp_arg(".hidden:x"),
            Location::Local(".hidden:x".into())
        );
        // Ambiguous, as docker: a relative local path with a colon reads as
        // a container.
        assert_eq!(split_cp_arg("a:b"), c("a", "b"));
    }

    #[test]
    fn plans() {
        assert_eq!(
            plan("c:/p", "-"),
            Ok(Plan::FromContainer {
                container: "c".into(),
                src: "/p".into(),
                dst: "-".into()
            })
        );
        assert_eq!(
            plan("-", "c:/tmp"),
            Ok(Plan::ToContainer {
                container: "c".into(),
                src: "-".into(),
                dst: "/tmp".into()
            })
        );
        assert_eq!(
            plan("./a:b", "c:/tmp/"),
            Ok(Plan::ToContainer {
                container: "c".into(),
                src: "./a:b".into(),
                dst: "/tmp/".into()
            })
        );
        assert_eq!(
            plan("a:/x", "b:/y"),
            Err("copying between containers is not supported".into())
        );
        assert_eq!(
            plan("/a", "./b"),
            Err("must specify at least one container source".into())
        );
        assert_eq!(plan("", "c:/"), Err("source can not be empty".into()));
        assert_eq!(plan("c:/", ""), Err("destination can not be empty".into()));
    }
}
