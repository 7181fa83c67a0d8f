//! The json-file log driver's file: append, rotate by size (`max-size`),
//! keep `max-file` files, as Docker's json-file does.

use crate::error::{Error, Result};
use pouch_api::container::LogConfig;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Rotation settings and format of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOpts {
    pub max_size: Option<u64>,
    pub max_files: u32,
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Docker's json-file: `{"log":...,"stream":...,"time":...}`.
    #[default]
    Json,
    /// The CRI's, which kubelet reads: `<time> <stream> <F|P> <text>`. The
    /// driver `cri` is set by the CRI server for its containers; kubelet
    /// rotates these files itself.
    Cri,
}

/// The log driver of CRI containers.
pub const CRI_DRIVER: &str = "cri";

impl Default for LogOpts {
    fn default() -> Self {
        LogOpts {
            max_size: None,
            max_files: 1,
            format: LogFormat::Json,
        }
    }
}

/// Parses `10m`, `1g`, `512k`, `100` (bytes) as Docker's `max-size`.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let (num, mult) = match lower.trim_end_matches('b').chars().last()? {
        'k' => (&lower[..lower.trim_end_matches('b').len() - 1], 1u64 << 10),
        'm' => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        'g' => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (lower.trim_end_matches('b'), 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n > 0.0).then_some((n * mult as f64) as u64)
}

/// The effective log config of a new container: its own, else the daemon's.
/// Returns the config to store, after validating driver and options.
pub fn effective(own: &LogConfig, default: &LogConfig) -> Result<LogConfig> {
    let cfg = if own.r#type.is_empty() && own.config.is_empty() {
        default.clone()
    } else {
        own.clone()
    };
    let cfg = LogConfig {
        r#type: if cfg.r#type.is_empty() {
            "json-file".to_string()
        } else {
            cfg.r#type
        },
        config: cfg.config,
    };
    parse(&cfg)?;
    Ok(cfg)
}

/// `None` when logs are not kept (driver `none`).
pub fn parse(cfg: &LogConfig) -> Result<Option<LogOpts>> {
    match cfg.r#type.as_str() {
        "none" => {
            if let Some(k) = cfg.config.keys().next() {
                return Err(Error::invalid(format!(
                    "unknown log opt '{k}' for none log driver"
                )));
            }
            Ok(None)
        }
        "" | "json-file" => Ok(Some(parse_json_file(&cfg.config)?)),
        CRI_DRIVER => Ok(Some(LogOpts {
            format: LogFormat::Cri,
            ..Default::default()
        })),
        other => Err(Error::invalid(format!(
            "logger: no log driver named '{other}' is registered"
        ))),
    }
}

fn parse_json_file(opts: &HashMap<String, String>) -> Result<LogOpts> {
    let mut out = LogOpts::default();
    for (k, v) in opts {
        match k.as_str() {
            "max-size" => {
                if v != "-1" {
                    out.max_size = Some(
                        parse_size(v)
                            .ok_or_else(|| Error::invalid(format!("invalid max-size: {v}")))?,
                    );
                }
            }
            "max-file" => {
                out.max_files = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| Error::invalid(format!("invalid max-file: {v}")))?;
            }
            "labels" | "env" | "env-regex" | "tag" | "compress" | "mode" | "max-buffer-size" => {}
            other => {
                return Err(Error::invalid(format!(
                    "unknown log opt '{other}' for json-file log driver"
                )))
            }
        }
    }
    if out.max_files > 1 && out.max_size.is_none() {
        return Err(Error::invalid("max-file cannot be set without max-size"));
    }
    Ok(out)
}

/// Log files of `path`, oldest first: `path.(n-1)`, …, `path.1`, `path`.
pub fn files_oldest_first(path: &Path, max_files: u32) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = (1..max_files.max(1))
        .rev()
        .map(|i| rotated(path, i))
        .filter(|p| p.exists())
        .collect();
    v.push(path.to_path_buf());
    v
}

fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// The live log file of a container's run.
pub struct LogFile {
    path: PathBuf,
    file: std::fs::File,
    size: u64,
    opts: LogOpts,
}

impl LogFile {
    pub fn open(path: &Path, opts: LogOpts) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            opts,
        })
    }

    pub fn format(&self) -> LogFormat {
        self.opts.format
    }

    /// Opens the file at the path again: after kubelet rotated it away
    /// (CRI's ReopenContainerLog).
    pub fn reopen(&mut self) -> std::io::Result<()> {
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(())
    }

    /// Appends whole log lines, batched into as few writes as rotation allows:
    /// a file is rotated before the line that would take it past max-size.
    pub fn write_lines(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        let mut batch: Vec<u8> = Vec::new();
        for line in lines {
            if let Some(max) = self.opts.max_size {
                let pending = self.size + batch.len() as u64;
                if pending > 0 && pending + line.len() as u64 > max {
                    self.flush(&mut batch)?;
                    self.rotate()?;
                }
            }
            batch.extend_from_slice(line);
        }
        self.flush(&mut batch)
    }

    fn flush(&mut self, batch: &mut Vec<u8>) -> std::io::Result<()> {
        if !batch.is_empty() {
            self.file.write_all(batch)?;
            self.size += batch.len() as u64;
            batch.clear();
        }
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.opts.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for i in (1..self.opts.max_files - 1).rev() {
            let from = rotated(&self.path, i);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, i + 1))?;
            }
        }
        std::fs::rename(&self.path, rotated(&self.path, 1))?;
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The log files newer than `f` (which was rotated away), oldest first,
/// ending with the live file. When `f` is gone altogether (deleted past
/// max-file), every file left is newer.
pub fn newer_files(path: &Path, max_files: u32, f: &std::fs::File) -> Vec<PathBuf> {
    let all = files_oldest_first(path, max_files);
    let Ok(md) = f.metadata() else { return all };
    let same = |p: &PathBuf| {
        std::fs::metadata(p).is_ok_and(|m| m.ino() == md.ino() && m.dev() == md.dev())
    };
    match all.iter().position(same) {
        Some(i) => all[i + 1..].to_vec(),
        None => all,
    }
}

/// Whether `path` now names a different file than `f` (it was rotated away).
pub fn was_rotated(path: &Path, f: &std::fs::File) -> bool {
    match (std::fs::metadata(path), f.metadata()) {
        (Ok(p), Ok(m)) => p.ino() != m.ino() || p.dev() != m.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1.5kb"), Some(1536));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn options_validate() {
        let cfg = |t: &str, kv: &[(&str, &str)]| LogConfig {
            r#type: t.into(),
            config: kv
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        assert_eq!(parse(&cfg("none", &[])).unwrap(), None);
        assert!(parse(&cfg("syslog", &[])).is_err());
        assert!(parse(&cfg("json-file", &[("bogus", "1")])).is_err());
        assert!(parse(&cfg("json-file", &[("max-file", "3")])).is_err());
        assert_eq!(
            parse(&cfg("json-file", &[("max-size", "1k"), ("max-file", "3")])).unwrap(),
            Some(LogOpts {
                max_size: Some(1024),
                max_files: 3,
                format: LogFormat::Json,
            })
        );
        assert_eq!(
            parse(&cfg(CRI_DRIVER, &[])).unwrap().map(|o| o.format),
            Some(LogFormat::Cri)
        );
        let d = cfg("json-file", &[("max-size", "2m")]);
        assert_eq!(effective(&LogConfig::default(), &d).unwrap(), d);
    }

    #[test]
    fn rotates_and_keeps_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut f = LogFile::open(
            &p,
            LogOpts {
                max_size: Some(10),
                max_files: 3,
                format: LogFormat::Json,
            },
        )
        .unwrap();
        let lines: Vec<Vec<u8>> = (0..5)
            .map(|i| format!("line{i}xxx\n").into_bytes())
            .collect();
        f.write_lines(&lines[..2]).unwrap();
        f.write_lines(&lines[2..]).unwrap();
        let files = files_oldest_first(&p, 3);
        assert_eq!(files.len(), 3);
        let all: String = files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        assert_eq!(all, "line2xxx\nline3xxx\nline4xxx\n");
        // A reader holding the oldest file finds the two newer ones.
        let oldest = std::fs::File::open(&files[0]).unwrap();
        assert_eq!(newer_files(&p, 3, &oldest), files[1..].to_vec());
    }
}
