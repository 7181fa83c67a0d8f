//! `GET /containers/{id}/logs` from the json-file log: tail, since/until,
//! follow (woken by the copiers, never by polling).

use super::io::{ContainerIo, JsonLogLine, StreamKind};
use super::ContainerMgr;
use crate::error::{Error, Result};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Seek, SeekFrom};

use tokio::sync::mpsc;

/// Entries read before they are handed on.
const BATCH: usize = 1024;

/// What the client asked for.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub follow: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub timestamps: bool,
    /// Last N lines only.
    pub tail: Option<usize>,
}

/// One log line.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub stream: StreamKind,
    /// The RFC 3339 time as logged; empty unless timestamps were asked for.
    pub time: String,
    pub line: Bytes,
}

/// Parses one json-file line; the time is parsed only when `need_time`
/// (since/until filters), as it is the costly part, and kept only when
/// `keep_time` (timestamps wanted).
fn parse_line(
    raw: &str,
    need_time: bool,
    keep_time: bool,
) -> Option<(LogEntry, Option<DateTime<Utc>>)> {
    let l: JsonLogLine = serde_json::from_str(raw).ok()?;
    let stream = match l.stream.as_ref() {
        "stderr" => StreamKind::Stderr,
        _ => StreamKind::Stdout,
    };
    let t = if need_time {
        Some(
            DateTime::parse_from_rfc3339(&l.time)
                .ok()?
                .with_timezone(&Utc),
        )
    } else {
        None
    };
    Some((
        LogEntry {
            stream,
            time: if keep_time {
                l.time.into_owned()
            } else {
                String::new()
            },
            // An escaped line is already an owned String: reuse its buffer.
            line: Bytes::from(l.log.into_owned()),
        },
        t,
    ))
}

struct Reader {
    opts: LogsOptions,
    reader: BufReader<std::fs::File>,
    buf: String,
    /// Bytes consumed from the file (tracked here: asking the kernel costs a
    /// syscall per line).
    pos: u64,
}

impl Reader {
    fn new(opts: &LogsOptions, file: std::fs::File) -> Self {
        Reader {
            opts: opts.clone(),
            reader: BufReader::with_capacity(64 * 1024, file),
            buf: String::new(),
            pos: 0,
        }
    }

    fn switch(&mut self, file: std::fs::File) {
        self.reader = BufReader::with_capacity(64 * 1024, file);
        self.pos = 0;
    }
}

impl Reader {
    /// Reads complete lines from the current position; a trailing partial
    /// line (a write in progress) is left for the next round.
    /// Stops after `max` entries, leaving the rest for the next call.
    fn read_available(&mut self, out: &mut Vec<LogEntry>, max: usize) -> std::io::Result<()> {
        let need_time = self.opts.since.is_some() || self.opts.until.is_some();
        let keep_time = self.opts.timestamps;
        let mut taken = 0;
        while taken < max {
            self.buf.clear();
            let n = self.reader.read_line(&mut self.buf)?;
            if n == 0 {
                return Ok(());
            }
            if !self.buf.ends_with('\n') {
                self.reader.seek(SeekFrom::Start(self.pos))?;
                return Ok(());
            }
            self.pos += n as u64;
            if let Some((e, t)) = parse_line(self.buf.trim_end_matches('\n'), need_time, keep_time)
            {
                if self.wanted(&e, t) {
                    out.push(e);
                    taken += 1;
                }
            }
        }
        Ok(())
    }

    fn wanted(&self, e: &LogEntry, t: Option<DateTime<Utc>>) -> bool {
        let stream_ok = match e.stream {
            StreamKind::Stdout => self.opts.stdout,
            StreamKind::Stderr => self.opts.stderr,
        };
        let in_window = match t {
            Some(t) => {
                self.opts.since.is_none_or(|s| t >= s) && self.opts.until.is_none_or(|u| t <= u)
            }
            None => true,
        };
        stream_ok && in_window
    }
}

/// Reads what the files hold now, oldest rotated file first, sending batches
/// as they fill (or only the last `tail` entries). Runs on the blocking pool:
/// file reads would otherwise hold one of the few runtime workers for the
/// whole read. Returns the reader of the live file for `follow`, or `None`
/// when there is no log yet or the client went away.
fn read_existing(
    io: &ContainerIo,
    opts: &LogsOptions,
    path: &std::path::Path,
    max_files: u32,
    tx: &mpsc::Sender<Vec<LogEntry>>,
) -> Option<Reader> {
    // Opened together, between rotations: a rotation while the older files
    // are read then moves names, not the files already open.
    let files: Vec<std::fs::File> = io.without_rotation(|| {
        super::logfile::files_oldest_first(path, max_files)
            .iter()
            .filter_map(|p| std::fs::File::open(p).ok())
            .collect()
    });
    let mut tail: VecDeque<LogEntry> = VecDeque::new();
    let mut r = None;
    for file in files {
        let mut rd = Reader::new(opts, file);
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            rd.read_available(&mut batch, BATCH).ok()?;
            if batch.is_empty() {
                break;
            }
            match opts.tail {
                Some(n) => {
                    tail.extend(batch);
                    while tail.len() > n {
                        tail.pop_front();
                    }
                }
                None => tx.blocking_send(batch).ok()?,
            }
        }
        r = Some(rd);
    }
    if !tail.is_empty() {
        tx.blocking_send(tail.into()).ok()?;
    }
    r
}

/// One follow round on the blocking pool: new lines of the live file, and
/// of the files rotated in since (in order).
fn read_more(
    io: &ContainerIo,
    mut r: Reader,
    path: std::path::PathBuf,
    max_files: u32,
) -> (Reader, std::io::Result<Vec<LogEntry>>) {
    let mut more = Vec::new();
    if let Err(e) = r.read_available(&mut more, usize::MAX) {
        return (r, Err(e));
    }
    // Rotated since: under the rotation lock, the old file is final; its
    // last lines (written after the read above), then the files rotated
    // after it, then the live one, follow in order.
    let newer = io.without_rotation(|| -> std::io::Result<Vec<std::fs::File>> {
        if !super::logfile::was_rotated(&path, r.reader.get_ref()) {
            return Ok(Vec::new());
        }
        r.read_available(&mut more, usize::MAX)?;
        Ok(
            super::logfile::newer_files(&path, max_files, r.reader.get_ref())
                .iter()
                .filter_map(|p| std::fs::File::open(p).ok())
                .collect(),
        )
    });
    let newer = match newer {
        Ok(n) => n,
        Err(e) => return (r, Err(e)),
    };
    for file in newer {
        r.switch(file);
        if let Err(e) = r.read_available(&mut more, usize::MAX) {
            return (r, Err(e));
        }
    }
    (r, Ok(more))
}

impl ContainerMgr {
    /// Reopens the container's log file at its path (CRI's
    /// ReopenContainerLog, after kubelet rotated the file away).
    pub fn reopen_log(&self, reference: &str) -> Result<()> {
        let c = self.get(reference)?;
        if !c.meta().state.status.is_alive() {
            return Err(Error::conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        c.io.reopen_log()?;
        Ok(())
    }

    /// Streams the container's log in batches of entries. The producer stops
    /// when the receiver is dropped (the client went away).
    pub fn logs(
        &self,
        reference: &str,
        opts: LogsOptions,
    ) -> Result<(bool, mpsc::Receiver<Vec<LogEntry>>)> {
        if !opts.stdout && !opts.stderr {
            return Err(Error::invalid(
                "Bad parameters: you must choose at least one stream",
            ));
        }
        let c = self.get(reference)?;
        let m = c.meta();
        let tty = m.config.tty;
        let Some(log_opts) = super::logfile::parse(&m.host_config.log_config)? else {
            return Err(Error::NotImplemented(
                "configured logging driver does not support reading".to_string(),
            ));
        };
        if log_opts.format == super::logfile::LogFormat::Cri {
            return Err(Error::NotImplemented(
                "the logs of a CRI container are read from its CRI log file".to_string(),
            ));
        }
        let max_files = log_opts.max_files;
        let mut state = c.io.log.subscribe();
        let io = c.io.clone();
        let (tx, rx) = mpsc::channel(16);
        let path = std::path::PathBuf::from(&m.log_path);
        tokio::spawn(async move {
            state.borrow_and_update();
            let first = {
                let (io, opts, path, tx) = (io.clone(), opts.clone(), path.clone(), tx.clone());
                tokio::task::spawn_blocking(move || {
                    read_existing(&io, &opts, &path, max_files, &tx)
                })
                .await
            };
            // No log yet, or the client went away.
            let Ok(Some(mut r)) = first else { return };
            if !opts.follow {
                return;
            }
            loop {
                let open = state.borrow_and_update().open;
                let (io, p) = (io.clone(), path.clone());
                let Ok((back, more)) =
                    tokio::task::spawn_blocking(move || read_more(&io, r, p, max_files)).await
                else {
                    return;
                };
                r = back;
                let Ok(more) = more else { return };
                let got = !more.is_empty();
                if got && tx.send(more).await.is_err() {
                    return;
                }
                if !open {
                    // The writers are gone: drain what is left, then end.
                    if got {
                        continue;
                    }
                    return;
                }
                if opts.until.is_some_and(|u| Utc::now() > u) {
                    return;
                }
                tokio::select! {
                    changed = state.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok((tty, rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_with_escapes_parse() {
        let raw = r#"{"log":"tick \"q\"\n","stream":"stderr","time":"2026-01-01T00:00:00.5Z"}"#;
        let (e, t) = parse_line(raw, false, false).unwrap();
        assert_eq!(t, None);
        let (_, t) = parse_line(raw, true, true).unwrap();
        assert_eq!(t.map(|t| t.timestamp_subsec_millis()), Some(500));
        assert_eq!(&e.line[..], b"tick \"q\"\n");
        assert_eq!(e.stream, StreamKind::Stderr);
    }
}
