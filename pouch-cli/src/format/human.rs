//! Human-readable sizes, durations and times, as Docker's `go-units` and
//! Go's `time.Time.String` print them.

use chrono::{DateTime, Local, TimeZone};

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scale(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// `units.HumanSizeWithPrecision(size, 3)`: SI units, 3 significant digits
/// (`1.23MB`, `4.1kB`, `512B`).
pub fn human_size(size: f64) -> String {
    let (v, unit) = scale(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", format_g(v, 3))
}

/// `units.HumanSize`: SI units, 4 significant digits (`1.234MB`).
pub fn human_size4(size: f64) -> String {
    let (v, unit) = scale(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", format_g(v, 4))
}

/// `units.BytesSize`: binary units, 4 significant digits (`7.638GiB`).
pub fn bytes_size(size: f64) -> String {
    let (v, unit) = scale(size, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", format_g(v, 4))
}

/// Go's `%.{prec}g`: `prec` significant digits, trailing zeros removed,
/// exponent form when the exponent is < -4 or >= `prec`.
pub fn format_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        }
        .to_string();
    }
    let prec = prec.max(1);
    // Round to `prec` significant digits via scientific formatting.
    let sci = format!("{:.*e}", prec - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = usize::try_from(prec as i32 - 1 - exp).unwrap_or(0);
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `units.HumanDuration`: "Less than a second", "5 seconds",
/// "About a minute", "3 hours", "2 weeks", ...
pub fn human_duration(secs: f64) -> String {
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

/// "`<duration>` ago" for a unix timestamp, relative to `now` (unix secs).
pub fn time_ago(created: i64, now: f64) -> String {
    format!("{} ago", human_duration(now - created as f64))
}

/// Go's `time.Unix(ts, 0).String()` in the local zone:
/// `2024-01-02 15:04:05 +0000 UTC`.
pub fn go_time_string(ts: i64) -> String {
    match Local.timestamp_opt(ts, 0).single() {
        Some(t) => go_time_string_in(&t),
        None => String::new(),
    }
}

/// [`go_time_string`] for a given zoned time. The zone abbreviation is
/// not available, so it is `UTC` at offset 0 and the numeric offset else
/// (what Go prints for zones without an abbreviation).
pub fn go_time_string_in<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let offset = t.format("%z").to_string();
    let zone = if offset == "+0000" {
        "UTC".to_string()
    } else {
        offset.clone()
    };
    format!("{} {offset} {zone}", t.format("%Y-%m-%d %H:%M:%S"))
}

/// Docker's `Ellipsis`: cut to `max` characters, the last being `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A short ID: without `sha256:`, 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.chars().take(12).collect()
}

/// Seconds since the epoch, now.
pub fn now_unix() -> f64 {
    let now = chrono::Utc::now();
    now.timestamp() as f64 + f64::from(now.timestamp_subsec_nanos()) / 1e9
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, Utc};

    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(512.0), "512B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size(1234.0), "1.23kB");
        assert_eq!(human_size(1_234_567.0), "1.23MB");
        assert_eq!(human_size(4_400_000.0), "4.4MB");
        assert_eq!(human_size(12_345_678.0), "12.3MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(human_size(1e9), "1GB");
        assert_eq!(human_size(999_999.0), "1e+03kB");
        assert_eq!(bytes_size(8_200_000_000.0), "7.637GiB");
        assert_eq!(bytes_size(1024.0), "1KiB");
        assert_eq!(format_g(0.000012345, 3), "1.23e-05");
        assert_eq!(format_g(100.0, 3), "100");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(human_duration(0.5), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(45.0), "45 seconds");
        assert_eq!(human_duration(60.0), "About a minute");
        assert_eq!(human_duration(119.0), "About a minute");
        assert_eq!(human_duration(120.0), "2 minutes");
        assert_eq!(human_duration(3599.0), "59 minutes");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(2.0 * 3600.0), "2 hours");
        assert_eq!(human_duration(47.0 * 3600.0), "47 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(90.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
        assert_eq!(time_ago(1000, 1000.0 + 7200.0), "2 hours ago");
    }

    #[test]
    fn times_and_ids() {
        let t = Utc.timestamp_opt(1_704_067_200, 0).unwrap();
        assert_eq!(go_time_string_in(&t), "2024-01-01 00:00:00 +0000 UTC");
        let t = t.with_timezone(&FixedOffset::east_opt(2 * 3600).unwrap());
        assert_eq!(go_time_string_in(&t), "2024-01-01 02:00:00 +0200 +0200");
        assert_eq!(
            ellipsis("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(ellipsis("short", 20), "short");
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_id("0123456789abcdef"), "0123456789ab");
    }
}
