//! Parsing of option values, as the docker CLI does it: memory sizes,
//! `--cpus`, restart policies, volumes, environment variables and files,
//! labels, and `--since`/`--until` timestamps.

use std::path::Path;

use pouch_api::container::RestartPolicy;

/// `units.RAMInBytes`: `1024`, `512m`, `1g`, `1.5G`, `100kb`, `2GiB`;
/// binary multipliers.
pub fn parse_memory(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, mut rest) = s.split_at(digits_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) || num.ends_with('.') {
        return Err(invalid());
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut mul: f64 = 1.0;
    if let Some(c) = rest.chars().next() {
        let power = match c.to_ascii_lowercase() {
            'k' => Some(1),
            'm' => Some(2),
            'g' => Some(3),
            't' => Some(4),
            'p' => Some(5),
            _ => None,
        };
        if let Some(p) = power {
            mul = 1024f64.powi(p);
            rest = &rest[1..];
        }
    }
    rest = rest.strip_prefix(['i', 'I']).unwrap_or(rest);
    rest = rest.strip_prefix(['b', 'B']).unwrap_or(rest);
    if !rest.is_empty() {
        return Err(invalid());
    }
    Ok((value * mul) as i64)
}

/// `--cpus`: a decimal number of CPUs to NanoCpus (`1.5` → 1500000000),
/// exactly (no float rounding); more than 9 decimals is "too precise".
pub fn parse_cpus(s: &str) -> Result<i64, String> {
    let bad = || format!("failed to parse {s} as a rational number");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 9 {
        return Err("value is too precise".to_string());
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    int.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(bad)
}

/// `--restart no|always|unless-stopped|on-failure[:max-retries]`.
pub fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    let mut policy = RestartPolicy::default();
    if s.is_empty() {
        return Ok(policy);
    }
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 2 {
        return Err("invalid restart policy format".to_string());
    }
    if let Some(count) = parts.get(1) {
        if count.is_empty() {
            return Err("maximum retry count cannot be empty".to_string());
        }
        policy.maximum_retry_count = count
            .parse()
            .map_err(|_| format!("invalid maximum retry count: {count}"))?;
    }
    policy.name = parts[0].to_string();
    match policy.name.as_str() {
        "no" | "always" | "unless-stopped" if policy.maximum_retry_count != 0 => Err(format!(
            "maximum retry count cannot be used with restart policy '{}'",
            policy.name
        )),
        "no" | "always" | "unless-stopped" | "on-failure" => Ok(policy),
        other => Err(format!("invalid restart policy '{other}'")),
    }
}

/// A `-v` value: a bind / named volume (goes to `HostConfig.Binds`) or an
/// anonymous volume (goes to `Config.Volumes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSpec {
    Bind(String),
    Anonymous(String),
}

const VOLUME_MODES: &[&str] = &[
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "consistent",
    "cached",
    "delegated",
];

/// `-v [host-src:]container-dest[:options]`; a relative host path
/// (`./data`, `.`) is made absolute against `cwd`.
pub fn parse_volume(spec: &str, cwd: &Path) -> Result<VolumeSpec, String> {
    let invalid = || format!("invalid volume specification: '{spec}'");
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] if !VOLUME_MODES.contains(dst) => (*src, *dst, ""),
        [src, dst, mode] => (*src, *dst, *mode),
        _ => return Err(invalid()),
    };
    if dst.is_empty() || !dst.starts_with('/') {
        return Err(if dst.is_empty() {
            invalid()
        } else {
            format!("invalid mount config: mount path must be absolute: '{dst}'")
        });
    }
    if !mode.is_empty() && !mode.split(',').all(|m| VOLUME_MODES.contains(&m)) {
        return Err(format!("invalid mode: {mode}"));
    }
    if src.is_empty() {
        return if parts.len() == 1 {
            Ok(VolumeSpec::Anonymous(dst.to_string()))
        } else {
            Err(invalid())
        };
    }
    let src = if src == "." || src.starts_with("./") || src == ".." || src.starts_with("../") {
        cwd.join(src).to_string_lossy().into_owned()
    } else {
        src.to_string()
    };
    let mut out = format!("{src}:{dst}");
    if !mode.is_empty() {
        out.push(':');
        out.push_str(mode);
    }
    Ok(VolumeSpec::Bind(out))
}

/// `-e KEY=VALUE` as is; `-e KEY` takes the value from `lookup` (the local
/// environment) when set, else is passed as is.
pub fn parse_env(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let (key, has_value) = match s.split_once('=') {
        Some((k, _)) => (k, true),
        None => (s, false),
    };
    if key.is_empty() {
        return Err(format!("invalid environment variable: {s}"));
    }
    if has_value {
        return Ok(s.to_string());
    }
    Ok(match lookup(key) {
        Some(v) => format!("{key}={v}"),
        None => s.to_string(),
    })
}

/// Parse the content of an `--env-file`: one `KEY=VALUE` or `KEY` per
/// line, `#` comments and blank lines skipped, leading whitespace ignored.
pub fn parse_env_file(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let raw = if i == 0 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (line, None),
        };
        if name.is_empty() {
            return Err(format!(
                "poorly formatted environment: no variable name on line '{line}'"
            ));
        }
        if name.contains(char::is_whitespace) {
            return Err(format!(
                "poorly formatted environment: variable '{name}' contains whitespaces"
            ));
        }
        match value {
            Some(v) => out.push(format!("{name}={v}")),
            None => match lookup(name) {
                Some(v) => out.push(format!("{name}={v}")),
                None => out.push(name.to_string()),
            },
        }
    }
    Ok(out)
}

/// Read an `--env-file`; a missing file is an error, as with docker.
pub fn read_env_file(
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let content = std::fs::read(path).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        format!("open {path}: {reason}")
    })?;
    parse_env_file(&String::from_utf8_lossy(&content), lookup)
}

/// `-l key=value` or `-l key` (empty value).
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    if k.is_empty() {
        return Err(format!("invalid label '{s}': empty name"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// A Go duration such as `10m`, `1h30m`, `1.5h`, `300ms`, in seconds.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * secs;
        rest = &rest[unit_len..];
    }
    Some(sign * total)
}

/// `--since`/`--until` values to the API's unix timestamp: a unix time
/// (`1700000000[.123]`) passes through, a Go duration (`10m`) is relative
/// to `now`, RFC 3339 dates and times (`2024-01-02`, `2024-01-02T15:04:05`,
/// with or without zone) are converted.
pub fn parse_timestamp(s: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone};
    let fmt = |t: chrono::DateTime<chrono::Utc>| {
        format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
    };
    if !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.matches('.').count() <= 1
    {
        return Ok(s.to_string());
    }
    if let Some(secs) = parse_go_duration(s) {
        let d = chrono::Duration::nanoseconds((secs * 1e9) as i64);
        return Ok(fmt(now - d));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(fmt(t.with_timezone(&chrono::Utc)));
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| fmt(t.with_timezone(&chrono::Utc)))
    };
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, f) {
            if let Some(t) = local(naive) {
                return Ok(t);
            }
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0).and_then(local) {
            return Ok(t);
        }
    }
    Err(format!("failed to parse value as time or duration: {s:?}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn memory() {
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("512M"), Ok(512 << 20));
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert_eq!(parse_memory("1024b"), Ok(1024));
        assert_eq!(parse_memory("100kb"), Ok(100 << 10));
        assert_eq!(parse_memory("2GiB"), Ok(2 << 30));
        assert_eq!(parse_memory("1.5g"), Ok(3 << 29));
        assert_eq!(parse_memory("10 m"), Ok(10 << 20));
        for bad in ["", "g", "1x", "-1", "1.g", "1.2.3m", "1gg", " 1g"] {
            assert_eq!(
                parse_memory(bad),
                Err(format!("invalid size: '{bad}'")),
                "{bad}"
            );
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1"), Ok(1_000_000_000));
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("0.25"), Ok(250_000_000));
        assert_eq!(parse_cpus(".5"), Ok(500_000_000));
        assert_eq!(parse_cpus("0.000000001"), Ok(1));
        assert_eq!(parse_cpus("2.10000000000"), Ok(2_100_000_000));
        assert_eq!(
            parse_cpus("0.0000000001"),
            Err("value is too precise".into())
        );
        assert!(parse_cpus("abc").unwrap_err().contains("rational number"));
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpus(".").is_err());
    }

    #[test]
    fn restart_policies() {
        let p = parse_restart("on-failure:3").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 3));
        let p = parse_restart("on-failure").unwrap();
        assert_eq!((p.name.as_str(), p.maximum_retry_count), ("on-failure", 0));
        for name in ["no", "always", "unless-stopped"] {
            assert_eq!(parse_restart(name).unwrap().name, name);
        }
        assert_eq!(parse_restart("").unwrap().name, "");
        assert_eq!(
            parse_restart("on-failure:"),
            Err("maximum retry count cannot be empty".into())
        );
        assert!(parse_restart("on-failure:x").is_err());
        assert!(parse_restart("a:b:c").unwrap_err().contains("format"));
        assert!(parse_restart("always:2").is_err());
        assert_eq!(
            parse_restart("sometimes"),
            Err("invalid restart policy 'sometimes'".into())
        );
    }

    #[test]
    fn volumes() {
        let cwd = Path::new("/home/u");
        assert_eq!(
            parse_volume("/src:/dst", cwd),
            Ok(VolumeSpec::Bind("/src:/dst".into()))
        );
        assert_eq!(
            parse_volume("/src:/dst:ro", cwd),
            Ok(VolumeSpec::Bind("/src:/dst:ro".into()))
        );
        assert_eq!(
            parse_volume("data:/dst:rw,z", cwd),
            Ok(VolumeSpec::Bind("data:/dst:rw,z".into()))
        );
        assert_eq!(
            parse_volume("./rel:/dst", cwd),
            Ok(VolumeSpec::Bind("/home/u/./rel:/dst".into()))
        );
        assert_eq!(
            parse_volume("/data", cwd),
            Ok(VolumeSpec::Anonymous("/data".into()))
        );
        assert!(parse_volume("/dst:ro", cwd).is_err());
        assert!(parse_volume("/a:rel", cwd)
            .unwrap_err()
            .contains("absolute"));
        assert!(parse_volume("/a:/b:bogus", cwd)
            .unwrap_err()
            .contains("invalid mode"));
        assert!(parse_volume("/a:/b:ro:x", cwd).is_err());
        assert!(parse_volume("", cwd).is_err());
        assert!(parse_volume(":/b", cwd).is_err());
    }

    fn lookup(k: &str) -> Option<String> {
        (k == "HOME_X").then(|| "/root".to_string())
    }

    #[test]
    fn env() {
        assert_eq!(parse_env("A=1", &lookup), Ok("A=1".into()));
        assert_eq!(parse_env("A=", &lookup), Ok("A=".into()));
        assert_eq!(parse_env("A=b=c", &lookup), Ok("A=b=c".into()));
        assert_eq!(parse_env("HOME_X", &lookup), Ok("HOME_X=/root".into()));
        assert_eq!(parse_env("UNSET", &lookup), Ok("UNSET".into()));
        assert_eq!(
            parse_env("=x", &lookup),
            Err("invalid environment variable: =x".into())
        );
    }

    #[test]
    fn env_files() {
        let content = "\u{feff}# comment\n\nA=1\n  B=two words \nHOME_X\nUNSET\nC=\n";
        assert_eq!(
            parse_env_file(content, &lookup).unwrap(),
            ["A=1", "B=two words ", "HOME_X=/root", "UNSET", "C="]
        );
        assert!(parse_env_file("A B=1\n", &lookup)
            .unwrap_err()
            .contains("contains whitespaces"));
        assert!(parse_env_file("=1\n", &lookup)
            .unwrap_err()
            .contains("no variable name"));

        let dir = std::env::temp_dir().join(format!("pouch-cli-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("env");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "X=1").unwrap();
        let p = path.to_str().unwrap();
        assert_eq!(read_env_file(p, &lookup).unwrap(), ["X=1"]);
        let missing = dir.join("missing");
        let m = missing.to_str().unwrap();
        assert_eq!(
            read_env_file(m, &lookup),
            Err(format!("open {m}: no such file or directory"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(parse_label("a"), Ok(("a".into(), String::new())));
        assert_eq!(parse_label("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_label("=b").is_err());
    }

    #[test]
    fn timestamps() {
        let now = chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        assert_eq!(parse_timestamp("1600000000", now), Ok("1600000000".into()));
        assert_eq!(
            parse_timestamp("1600000000.5", now),
            Ok("1600000000.5".into())
        );
        assert_eq!(
            parse_timestamp("10m", now),
            Ok("1699999400.000000000".into())
        );
        assert_eq!(
            parse_timestamp("1h30m", now),
            Ok("1699994600.000000000".into())
        );
        assert_eq!(
            parse_timestamp("1.5s", now),
            Ok("1699999998.500000000".into())
        );
        assert_eq!(
            parse_timestamp("2024-01-01T00:00:00Z", now),
            Ok("1704067200.000000000".into())
        );
        assert_eq!(
            parse_timestamp("2024-01-01T02:00:00+02:00", now),
            Ok("1704067200.000000000".into())
        );
        assert!(parse_timestamp("2024-01-01", now).is_ok());
        assert!(parse_timestamp("yesterday", now).is_err());
        assert_eq!(parse_go_duration("300ms"), Some(0.3));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("-3s"), Some(-3.0));
        assert_eq!(parse_go_duration("+1m"), Some(60.0));
        assert_eq!(parse_go_duration("-"), None);
        assert_eq!(
            parse_timestamp("-10s", now),
            Ok("1700000010.000000000".into())
        );
    }
}
