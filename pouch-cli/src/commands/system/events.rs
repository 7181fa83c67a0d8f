//! `pouch events`: the daemon's events, past (`--since`) and live (until
//! `--until`, or forever).

use std::io::Write as _;

use chrono::{Local, TimeZone};
use clap::Args;
use futures::StreamExt;
use pouch_api::events::EventMessage;
use pouch_api::Filters;
use serde_json::{json, Value};

use crate::commands::Ctx;
use crate::error::{CmdResult, StatusError};
use crate::format::Template;
use crate::opts::parse_timestamp;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template
    #[arg(long)]
    pub format: Option<String>,
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00` of a unix time in
/// nanoseconds, in the zone `tz`.
pub fn rfc3339_nano_fixed<Tz: TimeZone>(nanos: i64, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let t = tz.timestamp_nanos(nanos);
    let offset = t.format("%:z").to_string();
    let zone = if offset == "+00:00" { "Z" } else { &offset };
    format!("{}{zone}", t.format("%Y-%m-%dT%H:%M:%S%.9f"))
}

/// Docker's default line: `<time> <type> <action> <id> (k=v, ...)`, the
/// attributes sorted by key.
pub fn pretty_line<Tz: TimeZone>(e: &EventMessage, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut out = String::new();
    if e.time_nano != 0 {
        out.push_str(&rfc3339_nano_fixed(e.time_nano, tz));
        out.push(' ');
    } else if e.time != 0 {
        out.push_str(&rfc3339_nano_fixed(
            e.time.saturating_mul(1_000_000_000),
            tz,
        ));
        out.push(' ');
    }
    out.push_str(&format!("{} {} {}", e.r#type, e.action, e.actor.id));
    if !e.actor.attributes.is_empty() {
        let mut attrs: Vec<_> = e.actor.attributes.iter().collect();
        attrs.sort();
        let attrs: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(" ({})", attrs.join(", ")));
    }
    out
}

/// The template data of an event: Go's field names (`.Type`, `.Actor.ID`,
/// `.Actor.Attributes.name`, `.TimeNano`, ...).
pub fn template_data(e: &EventMessage) -> Value {
    json!({
        "Status": e.status,
        "ID": e.id,
        "From": e.from,
        "Type": e.r#type,
        "Action": e.action,
        "Actor": {"ID": e.actor.id, "Attributes": e.actor.attributes},
        "Scope": e.scope,
        "Time": e.time,
        "TimeNano": e.time_nano,
    })
}

/// How each event is printed.
pub enum Printer {
    Pretty,
    /// `json` / `{{json .}}`: the event as the API sends it.
    Json,
    Template(Template),
}

impl Printer {
    /// Parse `--format`; a bad template is docker's exit 64.
    pub fn new(format: Option<&str>) -> Result<Self, StatusError> {
        let bad = |e: String| StatusError::new(64, format!("Error parsing format: {e}"));
        match format {
            None | Some("") => Ok(Self::Pretty),
            Some(f) if f == "json" || f.trim() == "{{json .}}" => Ok(Self::Json),
            Some(f) => {
                let t = Template::parse(f).map_err(bad)?;
                // Run it once on an empty event, to report errors early.
                t.execute(&template_data(&EventMessage::default()))
                    .map_err(bad)?;
                Ok(Self::Template(t))
            }
        }
    }

    pub fn line(&self, e: &EventMessage) -> Result<String, String> {
        match self {
            Self::Pretty => Ok(pretty_line(e, &Local)),
            Self::Json => serde_json::to_string(e).map_err(|e| e.to_string()),
            Self::Template(t) => t.execute(&template_data(e)),
        }
    }
}

pub async fn run(ctx: &Ctx, args: EventsArgs) -> CmdResult {
    let printer = Printer::new(args.format.as_deref())?;
    let filters = Filters::from_args(&args.filter).map_err(StatusError::msg)?;
    let now = chrono::Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_timestamp(s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_timestamp(s, now))
        .transpose()?;
    let mut events = ctx
        .client
        .events(since.as_deref(), until.as_deref(), &filters)
        .await?;
    while let Some(e) = events.next().await {
        let e = e?;
        let line = printer.line(&e).map_err(StatusError::msg)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{FixedOffset, Utc};
    use pouch_api::events::EventActor;

    use super::*;

    fn start_event() -> EventMessage {
        EventMessage {
            status: "start".into(),
            id: "abc123".into(),
            from: "busybox".into(),
            r#type: "container".into(),
            action: "start".into(),
            actor: EventActor {
                id: "abc123".into(),
                attributes: HashMap::from([
                    ("name".to_string(), "x".to_string()),
                    ("image".to_string(), "busybox".to_string()),
                ]),
            },
            scope: "local".into(),
            time: 1_767_225_600,
            time_nano: 1_767_225_600_000_001_234,
        }
    }

    #[test]
    fn docker_line_format() {
        let e = start_event();
        assert_eq!(
            pretty_line(&e, &Utc),
            "2026-01-01T00:00:00.000001234Z container start abc123 (image=busybox, name=x)"
        );
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(
            pretty_line(&e, &tz),
            "2026-01-01T02:00:00.000001234+02:00 container start abc123 (image=busybox, name=x)"
        );
        // Only seconds; no attributes.
        let e = EventMessage {
            r#type: "image".into(),
            action: "tag".into(),
            actor: EventActor {
                id: "sha256:1".into(),
                attributes: HashMap::new(),
            },
            time: 1_767_225_600,
            ..Default::default()
        };
        assert_eq!(
            pretty_line(&e, &Utc),
            "2026-01-01T00:00:00.000000000Z image tag sha256:1"
        );
        assert_eq!(
            pretty_line(&EventMessage::default(), &Utc),
            "  ",
            "no time, empty fields"
        );
    }

    #[test]
    fn formats() {
        let e = start_event();
        let p = Printer::new(Some(
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.ID}}",
        ))
        .unwrap();
        assert_eq!(p.line(&e).unwrap(), "container start x abc123");
        let p = Printer::new(Some("{{json .}}")).unwrap();
        let v: Value = serde_json::from_str(&p.line(&e).unwrap()).unwrap();
        assert_eq!(v["Actor"]["Attributes"]["name"], "x");
        assert_eq!(v["status"], "start");
        assert_eq!(v["timeNano"], 1_767_225_600_000_001_234i64);
        let err = Printer::new(Some("{{.Type")).err().unwrap();
        assert_eq!(err.code, 64);
        assert!(err.to_string().starts_with("Error parsing format: "));
    }
}
