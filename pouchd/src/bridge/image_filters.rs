//! Image filters that need more than a match: `before`/`since` of
//! `GET /images/json` (other images' creation times), and the filters of
//! `POST /images/prune` (`dangling`, `until`, `label`, `label!`).

use super::State;
use crate::error::{Error, Result};
use crate::mgr::image::{ImageMgr, PruneOptions};
use crate::server::params::Params;
use axum::extract::RawQuery;
use axum::Json;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pouch_api::image::ImagesPruneResponse;
use pouch_api::Filters;
use std::collections::HashSet;

/// The creation-time window of `before` / `since` in an image list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct CreatedRange {
    before: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
}

impl CreatedRange {
    /// Resolves the images named by `before` (the oldest of them wins) and
    /// `since` (the newest wins), as Docker does. An unknown image is an error.
    pub(super) fn from_filters(images: &ImageMgr, f: &Filters) -> Result<Self> {
        let created = |name: &String| images.get(name).map(|i| i.created);
        let mut range = CreatedRange::default();
        for t in f.get("before").iter().map(created) {
            if let Some(t) = t? {
                range.before = Some(range.before.map_or(t, |b| b.min(t)));
            }
        }
        for t in f.get("since").iter().map(created) {
            if let Some(t) = t? {
                range.since = Some(range.since.map_or(t, |s| s.max(t)));
            }
        }
        Ok(range)
    }

    /// Whether an image created at `created` is in the window (an image
    /// without a time counts as older than any other).
    pub(super) fn contains(&self, created: Option<DateTime<Utc>>) -> bool {
        self.before.is_none_or(|b| created < Some(b))
            && self.since.is_none_or(|s| created > Some(s))
    }
}

/// A Go duration (`90s`, `1h30m`, `1.5h`, `-10m`, `0`).
fn go_duration(v: &str) -> Option<chrono::Duration> {
    let (neg, mut rest) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += num * scale;
    }
    if !nanos.is_finite() || nanos > i64::MAX as f64 {
        return None;
    }
    let d = chrono::Duration::nanoseconds(nanos as i64);
    Some(if neg { -d } else { d })
}

/// Docker's `until` value: a duration before `now`, a Unix time
/// (`1704067200`, `1704067200.5`) or a date (RFC 3339, `2006-01-02T15:04:05`,
/// `2006-01-02T15:04`, `2006-01-02`; UTC unless a zone is given).
fn parse_until(v: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let bad = || Error::invalid(format!("failed to parse value as time or duration: {v:?}"));
    if let Some(d) = go_duration(v) {
        return now.checked_sub_signed(d).ok_or_else(bad);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).ok_or_else(bad);
    }
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let nanos = if frac.is_empty() {
        0
    } else if frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()) {
        format!("{frac:0<9}").parse::<u32>().map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    DateTime::from_timestamp(secs, nanos).ok_or_else(bad)
}

/// The prunes' `until` filter (at most one), as a time.
pub(super) fn until_filter(f: &Filters, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    match f.get("until") {
        [] => Ok(None),
        [v] => parse_until(v, now).map(Some),
        _ => Err(Error::invalid("more than one until filter specified")),
    }
}

/// The prune filters, checked as Docker checks them.
fn prune_options(f: &Filters, now: DateTime<Utc>) -> Result<PruneOptions> {
    f.validate(&["dangling", "label", "label!", "until"])
        .map_err(Error::InvalidParameter)?;
    let until = until_filter(f, now)?;
    Ok(PruneOptions {
        dangling_only: f
            .get_bool("dangling")
            .map_err(Error::InvalidParameter)?
            .unwrap_or(true),
        until,
        labels: f.get("label").to_vec(),
        not_labels: f.get("label!").to_vec(),
    })
}

pub async fn prune(state: State, RawQuery(q): RawQuery) -> Result<Json<ImagesPruneResponse>> {
    let f = Params::parse(q.as_deref()).filters()?;
    let opts = prune_options(&f, Utc::now())?;
    let daemon = state.0.clone();
    // Run to the end even if the client goes away: removals half done
    // would still be done, just not reported.
    let report = super::to_completion(async move {
        // Images of all containers, running or not, are never pruned; nor
        // the build cache's (`docker builder prune` is for those).
        let mut in_use: HashSet<String> = daemon
            .containers
            .all()
            .iter()
            .map(|c| c.meta().image_id)
            .collect();
        in_use.extend(daemon.build_cache.images());
        daemon.images.prune(&opts, &in_use).await
    })
    .await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn go_durations() {
        let secs = |v: &str| go_duration(v).map(|d| d.num_milliseconds());
        assert_eq!(secs("90s"), Some(90_000));
        assert_eq!(secs("1h30m"), Some(5_400_000));
        assert_eq!(secs("1.5h"), Some(5_400_000));
        assert_eq!(secs("-10m"), Some(-600_000));
        assert_eq!(secs("300ms"), Some(300));
        assert_eq!(secs("0"), Some(0));
        for bad in ["", "10", "h", "1x", "1h-2m", "2024-01-01", "-"] {
            assert_eq!(go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn until_values() {
        let now = t("2024-06-01T12:00:00Z");
        assert_eq!(parse_until("24h", now).unwrap(), t("2024-05-31T12:00:00Z"));
        assert_eq!(
            parse_until("1704067200", now).unwrap(),
            t("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_until("1704067200.5", now).unwrap(),
            t("2024-01-01T00:00:00.5Z")
        );
        assert_eq!(
            parse_until("2024-01-01T01:00:00+01:00", now).unwrap(),
            t("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_until("2024-01-02T03:04:05", now).unwrap(),
            t("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_until("2024-01-02T03:04", now).unwrap(),
            t("2024-01-02T03:04:00Z")
        );
        assert_eq!(
            parse_until("2024-01-02", now).unwrap(),
            t("2024-01-02T00:00:00Z")
        );
        for bad in ["yesterday", "1.2.3", "12abc", "2024-13-01"] {
            assert!(parse_until(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn prune_filters() {
        let now = t("2024-06-01T00:00:00Z");
        let parse = |json: &str| prune_options(&Filters::parse(json).unwrap(), now);
        assert_eq!(parse("").unwrap(), PruneOptions::default());
        assert!(parse(r#"{"dangling":["true"]}"#).unwrap().dangling_only);
        assert!(!parse(r#"{"dangling":["false"]}"#).unwrap().dangling_only);
        assert!(!parse(r#"{"dangling":{"0":true}}"#).unwrap().dangling_only);
        let o = parse(r#"{"until":["1h"],"label":["a=b"],"label!":["c"]}"#).unwrap();
        assert_eq!(o.until, Some(t("2024-05-31T23:00:00Z")));
        assert_eq!(o.labels, ["a=b"]);
        assert_eq!(o.not_labels, ["c"]);
        for bad in [
            r#"{"dangling":["maybe"]}"#,
            r#"{"until":["1h","2h"]}"#,
            r#"{"until":["soon"]}"#,
            r#"{"reference":["x"]}"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidParameter(_)), "{bad}: {e}");
        }
        assert_eq!(
            parse(r#"{"x":["y"]}"#).unwrap_err().to_string(),
            "Invalid filter 'x'"
        );
    }

    #[test]
    fn created_range() {
        let r = CreatedRange {
            before: Some(t("2024-03-01T00:00:00Z")),
            since: Some(t("2024-01-01T00:00:00Z")),
        };
        assert!(r.contains(Some(t("2024-02-01T00:00:00Z"))));
        assert!(
            !r.contains(Some(t("2024-03-01T00:00:00Z"))),
            "strictly before"
        );
        assert!(
            !r.contains(Some(t("2024-01-01T00:00:00Z"))),
            "strictly after"
        );
        assert!(!r.contains(None));
        let before_only = CreatedRange { since: None, ..r };
        assert!(before_only.contains(None), "no time: older than all");
        assert!(CreatedRange::default().contains(None));
    }
}
