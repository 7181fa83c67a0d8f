//! `pouch history`: the steps an image was built from.

use clap::{ArgAction, Args};
use pouch_api::image::HistoryResponseItem;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::human::{ellipsis, human_size, now_unix, short_id, time_ago};
use crate::format::ListFormat;

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

#[derive(Debug, Args)]
pub struct HistoryArgs {
    // No `-H` short flag: here that is the global host flag.
    /// Print sizes and dates in human readable format
    #[arg(long, default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Pretty-print images using a Go template
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

fn headers() -> Value {
    json!({
        "ID": "IMAGE",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY",
        "Size": "SIZE",
        "Comment": "COMMENT",
    })
}

/// RFC 3339 in local time, as Go's `time.Unix(t, 0).Format(time.RFC3339)`.
fn rfc3339(ts: i64) -> String {
    use chrono::TimeZone;
    chrono::Local
        .timestamp_opt(ts, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Template data of each step (docker's `historyContext`).
pub fn rows(items: &[HistoryResponseItem], trunc: bool, human: bool, now: f64) -> Vec<Value> {
    items
        .iter()
        .map(|h| {
            let id = if trunc && h.id != "<missing>" {
                short_id(&h.id)
            } else {
                h.id.clone()
            };
            let created_by = h.created_by.replace('\t', " ");
            let created_by = if trunc {
                ellipsis(&created_by, 45)
            } else {
                created_by
            };
            json!({
                "ID": id,
                "CreatedSince": if human { time_ago(h.created, now) } else { rfc3339(h.created) },
                "CreatedAt": rfc3339(h.created),
                "CreatedBy": created_by,
                "Size": if human { human_size(h.size as f64) } else { h.size.to_string() },
                "Comment": h.comment,
            })
        })
        .collect()
}

pub async fn run(ctx: &Ctx, args: HistoryArgs) -> CmdResult {
    let format = match args.format.as_deref() {
        None | Some("") | Some("table") if args.quiet => "{{.ID}}",
        None | Some("") | Some("table") => DEFAULT_TABLE,
        Some(f) => f,
    };
    let f = ListFormat::parse(format).map_err(StatusError::msg)?;
    let items = ctx.client.images().history(&args.image).await?;
    let rows = rows(&items, !args.no_trunc, args.human, now_unix());
    print!("{}", f.render(&rows, &headers()).map_err(StatusError::msg)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<HistoryResponseItem> {
        vec![
            HistoryResponseItem {
                id: "sha256:0123456789abcdef0123".into(),
                created: 1_700_000_000 - 3 * 86400,
                created_by: "/bin/sh -c #(nop)\tCMD [\"sh\"] and a lot more text to cut".into(),
                tags: vec!["busybox:latest".into()],
                size: 0,
                comment: String::new(),
            },
            HistoryResponseItem {
                id: "<missing>".into(),
                created: 1_700_000_000 - 3 * 86400,
                created_by: "ADD file:abc in /".into(),
                size: 4_261_000,
                comment: "imported".into(),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn table_like_docker() {
        let rows = rows(&items(), true, true, 1_700_000_000.0);
        let f = ListFormat::parse(DEFAULT_TABLE).unwrap();
        assert_eq!(
            f.render(&rows, &headers()).unwrap(),
            "IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT\n\
             0123456789ab   3 days ago   /bin/sh -c #(nop) CMD [\"sh\"] and a lot more …   0B        \n\
             <missing>      3 days ago   ADD file:abc in /                               4.26MB    imported\n"
        );
    }

    #[test]
    fn raw_values() {
        let rows = rows(&items(), false, false, 1_700_000_000.0);
        let f = ListFormat::parse("{{.ID}}|{{.Size}}|{{.CreatedBy}}").unwrap();
        assert_eq!(
            f.render(&rows, &headers()).unwrap(),
            "sha256:0123456789abcdef0123|0|/bin/sh -c #(nop) CMD [\"sh\"] and a lot more text to cut\n\
             <missing>|4261000|ADD file:abc in /\n"
        );
        assert_eq!(rows[0]["CreatedSince"], rows[0]["CreatedAt"]);
        assert!(rows[0]["CreatedAt"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-1"));
    }
}
